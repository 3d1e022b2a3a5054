import { Router } from 'express';
import { z } from 'zod';
import { applyHeldRun, discardHeldRun, findConnection, getSyncRun, recordAudit, syncConnectionOf } from '../../store';
import { principal, requireAccess } from '../auth';
import { keepRunAlive } from '../../store';
import { loadOwned } from '../owned';
import { presentSyncRun } from '../present';
import { ApiError } from '../problem';
import { idPage, pageQuery, parseQuery, idParam } from '../validate';

const listQuery = z.object({ ...pageQuery, connectionId: z.string().max(100).optional() });

/** Sync runs (uploads, SFTP files, HRIS syncs) and the decisions on runs held by the mass-removal guard. */
export function syncRunRoutes(): Router {
  const r = Router();
  r.use(requireAccess('manage'));
  const load = (id: string, orgId: string) => loadOwned(getSyncRun, id, orgId, 'sync run');

  r.get('/', async (req, res) => {
    const p = principal(req);
    const q = parseQuery(listQuery, req.query);
    const filter: { orgId: string; connectionId?: string } = { orgId: p.orgId };
    if (q.connectionId) filter.connectionId = q.connectionId;
    // Newest first: ids are time-ordered ObjectIds.
    res.json(await idPage('syncRuns', filter, q, presentSyncRun, true));
  });

  r.get('/:id', async (req, res) => {
    res.json(presentSyncRun(await load(idParam(req), principal(req).orgId)));
  });

  r.post('/:id/apply', async (req, res) => {
    const p = principal(req);
    const run = await load(idParam(req), p.orgId);
    const conn = await findConnection(run.connectionId);
    if (!conn || conn.deleting) throw new ApiError(409, 'invalid-state', 'the connection of this sync run was deleted; discard it');
    // Applying a large snapshot takes a while: keep the run visibly alive so it is not taken for abandoned.
    const stopHeartbeat = keepRunAlive(run._id);
    const done = await applyHeldRun(run._id, syncConnectionOf(conn)).finally(stopHeartbeat);
    await recordAudit(p.orgId, p.tokenId, 'sync-run.apply', run._id, { connectionId: run.connectionId, counts: done.counts });
    res.json(presentSyncRun(done));
  });

  r.post('/:id/discard', async (req, res) => {
    const p = principal(req);
    const run = await load(idParam(req), p.orgId);
    const done = await discardHeldRun(run._id);
    await recordAudit(p.orgId, p.tokenId, 'sync-run.discard', run._id, { connectionId: run.connectionId });
    res.json(presentSyncRun(done));
  });

  return r;
}
