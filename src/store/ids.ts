import { randomUUID } from 'node:crypto';
import { Types } from 'mongoose';

/** Ids of organizations, connections, groups and other entities: 24 hex characters, stored as strings. */
export function newId(): string {
  return new Types.ObjectId().toHexString();
}

export function newUuid(): string {
  return randomUUID();
}

/**
 * Natural keys as `_id`s. Every hot lookup of the merge is an `_id` equality, which every MongoDB-compatible server
 * serves from its primary index (FerretDB v1 pushes down nothing else).
 */
export function recipientId(orgId: string, email: string): string {
  return `${orgId}:${email}`;
}

export function sourceRecordId(connectionId: string, key: string): string {
  return `${connectionId}:${key}`;
}

let lastSeq = 0;
/**
 * A strictly increasing stamp (microseconds since the epoch, bumped on ties) that orders status assertions; it lets the
 * merge tell which identity source spoke last (SPEC §3.4) even within one millisecond.
 */
export function nextStatusSeq(): number {
  const now = Date.now() * 1000;
  lastSeq = now > lastSeq ? now : lastSeq + 1;
  return lastSeq;
}
