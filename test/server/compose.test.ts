import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

/** compose.yaml (issue 10 §9): MongoDB with authentication, a bootstrap recipe, only ports that serve something. */
describe('compose.yaml', () => {
  const text = readFileSync(join(__dirname, '..', '..', '..', 'compose.yaml'), 'utf8');
  /** The lines of one top-level service (two-space indented key under `services:`). */
  const service = (name: string): string => {
    const lines = text.split('\n');
    const start = lines.findIndex((l) => l === `  ${name}:`);
    assert.ok(start >= 0, `service ${name}`);
    const end = lines.findIndex((l, i) => i > start && /^ {2}\S/.test(l));
    return lines
      .slice(start, end < 0 ? undefined : end)
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
  };

  test('MongoDB runs with a root user and password, and the service connects with them', () => {
    const mongo = service('mongo');
    assert.match(mongo, /MONGO_INITDB_ROOT_USERNAME: \S+/);
    assert.match(mongo, /MONGO_INITDB_ROOT_PASSWORD: \$\{MONGO_PASSWORD:\?/);
    assert.match(
      service('audience-sync'),
      /MONGODB_URI: mongodb:\/\/audience:\$\{MONGO_PASSWORD[^}]*\}@mongo:27017\/audience_sync\?authSource=admin/,
    );
  });

  test('only the service publishes ports: HTTP and SFTP; MongoDB none', () => {
    assert.doesNotMatch(service('mongo'), /^\s+ports:/m);
    const ports = [...service('audience-sync').matchAll(/^\s+- (["']?)(\d+):(\d+)\1$/gm)].map((m) => m[3]);
    assert.deepEqual(ports, ['8080', '2222']);
  });

  test('documents how to bootstrap an organization and a token inside the stack, and a stop grace above the shutdown bound', () => {
    assert.match(text, /docker compose exec audience-sync node dist\/src\/cli\/main\.js org create/);
    assert.match(text, /docker compose exec audience-sync node dist\/src\/cli\/main\.js token create --org \S+ --role owner/);
    const grace = /stop_grace_period: (\d+)s/.exec(service('audience-sync'));
    assert.ok(grace && Number(grace[1]) > 25 + 8, 'grace above SHUTDOWN_TIMEOUT_SECONDS plus the margin');
  });
});
