import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Finch-compatible HTTP server (127.0.0.1, port 0) serving Finch's documented shapes for the endpoints the
 * HRIS poller uses: GET /introspect, GET /employer/company, GET /employer/directory (paging.count/offset),
 * POST /employer/individual and /employer/employment (batch answers with a code per item). It can answer 202
 * (data_sync_in_progress), 401 (reauthenticate_user), 429 with or without Retry-After and 5xx on demand, enforces
 * Finch's per-product rolling-minute rate limit, and adds latency.
 */

export interface FakeEmployee {
  id: string;
  first_name: string | null;
  last_name: string | null;
  preferred_name?: string | null;
  emails?: { data: string; type: 'work' | 'personal' | null }[];
  manager_id?: string | null;
  department?: string | null;
  title?: string | null;
  employment_status?: string | null;
  is_active?: boolean | null;
  start_date?: string | null;
  end_date?: string | null;
  latest_rehire_date?: string | null;
  source_id?: string | null;
  employment_type?: 'employee' | 'contractor' | null;
  employment_subtype?: string | null;
  location?: {
    line1: string | null;
    line2: string | null;
    city: string | null;
    state: string | null;
    postal_code: string | null;
    country: string | null;
  } | null;
  custom_fields?: { name: string; value: unknown }[];
}

export type Product = 'directory' | 'individual' | 'employment' | 'company' | 'introspect';

interface Fault {
  status: number;
  retryAfter?: string;
  finchCode?: string;
}

export interface FinchServerOptions {
  token?: string;
  latencyMs?: number;
  /** Requests initiated per product per rolling 60 s (Finch: 20); 0 = no limit. */
  ratePerMinute?: number;
  /** Send Retry-After (seconds) with the rate limit's 429s. */
  rateLimitRetryAfter?: string | null;
}

export class FinchServer {
  employees: FakeEmployee[] = [];
  token: string;
  latencyMs: number;
  ratePerMinute: number;
  rateLimitRetryAfter: string | null;
  connectionId: string = randomUUID();
  companyId: string = randomUUID();
  providerId = 'bamboo_hr';
  /** Products answering 202 data_sync_in_progress. */
  pending = new Set<Product>();
  /** The token was revoked: every call answers 401 reauthenticate_user. */
  revoked = false;
  /** Serve only the first N people of the directory (a truncated answer). */
  truncateTo: number | null = null;
  /** Ids whose individual / employment answers carry a per-item error. */
  itemErrors = { individual: new Set<string>(), employment: new Set<string>() };
  /** Faults answered before anything else, in order, per product. */
  faults = new Map<Product, Fault[]>();
  /** Requests by product (every request, including the refused ones) and by status. */
  calls: Record<string, number> = {};
  statuses: Record<string, number> = {};
  /** 429s sent because the rolling-minute limit was exceeded (not injected faults). */
  rateLimited = 0;
  /** Largest batch (ids per request) and page size asked for. */
  maxBatch = 0;
  private starts = new Map<Product, number[]>();
  private byId: { list: FakeEmployee[]; length: number; map: Map<string, FakeEmployee> } | null = null;

  /** Employees by id, rebuilt when the list is replaced or changes length. */
  private index(): Map<string, FakeEmployee> {
    if (!this.byId || this.byId.list !== this.employees || this.byId.length !== this.employees.length) {
      this.byId = { list: this.employees, length: this.employees.length, map: new Map(this.employees.map((e) => [e.id, e])) };
    }
    return this.byId.map;
  }
  private server: Server | null = null;
  url = '';

  constructor(opts: FinchServerOptions = {}) {
    this.token = opts.token ?? `finch-${randomUUID()}`;
    this.latencyMs = opts.latencyMs ?? 0;
    this.ratePerMinute = opts.ratePerMinute ?? 0;
    this.rateLimitRetryAfter = opts.rateLimitRetryAfter === undefined ? '1' : opts.rateLimitRetryAfter;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = null;
  }

  fail(product: Product, fault: Fault, times = 1): void {
    const list = this.faults.get(product) ?? [];
    for (let i = 0; i < times; i++) list.push(fault);
    this.faults.set(product, list);
  }

  totalCalls(): number {
    return Object.values(this.calls).reduce((a, b) => a + b, 0);
  }

