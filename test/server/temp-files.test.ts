import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { STALE_TEMP_DIR_MS, TEMP_DIR_PREFIXES, removeStaleTempDirs } from '../../src/server/tempFiles';

/** Temporary directories a stopped process left (upload spools, local copies) are removed at start; live ones stay. */
describe('stale temporary directories', () => {
  const root = mkdtempSync(join(tmpdir(), 'temp-files-test-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  test('only this service’s directories older than a day go', async () => {
    const now = Date.now();
    const old = (now - STALE_TEMP_DIR_MS - 60_000) / 1000;
    const make = (name: string, mtime?: number) => {
      const dir = join(root, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'file'), 'x'.repeat(1000));
      if (mtime !== undefined) utimesSync(dir, mtime, mtime);
      return dir;
    };
    const [spool, copy] = TEMP_DIR_PREFIXES;
    const staleSpool = make(`${spool}abc123`, old);
    const staleCopy = make(`${copy}def456`, old);
    const liveCopy = make(`${copy}ghi789`);
    const someoneElses = make('other-program-xyz', old);
    assert.deepEqual((await removeStaleTempDirs(root, STALE_TEMP_DIR_MS, now)).sort(), [`${spool}abc123`, `${copy}def456`].sort());
    assert.equal(existsSync(staleSpool), false);
    assert.equal(existsSync(staleCopy), false);
    assert.ok(existsSync(join(liveCopy, 'file')));
    assert.ok(existsSync(someoneElses));
    assert.deepEqual(await removeStaleTempDirs(root, STALE_TEMP_DIR_MS, now), []);
  });
});
