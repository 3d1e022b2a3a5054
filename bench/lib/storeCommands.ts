import { round } from './stats';

/** Our service's store commands so far, by `command:collection`, from its /metrics (STORE_COMMAND_METRICS=true). */
export async function storeCommands(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const out = new Map<string, number>();
  const line = /^audience_sync_store_commands_total\{command="([^"]*)",collection="([^"]*)"\} (\d+)$/;
  for (const l of (await res.text()).split('\n')) {
    const m = line.exec(l);
    if (m) out.set(`${m[1]}:${m[2]}`, Number(m[3]));
  }
  return out;
}

/** Commands per operation by type between two readings, and their total. */
export function storeCommandsPerOp(before: Map<string, number>, after: Map<string, number>, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  let total = 0;
  for (const [type, count] of after) {
    const d = count - (before.get(type) ?? 0);
    // Types rarer than one in 200 operations (the settings' re-read ...) count in the total only.
    if (round(d / n, 2) > 0) out[type] = round(d / n, 2);
    total += Math.max(0, d);
  }
  return { total: round(total / n, 2), ...out };
}
