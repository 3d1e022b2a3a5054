/**
 * Pacing for Finch's rate limits. Finch counts the requests *initiated* per product over a rolling 60-second window
 * (per application). A token bucket would allow a full burst and then one more request per refill, which breaks a
 * rolling window (limit + 1 requests within 60 s); this limiter admits a request only when fewer than `limit` were
 * started within the last `windowMs` (plus a small margin for latency between us and Finch's clock).
 */
export class RollingWindowLimiter {
  private starts: number[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly marginMs = 250,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves when a request may start (in call order); the start is counted then. */
  acquire(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot(signal));
    // The next caller waits for this one, whether it got its slot or was stopped.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForSlot(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      const horizon = now - this.windowMs - this.marginMs;
      while (this.starts.length && this.starts[0]! <= horizon) this.starts.shift();
      if (this.starts.length < this.limit) {
        this.starts.push(now);
        return;
      }
      const oldest = this.starts[0]!;
      await sleep(oldest - horizon + 1, signal);
    }
  }
}

/** Sleeps `ms`; rejects with the signal's reason when it is raised first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason ?? 'aborted')));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal?.reason ?? 'aborted')));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
