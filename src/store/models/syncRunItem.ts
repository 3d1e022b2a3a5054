import { Schema, model } from 'mongoose';

/**
 * Long lists that belong to a sync run and do not fit on its document: every row error (`kind` error) and, for a run
 * held by the mass-removal guard, everyone it would remove or deactivate (`kind` review). `_id` is
 * `${runId}:${kind}:${n}` with `n` zero-padded, so a list reads in order by `_id`.
 */
export interface SyncRunItemDoc {
  _id: string;
  runId: string;
  kind: 'error' | 'review';
  n: number;
  line?: number | null;
  reason?: string | null;
  key?: string | null;
  email?: string | null;
  change?: 'remove' | 'deactivate' | null;
}

const syncRunItemSchema = new Schema<SyncRunItemDoc>(
  {
    _id: { type: String, required: true },
    runId: { type: String, required: true },
    kind: { type: String, required: true },
    n: { type: Number, required: true },
    line: { type: Number, default: null },
    reason: { type: String, default: null },
    key: { type: String, default: null },
    email: { type: String, default: null },
    change: { type: String, default: null },
  },
  { versionKey: false },
);
syncRunItemSchema.index({ runId: 1, kind: 1, n: 1 });

export const SyncRunItem = model<SyncRunItemDoc>('SyncRunItem', syncRunItemSchema, 'sync_run_items');

export function syncRunItemId(runId: string, kind: SyncRunItemDoc['kind'], n: number): string {
  return `${runId}:${kind}:${String(n).padStart(10, '0')}`;
}
