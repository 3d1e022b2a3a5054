import { Schema, model } from 'mongoose';

/** A subscriber of an organization's change feed: events are POSTed to `url`, signed per Standard Webhooks. */
export interface WebhookEndpointDoc {
  _id: string;
  orgId: string;
  url: string;
  /** Event types delivered; empty: every type. */
  types: string[];
  enabled: boolean;
  /** Subscribers that ask for full objects get them in `data.object`. */
  includeObject: boolean;
  /** The `whsec_` signing secret, encrypted with SECRET_KEY. */
  secretEnc: string;
  /** The feed cursor up to which events were delivered (or skipped by the type filter). */
  cursor: number;
  /** Bumped by a replay, so the deliveries of a replay are new attempts (see WebhookDeliveryDoc._id). */
  round: number;
  /** Failed attempts at the event after `cursor`; 0 when none failed. */
  attempt: number;
  firstFailureAt: Date | null;
  nextAttemptAt: Date | null;
  /** Delivery lease (compare-and-set): the worker holding it is the only one sending for this endpoint. */
  leaseOwner: string | null;
  leaseUntil: Date | null;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const endpointSchema = new Schema<WebhookEndpointDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    url: { type: String, required: true },
    types: { type: [String], default: [] },
    enabled: { type: Boolean, required: true },
    includeObject: { type: Boolean, default: false },
    secretEnc: { type: String, required: true },
    cursor: { type: Number, required: true },
    round: { type: Number, default: 0 },
    attempt: { type: Number, default: 0 },
    firstFailureAt: { type: Date, default: null },
    nextAttemptAt: { type: Date, default: null },
    leaseOwner: { type: String, default: null },
    leaseUntil: { type: Date, default: null },
    disabledReason: { type: String, default: null },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
endpointSchema.index({ orgId: 1 });
endpointSchema.index({ enabled: 1, nextAttemptAt: 1 });

export const WebhookEndpoint = model<WebhookEndpointDoc>('WebhookEndpoint', endpointSchema, 'webhook_endpoints');

export type DeliveryOutcome = 'sending' | 'delivered' | 'failed' | 'refused';

/**
 * One attempt to deliver one event to one endpoint. `_id` is `endpointId:round:eventId:attempt`: inserting it claims
 * the attempt, so two workers never both send one attempt, whatever their leases say.
 */
export interface WebhookDeliveryDoc {
  _id: string;
  orgId: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  seq: number;
  attempt: number;
  outcome: DeliveryOutcome;
  status: number | null;
  latencyMs: number | null;
  error: string | null;
  createdAt: Date;
}

const deliverySchema = new Schema<WebhookDeliveryDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    endpointId: { type: String, required: true },
    eventId: { type: String, required: true },
    eventType: { type: String, required: true },
    seq: { type: Number, required: true },
    attempt: { type: Number, required: true },
    outcome: { type: String, required: true },
    status: { type: Number, default: null },
    latencyMs: { type: Number, default: null },
    error: { type: String, default: null },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);
deliverySchema.index({ endpointId: 1, createdAt: -1 });
deliverySchema.index({ createdAt: 1 });

export const WebhookDelivery = model<WebhookDeliveryDoc>('WebhookDelivery', deliverySchema, 'webhook_deliveries');
