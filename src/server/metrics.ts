import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { hrisMetrics } from '../hris/metrics';
import { CommandCounter } from '../store';

/** Prometheus metrics, served at /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const httpRequests = new Counter({
  name: 'audience_sync_http_requests_total',
  help: 'HTTP requests by route family and status',
  labelNames: ['family', 'method', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'audience_sync_http_request_duration_seconds',
  help: 'HTTP request latency by route family',
  labelNames: ['family'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const syncRecords = new Counter({
  name: 'audience_sync_source_changes_total',
  help: 'Source record changes applied, by connection type and outcome',
  labelNames: ['type', 'outcome'] as const,
  registers: [registry],
});

export const sftpLogins = new Counter({
  name: 'audience_sync_sftp_logins_total',
  help: 'SFTP login attempts by outcome (success, failure, banned, limited)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const sftpBytesReceived = new Counter({
  name: 'audience_sync_sftp_received_bytes_total',
  help: 'Bytes of files uploaded over SFTP and stored',
  registers: [registry],
});

export const sftpFiles = new Counter({
  name: 'audience_sync_sftp_files_total',
  help: 'SFTP files processed, by outcome (succeeded, needs_review, failed, duplicate)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const sftpBans = new Counter({
  name: 'audience_sync_sftp_bans_total',
  help: 'Bans of a username or source address by the SFTP brute-force defender',
  labelNames: ['kind'] as const,
  registers: [registry],
});
registry.registerMetric(hrisMetrics.runs);
registry.registerMetric(hrisMetrics.calls);
registry.registerMetric(hrisMetrics.callDuration);
registry.registerMetric(hrisMetrics.needsReauth);

/** The counter behind audience_sync_store_commands_total, and what of it the metric has reported. */
let storeCommands: { counter: CommandCounter; reported: Map<string, number> } | undefined;

const storeCommandsTotal = new Counter({
  name: 'audience_sync_store_commands_total',
  help: 'Commands sent to the store, by command and collection (STORE_COMMAND_METRICS=true)',
  labelNames: ['command', 'collection'] as const,
  registers: [],
  collect() {
    if (!storeCommands) return;
    for (const [type, n] of Object.entries(storeCommands.counter.snapshot().byType)) {
      const delta = n - (storeCommands.reported.get(type) ?? 0);
      if (delta <= 0) continue;
      storeCommands.reported.set(type, n);
      const at = type.indexOf(':');
      storeCommandsTotal.inc({ command: at === -1 ? type : type.slice(0, at), collection: at === -1 ? '' : type.slice(at + 1) }, delta);
    }
  },
});

/**
 * Store commands by command and collection (STORE_COMMAND_METRICS): on MongoDB each is a network round trip and on
 * FerretDB v1 each write is a transaction, so their count per request is what the store costs. Counted with the
 * driver's command monitoring (src/store/commandCounter.ts; the store connected with `monitorCommands`), read at each
 * scrape. Called after each connect (a new client).
 */
export function countStoreCommands(): void {
  storeCommands?.counter.stop();
  storeCommands = { counter: new CommandCounter().start(), reported: new Map() };
  if (!registry.getSingleMetric('audience_sync_store_commands_total')) registry.registerMetric(storeCommandsTotal);
}
