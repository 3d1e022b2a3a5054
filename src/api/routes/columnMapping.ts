import { z } from 'zod';
import { validateColumnMapping } from '../../csv';
import { readColumnMapping, recordAudit, writeColumnMapping } from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { ApiError, notFound } from '../problem';
import { COLUMN_TARGET_PATTERN, ColumnMapping, idParams, wrongConnectionType } from '../schemas';

const putSchema = z.strictObject({
  /** CSV header → email | status | groups | action | ignore | custom:<name> | an attribute name (checked by the CSV library). */
  mapping: z.record(z.string(), z.string()).meta({
    description: 'CSV header → email | status | groups | action | ignore | custom:<name> | an attribute name',
    propertyNames: { minLength: 1, maxLength: 200 },
    additionalProperties: { type: 'string', pattern: COLUMN_TARGET_PATTERN },
    maxProperties: 500,
  }),
});

export const columnMappingOps = {
  get: operation({
    method: 'get',
    path: '/connections/{id}/column-mapping',
    access: 'manage',
    summary: 'The explicit column mapping of a csv or sftp connection',
    params: idParams,
    responses: { 200: { description: 'OK', json: ColumnMapping }, ...wrongConnectionType },
  }),
  put: operation({
    method: 'put',
    path: '/connections/{id}/column-mapping',
    access: 'manage',
    summary:
      'Replace the column mapping of a csv or sftp connection ({} clears it); it overrides header detection for the headers it names',
    params: idParams,
    body: putSchema,
    responses: { 200: { description: 'OK', json: ColumnMapping }, ...wrongConnectionType },
  }),
};

/** Loads a connection's mapping; only csv and sftp connections read CSV files. */
async function load(orgId: string, id: string) {
  const found = await readColumnMapping(orgId, id);
  if (!found) throw notFound('connection');
  if (found.type !== 'csv' && found.type !== 'sftp') {
    throw new ApiError(409, 'wrong-connection-type', `column mappings apply to csv and sftp connections; this one is ${found.type}`);
  }
  return found;
}

/** `GET|PUT /connections/{id}/column-mapping`: the explicit column mapping of a csv or sftp connection (owners and admins). */
export function columnMappingRoutes(api: ApiRoutes): void {
  api.add(columnMappingOps.get, async (req, res, { params }) => {
    const id = params.id;
    const { mapping } = await load(principal(req).orgId, id);
    res.json({ connectionId: id, mapping });
  });
  api.add(columnMappingOps.put, async (req, res, { params, body }) => {
    const p = principal(req);
    const id = params.id;
    await load(p.orgId, id);
    const checked = validateColumnMapping(body.mapping);
    if ('errors' in checked) {
      const first = checked.errors[0]!;
      throw new ApiError(400, 'invalid-body', `${first.path}: ${first.message}`, { errors: checked.errors });
    }
    if (!(await writeColumnMapping(p.orgId, id, checked.mapping))) throw notFound('connection');
    await recordAudit(p.orgId, p.tokenId, 'connection.column-mapping', id, { headers: Object.keys(checked.mapping).length });
    res.json({ connectionId: id, mapping: checked.mapping });
  });
}
