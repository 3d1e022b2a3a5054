import { Counter, Gauge } from 'prom-client';
import { onEventsWritten, webhookLag, type DeliveryOutcome } from '../store';
import { registry } from './metrics';

/** Change feed and webhook metrics (issue 11). */
export const eventsWritten = new Counter({
  name: 'audience_sync_events_written_total',
  help: 'Events appended to the change feed by this process',
  registers: [registry],
});

export const webhookDeliveries = new Counter({
  name: 'audience_sync_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome (delivered, failed, refused)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const webhookLatency = new Counter({
  name: 'audience_sync_webhook_delivery_seconds_total',
  help: 'Time spent in webhook delivery requests',
  registers: [registry],
});

new Gauge({
  name: 'audience_sync_webhook_lag_events',
  help: "Events of its organization written after each enabled endpoint's cursor",
  labelNames: ['endpoint'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    try {
      for (const l of await webhookLag()) this.set({ endpoint: l.endpointId }, l.behind);
    } catch {
      // The store is unreachable: /readyz says so; the gauge stays empty.
    }
  },
});

let hooked = false;
/** Counts the events this process writes (once per process). */
export function countEventsWritten(): void {
  if (hooked) return;
  hooked = true;
  onEventsWritten((n) => eventsWritten.inc(n));
}

export function recordDelivery(outcome: DeliveryOutcome, latencyMs: number): void {
  webhookDeliveries.inc({ outcome });
  webhookLatency.inc(latencyMs / 1000);
}
