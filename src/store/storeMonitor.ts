import type mongoose from 'mongoose';

type MongoClient = mongoose.mongo.MongoClient;

/**
 * Watches the driver's server monitors and restarts one whose check has stalled.
 *
 * Why: when every connection to the store drops at once while an operation is in flight (a network blip, a proxy or
 * load balancer restart, a failover), the operation's failure marks the server Unknown and asks its monitor for an
 * immediate check. That check can start while the monitor's own socket is already destroyed but its 'close' event has
 * not run yet: the driver (mongodb 7.8/7.9, `Connection.writeCommand`) writes the hello, `socket.write` returns false,
 * and it then waits for a 'drain' that a destroyed socket never emits; the connection's later close does not reject that
 * wait. The monitor stays "checking" forever, the server stays Unknown, and every operation fails server selection
 * although the store answers again: the instance is unavailable until restarted.
 *
 * A check is bounded by the driver itself (connectTimeoutMS, plus heartbeatFrequencyMS for an awaited streaming check),
 * so one still running past that bound is stuck; restarting the monitor discards it and checks anew. Detection uses the
 * driver's public heartbeat events; the restart uses the monitor's own close/connect (not public API: feature-checked).
 */
export interface StoreMonitorOptions {
  connectTimeoutMS: number;
  heartbeatFrequencyMS: number;
  /** Extra time past the driver's bound before a check counts as stalled. */
  slackMs?: number;
  /** How often to look. */
  intervalMs?: number;
  onEvent?: (event: StoreMonitorEvent) => void;
}

export type StoreMonitorEvent =
  | { kind: 'lost'; address: string; error: string }
  | { kind: 'back'; address: string; type: string }
  | { kind: 'stalled'; address: string; pendingMs: number; restarted: boolean };

interface PendingCheck {
  since: number;
  awaited: boolean;
}

/** When a check started at `since` counts as stalled (pure: the rule the watchdog applies). */
export function checkStalled(
  check: PendingCheck,
  now: number,
  opts: Pick<StoreMonitorOptions, 'connectTimeoutMS' | 'heartbeatFrequencyMS' | 'slackMs'>,
): boolean {
  const bound = opts.connectTimeoutMS + (check.awaited ? opts.heartbeatFrequencyMS : 0) + (opts.slackMs ?? 2_000);
  return now - check.since > bound;
}

interface MonitorInternals {
  close(): void;
  connect(): void;
}

/** Restarts the monitor of one server; false when this driver does not have the expected shape. */
function restartMonitor(client: MongoClient, address: string): boolean {
  const topology = (client as unknown as { topology?: { s?: { servers?: Map<string, { monitor?: unknown }> } } }).topology;
  const monitor = topology?.s?.servers?.get(address)?.monitor as Partial<MonitorInternals> | null | undefined;
  if (typeof monitor?.close !== 'function' || typeof monitor.connect !== 'function') return false;
  monitor.close();
  monitor.connect();
  return true;
}

let restarts = 0;

/** Monitors restarted by the watchdog in this process (tests, metrics). */
export function storeMonitorRestarts(): number {
  return restarts;
}

/** Starts watching; returns the stop function. */
export function watchStoreMonitors(client: MongoClient, opts: StoreMonitorOptions): () => void {
  const pending = new Map<string, PendingCheck>();
  const onStarted = (e: { connectionId: string; awaited: boolean }) =>
    pending.set(e.connectionId, { since: Date.now(), awaited: e.awaited });
  const onEnded = (e: { connectionId: string }) => pending.delete(e.connectionId);
  const onDescription = (e: {
    address: string;
    previousDescription: { type: string };
    newDescription: { type: string; error?: unknown };
  }) => {
    const was = e.previousDescription.type;
    const now = e.newDescription.type;
    if (now === 'Unknown' && was !== 'Unknown') {
      const err = e.newDescription.error as { message?: string } | null | undefined;
      opts.onEvent?.({ kind: 'lost', address: e.address, error: err?.message ?? 'unknown' });
    } else if (was === 'Unknown' && now !== 'Unknown') opts.onEvent?.({ kind: 'back', address: e.address, type: now });
  };
  client.on('serverHeartbeatStarted', onStarted);
  client.on('serverHeartbeatSucceeded', onEnded);
  client.on('serverHeartbeatFailed', onEnded);
  client.on('serverDescriptionChanged', onDescription);
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [address, check] of pending) {
      if (!checkStalled(check, now, opts)) continue;
      pending.delete(address);
      const restarted = restartMonitor(client, address);
      if (restarted) restarts++;
      opts.onEvent?.({ kind: 'stalled', address, pendingMs: now - check.since, restarted });
    }
  }, opts.intervalMs ?? 1_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    client.off('serverHeartbeatStarted', onStarted);
    client.off('serverHeartbeatSucceeded', onEnded);
    client.off('serverHeartbeatFailed', onEnded);
    client.off('serverDescriptionChanged', onDescription);
  };
}
