import { deleteStoredFile, storeSmallFile } from './files';
import { isDuplicateKeyError } from './errors';
import { newId } from './ids';
import { Connection, FileEntry, SyncRun, type ConnectionDoc, type FileEntryDoc, type SyncRunDoc } from './models';
import { createSyncRun, type SyncConnection } from './syncRuns';

/**
 * The tree of an SFTP account (an `sftp` connection), kept in the store: file entries (this collection) over GridFS
 * bytes. Folders: `inbox/full` and `inbox/delta` (uploads; the folder chooses the mode), `results` (a result file per
 * processed upload) and `archive/YYYY-MM-DD` (processed files).
 */
export const INBOX_DIRS = ['inbox/full', 'inbox/delta'] as const;
export type InboxDir = (typeof INBOX_DIRS)[number];

export interface SftpAccount {
  connectionId: string;
  orgId: string;
  username: string;
  passwordHash: string | null;
  publicKeys: string[];
  maxFileBytes: number | null;
  massRemovalThreshold: number | null;
}

/** The account an SFTP username logs in to; null for unknown users and connections being deleted. */
export async function findSftpAccount(username: string): Promise<SftpAccount | null> {
  const c = (await Connection.findOne({ 'sftp.username': username, type: 'sftp' }).lean().exec()) as ConnectionDoc | null;
  if (!c || c.deleting || c.sftp?.username !== username) return null;
  return {
    connectionId: c._id,
    orgId: c.orgId,
    username,
    passwordHash: c.sftp.passwordHash ?? null,
    publicKeys: c.sftp.publicKeys ?? [],
    maxFileBytes: (c.sftp as { maxFileBytes?: number | null }).maxFileBytes ?? null,
    massRemovalThreshold: c.massRemovalThreshold ?? null,
  };
}

/** Of these connections, the ones that still exist and are not being deleted (sessions of the others end). */
export async function liveConnectionIds(ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const docs = (await Connection.find({ _id: { $in: ids }, deleting: { $ne: true } }, { _id: 1 })
    .lean()
    .exec()) as { _id: string }[];
  return new Set(docs.map((d) => d._id));
}

/** The connection a sync run belongs to, as the merge needs it; null when it was deleted. */
export async function loadSyncConnection(connectionId: string): Promise<SyncConnection | null> {
  const c = (await Connection.findOne({ _id: connectionId }).lean().exec()) as ConnectionDoc | null;
  if (!c || c.deleting) return null;
  return { _id: c._id, orgId: c.orgId, type: c.type, massRemovalThreshold: c.massRemovalThreshold };
}

export async function listFileEntries(connectionId: string, dir: string): Promise<FileEntryDoc[]> {
  const docs = (await FileEntry.find({ connectionId, dir }).lean().exec()) as FileEntryDoc[];
  return docs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The days under /archive that hold files (YYYY-MM-DD). */
export async function listArchiveDays(connectionId: string): Promise<string[]> {
  const dirs = await FileEntry.distinct('dir', { connectionId }).exec();
  return dirs
    .filter((d) => d.startsWith('archive/'))
    .map((d) => d.slice('archive/'.length))
    .sort();
}

export async function findFileEntry(connectionId: string, dir: string, name: string): Promise<FileEntryDoc | null> {
  return await FileEntry.findOne({ connectionId, dir, name }).lean().exec();
}

export interface NewFile {
  orgId: string;
  connectionId: string;
  dir: string;
  name: string;
  fileId: string;
  size: number;
  sha256: string | null;
  encoding: string | null;
  encodingError: string | null;
  mtime?: Date;
}

export class FileEntryConflict extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileEntryConflict';
  }
}

/** Queues the processing of an inbox file: a sync run whose input is the stored file. */
async function queueRun(conn: SyncConnection, f: Omit<NewFile, 'orgId' | 'connectionId'>, dir: InboxDir): Promise<SyncRunDoc> {
  return createSyncRun(conn, {
    mode: dir === 'inbox/full' ? 'full' : 'delta',
    source: 'sftp',
    label: f.name,
    input: {
      bytesRead: 0,
      bytesTotal: f.size,
      rows: null,
      fileId: f.fileId,
      name: f.name,
      dir,
      sha256: f.sha256,
      encoding: f.encoding,
      encodingError: f.encodingError,
    },
  });
}

/**
 * Records a file that was written whole: replaces a file of the same name that is not queued for processing (its
 * bytes are deleted), and, with `queue` (a final name in an inbox folder), queues its processing. Both are stored
 * before this returns, so the client's CLOSE can be acknowledged.
 */
