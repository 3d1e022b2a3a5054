import { findByIdCoalesced, findByIds } from './batchRead';
import { sourceRecordId } from './ids';
import { liveOfConnection, SourceRecord, type SourceRecordDoc } from './models';
import { recordCache } from './writeBaseCache';

/** What one connection says about one person (tombstones included), or null. */
export async function findSourceRecord(connectionId: string, key: string): Promise<SourceRecordDoc | null> {
  return findByIdCoalesced<SourceRecordDoc>(SourceRecord, sourceRecordId(connectionId, key));
}

/**
 * The live record this process last wrote for a connection's key, if it kept it (writeBaseCache.ts): only a base for
 * a write that is conditional on its version (`applySourceChanges` with `knownCached`), never an answer to a read.
 */
export function cachedSourceRecord(connectionId: string, key: string): SourceRecordDoc | undefined {
  return recordCache.get(sourceRecordId(connectionId, key));
}

/** Each live record of a connection, its key → whether it is active: one scan of the connection's `_id` range. */
export async function liveRecordStates(connectionId: string): Promise<Map<string, boolean>> {
  const states = new Map<string, boolean>();
  for await (const r of SourceRecord.find(liveOfConnection(connectionId), { key: 1, active: 1 }).lean().cursor()) {
    states.set(r.key, r.active);
  }
  return states;
}

/** Several source records of one connection by key, in `_id` reads; the map is keyed by the connection's key. */
export async function findSourceRecords(connectionId: string, keys: string[]): Promise<Map<string, SourceRecordDoc>> {
  const found = await findByIds(
    SourceRecord,
    keys.map((k) => sourceRecordId(connectionId, k)),
  );
  return new Map([...found.values()].map((r) => [r.key, r]));
}
