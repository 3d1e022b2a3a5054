#!/usr/bin/env node
'use strict';
/*
 * Runs a command against a local MongoDB-compatible store.
 *
 *   node scripts/local-store.js --data DIR [--db NAME] -- cmd args...
 *   node scripts/local-store.js --ephemeral [--db NAME] -- cmd args...
 *
 * When MONGODB_URI is set, the command just runs with it. Otherwise a FerretDB
 * (SQLite handler) is built once via scripts/ferretdb.sh, started on a free
 * loopback port with its data under DIR (or a fresh temporary directory with
 * --ephemeral, deleted afterwards), and the command runs with
 * MONGODB_URI=mongodb://127.0.0.1:PORT/audience_sync. FerretDB is stopped when
 * the command ends, and this script exits with the command's exit code.
 *
 * Layout of DIR: sqlite/ (databases), state.json (FerretDB state),
 * ferretdb.log (FerretDB's own log), ferretdb.pid (while running).
 *
 * Environment: MONGODB_URI (use an existing server), FERRETDB_BIN (use this
 * binary instead of building), FERRETDB_CACHE (see scripts/ferretdb.sh),
 * LOCAL_STORE_TIMEOUT_MS (start timeout, default 30000).
 *
 * Also usable as a module: const { startLocalStore } = require('./local-store');
 *   const store = await startLocalStore({ dataDir, ephemeral: true });
 *   ... store.uri ...; await store.stop();
 *
 * Plain CommonJS with Node built-ins only, so it runs before `npm ci`/`tsc`.
 */

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const PREFIX = 'local-store:';
const DEFAULT_DB = 'audience_sync';
const FERRETDB_SCRIPT = path.join(__dirname, 'ferretdb.sh');
const DEFAULT_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

function note(msg) {
  process.stderr.write(`${PREFIX} ${msg}\n`);
}

class LocalStoreError extends Error {}

