import type { Logger } from 'pino';
import { utils, type Attributes, type FileEntry, type SFTPWrapper } from 'ssh2';
import {
  FileEntryConflict,
  countQueuedFilesSince,
  findFileEntry,
  listArchiveDays,
  listFileEntries,
  putFileEntry,
  readStoredFile,
  recordAudit,
  removeFileEntry,
  renameFileEntry,
  type FileEntryDoc,
  type SftpAccount,
  type SyncConnection,
} from '../store';
import { isDirPath, isInbox, isTemporaryName, normalizePath, place, type Place } from './paths';
import { Upload, UploadError, type UploadLimits } from './upload';

const { STATUS_CODE, OPEN_MODE } = utils.sftp;

export interface SessionLimits extends UploadLimits {
  /** Files an account may queue for processing per hour. */
  filesPerHour: number;
}

export interface SessionContext {
  account: SftpAccount;
  address: string;
  logger: Logger;
  limits: SessionLimits;
  /** Any request: the idle timer starts again. */
  activity(): void;
  /** A file was queued for processing (the worker in this process can look now). */
  queued(runId: string): void;
  /** Bytes stored for an upload (metrics). */
  received(bytes: number): void;
}

type Handle =
  | { kind: 'write'; dir: string; name: string; upload: Upload; mtime: Date | null }
  | { kind: 'read'; entry: FileEntryDoc; reader: SequentialReader }
  | { kind: 'dir'; entries: FileEntry[]; sent: boolean };

