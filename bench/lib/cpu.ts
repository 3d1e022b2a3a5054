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

/**
 * The store server's processes, for its CPU figures: the FerretDB process listening on `port` (the local store, or
 * any FerretDB started with `--listen-addr=127.0.0.1:PORT`), plus every process whose command line contains
 * BENCH_STORE_PROCESSES when set (e.g. `postgres:` for the PostgreSQL backends behind FerretDB v2, which do the
 * storage work there and come and go with its connection pool). A function: the meter asks again at the end, and a
 * process started meanwhile counts from zero. None when nothing matches (a remote store).
 */
export function storeProcesses(port: string): () => number[] {
  const ferret = port ? pidsByCommand(`--listen-addr=127.0.0.1:${port}`).slice(0, 1) : [];
  const extra = process.env.BENCH_STORE_PROCESSES;
  return () => (extra ? [...ferret, ...pidsByCommand(extra)] : ferret);
}

type Watched = number | number[] | (() => number[]) | undefined;

/**
 * CPU ms used by each named process (or set of processes, summed) between this call and the returned function's
 * call. A set given as a function is listed again at the end: a process that started in between counts from zero;
 * one that ended in between is lost (its CPU can no longer be read).
 */
export function cpuMeter(pids: Record<string, Watched>): () => Record<string, number> {
  const list = (p: Watched): number[] => (p === undefined ? [] : typeof p === 'function' ? p() : Array.isArray(p) ? p : [p]);
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, new Map(list(p).map((pid) => [pid, processCpuMs(pid)]))]));
  return () => {
    const out: Record<string, number> = {};
    for (const [k, p] of Object.entries(pids)) {
      const start = before[k]!;
      const now = typeof p === 'function' ? [...new Set([...start.keys(), ...list(p)])] : list(p);
      let sum: number | undefined;
      for (const pid of now) {
        const a = start.has(pid) ? start.get(pid) : 0;
        const b = processCpuMs(pid);
        if (a !== undefined && b !== undefined) sum = (sum ?? 0) + b - a;
      }
      if (sum !== undefined) out[k] = sum;
    }
    return out;
  };
}
