import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applySourceChanges,
  createConnection,
  createOrganization,
  type ConnectionRef,
  type RecipientDoc,
  type SourceChange,
} from '../../src/store';
import { Recipient } from '../../src/store/models';
import { closeTestStore, openTestStore } from '../helpers/store';
import { mulberry32 } from '../helpers/random';
import { fromStored } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

/*
 * Model-based test of the merge: random sequences of source-record changes from four connections (two identity
 * sources, a CSV, manual entries), checked after every step against a small reference model of SPEC §3 written here,
 * independently of src/store/derive.ts. Replay a failure with MERGE_MODEL_SEED=<seed> (and MERGE_MODEL_STEPS).
 */

const STEPS = Number(process.env.MERGE_MODEL_STEPS ?? 2000);
const SEED = Number(process.env.MERGE_MODEL_SEED ?? Math.floor(Math.random() * 2 ** 31));

interface ModelRecord {
  email: string | null;
  display: string | null;
  active: boolean;
  deleted: boolean;
  seq: number;
  attrs: Record<string, string>;
  groups: string[];
}

// Priority order of SPEC §3.5 (default): hris > scim > sftp > csv > manual.
const PRIORITY = ['hris', 'scim', 'csv', 'manual'];
const IDENTITY = new Set(['scim', 'hris']);
const EMAILS = ['ann@x.io', 'bob@x.io', 'cat@x.io', 'dan@x.io', 'eve@x.io'];
const KEYS = ['k1', 'k2', 'k3', 'k4'];
const ATTR_VALUES: Record<string, string[]> = {
  first_name: ['Ann', 'Bob', '', 'Zed'],
  city: ['Oslo', 'Rome', ''],
  job_title: ['Chef', 'Pilot', ''],
};
const GROUPS = ['g1', 'g2', 'g3'];

