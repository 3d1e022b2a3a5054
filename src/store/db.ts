import mongoose from 'mongoose';
import type { CreateIndexesOptions } from 'mongodb';
import * as models from './models';
import { capabilitiesOf, type BuildInfoAnswer, type HelloAnswer, type StoreCapabilities } from './capabilities';
import { watchStoreMonitors, type StoreMonitorEvent } from './storeMonitor';
import { ensureStoredFileIndexes } from './files';
import { moveLegacyLookupKeys } from './lookupKeys';
import { loadScimIdSalt } from './scimIds';

export type { StoreCapabilities } from './capabilities';

let capabilities: StoreCapabilities = capabilitiesOf({ version: 'unknown' });

export function storeCapabilities(): StoreCapabilities {
  return capabilities;
}

/**
 * Replaces the detected capabilities (tests and benches that exercise the other engine's decision on the store at hand,
 * e.g. MongoDB's one-command bulk writes on FerretDB). Returns the previous record, to put back.
 */
export function overrideStoreCapabilities(next: Partial<StoreCapabilities>): StoreCapabilities {
  const prev = capabilities;
  capabilities = { ...capabilities, ...next };
  return prev;
}

/** Puts back a record `overrideStoreCapabilities` returned. */
export function restoreStoreCapabilities(prev: StoreCapabilities): void {
  capabilities = prev;
}

export interface ConnectOptions {
  /** Milliseconds to wait for the server before failing (default 10 s). */
  serverSelectionTimeoutMS?: number;
  syncIndexes?: boolean;
  /** Emit the driver's command monitoring events (CommandCounter, src/store/commandCounter.ts: benchmarks, tests). */
  monitorCommands?: boolean;
  /** Where the store's connection state changes are logged (lost, back, a stalled monitor restarted). */
  logger?: StoreLogger;
}

/** The part of a pino logger the store's connection uses. */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The driver's bound on a connection attempt and on a monitor's check (hello) of the server (its default is 30 s). The
 * store watchdog (storeMonitor.ts) restarts a check still running past it, so it also bounds how long an instance can
 * stay cut off after the store answers again.
 */
const CONNECT_TIMEOUT_MS = 10_000;
const HEARTBEAT_FREQUENCY_MS = 10_000;
let stopWatch: (() => void) | null = null;
let log: StoreLogger | undefined;

/** Where the store reports what goes wrong behind a caller's back (the logger given to connectStore), if anywhere. */
export function storeLogger(): StoreLogger | undefined {
  return log;
}

function logMonitorEvent(logger: StoreLogger | undefined, e: StoreMonitorEvent): void {
  if (!logger) return;
  if (e.kind === 'lost') logger.warn({ store: e.address, err: e.error }, 'store unreachable');
  else if (e.kind === 'back') logger.info({ store: e.address, type: e.type }, 'store reachable again');
  else
    logger.warn(
      { store: e.address, pendingMs: e.pendingMs, restarted: e.restarted },
      e.restarted ? 'store monitor check stalled; monitor restarted' : 'store monitor check stalled; this driver cannot restart it',
    );
}

const resetHooks: (() => void)[] = [];
/** Runs `fn` whenever the store this process talks to may have changed under its caches (connect, disconnect, drop). */
export function onStoreReset(fn: () => void): void {
  resetHooks.push(fn);
}
const closingHooks: (() => Promise<void>)[] = [];
/** Work to finish before the store is disconnected or dropped (writes that linger: src/store/eventBlocks.ts). */
export function onStoreClosing(fn: () => Promise<void>): void {
  closingHooks.push(fn);
}
async function storeClosing(): Promise<void> {
  for (const fn of closingHooks) await fn();
}
function storeReset(): void {
  for (const fn of resetHooks) fn();
}

