import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, DEV_KEY_PREFIX, loadConfig } from '../../src/config/config';
import { closeTestStore, openTestStore } from '../helpers/store';
import { freePort } from '../helpers/ports';

const CLI = join(__dirname, '..', '..', 'src', 'cli', 'main.js');

describe('SECRET_KEY, SECRET_KEY_FILE and the development key (issue 10 §9)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-key-'));
  let uri: string;
  before(async () => {
    const db = await openTestStore('secret_key');
    const u = new URL(process.env.MONGODB_URI!);
    u.pathname = `/${db}`;
    uri = u.toString();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await closeTestStore();
  });

  test('where the key comes from: SECRET_KEY, a SECRET_KEY_FILE holding one, or a generated development key', () => {
    const base = { MONGODB_URI: 'mongodb://127.0.0.1/x' };
    assert.equal(loadConfig({ ...base, SECRET_KEY: 'a-key-from-the-environment' }).SECRET_KEY_SOURCE, 'env');
    const devFile = join(dir, 'dev', 'secret_key');
    const first = loadConfig({ ...base, SECRET_KEY_FILE: devFile });
    assert.equal(first.SECRET_KEY_SOURCE, 'development');
    assert.ok(first.SECRET_KEY.startsWith(DEV_KEY_PREFIX));
    const again = loadConfig({ ...base, SECRET_KEY_FILE: devFile });
    assert.equal(again.SECRET_KEY, first.SECRET_KEY, 'kept across starts');
    assert.equal(again.SECRET_KEY_SOURCE, 'development', 'still announced as the development key');
    const mounted = join(dir, 'mounted');
    writeFileSync(mounted, 'an-operator-provided-key-0123456789\n');
    const fromFile = loadConfig({ ...base, SECRET_KEY_FILE: mounted });
    assert.equal(fromFile.SECRET_KEY, 'an-operator-provided-key-0123456789');
    assert.equal(fromFile.SECRET_KEY_SOURCE, 'file');
    writeFileSync(mounted, 'short\n');
    assert.throws(
      () => loadConfig({ ...base, SECRET_KEY_FILE: mounted }),
      (e: Error) => e instanceof ConfigError && /SECRET_KEY_FILE/.test(e.message),
    );
  });

  async function startAndStop(env: Record<string, string>): Promise<string> {
    const port = await freePort();
    const childEnv: Record<string, string | undefined> = {
      ...process.env,
      MONGODB_URI: uri,
      HTTP_PORT: String(port),
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...env,
    };
    if (!env.SECRET_KEY) delete childEnv.SECRET_KEY;
    const child = spawn(process.execPath, [CLI, 'serve', '--roles', 'http'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d));
    child.stderr.on('data', (d) => (logs += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let ready = false;
    for (let i = 0; i < 300 && !ready; i++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0, logs);
    assert.ok(ready, logs);
    return logs;
  }

  test('serve announces the development key with a warning at every start, and never logs a key', { timeout: 120_000 }, async () => {
    const file = join(dir, 'serve', 'secret_key');
    for (let start = 0; start < 2; start++) {
      const logs = await startAndStop({ SECRET_KEY_FILE: file });
      const warning = logs
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((l) => /SECRET_KEY is not set/.test(l.msg));
      assert.ok(warning, `start ${start + 1}: ${logs}`);
      assert.equal(warning.level, 40);
      assert.ok(!logs.includes(readFileSync(file, 'utf8').trim()), 'the key is never logged');
    }
    const quiet = await startAndStop({ SECRET_KEY: 'a-production-key-0123456789' });
    assert.doesNotMatch(quiet, /SECRET_KEY is not set/);
  });
});
