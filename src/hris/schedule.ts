import type { Config } from '../config/config';
import type { HrisConnection } from '../store';

/** Default intervals (SPEC §1): automated integrations daily, assisted ones weekly. */
export const AUTOMATED_INTERVAL_MS = 24 * 3600_000;
export const ASSISTED_INTERVAL_MS = 7 * 24 * 3600_000;
/** After a failed run (Finch down, store error), try again within the hour (or the interval, when shorter). */
export const FAILED_RETRY_MS = 3600_000;

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3600_000, d: 24 * 3600_000 };

/** `30m`, `24h`, `7d` → milliseconds; null when not an interval. */
export function parseInterval(s: string | null | undefined): number | null {
  const m = /^([1-9][0-9]{0,3})(m|h|d)$/.exec(s ?? '');
  if (!m || !m[1] || !m[2]) return null;
  const unit = UNIT_MS[m[2]];
  return unit ? Number(m[1]) * unit : null;
}

export function intervalOf(conn: Pick<HrisConnection, 'mode' | 'schedule'>): number {
  return parseInterval(conn.schedule) ?? (conn.mode === 'assisted' ? ASSISTED_INTERVAL_MS : AUTOMATED_INTERVAL_MS);
}

/** When a connection runs next after a run that ended with `outcome`, with jitter so connections spread out. */
export function nextSyncAt(
  conn: Pick<HrisConnection, 'mode' | 'schedule'>,
  outcome: string,
  now: Date,
  config: Pick<Config, 'HRIS_JITTER_SECONDS' | 'HRIS_PENDING_RETRY_SECONDS'>,
  random = Math.random,
): Date {
  const interval = intervalOf(conn);
  let base: number;
  let jitter = config.HRIS_JITTER_SECONDS * 1000;
  if (outcome === 'pending') {
    base = config.HRIS_PENDING_RETRY_SECONDS * 1000;
    jitter = Math.min(jitter, base / 4);
  } else if (outcome === 'failed') {
    base = Math.min(FAILED_RETRY_MS, interval);
    jitter = Math.min(jitter, base / 4);
  } else {
    base = interval;
  }
  return new Date(now.getTime() + base + random() * jitter);
}
