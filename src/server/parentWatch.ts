/**
 * Stops the service when the process that started it disappears. scripts/local-store.js (behind `npm start`) sets
 * AUDIENCE_SYNC_PARENT_PID to its own pid: if it is killed with SIGKILL (it cannot pass that on), the service would
 * live on as an orphan holding the HTTP port; instead it notices its parent changed and shuts down cleanly. Enabled
 * only when the variable names this process's actual parent, so an inherited value (a test spawning `serve`) or a
 * detached start (nohup, systemd) changes nothing.
 */
export function watchParent(onGone: () => void, everyMs = 1_000): () => void {
  const expected = Number(process.env.AUDIENCE_SYNC_PARENT_PID);
  if (!expected || process.ppid !== expected) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid !== expected) {
      clearInterval(timer);
      onGone();
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
