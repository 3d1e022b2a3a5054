import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createConnection, createOrganization, readColumnMapping } from '../../src/store';
import { AuditEvent } from '../../src/store/models';
import { cliAgainstTestStore } from '../helpers/cli';

const env = { publicUrl: 'http://localhost:8080', secretKey: 'cli-test-secret-key-0123456789' };

describe('command line: connection mapping', () => {
  const store = cliAgainstTestStore('cli_mapping', env.secretKey);
  const cli = (args: string[], env: Record<string, string> = {}) => store.run(args, env);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mapping-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('shows, sets (--set, --file), removes entries, clears and refuses bad mappings', async () => {
    const org = await createOrganization('Acme');
    const { id } = await createConnection({ orgId: org.id, type: 'sftp' }, env);

    const shown = cli(['connection', 'mapping', id, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(shown.json(), { connectionId: id, mapping: {} });

    const set = cli([
      'connection',
      'mapping',
      id,
      '--set',
      'Login=email',
      '--set',
      'Squad = department_name',
      '--set',
      'Pay=ignore',
      '--json',
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(set.json().mapping, { Login: 'email', Squad: 'department_name', Pay: 'ignore' });
    assert.deepEqual((await readColumnMapping(org.id, id))!.mapping, { Login: 'email', Squad: 'department_name', Pay: 'ignore' });
    assert.equal(await AuditEvent.countDocuments({ orgId: org.id, action: 'connection.column-mapping', actor: 'cli' }).exec(), 1);

    // --set merges: `Pay=` removes an entry, a new target replaces an old one.
    const merged = cli(['connection', 'mapping', id, '--set', 'Pay=', '--set', 'squad=custom:squad', '--json']);
    assert.equal(merged.code, 0, merged.stderr);
    assert.deepEqual(merged.json().mapping, { Login: 'email', squad: 'custom:squad' });

    const file = join(dir, 'mapping.json');
    writeFileSync(file, JSON.stringify({ mapping: { 'E-mail': 'email', Title: 'job_title' } }));
    const fromFile = cli(['connection', 'mapping', id, '--file', file, '--json']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.deepEqual(fromFile.json().mapping, { 'E-mail': 'email', Title: 'job_title' });

    const human = cli(['connection', 'mapping', id]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /"E-mail" → email/);

    const bad = cli(['connection', 'mapping', id, '--set', 'A=emial']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown target "emial"/);
    const twice = cli(['connection', 'mapping', id, '--set', 'Mail=email']);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, /email is mapped from both "E-mail" and "Mail"/);
    assert.deepEqual(
      (await readColumnMapping(org.id, id))!.mapping,
      { 'E-mail': 'email', Title: 'job_title' },
      'a refused change changes nothing',
    );

    const scim = await createConnection({ orgId: org.id, type: 'scim' }, env);
    const wrong = cli(['connection', 'mapping', scim.id, '--set', 'A=email']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /csv and sftp connections/);
    assert.equal(cli(['connection', 'mapping', 'nope']).code, 2);
    assert.equal(cli(['connection', 'mapping', '--help']).code, 0);

    const cleared = cli(['connection', 'mapping', id, '--clear', '--json']);
    assert.equal(cleared.code, 0);
    assert.deepEqual(cleared.json().mapping, {});
  });
});
