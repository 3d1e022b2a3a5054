import { readFileSync } from 'node:fs';
import { validateColumnMapping } from '../csv';
import { readColumnMapping, recordAudit, ValidationError, writeColumnMapping } from '../store';

export interface MappingCommand {
  connectionId: string;
  /** `Header=target` entries merged into the stored mapping; `Header=` removes the header's entry. */
  set: string[];
  /** A JSON file with the whole mapping (`{"Header": "target"}` or `{"mapping": {...}}`): replaces the stored one. */
  file?: string;
  /** Removes the mapping. */
  clear: boolean;
}

function readMappingFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ValidationError(`${path} is not a JSON file: ${(err as Error).message}`);
  }
  const obj = parsed && typeof parsed === 'object' && 'mapping' in parsed ? parsed.mapping : parsed;
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw new ValidationError(`${path} holds no mapping object ({"Header": "target", ...})`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new ValidationError(`${path}: the target of ${JSON.stringify(k)} is not a string`);
    out[k] = v;
  }
  return out;
}

/**
 * `audience-sync connection mapping ID [--set 'Header=target' ...] [--file mapping.json] [--clear]`: shows or changes the
 * column mapping of a csv or sftp connection; returns the mapping now stored.
 */
export async function connectionMapping(cmd: MappingCommand): Promise<{ connectionId: string; mapping: Record<string, string> }> {
  const found = await readColumnMapping(null, cmd.connectionId);
  if (!found) throw new ValidationError(`connection ${cmd.connectionId} does not exist`);
  if (found.type !== 'csv' && found.type !== 'sftp')
    throw new ValidationError(`column mappings apply to csv and sftp connections; this one is ${found.type}`);
  if (!cmd.set.length && cmd.file === undefined && !cmd.clear) return { connectionId: cmd.connectionId, mapping: found.mapping };

  let next: Record<string, string> = cmd.clear ? {} : cmd.file !== undefined ? readMappingFile(cmd.file) : { ...found.mapping };
  for (const entry of cmd.set) {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0) throw new ValidationError(`--set takes Header=target (got ${JSON.stringify(entry)})`);
    const header = entry.slice(0, eq).trim();
    const target = entry.slice(eq + 1).trim();
    // The same header spelled differently replaces the earlier entry.
    next = Object.fromEntries(Object.entries(next).filter(([h]) => h.trim().toLowerCase() !== header.toLowerCase()));
    if (target) next[header] = target;
  }
  const checked = validateColumnMapping(next);
  if ('errors' in checked) throw new ValidationError(checked.errors.map((e) => e.message).join('; '));
  await writeColumnMapping(null, cmd.connectionId, checked.mapping);
  await recordAudit(found.orgId, 'cli', 'connection.column-mapping', cmd.connectionId, { headers: Object.keys(checked.mapping).length });
  return { connectionId: cmd.connectionId, mapping: checked.mapping };
}
