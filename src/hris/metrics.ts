import { Counter, Gauge, Histogram } from 'prom-client';
import { countHrisNeedsReauth } from '../store';

/**
 * HRIS metrics. Created unregistered: the composition root (src/server/metrics.ts) registers them on the service's
 * registry, so this ingest path does not reach into the server.
 */
export const hrisRuns = new Counter({
  name: 'audience_sync_hris_runs_total',
  help: 'HRIS sync runs by outcome (succeeded, needs_review, pending, needs_reauth, failed)',
  labelNames: ['outcome'] as const,
  registers: [],
});

export const finchCalls = new Counter({
  name: 'audience_sync_finch_requests_total',
  help: 'HTTP requests to Finch by product and status (error: network error or timeout)',
  labelNames: ['product', 'status'] as const,
  registers: [],
});

export const finchCallDuration = new Histogram({
  name: 'audience_sync_finch_request_duration_seconds',
  help: 'Finch request latency by product',
  labelNames: ['product'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  registers: [],
});

export const hrisNeedsReauth = new Gauge({
  name: 'audience_sync_hris_connections_needs_reauth',
  help: 'HRIS connections whose Finch access token was refused (they wait for a new token)',
  registers: [],
  async collect() {
    try {
      this.set(await countHrisNeedsReauth());
    } catch {
      // Store unreachable: keep the last value (readyz reports the outage).
    }
  },
});

export const hrisMetrics = { runs: hrisRuns, calls: finchCalls, callDuration: finchCallDuration, needsReauth: hrisNeedsReauth };
