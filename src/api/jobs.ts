import type { Logger } from 'pino';
import { runInBackground } from '../store';

/** The background-job runner lives in the store (shared by API uploads and the SFTP file queue); kept for old imports. */
export {
  INTERRUPTED_BY_SHUTDOWN,
  HEARTBEAT_MS,
  backgroundJobCount,
  interruptBackgroundJobs,
  keepRunAlive,
  runInBackground,
  waitForBackgroundJobs,
} from '../store';
export type { BackgroundJobOptions } from '../store';

/**
 * Runs a re-merge a settings change called for (it visits every person it concerns, so it is not done inside the
 * request); a failure is logged (ids only). A re-merge that did not finish is redone by the next change of the setting.
 */
export function remergeInBackground(remerge: (() => Promise<void>) | null, logger: Logger, what: Record<string, string>): void {
  if (!remerge) return;
  runInBackground(async () => {
    try {
      await remerge();
    } catch (err) {
      logger.error({ ...what, errName: (err as Error)?.name }, 're-merge after a settings change failed');
    }
  });
}
