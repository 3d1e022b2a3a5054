/** Work the API started after answering (upload processing); tests and shutdown can wait for it. */
const pending = new Set<Promise<unknown>>();

export function runInBackground(p: Promise<unknown>): void {
  const tracked = p.finally(() => pending.delete(tracked));
  pending.add(tracked);
}

export async function waitForBackgroundJobs(): Promise<void> {
  while (pending.size) await Promise.allSettled([...pending]);
}
