/**
 * bench/groups — a page of SCIM groups with their members (GET /scim/v2/{id}/Groups?count=P), in this process, against
 * the same store's raw reads of the same members measured in the same run: one query for the whole page (what the
 * listing does since the reads were batched) and one query per group (what it did before).
 *
 *   npm run build && node scripts/local-store.js --ephemeral -- node dist/bench/groups.js [--users 5000] [--groups 100] [--pages 5]
 *
 * Seeds U users of one SCIM connection, each in 2 of G groups, through the merge; one fresh database, dropped at the end.
 * One JSON line per measurement on stdout; progress on stderr.
 *
 * With `--patch-members M` (issue #15 item 3) it also times a group PATCH adding M members over HTTP (Okta and Entra
 * push memberships in batches), counts its store commands, and times the raw work it is judged against in the same
 * run: M conditional updates (`{_id, v}` filter, `$addToSet` of a group, `$inc` of v) of the same records, sent the
 * way the store accepts updates (an unordered bulkWrite; on FerretDB v1 in commands of four, see src/store/merge.ts).
 * That figure updates one document per member, while the membership lives on two: the record and the recipient
 * (whose `groups` audiences resolve). So it also times M conditional updates of the members' recipients and reports
 * the PATCH against both: the issue's figure, and the minimal writes of the same work (records + recipients).
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { BSON, type AnyBulkWriteOperation } from 'mongodb';
import {
  applySourceChanges,
  connectStore,
  createConnection,
  createOrganization,
  disconnectStore,
  dropStoreDatabase,
  CommandCounter,
  findByIds,
  insertScimGroup,
  storeCapabilities,
} from '../src/store';
import { rawCollection } from '../src/store/collections';
import { Group, Recipient, SourceRecord } from '../src/store/models';
import { groupMembersQuery } from '../src/store/scimGroups';
import type { SourceRecordDoc, StoredRecipient } from '../src/store/types';
import { contribsWithGroup } from './lib/recipients';
import { recipientId } from '../src/store/ids';
import { createApp } from '../src/server/app';
import { createLogger } from '../src/server/logger';
import { testConfig } from '../test/helpers/config';
import { argValue, parseCount } from './lib/stats';

const argv = process.argv.slice(2);
const USERS = parseCount(argValue(argv, 'users')) ?? 5000;
const GROUPS = parseCount(argValue(argv, 'groups')) ?? 100;
const PAGES = parseCount(argValue(argv, 'pages')) ?? 5;
/** Members one group PATCH adds (item 3 of issue 15); left out, no PATCH is timed. */
const PATCH_MEMBERS = parseCount(argValue(argv, 'patch-members')) ?? 0;

