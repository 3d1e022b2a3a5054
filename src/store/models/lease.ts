import { Schema, model } from 'mongoose';

/** A named lease: who holds it and until when (see src/store/leases.ts). */
export interface LeaseDoc {
  _id: string;
  holder: string;
  acquiredAt: Date;
  heartbeatAt: Date;
  expiresAt: Date;
}

const leaseSchema = new Schema<LeaseDoc>(
  {
    _id: { type: String, required: true },
    holder: { type: String, required: true },
    acquiredAt: { type: Date, required: true },
    heartbeatAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export const Lease = model<LeaseDoc>('Lease', leaseSchema, 'leases');

/** Inbound webhooks already accepted (Finch's event ids), so a replayed delivery is refused. */
export interface InboundWebhookDoc {
  _id: string;
  source: string;
  receivedAt: Date;
}

const inboundWebhookSchema = new Schema<InboundWebhookDoc>(
  {
    _id: { type: String, required: true },
    source: { type: String, required: true },
    receivedAt: { type: Date, required: true },
  },
  { versionKey: false },
);
inboundWebhookSchema.index({ receivedAt: 1 });

export const InboundWebhook = model<InboundWebhookDoc>('InboundWebhook', inboundWebhookSchema, 'inbound_webhooks');