/** Connects mongoose, detects the server kind and creates indexes. */
export async function connectStore(uri: string, opts: ConnectOptions = {}): Promise<StoreCapabilities> {
  mongoose.set('strictQuery', true);
  storeReset();
  log = opts.logger;
  await mongoose.connect(uri, {
    serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 10_000,
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    heartbeatFrequencyMS: HEARTBEAT_FREQUENCY_MS,
    autoIndex: false,
    maxPoolSize: 20,
    monitorCommands: opts.monitorCommands ?? false,
  });
  stopWatch?.();
  stopWatch = watchStoreMonitors(mongoose.connection.getClient(), {
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    heartbeatFrequencyMS: HEARTBEAT_FREQUENCY_MS,
    onEvent: (e) => logMonitorEvent(opts.logger, e),
  });
  const db = mongoose.connection.db;
  if (!db) throw new Error('store connection has no database');
  // Capabilities from what the server says about itself (src/store/capabilities.ts documents each decision).
  const info = (await db.admin().command({ buildInfo: 1 })) as BuildInfoAnswer;
  const hello = (await db
    .admin()
    .command({ hello: 1 })
    .catch(() => ({}))) as HelloAnswer;
  capabilities = capabilitiesOf(info, hello);
  if (opts.syncIndexes !== false) await ensureIndexes();
  await loadScimIdSalt();
  await moveLegacyLookupKeys(opts.logger);
  return capabilities;
}

/**
 * Creates the models' indexes. Where the store answers no query from a secondary index (`secondaryIndexes` false:
 * FerretDB v1 on SQLite pushes down `_id` alone and scans for the rest) but still maintains every index on every write
 * (an SQLite expression index that re-parses the stored JSON), only the unique indexes are created: they enforce
 * uniqueness there; the others would only cost writes and storage. Indexes an earlier version created and a later one
 * replaced (the models' retired lists) are dropped first, on every store; any other index an earlier version created stays.
 */
export async function ensureIndexes(): Promise<void> {
  await dropIndexes(models.SourceRecord.collection.collectionName, models.retiredSourceRecordIndexes);
  const onlyUnique = !storeCapabilities().secondaryIndexes;
  for (const m of Object.values(models)) {
    if (typeof m !== 'function' || !('createIndexes' in m)) continue;
    const model = m as unknown as mongoose.Model<unknown>;
    if (!onlyUnique) {
      await model.createIndexes();
      continue;
    }
    for (const [fields, options] of model.schema.indexes()) {
      if (options?.unique) await model.collection.createIndex(fields as Record<string, 1 | -1>, options as CreateIndexesOptions);
    }
  }
  await ensureStoredFileIndexes();
}

/** Drops those of `names` that the collection has (indexes an earlier version created and a newer one replaced). */
async function dropIndexes(collection: string, names: string[]): Promise<void> {
  const col = mongoose.connection.db!.collection(collection);
  const present = new Set(
    (
      await col.indexes().catch((err: unknown) => {
        if ((err as { codeName?: string }).codeName === 'NamespaceNotFound') return [];
        throw err;
      })
    ).map((ix) => ix.name),
  );
  for (const name of names) {
    if (!present.has(name)) continue;
    try {
      await col.dropIndex(name);
    } catch (err) {
      // Another instance starting at the same time dropped it first.
      if ((err as { codeName?: string }).codeName === 'IndexNotFound') continue;
      throw err;
    }
    log?.info({ collection, index: name }, 'dropped an index an earlier version created');
  }
}

export async function disconnectStore(): Promise<void> {
  await storeClosing();
  stopWatch?.();
  stopWatch = null;
  storeReset();
  await mongoose.disconnect();
}

/** True while the connection to the store is open (requests can fail fast with 503 otherwise, instead of queueing). */
export function storeConnected(): boolean {
  return mongoose.connection.readyState === mongoose.ConnectionStates.connected;
}

/** True when the store answers a ping within the timeout. */
export async function pingStore(timeoutMs = 2000): Promise<boolean> {
  const db = mongoose.connection.db;
  if (!db || mongoose.connection.readyState !== mongoose.ConnectionStates.connected) return false;
  try {
    await Promise.race([
      db.admin().command({ ping: 1 }),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), timeoutMs).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Drops the connected database with everything in it. For tests and throwaway environments only (each test file
 * connects to a database of its own).
 */
export async function dropStoreDatabase(): Promise<void> {
  await storeClosing();
  await mongoose.connection.db?.dropDatabase();
  storeReset();
}