const log = (msg: string) => process.stderr.write(`bench:groups ${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const emit = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + '\n');

async function timed(n: number, work: () => Promise<unknown>): Promise<{ perSecond: number; medianMs: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await work();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  const total = ms.reduce((a, b) => a + b, 0);
  return { perSecond: Math.round((n / total) * 1000 * 100) / 100, medianMs: Math.round((ms[Math.floor(n / 2)] ?? 0) * 10) / 10 };
}

async function main(): Promise<void> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set (run through scripts/local-store.js)');
  const url = new URL(base);
  url.pathname = `/bench_groups_${process.pid}`;
  const caps = await connectStore(url.toString(), { monitorCommands: true });
  try {
    const org = await createOrganization('Bench groups');
    const env = { publicUrl: 'http://127.0.0.1', secretKey: 'bench-secret-key-0123456789' };
    const conn = await createConnection({ orgId: org.id, type: 'scim' }, env);
    const ref = { _id: conn.id, orgId: org.id, type: 'scim' };
    const groupIds = Array.from({ length: GROUPS }, () => randomUUID());
    const now = new Date();
    for (const [i, id] of groupIds.entries()) {
      await insertScimGroup(
        {
          _id: id,
          orgId: org.id,
          connectionId: conn.id,
          key: id,
          displayName: `Group ${i}`,
          displayNameLower: `group ${i}`,
          externalId: null,
          memberGroups: i ? [groupIds[i - 1]!] : [],
          raw: JSON.stringify({ displayName: `Group ${i}` }),
          v: 1,
          createdAt: now,
          updatedAt: now,
        },
        { add: [], remove: [] },
      );
    }
    log(
      `seeding ${USERS} users in ${GROUPS} groups (${caps.ferretdb ? 'FerretDB' : 'MongoDB'} ${caps.serverVersion}, $in by _id from index: ${caps.idInFromIndex})`,
    );
    const userKeys: string[] = [];
    for (let i = 0; i < USERS; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, USERS - i) }, (_, j) => {
        const n = i + j;
        const userName = `u${n}@bench.example`;
        return {
          op: 'upsert' as const,
          key: randomUUID(),
          email: userName,
          active: true,
          attributes: { first_name: `U${n}` },
          groups: [groupIds[n % GROUPS]!, groupIds[(n * 7 + 3) % GROUPS]!],
          raw: JSON.stringify({ userName, displayName: `User ${n}` }),
        };
      });
      await applySourceChanges(ref, batch);
      userKeys.push(...batch.map((b) => b.key));
    }

    const app = createApp({ config: testConfig(), logger: createLogger('silent') });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const port = (server.address() as AddressInfo).port;
    const page = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/scim/v2/${conn.id}/Groups?count=${GROUPS}`, {
        headers: { Authorization: `Bearer ${conn.token}` },
      });
      const body = (await res.json()) as { Resources: { members?: unknown[] }[] };
      if (res.status !== 200 || body.Resources.length !== GROUPS) throw new Error(`listing answered ${res.status}`);
      return body;
    };
    const members = (await page()).Resources.reduce((n, g) => n + (g.members?.length ?? 0), 0);
    log(`a page of ${GROUPS} groups holds ${members} members`);
    const http = await timed(PAGES, page);
    const batched = await timed(PAGES, async () => {
      await SourceRecord.find(groupMembersQuery(conn.id, groupIds), { key: 1, raw: 1, groups: 1 }).lean().exec();
      await findByIds(Group, groupIds, { displayName: 1 });
    });
    const perGroup = await timed(PAGES, async () => {
      for (const id of groupIds) {
        await SourceRecord.find(groupMembersQuery(conn.id, [id]), { key: 1, raw: 1 })
          .lean()
          .exec();
        await Group.find({ _id: { $in: [id] } }, { displayName: 1 })
          .lean()
          .exec();
      }
    });
    let patchResults: Record<string, unknown>[] = [];
    if (PATCH_MEMBERS > 0) {
      const members = userKeys.slice(0, PATCH_MEMBERS);
      const headers = { Authorization: `Bearer ${conn.token}`, 'Content-Type': 'application/scim+json' };
      const base = `http://127.0.0.1:${port}/scim/v2/${conn.id}`;
      const created = await fetch(`${base}/Groups`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Patched' }),
      });
      const gid = ((await created.json()) as { id: string }).id;
      const counter = new CommandCounter().start();
      const t0 = process.hrtime.bigint();
      const res = await fetch(`${base}/Groups/${gid}`, {
        method: 'PATCH',
        headers,
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
          Operations: [{ op: 'add', path: 'members', value: members.map((value) => ({ value })) }],
        }),
      });
      const patchMs = Number(process.hrtime.bigint() - t0) / 1e6;
      const commands = counter.snapshot();
      // Where the PATCH's time went, by command type (send to reply; the app runs in this process, one PATCH at a time).
      const storeMs = Object.fromEntries(Object.entries(counter.storeMs()).map(([k, ms]) => [k, Math.round(ms)]));
      counter.stop();
      if (res.status >= 300) throw new Error(`group PATCH answered ${res.status}`);
      const check = await SourceRecord.countDocuments({ connectionId: conn.id, groups: gid }).exec();
      if (check !== members.length) throw new Error(`group PATCH left ${check} members, not ${members.length}`);
      // The raw work, measured twice. (1) What the issue states the target against: M conditional updates of the
      // members' source records. (2) The minimal writes a membership change makes in this design: those M record
      // updates plus one conditional update of each member's recipient (its `groups` and the contribution's `g`, the
      // fields the merge rewrites), since audiences resolve groups on the recipients. Both in commands of the store's
      // statements per command (the capability record), as the merge sends its version-checked writes.
      const recs = await findByIds(
        SourceRecord,
        members.map((k) => `${conn.id}:${k}`),
      );
      const chunk = caps.updatesPerCommand ?? members.length;
      const sendChunked = async <T extends { _id: string }>(
        model: Parameters<typeof rawCollection<T>>[0],
        ops: AnyBulkWriteOperation<T>[],
      ) => {
        let matched = 0;
        for (let i = 0; i < ops.length; i += chunk)
          matched += (await rawCollection(model).bulkWrite(ops.slice(i, i + chunk), { ordered: false })).matchedCount;
        return matched;
      };
      const recordOps: AnyBulkWriteOperation<SourceRecordDoc>[] = [...recs.values()].map((r) => ({
        updateOne: { filter: { _id: r._id, v: r.v }, update: { $addToSet: { groups: 'raw-group' }, $inc: { v: 1 } } },
      }));
      const t1 = process.hrtime.bigint();
      const matched = await sendChunked(SourceRecord, recordOps);
      const rawMs = Number(process.hrtime.bigint() - t1) / 1e6;
      if (matched !== members.length) throw new Error(`raw updates matched ${matched}`);
      const reps = await findByIds(
        Recipient,
        [...recs.values()].map((r) => recipientId(org.id, r.email!)),
      );
      const recipientOps: AnyBulkWriteOperation<StoredRecipient>[] = [...reps.values()].map((r) => ({
        updateOne: {
          filter: { _id: r._id, v: r.v },
          update: {
            $set: {
              groups: [...r.groups, 'raw-group'].sort(),
              contribs: contribsWithGroup(r, 'raw-group'),
              updatedAt: new Date(),
            },
            $inc: { v: 1 },
          },
        },
      }));
      const t2 = process.hrtime.bigint();
      const matchedRecipients = await sendChunked(Recipient, recipientOps);
      const rawRecipientsMs = Number(process.hrtime.bigint() - t2) / 1e6;
      if (matchedRecipients !== members.length) throw new Error(`raw recipient updates matched ${matchedRecipients}`);
      const avgBytes = (docs: Iterable<object>) => {
        const list = [...docs];
        return Math.round(list.reduce((n, d) => n + BSON.calculateObjectSize(d), 0) / Math.max(1, list.length));
      };
      const minimalMs = rawMs + rawRecipientsMs;
      patchResults = [
        {
          bench: 'groups',
          measure: `group PATCH adding ${members.length} members (HTTP)`,
          ms: Math.round(patchMs),
          commands: commands.total,
          commandsByType: commands.byType,
          storeMsByType: storeMs,
        },
        {
          bench: 'groups',
          measure: `raw: ${members.length} conditional updates of the records (store)`,
          ms: Math.round(rawMs),
          recordBytes: avgBytes(recs.values()),
        },
        {
          bench: 'groups',
          measure: `raw: ${members.length} conditional updates of the recipients (store)`,
          ms: Math.round(rawRecipientsMs),
          recipientBytes: avgBytes(reps.values()),
        },
        {
          bench: 'groups',
          measure: 'group PATCH time / raw time of the record updates',
          ratio: +(patchMs / rawMs).toFixed(3),
          target: 1.5,
        },
        {
          bench: 'groups',
          measure: 'group PATCH time / raw time of the minimal writes (records + recipients)',
          ratio: +(patchMs / minimalMs).toFixed(3),
        },
      ];
    }
    server.close();
    const common = {
      users: USERS,
      groups: GROUPS,
      members,
      store: caps.ferretdb ? `ferretdb ${caps.serverVersion}` : `mongodb ${caps.serverVersion}`,
      idInFromIndex: storeCapabilities().idInFromIndex,
    };
    emit({ bench: 'groups', measure: 'GET /Groups page (HTTP)', pagesPerSecond: http.perSecond, medianMs: http.medianMs, ...common });
    emit({
      bench: 'groups',
      measure: 'store: members of the page, one query',
      pagesPerSecond: batched.perSecond,
      medianMs: batched.medianMs,
      ...common,
    });
    emit({
      bench: 'groups',
      measure: 'store: members of the page, one query per group',
      pagesPerSecond: perGroup.perSecond,
      medianMs: perGroup.medianMs,
      ...common,
    });
    for (const r of patchResults) emit({ ...r, ...common });
  } finally {
    await dropStoreDatabase().catch(() => undefined);
    await disconnectStore();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:groups failed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
