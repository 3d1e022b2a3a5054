import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mongoose from 'mongoose';
import { checkStalled } from '../../src/store/storeMonitor';
import { connectStore, disconnectStore, dropStoreDatabase, storeMonitorRestarts } from '../../src/store';
import { StoreProxy } from '../helpers/storeProxy';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('store connection: every connection to the store drops at once, then the store is back', () => {
  const target = new URL(process.env.MONGODB_URI!);
  const proxy = new StoreProxy(target.hostname, Number(target.port));
  after(async () => {
    await proxy.up().catch(() => undefined);
    try {
      await dropStoreDatabase();
    } finally {
      await disconnectStore();
      await proxy.down();
    }
  });

  it('a check past the driver bound counts as stalled, one within it does not', () => {
    const opts = { connectTimeoutMS: 10_000, heartbeatFrequencyMS: 10_000, slackMs: 2_000 };
    assert.equal(checkStalled({ since: 0, awaited: false }, 11_999, opts), false);
    assert.equal(checkStalled({ since: 0, awaited: false }, 12_001, opts), true);
    // A streaming (awaited) check legitimately waits up to heartbeatFrequencyMS for the server's answer.
    assert.equal(checkStalled({ since: 0, awaited: true }, 21_999, opts), false);
    assert.equal(checkStalled({ since: 0, awaited: true }, 22_001, opts), true);
  });

  it('with an operation in flight at the drop: the instance answers again within seconds of the store coming back', async () => {
    await proxy.up();
    const u = new URL(process.env.MONGODB_URI!);
    u.host = `127.0.0.1:${proxy.port}`;
    u.pathname = `/t_store_outage_${process.pid}_${Date.now().toString(36)}`;
    await connectStore(u.toString(), { serverSelectionTimeoutMS: 2_000, syncIndexes: false });
    const db = mongoose.connection.db!;
    const restartsBefore = storeMonitorRestarts();
    // The race that strands the driver's monitor (src/store/storeMonitor.ts) depends on the order the process sees the
    // sockets close; it is hit on nearly every try here, and each try must recover.
    let stalled = false;
    for (let attempt = 1; attempt <= 3 && !stalled; attempt++) {
      await db.command({ ping: 1 });
      // Past the monitor's minimum interval (500 ms), so the check the failure asks for starts at once.
      await sleep(1_100);
      proxy.hold();
      const inflight = db
        .collection('probe')
        .insertOne({ attempt })
        .then(
          () => null,
          (err: Error) => {
            // Another operation waiting for the server, as a busy service always has.
            void db.command({ ping: 1 }).catch(() => undefined);
            return err;
          },
        );
      await sleep(100);
      await proxy.down();
      assert.ok((await inflight) instanceof Error, 'the operation in flight failed');
      await sleep(300);
      await proxy.up();
      const back = Date.now();
      for (;;) {
        const ok = await db.command({ ping: 1 }).then(
          () => true,
          () => false,
        );
        if (ok) break;
        assert.ok(Date.now() - back < 20_000, 'the store answers again within 20 s of coming back');
        await sleep(200);
      }
      stalled = storeMonitorRestarts() > restartsBefore;
    }
    assert.ok(stalled, 'the monitor stall happened and was recovered from (else this test shows nothing)');
    assert.equal(mongoose.connection.readyState, mongoose.ConnectionStates.connected);
  });
});