test(`merge matches the reference model over ${STEPS} random steps (seed ${SEED})`, async (t) => {
  t.diagnostic(`seed ${SEED}: replay with MERGE_MODEL_SEED=${SEED}`);
  process.stdout.write(`# merge model seed: ${SEED}\n`);
  const rand = mulberry32(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

  await openTestStore('merge_model');
  try {
    const orgId = (await createOrganization('Model org')).id;
    const env = { publicUrl: 'http://localhost', secretKey: 'model-secret-key-000000' };
    const conns: ConnectionRef[] = [];
    for (const type of ['scim', 'hris', 'csv', 'manual']) {
      const c = await createConnection({ orgId, type, accessToken: type === 'hris' ? 'x' : undefined }, env);
      conns.push({ _id: c.id, orgId, type });
    }
    const model = new Map<string, Map<string, ModelRecord>>(conns.map((c) => [c._id, new Map()]));
    let clock = 0;

    const randomCase = (e: string) => [...e].map((ch) => (rand() < 0.3 ? ch.toUpperCase() : ch)).join('');

    const modelApply = (conn: ConnectionRef, ch: SourceChange) => {
      const recs = model.get(conn._id)!;
      const prev = recs.get(ch.key);
      clock++;
      if (ch.op === 'upsert') {
        const display = ch.email ? ch.email.trim() : null;
        const statusChanged = !prev || prev.deleted || prev.active !== ch.active;
        const attrs: Record<string, string> = {};
        for (const [k, v] of Object.entries(ch.attributes ?? {})) if (typeof v === 'string' && v.trim()) attrs[k] = v.trim();
        recs.set(ch.key, {
          email: display ? display.toLowerCase() : null,
          display,
          active: ch.active,
          deleted: false,
          seq: statusChanged ? clock : prev.seq,
          attrs,
          groups: ch.groups ? [...new Set(ch.groups)].sort() : (prev?.groups ?? []),
        });
      } else if (ch.op === 'tombstone') {
        if (prev && !prev.deleted) recs.set(ch.key, { ...prev, active: false, deleted: true, seq: clock });
      } else if (ch.op === 'delete') {
        recs.delete(ch.key);
      }
    };

    const expected = () => {
      const byEmail = new Map<string, { conn: ConnectionRef; key: string; r: ModelRecord }[]>();
      for (const conn of conns) {
        for (const [key, r] of model.get(conn._id)!) {
          if (!r.email) continue;
          const list = byEmail.get(r.email) ?? [];
          list.push({ conn, key, r });
          byEmail.set(r.email, list);
        }
      }
      const out = new Map<string, { status: string; attrs: Record<string, string>; groups: string[]; display: string; sources: number }>();
      for (const [email, list] of byEmail) {
        const live = list.filter((x) => !x.r.deleted);
        if (!live.length) continue;
        // Offboarded when the latest identity-source assertion is inactive (ties: inactive wins).
        let latest: ModelRecord | null = null;
        for (const x of list) {
          if (!IDENTITY.has(x.conn.type)) continue;
          const inactive = !x.r.active || x.r.deleted;
          if (!latest || x.r.seq > latest.seq || (x.r.seq === latest.seq && inactive)) latest = x.r;
        }
        const status = latest && (!latest.active || latest.deleted) ? 'offboarded' : live.some((x) => x.r.active) ? 'active' : 'inactive';
        const ordered = [...live].sort(
          (a, b) => PRIORITY.indexOf(a.conn.type) - PRIORITY.indexOf(b.conn.type) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
        );
        const attrs: Record<string, string> = {};
        for (const x of ordered) {
          for (const [k, v] of Object.entries(x.r.attrs)) {
            // A directory without extended attributes speaks for names only (SPEC §3.6).
            if (x.conn.type === 'scim' && k !== 'first_name' && k !== 'last_name') continue;
            if (attrs[k] === undefined) attrs[k] = v;
          }
        }
        const groups = [...new Set(live.flatMap((x) => x.r.groups))].sort();
        out.set(email, { status, attrs, groups, display: ordered[0]!.r.display!, sources: live.length });
      }
      return out;
    };

    for (let step = 1; step <= STEPS; step++) {
      const conn = pick(conns);
      const n = rand() < 0.2 ? 2 + Math.floor(rand() * 3) : 1;
      const changes: SourceChange[] = [];
      for (let i = 0; i < n; i++) {
        const key = pick(KEYS);
        const r = rand();
        if (r < 0.65) {
          const attributes: Record<string, string> = {};
          for (const [k, vals] of Object.entries(ATTR_VALUES)) if (rand() < 0.7) attributes[k] = pick(vals);
          const email = rand() < 0.05 ? null : randomCase(pick(EMAILS)) + (rand() < 0.1 ? ' ' : '');
          const groups = rand() < 0.3 ? undefined : GROUPS.filter(() => rand() < 0.4);
          changes.push({ op: 'upsert', key, email, active: rand() < 0.7, attributes, groups });
        } else if (r < 0.85 && IDENTITY.has(conn.type)) {
          changes.push({ op: 'tombstone', key });
        } else {
          changes.push({ op: 'delete', key });
        }
      }
      await applySourceChanges(conn, changes);
      for (const ch of changes) modelApply(conn, ch);

      const want = expected();
      const docs: RecipientDoc[] = ((await Recipient.find({ orgId }).lean().exec()) as StoredRecipient[]).map(fromStored);
      const got = new Map(docs.filter((d) => d.listed).map((d) => [d.email, d]));
      const ctx = `step ${step} (seed ${SEED}): ${JSON.stringify({ conn: conn.type, changes })}`;
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `listed recipients differ at ${ctx}`);
      for (const [email, w] of want) {
        const d = got.get(email)!;
        const attrs: Record<string, string> = {};
        for (const k of Object.keys(ATTR_VALUES)) {
          const v = (d.attributes as Record<string, string | undefined>)[k];
          if (v !== undefined) attrs[k] = v;
        }
        assert.deepEqual(
          { status: d.status, attrs, groups: d.groups, display: d.emailDisplay, sources: d.sources.length },
          w,
          `recipient ${email} differs at ${ctx}`,
        );
      }
    }
  } finally {
    await closeTestStore();
  }
});
