import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { closeTestStore, openTestStore } from '../helpers/store';
import { makeApp } from './harness';
import { CORE_V1, oktaConnection, type Connection11 } from './harness11';

/*
 * Walks the steps of Okta's "Okta SCIM 1.1 SPEC Test" (the Runscope suite linked from Okta's SCIM testing guide,
 * Okta-SCIM-11-SPEC-Test.json) against /scim/v1/{connectionId} over real HTTP: each step's method, URL, headers and
 * body with the suite's variables filled in the way its initial script fills them, its assertions with Runscope's
 * comparisons, and the variables it extracts for later steps. The pauses between steps are left out.
 */

type Json = Record<string, unknown>;

/** [source, comparison, property, value]; source "status" | "json" | "time". */
type Assertion = ['status', 'equal_number', number] | ['time', 'is_less_than', number] | ['json', Comparison, string, unknown?];
type Comparison = 'not_empty' | 'has_value' | 'equal' | 'equal_number' | 'is_a_number' | 'contains';

interface Step {
  note: string;
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  contentType?: string;
  assertions: Assertion[];
  /** variable name → JSON property of the response */
  extract?: Record<string, string>;
  /** The step's post-response script, as a check of the parsed body. */
  script?: (body: Json) => void;
}

const GET_HEADERS = {
  'Accept-Charset': 'utf-8',
  'Content-Type': 'application/json; charset=utf-8',
  Accept: 'application/json',
  'User-Agent': 'OKTA SCIM Integration',
};

const notEmpty = (...props: string[]): Assertion[] => props.map((p): Assertion => ['json', 'not_empty', p]);

const USER_JSON =
  '{"schemas":["urn:scim:schemas:core:1.0"],"userName":"{{randomUsername}}","name":{"givenName":"{{randomGivenName}}","familyName":"{{randomFamilyName}}"},' +
  '"emails":[{"primary":true,"value":"{{randomEmail}}","type":"work"}],"displayName":"{{randomGivenName}} {{randomFamilyName}}","active":true}';

