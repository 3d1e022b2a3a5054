/**
 * The virtual tree of an SFTP account. Paths are normalized here, on the server: `.` and `..` are resolved without
 * ever leaving `/`, empty segments (doubled slashes) are dropped, and a NUL or another control character makes the
 * path invalid. Percent signs are ordinary characters (nothing is decoded), and there are no links, so no spelling
 * reaches anything outside the account's own folders.
 */
export const FIXED_DIRS = ['', 'inbox', 'inbox/full', 'inbox/delta', 'results', 'archive'] as const;
const DAY = /^archive\/\d{4}-\d{2}-\d{2}$/;

export type Place = { kind: 'dir'; dir: string } | { kind: 'file'; dir: string; name: string };

/** The normalized absolute path (`/inbox/full/x.csv`), or null for a path that cannot name anything. */
export function normalizePath(raw: string): string | null {
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point of this pattern
  if (raw.length > 4096 || /[\u0000-\u001f\u007f]/.test(raw)) return null;
  const out: string[] = [];
  for (const seg of raw.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** A file name the tree accepts: no slash, no backslash, no control character, not `.`/`..`, at most 255 bytes. */
export function validName(name: string): boolean {
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point of this pattern
  return name !== '.' && name !== '..' && name.length > 0 && Buffer.byteLength(name) <= 255 && !/[\u0000-\u001f\u007f/\\]/.test(name);
}

export function isDirPath(dir: string): boolean {
  return (FIXED_DIRS as readonly string[]).includes(dir) || DAY.test(dir);
}

/** Folders whose files may be read (`get`); inbox files too (what was uploaded and not yet processed). */
export function fileDir(dir: string): boolean {
  return dir === 'inbox/full' || dir === 'inbox/delta' || dir === 'results' || DAY.test(dir);
}

/** Where a normalized path points in the tree, or null when it is outside it. */
export function place(path: string): Place | null {
  const rel = path.replace(/^\/+/, '');
  if (isDirPath(rel)) return { kind: 'dir', dir: rel };
  const slash = rel.lastIndexOf('/');
  if (slash < 0) return null;
  const dir = rel.slice(0, slash);
  const name = rel.slice(slash + 1);
  if (!fileDir(dir) || !validName(name)) return null;
  return { kind: 'file', dir, name };
}

/** Temporary names (partial uploads of WinSCP, FileZilla, lftp, rclone...) and dot-files are never processed. */
export function isTemporaryName(name: string): boolean {
  return name.startsWith('.') || /\.(filepart|part|tmp|partial|crdownload)$/i.test(name);
}

export function isInbox(dir: string): dir is 'inbox/full' | 'inbox/delta' {
  return dir === 'inbox/full' || dir === 'inbox/delta';
}
