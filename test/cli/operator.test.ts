import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import request from 'supertest';
import { CLI, cliAgainstTestStore } from '../helpers/cli';
import { bearer, makeApp } from '../api/helpers';

const SECRET_KEY = 'cli-operator-secret-key-0123456789';

describe('command line: what an operator needs (issue 10 §8)', () => {
  const store = cliAgainstTestStore('cli_operator', SECRET_KEY);
  const cli = (args: string[], env: Record<string, string> = {}) => store.run(args, env);

  test('--help on every command exits 0 and shows its usage', () => {
    for (const args of [
      [],
      ['serve'],
      ['org', 'create'],
      ['org', 'list'],
      ['token', 'create'],
      ['token', 'list'],
      ['token', 'revoke'],
      ['connection', 'create'],
      ['connection', 'list'],
      ['connection', 'show'],
      ['connection', 'delete'],
      ['sync'],
      ['events', 'tail'],
    ]) {
      const res = spawnSync(process.execPath, [CLI, ...args, '--help'], { env: { ...process.env, MONGODB_URI: '' }, encoding: 'utf8' });
      assert.equal(res.status, 0, `${args.join(' ')} --help: ${res.stderr}`);
      assert.match(res.stdout, /audience-sync/);
      if (args.length === 2 && args[0] !== 'sync' && args[0] !== 'events')
        assert.match(res.stdout, new RegExp(`audience-sync ${args.join(' ')}`), args.join(' '));
    }
  });

  test('org list, token list and revoke, named tokens as audit actors; a member token without a permission is refused', async () => {
    const { id: orgId } = cli(['org', 'create', '--name', 'Operators', '--json']).json();
    const orgs = cli(['org', 'list', '--json']);
    assert.equal(orgs.code, 0, orgs.stderr);
    assert.ok(orgs.json().items.some((o: { id: string; name: string }) => o.id === orgId && o.name === 'Operators'));

    const owner = cli(['token', 'create', '--org', orgId, '--role', 'owner', '--name', 'deploy-bot', '--json']);
    assert.equal(owner.code, 0, owner.stderr);
    const { token, id: tokenId, name } = owner.json();
    assert.equal(name, 'deploy-bot');
    const member = cli(['token', 'create', '--org', orgId, '--role', 'member', '--json']);
    assert.equal(member.code, 2);
    assert.match(member.stderr, /--permission recipients:read/);
    assert.equal(cli(['token', 'create', '--org', orgId, '--role', 'member', '--permission', 'recipients:read', '--json']).code, 0);

    const list = cli(['token', 'list', '--org', orgId, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const items = list.json().items as { id: string; name: string | null; role: string }[];
    assert.deepEqual(
      items.map((t) => [t.name, t.role]).sort(),
      [
        ['deploy-bot', 'owner'],
        [null, 'member'],
      ].sort(),
    );
    assert.ok(!list.stdout.includes(token) && !/hash/i.test(list.stdout), 'no secret listed');
    const human = cli(['token', 'list', '--org', orgId]);
    assert.match(human.stdout, /deploy-bot/);
    assert.ok(!human.stdout.includes(token));

    // The named token acts through the API: audit events show its name as the actor.
    const app = makeApp();
    const created = await request(app).post('/api/v1/connections').set(bearer(token)).send({ type: 'csv', name: 'HR' });
    assert.equal(created.status, 201);
    const audit = await request(app).get('/api/v1/audit-events').set(bearer(token));
    const ev = audit.body.items.find((e: { action: string }) => e.action === 'connection.create');
    assert.equal(ev.actor, 'deploy-bot');
    assert.equal(ev.actorId, tokenId);

    const revoked = cli(['token', 'revoke', tokenId, '--json']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.json().revoked, true);
    assert.equal((await request(app).get('/api/v1/connections').set(bearer(token))).status, 401, 'a revoked token no longer works');
    assert.equal(cli(['token', 'revoke', tokenId]).code, 1);
    assert.equal(cli(['token', 'list', '--org', 'no-such-org']).code, 1);
    assert.equal(cli(['token', 'list']).code, 2, '--org is required');
  });

  test('connection list, show and delete print no secret', () => {
    const { id: orgId } = cli(['org', 'create', '--name', 'Conns', '--json']).json();
    const scim = cli(['connection', 'create', '--org', orgId, '--type', 'scim', '--provider', 'okta', '--name', 'Okta', '--json']).json();
    const sftp = cli(['connection', 'create', '--org', orgId, '--type', 'sftp', '--json']).json();
    const hris = cli(['connection', 'create', '--org', orgId, '--type', 'hris', '--access-token', 'finch-very-secret', '--json']).json();
    const secrets = [scim.token, sftp.password, 'finch-very-secret'];

    const list = cli(['connection', 'list', '--org', orgId, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const items = list.json().items as { id: string; type: string; name: string }[];
    assert.deepEqual(items.map((c) => c.id).sort(), [scim.id, sftp.id, hris.id].sort());
    for (const s of secrets) assert.ok(!list.stdout.includes(s), 'no secret listed');
    assert.ok(!/hash|Enc"/i.test(list.stdout));

    const show = cli(['connection', 'show', scim.id, '--json']);
    assert.equal(show.code, 0, show.stderr);
    const shown = show.json();
    assert.equal(shown.name, 'Okta');
    assert.equal(shown.provider, 'okta');
    assert.equal(shown.people, 0);
    assert.match(shown.scimBaseUrl, new RegExp(`/scim/v2/${scim.id}$`));
    for (const id of [sftp.id, hris.id]) {
      const s = cli(['connection', 'show', id]);
      assert.equal(s.code, 0, s.stderr);
      for (const secret of secrets) assert.ok(!s.stdout.includes(secret));
    }

    const del = cli(['connection', 'delete', sftp.id, '--json']);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.json().deleted, true);
    assert.equal(cli(['connection', 'show', sftp.id]).code, 1);
    assert.equal(cli(['connection', 'list', '--org', orgId, '--json']).json().items.length, 2);
    assert.equal(cli(['connection', 'show']).code, 2);
  });
});
