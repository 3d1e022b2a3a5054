import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { validateColumnMapping } from '../../csv';
import { readColumnMapping, recordAudit, writeColumnMapping } from '../../store';
import { principal, requireAccess } from '../auth';
import { ApiError, notFound } from '../problem';
import { idParam, parseBody } from '../validate';

const putSchema = z.strictObject({
  /** CSV header → email | status | groups | action | ignore | custom:<name> | an attribute name. */
  mapping: z.record(z.string(), z.string()),
});

/** Loads a connection's mapping; only csv and sftp connections read CSV files. */
async function load(orgId: string, id: string) {
  const found = await readColumnMapping(orgId, id);
  if (!found) throw notFound('connection');
  if (found.type !== 'csv' && found.type !== 'sftp') {
    throw new ApiError(400, 'wrong-connection-type', `column mappings apply to csv and sftp connections; this one is ${found.type}`);
  }
  return found;
}

/** `GET|PUT /connections/{id}/column-mapping`: the explicit column mapping of a csv or sftp connection (owners and admins). */
export function columnMappingRoutes(json: RequestHandler): Router {
  const r = Router();
  r.get('/:id/column-mapping', requireAccess('manage'), async (req, res) => {
    const id = idParam(req);
    const { mapping } = await load(principal(req).orgId, id);
    res.json({ connectionId: id, mapping });
  });
  r.put('/:id/column-mapping', requireAccess('manage'), json, async (req, res) => {
    const p = principal(req);
    const id = idParam(req);
    await load(p.orgId, id);
    const body = parseBody(putSchema, req.body);
    const checked = validateColumnMapping(body.mapping);
    if ('errors' in checked) {
      const first = checked.errors[0]!;
      throw new ApiError(400, 'invalid-body', `${first.path}: ${first.message}`, { errors: checked.errors });
    }
    if (!(await writeColumnMapping(p.orgId, id, checked.mapping))) throw notFound('connection');
    await recordAudit(p.orgId, p.tokenId, 'connection.column-mapping', id, { headers: Object.keys(checked.mapping).length });
    res.json({ connectionId: id, mapping: checked.mapping });
  });
  return r;
}
