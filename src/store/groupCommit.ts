interface Queued<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

/** Waits for a turn; resolves with the function that ends it. */
export type Gate = () => Promise<() => void>;

/** How recently an item must have found a batch in flight for the next one to wait for the end of the turn (ms). */
export const CONTENDED_MS = 50;

/**
 * Group commit: a submitted item goes out at once when no batch is in flight; items submitted meanwhile wait for it
 * to settle and then go out together, in the order they came, as the next batch. Alone it costs nothing; under
 * concurrent callers it turns N store commands into about one per round trip. Every batch is sent after all of its
 * items were submitted, so none is answered with a state older than its own call. A failed batch fails its items
 * only; the next batch still goes.
 *
 * Once callers are concurrent (an item found a batch in flight in the last CONTENDED_MS), an item that finds nothing in
 * flight goes out at the end of the event loop's turn (setImmediate) instead of at once: requests whose bytes arrived
 * in the same poll then share its command, where the first would go alone and the others wait a round trip for the
 * next. One caller at a time never waits for it.
 *
 * With a `gate` (the store's write lane, below), a batch is taken only once the gate opens: items that arrive while it
 * waits join that batch.
 *
 * An item that nobody waits on soon (the change feed's append behind a SCIM response) may `linger`: when nothing is in
 * flight it waits `lingerMs` before going out, so writes arriving meanwhile share its command. An item that does not
 * linger, or `hurry()` (a reader of what lingers, a shutdown), sends what lingers at once.
 */
export class GroupCommit<I, R> {
  private queue: Queued<I, R>[] = [];
  private busy = false;
  private lingering: ReturnType<typeof setTimeout> | null = null;
  /** When an item last found a batch in flight (performance.now()); -Infinity: never. */
  private contendedAt = -Infinity;

  /** `send` answers a batch with one result per item, in order. */
  constructor(
    private readonly send: (items: I[]) => Promise<R[]>,
    private readonly gate?: Gate,
    private readonly lingerMs: () => number = () => 0,
  ) {}

  submit(item: I, opts: { linger?: boolean } = {}): Promise<R> {
    return this.submitAll([item], opts)[0]!;
  }

  /** Submits items that go out in one batch (the same as the first's), each answered on its own. */
  submitAll(items: I[], opts: { linger?: boolean } = {}): Promise<R>[] {
    const answers = items.map((item) => new Promise<R>((resolve, reject) => this.queue.push({ item, resolve, reject })));
    this.schedule(opts);
    return answers;
  }

  private schedule(opts: { linger?: boolean }): void {
    if (this.busy) {
      this.contendedAt = performance.now();
      if (!opts.linger) this.hurry();
      return;
    }
    const wait = opts.linger ? this.lingerMs() : 0;
    if (wait <= 0) {
      if (performance.now() - this.contendedAt < CONTENDED_MS) {
        // Callers are concurrent: go out after this turn of the event loop, so that the requests whose bytes
        // arrived in the same poll share this command instead of the first going alone and the rest after it.
        this.busy = true;
        setImmediate(() => this.flush());
        return;
      }
      this.flush();
      return;
    }
    this.busy = true;
    this.lingering = setTimeout(() => {
      this.lingering = null;
      this.flush();
    }, wait);
  }

  /** Sends the items that linger now (nothing when none does: a batch in flight is followed by the next at once). */
  hurry(): void {
    if (!this.lingering) return;
    clearTimeout(this.lingering);
    this.lingering = null;
    this.flush();
  }

  private flush(): void {
    if (this.queue.length === 0) {
      this.busy = false;
      return;
    }
    this.busy = true;
    if (!this.gate) {
      this.sendQueued(() => undefined);
      return;
    }
    this.gate().then(
      (done) => this.sendQueued(done),
      (err: unknown) => this.fail(this.take(), err),
    );
  }

  private take(): Queued<I, R>[] {
    const batch = this.queue;
    this.queue = [];
    return batch;
  }

  private fail(batch: Queued<I, R>[], err: unknown): void {
    for (const q of batch) q.reject(err);
    this.flush();
  }

  private sendQueued(done: () => void): void {
    const batch = this.take();
    // Through a promise, so that a `send` that throws at once still ends the turn.
    Promise.resolve()
      .then(() => this.send(batch.map((q) => q.item)))
      .then(
        (results) => {
          done();
          batch.forEach((q, i) => q.resolve(results[i] as R));
          this.flush();
        },
        (err: unknown) => {
          done();
          this.fail(batch, err);
        },
      );
  }
}

/** Group commits by key (one per collection, per organization ...), each made on its key's first use. */
export class GroupCommits<I, R> {
  private readonly byKey = new Map<string, GroupCommit<I, R>>();

  of(key: string, make: () => GroupCommit<I, R>): GroupCommit<I, R> {
    let g = this.byKey.get(key);
    if (!g) this.byKey.set(key, (g = make()));
    return g;
  }

  /** The group commit of a key, if it was made. */
  peek(key: string): GroupCommit<I, R> | undefined {
    return this.byKey.get(key);
  }

  /** Every group commit made so far. */
  all(): IterableIterator<GroupCommit<I, R>> {
    return this.byKey.values();
  }
}

/**
 * One write command at a time: a lane writers take turns in, in the order they ask. FerretDB v1 on SQLite runs one
 * write transaction at a time per database, and a writer that finds another's transaction open sleeps and retries
 * (SQLite's busy handler, 1 ms, then 2, 5, 10 ms ...), so this process's concurrent writes to it cost more waiting
 * than queueing here does; and writes queued here join the next batch of their collection. Used only where
 * `storeCapabilities().serialWrites`.
 */
export class WriteLane {
  private tail: Promise<void> = Promise.resolve();

  readonly enter: Gate = () => {
    let leave!: () => void;
    const turn = new Promise<void>((resolve) => (leave = resolve));
    const before = this.tail;
    this.tail = before.then(() => turn);
    return before.then(() => leave);
  };
}