/** Path of a working FerretDB binary, building it (once, cached) when needed. */
function ensureBinary() {
  if (process.env.FERRETDB_BIN) {
    const bin = path.resolve(process.env.FERRETDB_BIN);
    if (!fs.existsSync(bin)) throw new LocalStoreError(`FERRETDB_BIN=${bin} does not exist`);
    return bin;
  }
  const res = spawnSync('bash', [FERRETDB_SCRIPT, 'build'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (res.error) {
    throw new LocalStoreError(`could not run ${FERRETDB_SCRIPT}: ${res.error.message} (is bash installed?)`);
  }
  if (res.status !== 0) {
    throw new LocalStoreError(
      `${path.relative(process.cwd(), FERRETDB_SCRIPT) || FERRETDB_SCRIPT} build failed (exit ${res.status}); ` +
        'set MONGODB_URI to use an existing MongoDB server instead',
    );
  }
  const bin = res.stdout.trim().split('\n').pop();
  if (!bin || !fs.existsSync(bin)) throw new LocalStoreError(`ferretdb.sh build printed no usable path: ${JSON.stringify(res.stdout)}`);
  return bin;
}

/** A currently free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function tailOf(file, lines = 30) {
  try {
    const text = fs.readFileSync(file, 'utf8').trimEnd();
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** The command line of a live process, or null. */
function cmdlineOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Refuse to run two FerretDB instances on the same data directory. The pid file names FerretDB and the process that
 * started it; a FerretDB whose starter is gone (killed with SIGKILL, so it could not stop it) is an orphan holding the
 * data directory and its port: it is stopped here.
 */
async function claimPidFile(pidFile) {
  let pid;
  let owner;
  try {
    [pid = 0, owner = 0] = fs
      .readFileSync(pidFile, 'utf8')
      .trim()
      .split(/\s+/)
      .map((n) => Number.parseInt(n, 10) || 0);
  } catch {
    return; // missing or unreadable pid file: nothing running
  }
  if (!(pid > 0 && pid !== process.pid && isAlive(pid))) return;
  const cmd = cmdlineOf(pid) ?? 'ferretdb'; // no /proc: assume it is ours
  if (!cmd.includes('ferretdb')) return;
  if (owner > 0 && !isAlive(owner)) {
    note(`stopping FerretDB pid ${pid}, left running on ${path.dirname(pidFile)} by a stopped process (pid ${owner})`);
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
    if (isAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 20 && isAlive(pid); i++) await sleep(100);
    }
    return;
  }
  throw new LocalStoreError(
    `another FerretDB (pid ${pid}) is already using ${path.dirname(pidFile)}; ` +
      `stop it (kill ${pid}) or use a different --data directory`,
  );
}

/** Where a persistent local store records its URI while it runs, for CLI commands run beside `npm start`. */
function stateFileOf(dataDir) {
  return path.join(dataDir, 'local-store.json');
}

/** The port the store of this data directory used last, when it is free again (a stable port across restarts). */
async function lastPort(dataDir) {
  try {
    const { port } = JSON.parse(fs.readFileSync(stateFileOf(dataDir), 'utf8'));
    if (Number.isInteger(port) && port > 0 && !(await canConnect(port))) return port;
  } catch {
    /* no state file or not JSON: no last port */
  }
  return null;
}

/**
 * Starts FerretDB. Returns { uri, port, dataDir, logFile, pid, stop(), exited }.
 * Options: dataDir (required unless ephemeral), ephemeral, database, timeoutMs.
 */
async function startLocalStore(opts = {}) {
  const database = opts.database || DEFAULT_DB;
  const timeoutMs = opts.timeoutMs || Number(process.env.LOCAL_STORE_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS;
  const bin = opts.binary || ensureBinary();

  let dataDir;
  if (opts.ephemeral) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'audience-sync-store-'));
  } else {
    if (!opts.dataDir) throw new LocalStoreError('a data directory is required (--data DIR or --ephemeral)');
    dataDir = path.resolve(opts.dataDir);
  }
  const sqliteDir = path.join(dataDir, 'sqlite');
  fs.mkdirSync(sqliteDir, { recursive: true });
  const logFile = path.join(dataDir, 'ferretdb.log');
  const pidFile = path.join(dataDir, 'ferretdb.pid');
  if (!opts.ephemeral) await claimPidFile(pidFile);
  const preferredPort = opts.ephemeral ? null : await lastPort(dataDir);

  const removeData = () => {
    if (opts.ephemeral) fs.rmSync(dataDir, { recursive: true, force: true });
  };

  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = attempt === 1 && preferredPort ? preferredPort : await freePort();
    const logFd = fs.openSync(logFile, 'a');
    fs.writeSync(logFd, `\n=== ${new Date().toISOString()} local-store: starting ferretdb on 127.0.0.1:${port}\n`);
    const child = spawn(
      bin,
      [
        '--handler=sqlite',
        // FerretDB wants a file: URI naming a directory, with a trailing slash.
        `--sqlite-url=file:${sqliteDir}/`,
        `--state-dir=${dataDir}`,
        `--listen-addr=127.0.0.1:${port}`,
        '--telemetry=disable',
        '--debug-addr=-', // no debug HTTP listener; a fixed port would clash between instances
        '--log-level=warn',
      ],
      {
        stdio: ['ignore', logFd, logFd],
        // Own process group: a terminal Ctrl-C reaches the child command, not FerretDB,
        // so the command can still use the store while it shuts down. We stop FerretDB.
        detached: true,
        env: { ...process.env, FERRETDB_TELEMETRY: 'disable' },
      },
    );
    fs.closeSync(logFd);

    let exitInfo = null;
    const exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = { code, signal };
        resolve(exitInfo);
      });
      child.once('error', (err) => {
        exitInfo = { code: null, signal: null, error: err };
        resolve(exitInfo);
      });
    });

    const kill = (sig) => {
      if (exitInfo === null && child.pid) {
        try {
          process.kill(child.pid, sig);
        } catch {
          /* already gone */
        }
      }
    };
    // Last resort if this process ends without calling stop() (uncaught error, process.exit()).
    const onExit = () => {
      kill('SIGTERM');
      try {
        fs.rmSync(pidFile, { force: true });
      } catch {
        /* best effort at exit */
      }
      try {
        removeData();
      } catch {
        /* best effort at exit */
      }
    };
    process.on('exit', onExit);

    const shutdown = async () => {
      if (exitInfo === null) {
        kill('SIGTERM');
        const timer = setTimeout(() => kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', onExit);
      fs.rmSync(pidFile, { force: true });
      if (!opts.ephemeral) writeState(false);
    };
    let stopping = null;
    const stop = () => {
      stopping ??= shutdown().then(removeData);
      return stopping;
    };

    // Wait until it accepts connections, it exits, or we time out.
    const deadline = Date.now() + timeoutMs;
    let ready = false;
    while (Date.now() < deadline && exitInfo === null) {
      if (await canConnect(port)) {
        ready = exitInfo === null;
        break;
      }
      await sleep(100);
    }

    const uri = `mongodb://127.0.0.1:${port}/${database}`;
    // The URI (and port, reused next time when free) for CLI commands run while the store runs; `running` false once
    // stopped. The CLI reads it when MONGODB_URI is unset (src/config/config.ts).
    const writeState = (running) => {
      try {
        fs.writeFileSync(stateFileOf(dataDir), JSON.stringify({ uri, port, pid: process.pid, ferretdbPid: child.pid, running }) + '\n');
      } catch {
        /* best effort: the state file only helps the CLI */
      }
    };
    if (ready) {
      if (child.pid) fs.writeFileSync(pidFile, `${child.pid} ${process.pid}\n`);
      if (!opts.ephemeral) writeState(true);
      return {
        uri,
        port,
        pid: child.pid,
        dataDir,
        logFile,
        exited,
        stop,
      };
    }

    const log = tailOf(logFile);
    const why = exitInfo
      ? exitInfo.error
        ? `could not start ${bin}: ${exitInfo.error.message}`
        : `ferretdb exited during start (code ${exitInfo.code}, signal ${exitInfo.signal})`
      : `ferretdb did not accept connections on 127.0.0.1:${port} within ${timeoutMs / 1000}s`;
    await shutdown(); // keeps the data dir: we may retry; removed below when giving up
    lastError = new LocalStoreError(`${why}\n--- last lines of ${logFile} ---\n${log}\n---`);
    // A port taken between freePort() and bind is worth another try; anything else is not.
    if (!(exitInfo && /address already in use/i.test(log))) break;
    note(`port ${port} was taken, retrying (${attempt}/3)`);
  }
  removeData();
  throw lastError;
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs cmd with env, forwarding signals; resolves to { code, signal }. */
function runChild(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    const forward = (sig) => {
      try {
        child.kill(sig);
      } catch {
        /* already gone */
      }
    };
    for (const sig of FORWARDED_SIGNALS) process.on(sig, forward);
    const cleanup = () => {
      for (const sig of FORWARDED_SIGNALS) process.removeListener(sig, forward);
    };
    child.once('error', (err) => {
      cleanup();
      note(`could not run ${cmd}: ${err.message}`);
      resolve({ code: err.code === 'ENOENT' ? 127 : 126, signal: null });
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve({ code, signal });
    });
  });
}

