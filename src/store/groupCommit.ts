interface Queued<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: a submitted item goes out at once when no batch is in flight; items submitted meanwhile wait for it
 * to settle and then go out together, in the order they came, as the next batch. Alone it costs nothing; under
 * concurrent callers it turns N store commands into about one per round trip. Every batch is sent after all of its
 * items were submitted, so none is answered with a state older than its own call. A failed batch fails its items
 * only; the next batch still goes.
 */
export class GroupCommit<I, R> {
  private queue: Queued<I, R>[] = [];
  private busy = false;

  /** `send` answers a batch with one result per item, in order. */
  constructor(private readonly send: (items: I[]) => Promise<R[]>) {}

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.busy) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue;
    if (batch.length === 0) {
      this.busy = false;
      return;
    }
    this.busy = true;
    this.queue = [];
    this.send(batch.map((q) => q.item)).then(
      (results) => {
        batch.forEach((q, i) => q.resolve(results[i] as R));
        this.flush();
      },
      (err: unknown) => {
        for (const q of batch) q.reject(err);
        this.flush();
      },
    );
  }
}
