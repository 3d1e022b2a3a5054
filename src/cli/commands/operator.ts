import type { Config } from '../../config/config';
import {
  connectStore,
  disconnectStore,
  listConnectionSummaries,
  listOrganizations,
  listTokenSummaries,
  organizationExists,
  recordAudit,
  removeConnection,
  revokeTokenById,
  showConnection,
} from '../../store';

/**
 * The operator's read and clean-up commands (SPEC §4): `org list`, `token list --org`, `token revoke ID`,
 * `connection list --org`, `connection show ID`, `connection delete ID`. Output is `{"items": [...]}` or the object
 * with --json, a short table otherwise; never a secret.
 */

export const OPERATOR_USAGE = [
  'audience-sync org list [--json]',
  'audience-sync token list --org ORG [--json]',
  'audience-sync token revoke TOKEN_ID [--json]',
  'audience-sync connection list --org ORG [--json]',
  'audience-sync connection show CONNECTION_ID [--json]',
  'audience-sync connection delete CONNECTION_ID [--json]',
];

export class OperatorUsageError extends Error {}
/** A named thing that does not exist (exit 1). */
export class NotFoundError extends Error {}

export interface OperatorArgs {
  positionals: string[];
  org?: string;
  json: boolean;
}

/** Runs `fn` with the store connected (and disconnects after): every CLI command but `serve` and `events tail`. */
export async function withStore<T>(config: Config, fn: () => Promise<T>): Promise<T> {
  await connectStore(config.MONGODB_URI, { serverSelectionTimeoutMS: 15_000 });
  try {
    return await fn();
  } finally {
    await disconnectStore();
  }
}

function print(json: boolean, value: unknown, human: string): void {
  process.stdout.write(json ? JSON.stringify(value) + '\n' : human + '\n');
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (!rows.length) return '(none)';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- cells are JSON scalars from the store; String() is the intended coercion
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : Array.isArray(v) ? v.join(',') || '-' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

function requireOrg(a: OperatorArgs): string {
  if (!a.org?.trim()) throw new OperatorUsageError('--org is required');
  return a.org;
}

function requireId(a: OperatorArgs, what: string): string {
  const id = a.positionals[2];
  if (!id?.trim()) throw new OperatorUsageError(`the ${what} id is required`);
  if (a.positionals.length > 3) throw new OperatorUsageError(`unexpected arguments: ${a.positionals.slice(3).join(' ')}`);
  return id;
}

/** Runs an operator command; null when `cmd sub` is not one of them. */
export async function runOperatorCommand(config: Config, a: OperatorArgs): Promise<number | null> {
  const [cmd, sub] = a.positionals;
  switch (`${cmd ?? ''} ${sub ?? ''}`) {
    case 'org list': {
      const items = await withStore(config, listOrganizations);
      print(a.json, { items }, table(items as unknown as Record<string, unknown>[], ['id', 'name', 'createdAt']));
      return 0;
    }
    case 'token list': {
      const orgId = requireOrg(a);
      const items = await withStore(config, async () => {
        if (!(await organizationExists(orgId))) throw new NotFoundError(`organization ${orgId} does not exist`);
        return listTokenSummaries(orgId);
      });
      print(
        a.json,
        { items },
        table(items as unknown as Record<string, unknown>[], ['id', 'name', 'role', 'permissions', 'createdAt', 'lastUsedAt']),
      );
      return 0;
    }
    case 'token revoke': {
      const id = requireId(a, 'token');
      const revoked = await withStore(config, async () => {
        const t = await revokeTokenById(id);
        if (!t) throw new NotFoundError(`token ${id} does not exist`);
        await recordAudit(t.orgId, 'cli', 'token.delete', t.id, { role: t.role, name: t.name });
        return t;
      });
      print(a.json, { ...revoked, revoked: true }, `revoked token ${revoked.id}${revoked.name ? ` (${revoked.name})` : ''}`);
      return 0;
    }
    case 'connection list': {
      const orgId = requireOrg(a);
      const items = await withStore(config, async () => {
        if (!(await organizationExists(orgId))) throw new NotFoundError(`organization ${orgId} does not exist`);
        return listConnectionSummaries(orgId, config.PUBLIC_URL);
      });
      print(
        a.json,
        { items },
        table(items as unknown as Record<string, unknown>[], ['id', 'type', 'name', 'provider', 'scimBaseUrl', 'sftpUsername', 'hrisMode']),
      );
      return 0;
    }
    case 'connection show': {
      const id = requireId(a, 'connection');
      const c = await withStore(config, () => showConnection(id, config.PUBLIC_URL));
      if (!c) throw new NotFoundError(`connection ${id} does not exist`);
      print(
        a.json,
        c,
        Object.entries(c)
          .map(([k, v]) => `${k}: ${v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
          .join('\n'),
      );
      return 0;
    }
    case 'connection delete': {
      const id = requireId(a, 'connection');
      const removed = await withStore(config, async () => {
        const c = await removeConnection(id, config.PUBLIC_URL);
        if (!c) throw new NotFoundError(`connection ${id} does not exist`);
        await recordAudit(c.orgId, 'cli', 'connection.delete', c.id, { type: c.type });
        return c;
      });
      print(a.json, { ...removed, deleted: true }, `deleted ${removed.type} connection ${removed.id} and everything it asserted`);
      return 0;
    }
    default:
      return null;
  }
}
