import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../helpers/ports';

/**
 * Stopping by PID stops everything (issue 10 §2): `npm start` passes SIGTERM on to the service and to FerretDB and
 * waits for them; a wrapper killed with SIGKILL leaves no service behind, and the FerretDB it left is stopped by the
 * next start; `npm start` does not rebuild a current build; CLI commands find the running local store.
 */
const ROOT = join(__dirname, '..', '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildIsStale, serviceNodeFlags } = require(join(ROOT, 'scripts', 'start.js')) as {
  buildIsStale: (root: string) => boolean;
  serviceNodeFlags: (env: NodeJS.ProcessEnv) => string[];
};
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

const portIsFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every live descendant of `root` (from /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [pid, pp] of parent)
      if (pp === p) {
        out.push(pid);
        walk(pid);
      }
  };
  walk(root);
  return out;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
};

describe('npm start: stops by PID, leaves no orphan, does not rebuild a current build', () => {
  const dirs: string[] = [];
  /** Every `npm start` of this file: one a failed assertion left running is killed, tree and all, so the run ends. */
  const started: ChildProcess[] = [];
  after(() => {
    for (const npm of started) {
      if (npm.exitCode !== null || npm.signalCode !== null || npm.pid === undefined) continue;
      for (const pid of [npm.pid, ...descendants(npm.pid)].reverse()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('the build is rebuilt only when a source is newer than the compiled files', () => {
    const root = mkdtempSync(join(tmpdir(), 'start-stale-'));
    dirs.push(root);
    mkdirSync(join(root, 'src', 'cli'), { recursive: true });
    mkdirSync(join(root, 'dist', 'src', 'cli'), { recursive: true });
    assert.equal(buildIsStale(root), true, 'no build yet');
    const t0 = new Date(Date.now() - 60_000);
    const t1 = new Date(Date.now() - 30_000);
    writeFileSync(join(root, 'src', 'cli', 'main.ts'), '');
    writeFileSync(join(root, 'src', 'a.ts'), '');
    writeFileSync(join(root, 'tsconfig.json'), '{}');
    for (const f of ['src/cli/main.ts', 'src/a.ts', 'tsconfig.json']) utimesSync(join(root, f), t0, t0);
    writeFileSync(join(root, 'dist', 'src', 'cli', 'main.js'), '');
    writeFileSync(join(root, 'dist', 'src', 'a.js'), '');
    for (const f of ['dist/src/cli/main.js', 'dist/src/a.js']) utimesSync(join(root, f), t1, t1);
    assert.equal(buildIsStale(root), false, 'current');
    utimesSync(join(root, 'src', 'a.ts'), new Date(), new Date());
    assert.equal(buildIsStale(root), true, 'a source changed');
    utimesSync(join(root, 'src', 'a.ts'), t0, t0);
    utimesSync(join(root, 'tsconfig.json'), new Date(), new Date());
    assert.equal(buildIsStale(root), true, 'tsconfig changed');
    utimesSync(join(root, 'tsconfig.json'), t0, t0);
    // Output of a source deleted since (tsc leaves it behind, never rewritten): older than every source, but not stale.
    writeFileSync(join(root, 'dist', 'src', 'gone.js'), '');
    utimesSync(join(root, 'dist', 'src', 'gone.js'), new Date(0), new Date(0));
    assert.equal(buildIsStale(root), false, 'the output of a deleted source does not count');
    // This repository was just built by `npm test`.
    assert.equal(buildIsStale(ROOT), false);
  });

  test('the service runs with the same node flags under npm start and in the image, and node accepts them', () => {
    const flags = serviceNodeFlags({});
    assert.deepEqual(flags, ['--max-old-space-size=512', '--no-memory-reducer']);
    // A heap cap named in NODE_OPTIONS is the operator's: npm start adds none.
    assert.deepEqual(serviceNodeFlags({ NODE_OPTIONS: '--max-old-space-size=2048' }), ['--no-memory-reducer']);
    // The image: its NODE_OPTIONS names the cap, its CMD passes the rest (V8 refuses them in NODE_OPTIONS).
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    const nodeOptions = /NODE_OPTIONS=(\S+)/.exec(dockerfile)![1]!;
    assert.deepEqual(cmd, ['node', ...serviceNodeFlags({ NODE_OPTIONS: nodeOptions }), 'dist/src/cli/main.js', 'serve']);
    const run = spawnSync(process.execPath, [...flags, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
  });

  /** `npm start` with its own data directory and ports, waiting until the service answers. */
  async function npmStart(
    dataDir: string,
    port: number,
  ): Promise<{ npm: ChildProcess; exited: Promise<number | null>; logs: () => string }> {
    const env: Record<string, string | undefined> = {
      ...process.env,
      AUDIENCE_SYNC_DATA_DIR: dataDir,
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      SECRET_KEY_FILE: join(dataDir, 'secret_key'),
      SFTP_HOST_KEY: join(dataDir, 'host_key'),
      SFTP_PORT: '0',
      SHUTDOWN_TIMEOUT_SECONDS: '5',
      LOG_LEVEL: 'info',
    };
    delete env.MONGODB_URI; // the local store path
    delete env.SECRET_KEY;
    writeFileSync(join(dataDir, 'secret_key'), 'start-stop-test-secret-key-0123\n');
    const npm = spawn('npm', ['start', '--silent'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(npm);
    let logs = '';
    npm.stdout.on('data', (d) => (logs += d));
    npm.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((resolve) => npm.on('exit', (code) => resolve(code)));
    for (let i = 0; i < 600; i++) {
      if (
        await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        )
      )
        return { npm, exited, logs: () => logs };
      await sleep(100);
    }
    npm.kill('SIGKILL');
    throw new Error(`npm start did not become ready: ${logs}`);
  }

  test(
    'SIGTERM to npm stops the service and FerretDB, frees the port, within the shutdown bound; CLI commands reach the running store',
    { timeout: 180_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'start-sigterm-'));
      dirs.push(dataDir);
      const port = await freePort();
      const svc = await npmStart(dataDir, port);
      assert.match(svc.logs(), /build is current/, 'no rebuild when the build is current');
      const tree = descendants(svc.npm.pid!);
      assert.ok(
        tree.some((p) => cmdline(p).includes('ferretdb')),
        'FerretDB runs under npm',
      );
      const service = tree.find((p) => cmdline(p).includes('main.js serve'));
      assert.ok(service, 'the service runs under npm');
      for (const flag of serviceNodeFlags(process.env)) assert.ok(cmdline(service).includes(flag), `${cmdline(service)} has ${flag}`);

      // A CLI command beside the running service, without MONGODB_URI: it finds the local store.
      const cliEnv: Record<string, string | undefined> = {
        ...process.env,
        AUDIENCE_SYNC_DATA_DIR: dataDir,
        SECRET_KEY: 'start-stop-test-secret-key-0123',
        LOG_LEVEL: 'silent',
      };
      delete cliEnv.MONGODB_URI;
      const org = spawnSync(process.execPath, [CLI, 'org', 'create', '--name', 'Beside', '--json'], {
        cwd: ROOT,
        env: cliEnv,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(org.status, 0, org.stderr);
      assert.equal(JSON.parse(org.stdout).name, 'Beside');
      const state = JSON.parse(readFileSync(join(dataDir, 'local-store.json'), 'utf8'));
      assert.equal(state.running, true);

      const stoppedAt = Date.now();
      svc.npm.kill('SIGTERM');
      const code = await svc.exited;
      const took = Date.now() - stoppedAt;
      assert.ok(took < 5_000 + 8_000 + 10_000, `stopped in ${took} ms`);
      for (let i = 0; i < 50 && tree.some(alive); i++) await sleep(100);
      assert.deepEqual(
        tree.filter(alive).map((p) => `${p} ${cmdline(p)}`),
        [],
        'no process of the tree is left',
      );
      assert.ok(await portIsFree(port), 'the HTTP port is free');
      assert.ok(await portIsFree(state.port), 'the store port is free');
      assert.equal(existsSync(join(dataDir, 'ferretdb.pid')), false);
      assert.equal(JSON.parse(readFileSync(join(dataDir, 'local-store.json'), 'utf8')).running, false);
      assert.match(svc.logs(), /"msg":"stopped"/);
      assert.ok(code === 0 || code === 143 || code === null, `npm exit ${code}`);

      // Unset MONGODB_URI and no store running: the CLI says what is missing.
      const after = spawnSync(process.execPath, [CLI, 'org', 'create', '--name', 'X'], {
        cwd: ROOT,
        env: cliEnv,
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(after.status, 2);
      assert.match(after.stderr, /MONGODB_URI/);
    },
  );

  test(
    'SIGKILL of the wrapper: the service stops itself; the next start stops the FerretDB left behind and reuses its port',
    { timeout: 180_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'start-sigkill-'));
      dirs.push(dataDir);
      const port = await freePort();
      const first = await npmStart(dataDir, port);
      const tree = descendants(first.npm.pid!);
      const wrapper = tree.find((p) => cmdline(p).includes('scripts/start.js'));
      const service = tree.find((p) => cmdline(p).includes('main.js serve'));
      const ferret = tree.find((p) => cmdline(p).includes('ferretdb'));
      assert.ok(wrapper && service && ferret, tree.map(cmdline).join('\n'));
      const storePort = JSON.parse(readFileSync(join(dataDir, 'local-store.json'), 'utf8')).port;
      process.kill(wrapper, 'SIGKILL');
      await first.exited;
      for (let i = 0; i < 200 && alive(service); i++) await sleep(100);
      assert.equal(alive(service), false, 'the service stopped when its parent was killed');
      assert.ok(await portIsFree(port));

      const second = await npmStart(dataDir, port);
      assert.equal(alive(ferret), false, 'the orphaned FerretDB was stopped');
      assert.equal(JSON.parse(readFileSync(join(dataDir, 'local-store.json'), 'utf8')).port, storePort, 'the store keeps its port');
      const tree2 = descendants(second.npm.pid!);
      second.npm.kill('SIGTERM');
      await second.exited;
      for (let i = 0; i < 50 && tree2.some(alive); i++) await sleep(100);
      assert.deepEqual(tree2.filter(alive).map(cmdline), []);
    },
  );
});
