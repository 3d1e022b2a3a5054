import { createHash } from 'node:crypto';
import { isDuplicateKeyError } from './errors';
import { recordGroupEvent } from './events';
import type { ConnectionRef } from './merge';
import { rawCollection } from './collections';
import { Group } from './models';

/**
 * The id of a group a connection names by text (a CSV group column): derived from the connection and the lower-cased
 * name, so the same name always finds the same group by `_id` (no secondary-field query, no race on creation).
 */
export function namedGroupId(connectionId: string, name: string): string {
  return createHash('sha256').update(`${connectionId}\u0000${name.trim().toLowerCase()}`, 'utf8').digest('hex').slice(0, 24);
}

/** Returns the ids of named groups of a connection, creating the missing ones. */
export async function ensureNamedGroups(conn: ConnectionRef, names: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const name of names) {
    const id = namedGroupId(conn._id, name);
    ids.push(id);
    if (await Group.findOne({ _id: id }, { _id: 1 }).lean().exec()) continue;
    const now = new Date();
    const display = name.trim();
    try {
      await rawCollection(Group).insertOne({
        _id: id,
        orgId: conn.orgId,
        connectionId: conn._id,
        key: display.toLowerCase(),
        displayName: display,
        displayNameLower: display.toLowerCase(),
        externalId: null,
        memberGroups: [],
        v: 1,
        createdAt: now,
        updatedAt: now,
      });
      await recordGroupEvent(conn.orgId, conn._id, id, 'created', { displayName: display });
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
  return ids;
}