  resetCounters(): void {
    this.calls = {};
    this.statuses = {};
    this.rateLimited = 0;
    this.maxBatch = 0;
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.statuses[String(status)] = (this.statuses[String(status)] ?? 0) + 1;
    const json = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'finch-request-id': randomUUID(),
      'content-length': Buffer.byteLength(json),
      ...headers,
    });
    res.end(json);
  }

  private error(
    res: ServerResponse,
    status: number,
    name: string,
    finchCode: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    this.send(res, status, { statusCode: status, status, code: status, message, name, finch_code: finchCode }, headers);
  }

  private productOf(method: string, path: string): Product | null {
    if (method === 'GET' && path === '/introspect') return 'introspect';
    if (method === 'GET' && path === '/employer/company') return 'company';
    if (method === 'GET' && path === '/employer/directory') return 'directory';
    if (method === 'POST' && path === '/employer/individual') return 'individual';
    if (method === 'POST' && path === '/employer/employment') return 'employment';
    return null;
  }

  /** Rolling 60-second window per product, counted at arrival like Finch's "requests initiated per minute". */
  private overLimit(product: Product): boolean {
    if (!this.ratePerMinute) return false;
    const now = Date.now();
    const list = (this.starts.get(product) ?? []).filter((t) => t > now - 60_000);
    list.push(now);
    this.starts.set(product, list);
    return list.length > this.ratePerMinute;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const product = this.productOf(req.method ?? 'GET', url.pathname);
    if (!product) return this.error(res, 404, 'not_found_error', 'not_found', `no route ${req.method} ${url.pathname}`);
    this.calls[product] = (this.calls[product] ?? 0) + 1;
    if (this.overLimit(product)) {
      this.rateLimited++;
      return this.error(
        res,
        429,
        'rate_limit_exceeded_error',
        'finch_application_rl',
        'Too many requests for token',
        this.rateLimitRetryAfter === null ? {} : { 'retry-after': this.rateLimitRetryAfter },
      );
    }
    if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (req.headers.authorization !== `Bearer ${this.token}` || this.revoked) {
      return this.error(
        res,
        401,
        'authentication_error',
        'reauthenticate_user',
        'The access token is no longer valid; the user must reauthenticate',
      );
    }
    const fault = this.faults.get(product)?.shift();
    if (fault) {
      const headers: Record<string, string> = fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {};
      if (fault.status === 429)
        return this.error(res, 429, 'rate_limit_exceeded_error', fault.finchCode ?? 'finch_application_rl', 'Too many requests', headers);
      return this.error(res, fault.status, 'server_error', fault.finchCode ?? 'internal_error', 'Internal server error', headers);
    }
    if (this.pending.has(product)) {
      return this.send(res, 202, {
        code: 202,
        name: 'accepted',
        finch_code: 'data_sync_in_progress',
        message: 'The data for this connection is being synced; try again later',
      });
    }
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { requests?: { individual_id: string }[] }) : {};
    switch (product) {
      case 'introspect':
        return this.send(res, 200, {
          id: randomUUID(),
          client_id: 'client-test',
          client_type: 'sandbox',
          connection_id: this.connectionId,
          connection_status: { status: 'connected', last_successful_sync: new Date().toISOString() },
          connection_type: 'provider',
          products: ['company', 'directory', 'individual', 'employment'],
          provider_id: this.providerId,
          account_id: randomUUID(),
          company_id: this.companyId,
          authentication_methods: [{ type: 'api_token', products: ['directory', 'individual', 'employment'] }],
          customer_email: null,
          customer_id: null,
          customer_name: null,
          manual: false,
          username: null,
        });
      case 'company':
        return this.send(res, 200, {
          id: this.companyId,
          legal_name: 'Test Co',
          entity: null,
          departments: [],
          locations: [],
          accounts: [],
          ein: null,
          primary_email: null,
          primary_phone_number: null,
        });
      case 'directory': {
        const people = this.truncateTo === null ? this.employees : this.employees.slice(0, this.truncateTo);
        const offset = Number(url.searchParams.get('offset') ?? 0);
        const limit = url.searchParams.has('limit') ? Number(url.searchParams.get('limit')) : people.length;
        this.maxBatch = Math.max(this.maxBatch, limit);
        const page = people.slice(offset, offset + limit).map((e) => ({
          id: e.id,
          first_name: e.first_name,
          middle_name: null,
          last_name: e.last_name,
          manager: e.manager_id ? { id: e.manager_id } : null,
          department: { name: e.department ?? null },
          is_active: e.is_active ?? true,
        }));
        return this.send(res, 200, { paging: { count: people.length, offset }, individuals: page });
      }
      case 'individual':
      case 'employment': {
        const requests = body.requests ?? [];
        this.maxBatch = Math.max(this.maxBatch, requests.length);
        const byId = this.index();
        const responses = requests.map(({ individual_id }) => {
          const e = byId.get(individual_id);
          if (!e || this.itemErrors[product].has(individual_id)) {
            return {
              individual_id,
              code: 404,
              body: {
                code: 404,
                name: 'not_found_error',
                finch_code: `${product}_not_found`,
                message: `No ${product} with id ${individual_id} found`,
              },
            };
          }
          return { individual_id, code: 200, body: product === 'individual' ? individualOf(e) : employmentOf(e) };
        });
        return this.send(res, 200, { responses });
      }
    }
  }
}

