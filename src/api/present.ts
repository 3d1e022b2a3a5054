import {
  connectionBasics,
  isIdentitySource,
  type AudienceDoc,
  type ConnectionDoc,
  type GroupDoc,
  type LeaseInfo,
  type RecipientDoc,
  type SegmentDoc,
  type SyncRunDoc,
} from '../store';

/** The public shapes of the API (issue 4 §8). Internal fields (contribs, hashes, versions) never leave the store. */

export function presentRecipient(r: RecipientDoc) {
  return {
    id: r._id,
    email: r.email,
    emailDisplay: r.emailDisplay,
    firstName: r.firstName ?? null,
    lastName: r.lastName ?? null,
    status: r.status,
    attributes: r.attributes ?? {},
    groups: r.groups ?? [],
    sources: (r.sources ?? []).map((s) => ({ connectionId: s.connectionId, type: s.type, active: s.active })),
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
  };
}

/**
 * What every source says about a recipient, tombstones included (a SCIM DELETE or an absence from a full HRIS
 * directory leaves one), so an administrator can see why someone is offboarded: the status is decided by the latest
 * status an identity source asserted (`latestIdentityAssertion`), SPEC §3.4.
 */
export function presentContributions(r: RecipientDoc, connectionNames: Map<string, string | null>) {
  const contribs = r.contribs ?? [];
  let latest: (typeof contribs)[number] | undefined;
  for (const c of contribs) if (isIdentitySource(c.ct) && (!latest || c.s > latest.s)) latest = c;
  return contribs.map((c) => ({
    connectionId: c.cid,
    connectionName: connectionNames.get(c.cid) ?? null,
    type: c.ct,
    key: c.sid.startsWith(`${c.cid}:`) ? c.sid.slice(c.cid.length + 1) : c.sid,
    active: Boolean(c.a),
    tombstone: Boolean(c.d),
    identitySource: isIdentitySource(c.ct),
    statusAssertedAt: Number.isFinite(c.s) && c.s > 0 ? new Date(Math.floor(c.s / 1000)).toISOString() : null,
    latestIdentityAssertion: latest === c,
  }));
}

/** The hris block of a connection: mode and schedule, its runs, needs_reauth, Finch's cached /introspect answer. */
function presentHris(c: ConnectionDoc, lease: LeaseInfo | null | undefined) {
  const h = c.hris;
  return {
    mode: h?.mode ?? 'automated',
    schedule: h?.schedule ?? null,
    lastSyncAt: h?.lastSyncAt ? iso(h.lastSyncAt) : null,
    needsReauth: Boolean(h?.needsReauth),
    reauthReason: h?.needsReauth ? (h?.reauthReason ?? null) : null,
    lastRun: h?.lastRunId ? { id: h.lastRunId, status: h.lastRunStatus ?? null } : null,
    nextSyncAt: h?.nextSyncAt ? iso(h.nextSyncAt) : null,
    lease: lease ? { holder: lease.holder, acquiredAt: iso(lease.acquiredAt), expiresAt: iso(lease.expiresAt) } : null,
    introspection: h?.introspection ? { ...h.introspection, checkedAt: h.introspectedAt ? iso(h.introspectedAt) : null } : null,
  };
}

/**
 * The scim block of a connection (issue #14 items 5 and 9): its interoperability-profile mode, declared custom
 * attributes, and the attribute names its identity provider sent that no schema declares (ignored, not stored).
 */
function presentScimSettings(c: ConnectionDoc) {
  return {
    interopProfile: c.interopProfile ?? 'lenient',
    customAttributes: (c.customAttributes ?? []).map((a) => ({ name: a.name, type: a.type, multiValued: Boolean(a.multiValued) })),
    unknownScimAttributes: (c.unknownScimAttributes ?? []).map((u) => ({ name: u.name, firstSeenAt: iso(u.firstSeenAt) })),
  };
}

