#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { ALL_ROLES, startService, type Role } from '../server/serve';
import { TailUsageError, eventsTail } from './eventsTail';
import {
  connectStore,
  createApiToken,
  createConnection,
  createOrganization,
  disconnectStore,
  recordAudit,
  Organization,
  ValidationError,
} from '../store';

const USAGE = `audience-sync — keeps an organization's email audience in step with its directory, HR system and CSV files

Usage:
  audience-sync serve [--roles http,sftp,worker]
  audience-sync org create --name NAME [--json]
  audience-sync token create --org ORG --role owner|admin|member [--permission recipients:read] [--json]
  audience-sync connection create --org ORG --type scim --provider okta|entra|generic|... [--name N] [--extended-attributes] [--json]
  audience-sync connection create --org ORG --type sftp [--name N] [--public-key FILE] [--json]
  audience-sync connection create --org ORG --type hris --access-token TOKEN [--mode automated|assisted] [--name N] [--json]
  audience-sync connection create --org ORG --type csv|manual [--name N] [--json]
  audience-sync events tail --org ORG [--types T,...] [--after CURSOR]   (JSON lines as events arrive; Ctrl-C stops)

Every command reads MONGODB_URI. Exit codes: 0 ok, 1 failure, 2 invalid usage or configuration.`;

class UsageError extends Error {}

function out(json: boolean, value: Record<string, unknown>, human: string): void {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
}

function requireOpt(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || !v.trim()) throw new UsageError(`--${name} is required`);
  return v;
}

async function withStore<T>(config: Config, fn: () => Promise<T>): Promise<T> {
  await connectStore(config.MONGODB_URI, { serverSelectionTimeoutMS: 15_000 });
  try {
    return await fn();
  } finally {
    await disconnectStore();
  }
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      roles: { type: 'string' },
      name: { type: 'string' },
      org: { type: 'string' },
      role: { type: 'string' },
      permission: { type: 'string', multiple: true },
      type: { type: 'string' },
      provider: { type: 'string' },
      'extended-attributes': { type: 'boolean', default: false },
      'public-key': { type: 'string', multiple: true },
      'access-token': { type: 'string' },
      mode: { type: 'string' },
      types: { type: 'string' },
      after: { type: 'string' },
    },
  });
  const [cmd, sub] = positionals;
  if (values.help || !cmd) {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  const config = loadConfig();
  const json = Boolean(values.json);

  switch (`${cmd} ${sub ?? ''}`.trim()) {
    case 'serve': {
      const roles = (values.roles ?? ALL_ROLES.join(',')).split(',').map((r) => r.trim()).filter(Boolean);
      for (const r of roles) if (!(ALL_ROLES as readonly string[]).includes(r)) throw new UsageError(`unknown role "${r}" (roles: ${ALL_ROLES.join(', ')})`);
      const service = await startService(config, roles as Role[]);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          service.logger.info({ signal }, 'shutting down');
          service.stop().then(resolve, (err) => {
            service.logger.error({ err }, 'shutdown failed');
            resolve();
          });
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
      return 0;
    }
    case 'org create': {
      const name = requireOpt(values, 'name');
      const org = await withStore(config, () => createOrganization(name));
      out(json, org, `created organization ${org.id} (${org.name})`);
      return 0;
    }
    case 'token create': {
      const orgId = requireOpt(values, 'org');
      const role = requireOpt(values, 'role');
      const res = await withStore(config, async () => {
        if (!(await Organization.exists({ _id: orgId }))) throw new ValidationError(`organization ${orgId} does not exist`);
        const t = await createApiToken(orgId, role, values.permission ?? []);
        await recordAudit(orgId, 'cli', 'token.create', t.id, { role: t.role, permissions: t.permissions });
        return t;
      });
      out(json, { token: res.token, id: res.id, role: res.role, permissions: res.permissions }, `token (shown once): ${res.token}`);
      return 0;
    }
    case 'connection create': {
      const orgId = requireOpt(values, 'org');
      const type = requireOpt(values, 'type');
      const publicKeys = (values['public-key'] ?? []).map((f) => readFileSync(f, 'utf8').trim());
      const created = await withStore(config, async () => {
        const c = await createConnection(
          {
            orgId,
            type,
            name: values.name,
            provider: values.provider,
            extendedAttributes: Boolean(values['extended-attributes']),
            publicKeys,
            accessToken: values['access-token'],
            mode: values.mode as 'automated' | 'assisted' | undefined,
          },
          { publicUrl: config.PUBLIC_URL, secretKey: config.SECRET_KEY },
        );
        await recordAudit(orgId, 'cli', 'connection.create', c.id, { type: c.type });
        return c;
      });
      const { name: _name, ...shape } = created;
      void _name;
      const human = [`created ${created.type} connection ${created.id}`];
      if (created.scimBaseUrl) human.push(`SCIM base URL: ${created.scimBaseUrl}`, `SCIM 1.1 base URL (Okta): ${created.scim11BaseUrl}`, `bearer token (shown once): ${created.token}`);
      if (created.username) human.push(`SFTP username: ${created.username}`, `password (shown once): ${created.password}`);
      out(json, shape as Record<string, unknown>, human.join('\n'));
      return 0;
    }
    case 'events tail': {
      const after = values.after === undefined ? undefined : Number(values.after);
      if (after !== undefined && !(Number.isInteger(after) && after >= 0)) throw new UsageError('--after must be an event cursor');
      const types = values.types?.split(',').map((t) => t.trim()).filter(Boolean);
      try {
        await eventsTail(config, { org: requireOpt(values, 'org'), types, after });
      } catch (err) {
        if (err instanceof TailUsageError) throw new UsageError(err.message);
        throw err;
      }
      return 0;
    }
    case 'sync':
      throw new UsageError('`sync` runs an HRIS sync; the HRIS poller is not part of this build yet');
    default:
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof UsageError || (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`audience-sync: ${(err as Error).message}\n`);
      if (err instanceof UsageError) process.stderr.write(`run \`audience-sync --help\` for usage\n`);
      process.exitCode = 2;
    } else if (err instanceof ValidationError) {
      process.stderr.write(`audience-sync: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`audience-sync: ${(err as Error)?.message ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
