import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeTestStore, openTestStore } from '../helpers/store';
import { ENTERPRISE, makeApp, q, scimClient, USER, type ScimClient } from './harness';
import { mulberry32 } from '../helpers/random';

/**
 * Filtering (RFC 7644 §3.4.2.2): every operator, case rules per the schema, paging and sorting, and a property test:
 * random filters over random users return exactly what a reference evaluator in this file returns.
 */
type Json = Record<string, any>;

const GIVEN = ['Ann', 'bob', 'Cara', 'dan', 'Eve'];
const FAMILY = ['Smith', 'jones', 'Brown', 'Ng'];
const TITLES = ['Engineer', 'manager', 'Sales Rep', 'CTO'];
const TYPES = ['Employee', 'contractor'];
const DEPTS = ['Sales', 'R&D', 'support'];
const DOMAINS = ['acme.com', 'Example.org'];

// ---- the reference evaluator: independent of src/scim, over the resources as GET returns them ----
interface AttrRule {
  get: (u: Json) => unknown[];
  kind: 'string' | 'boolean';
  caseExact?: boolean;
}
const ATTRS: Record<string, AttrRule> = {
  username: { get: (u) => [u.userName], kind: 'string' },
  'name.givenname': { get: (u) => [u.name?.givenName], kind: 'string' },
  'name.familyname': { get: (u) => [u.name?.familyName], kind: 'string' },
  title: { get: (u) => [u.title], kind: 'string' },
  usertype: { get: (u) => [u.userType], kind: 'string' },
  externalid: { get: (u) => [u.externalId], kind: 'string', caseExact: true },
  'emails.value': { get: (u) => (u.emails ?? []).map((e: Json) => e.value), kind: 'string' },
  'emails.type': { get: (u) => (u.emails ?? []).map((e: Json) => e.type), kind: 'string' },
  active: { get: (u) => [u.active], kind: 'boolean' },
  [`${ENTERPRISE}:department`.toLowerCase()]: { get: (u) => [u[ENTERPRISE]?.department], kind: 'string' },
};

type F =
  | { op: 'and' | 'or'; a: F; b: F }
  | { op: 'not'; a: F }
  | { op: 'emails[]'; inner: F }
  | { op: string; attr: string; value?: string | boolean };

function cmp(op: string, actual: unknown, expected: unknown, rule: AttrRule): boolean {
  if (actual === undefined || actual === null) return false;
  if (rule.kind === 'boolean') return op === 'eq' ? actual === expected : false;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the reference model compares JSON scalars as strings
  let a = String(actual);
  let e = String(expected);
  if (!rule.caseExact) {
    a = a.toLowerCase();
    e = e.toLowerCase();
  }
  switch (op) {
    case 'eq':
      return a === e;
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    case 'gt':
      return a > e;
    case 'ge':
      return a >= e;
    case 'lt':
      return a < e;
    case 'le':
      return a <= e;
    default:
      throw new Error(op);
  }
}

function evaluate(f: F, u: Json): boolean {
  switch (f.op) {
    case 'and':
      return evaluate((f as any).a, u) && evaluate((f as any).b, u);
    case 'or':
      return evaluate((f as any).a, u) || evaluate((f as any).b, u);
    case 'not':
      return !evaluate((f as any).a, u);
    case 'emails[]':
      return (u.emails ?? []).some((e: Json) => evaluate((f as any).inner, { emails: [e] }));
    default: {
      const leaf = f as { op: string; attr: string; value?: string | boolean };
      const rule = ATTRS[leaf.attr.toLowerCase().replace(/^emails\.|^/, (m) => m)] ?? ATTRS[`emails.${leaf.attr.toLowerCase()}`]!;
      const values = rule.get(u);
      if (leaf.op === 'pr') return values.some((v) => v !== undefined && v !== null && v !== '');
      if (leaf.op === 'ne') return !values.some((v) => cmp('eq', v, leaf.value, rule));
      return values.some((v) => cmp(leaf.op, v, leaf.value, rule));
    }
  }
}

function render(f: F): string {
  switch (f.op) {
    case 'and':
    case 'or':
      return `(${render((f as any).a)} ${f.op} ${render((f as any).b)})`;
    case 'not':
      return `not (${render((f as any).a)})`;
    case 'emails[]':
      return `emails[${render((f as any).inner)}]`;
    default: {
      const leaf = f as { op: string; attr: string; value?: string | boolean };
      if (leaf.op === 'pr') return `${leaf.attr} pr`;
      return `${leaf.attr} ${leaf.op} ${JSON.stringify(leaf.value)}`;
    }
  }
}