/** Reads a stored file for consecutive READs without reopening it for each (a `get` sends them in order). */
class SequentialReader {
  private pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private it: AsyncIterator<Buffer> | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private fileId: string,
    private size: number,
  ) {}

  read(offset: number, len: number): Promise<Buffer | null> {
    const p = this.chain.then(() => this.readNow(offset, len));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async readNow(offset: number, len: number): Promise<Buffer | null> {
    if (offset >= this.size) return null;
    if (offset !== this.pos || !this.it) {
      await this.close();
      this.it = (readStoredFile(this.fileId, offset) as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      this.pos = offset;
      this.buf = Buffer.alloc(0);
    }
    while (this.buf.length < len) {
      const r = await this.it.next();
      if (r.done) break;
      this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    const out = this.buf.subarray(0, len);
    this.buf = this.buf.subarray(out.length);
    this.pos += out.length;
    return out.length ? out : null;
  }

  async close(): Promise<void> {
    const it = this.it;
    this.it = null;
    await it?.return?.(undefined).catch(() => undefined);
  }
}

const DIR_MODE = 0o040755;
const DIR_RO_MODE = 0o040555;
const FILE_MODE = 0o100644;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function seconds(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

function dirAttrs(dir: string, mtime = new Date()): Attributes {
  const writable = isInbox(dir);
  return { mode: writable ? DIR_MODE : DIR_RO_MODE, uid: 0, gid: 0, size: 0, atime: seconds(mtime), mtime: seconds(mtime) };
}

function fileAttrs(size: number, mtime: Date): Attributes {
  return { mode: FILE_MODE, uid: 0, gid: 0, size, atime: seconds(mtime), mtime: seconds(mtime) };
}

/** An `ls -l` style line, as OpenSSH's sftp prints READDIR's longname. */
function longname(name: string, attrs: Attributes, owner: string): string {
  const m = attrs.mode;
  const bits = ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'].map((c, i) => ((m >> (8 - i)) & 1 ? c : '-')).join('');
  const d = new Date(attrs.mtime * 1000);
  const recent = Math.abs(Date.now() - d.getTime()) < 180 * 86_400_000;
  const when = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2)} ${recent ? `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}` : ` ${d.getUTCFullYear()}`}`;
  const user = owner.slice(0, 8).padEnd(8);
  return `${(m & 0o040000 ? 'd' : '-') + bits}    1 ${user} ${user} ${String(attrs.size).padStart(8)} ${when} ${name}`;
}

/** Serves one SFTP channel of a logged-in account, confined to the account's tree in the store. */
export function serveSftp(sftp: SFTPWrapper, ctx: SessionContext): { close(): Promise<void> } {
  const handles = new Map<string, Handle>();
  let nextHandle = 1;
  const { account, logger } = ctx;
  const conn: SyncConnection = {
    _id: account.connectionId,
    orgId: account.orgId,
    type: 'sftp',
    massRemovalThreshold: account.massRemovalThreshold,
  };
  const actor = `sftp:${account.username}`;
  const audit = (action: string, details: Record<string, unknown>) =>
    recordAudit(account.orgId, actor, action, account.connectionId, { address: ctx.address, ...details }).catch((err: Error) =>
      logger.warn({ errName: err?.name }, 'could not record an sftp audit event'),
    );

  const newHandle = (h: Handle): Buffer => {
    const id = Buffer.alloc(4);
    id.writeUInt32BE(nextHandle++);
    handles.set(id.toString('hex'), h);
    return id;
  };

  const status = (reqid: number, code: number, message?: string) => sftp.status(reqid, code, message);

  /** Runs a request handler; a store outage or a bug answers FAILURE instead of leaving the client waiting. */
  const handle = <A extends unknown[]>(name: string, fn: (reqid: number, ...args: A) => Promise<void>) => {
    sftp.on(
      name as 'OPEN',
      ((reqid: number, ...args: A) => {
        ctx.activity();
        fn(reqid, ...args).catch((err: Error) => {
          const known = err instanceof UploadError || err instanceof FileEntryConflict;
          if (!known) logger.warn({ op: name, errName: err?.name, err: err?.message }, 'sftp request failed');
          status(
            reqid,
            STATUS_CODE.FAILURE,
            known ? err.message : 'the request failed: the store is unavailable or an internal error occurred; try again',
          );
        });
      }) as never,
    );
  };

  const resolve = (raw: string): Place | null => {
    const path = normalizePath(raw);
    return path === null ? null : place(path);
  };

  const dirExists = async (dir: string): Promise<boolean> => {
    if (!dir.startsWith('archive/')) return isDirPath(dir);
    return (await listArchiveDays(account.connectionId)).includes(dir.slice('archive/'.length));
  };

  const statOf = async (raw: string): Promise<Attributes | null> => {
    const p = resolve(raw);
    if (!p) return null;
    if (p.kind === 'dir') return (await dirExists(p.dir)) ? dirAttrs(p.dir) : null;
    const e = await findFileEntry(account.connectionId, p.dir, p.name);
    return e ? fileAttrs(e.size, e.mtime) : null;
  };

  const listing = async (dir: string): Promise<FileEntry[]> => {
    const dirEntry = (name: string, full: string): FileEntry => {
      const attrs = dirAttrs(full);
      return { filename: name, longname: longname(name, attrs, account.username), attrs };
    };
    if (dir === '') return [dirEntry('inbox', 'inbox'), dirEntry('results', 'results'), dirEntry('archive', 'archive')];
    if (dir === 'inbox') return [dirEntry('full', 'inbox/full'), dirEntry('delta', 'inbox/delta')];
    if (dir === 'archive') return (await listArchiveDays(account.connectionId)).map((d) => dirEntry(d, `archive/${d}`));
    return (await listFileEntries(account.connectionId, dir)).map((e) => {
      const attrs = fileAttrs(e.size, e.mtime);
      return { filename: e.name, longname: longname(e.name, attrs, account.username), attrs };
    });
  };

  /** Queues a file named finally in an inbox folder, unless the hourly limit is reached. */
  const checkHourly = async () => {
    const n = await countQueuedFilesSince(account.connectionId, new Date(Date.now() - 3_600_000));
    if (n >= ctx.limits.filesPerHour)
      throw new UploadError(
        `limit reached: at most ${ctx.limits.filesPerHour} files per hour are processed for this account; try again later`,
      );
  };

  handle('OPEN', async (reqid, filename: string, flags: number, attrs: { mtime?: number }) => {
    const p = resolve(filename);
    const writing = (flags & (OPEN_MODE.WRITE | OPEN_MODE.CREAT | OPEN_MODE.TRUNC | OPEN_MODE.APPEND)) !== 0;
    if (!writing) {
      if (!p || p.kind !== 'file')
        return status(
          reqid,
          p?.kind === 'dir' ? STATUS_CODE.FAILURE : STATUS_CODE.NO_SUCH_FILE,
          p?.kind === 'dir' ? 'is a directory' : 'no such file',
        );
      const e = await findFileEntry(account.connectionId, p.dir, p.name);
      if (!e) return status(reqid, STATUS_CODE.NO_SUCH_FILE, 'no such file');
      return void sftp.handle(reqid, newHandle({ kind: 'read', entry: e, reader: new SequentialReader(e.fileId, e.size) }));
    }
    if (!p || p.kind !== 'file' || !isInbox(p.dir)) {
      return status(reqid, STATUS_CODE.PERMISSION_DENIED, 'uploads go to /inbox/full or /inbox/delta');
    }
    if (flags & OPEN_MODE.APPEND) return status(reqid, STATUS_CODE.OP_UNSUPPORTED, 'appending is not supported; upload the whole file');
    const existing = await findFileEntry(account.connectionId, p.dir, p.name);
    if (existing && flags & OPEN_MODE.EXCL) return status(reqid, STATUS_CODE.FAILURE, 'the file exists');
    if (existing?.runId) return status(reqid, STATUS_CODE.FAILURE, `${p.name} is queued for processing; upload under another name`);
    const upload = new Upload(p.name, { connectionId: account.connectionId, dir: p.dir }, ctx.limits);
    const mtime = typeof attrs?.mtime === 'number' ? new Date(attrs.mtime * 1000) : null;
    sftp.handle(reqid, newHandle({ kind: 'write', dir: p.dir, name: p.name, upload, mtime }));
  });

  handle('WRITE', async (reqid, h: Buffer, offset: number, data: Buffer) => {
    const w = handles.get(h.toString('hex'));
    if (!w || w.kind !== 'write') return status(reqid, STATUS_CODE.FAILURE, 'not a file open for writing');
    await w.upload.write(offset, data);
    status(reqid, STATUS_CODE.OK);
  });

  handle('READ', async (reqid, h: Buffer, offset: number, length: number) => {
    const r = handles.get(h.toString('hex'));
    if (!r || r.kind !== 'read') return status(reqid, STATUS_CODE.FAILURE, 'not a file open for reading');
    const data = await r.reader.read(offset, Math.min(length, 256 * 1024));
    if (!data) return status(reqid, STATUS_CODE.EOF);
    sftp.data(reqid, data);
  });

  handle('FSTAT', async (reqid, h: Buffer) => {
    const x = handles.get(h.toString('hex'));
    if (!x) return status(reqid, STATUS_CODE.FAILURE, 'invalid handle');
    if (x.kind === 'write') return void sftp.attrs(reqid, fileAttrs(x.upload.size, x.mtime ?? new Date()));
    if (x.kind === 'read') return void sftp.attrs(reqid, fileAttrs(x.entry.size, x.entry.mtime));
    sftp.attrs(reqid, dirAttrs(''));
  });

  handle('FSETSTAT', async (reqid, h: Buffer, attrs: { mtime?: number }) => {
    const x = handles.get(h.toString('hex'));
    if (!x) return status(reqid, STATUS_CODE.FAILURE, 'invalid handle');
    // `put -p` keeps the file's times: remembered for the stored entry; permissions and owners mean nothing here.
    if (x.kind === 'write' && typeof attrs?.mtime === 'number') x.mtime = new Date(attrs.mtime * 1000);
    status(reqid, STATUS_CODE.OK);
  });

  handle('SETSTAT', async (reqid, path: string) => {
    status(reqid, (await statOf(path)) ? STATUS_CODE.OK : STATUS_CODE.NO_SUCH_FILE);
  });

  handle('CLOSE', async (reqid, h: Buffer) => {
    const key = h.toString('hex');
    const x = handles.get(key);
    if (!x) return status(reqid, STATUS_CODE.FAILURE, 'invalid handle');
    handles.delete(key);
    if (x.kind === 'read') {
      await x.reader.close();
      return status(reqid, STATUS_CODE.OK);
    }
    if (x.kind === 'dir') return status(reqid, STATUS_CODE.OK);
    const temporary = isTemporaryName(x.name);
    let done;
    try {
      if (!temporary) await checkHourly();
      done = await x.upload.finish();
    } catch (err) {
      await x.upload.abort();
      throw err;
    }
    let runId: string | null;
    try {
      ({ runId } = await putFileEntry(
        conn,
        {
          orgId: account.orgId,
          connectionId: account.connectionId,
          dir: x.dir,
          name: x.name,
          fileId: done.fileId,
          size: done.size,
          sha256: done.sha256,
          encoding: done.encoding,
          encodingError: done.encodingError,
          mtime: x.mtime ?? new Date(),
        },
        temporary || !isInbox(x.dir) ? null : x.dir,
      ));
    } catch (err) {
      await x.upload.abort();
      throw err;
    }
    ctx.received(done.size);
    logger.info(
      { file: x.name, dir: x.dir, bytes: done.size, sha256: done.sha256, syncRunId: runId },
      runId ? 'sftp upload queued' : 'sftp upload stored',
    );
    await audit('sftp.upload', { file: `/${x.dir}/${x.name}`, bytes: done.size, sha256: done.sha256, syncRunId: runId });
    if (runId) ctx.queued(runId);
    status(reqid, STATUS_CODE.OK);
  });

  handle('OPENDIR', async (reqid, path: string) => {
    const p = resolve(path);
    if (!p || p.kind !== 'dir' || !(await dirExists(p.dir))) {
      const isFile = p?.kind === 'file' && (await findFileEntry(account.connectionId, p.dir, p.name));
      return status(reqid, isFile ? STATUS_CODE.FAILURE : STATUS_CODE.NO_SUCH_FILE, isFile ? 'not a directory' : 'no such directory');
    }
    sftp.handle(reqid, newHandle({ kind: 'dir', entries: await listing(p.dir), sent: false }));
  });

  handle('READDIR', async (reqid, h: Buffer) => {
    const d = handles.get(h.toString('hex'));
    if (!d || d.kind !== 'dir') return status(reqid, STATUS_CODE.FAILURE, 'not a directory handle');
    if (!d.entries.length) return status(reqid, STATUS_CODE.EOF);
    // In batches, so a large archive folder does not make one oversized packet.
    sftp.name(reqid, d.entries.splice(0, 100));
  });

  const stat = async (reqid: number, path: string) => {
    const a = await statOf(path);
    if (!a) return status(reqid, STATUS_CODE.NO_SUCH_FILE, 'no such file');
    sftp.attrs(reqid, a);
  };
  handle('STAT', stat);
  handle('LSTAT', stat);

  handle('REALPATH', async (reqid, path: string) => {
    const n = normalizePath(path);
    if (n === null) return status(reqid, STATUS_CODE.NO_SUCH_FILE, 'invalid path');
    sftp.name(reqid, [{ filename: n, longname: n, attrs: dirAttrs('') }]);
  });

  handle('REMOVE', async (reqid, path: string) => {
    const p = resolve(path);
    if (!p || p.kind !== 'file')
      return status(reqid, p ? STATUS_CODE.FAILURE : STATUS_CODE.NO_SUCH_FILE, p ? 'is a directory' : 'no such file');
    const e = await findFileEntry(account.connectionId, p.dir, p.name);
    if (!e) return status(reqid, STATUS_CODE.NO_SUCH_FILE, 'no such file');
    await removeFileEntry(e);
    logger.info({ file: `/${p.dir}/${p.name}` }, 'sftp file removed');
    await audit('sftp.remove', { file: `/${p.dir}/${p.name}` });
    status(reqid, STATUS_CODE.OK);
  });

  handle('RENAME', async (reqid, from: string, to: string) => {
    const a = resolve(from);
    const b = resolve(to);
    if (!a || a.kind !== 'file') return status(reqid, STATUS_CODE.NO_SUCH_FILE, 'no such file');
    if (!b || b.kind !== 'file' || !isInbox(a.dir) || !isInbox(b.dir))
      return status(reqid, STATUS_CODE.PERMISSION_DENIED, 'files are renamed within /inbox/full and /inbox/delta only');
    const e = await findFileEntry(account.connectionId, a.dir, a.name);
    if (!e) return status(reqid, STATUS_CODE.NO_SUCH_FILE, 'no such file');
    const queue = isTemporaryName(b.name) ? null : b.dir;
    if (queue) await checkHourly();
    const { runId } = await renameFileEntry(conn, e, { dir: b.dir, name: b.name }, queue);
    logger.info({ from: `/${a.dir}/${a.name}`, to: `/${b.dir}/${b.name}`, syncRunId: runId }, 'sftp file renamed');
    await audit('sftp.rename', { from: `/${a.dir}/${a.name}`, to: `/${b.dir}/${b.name}`, syncRunId: runId });
    if (runId) ctx.queued(runId);
    status(reqid, STATUS_CODE.OK);
  });

  handle('MKDIR', async (reqid, path: string) => {
    const p = resolve(path);
    if (p?.kind === 'dir' && (await dirExists(p.dir))) return status(reqid, STATUS_CODE.FAILURE, 'the directory exists');
    status(reqid, STATUS_CODE.PERMISSION_DENIED, 'the folders are fixed: /inbox/full, /inbox/delta, /results, /archive');
  });

  handle('RMDIR', async (reqid) => {
    status(reqid, STATUS_CODE.PERMISSION_DENIED, 'the folders are fixed');
  });

  // OpenSSH's sftp waits for the channel to close after `bye`: end our side when the client ends its side.
  sftp.on('end', () => sftp.end());

  return {
    /** The session ended: uploads not closed are dropped (nothing of them is processed). */
    async close() {
      for (const [key, h] of handles) {
        handles.delete(key);
        if (h.kind === 'write') {
          logger.info({ file: `/${h.dir}/${h.name}`, bytes: h.upload.size }, 'sftp upload abandoned by the client; dropped');
          await h.upload.abort().catch(() => undefined);
        } else if (h.kind === 'read') await h.reader.close();
      }
    },
  };
}
