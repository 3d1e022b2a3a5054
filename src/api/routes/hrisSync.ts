import { Router } from 'express';
import { connectionKind, loadHrisConnection, recordAudit, requestHrisSync } from '../../store';
import { principal, requireAccess } from '../auth';
import { ApiError, notFound } from '../problem';
import { idParam } from '../validate';

/**
 * On-demand HRIS syncs. The API does not run syncs (no ingest path imports another): it queues a run in the store and
 * the worker role's HRIS scheduler (src/hris/scheduler.ts) takes it within a poll interval.
 */
export function hrisSyncRoutes(): Router {
  const r = Router();
  r.use(requireAccess('manage'));

  r.post('/:id/sync', async (req, res) => {
    const p = principal(req);
    const id = idParam(req);
    const kind = await connectionKind(id);
    // Another organization's connection answers exactly like a missing one.
    if (!kind || kind.orgId !== p.orgId) throw notFound('connection');
    if (kind.type !== 'hris')
      throw new ApiError(400, 'wrong-connection-type', `only hris connections sync through Finch (this is a ${kind.type} connection)`);
    const conn = await loadHrisConnection(id);
    if (!conn) throw notFound('connection');
    if (conn.mode === 'assisted') {
      throw new ApiError(
        409,
        'invalid-state',
        "assisted connections sync on their weekly schedule only: Finch's assisted integrations refresh their data about once a week, so an on-demand sync would read nothing new",
      );
    }
    const { runId, created } = await requestHrisSync(conn);
    await recordAudit(p.orgId, p.tokenId, 'connection.sync', conn._id, { syncRunId: runId, created });
    res.status(202).location(`/api/v1/sync-runs/${runId}`).json({ syncRunId: runId });
  });

  return r;
}
