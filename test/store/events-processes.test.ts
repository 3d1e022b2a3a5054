import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { appendEvents, createOrganization, headCursor, readEvents, walkEventsBack, type EventDoc } from '../../src/store';
import { EventBlock, EventSeq } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';

/**
 * Two processes appending events of one organization at once (each with its own in-process positions, issue #15:
 * one store command per append), while a reader tails the feed: every event is read exactly once, each writer's
 * events in the order it appended them, and the tailing reader sees exactly what a full read sees afterwards.
 */
describe('events: two writer processes of one organization', () => {
  let uri = '';
  before(async () => {
    const db = await openTestStore('events_processes');
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = `/${db}`;
    uri = u.toString();
  });
  after(closeTestStore);

  test('every event once, in each writer order, and a tailing reader never skips one', async () => {
    const org = (await createOrganization('Two processes')).id;
    const WRITERS = 3;
    const EVENTS = 40;
    // Warm this process's positions, so both processes start from a known head and collide on their first appends.
    await appendEvents(org, [{ key: 'first', type: 'recipient.updated', connectionId: null, data: { writer: 'first', i: 0 } }]);
    const child = spawn(process.execPath, [join(__dirname, '..', 'helpers', 'eventWriterChild.js')], {
      env: { ...process.env, MONGODB_URI: uri, ORG_ID: org, LABEL: 'child', WRITERS: String(WRITERS), EVENTS: String(EVENTS) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const childDone = new Promise<number | null>((r) => child.once('exit', r));
    // Both processes have their positions warm (the same head) before either writes: their first appends collide.
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) resolve();
      });
      child.once('exit', () => reject(new Error(`the writer process ended before it was ready: ${stderr}`)));
    });
    await appendEvents(org, [{ key: 'second', type: 'recipient.updated', connectionId: null, data: { writer: 'second', i: 0 } }]);
    child.stdin.write('go\n');

    const tailed: EventDoc[] = [];
    let writing = true;
    const tail = (async () => {
      let cursor = 0;
      for (;;) {
        const stop = !writing;
        const page = await readEvents(org, { after: cursor, limit: 50 });
        tailed.push(...page.items);
        assert.ok(page.cursor >= cursor, 'the cursor never moves back');
        cursor = page.cursor;
        if (stop && !page.more && page.items.length === 0) return;
        if (!page.more) await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < EVENTS; i++) {
          await appendEvents(org, [
            { key: `parent-${w}-${i}`, type: 'recipient.updated', connectionId: null, data: { writer: `parent-${w}`, i } },
          ]);
        }
      }),
    );
    assert.equal(await childDone, 0, stderr);
    writing = false;
    await tail;

    const all = (await readEvents(org, { after: 0, limit: 1000 })).items;
    const total = 3 + 2 * WRITERS * EVENTS;
    assert.equal(all.length, total, 'every event is in the feed');
    assert.equal(new Set(all.map((e) => e.eid)).size, total, 'each once');
    assert.ok(
      all.every((e, k) => k === 0 || e.seq > all[k - 1]!.seq),
      'cursors strictly increase',
    );
    const byWriter = new Map<string, number[]>();
    for (const e of all) byWriter.set(String(e.data.writer), [...(byWriter.get(String(e.data.writer)) ?? []), Number(e.data.i)]);
    assert.equal(byWriter.size, 3 + 2 * WRITERS);
    for (const [w, list] of byWriter) {
      if (w === 'first' || w === 'second' || w === 'child-warm') continue;
      assert.deepEqual(
        list,
        Array.from({ length: EVENTS }, (_, i) => i),
        `${w}: cursor order is the order it appended`,
      );
    }
    assert.deepEqual(
      tailed.map((e) => e.eid),
      all.map((e) => e.eid),
      'the tailing reader read every event, once, in feed order',
    );
  });

  test('a feed written by the cursor counter (legacy) reads on, and new events follow its last cursor', async () => {
    const org = (await createOrganization('Legacy feed')).id;
    // What the counter wrote: cursors 1..5 in two blocks keyed by their first cursor, the counter at 5.
    const legacyBlock = (seq: number, names: string[]) => ({
      _id: `${org}:${seq}`,
      orgId: org,
      seq,
      n: names.length,
      createdAt: new Date(Date.now() - 60_000),
      z: deflateRawSync(
        Buffer.from(JSON.stringify(names.map((x) => [`evt_${x}`, 'recipient.updated', null, { writer: x }, null, null, null]))),
      ),
    });
    await EventBlock.collection.insertMany([legacyBlock(1, ['a', 'b', 'c']), legacyBlock(4, ['d', 'e'])] as never);
    await EventSeq.collection.insertOne({ _id: org, seq: 5 } as never);
    assert.equal(await headCursor(org), 5);
    await appendEvents(org, [{ key: 'f', type: 'recipient.updated', connectionId: null, data: { writer: 'f' } }]);
    await appendEvents(org, [{ key: 'g', type: 'recipient.updated', connectionId: null, data: { writer: 'g' } }]);
    const all = await readEvents(org, { after: 0, limit: 100 });
    assert.deepEqual(
      all.items.map((e) => e.data.writer),
      ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
    );
    assert.deepEqual(
      all.items.slice(0, 5).map((e) => e.seq),
      [1, 2, 3, 4, 5],
      'legacy cursors unchanged',
    );
    assert.ok(all.items[5]!.seq > 5, 'new cursors follow the last legacy one');
    // A cursor saved before the change (a webhook endpoint's, an API client's) reads on from where it was.
    const fromSaved = await readEvents(org, { after: 2, limit: 100 });
    assert.deepEqual(
      fromSaved.items.map((e) => e.data.writer),
      ['c', 'd', 'e', 'f', 'g'],
    );
    assert.equal(await headCursor(org), all.items[6]!.seq);
    const back: string[] = [];
    await walkEventsBack(org, (e) => (back.push(String(e.data.writer)), false));
    assert.deepEqual(back, ['g', 'f', 'e', 'd', 'c', 'b', 'a'], 'the journal replay walks both');
  });
});
