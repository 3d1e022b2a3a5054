import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort } from '../../test/helpers/ports';

/**
 * The node flags the service runs with as deployed (`npm start`'s, scripts/start.js, which the Dockerfile repeats:
 * the heap cap and V8 flags), from the tree whose `dist` is `distDir`, then BENCH_SERVICE_NODE_ARGS (extra flags,
 * e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile it; a `--max-old-space-size` there replaces the cap).
 */
export function serviceNodeArgs(distDir = path.join(__dirname, '..', '..'), extraVar = 'BENCH_SERVICE_NODE_ARGS'): string[] {
  const start = createRequire(__filename)(path.join(distDir, '..', 'scripts', 'start.js')) as {
    SERVICE_HEAP_FLAG: string;
    serviceNodeFlags?: (env: NodeJS.ProcessEnv) => string[];
  };
  const extra = (process.env[extraVar] ?? '').split(' ').filter(Boolean);
  // A build from before serviceNodeFlags ran with the heap cap only.
  const deployed = start.serviceNodeFlags?.(process.env) ?? [start.SERVICE_HEAP_FLAG];
  const heapGiven = extra.some((a) => a.startsWith('--max-old-space-size'));
  return [...deployed.filter((a) => !(heapGiven && a.startsWith('--max-old-space-size'))), ...extra];
}

/** Starts `audience-sync serve --roles http` on a free port; resolves once /readyz answers 200. */
export async function startServiceProcess(
  env: Record<string, string>,
  /** Another build's `dist` folder (an A/B run of two builds); this build's by default. */
  distDir = path.join(__dirname, '..', '..'),
  /** The environment variable naming extra node flags (serviceNodeArgs): two targets of one bench can differ. */
  extraVar = 'BENCH_SERVICE_NODE_ARGS',
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const cli = path.join(distDir, 'src', 'cli', 'main.js');
  const child = spawn(process.execPath, [...serviceNodeArgs(distDir, extraVar), cli, 'serve', '--roles', 'http'], {
    env: { ...process.env, ...env, HTTP_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', process.env.BENCH_SERVICE_STDOUT ? 'inherit' : 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the service exited with code ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { port, child };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('the service did not become ready within 30 s');
}
