import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONTENDED_MS, GroupCommit } from '../../src/store/groupCommit';

/** A group commit whose batches the test answers by hand, recording each batch as it is sent. */
function heldGroupCommit() {
  const sent: { items: number[]; release: () => void }[] = [];
  const gc = new GroupCommit<number, number>(
    (items) =>
      new Promise<number[]>((resolve) => {
        sent.push({ items, release: () => resolve(items.map((i) => i * 10)) });
      }),
  );
  return { gc, sent };
}

const endOfTurn = () => new Promise((r) => setImmediate(r));

describe('group commit: when a batch goes out', () => {
  test('one caller at a time: its item goes out at once, alone', async () => {
    const { gc, sent } = heldGroupCommit();
    const a = gc.submit(1);
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(
      sent.map((b) => b.items),
      [[1]],
      'sent before the event loop turns',
    );
    sent[0]!.release();
    assert.equal(await a, 10);
    const b = gc.submit(2);
    await Promise.resolve();
    await Promise.resolve();
    assert.deepEqual(
      sent.map((x) => x.items),
      [[1], [2]],
      'still at once: nothing was ever in flight when an item came',
    );
    sent[1]!.release();
    assert.equal(await b, 20);
  });

  test('once callers are concurrent, the items of one turn share a command; after a quiet spell, at once again', async () => {
    const { gc, sent } = heldGroupCommit();
    const first = gc.submit(1);
    await Promise.resolve();
    const waiting = gc.submit(2); // finds the first in flight: callers are concurrent
    sent[0]!.release();
    assert.equal(await first, 10);
    await endOfTurn();
    assert.deepEqual(
      sent.map((b) => b.items),
      [[1], [2]],
      'the waiting item went after the first',
    );
    sent[1]!.release();
    assert.equal(await waiting, 20);

    // Nothing in flight now. Three callers of the same turn (requests read in the same poll): the first no longer goes
    // alone, the others joining the next batch a round trip later; all three go together at the end of the turn.
    const three = [gc.submit(3), gc.submit(4), gc.submit(5)];
    await Promise.resolve();
    assert.equal(sent.length, 2, 'nothing sent within the turn');
    await endOfTurn();
    assert.deepEqual(sent[2]?.items, [3, 4, 5]);
    sent[2].release();
    assert.deepEqual(await Promise.all(three), [30, 40, 50]);

    await sleep(CONTENDED_MS + 20);
    const later = gc.submit(6);
    await Promise.resolve();
    assert.deepEqual(sent[3]?.items, [6], `quiet for more than ${CONTENDED_MS} ms: at once, alone`);
    sent[3].release();
    assert.equal(await later, 60);
  });
});
