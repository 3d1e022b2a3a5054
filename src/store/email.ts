/** Identity is the normalized email (SPEC §3.1): trimmed and lower-cased; the original spelling is kept for display. */
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function normalizeEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (!EMAIL_RE.test(trimmed)) return null;
  return trimmed.toLowerCase();
}

export function isEmail(value: unknown): value is string {
  return normalizeEmail(value) !== null;
}
