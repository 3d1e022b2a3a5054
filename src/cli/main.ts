#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { ALL_ROLES, startService, type Role } from '../server/serve';
import { connectionMapping } from './columnMapping';
import { connectionScimSettings, parseCustomAttributes } from './scimSettings';
import { createLogger } from '../server/logger';
import { presentSyncRun } from '../api/present';
import { runHrisSync } from '../hris/sync';
import { watchParent } from '../server/parentWatch';
import { NotFoundError, OPERATOR_USAGE, OperatorUsageError, runOperatorCommand, withStore } from './commands/operator';
import { TailUsageError, eventsTail } from './eventsTail';
import {
  createApiToken,
  createConnection,
  createOrganization,
  organizationExists,
  recordAudit,
  ValidationError,
  connectionKind,
  findActiveHrisRun,
  loadHrisConnection,
  loadSyncRun,
} from '../store';

const USAGE = `audience-sync — keeps an organization's email audience in step with its directory, HR system and CSV files

Usage:
  audience-sync serve [--roles http,sftp,worker]
  audience-sync org create --name NAME [--json]
  audience-sync token create --org ORG --role owner|admin|member [--permission recipients:read] [--name NAME] [--json]
  audience-sync connection create --org ORG --type scim --provider okta|entra|generic|... [--name N] [--extended-attributes]
      [--interop-profile strict|lenient] [--custom-attribute NAME:TYPE[:multi] ...] [--json]
  audience-sync connection create --org ORG --type sftp [--name N] [--public-key FILE] [--json]
  audience-sync connection create --org ORG --type hris --access-token TOKEN [--mode automated|assisted] [--name N] [--json]
  audience-sync connection create --org ORG --type csv|manual [--name N] [--json]
  audience-sync connection mapping ID [--set 'Header=target' ...] [--file mapping.json] [--clear] [--json]
      (csv/sftp column mapping; target: email|status|groups|action|ignore|custom:<name>|an attribute; 'Header=' removes one)
  audience-sync connection scim ID [--interop-profile strict|lenient] [--custom-attribute NAME:TYPE[:multi] ...]
      [--clear-custom-attributes] [--json]   (scim settings; TYPE: string|boolean|integer|decimal|dateTime)
  audience-sync events tail --org ORG [--types T,...] [--after CURSOR]   (JSON lines as events arrive; Ctrl-C stops)

  audience-sync sync CONNECTION_ID        runs one HRIS sync now (automated hris connections), prints the finished run
${OPERATOR_USAGE.map((l) => `  ${l}`).join('\n')}

Every command reads MONGODB_URI (unset: the local store \`npm start\` runs, from .data/local-store.json). Listing
commands never print a secret. Exit codes: 0 ok, 1 failure, 2 invalid usage or configuration.`;

class UsageError extends Error {}

function out(json: boolean, value: Record<string, unknown>, human: string): void {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
}

function requireOpt(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || !v.trim()) throw new UsageError(`--${name} is required`);
  return v;
}

/**
 * `sync ID`: runs one HRIS sync in this process under the connection's lease and prints the finished run. When another
 * process is running the connection, waits for that run and prints it. Exit 0 when the run succeeded, was held for
 * review or is pending (Finch not ready); 1 when it failed (needs_reauth included).
 */