/** `lease`: the holder of a running HRIS sync, when the caller looked it up (a connection's detail). */
export function presentConnection(c: ConnectionDoc, publicUrl: string, lease?: LeaseInfo | null) {
  return {
    ...connectionBasics(c, publicUrl),
    sftp: c.type === 'sftp' ? { username: c.sftp?.username ?? null, publicKeys: c.sftp?.publicKeys ?? [] } : null,
    hris: c.type === 'hris' ? presentHris(c, lease) : null,
    scim: c.type === 'scim' ? presentScimSettings(c) : null,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

/** Row errors shown on a sync run; `counts.rejected` has the total. */
export const SHOWN_ERRORS = 100;

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : null);

/**
 * A run's progress: `processed` rows of `total` (null when the number of rows is not known up front), `bytesRead` of
 * `bytesTotal` for runs that read a file (null otherwise), and `percent` (0–100, from rows when their total is known,
 * else from bytes; at most 99 until the run succeeds, 100 once it has; null when neither total is known).
 */
export function presentProgress(r: SyncRunDoc) {
  const total = count(r.input?.rows) ?? count(r.progress?.total);
  const stored = count(r.progress?.processed) ?? 0;
  // Rows a full file restates for people whose rows were rejected are not rows of the file.
  const processed = total === null ? stored : Math.min(stored, total);
  const bytesTotal = count(r.input?.bytesTotal);
  const bytesRead = bytesTotal === null ? null : Math.min(count(r.input?.bytesRead) ?? 0, bytesTotal);
  let ratio: number | null = null;
  if (total !== null) ratio = total === 0 ? 1 : processed / total;
  else if (bytesTotal !== null) ratio = bytesTotal === 0 ? 1 : bytesRead! / bytesTotal;
  // A full snapshot is read (and staged) first, then applied: reading is the first half of its progress, the apply the
  // second, so percent keeps moving while a large snapshot is applied.
  const applyTotal = count(r.progress?.applyTotal);
  const applied = applyTotal === null ? null : Math.min(count(r.progress?.applied) ?? 0, applyTotal);
  const applying = r.status === 'applying' || r.phase === 'apply' || r.phase === 'guard';
  // A first load (journal.direct) applies as it reads: its rows are its whole progress, as a delta run's are.
  if (r.mode === 'full' && r.status !== 'needs_review' && !r.journal?.direct) {
    const applyRatio = applyTotal === null || applied === null ? 0 : applyTotal === 0 ? 1 : applied / applyTotal;
    if (applying || r.status === 'applying') ratio = 0.5 + 0.5 * applyRatio;
    else if (ratio !== null && (r.status === 'running' || r.status === 'queued')) ratio = 0.5 * ratio;
  }
  let percent = ratio === null ? null : Math.floor(ratio * 100);
  if (r.status === 'succeeded' || r.status === 'completed_with_errors' || r.status === 'applied') percent = 100;
  else if (percent !== null && (r.status === 'queued' || r.status === 'running' || r.status === 'applying' || r.status === 'failed'))
    percent = Math.min(percent, 99);
  return { processed, total, bytesRead, bytesTotal, percent, applied, applyTotal };
}

export function presentSyncRun(r: SyncRunDoc) {
  return {
    id: r._id,
    connectionId: r.connectionId,
    source: r.source,
    mode: r.mode,
    label: r.label ?? null,
    status: r.status,
    phase: r.phase ?? null,
    // HRIS syncs also say which phase they are in and how many directory pages they fetched.
    progress:
      r.source === 'hris'
        ? { ...presentProgress(r), phase: r.progress?.phase ?? null, pages: r.progress?.pages ?? null }
        : presentProgress(r),
    counts: {
      created: r.counts?.created ?? 0,
      updated: r.counts?.updated ?? 0,
      unchanged: r.counts?.unchanged ?? 0,
      deactivated: r.counts?.deactivated ?? 0,
      removed: r.counts?.removed ?? 0,
      rejected: r.counts?.rejected ?? 0,
    },
    errors: (r.errors ?? []).slice(0, SHOWN_ERRORS).map((e) => ({ line: e.line ?? null, reason: e.reason })),
    message: r.message ?? null,
    review: r.review ?? null,
    createdAt: iso(r.createdAt),
    startedAt: r.startedAt ? iso(r.startedAt) : null,
    finishedAt: r.finishedAt ? iso(r.finishedAt) : null,
  };
}

export function presentGroup(g: GroupDoc) {
  return { id: g._id, name: g.displayName, connectionId: g.connectionId, memberGroups: g.memberGroups ?? [] };
}

export function presentSegment(s: SegmentDoc) {
  return { id: s._id, name: s.name, filter: s.filter, createdAt: iso(s.createdAt), updatedAt: iso(s.updatedAt) };
}

export function presentAudience(a: AudienceDoc) {
  const sel = (x: AudienceDoc['include'] | undefined) => ({
    groups: x?.groups ?? [],
    segments: x?.segments ?? [],
    recipients: x?.recipients ?? [],
  });
  return {
    id: a._id,
    name: a.name,
    include: sel(a.include),
    exclude: sel(a.exclude),
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

function iso(d: Date | string | null | undefined): string | null {
  if (!d) return null;
  return new Date(d).toISOString();
}