export async function putFileEntry(
  conn: SyncConnection,
  f: NewFile,
  queue: InboxDir | null,
): Promise<{ entry: FileEntryDoc; runId: string | null }> {
  const old = await findFileEntry(f.connectionId, f.dir, f.name);
  if (old?.runId) throw new FileEntryConflict(`${f.name} is already queued for processing`);
  const run = queue ? await queueRun(conn, f, queue) : null;
  const entry: FileEntryDoc = {
    _id: newId(),
    orgId: f.orgId,
    connectionId: f.connectionId,
    dir: f.dir,
    name: f.name,
    fileId: f.fileId,
    size: f.size,
    sha256: f.sha256,
    mtime: f.mtime ?? new Date(),
    runId: run?._id ?? null,
    createdAt: new Date(),
    encoding: f.encoding,
    encodingError: f.encodingError,
  };
  if (old) {
    const res = await FileEntry.updateOne(
      { _id: old._id, runId: null },
      {
        $set: {
          fileId: f.fileId,
          size: f.size,
          sha256: f.sha256,
          mtime: entry.mtime,
          runId: entry.runId,
          encoding: f.encoding,
          encodingError: f.encodingError,
        },
      },
    ).exec();
    if (!res.modifiedCount) throw new FileEntryConflict(`${f.name} changed while it was written`);
    await deleteStoredFile(old.fileId);
    return { entry: { ...entry, _id: old._id }, runId: entry.runId };
  }
  try {
    await FileEntry.collection.insertOne(entry as never);
  } catch (err) {
    if (isDuplicateKeyError(err)) throw new FileEntryConflict(`${f.name} was written by another session at the same time`);
    throw err;
  }
  return { entry, runId: entry.runId };
}

/**
 * Renames a file of the tree. A file queued for processing keeps its name; renaming to a final name in an inbox
 * folder (`queue`) queues the file. The target must not exist (SFTP v3 rename).
 */
export async function renameFileEntry(
  conn: SyncConnection,
  entry: FileEntryDoc,
  to: { dir: string; name: string },
  queue: InboxDir | null,
): Promise<{ runId: string | null }> {
  if (entry.runId) throw new FileEntryConflict(`${entry.name} is queued for processing and cannot be renamed`);
  if (await findFileEntry(entry.connectionId, to.dir, to.name)) throw new FileEntryConflict(`${to.name} already exists`);
  const encoding = entry.encoding ?? null;
  const encodingError = entry.encodingError ?? null;
  const run = queue
    ? await queueRun(
        conn,
        { dir: to.dir, name: to.name, fileId: entry.fileId, size: entry.size, sha256: entry.sha256, encoding, encodingError },
        queue,
      )
    : null;
  try {
    const res = await FileEntry.updateOne(
      { _id: entry._id, runId: null, name: entry.name, dir: entry.dir },
      { $set: { dir: to.dir, name: to.name, runId: run?._id ?? null } },
    ).exec();
    if (!res.modifiedCount) throw new FileEntryConflict(`${entry.name} changed meanwhile`);
  } catch (err) {
    if (run) await SyncRun.deleteOne({ _id: run._id, status: 'queued' }).exec();
    if (isDuplicateKeyError(err)) throw new FileEntryConflict(`${to.name} already exists`);
    throw err;
  }
  return { runId: run?._id ?? null };
}

/** Removes a file of the tree and its bytes. A file queued for processing cannot be removed until it is archived. */
export async function removeFileEntry(entry: FileEntryDoc): Promise<void> {
  if (entry.runId) throw new FileEntryConflict(`${entry.name} is queued for processing`);
  const res = await FileEntry.deleteOne({ _id: entry._id, runId: null }).exec();
  if (!res.deletedCount) throw new FileEntryConflict(`${entry.name} changed meanwhile`);
  await deleteStoredFile(entry.fileId);
}

/** How many files an account queued for processing since `since` (the files-per-hour limit). */
export async function countQueuedFilesSince(connectionId: string, since: Date): Promise<number> {
  return SyncRun.countDocuments({ connectionId, source: 'sftp', createdAt: { $gte: since } }).exec();
}

/** The result document written to `/results/NAME.result.json`. */
export interface FileResult {
  file: string;
  folder: string;
  syncRunId: string;
  mode: 'full' | 'delta';
  status: string;
  heldForReview: boolean;
  counts: SyncRunDoc['counts'];
  rows: number | null;
  message: string | null;
  review: SyncRunDoc['review'] | null;
  errorsFile: string | null;
  duplicateOf: string | null;
  sha256: string | null;
  receivedAt: string;
  processedAt: string;
}

export function fileResultOf(run: SyncRunDoc, extra: { errorsFile?: string | null; duplicateOf?: string | null } = {}): FileResult {
  const name = run.input?.name ?? run.label ?? run._id;
  return {
    file: name,
    folder: `/${run.input?.dir ?? ''}`,
    syncRunId: run._id,
    mode: run.mode,
    status: extra.duplicateOf ? 'duplicate' : run.status,
    heldForReview: run.status === 'needs_review',
    counts: run.counts,
    rows: run.input?.rows ?? null,
    message: run.message ?? null,
    review: run.review ?? null,
    errorsFile: extra.errorsFile ?? null,
    duplicateOf: extra.duplicateOf ?? null,
    sha256: run.input?.sha256 ?? null,
    receivedAt: run.createdAt.toISOString(),
    processedAt: (run.finishedAt ?? new Date()).toISOString(),
  };
}

