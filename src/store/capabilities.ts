/**
 * What the connected store can do, decided once at connect from what the server says about itself (`buildInfo` and
 * `hello`), never from the absence of a field alone. Each engine the project knows has a documented record below; the
 * store code asks for a capability by name (`storeCapabilities().updatesPerCommand`), not for an engine.
 *
 * Known engines:
 * - `ferretdb-v1`: FerretDB 1.x (SQLite or PostgreSQL handler), the local development and test store. No transactions,
 *   `findAndModify` and `$inc` are read-modify-write without isolation, no `$merge`, queries on fields other than `_id`
 *   scan the collection, and one `update` command of more than ~100 statements hangs the server (see merge.ts), so
 *   updates go out a few per command. `_id $in` is served from the index only in the build scripts/ferretdb.sh patches
 *   (its gitVersion names the patch). That build (tag `idbatch`) also runs an `update` command whose statements each
 *   name one document by `_id` as one query and one write transaction, and closes each statement's query as it ends
 *   (no hang), so updates go out many per command there, and concurrent requests' writes are worth sending together.
 * - `mongodb`: MongoDB and servers that answer as MongoDB (FerretDB 2.x on DocumentDB reports itself as MongoDB 7):
 *   secondary indexes, atomic single-document updates and `findAndModify`, `$merge` from 4.2, transactions only on a
 *   replica set or through mongos.
 */

export type StoreEngine = 'ferretdb-v1' | 'mongodb';

export interface StoreCapabilities {
  engine: StoreEngine;
  /** Shorthand for `engine === 'ferretdb-v1'` (kept for callers that branch on the local store's query planner). */
  ferretdb: boolean;
  /** The server's own version (FerretDB's when FerretDB). */
  serverVersion: string;
  /** `_id: {$in: [...]}` is served from the `_id` index. */
  idInFromIndex: boolean;
  /** Queries on indexed fields other than `_id` are served from their index (FerretDB v1 scans). */
  secondaryIndexes: boolean;
  /** A single-document update or `findAndModify` is atomic with its filter (no lost update between overlapping writers). */
  atomicFindAndModify: boolean;
  /** Multi-document transactions (replica set or mongos, wire version ≥ 7). */
  transactions: boolean;
  /** The `$merge` aggregation stage. */
  mergeStage: boolean;
  /** Most update/delete statements to send in one command (null: no limit beyond the driver's batching). */
  updatesPerCommand: number | null;
  /**
   * One `update` command of statements each naming a document by `_id` costs about one statement: one round trip
   * (MongoDB), or one query and one write transaction (the patched FerretDB v1 build), rather than one of each per
   * statement. Then concurrent requests' single-document writes go out together (src/store/writeBatch.ts).
   */
  batchedIdUpdates: boolean;
  /**
   * The store runs one write transaction at a time (per database), and a writer that finds one open sleeps and
   * retries: this process then sends its batched writes one at a time (src/store/groupCommit.ts, WriteLane). False
   * where the store queues its writers itself (MongoDB; the patched FerretDB build's `writelock`): the batched writes
   * of different collections then go out side by side, and only each transaction waits, not each round trip.
   */
  serialWrites: boolean;
}

/** What `buildInfo` answers (the fields read here). */
export interface BuildInfoAnswer {
  version?: string;
  versionArray?: number[];
  ferretdbVersion?: string;
  gitVersion?: string;
  ferretdb?: { version?: string } | null;
  /** FerretDB lists what it implements (e.g. the aggregation stages). */
  ferretdbFeatures?: { aggregationStages?: string[] } | null;
}

/** What `hello` answers (the fields read here). */
export interface HelloAnswer {
  setName?: string;
  msg?: string;
  maxWireVersion?: number;
  logicalSessionTimeoutMinutes?: number | null;
}

/**
 * FerretDB v1.24 keeps one pooled SQLite connection per statement of an `update` command open until the command ends;
 * its pool has 100 connections (merge.ts has the details). Statements go out 4 a command there.
 */
export const FERRETDB_V1_UPDATES_PER_COMMAND = 4;
/** The patched build's batched path takes up to 1,000 statements (its `_id $in` pushdown bound); more go one by one. */
export const FERRETDB_V1_BATCHED_UPDATES_PER_COMMAND = 1000;

function majorOf(version: string | undefined): number | null {
  const m = /^v?(\d+)\./.exec(version ?? '');
  return m ? Number(m[1]) : null;
}

/** The capability record for a server's `buildInfo` and `hello` answers. Pure: unit-tested with recorded answers. */
export function capabilitiesOf(info: BuildInfoAnswer, hello: HelloAnswer = {}): StoreCapabilities {
  const ferretVersion = info.ferretdbVersion ?? info.ferretdb?.version;
  const ferretMajor = majorOf(ferretVersion);
  if (ferretVersion !== undefined && (ferretMajor === null || ferretMajor < 2)) {
    const batched = /idbatch/.test(info.gitVersion ?? '');
    return {
      engine: 'ferretdb-v1',
      ferretdb: true,
      serverVersion: ferretVersion,
      idInFromIndex: /idpushdown/.test(info.gitVersion ?? ''),
      secondaryIndexes: false,
      atomicFindAndModify: false,
      transactions: false,
      mergeStage: info.ferretdbFeatures?.aggregationStages?.includes('$merge') ?? false,
      updatesPerCommand: batched ? FERRETDB_V1_BATCHED_UPDATES_PER_COMMAND : FERRETDB_V1_UPDATES_PER_COMMAND,
      batchedIdUpdates: batched,
      // The patched build queues its writers on a mutex (`writelock`); a stock one leaves them to SQLite's sleeps.
      serialWrites: !/writelock/.test(info.gitVersion ?? ''),
    };
  }
  const versionMajor = info.versionArray?.[0] ?? majorOf(info.version) ?? 0;
  const versionMinor = info.versionArray?.[1] ?? Number(/^\d+\.(\d+)/.exec(info.version ?? '')?.[1] ?? 0);
  const replicated = Boolean(hello.setName) || hello.msg === 'isdbgrid';
  return {
    engine: 'mongodb',
    ferretdb: false,
    serverVersion: ferretVersion ?? info.version ?? 'unknown',
    idInFromIndex: true,
    secondaryIndexes: true,
    atomicFindAndModify: true,
    transactions: replicated && (hello.maxWireVersion ?? 0) >= 7 && hello.logicalSessionTimeoutMinutes != null,
    mergeStage: versionMajor > 4 || (versionMajor === 4 && versionMinor >= 2),
    updatesPerCommand: null,
    batchedIdUpdates: true,
    serialWrites: false,
  };
}
