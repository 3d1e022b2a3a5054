/** Rate and latency of one operation run `n` times by `concurrency` workers. */
export interface LoadStats {
  n: number;
  perSec: number;
  /** Milliseconds. */
  median: number;
  p99: number;
}

/** Runs `op(0..n-1)` with `concurrency` workers, each taking the next index as it finishes one. */
export async function runConcurrent(n: number, concurrency: number, op: (i: number) => Promise<void>): Promise<LoadStats> {
  const lat: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t = process.hrtime.bigint();
        await op(i);
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  lat.sort((a, b) => a - b);
  const at = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!;
  return { n, perSec: n / secs, median: at(0.5), p99: at(0.99) };
}
