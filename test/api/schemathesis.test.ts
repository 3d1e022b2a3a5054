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
import { waitForBackgroundJobs } from '../../src/api/jobs';
import { createApiToken, createOrganization } from '../../src/store';
import { makeApp } from './helpers';
import { closeTestStore, openTestStore } from '../helpers/store';

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

const ROOT = resolve(__dirname, '..', '..', '..');

/**
 * The default phases keep the file within about three minutes on a loaded 2-core machine: examples and fuzzing
 * (positive and negative data for every operation, with ids schemathesis learns from earlier answers). The coverage
 * phase (boundary values of every constraint) takes several minutes there; SCHEMATHESIS_PHASES=examples,coverage,fuzzing
 * runs it too, and it is held to the same checks.
 */
const PHASES = process.env.SCHEMATHESIS_PHASES ?? 'examples,fuzzing';

/**
 * Per-operation settings. An audience names groups and segments by id: one that does not exist in the organization is
 * refused with 400 invalid-reference, which no schema can rule out (the ids a client may send depend on the data), so
 * for creating and changing an audience alone a 400 does not count as a rejected valid request. Every other check
 * stays on for them.
 */
const CONFIG = ['POST /audiences', 'PATCH /audiences/{id}']
  .map((op) => {
    const [method, path] = op.split(' ');
    return `[[operations]]
include-path = "${path}"
include-method = "${method}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]
`;
  })
  .join('\n');
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
    // Killed if it outlives the test's budget, so no checker is left running after the file.
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 200_000, killSignal: 'SIGKILL' });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

describe('schemathesis over /api/v1/openapi.json', { timeout: 240_000 }, () => {
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
    await writeFile(join(dir, 'schemathesis.toml'), CONFIG);
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    await waitForBackgroundJobs();
    await closeTestStore();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** One schemathesis run; fails the test with its output when it reports anything. */
  async function check(label: string, token: string, options: string[]): Promise<void> {
    const report = join(dir, `${label}.json`);
    const args = [
      'run',
      `${base}/openapi.json`,
      '--url',
      base,
      '-H',
      `Authorization: Bearer ${token}`,
      '--checks',
      CHECKS.join(','),
      '--seed',
      process.env.SCHEMATHESIS_SEED ?? '14',
      // Generous: on a loaded machine a request can wait seconds for the CPU; a slow answer is not a finding here.
      '--request-timeout',
      '60',
      '--generation-database',
      'none',
      '--no-color',
      '--report',
      'json',
      '--report-json-path',
      report,
      ...options,
    ];
    const started = Date.now();
    const res = await run(bin, args, dir);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (res.code !== 0 || process.env.SCHEMATHESIS_VERBOSE) process.stdout.write(res.output.slice(-30_000));
    assert.equal(res.code, 0, `schemathesis (${label}) found failures in ${seconds}s: see the output above`);
    // It tested something: every selected operation was reached and cases were generated.
    const summary = /([0-9]+) generated/.exec(res.output);
    assert.ok(summary && Number(summary[1]) > 0, `schemathesis (${label}) generated test cases`);
    assert.ok((await readFile(report, 'utf8')).length > 100, 'schemathesis wrote its report');
    process.stdout.write(`# schemathesis ${label}: ${summary[1]} cases in ${seconds}s\n`);
  }

  it('finds nothing with an owner token', async () => {
    // DELETE /tokens/{id} is run last, alone (below): schemathesis reuses ids it read from GET /tokens, and revoking
    // the very token it sends would leave every later request a 401.
    await check('owner', owner, [
      '--exclude-path',
      '/tokens/{id}',
      '--phases',
      PHASES,
      '--max-examples',
      process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '5',
      '--workers',
      '2',
    ]);
  });

  it('finds nothing with a member token', async () => {
    await check('member', member, ['--phases', PHASES, '--max-examples', process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '5', '--workers', '2']);
  });

  it('finds nothing on DELETE /tokens/{id} (owner, last)', async () => {
    await check('owner-revoke', owner, ['--include-path', '/tokens/{id}', '--phases', PHASES, '--max-examples', '10']);
  });
});
