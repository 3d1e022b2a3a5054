import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createApp } from '../../src/server/app';
import { createConnection, createOrganization } from '../../src/store';
import { testConfig } from '../helpers/config';
import { closeTestStore, openTestStore } from '../helpers/store';

/**
 * Issue #14, item 14: python scim2-tester's full check suite (pinned in scripts/pytools-requirements.txt, installed in
 * a venv by scripts/pytools.sh) against the service listening on loopback, with a SCIM connection and its token. Every
 * check must pass, or be skipped for a reason stated below.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const DRIVER = path.join(ROOT, 'test', 'scim', 'scim2_tester_driver.py');

/**
 * Checks allowed to end other than in success, keyed by `title` (and `urn`, the attribute a PATCH check was about),
 * each with why. Only what is truly out of scope, or done on another branch of issue #14, belongs here. A check
 * scim2-tester did not run (SKIPPED) is accepted only when listed too.
 */
// Empty: every check of scim2-tester's suite passes (the password and enterprise-extension PATCH checks pass since
// password is no longer advertised and a `schemas` key inside an extension value is tolerated, #14 items 5 and 8).
const ALLOWED: { title: string; urn?: string; why: string }[] = [];

function allowed(r: CheckResult): string | undefined {
  return ALLOWED.find((a) => a.title === r.title && (a.urn === undefined || a.urn === r.urn))?.why;
}

/** Statuses that mean the check passed: MUST (SUCCESS), SHOULD (COMPLIANT) and MAY (ACCEPTABLE) behaviour. */
const PASSING = new Set(['SUCCESS', 'COMPLIANT', 'ACCEPTABLE']);

interface CheckResult {
  title: string | null;
  urn: string | null;
  status: string;
  reason: string | null;
  resource_type: string | null;
  tags: string[];
  data: unknown;
}

/** The venv's python: PYTOOLS_VENV (CI sets it) or scripts/pytools.sh's default, created here outside CI. */
function pythonOfVenv(): string {
  const venv = process.env.PYTOOLS_VENV ?? path.join(homedir(), '.cache', 'audience-sync', 'pytools');
  const python = path.join(venv, 'bin', 'python');
  // scripts/pytools.sh stamps the venv with the requirements it installed: a stale or missing venv is (re)made here.
  const stamp = path.join(venv, '.requirements');
  const wanted = readFileSync(path.join(ROOT, 'scripts', 'pytools-requirements.txt'), 'utf8');
  const ready = () => existsSync(python) && existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted;
  if (!ready()) {
    // In CI, .ci/run creates the venv before the tests: a missing tool there is a failure, never a silent skip.
    if (process.env.CI === 'true') throw new Error(`scim2-tester is not installed in ${venv} (CI runs scripts/pytools.sh first)`);
    execFileSync('bash', [path.join(ROOT, 'scripts', 'pytools.sh')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
  }
  return python;
}

function runDriver(python: string, baseUrl: string, token: string): Promise<CheckResult[]> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [DRIVER],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SCIM_BASE_URL: baseUrl, SCIM_TOKEN: token },
        timeout: 150_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`scim2-tester driver failed: ${err.message}\n${stderr}`));
        try {
          resolve((JSON.parse(stdout) as { results: CheckResult[] }).results);
        } catch (parseErr) {
          reject(new Error(`scim2-tester driver printed no JSON: ${String(parseErr)}\n${stdout.slice(0, 2000)}\n${stderr}`));
        }
      },
    );
  });
}

describe('scim2-tester (python) against the SCIM server', { timeout: 200_000 }, () => {
  let server: Server;
  let baseUrl: string;
  let token: string;

  before(async () => {
    await openTestStore('scim2_tester');
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const publicUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The app is built once the port is known, so meta.location and scimBaseUrl name where the checker reaches us.
    const app = createApp({ config: testConfig({ PUBLIC_URL: publicUrl }), logger: pino({ level: 'silent' }) });
    server.on('request', app);
    const org = await createOrganization('scim2-tester');
    const conn = await createConnection(
      { orgId: org.id, type: 'scim', provider: 'generic', extendedAttributes: true },
      { publicUrl, secretKey: 'test-secret-key-0123456789' },
    );
    baseUrl = `${publicUrl}/scim/v2/${conn.id}`;
    token = conn.token!;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await closeTestStore();
  });

  test('every check passes, or is skipped for a stated reason', async (t) => {
    const results = await runDriver(pythonOfVenv(), baseUrl, token);
    if (process.env.SCIM2_TESTER_DUMP) console.log(JSON.stringify(results, null, 2));
    // The suite ran for real: discovery plus CRUD and PATCH checks on both resource types.
    assert.ok(results.length >= 30, `only ${results.length} checks ran`);
    for (const type of ['User', 'Group']) {
      assert.ok(
        results.some((r) => r.resource_type === type && PASSING.has(r.status)),
        `no passing check on ${type}`,
      );
    }
    for (const r of results) {
      const why = PASSING.has(r.status) ? undefined : allowed(r);
      if (why) t.diagnostic(`allowed: ${r.title} ${r.urn ?? ''} (${r.status}): ${why}`);
    }
    const failures = results.filter((r) => !PASSING.has(r.status) && allowed(r) === undefined);
    assert.deepEqual(
      failures.map((r) => ({ title: r.title, urn: r.urn, type: r.resource_type, status: r.status, reason: r.reason })),
      [],
      `scim2-tester checks failed:\n${JSON.stringify(failures, null, 2).slice(0, 20_000)}`,
    );
  });
});
