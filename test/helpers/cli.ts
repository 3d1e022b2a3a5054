import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { closeTestStore, openTestStore } from './store';

/** The built command line (`audience-sync`), run with the same Node as the tests. */
export const CLI = join(__dirname, '..', '..', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (each test reads the shape it expects). */
  json: () => any;
}

export interface CliHarness {
  /** The test store's URI with this suite's own database (set once `before` has run). */
  readonly uri: string;
  /** Runs `audience-sync ARGS` against that database, as a separate process; waits for it to exit. */
  run(args: string[], env?: Record<string, string>): CliResult;
}

/**
 * Registers `before`/`after` hooks of the enclosing `describe` that open a throwaway database `name` on the test store
 * and close it, and returns a runner of the command line against it.
 */
export function cliAgainstTestStore(name: string, secretKey: string): CliHarness {
  let uri = '';
  before(async () => {
    const db = await openTestStore(name);
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = `/${db}`;
    uri = u.toString();
  });
  after(async () => {
    await closeTestStore();
  });
  return {
    get uri() {
      return uri;
    },
    run(args, env = {}) {
      const res = spawnSync(process.execPath, [CLI, ...args], {
        env: { ...process.env, MONGODB_URI: uri, SECRET_KEY: secretKey, LOG_LEVEL: 'silent', ...env },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { code: res.status, stdout: res.stdout, stderr: res.stderr, json: () => JSON.parse(res.stdout) };
    },
  };
}
