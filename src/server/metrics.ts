import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { hrisMetrics } from '../hris/metrics';

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
