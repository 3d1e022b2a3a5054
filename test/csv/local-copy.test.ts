import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { localCopyOf } from '../../src/csv/localCopy';

/** The stored file's local copy: the store is read once when the first read goes to the end, never after. */
function source(parts: Buffer[]) {
  let reads = 0;
  return {
    get reads() {
      return reads;
    },
    read: () => {
      reads++;
      return (async function* () {
        for (const p of parts) yield p;
      })();
    },
  };
}

async function all(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of it) out.push(Buffer.from(b));
  return Buffer.concat(out);
}

describe('local copy of a stored file', () => {
  const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(64 * 1024, i));
  const whole = Buffer.concat(parts);

  test('a whole first read is copied, and every later read comes from the copy', async () => {
    const src = source(parts);
    const copy = await localCopyOf(src.read);
    assert.ok((await all(copy.open())).equals(whole));
    assert.ok((await all(copy.open())).equals(whole));
    assert.ok((await all(copy.open())).equals(whole));
    assert.equal(src.reads, 1);
    await copy.dispose();
  });

  test('a first read stopped early is not taken for the file: the next read goes to the store again', async () => {
    const src = source(parts);
    const copy = await localCopyOf(src.read);
    for await (const b of copy.open()) {
      assert.equal(b.length, 64 * 1024);
      break;
    }
    assert.ok((await all(copy.open())).equals(whole));
    assert.equal(src.reads, 2);
    assert.ok((await all(copy.open())).equals(whole));
    assert.equal(src.reads, 2);
    await copy.dispose();
  });

  test('a store read that fails midway fails the reader, and leaves no copy behind', async () => {
    let reads = 0;
    const copy = await localCopyOf(() => {
      reads++;
      return (async function* () {
        yield parts[0]!;
        if (reads === 1) throw new Error('store went away');
        yield* parts.slice(1);
      })();
    });
    await assert.rejects(all(copy.open()), /store went away/);
    assert.ok((await all(copy.open())).equals(whole));
    assert.equal(reads, 2);
    await copy.dispose();
  });

  test('copying a file of many chunks leaves no listeners behind (no MaxListenersExceededWarning)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      // Each 64 KiB write fills the stream's buffer, so the copy waits for a drain 50 times.
      const copy = await localCopyOf(source(parts).read);
      assert.ok((await all(copy.open())).equals(whole));
      await new Promise((r) => setImmediate(r));
      await copy.dispose();
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  test('dispose deletes the copy and its directory', async () => {
    const copy = await localCopyOf(source(parts).read);
    await all(copy.open());
    assert.ok(copy.dir && existsSync(join(copy.dir, 'file')));
    await copy.dispose();
    assert.equal(existsSync(copy.dir), false);
  });
});
