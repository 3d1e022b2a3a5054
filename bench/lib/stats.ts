/** Small helpers shared by the benches: medians and peak memory sampling. */

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface MemoryPeaks {
  rssBytes: number;
  heapUsedBytes: number;
  samples: number;
}

/**
 * Samples process.memoryUsage() every `intervalMs` (default 100 ms) until stopped. The timer is unref'd so it never
 * keeps the process alive; `stop()` takes one last sample and returns the peaks.
 */
export function startMemorySampler(intervalMs = 100): { peaks: () => MemoryPeaks; stop: () => MemoryPeaks } {
  const peaks: MemoryPeaks = { rssBytes: 0, heapUsedBytes: 0, samples: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peaks.rssBytes) peaks.rssBytes = m.rss;
    if (m.heapUsed > peaks.heapUsedBytes) peaks.heapUsedBytes = m.heapUsed;
    peaks.samples++;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    peaks: () => ({ ...peaks }),
    stop: () => {
      clearInterval(timer);
      sample();
      return { ...peaks };
    },
  };
}

export const MB = 1024 * 1024;

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Parses `--name value` / `--name=value` from argv. */
export function argValue(argv: string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === `--${name}`) return argv[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

/** Accepts 1000000, 1_000_000, 1e6, 100k, 1m. */
export function parseCount(s: string | undefined): number | undefined {
  if (s === undefined || s === '') return undefined;
  const t = s.trim().toLowerCase().replace(/_/g, '');
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)([km]?)$/.exec(t);
  if (!m) throw new Error(`not a count: ${s}`);
  const n = Number(m[1]) * (m[2] === 'k' ? 1e3 : m[2] === 'm' ? 1e6 : 1);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive count: ${s}`);
  return Math.round(n);
}
