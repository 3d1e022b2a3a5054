#!/usr/bin/env node
'use strict';
/*
 * Runs the compiled tests: every test/**\/*.test.ts, as dist/test/**\/*.test.js, through
 * `node --test`, one file at a time (they share one database server).
 *
 *   node scripts/run-tests.js [node test options...] [filters...]
 *
 * Options (arguments starting with "-") go to `node --test`, e.g. --test-name-pattern=scim,
 * --test-reporter=tap, --test-only. Other arguments keep only the test files whose path
 * contains one of them, e.g. `npm test -- scim sftp`.
 *
 * Why not `node --test dist/test/`: Node 20 treats every .js file under a directory named
 * "test" as a test file (helpers and fixtures included), and would also run compiled
 * leftovers in dist/ whose .ts source was deleted. Here only *.test.ts sources count.
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const SRC_DIR = path.join(ROOT, 'test');
const OUT_DIR = path.join(ROOT, 'dist', 'test');

function findTestSources(dir) {
  const found = [];
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    if (e.code === 'ENOENT') return found;
    throw e;
  }
  for (const ent of entries) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) {
      if (ent.name !== 'node_modules') found.push(...findTestSources(p));
    } else if (ent.isFile() && ent.name.endsWith('.test.ts') && !ent.name.endsWith('.d.ts')) {
      found.push(p);
    }
  }
  return found;
}

function main(argv) {
  const nodeOpts = [];
  const filters = [];
  for (const a of argv) (a.startsWith('-') ? nodeOpts : filters).push(a);

  const sources = findTestSources(SRC_DIR).sort();
  let files = sources.map((src) => path.join(OUT_DIR, path.relative(SRC_DIR, src)).replace(/\.ts$/, '.js'));
  if (filters.length > 0) {
    files = files.filter((f) => filters.some((flt) => path.relative(ROOT, f).includes(flt)));
  }
  if (files.length === 0) {
    const why = sources.length === 0 ? 'no test/**/*.test.ts files' : `no test file matches ${filters.join(', ')}`;
    process.stderr.write(`run-tests: ${why}\n`);
    return Promise.resolve(1);
  }
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    process.stderr.write(
      `run-tests: not compiled (run \`npm run build\` first):\n${missing.map((f) => `  ${path.relative(ROOT, f)}`).join('\n')}\n`,
    );
    return Promise.resolve(1);
  }

  const args = ['--test', '--test-concurrency=1'];
  if (!nodeOpts.some((o) => o.startsWith('--test-reporter'))) args.push('--test-reporter=spec');
  // Guard against a hung test stalling CI forever (per test, in ms); override with --test-timeout=N.
  if (!nodeOpts.some((o) => o.startsWith('--test-timeout'))) args.push('--test-timeout=300000');
  args.push(...nodeOpts, ...files.map((f) => path.relative(process.cwd(), f) || f));

  // Stack traces point at the .ts sources (tsconfig emits source maps); NODE_OPTIONS reaches
  // the per-file test processes too.
  const nodeOptions = [process.env.NODE_OPTIONS, '--enable-source-maps'].filter(Boolean).join(' ');
  // Tests talk to loopback only: a service a test starts with the worker role syncs the hris connections it finds, so
  // Finch's base URL defaults to a closed loopback port (tests that sync point it at their local Finch server).
  const child = spawn(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: nodeOptions, FINCH_BASE_URL: process.env.FINCH_BASE_URL || 'http://127.0.0.1:9/' },
  });
  const forward = (sig) => child.kill(sig);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(sig, forward);
      if (signal) process.stderr.write(`run-tests: node --test ended by ${signal}\n`);
      resolve(code ?? 1);
    });
  });
}

module.exports = { findTestSources };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
