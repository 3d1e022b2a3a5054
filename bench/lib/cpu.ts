import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (user + system, ms) a process has used so far, from /proc/PID/stat; undefined once it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the last ')'; utime and stime are 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** The pids of this machine's processes whose command line contains `needle` (e.g. the store server's binary). */
export function pidsByCommand(needle: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(needle)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU ms used by each named process between `start()` and the returned function's call. */
export function cpuMeter(pids: Record<string, number | undefined>): () => Record<string, number> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === undefined ? undefined : processCpuMs(pid)]));
  return () => {
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) {
      const a = before[k];
      const b = pid === undefined ? undefined : processCpuMs(pid);
      if (a !== undefined && b !== undefined) out[k] = b - a;
    }
    return out;
  };
}