function exitLike({ code, signal }) {
  if (signal) {
    // Die of the same signal, as a shell would report it; fall back to 128+n.
    const n = os.constants.signals[signal] || 0;
    process.exitCode = 128 + n;
    try {
      process.kill(process.pid, signal);
    } catch {
      /* cannot signal ourselves: the exit code above stands */
    }
    return;
  }
  process.exitCode = code ?? 1;
}

function parseArgs(argv) {
  const out = { dataDir: null, ephemeral: false, database: DEFAULT_DB, command: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.command = argv.slice(i + 1);
      break;
    } else if (a === '--data') {
      out.dataDir = argv[++i];
      if (!out.dataDir) throw new LocalStoreError('--data needs a directory');
    } else if (a.startsWith('--data=')) {
      out.dataDir = a.slice('--data='.length);
    } else if (a === '--ephemeral') {
      out.ephemeral = true;
    } else if (a === '--db') {
      out.database = argv[++i];
    } else if (a.startsWith('--db=')) {
      out.database = a.slice('--db='.length);
    } else if (a === '-h' || a === '--help') {
      out.help = true;
    } else {
      throw new LocalStoreError(`unknown option ${a} (the command goes after --)`);
    }
  }
  return out;
}

const USAGE = `usage: node scripts/local-store.js (--data DIR | --ephemeral) [--db NAME] -- command [args...]
Runs the command with MONGODB_URI pointing at a local FerretDB (or at $MONGODB_URI when already set).`;

async function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    note(e.message);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (opts.command.length === 0 || (!opts.dataDir && !opts.ephemeral)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const [cmd, ...args] = opts.command;

  if (process.env.MONGODB_URI) {
    note('MONGODB_URI is set; using it instead of a local FerretDB');
    exitLike(await runChild(cmd, args, process.env));
    return undefined;
  }

  // Signals that arrive while FerretDB is starting: stop cleanly instead of dying half-way.
  let interrupted = null;
  const early = (sig) => {
    interrupted = sig;
  };
  for (const sig of FORWARDED_SIGNALS) process.on(sig, early);

  let store;
  try {
    store = await startLocalStore({ dataDir: opts.dataDir, ephemeral: opts.ephemeral, database: opts.database });
  } catch (e) {
    for (const sig of FORWARDED_SIGNALS) process.removeListener(sig, early);
    note(e instanceof LocalStoreError ? e.message : e.stack || String(e));
    return 1;
  }
  for (const sig of FORWARDED_SIGNALS) process.removeListener(sig, early);
  if (interrupted) {
    await store.stop();
    exitLike({ code: null, signal: interrupted });
    return undefined;
  }

  note(`FerretDB at ${store.uri} (data: ${opts.ephemeral ? 'temporary' : store.dataDir}, log: ${store.logFile})`);
  store.exited.then((info) => {
    if (!store.stopping) {
      note(`FerretDB stopped unexpectedly (code ${info.code}, signal ${info.signal}); last lines of ${store.logFile}:`);
      process.stderr.write(`${tailOf(store.logFile)}\n`);
    }
  });

  let result;
  try {
    // AUDIENCE_SYNC_PARENT_PID: the service stops itself if this process disappears (SIGKILL), instead of living on.
    result = await runChild(cmd, args, { ...process.env, MONGODB_URI: store.uri, AUDIENCE_SYNC_PARENT_PID: String(process.pid) });
  } finally {
    store.stopping = true;
    await store.stop();
  }
  exitLike(result);
  return undefined;
}

module.exports = { startLocalStore, ensureBinary, freePort, main, LocalStoreError };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (err) => {
      note(err.stack || String(err));
      process.exitCode = 1;
    },
  );
}
