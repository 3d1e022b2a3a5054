import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DestinationRefusedError, checkDestination, classifyAddress, type Resolver } from '../../src/webhooks/outbound';

/**
 * The refusal decision only: resolution (a stub resolver) and classification. No test here opens a connection, and
 * no test anywhere sends traffic to an address that is not loopback.
 */
const stub =
  (table: Record<string, string[]>): Resolver =>
  async (host) => {
    const list = table[host];
    if (!list) throw new Error(`stub resolver: unknown ${host}`);
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('webhooks: SSRF refusals', () => {
  test('address classes', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.8.9.10', 'loopback'],
      ['::1', 'loopback'],
      ['::ffff:127.0.0.1', 'loopback'],
      ['10.0.0.1', 'private'],
      ['172.16.5.4', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['fc00::1', 'private'],
      ['fd12:3456::1', 'private'],
      ['::ffff:10.0.0.1', 'private'],
      ['::ffff:a00:1', 'private'],
      ['169.254.169.254', 'linklocal'],
      ['fe80::1', 'linklocal'],
      ['::ffff:169.254.169.254', 'linklocal'],
      ['0.0.0.0', 'reserved'],
      ['::', 'reserved'],
      ['224.0.0.1', 'reserved'],
      ['255.255.255.255', 'reserved'],
      ['ff02::1', 'reserved'],
      ['64:ff9b::a00:1', 'reserved'],
      ['not-an-ip', 'reserved'],
      ['93.184.216.34', 'public'],
      ['8.8.8.8', 'public'],
      ['172.32.0.1', 'public'],
      ['2606:4700::1111', 'public'],
    ];
    for (const [ip, want] of cases) assert.equal(classifyAddress(ip), want, ip);
  });

  test('address literals: private, link-local and reserved are refused even with loopback allowed', async () => {
    for (const url of [
      'http://10.0.0.1/hook',
      'http://192.168.0.10:8080/',
      'http://169.254.169.254/latest/meta-data',
      'http://[fd00::1]/',
      'http://[::ffff:10.1.1.1]/',
      'http://0.0.0.0/',
      'http://[fe80::1]/',
    ]) {
      await assert.rejects(checkDestination(url, { allowLoopback: true, resolver: stub({}) }), DestinationRefusedError, url);
    }
  });

  test('loopback only with WEBHOOK_ALLOW_LOOPBACK', async () => {
    await assert.rejects(checkDestination('http://127.0.0.1:9/', { allowLoopback: false, resolver: stub({}) }), DestinationRefusedError);
    await assert.rejects(checkDestination('http://[::1]:9/', { allowLoopback: false, resolver: stub({}) }), DestinationRefusedError);
    const ok = await checkDestination('http://127.0.0.1:9/', { allowLoopback: true, resolver: stub({}) });
    assert.equal(ok.address, '127.0.0.1');
  });

  test('names are resolved and every address judged: a name resolving to loopback or a private address is refused', async () => {
    const resolver = stub({
      'rebind.example.com': ['127.0.0.1'],
      'internal.example.com': ['10.20.30.40'],
      'metadata.example.com': ['169.254.169.254'],
      'mixed.example.com': ['93.184.216.34', '192.168.1.5'],
      'public.example.com': ['93.184.216.34'],
      'v6.example.com': ['2606:4700::1111'],
    });
    await assert.rejects(checkDestination('https://rebind.example.com/h', { allowLoopback: false, resolver }), /loopback/);
    await assert.rejects(checkDestination('https://internal.example.com/h', { allowLoopback: true, resolver }), /private/);
    await assert.rejects(checkDestination('https://metadata.example.com/h', { allowLoopback: true, resolver }), /linklocal/);
    await assert.rejects(checkDestination('https://mixed.example.com/h', { allowLoopback: true, resolver }), /private/);
    // Allowed: the decision names the address the request will connect to (no second resolution).
    assert.equal((await checkDestination('https://public.example.com/h', { allowLoopback: false, resolver })).address, '93.184.216.34');
    assert.equal((await checkDestination('https://v6.example.com/h', { allowLoopback: false, resolver })).family, 6);
    assert.equal((await checkDestination('http://rebind.example.com/h', { allowLoopback: true, resolver })).address, '127.0.0.1');
  });

  test('other schemes and credentials in the URL are refused', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', 'gopher://127.0.0.1/', 'http://user:pw@127.0.0.1/', 'not a url']) {
      await assert.rejects(checkDestination(url, { allowLoopback: true, resolver: stub({}) }), DestinationRefusedError, url);
    }
  });
});
