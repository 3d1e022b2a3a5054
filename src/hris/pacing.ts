/**
 * Pacing for Finch's rate limits. Finch counts the requests *initiated* per product over a rolling 60-second window
 * (per application). A token bucket would allow a full burst and then one more request per refill, which breaks a
 * rolling window (limit + 1 requests within 60 s); this limiter admits a request only when fewer than `limit` were
 * started within the last `windowMs` (plus a small margin for latency between us and Finch's clock).
 */
export class RollingWindowLimiter {
  /** One entry per request in the window: when its response came (Infinity while it is in flight). */
  private entries: { t: number }[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly marginMs = 250,
    private readonly now: () => number = Date.now,
    private readonly inFlightPollMs = 20,
  ) {}

  /**
   * Resolves when a request may start (in call order), with a function to call when its response arrives. The window
   * of a request is anchored at that response, not at the start: Finch counts a request when it arrives, which is
   * somewhere between the two, so anchoring at the response never lets `limit + 1` arrivals into 60 s, however long
   * the request took to get there.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    const turn = this.queue.then(() => this.waitForSlot(signal));
    // The next caller waits for this one, whether it got its slot or was stopped.
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async waitForSlot(signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      signal?.throwIfAborted();
      const horizon = this.now() - this.windowMs - this.marginMs;
      this.entries = this.entries.filter((e) => e.t > horizon);
      if (this.entries.length < this.limit) {
        const entry = { t: Infinity };
        this.entries.push(entry);
        return () => {
          entry.t = this.now();
        };
      }
      let oldest = Infinity;
      for (const e of this.entries) if (e.t < oldest) oldest = e.t;
      // Every slot is in flight: wait for a response to anchor one.
      await sleep(Number.isFinite(oldest) ? oldest - horizon + 1 : this.inFlightPollMs, signal);
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
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal?.reason ?? 'aborted')));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
