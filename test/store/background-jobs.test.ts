import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backgroundJobCount, interruptBackgroundJobs, runInBackground, settledWithin, waitForBackgroundJobs } from '../../src/store';

/** Background jobs at shutdown: no store is involved when a job has no sync run. */
describe('background jobs at shutdown', () => {
  test('a job is stopped once: a second interrupt neither waits for it again nor records it again', async () => {
    let sawAbort = 0;
    // A job that sees its signal but ends only later, as an apply batch in flight does.
    runInBackground(async (signal) => {
      signal.addEventListener('abort', () => (sawAbort += 1));
      await new Promise((r) => setTimeout(r, 1_500));
    });
    const first = Date.now();
    assert.deepEqual(await interruptBackgroundJobs('stop', 300), []);
    const firstMs = Date.now() - first;
    assert.ok(firstMs >= 250, `the first interrupt gave the job its grace (${firstMs} ms)`);
    assert.equal(sawAbort, 1);
    assert.equal(backgroundJobCount(), 1, 'the job outlasted its grace');

    // The HTTP role and the file queue both interrupt at shutdown: the second call must not spend another grace.
    const second = Date.now();
    assert.deepEqual(await interruptBackgroundJobs('stop', 5_000), []);
    assert.ok(Date.now() - second < 200, `the second interrupt returned at once (${Date.now() - second} ms)`);
    assert.equal(sawAbort, 1, 'the job was aborted once');

    assert.equal(await waitForBackgroundJobs(5_000), true);
    assert.equal(backgroundJobCount(), 0);
  });

  test('a job that ends at its signal is not waited for past its end', async () => {
    runInBackground(async (signal) => {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    });
    assert.equal(await waitForBackgroundJobs(100), false, 'the job waits for its signal');
    const t = Date.now();
    await interruptBackgroundJobs('stop', 5_000);
    assert.ok(Date.now() - t < 1_000, 'a job that stops at its signal is not waited for past its end');
    assert.equal(backgroundJobCount(), 0);
  });

  test('settledWithin: true once all settle (rejections too), false past the bound', async () => {
    assert.equal(await settledWithin([Promise.resolve(1), Promise.reject(new Error('x'))], 100), true);
    assert.equal(await settledWithin([new Promise((r) => setTimeout(r, 500))], 50), false);
    assert.equal(await settledWithin([new Promise((r) => setTimeout(r, 20))], Infinity), true);
    assert.equal(await settledWithin([], 0), true);
  });
});
