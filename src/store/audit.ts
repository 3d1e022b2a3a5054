import { newId } from './ids';
import { rawCollection } from './collections';
import { AuditEvent } from './models';

/** Records a change an administrator made (who, what, on what); details hold ids, never secrets. */
export async function recordAudit(orgId: string, actor: string, action: string, target: string | null, details?: unknown): Promise<void> {
  await rawCollection(AuditEvent).insertOne({ _id: newId(), orgId, actor, action, target, details, createdAt: new Date() });
}
