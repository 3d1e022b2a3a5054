import { Router } from 'express';
import { z } from 'zod';
import {
  applyHeldRun,
  discardHeldRun,
  findConnection,
  getSyncRun,
  keepRunAlive,
  recordAudit,
  syncConnectionOf,
  syncRunItemPage,
  syncRunItems,
} from '../../store';
import { cell, streamCsvLines, wantsBom } from '../csvExport';
import { principal, requireAccess } from '../auth';
import { loadOwned } from '../owned';
import { presentSyncRun } from '../present';
import { ApiError } from '../problem';
import { decodeCursor, encodeCursor, idPage, pageQuery, parseQuery, idParam } from '../validate';

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

  // Every row error of a run as CSV (line, reason), streamed: the run document shows only the first ones.
  r.get('/:id/errors', async (req, res) => {
    const run = await load(idParam(req), principal(req).orgId);
    async function* lines(): AsyncGenerator<string> {
      for await (const e of syncRunItems(run._id, 'error')) yield `${cell(e.line ?? null)},${cell(e.reason ?? '')}\r\n`;
    }
    await streamCsvLines(res, ['line', 'reason'], lines(), `sync-run-${run._id}-errors.csv`, { bom: wantsBom(req.query) });
  });

  // Who a run held by the mass-removal guard would remove or deactivate, paged.
  r.get('/:id/review', async (req, res) => {
    const run = await load(idParam(req), principal(req).orgId);
    const q = parseQuery(z.object(pageQuery), req.query);
    const after = decodeCursor(q.cursor);
    if (after !== null && !after.startsWith(`${run._id}:review:`))
      throw new ApiError(400, 'invalid-cursor', 'the cursor is not one this API returned');
    const page = await syncRunItemPage(run._id, 'review', after, q.limit);
    res.json({
      status: run.status,
      review: run.review ?? null,
      items: page.items.map((i) => ({ key: i.key ?? '', email: i.email ?? null, change: i.change ?? 'remove' })),
      nextCursor: page.more ? encodeCursor(page.lastId) : null,
    });
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
