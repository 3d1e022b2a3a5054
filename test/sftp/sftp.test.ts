import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { waitForBackgroundJobs } from '../../src/store';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, uploadAndWait, type Org } from '../api/helpers';
import {
  csvPeople,
  makeKey,
  openSsh,
  sftpConnection,
  ssh2Client,
  startDaemon,
  tempDir,
  waitForFileRun,
  type Account,
  type Daemon,
} from './harness';

describe('SFTP ingest: OpenSSH and ssh2 clients, results, archive, confinement', () => {
  const app = makeApp();
  const tmp = tempDir('main');
  let org: Org;
  let daemon: Daemon;
  let acct: Account;
  let key: { path: string; publicKey: string };
  let port: number;

  const recipientsOf = async (token: string) => {
    const res = await request(app).get('/api/v1/recipients?limit=500').set(bearer(token));
    return res.body.items as { email: string; status: string; attributes: Record<string, string>; sources: { connectionId: string }[] }[];
  };
  const fetchFile = async (remote: string): Promise<string> => {
    const local = join(tmp.dir, `got-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    const r = await openSsh(port, acct.username, `get ${remote} ${local}`, { key: key.path });
    assert.equal(r.code, 0, r.stderr);
    return readFileSync(local, 'utf8');
  };

  before(async () => {
    await openTestStore('sftp');
    org = await createOrgWithTokens('Acme');
    key = makeKey(tmp.dir, 'id_ed25519');
    acct = await sftpConnection(org.id, [key.publicKey]);
    daemon = await startDaemon(join(tmp.dir, 'host_key'));
    port = daemon.server.port;
  });
  after(async () => {
    await daemon?.stop();
    await waitForBackgroundJobs();
    await closeTestStore();
    tmp.cleanup();
  });

  it('OpenSSH put with a key: the full file is processed once, results come back, the file is archived', async () => {
    const file = join(tmp.dir, 'people.csv');
    writeFileSync(file, csvPeople(30) + 'bad-email,X,Y,Eng,\n');
    const put = await openSsh(port, acct.username, `cd /inbox/full\nput -p ${file}\nls -l\nbye`, { key: key.path });
    assert.equal(put.code, 0, put.stderr);
    const run = await waitForFileRun(app, org.admin, acct.id, 'people.csv');
    // Applied, with its one bad row rejected.
    assert.equal(run.status, 'completed_with_errors');
    assert.equal(run.source, 'sftp');
    assert.equal(run.mode, 'full');
    assert.deepEqual(run.counts, { created: 30, updated: 0, unchanged: 0, deactivated: 0, removed: 0, rejected: 1 });
    const people = (await recipientsOf(org.reader)).filter((r) => r.sources.some((s) => s.connectionId === acct.id));
    assert.equal(people.length, 30);

    const result = JSON.parse(await fetchFile('/results/people.csv.result.json'));
    assert.equal(result.syncRunId, run.id);
    assert.equal(result.status, 'completed_with_errors');
    assert.equal(result.heldForReview, false);
    assert.equal(result.counts.created, 30);
    assert.equal(result.errorsFile, 'people.csv.errors.csv');
    const errors = await fetchFile('/results/people.csv.errors.csv');
    assert.equal(errors, 'line,reason,row\r\n32,"invalid email ""bad-email""","bad-email,X,Y,Eng,"\r\n');

    const day = new Date().toISOString().slice(0, 10);
    const ls = await openSsh(port, acct.username, `ls -l /archive/${day}\nls /inbox/full\nls -l /`, { key: key.path });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`-rw-r--r-- .* ${Buffer.byteLength(readFileSync(file))} .* people\\.csv`));
    assert.match(ls.stdout, /dr-xr-xr-x .* results/);
    const archived = await fetchFile(`/archive/${day}/people.csv`);
    assert.equal(archived, readFileSync(file, 'utf8'));
  });

  it('password login (sshpass); a delta file honours the action column and groups', async () => {
    const file = join(tmp.dir, 'changes.csv');
    writeFileSync(
      file,
      'email,first name,department,groups,action\np1@example.com,Paula,Ops,Ops|All,upsert\np2@example.com,,,,remove\nnew@example.com,New,Eng,Eng,\n',
    );
    const put = await openSsh(port, acct.username, `put ${file} /inbox/delta/changes.csv`, { password: acct.password });
    assert.equal(put.code, 0, put.stderr);
    const run = await waitForFileRun(app, org.admin, acct.id, 'changes.csv');
    assert.equal(run.mode, 'delta');
    assert.deepEqual(run.counts, { created: 1, updated: 1, unchanged: 0, deactivated: 0, removed: 1, rejected: 0 });
    const p1 = await request(app).get('/api/v1/recipients/p1@example.com').set(bearer(org.reader));
    assert.equal(p1.body.attributes.department_name, 'Ops');
    assert.equal((await request(app).get('/api/v1/recipients/p2@example.com').set(bearer(org.reader))).status, 404);
    const groups = await request(app).get('/api/v1/groups?limit=100').set(bearer(org.reader));
    assert.ok(groups.body.items.some((g: { name: string }) => g.name === 'Ops'));

    const wrong = await openSsh(port, acct.username, 'ls /', { password: 'not-the-password' });
    assert.notEqual(wrong.code, 0);
  });

  it('ssh2 fastPut (many out-of-order writes) and a temporary name renamed at the end', async () => {
    const big = join(tmp.dir, 'fast.csv');
    // ~1 MB: fastPut sends 32 KiB writes, up to 64 at a time.
    const pad = 'x'.repeat(400);
    writeFileSync(
      big,
      ['email,first name,notes', ...Array.from({ length: 2500 }, (_, i) => `fast${i}@example.com,F${i},${pad}`)].join('\n') + '\n',
    );
    const { client, sftp } = await ssh2Client(port, acct.username, { privateKey: readFileSync(key.path) });
    try {
      await new Promise<void>((res, rej) =>
        sftp.fastPut(big, '/inbox/delta/fast.csv', { concurrency: 64, chunkSize: 32768 }, (e) => (e ? rej(e) : res())),
      );
      const tmpName = join(tmp.dir, 'renamed.csv');
      writeFileSync(tmpName, 'email,first name\nren@example.com,Ren\n');
      await new Promise<void>((res, rej) => sftp.fastPut(tmpName, '/inbox/delta/renamed.csv.filepart', (e) => (e ? rej(e) : res())));
      // A temporary name is not processed while it sits there.
      await new Promise((r) => setTimeout(r, 700));
      const before = await request(app).get(`/api/v1/sync-runs?connectionId=${acct.id}&limit=100`).set(bearer(org.admin));
      assert.ok(!before.body.items.some((r: { label: string }) => r.label?.startsWith('renamed')));
      await new Promise<void>((res, rej) =>
        sftp.rename('/inbox/delta/renamed.csv.filepart', '/inbox/delta/renamed.csv', (e) => (e ? rej(e) : res())),
      );
    } finally {
      client.end();
    }
    const fast = await waitForFileRun(app, org.admin, acct.id, 'fast.csv');
    assert.equal(fast.counts.created, 2500);
    const renamed = await waitForFileRun(app, org.admin, acct.id, 'renamed.csv');
    assert.equal(renamed.counts.created, 1);
    assert.equal((await request(app).get('/api/v1/recipients/ren@example.com').set(bearer(org.reader))).status, 200);
  });

  it('the same bytes uploaded again are a duplicate, reported and not applied', async () => {
    const file = join(tmp.dir, 'again.csv');
    writeFileSync(file, 'email,first name\nagain@example.com,Once\n');
    assert.equal((await openSsh(port, acct.username, `put ${file} /inbox/delta/again.csv`, { key: key.path })).code, 0);
    const first = await waitForFileRun(app, org.admin, acct.id, 'again.csv');
    assert.equal(first.status, 'succeeded');
    assert.equal((await openSsh(port, acct.username, `put ${file} /inbox/delta/again.csv`, { key: key.path })).code, 0);
    const second = await waitForFileRun(app, org.admin, acct.id, 'again.csv', 60_000, 2);
    assert.notEqual(second.id, first.id);
    assert.equal(second.status, 'discarded');
    assert.match(second.message, /duplicate/);
    const result = JSON.parse(await fetchFile('/results/again.csv.result.json'));
    assert.equal(result.status, 'duplicate');
    assert.equal(result.duplicateOf, first.id);
  });

  it('the same CSV through SFTP and through the API upload gives the same counts and recipients', async () => {
    const other = await createOrgWithTokens('Same');
    const sftpAcct = await sftpConnection(other.id, [key.publicKey]);
    const csvConn = await request(app).post('/api/v1/connections').set(bearer(other.admin)).send({ type: 'csv', name: 'API' });
    const content = csvPeople(200, 0, (i) => ['Eng', 'Sales', 'Ops'][i % 3]!) + 'nope,Bad,Row,Eng,\n';
    const file = join(tmp.dir, 'same.csv');
    writeFileSync(file, content);
    assert.equal((await openSsh(port, sftpAcct.username, `put ${file} /inbox/full/same.csv`, { key: key.path })).code, 0);
    const viaSftp = await waitForFileRun(app, other.admin, sftpAcct.id, 'same.csv');
    const viaApi = await uploadAndWait(app, other.admin, csvConn.body.id, 'full', content);
    assert.deepEqual(viaSftp.counts, { ...viaApi.counts, created: viaApi.counts.created + viaApi.counts.unchanged, unchanged: 0 });
    assert.deepEqual(viaSftp.errors, viaApi.errors);
    const people = await recipientsOf(other.reader);
    assert.equal(people.length, 200);
    for (const p of people) assert.deepEqual(p.sources.map((s) => s.connectionId).sort(), [sftpAcct.id, csvConn.body.id].sort());
  });

  it('a full file the guard holds says so; applying or discarding it through the API updates the result file', async () => {
    const guarded = await sftpConnection(org.id, [key.publicKey]);
    const whole = join(tmp.dir, 'whole.csv');
    writeFileSync(whole, csvPeople(10, 500));
    assert.equal((await openSsh(port, guarded.username, `put ${whole} /inbox/full/whole.csv`, { key: key.path })).code, 0);
    assert.equal((await waitForFileRun(app, org.admin, guarded.id, 'whole.csv')).status, 'succeeded');
    const file = join(tmp.dir, 'truncated.csv');
    writeFileSync(file, csvPeople(5, 500));
    assert.equal((await openSsh(port, guarded.username, `put ${file} /inbox/full/truncated.csv`, { key: key.path })).code, 0);
    const run = await waitForFileRun(app, org.admin, guarded.id, 'truncated.csv');
    assert.equal(run.status, 'needs_review');
    const fetchGuarded = async (remote: string) => {
      const local = join(tmp.dir, `g-${Date.now()}`);
      assert.equal((await openSsh(port, guarded.username, `get ${remote} ${local}`, { key: key.path })).code, 0);
      return readFileSync(local, 'utf8');
    };
    const held = JSON.parse(await fetchGuarded('/results/truncated.csv.result.json'));
    assert.equal(held.heldForReview, true);
    assert.equal(held.status, 'needs_review');
    const applied = await request(app).post(`/api/v1/sync-runs/${run.id}/apply`).set(bearer(org.admin));
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    const after = JSON.parse(await fetchGuarded('/results/truncated.csv.result.json'));
    assert.equal(after.status, 'applied');
    assert.equal(after.heldForReview, false);
    assert.equal(after.counts.removed, 5);

    // Discarding a held file updates its result file too, and changes nothing.
    const lone = join(tmp.dir, 'lone.csv');
    writeFileSync(lone, csvPeople(1, 500));
    assert.equal((await openSsh(port, guarded.username, `put ${lone} /inbox/full/lone.csv`, { key: key.path })).code, 0);
    const held2 = await waitForFileRun(app, org.admin, guarded.id, 'lone.csv');
    assert.equal(held2.status, 'needs_review');
    assert.equal(JSON.parse(await fetchGuarded('/results/lone.csv.result.json')).heldForReview, true);
    const discarded = await request(app).post(`/api/v1/sync-runs/${held2.id}/discard`).set(bearer(org.admin));
    assert.equal(discarded.status, 200, JSON.stringify(discarded.body));
    const afterDiscard = JSON.parse(await fetchGuarded('/results/lone.csv.result.json'));
    assert.equal(afterDiscard.status, 'discarded');
    assert.equal(afterDiscard.heldForReview, false);
    // Applied, the file would have removed p501..p504: they are all still there.
    for (let i = 501; i <= 504; i++) {
      const kept = await request(app).get(`/api/v1/recipients/p${i}@example.com`).set(bearer(org.reader));
      assert.equal(kept.status, 200);
      assert.equal(kept.body.status, 'active');
      assert.ok(kept.body.sources.some((s: { connectionId: string }) => s.connectionId === guarded.id));
    }
  });

  it('paths never leave the account tree; uploads elsewhere are refused; another account (or organization member) sees and opens nothing of this one', async () => {
    const file = join(tmp.dir, 'x.csv');
    writeFileSync(file, 'email\nx@example.com\n');
    const probes = [
      'ls /../../etc',
      'ls ../..//etc',
      'get /../../../etc/passwd',
      'get /inbox/full/../../../etc/passwd',
      'get /%2e%2e/%2e%2e/etc/passwd',
      'get //etc//passwd',
      'get /inbox/..%2f..%2fetc/passwd',
    ];
    for (const p of probes) {
      const r = await openSsh(port, acct.username, p, { key: key.path });
      assert.notEqual(r.code, 0, `${p} should fail: ${r.stdout}`);
      assert.doesNotMatch(r.stdout + r.stderr, /root:/);
    }
    const realpath = await openSsh(port, acct.username, 'cd /../../..\npwd', { key: key.path });
    assert.match(realpath.stdout, /Remote working directory: \/\n/);
    for (const target of ['/x.csv', '/results/x.csv', '/archive/x.csv', '/inbox/x.csv', '/etc/x.csv']) {
      const r = await openSsh(port, acct.username, `put ${file} ${target}`, { key: key.path });
      assert.notEqual(r.code, 0, `put to ${target} should fail`);
    }
    const mk = await openSsh(port, acct.username, 'mkdir /inbox/full/sub', { key: key.path });
    assert.notEqual(mk.code, 0);
    const ln = await openSsh(port, acct.username, 'symlink /etc/passwd /inbox/full/pw', { key: key.path });
    assert.notEqual(ln.code, 0);

    // Another organization's account with the same key sees an empty tree and cannot log in as this account.
    const stranger = await createOrgWithTokens('Stranger');
    const otherKey = makeKey(tmp.dir, 'id_other');
    const theirs = await sftpConnection(stranger.id, [otherKey.publicKey]);
    const ls = await openSsh(port, theirs.username, 'ls /results\nls /archive', { key: otherKey.path });
    assert.equal(ls.code, 0, ls.stderr);
    assert.doesNotMatch(ls.stdout, /people|result\.json|\d{4}-\d{2}-\d{2}/);
    const intrude = await openSsh(port, acct.username, 'ls /', { key: otherKey.path });
    assert.notEqual(intrude.code, 0);
    const intrudePw = await openSsh(port, acct.username, 'ls /', { password: theirs.password });
    assert.notEqual(intrudePw.code, 0);
    // A member of the other organization holds its API tokens, not this account's secret: they open nothing here.
    for (const token of [stranger.admin, stranger.reader]) {
      const asMember = await openSsh(port, acct.username, 'ls /', { password: token });
      assert.notEqual(asMember.code, 0);
    }
    // And what the other account writes stays in its own tree.
    assert.equal((await openSsh(port, theirs.username, `put ${file} /inbox/delta/x.csv`, { key: otherKey.path })).code, 0);
    const mine = await openSsh(port, acct.username, 'ls /inbox/delta\nls /results', { key: key.path });
    assert.equal(mine.code, 0, mine.stderr);
    assert.doesNotMatch(mine.stdout, /\bx\.csv/);
  });

  it('the connection detail shows the host key fingerprint; a deleted connection ends its sessions', async () => {
    const detail = await request(app).get(`/api/v1/connections/${acct.id}`).set(bearer(org.admin));
    assert.equal(detail.body.sftp.hostKeyFingerprint, daemon.server.fingerprint);
    assert.match(daemon.server.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);

    const gone = await sftpConnection(org.id, [key.publicKey]);
    const { client } = await ssh2Client(port, gone.username, { privateKey: readFileSync(key.path) });
    const closed = new Promise<void>((r) => client.on('close', () => r()));
    assert.equal((await request(app).delete(`/api/v1/connections/${gone.id}`).set(bearer(org.admin))).status, 204);
    await closed;
    const again = await openSsh(port, gone.username, 'ls /', { key: key.path });
    assert.notEqual(again.code, 0);
  });
});
