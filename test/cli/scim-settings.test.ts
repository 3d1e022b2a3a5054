import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findConnection } from '../../src/store';
import { cliAgainstTestStore } from '../helpers/cli';

/** Issue #14 item 9 on the command line: a scim connection's interoperability profile and custom attributes. */
describe('command line: scim settings', () => {
  const store = cliAgainstTestStore('cli_scim_settings', 'cli-test-secret-key-0123456789');
  const cli = (args: string[], env: Record<string, string> = {}) => store.run(args, env);

  test('connection create takes --interop-profile and --custom-attribute; connection scim shows and changes them', async () => {
    const org = cli(['org', 'create', '--name', 'Scim settings', '--json']);
    assert.equal(org.code, 0, org.stderr);
    const orgId = org.json().id as string;
    const created = cli([
      'connection',
      'create',
      '--org',
      orgId,
      '--type',
      'scim',
      '--interop-profile',
      'strict',
      '--custom-attribute',
      'costCode:string',
      '--custom-attribute',
      'badges:string:multi',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const id = created.json().id as string;
    const stored = await findConnection(id);
    assert.equal(stored?.interopProfile, 'strict');

    const shown = cli(['connection', 'scim', id, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(shown.json(), {
      id,
      interopProfile: 'strict',
      customAttributes: [
        { name: 'costCode', type: 'string', multiValued: false },
        { name: 'badges', type: 'string', multiValued: true },
      ],
      unknownScimAttributes: [],
    });

    const changed = cli(['connection', 'scim', id, '--interop-profile', 'lenient', '--clear-custom-attributes', '--json']);
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal(changed.json().interopProfile, 'lenient');
    assert.deepEqual(changed.json().customAttributes, []);
    const after = await findConnection(id);
    assert.equal(after?.interopProfile, 'lenient');
    assert.equal(after?.customAttributes, undefined);

    const human = cli(['connection', 'scim', id, '--custom-attribute', 'level:integer']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /custom attributes: level:integer/);

    for (const bad of [
      ['connection', 'scim', id, '--custom-attribute', 'level:float'],
      ['connection', 'scim', id, '--interop-profile', 'pedantic'],
      ['connection', 'scim', id, '--custom-attribute', '9lives:string'],
    ]) {
      const res = cli(bad);
      assert.equal(res.code, 2, `${bad.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /custom.attribute|interopProfile/);
    }
    const sftp = cli(['connection', 'create', '--org', orgId, '--type', 'sftp', '--interop-profile', 'strict', '--json']);
    assert.equal(sftp.code, 2);
    assert.match(sftp.stderr, /scim connections/);
    assert.equal(cli(['connection', 'scim', '--help']).code, 0);
  });
});
