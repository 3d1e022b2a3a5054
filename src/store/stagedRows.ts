import { deleteByIds } from './batchRead';
import { StagedRow } from './models';

const DELETE_CHUNK = 1000;

/**
 * Drops the staged rows of sync runs, a thousand at a time by `_id`. One `deleteMany({runId})` of a large snapshot
 * fails on FerretDB v1 (its SQLite handler deletes the matched documents in one statement with a variable per
 * document: "too many SQL variables" past 32,766 rows) and is one long write transaction anywhere.
 */
export async function deleteStagedRows(runIds: string | string[]): Promise<void> {
  for (const runId of Array.isArray(runIds) ? runIds : [runIds]) {
    for (;;) {
      // One reply per page (the default first batch, 101 documents, would cost nine getMores per page).
      const ids = (await StagedRow.find({ runId }, { _id: 1 }).limit(DELETE_CHUNK).batchSize(DELETE_CHUNK).lean().exec()).map((r) => r._id);
      if (!ids.length) break;
      await deleteByIds(StagedRow, ids);
      if (ids.length < DELETE_CHUNK) break;
    }
  }
}
