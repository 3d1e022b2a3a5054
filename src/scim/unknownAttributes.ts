import { recordUnknownScimAttribute } from '../store';
import type { ScimContext } from './context';
import { badRequest } from './errors';
import type { AttrPolicy } from './normalize';

/**
 * One rule for attributes no schema declares (issue #14 item 5), the same for POST, PUT and PATCH:
 * - lenient (the default): the attribute is ignored without error and not stored; the first sighting of each name on a
 *   connection is recorded on the connection (its admin-API detail lists it, so an administrator sees a mapping typo)
 *   and logged once;
 * - strict (the interoperability profile, §5.3): the request is refused, 400 invalidSyntax naming the attribute.
 */

/** Names this process already recorded (or is recording), per connection: no store round trip for a repeat. */
const seen = new Set<string>();
/** The last pending report write per connection. */
const writes = new Map<string, Promise<void>>();
const MAX_SEEN = 10_000;
/** Longer names are cut: they are shown to administrators, not matched. */
const MAX_NAME = 200;

function report(ctx: ScimContext, name: string): void {
  const shown = name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name;
  const key = `${ctx.conn._id}\u0000${shown}`;
  if (seen.has(key)) return;
  if (seen.size >= MAX_SEEN) seen.clear();
  seen.add(key);
  // One write at a time per connection: concurrent conditional pushes to one document can lose one on some stores.
  const connId = ctx.conn._id;
  const next = (writes.get(connId) ?? Promise.resolve())
    .then(() => recordUnknownScimAttribute(connId, shown))
    .then(
      (first) => {
        if (first) ctx.logger.warn({ attribute: shown }, 'scim attribute unknown to the schema ignored (not stored); check the mapping');
      },
      (err: unknown) => {
        // Not recorded: a later request tries again.
        seen.delete(key);
        ctx.logger.warn({ err, attribute: shown }, 'could not record an unknown scim attribute');
      },
    );
  writes.set(connId, next);
  void next.finally(() => {
    if (writes.get(connId) === next) writes.delete(connId);
  });
}

/** Schema URIs Entra ID puts in `schemas` of every resource, declaring no attribute: lenient mode keeps them as sent. */
const ENTRA_DIALECT_SCHEMAS = new Set(
  [
    'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group',
    'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/User',
  ].map((u) => u.toLowerCase()),
);

/** The policy of the connection serving a request. */
export function attrPolicy(ctx: ScimContext): AttrPolicy {
  const strict = ctx.strict === true;
  return {
    strict,
    unknown(name: string): void {
      if (strict) {
        throw badRequest('invalidSyntax', `"${name}" is not defined by the schemas of this resource type (see /Schemas)`);
      }
      report(ctx, name);
    },
    tolerates: (uri: string) => !strict && ENTRA_DIALECT_SCHEMAS.has(uri.toLowerCase()),
  };
}
