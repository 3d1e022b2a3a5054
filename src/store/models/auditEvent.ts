import { Schema, model } from 'mongoose';

export interface AuditEventDoc {
  _id: string;
  orgId: string;
  /** Token id or `cli`. */
  actor: string;
  action: string;
  target?: string | null;
  details?: unknown;
  createdAt: Date;
}

const auditEventSchema = new Schema<AuditEventDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    actor: { type: String, required: true },
    action: { type: String, required: true },
    target: { type: String, default: null },
    details: { type: Schema.Types.Mixed },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
auditEventSchema.index({ orgId: 1, createdAt: -1 });

export const AuditEvent = model<AuditEventDoc>('AuditEvent', auditEventSchema, 'audit_events');