async function syncCommand(config: Config, id: string | undefined, json: boolean): Promise<number> {
  if (!id) throw new UsageError('sync needs the id of an hris connection');
  // Logs go to stderr: stdout carries the run.
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, pino.destination(2));
  const run = await withStore(config, async () => {
    const kind = await connectionKind(id);
    if (!kind) throw new ValidationError(`connection ${id} does not exist`);
    if (kind.type !== 'hris')
      throw new ValidationError(`connection ${id} is a ${kind.type} connection; only hris connections sync through Finch`);
    const conn = await loadHrisConnection(id);
    if (conn?.mode === 'assisted')
      throw new ValidationError('assisted connections sync on their weekly schedule only; there is no on-demand sync');
    const deadline = Date.now() + 24 * 3600_000;
    while (Date.now() < deadline) {
      const res = await runHrisSync(id, { config, logger }, { label: 'cli' });
      if (res) return res.run;
      // Another process holds the lease: follow its run to the end.
      const active = await findActiveHrisRun(id);
      if (active) {
        for (;;) {
          const r = await loadSyncRun(active._id);
          if (!r || (r.status !== 'queued' && r.status !== 'running')) return r;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return null;
  });
  if (!run) throw new Error('no sync run could be started or followed');
  const shown = presentSyncRun(run);
  out(json, shown, JSON.stringify(shown, null, 2));
  return run.status === 'failed' ? 1 : 0;
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
      'interop-profile': { type: 'string' },
      'custom-attribute': { type: 'string', multiple: true },
      'clear-custom-attributes': { type: 'boolean', default: false },
      'public-key': { type: 'string', multiple: true },
      'access-token': { type: 'string' },
      mode: { type: 'string' },
      set: { type: 'string', multiple: true },
      file: { type: 'string' },
      clear: { type: 'boolean', default: false },
      types: { type: 'string' },
      after: { type: 'string' },
    },
  });
  const [cmd, sub] = positionals;
  if (values.help || !cmd) {
    // `--help` on a command shows its usage lines (all of them for an unknown one); it always exits 0.
    const prefix = ['audience-sync', cmd, sub].filter(Boolean).join(' ');
    const lines = USAGE.split('\n').filter((l) => l.trim().startsWith(prefix + ' ') || l.trim() === prefix);
    process.stdout.write((cmd && lines.length ? `Usage:\n${lines.join('\n')}` : USAGE) + '\n');
    return values.help ? 0 : 2;
  }
  const config = loadConfig();
  const json = Boolean(values.json);

  switch (`${cmd} ${sub ?? ''}`.trim()) {
    case 'serve': {
      const roles = (values.roles ?? ALL_ROLES.join(','))
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean);
      for (const r of roles)
        if (!(ALL_ROLES as readonly string[]).includes(r)) throw new UsageError(`unknown role "${r}" (roles: ${ALL_ROLES.join(', ')})`);
      const service = await startService(config, roles as Role[]);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const shutdown = (signal: string) => {
          // A second signal (Ctrl-C reaches the whole process group, and npm forwards it too) changes nothing.
          if (stopping) return;
          stopping = true;
          service.logger.info({ signal }, 'shutting down');
          service.stop().then(resolve, (err: Error) => {
            service.logger.error({ errName: err?.name, errMessage: err?.message }, 'shutdown failed');
            resolve();
          });
        };
        process.on('SIGTERM', () => shutdown('SIGTERM'));
        process.on('SIGINT', () => shutdown('SIGINT'));
        watchParent(() => shutdown('parent process gone'));
      });
      // Stopped: nothing left may keep the process (and its port or data folder) alive for long.
      setTimeout(() => process.exit(process.exitCode ?? 0), 1_000).unref();
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
      // A member reads synced data only with a permission: a member token without one could do nothing.
      if (role === 'member' && !(values.permission ?? []).length) {
        throw new UsageError('a member token without --permission can read nothing; add --permission recipients:read');
      }
      const res = await withStore(config, async () => {
        if (!(await organizationExists(orgId))) throw new ValidationError(`organization ${orgId} does not exist`);
        const t = await createApiToken(orgId, role, values.permission ?? [], values.name ?? null);
        await recordAudit(orgId, 'cli', 'token.create', t.id, { role: t.role, permissions: t.permissions, name: values.name ?? null });
        return t;
      });
      out(
        json,
        { token: res.token, id: res.id, role: res.role, permissions: res.permissions, name: values.name ?? null },
        `token (shown once): ${res.token}`,
      );
      return 0;
    }
    case 'connection create': {
      const orgId = requireOpt(values, 'org');
      const type = requireOpt(values, 'type');
      // A key file may be an authorized_keys file: one key per line (comments and blank lines skipped).
      const publicKeys = (values['public-key'] ?? []).flatMap((f) =>
        readFileSync(f, 'utf8')
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#')),
      );
      const created = await withStore(config, async () => {
        const c = await createConnection(
          {
            orgId,
            type,
            name: values.name,
            provider: values.provider,
            extendedAttributes: Boolean(values['extended-attributes']),
            interopProfile: values['interop-profile'],
            customAttributes: values['custom-attribute'] ? parseCustomAttributes(values['custom-attribute']) : undefined,
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
      if (created.scimBaseUrl)
        human.push(
          `SCIM base URL: ${created.scimBaseUrl}`,
          `SCIM 1.1 base URL (Okta): ${created.scim11BaseUrl}`,
          `bearer token (shown once): ${created.token}`,
        );
      if (created.username) human.push(`SFTP username: ${created.username}`, `password (shown once): ${created.password}`);
      out(json, shape, human.join('\n'));
      return 0;
    }
    case 'connection mapping': {
      const id = positionals[2];
      if (!id) throw new UsageError('connection mapping needs the connection id');
      const res = await withStore(config, () =>
        connectionMapping({ connectionId: id, set: values.set ?? [], file: values.file, clear: Boolean(values.clear) }),
      );
      const lines = Object.entries(res.mapping).map(([h, t]) => `${JSON.stringify(h)} → ${t}`);
      out(json, res, lines.length ? lines.join('\n') : `connection ${id} has no column mapping (headers are detected)`);
      return 0;
    }
    case 'connection scim': {
      const id = positionals[2];
      if (!id) throw new UsageError('connection scim needs the connection id');
      const res = await withStore(config, () =>
        connectionScimSettings({
          connectionId: id,
          interopProfile: values['interop-profile'],
          customAttributes: values['custom-attribute'],
          clearCustomAttributes: Boolean(values['clear-custom-attributes']),
        }),
      );
      const lines = [
        `interop profile: ${res.interopProfile}`,
        `custom attributes: ${res.customAttributes.map((a) => `${a.name}:${a.type}${a.multiValued ? ':multi' : ''}`).join(', ') || 'none'}`,
        `unknown attributes sent: ${res.unknownScimAttributes.map((u) => u.name).join(', ') || 'none'}`,
      ];
      out(json, res, lines.join('\n'));
      return 0;
    }
    case 'events tail': {
      const after = values.after === undefined ? undefined : Number(values.after);
      if (after !== undefined && !(Number.isInteger(after) && after >= 0)) throw new UsageError('--after must be an event cursor');
      const types = values.types
        ?.split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      try {
        await eventsTail(config, { org: requireOpt(values, 'org'), types, after });
      } catch (err) {
        if (err instanceof TailUsageError) throw new UsageError(err.message);
        throw err;
      }
      return 0;
    }
    default: {
      if (cmd === 'sync') return syncCommand(config, sub, json);
      const code = await runOperatorCommand(config, { positionals, org: values.org, json });
      if (code !== null) return code;
      throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof NotFoundError) {
      process.stderr.write(`audience-sync: ${err.message}\n`);
      process.exitCode = 1;
    } else if (
      err instanceof ConfigError ||
      err instanceof UsageError ||
      err instanceof OperatorUsageError ||
      (err as { code?: string }).code?.startsWith?.('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`audience-sync: ${(err as Error).message}\n`);
      if (err instanceof UsageError || err instanceof OperatorUsageError) process.stderr.write(`run \`audience-sync --help\` for usage\n`);
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
