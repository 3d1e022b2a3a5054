import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { runBulk } from '../../../src/scim/bulk';
import type { ScimContext } from '../../../src/scim/context';
import type { ScimResult } from '../../../src/scim/http';
import type { ScimRequest } from '../../../src/scim/operations';
import { BULK_REQUEST_SCHEMA } from '../../../src/scim/schemas';

const ctx: ScimContext = {
  conn: { _id: 'c1', orgId: 'o1', type: 'scim', provider: 'generic', extendedAttributes: false },
  baseUrl: 'http://localhost/scim/v2/c1',
  logger: pino({ level: 'silent' }),
};

/**
 * An unexpected failure (a bug, by definition not reachable through a known request) is simulated by the operation
 * runner runBulk takes: the real runner is `dispatch`, exercised over HTTP in test/scim/protocol.test.ts.
 */
describe('SCIM /Bulk: an unexpected failure', () => {
  const body = (n: number) => ({
    schemas: [BULK_REQUEST_SCHEMA],
    Operations: Array.from({ length: n }, (_, i) => ({ method: 'POST', bulkId: `b${i}`, path: '/Users', data: { userName: `u${i}` } })),
  });

  test('answers 500 for the operation it hit only; those before and after keep their real status', async () => {
    const seen: ScimRequest[] = [];
    const run = (r: ScimRequest): Promise<ScimResult> => {
      seen.push(r);
      if (seen.length === 2) return Promise.reject(new TypeError('boom'));
      return Promise.resolve({
        status: 201,
        body: { id: `id${seen.length}` },
        headers: { Location: `${ctx.baseUrl}/Users/id${seen.length}` },
      });
    };
    const res = await runBulk(ctx, body(3), 1000, run);
    assert.equal(res.status, 200);
    const ops = (
      res.body as { Operations: { status: string; bulkId: string; location?: string; response?: { status: string; detail: string } }[] }
    ).Operations;
    assert.deepEqual(
      ops.map((o) => [o.bulkId, o.status]),
      [
        ['b0', '201'],
        ['b1', '500'],
        ['b2', '201'],
      ],
    );
    assert.equal(ops[0]!.location, `${ctx.baseUrl}/Users/id1`);
    assert.equal(ops[1]!.response?.status, '500');
    assert.equal(ops[1]!.response?.detail, 'internal error', 'no internals leak into the response');
  });

  test('counts as an error for failOnErrors', async () => {
    let calls = 0;
    const run = (): Promise<ScimResult> => {
      calls++;
      return calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve({ status: 201, body: { id: 'x' } });
    };
    const res = await runBulk(ctx, { ...body(3), failOnErrors: 1 }, 1000, run);
    const ops = (res.body as { Operations: { status: string }[] }).Operations;
    assert.deepEqual(
      ops.map((o) => o.status),
      ['500'],
    );
    assert.equal(calls, 1);
  });
});
