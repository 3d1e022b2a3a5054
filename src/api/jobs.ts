/** The background-job runner moved to the store (shared by API uploads and the SFTP file queue); kept for old imports. */
export { INTERRUPTED_BY_SHUTDOWN, HEARTBEAT_MS, backgroundJobCount, interruptBackgroundJobs, keepRunAlive, runInBackground, waitForBackgroundJobs } from '../store/jobs';
export type { BackgroundJobOptions } from '../store/jobs';
