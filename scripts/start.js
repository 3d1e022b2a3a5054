#!/usr/bin/env node
'use strict';
/*
 * `npm start`: builds only when the build is stale, then runs the service against the local store
 * (scripts/local-store.js) in this same process, so that the PID npm (or a process manager) holds is the parent of
 * the service and of FerretDB: SIGTERM/SIGINT reach both, and this process exits only after both stopped.
 *
 *   node scripts/start.js [serve options...]      (package.json: "start": "exec node scripts/start.js")
 *
 * Environment: AUDIENCE_SYNC_DATA_DIR (default .data), MONGODB_URI (then no local store), and the service's own.
 * Plain CommonJS with Node built-ins only.
 */

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Newest modification time (ms) of the files under `dir` whose name passes `want`; 0 when there are none. */
function newest(dir, want) {
  let max = 0;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT') return 0;
    throw e;
  }
  for (const ent of entries) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) {
      if (ent.name !== 'node_modules') max = Math.max(max, newest(p, want));
    } else if (want(ent.name)) {
      max = Math.max(max, fs.statSync(p).mtimeMs);
    }
  }
  return max;
}

/**
 * Oldest modification time (ms) of the .js files under `dir` compiled from a source under `srcDir`; Infinity when there
 * are none. Output whose source is gone is left out: tsc never rewrites (nor deletes) it, so it would look stale forever.
 */
function oldestJs(dir, srcDir) {
  let min = Infinity;
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT') return Infinity;
    throw e;
  }
  for (const ent of entries) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) min = Math.min(min, oldestJs(p, path.join(srcDir, ent.name)));
    else if (ent.name.endsWith('.js') && fs.existsSync(path.join(srcDir, `${ent.name.slice(0, -3)}.ts`))) {
      min = Math.min(min, fs.statSync(p).mtimeMs);
    }
  }
  return min;
}

/**
 * True when dist/src must be rebuilt: the entry point is missing, or a TypeScript source under src/ (or tsconfig.json,
 * package-lock.json) is newer than the oldest compiled file (tsc rewrites every output on each build).
 */
function buildIsStale(root = ROOT) {
  const entry = path.join(root, 'dist', 'src', 'cli', 'main.js');
  if (!fs.existsSync(entry)) return true;
  const sources = Math.max(
    newest(path.join(root, 'src'), (n) => n.endsWith('.ts')),
    ...['tsconfig.json', 'package-lock.json'].map((f) => {
      try {
        return fs.statSync(path.join(root, f)).mtimeMs;
      } catch {
        return 0;
      }
    }),
  );
  return sources > oldestJs(path.join(root, 'dist', 'src'), path.join(root, 'src'));
}

/** V8's old-space cap for the service, as in the Dockerfile's NODE_OPTIONS (README, Memory). */
const SERVICE_HEAP_FLAG = '--max-old-space-size=512';

/**
 * V8 flags the service always runs with, as in the Dockerfile's CMD (README, Memory). `--no-memory-reducer`: after
 * about a minute without requests V8's memory reducer shrinks the heap to its live data and the young generation to
 * its minimum, and the first thousand requests after it cost the service about 1.4x the CPU while the heap grows back
 * (bench/RESULTS.md, "The first requests after an idle minute"). A server's heap is better kept between bursts.
 * V8 refuses this flag in NODE_OPTIONS, so it is passed on the command line.
 */
const SERVICE_V8_FLAGS = ['--no-memory-reducer'];

/** The node flags `npm start` runs the service with (`env`: whose NODE_OPTIONS may already name a heap cap). */
function serviceNodeFlags(env = process.env) {
  // The heap cap the Docker image sets (README, Memory), unless NODE_OPTIONS names one.
  const heap = /--max-old-space-size/.test(env.NODE_OPTIONS || '') ? [] : [SERVICE_HEAP_FLAG];
  return [...heap, ...SERVICE_V8_FLAGS];
}

function build() {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  process.stderr.write('start: sources changed since the last build; building\n');
  const res = spawnSync(process.execPath, [tsc, '-p', ROOT], { stdio: 'inherit' });
  return res.status === 0;
}

async function main(argv) {
  if (buildIsStale()) {
    if (!build()) return 1;
  } else {
    process.stderr.write('start: build is current\n');
  }
  const dataDir = process.env.AUDIENCE_SYNC_DATA_DIR || '.data';
  const { main: localStore } = require('./local-store');
  return localStore([
    '--data',
    dataDir,
    '--',
    process.execPath,
    ...serviceNodeFlags(),
    path.join(ROOT, 'dist', 'src', 'cli', 'main.js'),
    'serve',
    ...argv,
  ]);
}

module.exports = { buildIsStale, SERVICE_HEAP_FLAG, serviceNodeFlags };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`start: ${err.stack || String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
