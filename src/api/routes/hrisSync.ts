import { connectionKind, loadHrisConnection, recordAudit, requestHrisSync } from '../../store';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { ApiError, notFound } from '../problem';
import { UploadAccepted, idParams } from '../schemas';

export const hrisSyncOps = {
  sync: operation({
    method: 'post',
    path: '/connections/{id}/sync',
    access: 'manage',
    summary: 'Start an on-demand sync of an automated hris connection (the worker runs it; follow the sync run)',
    params: idParams,
    responses: {
      202: { description: 'queued (or the run already queued or running); follow the sync run', json: UploadAccepted },
      409: { description: 'assisted connections have no on-demand sync; not an hris connection (wrong-connection-type)', problem: true },
    },
  }),
};

/**
 * On-demand HRIS syncs. The API does not run syncs (no ingest path imports another): it queues a run in the store and
 * the worker role's HRIS scheduler (src/hris/scheduler.ts) takes it within a poll interval.
 */
export function hrisSyncRoutes(api: ApiRoutes): void {
  api.add(hrisSyncOps.sync, async (req, res, { params }) => {
    const p = principal(req);
    const id = params.id;
    const kind = await connectionKind(id);
    // Another organization's connection answers exactly like a missing one.
    if (!kind || kind.orgId !== p.orgId) throw notFound('connection');
    if (kind.type !== 'hris')
      throw new ApiError(409, 'wrong-connection-type', `only hris connections sync through Finch (this is a ${kind.type} connection)`);
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
}
