import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { registry } from '../../src/server/metrics';
import { Defender } from '../../src/sftp';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, type Org } from '../api/helpers';
import { makeKey, openSsh, sftpConnection, ssh2Client, startDaemon, tempDir, tryPassword, type Account } from './harness';

async function metric(name: string, labels = ''): Promise<number> {
  const text = await registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('SFTP defender and limits', () => {
  const app = makeApp();
  const tmp = tempDir('limits');
  let org: Org;
  let acct: Account;
  let key: { path: string; publicKey: string };
  const hostKey = () => join(tmp.dir, 'host_key');

  before(async () => {
    await openTestStore('sftp_limits');
    org = await createOrgWithTokens('Limits');
    key = makeKey(tmp.dir, 'id_ed25519');
    acct = await sftpConnection(org.id, [key.publicKey]);
  });
  after(async () => {
    await closeTestStore();
    tmp.cleanup();
  });

  it('20 wrong passwords in a row ban the account and the address; the right password is then refused', async () => {
    const d = await startDaemon(hostKey(), {}, false);
    try {
      const bansBefore = await metric('audience_sync_sftp_bans_total', 'kind="username"');
      const failuresBefore = await metric('audience_sync_sftp_logins_total', 'outcome="failure"');
      assert.equal(await tryPassword(d.server.port, acct.username, acct.password), true, 'the right password works before');
      for (let i = 0; i < 20; i++) assert.equal(await tryPassword(d.server.port, acct.username, `wrong-${i}`), false);
      assert.ok(d.server.defender.userBan(acct.username) > 0, 'the username is banned');
      assert.equal(await tryPassword(d.server.port, acct.username, acct.password), false, 'the right password is refused while banned');
      const viaOpenSsh = await openSsh(d.server.port, acct.username, 'ls /', { key: key.path });
      assert.notEqual(viaOpenSsh.code, 0);
      assert.equal(await metric('audience_sync_sftp_bans_total', 'kind="username"'), bansBefore + 1);
      assert.ok((await metric('audience_sync_sftp_logins_total', 'outcome="failure"')) >= failuresBefore + 10);
      const audit = await request(app).get('/api/v1/audit-events?limit=100').set(bearer(org.admin));
      const actions = (audit.body.items as { action: string; details?: { address?: string } }[]).map((e) => e.action);
      assert.ok(actions.includes('sftp.login.failure'));
      assert.ok(actions.includes('sftp.login'));
      assert.ok(
        audit.body.items.every((e: { details?: Record<string, unknown> }) => !JSON.stringify(e.details ?? {}).includes(acct.password)),
      );
    } finally {
      await d.stop();
    }
  });

  it('a ban grows each time it is earned again', () => {
    let now = 0;
    const def = new Defender({ userThreshold: 3, addressThreshold: 100, banMs: 1000 }, () => now);
    for (let i = 0; i < 3; i++) def.fail('u', '10.0.0.1');
    assert.equal(def.userBan('u'), 1000);
    now += 1001;
    assert.equal(def.userBan('u'), 0);
    for (let i = 0; i < 3; i++) def.fail('u', '10.0.0.1');
    assert.equal(def.userBan('u'), 2000);
  });

  it('concurrent sessions per account are limited; an idle session is closed', async () => {
    const d = await startDaemon(hostKey(), { maxSessionsPerAccount: 2, idleTimeoutMs: 1500 }, false);
    try {
      const a = await ssh2Client(d.server.port, acct.username, { password: acct.password });
      const b = await ssh2Client(d.server.port, acct.username, { password: acct.password });
      assert.equal(await tryPassword(d.server.port, acct.username, acct.password), false, 'a third session is refused');
      const closed = await Promise.race([
        new Promise<boolean>((r) => a.client.on('close', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 10_000)),
      ]);
      assert.equal(closed, true, 'the idle session was closed');
      b.client.end();
    } finally {
      await d.stop();
    }
  });

  it('a file over the size limit fails with a clear message; the hourly file limit holds', async () => {
    const d = await startDaemon(hostKey(), { maxFileBytes: 2000, filesPerHour: 1 }, false);
    try {
      const big = join(tmp.dir, 'big.csv');
      writeFileSync(big, 'email\n' + 'someone@example.com\n'.repeat(500));
      const r = await openSsh(d.server.port, acct.username, `put ${big} /inbox/delta/big.csv`, { key: key.path });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /too large|Failure/i);
      const ls = await openSsh(d.server.port, acct.username, 'ls /inbox/delta', { key: key.path });
      assert.doesNotMatch(ls.stdout, /big\.csv/);

      const small = join(tmp.dir, 'small.csv');
      writeFileSync(small, 'email\none@example.com\n');
      assert.equal((await openSsh(d.server.port, acct.username, `put ${small} /inbox/delta/one.csv`, { key: key.path })).code, 0);
      const second = await openSsh(d.server.port, acct.username, `put ${small} /inbox/delta/two.csv`, { key: key.path });
      assert.notEqual(second.code, 0);
    } finally {
      await d.stop();
    }
  });
});
