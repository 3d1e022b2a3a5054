import mongoose from 'mongoose';
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent } from 'mongodb';
import { settleEventAppends } from './eventBlocks';

/**
 * Counts the commands this process sends to the store, by type, with the driver's command monitoring (the store must
 * be connected with `connectStore(uri, { monitorCommands: true })`). Benchmarks and tests use it to state what an
 * operation costs in round trips: on MongoDB every command is one, and on FerretDB v1 every write is its own
 * transaction, so the command count is what a request's latency follows.
 *
 * Driver housekeeping (handshakes, heartbeats, sessions, auth) is not counted; everything else is, named
 * `command:collection` (`find:source_records`, `insert:recipients`, ...).
 */
const HOUSEKEEPING = new Set([
  'hello',
  'ismaster',
  'isMaster',
  'ping',
  'buildInfo',
  'buildinfo',
  'endSessions',
  'saslStart',
  'saslContinue',
  'getMore:heartbeat',
  'killCursors',
]);

export interface CommandCounts {
  /** All counted commands. */
  total: number;
  /** By `command:collection`. */
  byType: Record<string, number>;
}

export class CommandCounter {
  private counts = new Map<string, number>();
  private total = 0;
  /** Milliseconds from each command's send to its reply, summed by type (the driver's `duration`). */
  private ms = new Map<string, number>();
  /** Types of the commands sent and not answered yet, by request id. */
  private inFlight = new Map<number, string>();
  private readonly listener = (ev: CommandStartedEvent) => {
    if (HOUSEKEEPING.has(ev.commandName)) return;
    const command = ev.command as Record<string, unknown>;
    // A getMore names its cursor by id and its collection apart.
    const target: unknown = ev.commandName === 'getMore' ? command.collection : command[ev.commandName];
    const type = typeof target === 'string' ? `${ev.commandName}:${target}` : ev.commandName;
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
    this.total++;
    this.inFlight.set(ev.requestId, type);
  };
  private readonly ended = (ev: CommandSucceededEvent | CommandFailedEvent) => {
    const type = this.inFlight.get(ev.requestId);
    if (type === undefined) return;
    this.inFlight.delete(ev.requestId);
    this.ms.set(type, (this.ms.get(type) ?? 0) + ev.duration);
  };
  private attached = false;

  /** Starts counting (from zero). */
  start(): this {
    const client = mongoose.connection.getClient();
    if (!client.options.monitorCommands) {
      throw new Error('command counting needs the store connected with { monitorCommands: true }');
    }
    this.reset();
    if (!this.attached) {
      client.on('commandStarted', this.listener);
      client.on('commandSucceeded', this.ended);
      client.on('commandFailed', this.ended);
    }
    this.attached = true;
    return this;
  }

  reset(): void {
    this.counts.clear();
    this.ms.clear();
    this.total = 0;
  }

  /**
   * Milliseconds the store took to answer the counted commands (send to reply), by type. With one store connection
   * busy at a time this is where an operation's time went; concurrent commands overlap, so the sum can exceed it.
   */
  storeMs(): Record<string, number> {
    return Object.fromEntries([...this.ms].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** What was counted since start/reset. */
  snapshot(): CommandCounts {
    return { total: this.total, byType: Object.fromEntries([...this.counts].sort(([a], [b]) => (a < b ? -1 : 1))) };
  }

  /**
   * Counts the commands `work` sends (nothing else may use the store meanwhile for the figure to be exact), with the
   * change feed's appends it leaves lingering behind its responses (src/store/eventBlocks.ts): those of earlier work
   * are sent before counting starts, its own before it ends.
   */
  async measure<T>(work: () => Promise<T>): Promise<{ result: T; counts: CommandCounts }> {
    await settleEventAppends();
    this.reset();
    const result = await work();
    await settleEventAppends();
    return { result, counts: this.snapshot() };
  }

  stop(): void {
    if (this.attached) {
      const client = mongoose.connection.getClient();
      client.off('commandStarted', this.listener);
      client.off('commandSucceeded', this.ended);
      client.off('commandFailed', this.ended);
    }
    this.attached = false;
    this.inFlight.clear();
  }
}

/** Sums command counts and divides by `n`: commands per operation, by type. */
export function perOperation(samples: CommandCounts[]): CommandCounts {
  const byType: Record<string, number> = {};
  let total = 0;
  for (const s of samples) {
    total += s.total;
    for (const [k, v] of Object.entries(s.byType)) byType[k] = (byType[k] ?? 0) + v;
  }
  const n = Math.max(1, samples.length);
  const round = (x: number) => Math.round((x / n) * 100) / 100;
  return { total: round(total), byType: Object.fromEntries(Object.entries(byType).map(([k, v]) => [k, round(v)])) };
}

/** Store commands sent while counting, by command name (`find`, `insert`, `update`, ...). */
export interface CommandCount {
  /** Commands by name so far. */
  byName(): Record<string, number>;
  total(): number;
  /** Commands of one name on one collection (e.g. `update` on `recipients`). */
  on(name: string, collection: string): number;
  /** By `command:collection`: how many, and the milliseconds from send to reply summed (CommandCounter.storeMs). */
  byType(): { counts: Record<string, number>; ms: Record<string, number> };
  stop(): void;
}

/** A CommandCounter started now, read by command name (benches and tests of the bulk merge). */
export function countStoreCommands(): CommandCount {
  const counter = new CommandCounter().start();
  return {
    byName: () => {
      const out: Record<string, number> = {};
      for (const [type, n] of Object.entries(counter.snapshot().byType)) {
        const name = type.split(':')[0] ?? type;
        out[name] = (out[name] ?? 0) + n;
      }
      return out;
    },
    total: () => counter.snapshot().total,
    on: (name, collection) => counter.snapshot().byType[`${name}:${collection}`] ?? 0,
    byType: () => ({ counts: counter.snapshot().byType, ms: counter.storeMs() }),
    stop: () => counter.stop(),
  };
}
