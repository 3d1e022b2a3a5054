/**
 * bench/recipientWrites — what one recipient write costs the store, by the shape of the write (issue #15 item 3).
 *
 *   npm run build && node scripts/local-store.js --ephemeral -- node dist/bench/recipientWrites.js [--people 2000] [--rounds 3]
 *
 * Seeds N people of one SCIM connection through the merge, then, in alternating rounds on the same documents, times N
 * conditional (`{_id, v}`) updates of each shape, sent as the merge sends them (unordered bulkWrite; on FerretDB v1 in
 * commands of four):
 * - `records $addToSet`: the source records, `$addToSet` of a group and `$inc` of v (the raw figure of bench/groups);
 * - `recipients, whole replace`: the recipients replaced whole with one more group (what the merge sends);
 * - `recipients, targeted $set`: the same change as a `$set` of only the changed paths (`groups`, `contribs.0.g`, `v`,
 *   `updatedAt`, `ev`).
 * The question it answers: does a targeted update make the merge's recipient write cheaper on this store? One fresh
 * database, dropped at the end; one JSON line per shape and round on stdout.
 */
import { randomUUID } from 'node:crypto';
import { BSON, type AnyBulkWriteOperation, type Collection } from 'mongodb';
import { applySourceChanges, connectStore, createConnection, createOrganization, disconnectStore, dropStoreDatabase } from '../src/store';
import { rawCollection } from '../src/store/collections';
import { Recipient, SourceRecord } from '../src/store/models';
import type { SourceRecordDoc, StoredRecipient } from '../src/store/types';
import { contribsWithGroup } from './lib/recipients';
import { argValue, parseCount } from './lib/stats';

const argv = process.argv.slice(2);
const PEOPLE = parseCount(argValue(argv, 'people')) ?? 2000;
const ROUNDS = parseCount(argValue(argv, 'rounds')) ?? 3;

const log = (msg: string) => process.stderr.write(`bench:recipientWrites ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (run through scripts/local-store.js)');
  const url = new URL(base);
  url.pathname = `/bench_recipient_writes_${process.pid}`;
  const caps = await connectStore(url.toString());
  try {
    const org = await createOrganization('Bench recipient writes');
    const conn = await createConnection(
      { orgId: org.id, type: 'scim' },
      { publicUrl: 'http://127.0.0.1', secretKey: 'bench-secret-key-0123456789' },
    );
    const ref = { _id: conn.id, orgId: org.id, type: 'scim' };
    const groups = Array.from({ length: 20 }, () => randomUUID());
    log(`seeding ${PEOPLE} people (${caps.ferretdb ? 'FerretDB' : 'MongoDB'} ${caps.serverVersion})`);
    for (let i = 0; i < PEOPLE; i += 1000) {
      await applySourceChanges(
        ref,
        Array.from({ length: Math.min(1000, PEOPLE - i) }, (_, j) => {
          const n = i + j;
          const userName = `u${n}@bench.example`;
          return {
            op: 'upsert' as const,
            key: randomUUID(),
            email: userName,
            active: true,
            attributes: { first_name: `U${n}`, last_name: `L${n}` },
            groups: [groups[n % 20]!, groups[(n * 7 + 3) % 20]!],
            raw: JSON.stringify({ userName, displayName: `User ${n}` }),
          };
        }),
      );
    }
    const records = rawCollection(SourceRecord);
    const recipients = rawCollection(Recipient);
    const chunk = caps.ferretdb ? 4 : PEOPLE;
    const send = async <T extends { _id: string }>(col: Collection<T>, ops: AnyBulkWriteOperation<T>[]): Promise<number> => {
      let matched = 0;
      for (let i = 0; i < ops.length; i += chunk)
        matched += (await col.bulkWrite(ops.slice(i, i + chunk), { ordered: false })).matchedCount;
      return matched;
    };
    const shapes: { name: string; run: (round: number) => Promise<{ matched: number; ms: number; bytes: number }> }[] = [
      {
        name: 'records $addToSet',
        run: async (round) => {
          const docs = await records.find({ orgId: org.id }).toArray();
          const ops: AnyBulkWriteOperation<SourceRecordDoc>[] = docs.map((r) => ({
            updateOne: { filter: { _id: r._id, v: r.v }, update: { $addToSet: { groups: `rec-${round}` }, $inc: { v: 1 } } },
          }));
          return timed(docs, () => send(records, ops));
        },
      },
      {
        name: 'recipients, whole replace',
        run: async (round) => {
          const docs = await recipients.find({ orgId: org.id }).toArray();
          const ops: AnyBulkWriteOperation<StoredRecipient>[] = docs.map((r) => ({
            replaceOne: {
              filter: { _id: r._id, v: r.v },
              replacement: {
                ...r,
                groups: [...r.groups, `rep-${round}`].sort(),
                contribs: contribsWithGroup(r, `rep-${round}`),
                v: r.v + 1,
                updatedAt: new Date(),
                ev: '[]',
              },
            },
          }));
          return timed(docs, () => send(recipients, ops));
        },
      },
      {
        name: 'recipients, targeted $set',
        run: async (round) => {
          const docs = await recipients.find({ orgId: org.id }).toArray();
          const ops: AnyBulkWriteOperation<StoredRecipient>[] = docs.map((r) => ({
            updateOne: {
              filter: { _id: r._id, v: r.v },
              update: {
                $set: {
                  groups: [...r.groups, `set-${round}`].sort(),
                  contribs: contribsWithGroup(r, `set-${round}`),
                  v: r.v + 1,
                  updatedAt: new Date(),
                  ev: '[]',
                },
              },
            },
          }));
          return timed(docs, () => send(recipients, ops));
        },
      },
    ];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const shape of shapes) {
        const r = await shape.run(round);
        if (r.matched !== PEOPLE) throw new Error(`${shape.name} matched ${r.matched} of ${PEOPLE}`);
        emit({
          bench: 'recipientWrites',
          measure: shape.name,
          round,
          people: PEOPLE,
          ms: Math.round(r.ms),
          msPerDocument: +(r.ms / PEOPLE).toFixed(3),
          documentBytes: r.bytes,
          store: caps.ferretdb ? `ferretdb ${caps.serverVersion}` : `mongodb ${caps.serverVersion}`,
        });
      }
    }
  } finally {
    await dropStoreDatabase().catch(() => undefined);
    await disconnectStore();
  }
}

async function timed(docs: object[], work: () => Promise<number>): Promise<{ matched: number; ms: number; bytes: number }> {
  const bytes = Math.round(docs.reduce((n, d) => n + BSON.calculateObjectSize(d), 0) / Math.max(1, docs.length));
  const t = process.hrtime.bigint();
  const matched = await work();
  return { matched, ms: Number(process.hrtime.bigint() - t) / 1e6, bytes };
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:recipientWrites failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
