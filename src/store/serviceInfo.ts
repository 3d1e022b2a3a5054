import mongoose from 'mongoose';
import { isDuplicateKeyError } from './errors';

/** Facts a running service publishes for the others sharing the store (e.g. the SFTP host key's fingerprint). */
interface ServiceInfoDoc {
  _id: string;
  value: Record<string, unknown>;
  updatedAt: Date;
}

function collection() {
  const db = mongoose.connection.db;
  if (!db) throw new Error('the store is not connected');
  return db.collection<ServiceInfoDoc>('service_info');
}

/** Records the SFTP host key the daemon serves (shown by the API's connection detail). */
export async function recordSftpHostKey(info: { fingerprint: string; algorithm: string; port: number }): Promise<void> {
  await collection().updateOne({ _id: 'sftp_host_key' }, { $set: { value: info, updatedAt: new Date() } }, { upsert: true });
}

export async function sftpHostKey(): Promise<{ fingerprint: string; algorithm: string; port: number } | null> {
  const doc = await collection().findOne({ _id: 'sftp_host_key' });
  const v = doc?.value;
  if (!v || typeof v.fingerprint !== 'string') return null;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- stored JSON written by this service; algorithm is a string when present
  return { fingerprint: v.fingerprint, algorithm: String(v.algorithm ?? ''), port: Number(v.port ?? 0) };
}

/**
 * The value kept under `id`, created from `initial()` when there is none yet. The first writer wins: a process that
 * loses the race to create it reads the winner's.
 */
export async function serviceValue(id: string, initial: () => Record<string, unknown>): Promise<Record<string, unknown> | null> {
  const col = collection();
  const doc = await col.findOne({ _id: id });
  if (doc) return doc.value;
  try {
    await col.insertOne({ _id: id, value: initial(), updatedAt: new Date() });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
  return (await col.findOne({ _id: id }))?.value ?? null;
}
