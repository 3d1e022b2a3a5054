import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { waitForBackgroundJobs } from '../src/api/jobs';
import { createApiToken, createOrganization } from '../src/store';
import { makeApp } from './apiHelpers';
import { closeTestStore, openTestStore } from './helpers/store';

/**
 * schemathesis 4.x (issue #14 item 14) over the admin API's own OpenAPI document, once with an owner token and once
 * with a member token holding recipients:read, against the service on 127.0.0.1 with the test store. Every request
 * schemathesis sends goes to that loopback address (--url); nothing in the process delivers webhooks or calls Finch.
 *
 * Checks held at zero failures: not_a_server_error, status_code_conformance (no undocumented status),
 * response_schema_conformance, content_type_conformance, response_headers_conformance, positive_data_acceptance
 * (a request the document calls valid is not refused with 400/422), plus unsupported_method and
 * allow_header_conformance (405 with Allow; OPTIONS lists what the document lists).
 */

const ROOT = resolve(__dirname, '..', '..');
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'response_schema_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'positive_data_acceptance',
  'unsupported_method',
  'allow_header_conformance',
];

/** The venv of scripts/pytools.sh (created by .ci/run). Without CI it is created here; under CI a missing tool fails. */
async function schemathesisBinary(): Promise<string> {
  const venv = process.env.PYTOOLS_VENV ?? join(process.env.HOME ?? '/root', '.cache', 'audience-sync', 'pytools');
  const bin = join(venv, 'bin', 'schemathesis');
  if (existsSync(bin)) return bin;
  if (process.env.CI === 'true') assert.fail(`schemathesis is not installed at ${bin}: run bash scripts/pytools.sh (CI=true)`);
  const { stdout } = await promisify(execFile)('bash', [join(ROOT, 'scripts', 'pytools.sh')], { cwd: ROOT, timeout: 600_000 });
  const made = join(stdout.trim(), 'bin', 'schemathesis');
  assert.ok(existsSync(made), `scripts/pytools.sh did not install schemathesis (${made})`);
  return made;
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(bin: string, args: string[], cwd: string): Promise<RunResult> {
  return new Promise((done, fail) => {
    // Quiet Python and no telemetry: nothing leaves the machine.
    const env = { ...process.env, SCHEMATHESIS_TELEMETRY: 'false', NO_COLOR: '1', PYTHONUNBUFFERED: '1' };
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

describe('schemathesis over /api/v1/openapi.json', { timeout: 170_000 }, () => {
  let server: Server;
  let base: string;
  let owner: string;
  let member: string;
  let bin: string;
  let dir: string;

  before(async () => {
    bin = await schemathesisBinary();
    await openTestStore('api_schemathesis');
    const org = await createOrganization('Schemathesis');
    // A second owner token is the one revoked by nothing: the run may revoke tokens it creates, never these two
    // (DELETE /tokens/{id} with generated ids only reaches tokens schemathesis itself made, or 404).
    owner = (await createApiToken(org.id, 'owner', [], 'schemathesis owner')).token;
    await createApiToken(org.id, 'owner', [], 'spare owner');
    member = (await createApiToken(org.id, 'member', ['recipients:read'], 'schemathesis member')).token;
    server = makeApp().listen(0, '127.0.0.1');
    await new Promise<void>((ok) => server.once('listening', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    dir = await mkdtemp(join(tmpdir(), 'schemathesis-'));
    await writeFile(join(dir, 'schemathesis.toml'), 'color = false\n');
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    await waitForBackgroundJobs();
    await closeTestStore();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const who of ['owner', 'member'] as const) {
    it(`finds nothing with the ${who} token`, async () => {
      const token = who === 'owner' ? owner : member;
      const report = join(dir, `${who}.json`);
      const args = [
        'run',
        `${base}/openapi.json`,
        '--url',
        base,
        '-H',
        `Authorization: Bearer ${token}`,
        '--checks',
        CHECKS.join(','),
        '--phases',
        process.env.SCHEMATHESIS_PHASES ?? 'examples,coverage,fuzzing',
        '--max-examples',
        process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '15',
        '--workers',
        '2',
        '--seed',
        process.env.SCHEMATHESIS_SEED ?? '14',
        '--request-timeout',
        '20',
        '--generation-database',
        'none',
        '--no-color',
        '--report',
        'json',
        '--report-json-path',
        report,
      ];
      const started = Date.now();
      const res = await run(bin, args, dir);
      const seconds = (Date.now() - started) / 1000;
      if (res.code !== 0 || process.env.SCHEMATHESIS_VERBOSE) process.stdout.write(res.output.slice(-20_000));
      assert.equal(res.code, 0, `schemathesis (${who}) found failures in ${seconds}s: see the output above`);
      // The run tested something: the report lists operations and their requests.
      const text = await readFile(report, 'utf8');
      assert.ok(text.length > 100, 'schemathesis wrote its report');
    });
  }
});
