import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { utils } from 'ssh2';
import { generateEd25519KeyPair, loadOrCreateHostKey } from '../../../src/sftp';

describe('SFTP keys', () => {
  test('every generated ed25519 key loads (ssh2 alone drops a leading zero byte: about one key in 256 is malformed)', () => {
    // 2,000 keys: with the bug, all of them loading has a chance of (255/256)^2000, about 0.04 %.
    for (let i = 0; i < 2000; i++) {
      const pair = generateEd25519KeyPair('test');
      const parsed = utils.parseKey(pair.private);
      assert.ok(!(parsed instanceof Error), `key ${i}: ${parsed instanceof Error ? parsed.message : ''}`);
      assert.equal(parsed.type, 'ssh-ed25519');
      assert.match(pair.public, /^ssh-ed25519 \S+ test$/);
    }
  });

  test('the host key is created once, mode 600, and its fingerprint is stable across starts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'host-key-'));
    try {
      const path = join(dir, 'keys', 'host_ed25519');
      const first = loadOrCreateHostKey(path);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.match(first.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
      const again = loadOrCreateHostKey(path);
      assert.equal(again.fingerprint, first.fingerprint);
      assert.deepEqual(readFileSync(path), first.key);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
