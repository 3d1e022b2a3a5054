import { newId } from './ids';
import { AuditEvent } from './models';

/** Records a change an administrator made (who, what, on what); details hold ids, never secrets. */
export async function recordAudit(orgId: string, actor: string, action: string, target: string | null, details?: unknown): Promise<void> {
  await AuditEvent.collection.insertOne({ _id: newId(), orgId, actor, action, target, details, createdAt: new Date() } as never);
}