/** Writes (or replaces) a file of `/results`. */
async function putResultFile(run: SyncRunDoc, name: string, content: Buffer): Promise<void> {
  const fileId = await storeSmallFile(name, content, { connectionId: run.connectionId, runId: run._id });
  const old = await findFileEntry(run.connectionId, 'results', name);
  if (old) {
    await FileEntry.updateOne({ _id: old._id }, { $set: { fileId, size: content.length, mtime: new Date(), sha256: null } }).exec();
    await deleteStoredFile(old.fileId);
    return;
  }
  try {
    await FileEntry.collection.insertOne({
      _id: newId(),
      orgId: run.orgId,
      connectionId: run.connectionId,
      dir: 'results',
      name,
      fileId,
      size: content.length,
      sha256: null,
      mtime: new Date(),
      runId: null,
      createdAt: new Date(),
    } as never);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    // Another writer got there first (a re-run after a crash): replace its content.
    await putResultFile(run, name, content);
  }
}

export function resultFileName(name: string): string {
  return `${name}.result.json`;
}
export function errorsFileName(name: string): string {
  return `${name}.errors.csv`;
}

function today(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/**
 * Finishes a processed inbox file: its result (and errors) file in `/results`, the file moved to
 * `/archive/YYYY-MM-DD/`. Safe to repeat (a process that stopped after processing is finished by the next).
 */
export async function completeStoredFile(run: SyncRunDoc, errorsCsv: Buffer | null, duplicateOf: string | null = null): Promise<void> {
  const name = run.input?.name ?? run.label ?? run._id;
  if (errorsCsv) await putResultFile(run, errorsFileName(name), errorsCsv);
  const result = fileResultOf(run, { errorsFile: errorsCsv ? errorsFileName(name) : null, duplicateOf });
  await putResultFile(run, resultFileName(name), Buffer.from(JSON.stringify(result, null, 2) + '\n'));
  const entry = (await FileEntry.findOne({ connectionId: run.connectionId, runId: run._id }).lean().exec()) as FileEntryDoc | null;
  if (entry) {
    const dir = `archive/${today(run.finishedAt ?? new Date())}`;
    let target = name;
    if (await findFileEntry(run.connectionId, dir, target)) target = `${name}.${run._id}`;
    await FileEntry.updateOne({ _id: entry._id }, { $set: { dir, name: target, runId: null } }).exec();
  }
  await SyncRun.updateOne({ _id: run._id }, { $set: { 'input.resultAt': new Date() } }).exec();
}

/**
 * After an administrator applied or discarded a held SFTP run: the account's result file says what became of it
 * (the errors file is unchanged).
 */
export async function refreshFileResult(runId: string): Promise<void> {
  const run = (await SyncRun.findOne({ _id: runId }).lean().exec()) as SyncRunDoc | null;
  if (!run || run.source !== 'sftp' || !run.input?.fileId) return;
  const name = run.input.name ?? run.label ?? run._id;
  const errors = await findFileEntry(run.connectionId, 'results', errorsFileName(name));
  const result = { ...fileResultOf(run, { errorsFile: errors ? errorsFileName(name) : null }), decidedAt: new Date().toISOString() };
  await putResultFile(run, resultFileName(name), Buffer.from(JSON.stringify(result, null, 2) + '\n'));
}

/** The earlier run of this account that took the same bytes (not failed or discarded), if any: this one is a duplicate. */
export async function findDuplicateRun(run: SyncRunDoc): Promise<SyncRunDoc | null> {
  if (!run.input?.sha256) return null;
  const docs = (await SyncRun.find({
    connectionId: run.connectionId,
    source: 'sftp',
    'input.sha256': run.input.sha256,
    status: { $in: ['queued', 'running', 'succeeded', 'completed_with_errors', 'needs_review', 'applying', 'applied'] },
  })
    .lean()
    .exec()) as SyncRunDoc[];
  const earlier = docs.filter((d) => d._id < run._id).sort((a, b) => (a._id < b._id ? -1 : 1));
  return earlier[0] ?? null;
}

/** Ends a duplicate run: nothing applied, the run says of which run it is a copy. */
export async function finishDuplicateRun(run: SyncRunDoc, of: SyncRunDoc): Promise<SyncRunDoc> {
  const message = `duplicate: the same bytes were uploaded as ${of.input?.name ?? of.label ?? 'an earlier file'} (sync run ${of._id}); not applied again`;
  await SyncRun.updateOne({ _id: run._id }, { $set: { status: 'discarded', message, finishedAt: new Date() } }).exec();
  return (await SyncRun.findOne({ _id: run._id }).lean().exec()) as SyncRunDoc;
}

/** Deletes every file of an account (entries and bytes): part of deleting its connection. */
export async function deleteAccountFiles(connectionId: string): Promise<number> {
  const entries = (await FileEntry.find({ connectionId }, { fileId: 1 }).lean().exec()) as Pick<FileEntryDoc, '_id' | 'fileId'>[];
  for (const e of entries) await deleteStoredFile(e.fileId);
  await FileEntry.deleteMany({ connectionId }).exec();
  return entries.length;
}
