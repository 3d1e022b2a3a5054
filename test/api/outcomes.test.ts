import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { waitForBackgroundJobs } from '../../src/api/jobs';
import { cell } from '../../src/api/csvExport';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, uploadAndWait, type Org } from './helpers';
import { checkResponse } from './schemaCheck';

/** Parses the CSV this API writes (RFC 4180, CRLF) into rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(cur);
      cur = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(cur);
      rows.push(row);
      row = [];
      cur = '';
      i++;
    } else cur += ch;
  }
  if (cur || row.length) {
    row.push(cur);
    rows.push(row);
  }
  return rows;
}

describe('admin API: run outcomes, all row errors, held-run review, safe exports (issue 10 §4, §6)', () => {
  const app = makeApp();
  let org: Org;
  let csvId: string;

  before(async () => {
    await openTestStore('api_outcomes');
    org = await createOrgWithTokens('Acme');
    csvId = (await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'HR' })).body.id;
  });
  after(async () => {
    await waitForBackgroundJobs();
    await closeTestStore();
  });

  it('a file whose every row is rejected fails and says so; a partly rejected one completes with errors', async () => {
    const bad = await uploadAndWait(app, org.admin, csvId, 'delta', 'email,first name\nnope,A\nalso-nope,B\n');
    assert.equal(bad.status, 'failed');
    assert.match(bad.message, /every row was rejected/);
    assert.equal(bad.counts.rejected, 2);
    const partial = await uploadAndWait(app, org.admin, csvId, 'delta', 'email,first name\nok@example.com,A\nnope,B\n');
    assert.equal(partial.status, 'completed_with_errors');
    assert.equal(partial.progress.percent, 100);
    assert.equal(partial.counts.created, 1);
  });

  it('streams every row error as CSV, not only the first 100', async () => {
    const rows = Array.from({ length: 350 }, (_, i) => (i % 2 ? `p${i}@example.com,P` : `=bad${i},X`));
    const run = await uploadAndWait(app, org.admin, csvId, 'delta', 'email,first name\n' + rows.join('\n') + '\n');
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.counts.rejected, 175);
    assert.equal(run.errors.length, 100);
    const res = await request(app)
      .get(`/api/v1/sync-runs/${run.id}/errors`)
      .set(bearer(org.admin))
      .buffer(true)
      .parse((r, cb) => {
        let t = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (t += d));
        r.on('end', () => cb(null, t));
      });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type']!, /^text\/csv/);
    const table = parseCsv(res.body as string);
    assert.deepEqual(table[0], ['line', 'reason']);
    assert.equal(table.length, 176);
    assert.deepEqual(
      table.slice(1).map((r) => Number(r[0])),
      Array.from({ length: 175 }, (_, i) => 2 + i * 2),
    );
    // The reason quotes the cell, which starts with "=": neutralised for spreadsheets is only needed at a cell's start.
    assert.match(table[1]![1]!, /invalid email/);
    const other = await createOrgWithTokens('Other');
    assert.equal((await request(app).get(`/api/v1/sync-runs/${run.id}/errors`).set(bearer(other.admin))).status, 404);
  });

  it('lists, page by page, who a held full file would remove or deactivate', async () => {
    const conn = (await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'Full' })).body.id;
    const people = Array.from({ length: 30 }, (_, i) => `f${String(i).padStart(2, '0')}@example.com,F,active`);
    await uploadAndWait(app, org.admin, conn, 'full', 'email,first name,status\n' + people.join('\n'));
    const kept = [...people.slice(0, 18), 'f18@example.com,F,terminated', 'f19@example.com,F,terminated'];
    const held = await uploadAndWait(app, org.admin, conn, 'full', 'email,first name,status\n' + kept.join('\n'));
    assert.equal(held.status, 'needs_review');
    const seen: { email: string; change: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await request(app)
        .get(`/api/v1/sync-runs/${held.id}/review`)
        .query({ limit: 4, ...(cursor ? { cursor } : {}) })
        .set(bearer(org.admin));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      checkResponse('get', '/sync-runs/{id}/review', res);
      assert.ok(res.body.items.length <= 4);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(
      seen
        .filter((s) => s.change === 'deactivate')
        .map((s) => s.email)
        .sort(),
      ['f18@example.com', 'f19@example.com'],
    );
    assert.deepEqual(
      seen
        .filter((s) => s.change === 'remove')
        .map((s) => s.email)
        .sort(),
      Array.from({ length: 10 }, (_, i) => `f${i + 20}@example.com`),
    );
    // A cursor is a position: one this API did not hand out reads from there, and only this run's items.
    const foreign = await request(app).get(`/api/v1/sync-runs/${held.id}/review`).query({ cursor: 'eHl6' }).set(bearer(org.admin));
    assert.equal(foreign.status, 200);
    assert.deepEqual(foreign.body.items, []);
    // A cursor outside the document's pattern is refused.
    const bogus = await request(app).get(`/api/v1/sync-runs/${held.id}/review`).query({ cursor: 'not a cursor!' }).set(bearer(org.admin));
    assert.equal(bogus.status, 400);
    assert.equal(bogus.body.type, 'urn:audience-sync:problem:invalid-cursor');
  });

  it('neutralises spreadsheet formulas in exports and adds a BOM on request', async () => {
    for (const [v, want] of [
      ['=1+1', `"'=1+1"`],
      ['+1', `"'+1"`],
      ['-2', `"'-2"`],
      ['@SUM(A1)', `"'@SUM(A1)"`],
      ['\tx', `"'\tx"`],
      ['\rx', `"'\rx"`],
      ['a=b', 'a=b'],
      ['plain', 'plain'],
      ['a,b', '"a,b"'],
      ['say "hi"', '"say ""hi"""'],
    ] as const) {
      assert.equal(cell(v), want, JSON.stringify(v));
    }
    const conn = (await request(app).post('/api/v1/connections').set(bearer(org.admin)).send({ type: 'csv', name: 'Evil' })).body.id;
    await uploadAndWait(
      app,
      org.admin,
      conn,
      'delta',
      'email,first name,last name,department\nevil@example.com,=HYPERLINK("http://x"),@cmd,+Sales\n',
    );
    const aud = await request(app)
      .post('/api/v1/audiences')
      .set(bearer(org.admin))
      .send({ name: 'Evil', include: { recipients: ['evil@example.com'] } });
    const get = (bom?: string) =>
      request(app)
        .get(`/api/v1/audiences/${aud.body.id}/recipients`)
        .query(bom ? { bom } : {})
        .set(bearer(org.reader))
        .set('Accept', 'text/csv')
        .buffer(true)
        .parse((r, cb) => {
          const chunks: Buffer[] = [];
          r.on('data', (d: Buffer) => chunks.push(d));
          r.on('end', () => cb(null, Buffer.concat(chunks)));
        });
    const plain = await get();
    assert.equal(plain.status, 200);
    const bytes = plain.body as Buffer;
    assert.notDeepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    const rows = parseCsv(bytes.toString('utf8'));
    const header = rows[0]!;
    const row = rows[1]!;
    assert.equal(row[header.indexOf('first_name')], `'=HYPERLINK("http://x")`);
    assert.equal(row[header.indexOf('last_name')], "'@cmd");
    assert.equal(row[header.indexOf('department_name')], "'+Sales");
    const withBom = await get('true');
    assert.deepEqual([...(withBom.body as Buffer).subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.equal((withBom.body as Buffer).subarray(3).toString('utf8'), bytes.toString('utf8'));
  });
});
