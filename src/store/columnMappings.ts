import { Connection } from './models';

/**
 * The explicit column mapping of a csv or sftp connection: CSV header → target (`email`, `status`, `groups`, `action`,
 * `ignore`, `custom:<name>` or an attribute name). The store keeps it as given (src/csv reads and validates targets);
 * it is stored as a list of pairs because headers may contain `.` and `$`, which document keys may not.
 */
export type StoredColumnMapping = Record<string, string>;

interface MappingPair {
  header: string;
  target: string;
}

/** Within one organization (the API), or any (the command line, run by an operator). */
function scope(orgId: string | null): { orgId?: string } {
  return orgId === null ? {} : { orgId };
}

function toRecord(pairs: MappingPair[] | null | undefined): StoredColumnMapping {
  const out: StoredColumnMapping = {};
  for (const p of pairs ?? []) out[p.header] = p.target;
  return out;
}

/**
 * The column mapping of a connection ({} when none is set), with the connection's organization and type; null when the
 * organization (any, for null) has no such connection.
 */
export async function readColumnMapping(
  orgId: string | null,
  connectionId: string,
): Promise<{ orgId: string; type: string; mapping: StoredColumnMapping } | null> {
  const doc = (await Connection.findOne(
    { _id: connectionId, ...scope(orgId), deleting: { $ne: true } },
    { orgId: 1, type: 1, columnMapping: 1 },
  )
    .lean()
    .exec()) as { orgId: string; type: string; columnMapping?: MappingPair[] | null } | null;
  return doc ? { orgId: doc.orgId, type: doc.type, mapping: toRecord(doc.columnMapping) } : null;
}

/** Replaces the column mapping of a connection ({} clears it); false when there is no such connection. */
export async function writeColumnMapping(orgId: string | null, connectionId: string, mapping: StoredColumnMapping): Promise<boolean> {
  const pairs: MappingPair[] = Object.entries(mapping).map(([header, target]) => ({ header, target }));
  const update = pairs.length ? { $set: { columnMapping: pairs } } : { $unset: { columnMapping: 1 } };
  const res = await Connection.updateOne({ _id: connectionId, ...scope(orgId), deleting: { $ne: true } }, update).exec();
  return res.matchedCount > 0;
}
