import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyIndex } from '../../../src/store/keyIndex';

/** The run's key index answers as a Map of first listings would, through growth, rehashing and any UTF-8 key. */
describe('KeyIndex', () => {
  test('agrees with a Map of first listings over 200,000 keys, with their lines', () => {
    const index = new KeyIndex();
    const model = new Map<string, number | null>();
    const keyOf = (i: number) =>
      i % 7 === 0 ? `ü-${i}-Zoë` : i % 11 === 0 ? `${'x'.repeat(300)}${i}` : i % 13 === 0 ? '' + i * 31 : `E${String(i).padStart(7, '0')}`;
    for (let i = 0; i < 200_000; i++) {
      const key = keyOf(i);
      const line = i % 5 === 0 ? null : i + 2;
      assert.equal(index.get(key), model.get(key));
      if (!model.has(key)) model.set(key, line);
      index.add(key, line);
      // A second listing keeps the first one's line.
      if (i % 3 === 0) index.add(key, 99);
    }
    assert.equal(index.size, model.size);
    for (const [key, line] of model) {
      assert.equal(index.has(key), true, key);
      assert.equal(index.get(key), line, key);
    }
    for (const absent of ['', 'E', 'E00000000', 'ü', 'x'.repeat(300), 'E0000001 ', 'e0000001']) {
      assert.equal(index.has(absent), model.has(absent), JSON.stringify(absent));
    }
    assert.deepEqual([...index.keys()], [...model.keys()]);
  });

  test('an empty key and keys differing only past a shared prefix are distinct', () => {
    const index = new KeyIndex();
    index.add('', 1);
    index.add('a', 2);
    index.add('ab', 3);
    index.add('a\u0000', 4);
    assert.deepEqual(
      ['', 'a', 'ab', 'a\u0000', 'abc'].map((k) => index.get(k)),
      [1, 2, 3, 4, undefined],
    );
  });
});