const STEPS: Step[] = [
  {
    note: 'Optional Test: Test ServiceProviderConfig endpoint',
    method: 'GET',
    url: '{{SCIMBaseURL}}/ServiceProviderConfigs',
    contentType: 'application/scim+json; charset=utf-8',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'not_empty', 'schemas'],
      ['json', 'has_value', 'schemas', CORE_V1],
      ['time', 'is_less_than', 400],
      ...notEmpty(
        'patch',
        'bulk',
        'filter',
        'changePassword',
        'sort',
        'etag',
        'authenticationSchemes',
        'authenticationSchemes[0].type',
        'authenticationSchemes[0].description',
        'etag.supported',
        'sort.supported',
        'changePassword.supported',
        'filter.maxResults',
        'filter.supported',
        'bulk.supported',
        'bulk.maxOperations',
        'bulk.maxPayloadSize',
        'patch.supported',
      ),
    ],
  },
  {
    note: 'Optional Test: Check if ServiceProviderConfig is read-only',
    method: 'POST',
    url: '{{SCIMBaseURL}}/ServiceProviderConfigs',
    body: 'test',
    assertions: [['status', 'equal_number', 405]],
  },
  {
    note: 'Optional Test: Check ResourceTypes endpoint',
    method: 'GET',
    url: '{{SCIMBaseURL}}/ResourceTypes',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'not_empty', 'Resources'],
      ['json', 'has_value', 'schemas', CORE_V1],
      ['time', 'is_less_than', 400],
      ...notEmpty('Resources[0].name', 'Resources[0].endpoint', 'Resources[0].schema'),
    ],
  },
  {
    note: 'Optional Test: Check if ResourceTypes is read-only',
    method: 'POST',
    url: '{{SCIMBaseURL}}/ResourceTypes',
    body: 'test',
    assertions: [['status', 'equal_number', 405]],
  },
  {
    note: 'Optional Test: Check Schemas endpoint',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Schemas',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'not_empty', 'Resources'],
      ['json', 'has_value', 'schemas', 'urn:scim:schemas:core:1.0:ListResponse'],
      ['time', 'is_less_than', 400],
      ...notEmpty('Resources[0].id', 'Resources[0].attributes'),
    ],
  },
  {
    note: 'Optional Test: Check if Schemas is read-only',
    method: 'POST',
    url: '{{SCIMBaseURL}}/Schemas',
    body: '',
    assertions: [['status', 'equal_number', 405]],
  },
  {
    note: 'Required Test: Test Users endpoint',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users?count=1&startIndex=1',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'not_empty', 'Resources'],
      ['json', 'has_value', 'schemas', CORE_V1],
      ['json', 'is_a_number', 'itemsPerPage'],
      ['json', 'is_a_number', 'startIndex'],
      ['json', 'is_a_number', 'totalResults'],
      ['time', 'is_less_than', 600],
      ...notEmpty(
        'Resources[0].id',
        'Resources[0].name.familyName',
        'Resources[0].name.givenName',
        'Resources[0].userName',
        'Resources[0].active',
        'Resources[0].emails[0].value',
      ),
    ],
    extract: { ISVUserid: 'Resources[0].id' },
  },
  {
    note: 'Required Test: Get Users/{{id}} ',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users/{{ISVUserid}}',
    assertions: [
      ['status', 'equal_number', 200],
      ['time', 'is_less_than', 600],
      ...notEmpty('id', 'name.familyName', 'name.givenName', 'userName', 'active', 'emails[0].value'),
      ['json', 'equal', 'id', '{{ISVUserid}}'],
    ],
  },
  {
    note: 'Required Test: Test invalid User by username',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users?filter=userName eq "{{InvalidUserEmail}}"',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'has_value', 'schemas', CORE_V1],
      ['json', 'equal', 'totalResults', '0'],
      ['time', 'is_less_than', 400],
    ],
  },
  {
    note: 'Required Test: Test invalid User by ID',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users/{{UserIdThatDoesNotExist}}',
    assertions: [
      ['status', 'equal_number', 404],
      ['json', 'not_empty', 'detail'],
      ['time', 'is_less_than', 600],
    ],
  },
  {
    note: "Required Test: Make sure random user doesn't exist",
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users?filter=userName eq "{{randomEmail}}"',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'equal_number', 'totalResults', 0],
      ['json', 'has_value', 'schemas', CORE_V1],
      ['time', 'is_less_than', 600],
    ],
  },
  {
    note: 'Required Test: Create Okta user with realisitic values',
    method: 'POST',
    url: '{{SCIMBaseURL}}/Users',
    body: USER_JSON,
    contentType: 'application/json',
    assertions: [
      ['status', 'equal_number', 201],
      ['time', 'is_less_than', 600],
      ['json', 'equal', 'active', 'true'],
      ['json', 'not_empty', 'id'],
      ['json', 'equal', 'name.familyName', '{{randomFamilyName}}'],
      ['json', 'equal', 'name.givenName', '{{randomGivenName}}'],
      ['json', 'contains', 'schemas', CORE_V1],
      ['json', 'equal', 'userName', '{{randomUsername}}'],
    ],
    extract: { idUserOne: 'id', UserName: 'userName' },
  },
  {
    note: 'Required Test: Verify that user was created',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users/{{idUserOne}}',
    assertions: [
      ['status', 'equal_number', 200],
      ['json', 'equal', 'userName', '{{randomUsername}}'],
      ['json', 'equal', 'name.familyName', '{{randomFamilyName}}'],
      ['json', 'equal', 'name.givenName', '{{randomGivenName}}'],
      ['time', 'is_less_than', 600],
    ],
  },
  {
    note: 'Required Test: Expect failure when recreating user with same values',
    method: 'POST',
    url: '{{SCIMBaseURL}}/Users',
    body: USER_JSON,
    contentType: 'application/json',
    assertions: [
      ['status', 'equal_number', 409],
      ['time', 'is_less_than', 600],
    ],
  },
  {
    note: 'Required Test: Username Case Sensitivity Check',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Users?filter={{randomUsernameCaps}}',
    assertions: [
      ['status', 'equal_number', 400],
      ['time', 'is_less_than', 600],
    ],
  },
  {
    note: 'Optional Test: Verify Groups endpoint',
    method: 'GET',
    url: '{{SCIMBaseURL}}/Groups',
    assertions: [
      ['status', 'equal_number', 200],
      ['time', 'is_less_than', 600],
    ],
    script: (body) => assert.ok(Number(body.totalResults) >= 1 && Array.isArray(body.Resources), 'Resources is of type Array'),
  },
];

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`variable ${name} is not set`);
    return v;
  });
}

