import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import mongoose from 'mongoose';
import request from 'supertest';
import { closeTestStore, openTestStore } from '../helpers/store';
import { bearer, createOrgWithTokens, makeApp, type Org } from '../api/helpers';
import { csvPeople, makeKey, openSsh, sftpConnection, ssh2Client, startDaemon, tempDir, waitForFileRun } from './harness';
import { StoreProxy, startServiceProcess, type ServiceProcess } from './service';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function call<T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));
}

describe('SFTP faults: a killed service, a dropped client, a store outage, two instances', () => {
  const app = makeApp();
  const tmp = tempDir('faults');
  let org: Org;
  let key: { path: string; publicKey: string };
  let uri: string;
  const services: ServiceProcess[] = [];
  const service = async (env: Record<string, string> = {}) => {
    const s = await startServiceProcess({ MONGODB_URI: uri, SFTP_HOST_KEY: join(tmp.dir, 'host_key'), ...env });
    services.push(s);
    return s;
  };

  before(async () => {
    const db = await openTestStore('sftp_faults');
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = `/${db}`;
    uri = u.toString();
    org = await createOrgWithTokens('Faults');
    key = makeKey(tmp.dir, 'id_ed25519');
  });
  after(async () => {
    for (const s of services) await s.kill();
    await closeTestStore();
    tmp.cleanup();
  });

  const runsOf = async (connectionId: string, label: string) => {
    const res = await request(app).get(`/api/v1/sync-runs?connectionId=${connectionId}&limit=100`).set(bearer(org.admin));
    return (
      res.body.items as { id: string; label: string; status: string; counts: Record<string, number>; progress: { processed: number } }[]
    ).filter((r) => r.label === label);
  };
  const sourceCount = async (connectionId: string) =>
    mongoose.connection.db!.collection('source_records').countDocuments({ connectionId, deleted: false });

  it('killed with SIGKILL while processing a file and restarted: the file is processed exactly once', async () => {
    const acct = await sftpConnection(org.id, [key.publicKey]);
    const file = join(tmp.dir, 'crash.csv');
    writeFileSync(file, csvPeople(4000));
    const first = await service();
    assert.equal((await openSsh(first.sftpPort, acct.username, `put ${file} /inbox/full/crash.csv`, { key: key.path })).code, 0);
    // Wait until rows are being applied, then kill the process.
    for (let i = 0; ; i++) {
      const [run] = await runsOf(acct.id, 'crash.csv');
      if (run?.status === 'running' && run.progress.processed >= 1000) break;
      assert.ok(i < 600 && run?.status !== 'succeeded', `processing was not caught running: ${JSON.stringify(run)}`);
      await sleep(50);
    }
    await first.kill('SIGKILL');
    const [killed] = await runsOf(acct.id, 'crash.csv');
    assert.equal(killed!.status, 'running');
    assert.ok((await sourceCount(acct.id)) < 4000, 'the file was only partly applied when killed');

    const second = await service();
    const run = await waitForFileRun(app, org.admin, acct.id, 'crash.csv', 90_000);
    assert.equal(run.status, 'succeeded');
    assert.equal((await runsOf(acct.id, 'crash.csv')).length, 1);
    // A first load applies as it reads and resumes after what its journal counted: every person created once, and
    // counted once.
    assert.deepEqual([run.counts.created, run.counts.unchanged, run.counts.rejected], [4000, 0, 0], JSON.stringify(run.counts));
    assert.equal(await sourceCount(acct.id), 4000);
    const ls = await openSsh(second.sftpPort, acct.username, `ls /results\nls /archive/${new Date().toISOString().slice(0, 10)}`, {
      key: key.path,
    });
    assert.match(ls.stdout, /crash\.csv\.result\.json/);
    assert.equal(ls.stdout.match(/\/crash\.csv\b(?!\.)/g)?.length, 1, ls.stdout);
    await second.kill('SIGTERM');
  });

  it('a client that drops mid-upload leaves nothing processed and nothing stored', async () => {
    const acct = await sftpConnection(org.id, [key.publicKey]);
    const daemon = await startDaemon(join(tmp.dir, 'host_key'));
    try {
      const { client, sftp } = await ssh2Client(daemon.server.port, acct.username, { privateKey: Buffer.from(readFileSync(key.path)) });
      const h = await call<Buffer>((cb) => sftp.open('/inbox/full/dropped.csv', 'w', cb));
      const chunk = Buffer.from(csvPeople(500));
      await call((cb) => sftp.write(h, chunk, 0, chunk.length, 0, (e) => cb(e)));
      client.destroy();
      await sleep(1500);
      assert.equal((await runsOf(acct.id, 'dropped.csv')).length, 0);
      assert.equal(await mongoose.connection.db!.collection('sftp_files').countDocuments({ connectionId: acct.id }), 0);
      assert.equal(await mongoose.connection.db!.collection('files.files').countDocuments({ 'metadata.connectionId': acct.id }), 0);
      assert.equal(await sourceCount(acct.id), 0);
    } finally {
      await daemon.stop();
    }
  });

  it('killed with SIGKILL mid-upload: nothing is processed, and the half-written file is deleted once silent', async () => {
    const acct = await sftpConnection(org.id, [key.publicKey]);
    const first = await service();
    const files = mongoose.connection.db!.collection('files.files');
    const chunks = mongoose.connection.db!.collection('files.chunks');
    const { client, sftp } = await ssh2Client(first.sftpPort, acct.username, { privateKey: Buffer.from(readFileSync(key.path)) });
    let fileId: mongoose.mongo.ObjectId;
    try {
      const h = await call<Buffer>((cb) => sftp.open('/inbox/full/cut.csv', 'w', cb));
      // 2.5 MiB: two whole chunks stored, a third held in the writer when the process dies.
      const part = Buffer.from(csvPeople(70_000)).subarray(0, 5 * 512 * 1024);
      assert.equal(part.length, 5 * 512 * 1024, 'the sample is long enough');
      for (let off = 0; off < part.length; off += 32 * 1024) await call((cb) => sftp.write(h, part, off, 32 * 1024, off, (e) => cb(e)));
      const doc = await files.findOne({ 'metadata.connectionId': acct.id });
      assert.ok(doc?.writingAt instanceof Date, 'a file being written is marked');
      fileId = doc._id;
      assert.equal(await chunks.countDocuments({ files_id: fileId }), 2);
      await first.kill('SIGKILL');
    } finally {
      client.destroy();
    }
    assert.equal((await runsOf(acct.id, 'cut.csv')).length, 0);
    // Another instance's sweep leaves a file written moments ago alone (its writer may be alive elsewhere)...
    const second = await service();
    await sleep(1000);
    assert.equal(await files.countDocuments({ _id: fileId }), 1);
    await second.kill('SIGTERM');
    // ...and deletes it, chunks first, once it has been silent for half an hour.
    await files.updateOne({ _id: fileId }, { $set: { writingAt: new Date(Date.now() - 31 * 60_000) } });
    const third = await service();
    for (let i = 0; (await files.countDocuments({ _id: fileId })) > 0; i++) {
      assert.ok(i < 200, 'the abandoned file was not swept');
      await sleep(100);
    }
    assert.equal(await chunks.countDocuments({ files_id: fileId }), 0);
    assert.equal((await runsOf(acct.id, 'cut.csv')).length, 0);
    assert.equal(await sourceCount(acct.id), 0);
    await third.kill('SIGTERM');
  });

  it('the store stops during an upload: the client gets an error; the same upload succeeds once the store is back', async () => {
    const acct = await sftpConnection(org.id, [key.publicKey]);
    const target = new URL(process.env.MONGODB_URI!);
    const proxy = new StoreProxy(target.hostname, Number(target.port));
    await proxy.up();
    const viaProxy = new URL(uri);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const svc = await service({ MONGODB_URI: viaProxy.toString() });
    // Stopped whatever happens: a service left running would keep this file's process alive until its timeout.
    try {
      // ~3 MB in few rows (five 1000-character columns each): the upload spans several GridFS chunk writes, and 600 rows
      // keep the processing short even on a loaded machine.
      const ROWS = 600;
      const pad = 'x'.repeat(1000);
      const content = Buffer.from(
        ['email,n1,n2,n3,n4,n5', ...Array.from({ length: ROWS }, (_, i) => `out${i}@example.com,${pad},${pad},${pad},${pad},${pad}`)].join(
          '\n',
        ) + '\n',
      );
      const file = join(tmp.dir, 'outage.csv');
      writeFileSync(file, content);
      const { client, sftp } = await ssh2Client(svc.sftpPort, acct.username, { privateKey: Buffer.from(readFileSync(key.path)) });
      try {
        const h = await call<Buffer>((cb) => sftp.open('/inbox/delta/outage.csv', 'w', cb));
        let failed: Error | null = null;
        const size = 32 * 1024;
        for (let off = 0, n = 0; off < content.length; off += size, n++) {
          if (n === 40) await proxy.down();
          try {
            await call((cb) => sftp.write(h, content, off, Math.min(size, content.length - off), off, (e) => cb(e)));
          } catch (err) {
            failed = err as Error;
            break;
          }
        }
        if (!failed)
          failed = await call((cb) => sftp.close(h, (e) => cb(e))).then(
            () => null,
            (e: Error) => e,
          );
        assert.ok(failed, 'the client got an error');
        await proxy.up();
        // As an HR system's retry would: the service may take a few seconds to see the store again (the driver checks the
        // server anew; a check stranded by the drop is restarted by the store watchdog, src/store/storeMonitor.ts), then
        // the same upload goes through.
        for (let attempt = 1; ; attempt++) {
          await sleep(1000);
          const err = await call((cb) => sftp.fastPut(file, '/inbox/delta/outage.csv', (e) => cb(e))).then(
            () => null,
            (e: Error) => e,
          );
          if (!err) break;
          if (attempt >= 15) throw err;
        }
      } finally {
        client.end();
      }
      const run = await waitForFileRun(app, org.admin, acct.id, 'outage.csv', 120_000);
      assert.equal(run.status, 'succeeded');
      assert.equal(run.counts.created, ROWS);
      assert.equal((await runsOf(acct.id, 'outage.csv')).length, 1);
    } finally {
      await svc.kill('SIGTERM');
      await proxy.down();
    }
  });

  it('two instances on one store: each file is processed once', async () => {
    const acct = await sftpConnection(org.id, [key.publicKey]);
    const a = await service();
    const b = await service();
    const names: string[] = [];
    for (let i = 0; i < 6; i++) {
      const name = `batch-${i}.csv`;
      names.push(name);
      const file = join(tmp.dir, name);
      writeFileSync(file, csvPeople(100, i * 100));
      const port = (i % 2 ? a : b).sftpPort;
      assert.equal((await openSsh(port, acct.username, `put ${file} /inbox/delta/${name}`, { key: key.path })).code, 0);
    }
    for (const name of names) {
      const run = await waitForFileRun(app, org.admin, acct.id, name, 90_000);
      assert.equal(run.status, 'succeeded');
      assert.equal(run.counts.created, 100);
      assert.equal((await runsOf(acct.id, name)).length, 1);
    }
    assert.equal(await sourceCount(acct.id), 600);
    const claims = [...a.logs, ...b.logs].filter((l) => l.msg === 'sftp file claimed').map((l) => String(l.syncRunId));
    assert.equal(new Set(claims).size, claims.length, 'no run was claimed twice');
    await a.kill('SIGTERM');
    await b.kill('SIGTERM');
  });
});
