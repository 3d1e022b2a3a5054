import { promises as dns } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Outbound webhook requests, guarded against server-side request forgery: the host is resolved first, every address
 * it resolves to is classified, and the request connects to the checked address (no second resolution a DNS rebind
 * could change). Private, loopback, link-local and reserved ranges are refused; WEBHOOK_ALLOW_LOOPBACK lets loopback
 * through (tests, local development), never the others. Redirects are not followed; requests time out.
 */

export type AddressClass = 'public' | 'loopback' | 'private' | 'linklocal' | 'reserved';

function list(entries: [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const b = new BlockList();
  for (const [net, prefix, type] of entries) b.addSubnet(net, prefix, type);
  return b;
}

const LOOPBACK = list([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const LINK_LOCAL = list([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
const PRIVATE = list([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['fc00::', 7, 'ipv6'],
]);
const RESERVED = list([
  ['0.0.0.0', 8, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.0.2.0', 24, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['198.51.100.0', 24, 'ipv4'],
  ['203.0.113.0', 24, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['2001:db8::', 32, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
  ['fec0::', 10, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['2001::', 32, 'ipv6'],
]);

/** The embedded IPv4 address of an IPv4-mapped or -compatible IPv6 address (`::ffff:10.0.0.1`), else null. */
function embeddedV4(ip: string): string | null {
  const m = /^(?:0{0,4}:){0,5}(?:0{0,4}:)?(?:ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip.replace(/^::/, '0:'));
  if (m && isIP(m[1]!) === 4) return m[1]!;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (hex) {
    const a = parseInt(hex[1]!, 16);
    const b = parseInt(hex[2]!, 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return null;
}

/** Classifies one IP address (anything that is not an IP address is `reserved`). */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return 'reserved';
  if (family === 6) {
    const v4 = embeddedV4(bare);
    if (v4) return classifyAddress(v4);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (LOOPBACK.check(bare, type)) return 'loopback';
  if (LINK_LOCAL.check(bare, type)) return 'linklocal';
  if (PRIVATE.check(bare, type)) return 'private';
  if (RESERVED.check(bare, type)) return 'reserved';
  if (family === 6 && !/^[23]/i.test(bare.replace(/^0+/, ''))) return 'reserved'; // outside global unicast 2000::/3
  return 'public';
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dns.lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

export class DestinationRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DestinationRefusedError';
  }
}

export interface DestinationPolicy {
  allowLoopback: boolean;
  resolver?: Resolver;
}

/**
 * Decides where a webhook URL may be sent: resolves the host and returns the address to connect to, or throws
 * DestinationRefusedError. Every address the name resolves to must be allowed (a name that also resolves to a
 * private address is refused whole).
 */
export async function checkDestination(url: string, policy: DestinationPolicy): Promise<ResolvedAddress & { url: URL }> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DestinationRefusedError('not an absolute URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DestinationRefusedError('only http and https URLs receive webhooks');
  if (u.username || u.password) throw new DestinationRefusedError('URLs with credentials are refused');
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const addrs: ResolvedAddress[] = literal
    ? [{ address: host, family: literal === 6 ? 6 : 4 }]
    : await (policy.resolver ?? systemResolver)(host);
  if (!addrs.length) throw new DestinationRefusedError(`${host} does not resolve`);
  for (const a of addrs) {
    const c = classifyAddress(a.address);
    if (c === 'public' || (c === 'loopback' && policy.allowLoopback)) continue;
    throw new DestinationRefusedError(
      `${literal ? 'the address' : `${host} resolves to`} a ${c} address (${c === 'loopback' ? 'set WEBHOOK_ALLOW_LOOPBACK=true for local receivers' : 'never allowed'})`,
    );
  }
  return { ...addrs[0]!, url: u };
}

export interface PostResult {
  status: number;
  latencyMs: number;
}

const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 8 }), https: new https.Agent({ keepAlive: true, maxSockets: 8 }) };

/** POSTs a JSON body to a checked destination; no redirects (a 3xx is an answer like any other), bounded time. */
export async function postChecked(
  url: string,
  body: string,
  headers: Record<string, string>,
  policy: DestinationPolicy & { timeoutMs: number },
): Promise<PostResult> {
  const dest = await checkDestination(url, policy);
  const started = performance.now();
  // Connect to the address just checked, whatever the name resolves to by now.
  const lookup: LookupFunction = (_host, opts, cb) => {
    if ((opts as { all?: boolean }).all)
      (cb as unknown as (e: null, a: ResolvedAddress[]) => void)(null, [{ address: dest.address, family: dest.family }]);
    else cb(null, dest.address, dest.family);
  };
  const mod = dest.url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve, reject) => {
    const req = mod.request(
      dest.url,
      {
        method: 'POST',
        agent: dest.url.protocol === 'https:' ? agents.https : agents.http,
        lookup,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'audience-sync-webhooks',
          ...headers,
        },
        timeout: policy.timeoutMs,
        signal: AbortSignal.timeout(policy.timeoutMs),
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, latencyMs: performance.now() - started }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${policy.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