/** `Resources[0].name.familyName` in a parsed body. */
function property(body: unknown, path: string): unknown {
  let v: unknown = body;
  for (const part of path.split('.')) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return undefined;
    v = v !== null && typeof v === 'object' ? (v as Json)[m[1]!] : undefined;
    for (const idx of (m[2] ?? '').match(/\d+/g) ?? []) v = Array.isArray(v) ? v[Number(idx)] : undefined;
  }
  return v;
}

/** Runscope's "is not empty": present, and not an empty string, list or object. */
function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

describe("SCIM 1.1: Okta's SCIM 1.1 SPEC test (Runscope) walked step by step", () => {
  const app = makeApp();
  let server: Server;
  let c: Connection11;
  const vars: Record<string, string> = {};

  before(async () => {
    await openTestStore('scim11_spec');
    c = await oktaConnection(app);
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    // Okta's guide: create at least one user before running the suite (and the groups step wants a group).
    await c.v1
      .post('/Users', {
        schemas: [CORE_V1],
        userName: 'existing.user@example.com',
        name: { givenName: 'Existing', familyName: 'User' },
        emails: [{ primary: true, value: 'existing.user@example.com', type: 'work' }],
        active: true,
      })
      .expect(201);
    await c.v1.post('/Groups', { schemas: [CORE_V1], displayName: 'Existing group' }).expect(201);
    // What the suite's initial script sets.
    const n = Math.floor(Math.random() * 1000);
    const given = `Runscope${n}`;
    const family = `Hfluaklab${Math.floor(Math.random() * 1000)}`;
    Object.assign(vars, {
      SCIMBaseURL: `http://127.0.0.1:${port}/scim/v1/${c.connectionId}`,
      auth: `Bearer ${c.token}`,
      InvalidUserEmail: 'abcdefgh@example.com',
      randomGivenName: given,
      randomFamilyName: family,
      randomEmail: `${given}${family}@example.com`,
      randomUsername: `${given}${family}@example.com`,
      randomUsernameCaps: `${given}${family}`.toUpperCase() + '@example.com',
      UserIdThatDoesNotExist: '010101001010101011001010101011',
    });
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await closeTestStore();
  });

  for (const step of STEPS) {
    test(step.note, async () => {
      const headers: Record<string, string> = { ...GET_HEADERS, Authorization: fill('{{auth}}', vars) };
      if (step.contentType) headers['Content-Type'] = step.contentType;
      const started = performance.now();
      // `new URL` percent-encodes the spaces and quotes of the suite's filter URLs, as an HTTP client does.
      const res = await fetch(new URL(fill(step.url, vars)), {
        method: step.method,
        headers,
        body: step.method === 'GET' ? undefined : fill(step.body ?? '', vars),
      });
      const text = await res.text();
      const ms = performance.now() - started;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      for (const a of step.assertions) {
        const [source, comparison] = a;
        if (source === 'status') assert.equal(res.status, a[2], `${step.note}: status ${res.status}: ${text}`);
        else if (source === 'time') assert.ok(ms < a[2], `${step.note}: answered in ${ms.toFixed(0)} ms`);
        else {
          const actual = property(body, a[2]);
          const expected = typeof a[3] === 'string' ? fill(a[3], vars) : a[3];
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- expected values are JSON scalars from the spec table
          const label = `${step.note}: ${a[2]} ${comparison} ${String(expected ?? '')} (got ${JSON.stringify(actual)})`;
          switch (comparison) {
            case 'not_empty':
              assert.ok(!isEmpty(actual), label);
              break;
            case 'has_value':
            case 'contains':
              assert.ok(Array.isArray(actual) ? actual.includes(expected) : String(actual).includes(String(expected)), label);
              break;
            case 'equal':
              assert.equal(String(actual), String(expected), label);
              break;
            case 'equal_number':
              assert.ok(typeof actual === 'number' && actual === Number(expected), label);
              break;
            case 'is_a_number':
              assert.equal(typeof actual, 'number', label);
              break;
          }
        }
      }
      for (const [name, prop] of Object.entries(step.extract ?? {})) {
        const v = property(body, prop);
        assert.ok(typeof v === 'string' && v, `${step.note}: extracts ${name}`);
        vars[name] = v;
      }
      step.script?.(body as Json);
    });
  }
});
