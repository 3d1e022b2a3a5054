import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../test/helpers/ports';

/** Starts `audience-sync serve --roles http` on a free port; resolves once /readyz answers 200. */
export async function startServiceProcess(
  env: Record<string, string>,
  /** Another build's `dist` folder (an A/B run of two builds); this build's by default. */
  distDir = path.join(__dirname, '..', '..'),
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const cli = path.join(distDir, 'src', 'cli', 'main.js');
  // BENCH_SERVICE_NODE_ARGS: extra node flags for the service process (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile it).
  const nodeArgs = (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, cli, 'serve', '--roles', 'http'], {
    env: { ...process.env, ...env, HTTP_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
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
