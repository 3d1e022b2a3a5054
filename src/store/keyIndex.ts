/**
 * The people a run has listed so far, by key, with the line that first listed each: a run keeps one entry per person
 * for its whole length (duplicates within a file, and who a full snapshot left out), a million entries for a large HR
 * file. A `Map<string, number>` costs about 50 bytes an entry on the V8 heap, which V8 then lets grow to ~1.4× of live
 * data between collections and marks on every major collection; this keeps the keys' UTF-8 bytes in one growing buffer
 * and an open-addressing hash table in typed arrays, off the heap: about 25 bytes an entry.
 */
export class KeyIndex {
  /** UTF-8 bytes of every key, one after another. */
  private bytes = Buffer.allocUnsafe(1 << 16);
  private used = 0;
  /** Entry i's key is bytes[starts[i], starts[i + 1]). */
  private starts = new Uint32Array(1 << 10);
  /** Entry i's line + 1 (0: no line). */
  private lines = new Uint32Array(1 << 10);
  /** Open addressing, linear probing: entry index + 1, 0 empty. Kept at most 3/4 full. */
  private table = new Uint32Array(1 << 11);
  private count = 0;
  /** The key being looked up, encoded (grows to the longest key). */
  private scratch = Buffer.allocUnsafe(256);

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    return this.find(this.encode(key)) >= 0;
  }

  /** The line that first listed `key` (null: listed without a line); undefined when it is not listed. */
  get(key: string): number | null | undefined {
    const i = this.find(this.encode(key));
    if (i < 0) return undefined;
    const l = this.lines[i]!;
    return l === 0 ? null : l - 1;
  }

  /** Lists `key` (first listing wins: a key already listed keeps its line). */
  add(key: string, line: number | null): void {
    const len = this.encode(key);
    const h = hash(this.scratch, 0, len);
    if (this.find(len, h) >= 0) return;
    if ((this.count + 1) * 4 > this.table.length * 3) this.rehash(this.table.length * 2);
    if (this.count + 2 > this.starts.length) {
      this.starts = grow(this.starts);
      this.lines = grow(this.lines);
    }
    if (this.used + len > this.bytes.length) {
      const next = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + len));
      this.bytes.copy(next, 0, 0, this.used);
      this.bytes = next;
    }
    this.scratch.copy(this.bytes, this.used, 0, len);
    const i = this.count++;
    this.starts[i] = this.used;
    this.used += len;
    this.starts[i + 1] = this.used;
    this.lines[i] = line === null ? 0 : line + 1;
    this.place(i, h);
  }

  /** Every listed key, in the order they were added. */
  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.count; i++) yield this.bytes.toString('utf8', this.starts[i], this.starts[i + 1]);
  }

  /** Encodes `key` into the scratch buffer; returns its byte length. */
  private encode(key: string): number {
    const need = Buffer.byteLength(key, 'utf8');
    if (need > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    return this.scratch.write(key, 0, 'utf8');
  }

  /** The entry index of the key in the scratch buffer (`len` bytes, hashing to `h`), or -1. */
  private find(len: number, h = hash(this.scratch, 0, len)): number {
    const mask = this.table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const e = this.table[slot]!;
      if (e === 0) return -1;
      const i = e - 1;
      const s = this.starts[i]!;
      if (this.starts[i + 1]! - s === len && this.scratch.compare(this.bytes, s, s + len, 0, len) === 0) return i;
    }
  }

  private place(i: number, h: number): void {
    const mask = this.table.length - 1;
    let slot = h & mask;
    while (this.table[slot] !== 0) slot = (slot + 1) & mask;
    this.table[slot] = i + 1;
  }

  private rehash(size: number): void {
    this.table = new Uint32Array(size);
    for (let i = 0; i < this.count; i++) this.place(i, hash(this.bytes, this.starts[i]!, this.starts[i + 1]!));
  }
}

function grow(a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const next = new Uint32Array(a.length * 2);
  next.set(a);
  return next;
}

/** FNV-1a over bytes [from, to), then a final mix so that linear probing sees well-spread low bits. */
function hash(buf: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
