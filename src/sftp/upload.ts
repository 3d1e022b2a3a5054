import { createHash, type Hash } from 'node:crypto';
import { CsvFileError, EncodingInspector } from '../csv';
import { startStoredFile, type StoredFileUpload } from '../store';

/** Why a write was refused; `message` goes to the client as the SFTP status message. */
export class UploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UploadError';
  }
}

export interface UploadLimits {
  maxBytes: number;
  /** Bytes of out-of-order writes held in memory while an earlier gap is filled. */
  maxPendingBytes: number;
  /** WRITE requests of one handle not yet answered. */
  maxOutstandingWrites: number;
}

export interface FinishedUpload {
  fileId: string;
  size: number;
  sha256: string;
  encoding: string | null;
  encodingError: string | null;
}

/**
 * One file being written over SFTP, streamed into the store (GridFS) as it arrives. WRITEs are placed by offset:
 * clients such as ssh2's fastPut send many at once and they may arrive out of order, so writes ahead of the stored
 * position wait in a bounded map until the gap before them is filled. A write is answered once its bytes went to the
 * store's stream (so a slow store slows the client down instead of filling memory); the file is durable at `finish()`.
 */
export class Upload {
  private stored: StoredFileUpload;
  private next = 0;
  private pending = new Map<number, Buffer>();
  private pendingBytes = 0;
  private outstanding = 0;
  private chain: Promise<void> = Promise.resolve();
  private failed: Error | null = null;
  private hash: Hash = createHash('sha256');
  private inspector = new EncodingInspector();
  private ended = false;

  constructor(
    name: string,
    metadata: Record<string, unknown>,
    private limits: UploadLimits,
  ) {
    this.stored = startStoredFile(name, metadata);
    // A store error surfaces at the next write or at finish.
    this.stored.stream.on('error', (err: Error) => {
      this.failed ??= err;
    });
  }

  /** Bytes stored so far (contiguous from the start). */
  get size(): number {
    return this.next;
  }

  private async drain(): Promise<void> {
    for (let buf = this.pending.get(this.next); buf; buf = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      this.pendingBytes -= buf.length;
      this.hash.update(buf);
      this.inspector.push(buf);
      const chunk = buf;
      await new Promise<void>((resolve, reject) => {
        this.stored.stream.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
      this.next += chunk.length;
    }
  }

  /** A refused write spoils the file: its CLOSE fails too and nothing of it is kept. */
  async write(offset: number, data: Buffer): Promise<void> {
    try {
      await this.writeAt(offset, data);
    } catch (err) {
      this.failed ??= err as Error;
      throw err;
    }
  }

  private async writeAt(offset: number, data: Buffer): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ended) throw new UploadError('the file is already closed');
    if (offset + data.length > this.limits.maxBytes) {
      throw new UploadError(`file too large: this account accepts files of at most ${this.limits.maxBytes} bytes`);
    }
    if (!data.length) return;
    if (offset < this.next || this.pending.has(offset))
      throw new UploadError('rewriting bytes already written is not supported; upload the file again');
    if (this.outstanding >= this.limits.maxOutstandingWrites) throw new UploadError('too many outstanding writes on this file');
    if (offset > this.next && this.pendingBytes + data.length > this.limits.maxPendingBytes) {
      throw new UploadError('too many out-of-order writes waiting for an earlier part of the file');
    }
    // Copied: ssh2 may reuse the buffer it parsed the packet from.
    this.pending.set(offset, Buffer.from(data));
    this.pendingBytes += data.length;
    this.outstanding++;
    try {
      this.chain = this.chain
        .then(() => this.drain())
        .catch((err: Error) => {
          this.failed ??= err;
        });
      await this.chain;
      // The catch above may have set it; TypeScript still narrows it to null from the check on entry.
      const failed = this.failed as Error | null;
      if (failed) throw failed;
    } finally {
      this.outstanding--;
    }
  }

  /** Ends the file: every byte is in the store when this resolves. */
  async finish(): Promise<FinishedUpload> {
    await this.chain;
    if (this.failed) throw this.failed;
    if (this.pending.size) throw new UploadError(`the file has a gap at byte ${this.next}: a part of it was never written`);
    this.ended = true;
    await new Promise<void>((resolve, reject) => {
      this.stored.stream.once('error', reject);
      this.stored.stream.once('finish', resolve);
      this.stored.stream.end();
    });
    let encoding: string | null = null;
    let encodingError: string | null = null;
    try {
      encoding = this.inspector.result(true);
    } catch (err) {
      if (!(err instanceof CsvFileError)) throw err;
      encodingError = err.message;
    }
    return { fileId: this.stored.id, size: this.next, sha256: this.hash.digest('hex'), encoding, encodingError };
  }

  /** Drops the file (a client that went away, a refused upload): nothing of it stays in the store. */
  async abort(): Promise<void> {
    this.ended = true;
    this.pending.clear();
    await this.stored.abort();
  }
}
