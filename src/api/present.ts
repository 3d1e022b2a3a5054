import { scimBaseUrl, type AudienceDoc, type ConnectionDoc, type GroupDoc, type RecipientDoc, type SegmentDoc, type SyncRunDoc } from '../store';

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

export function presentConnection(c: ConnectionDoc, publicUrl: string) {
  return {
    id: c._id,
    type: c.type,
    name: c.name,
    provider: c.type === 'scim' ? (c.provider ?? 'generic') : null,
    extendedAttributes: Boolean(c.extendedAttributes),
    massRemovalThreshold: c.massRemovalThreshold ?? 0.2,
    scimBaseUrl: c.type === 'scim' ? scimBaseUrl(publicUrl, c._id) : null,
    sftp: c.type === 'sftp' ? { username: c.sftp?.username ?? null, publicKeys: c.sftp?.publicKeys ?? [] } : null,
    hris:
      c.type === 'hris'
        ? { mode: c.hris?.mode ?? 'automated', schedule: c.hris?.schedule ?? null, lastSyncAt: c.hris?.lastSyncAt ? iso(c.hris.lastSyncAt) : null }
        : null,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

/** Row errors shown on a sync run; `counts.rejected` has the total. */
export const SHOWN_ERRORS = 100;

export function presentSyncRun(r: SyncRunDoc) {
  return {
    id: r._id,
    connectionId: r.connectionId,
    source: r.source,
    mode: r.mode,
    label: r.label ?? null,
    status: r.status,
    progress: { processed: r.progress?.processed ?? 0, total: r.progress?.total ?? null },
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
  const sel = (x: AudienceDoc['include'] | undefined) => ({ groups: x?.groups ?? [], segments: x?.segments ?? [], recipients: x?.recipients ?? [] });
  return { id: a._id, name: a.name, include: sel(a.include), exclude: sel(a.exclude), createdAt: iso(a.createdAt), updatedAt: iso(a.updatedAt) };
}

function iso(d: Date | string | null | undefined): string | null {
  if (!d) return null;
  return new Date(d).toISOString();
}
