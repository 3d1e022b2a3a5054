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
import { bomQuery, cell, streamCsvLines, wantsBom } from '../csvExport';
import { principal } from '../auth';
import { operation, type ApiRoutes } from '../operation';
import { loadOwned } from '../owned';
import { presentSyncRun } from '../present';
import { ApiError } from '../problem';
import { SyncRun, SyncRunList, SyncRunReview, idParams, pageQuery } from '../schemas';
import { decodeCursor, encodeCursor, idPage } from '../validate';

const listQuery = z.object({ ...pageQuery, connectionId: z.string().max(100).optional() });
const notHeld = { 409: { description: 'the run is not held for review', problem: true } };

export const syncRunOps = {
  list: operation({
    method: 'get',
    path: '/sync-runs',
    access: 'manage',
    summary: 'List sync runs, newest first',
    query: listQuery,
    responses: { 200: { description: 'OK', json: SyncRunList } },
  }),
  get: operation({
    method: 'get',
    path: '/sync-runs/{id}',
    access: 'manage',
    summary: 'Read a sync run: status, progress, counts, first row errors',
    params: idParams,
    responses: { 200: { description: 'OK', json: SyncRun } },
  }),
  errors: operation({
    method: 'get',
    path: '/sync-runs/{id}/errors',
    access: 'manage',
    summary: 'Every row error of a run as a streamed CSV (line, reason)',
    params: idParams,
    query: z.object({ bom: bomQuery.meta({ description: 'true: start with a UTF-8 byte-order mark (Excel)' }) }),
    responses: { 200: { description: 'OK', csv: true } },
  }),
  review: operation({
    method: 'get',
    path: '/sync-runs/{id}/review',
    access: 'manage',
    summary: 'Who a run held by the mass-removal guard would remove or deactivate (paged)',
    params: idParams,
    query: z.object(pageQuery),
    responses: { 200: { description: 'OK', json: SyncRunReview } },
  }),
  apply: operation({
    method: 'post',
    path: '/sync-runs/{id}/apply',
    access: 'manage',
    summary: 'Apply a run held by the mass-removal guard',
    params: idParams,
    responses: { 200: { description: 'OK', json: SyncRun }, ...notHeld },
  }),
  discard: operation({
    method: 'post',
    path: '/sync-runs/{id}/discard',
    access: 'manage',
    summary: 'Discard a run held by the mass-removal guard',
    params: idParams,
    responses: { 200: { description: 'OK', json: SyncRun }, ...notHeld },
  }),
};

/** Sync runs (uploads, SFTP files, HRIS syncs) and the decisions on runs held by the mass-removal guard. */
export function syncRunRoutes(api: ApiRoutes): void {
  const load = (id: string, orgId: string) => loadOwned(getSyncRun, id, orgId, 'sync run');

  api.add(syncRunOps.list, async (req, res, { query: q }) => {
    const p = principal(req);
    const filter: { orgId: string; connectionId?: string } = { orgId: p.orgId };
    if (q.connectionId) filter.connectionId = q.connectionId;
    // Newest first: ids are time-ordered ObjectIds.
    res.json(await idPage('syncRuns', filter, q, presentSyncRun, true));
  });

  api.add(syncRunOps.get, async (req, res, { params }) => {
    res.json(presentSyncRun(await load(params.id, principal(req).orgId)));
  });

  // Every row error of a run as CSV (line, reason), streamed: the run document shows only the first ones.
  api.add(syncRunOps.errors, async (req, res, { params, query }) => {
    const run = await load(params.id, principal(req).orgId);
    async function* lines(): AsyncGenerator<string> {
      for await (const e of syncRunItems(run._id, 'error')) yield `${cell(e.line ?? null)},${cell(e.reason ?? '')}\r\n`;
    }
    await streamCsvLines(res, ['line', 'reason'], lines(), `sync-run-${run._id}-errors.csv`, { bom: wantsBom(query) });
  });

  // Who a run held by the mass-removal guard would remove or deactivate, paged.
  api.add(syncRunOps.review, async (req, res, { params, query: q }) => {
    const run = await load(params.id, principal(req).orgId);
    // A cursor is a position in the run's review items; the query keeps to this run whatever it names.
    const after = decodeCursor(q.cursor);
    const page = await syncRunItemPage(run._id, 'review', after, q.limit);
    res.json({
      status: run.status,
      review: run.review ?? null,
      items: page.items.map((i) => ({ key: i.key ?? '', email: i.email ?? null, change: i.change ?? 'remove' })),
      nextCursor: page.more ? encodeCursor(page.lastId) : null,
    });
  });

  api.add(syncRunOps.apply, async (req, res, { params }) => {
    const p = principal(req);
    const run = await load(params.id, p.orgId);
    const conn = await findConnection(run.connectionId);
    if (!conn || conn.deleting) throw new ApiError(409, 'invalid-state', 'the connection of this sync run was deleted; discard it');
    // Applying a large snapshot takes a while: keep the run visibly alive so it is not taken for abandoned.
    const stopHeartbeat = keepRunAlive(run._id);
    const done = await applyHeldRun(run._id, syncConnectionOf(conn)).finally(stopHeartbeat);
    await recordAudit(p.orgId, p.tokenId, 'sync-run.apply', run._id, { connectionId: run.connectionId, counts: done.counts });
    res.json(presentSyncRun(done));
  });

  api.add(syncRunOps.discard, async (req, res, { params }) => {
    const p = principal(req);
    const run = await load(params.id, p.orgId);
    const done = await discardHeldRun(run._id);
    await recordAudit(p.orgId, p.tokenId, 'sync-run.discard', run._id, { connectionId: run.connectionId });
    res.json(presentSyncRun(done));
  });
}