describe('SCIM filters', () => {
  const app = makeApp();
  let c: ScimClient;
  let users: Json[] = [];
  const seed = Number(process.env.SCIM_FILTER_SEED ?? Date.now() % 1_000_000);
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const maybe = (p: number) => rnd() < p;
  const recase = (s: string) => (maybe(0.5) ? s : [...s].map((ch) => (maybe(0.5) ? ch.toUpperCase() : ch.toLowerCase())).join(''));

  before(async () => {
    await openTestStore('scim_filter');
    c = await scimClient(app);
    for (let i = 0; i < 60; i++) {
      const given = pick(GIVEN);
      const body: Json = { schemas: [USER], userName: `${given}.${i}@${pick(DOMAINS)}` };
      if (maybe(0.8)) body.name = { givenName: given, ...(maybe(0.7) ? { familyName: pick(FAMILY) } : {}) };
      if (maybe(0.7)) body.title = pick(TITLES);
      if (maybe(0.6)) body.userType = pick(TYPES);
      // externalIds (the client's; not a uniqueness key) differ here only so that filters on them select few users.
      if (maybe(0.7)) body.externalId = `${maybe(0.5) ? 'EXT' : 'ext'}-${i % 7}-${i}`;
      if (maybe(0.7)) body.active = maybe(0.7);
      const emails: Json[] = [];
      if (maybe(0.8)) emails.push({ type: 'work', value: `${given}${i}@${pick(DOMAINS)}`, primary: true });
      if (maybe(0.4)) emails.push({ type: pick(['home', 'other']), value: `p${i}@mail.net` });
      if (emails.length) body.emails = emails;
      if (maybe(0.6)) body[ENTERPRISE] = { department: pick(DEPTS) };
      await c.post('/Users', body).expect(201);
    }
    users = (await c.get('/Users?count=1000').expect(200)).body.Resources;
    assert.equal(users.length, 60);
  });
  after(closeTestStore);

  async function ids(filter: string, extra = ''): Promise<string[]> {
    const res = await c.get(`/Users${q(filter, `&count=1000${extra}`)}`);
    assert.equal(res.status, 200, `${filter}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.totalResults, res.body.Resources.length);
    return res.body.Resources.map((u: Json) => u.id).sort();
  }
  const expected = (f: (u: Json) => boolean) =>
    users
      .filter(f)
      .map((u) => u.id)
      .sort();

  test('every operator, with the schema case rules', async () => {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- JSON scalars, compared as strings
    const lc = (v: unknown) => String(v ?? '').toLowerCase();
    const cases: [string, (u: Json) => boolean][] = [
      ['title eq "ENGINEER"', (u) => lc(u.title) === 'engineer'],
      ['title ne "engineer"', (u) => lc(u.title) !== 'engineer'],
      ['userName co "BOB"', (u) => lc(u.userName).includes('bob')],
      ['userName sw "ann."', (u) => lc(u.userName).startsWith('ann.')],
      ['userName ew "EXAMPLE.ORG"', (u) => lc(u.userName).endsWith('example.org')],
      ['name.familyName gt "m"', (u) => u.name?.familyName !== undefined && lc(u.name.familyName) > 'm'],
      ['name.familyName ge "jones"', (u) => u.name?.familyName !== undefined && lc(u.name.familyName) >= 'jones'],
      ['name.familyName lt "N"', (u) => u.name?.familyName !== undefined && lc(u.name.familyName) < 'n'],
      ['name.familyName le "ng"', (u) => u.name?.familyName !== undefined && lc(u.name.familyName) <= 'ng'],
      ['title pr', (u) => u.title !== undefined],
      ['externalId eq "EXT-1-8"', (u) => u.externalId === 'EXT-1-8'],
      ['externalId sw "EXT-1"', (u) => String(u.externalId ?? '').startsWith('EXT-1')],
      ['externalId sw "ext"', (u) => String(u.externalId ?? '').startsWith('ext')],
      ['active eq false', (u) => u.active === false],
      ['not (active eq true)', (u) => u.active !== true],
      [
        'emails[type eq "work" and value co "@acme.com"]',
        (u) => (u.emails ?? []).some((e: Json) => e.type === 'work' && lc(e.value).includes('@acme.com')),
      ],
      ['emails.value ew ".net"', (u) => (u.emails ?? []).some((e: Json) => lc(e.value).endsWith('.net'))],
      ['emails co "mail.net"', (u) => (u.emails ?? []).some((e: Json) => lc(e.value).includes('mail.net'))],
      [`${ENTERPRISE}:department eq "sales"`, (u) => lc(u[ENTERPRISE]?.department) === 'sales'],
      [
        '(title eq "CTO" or userType eq "contractor") and not (name.givenName pr)',
        (u) => (lc(u.title) === 'cto' || lc(u.userType) === 'contractor') && !u.name?.givenName,
      ],
      ['DisplayName pr or NAME.FAMILYNAME eq "smith"', (u) => lc(u.name?.familyName) === 'smith'],
      [`meta.created gt "2000-01-01T00:00:00Z"`, () => true],
      [`meta.lastModified lt "2000-01-01T00:00:00Z"`, () => false],
      [`id eq "${'x'}"`, () => false],
    ];
    for (const [filter, ref] of cases) assert.deepEqual(await ids(filter), expected(ref), filter);
  });

  test('sortBy, sortOrder, 1-based startIndex and count with the full totalResults', async () => {
    const all = await c.get('/Users?sortBy=userName&sortOrder=descending&count=1000').expect(200);
    const names = all.body.Resources.map((u: Json) => u.userName.toLowerCase());
    assert.deepEqual(names, [...names].sort().reverse());
    const pages: string[] = [];
    for (let start = 1; start <= 60; start += 25) {
      const page = await c.get(`/Users?sortBy=title&startIndex=${start}&count=25`).expect(200);
      assert.equal(page.body.totalResults, 60);
      assert.equal(page.body.startIndex, start);
      assert.equal(page.body.itemsPerPage, page.body.Resources.length);
      pages.push(...page.body.Resources.map((u: Json) => u.id));
    }
    assert.equal(new Set(pages).size, 60, 'paging is stable: every user exactly once');
    const none = await c.get('/Users?count=0').expect(200);
    assert.equal(none.body.totalResults, 60);
    assert.deepEqual(none.body.Resources, []);
  });

  test('random filters match the reference evaluator', async () => {
    console.log(`# scim filter property test seed=${seed} (rerun with SCIM_FILTER_SEED=${seed})`);
    const stringAttrs = [
      'userName',
      'name.givenName',
      'name.familyName',
      'title',
      'userType',
      'externalId',
      'emails.value',
      'emails.type',
      `${ENTERPRISE}:department`,
    ];
    const values = [
      ...GIVEN,
      ...FAMILY,
      ...TITLES,
      ...TYPES,
      ...DEPTS,
      'ext-1',
      'EXT-3',
      'ext-1-8',
      'EXT-3-10',
      'work',
      'home',
      'a',
      'e',
      'n',
      '.',
      '@acme.com',
      'mail',
      'Ann.1',
    ];
    const ops = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'pr'];
    const leaf = (attrs = stringAttrs): F => {
      if (attrs === stringAttrs && maybe(0.1))
        return maybe(0.5) ? { op: 'pr', attr: 'active' } : { op: pick(['eq', 'ne']), attr: recase('active'), value: maybe(0.5) };
      const attr = pick(attrs);
      return { op: pick(ops), attr: maybe(0.3) ? recase(attr.startsWith('urn:') ? attr : attr) : attr, value: recase(pick(values)) };
    };
    const gen = (depth: number): F => {
      const r = rnd();
      if (depth <= 0 || r < 0.4) return leaf();
      if (r < 0.65) return { op: 'and', a: gen(depth - 1), b: gen(depth - 1) };
      if (r < 0.85) return { op: 'or', a: gen(depth - 1), b: gen(depth - 1) };
      if (r < 0.93) return { op: 'not', a: gen(depth - 1) };
      const inner = (): F => leaf(['value', 'type']);
      return { op: 'emails[]', inner: maybe(0.5) ? inner() : { op: pick<'and' | 'or'>(['and', 'or']), a: inner(), b: inner() } };
    };
    for (let i = 0; i < 300; i++) {
      const f = gen(3);
      const text = render(f);
      assert.deepEqual(
        await ids(text),
        expected((u) => evaluate(f, u)),
        `seed=${seed} filter: ${text}`,
      );
    }
  });
});