function individualOf(e: FakeEmployee) {
  return {
    id: e.id,
    first_name: e.first_name,
    middle_name: null,
    last_name: e.last_name,
    preferred_name: e.preferred_name ?? null,
    emails: e.emails ?? [],
    phone_numbers: [],
    gender: null,
    ethnicity: null,
    dob: null,
    residence: null,
    marital_status: null,
  };
}

function employmentOf(e: FakeEmployee) {
  return {
    id: e.id,
    first_name: e.first_name,
    middle_name: null,
    last_name: e.last_name,
    title: e.title ?? null,
    manager: e.manager_id ? { id: e.manager_id } : null,
    department: { name: e.department ?? null },
    employment: { type: e.employment_type ?? 'employee', subtype: e.employment_subtype ?? 'full_time' },
    employment_status: e.employment_status ?? 'active',
    is_active: e.is_active ?? true,
    start_date: e.start_date ?? '2020-01-06',
    end_date: e.end_date ?? null,
    latest_rehire_date: e.latest_rehire_date ?? null,
    class_code: null,
    flsa_status: null,
    highly_compensated_employee: null,
    key_employee: null,
    union_code: null,
    union_local: null,
    location: e.location ?? null,
    income: null,
    income_history: [],
    custom_fields: e.custom_fields ?? [],
    source_id: e.source_id ?? null,
    work_id: e.source_id ?? null,
  };
}

/** A population of `n` employees: everyone has a work email, every tenth a manager (the first of their group of ten). */
export function makeEmployees(n: number, domain = 'corp.example', prefix = 'emp'): FakeEmployee[] {
  const out: FakeEmployee[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${String(i).padStart(7, '0')}-${randomUUID().slice(0, 8)}`;
    const managerIndex = i - (i % 10);
    out.push({
      id,
      first_name: `First${i}`,
      last_name: `Last${i}`,
      emails: [{ data: `${prefix}${i}@${domain}`, type: 'work' }],
      manager_id: managerIndex !== i ? (out[managerIndex]?.id ?? null) : null,
      department: `Dept${i % 7}`,
      title: `Title ${i % 13}`,
      source_id: `E${100000 + i}`,
      location: { line1: `${i} Main St`, line2: null, city: 'Springfield', state: 'IL', postal_code: '62701', country: 'US' },
    });
  }
  return out;
}

/** Signs a webhook like Finch (the SDK's verifySignature): `v1,` base64 HMAC-SHA256 of `id.timestamp.body`. */
export async function signFinchWebhook(
  body: string,
  secretB64: string,
  eventId = `evt_${randomUUID()}`,
  timestamp = Math.floor(Date.now() / 1000),
) {
  const { createHmac } = await import('node:crypto');
  const sig = createHmac('sha256', Buffer.from(secretB64, 'base64')).update(`${eventId}.${timestamp}.${body}`).digest('base64');
  return { 'finch-event-id': eventId, 'finch-timestamp': String(timestamp), 'finch-signature': `v1,${sig}` };
}
