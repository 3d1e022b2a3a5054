import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UPLOAD_SPOOL_DIR_PREFIX } from '../api/routes/uploads';
import { LOCAL_COPY_DIR_PREFIX } from '../csv/localCopy';

/**
 * Temporary directories this service makes: an API upload's spool (`src/api/routes/uploads.ts`) and a stored file's
 * local copy while a worker processes it (`src/csv/localCopy.ts`). Each is deleted when its work ends; a process
 * killed in the middle leaves it behind (up to the largest accepted file each).
 */
export const TEMP_DIR_PREFIXES = [UPLOAD_SPOOL_DIR_PREFIX, LOCAL_COPY_DIR_PREFIX] as const;

/**
 * No upload or processing lasts this long, so a directory older than this (by its modification time, set when its
 * file was created) belongs to a process that is gone, even when other processes of this host share the directory.
 */
export const STALE_TEMP_DIR_MS = 24 * 3_600_000;

/** Deletes this service's temporary directories left by stopped processes; returns their names. */
export async function removeStaleTempDirs(root = tmpdir(), maxAgeMs = STALE_TEMP_DIR_MS, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    if (!TEMP_DIR_PREFIXES.some((p) => name.startsWith(p))) continue;
    const path = join(root, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isDirectory() || now - info.mtimeMs < maxAgeMs) continue;
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
