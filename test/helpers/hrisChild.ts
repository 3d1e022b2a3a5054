/**
 * A separate process running one HRIS sync (for the crash test: the parent SIGKILLs it mid-run). Reads MONGODB_URI,
 * FINCH_BASE_URL, CONNECTION_ID and HOLDER from the environment; prints "started" once its run exists.
 */
import pino from 'pino';
import { runHrisSync } from '../../src/hris/sync';
import { connectStore } from '../../src/store';
import { testConfig } from './config';

async function main(): Promise<void> {
  await connectStore(process.env.MONGODB_URI!);
  const config = testConfig({ FINCH_BASE_URL: process.env.FINCH_BASE_URL, HRIS_LEASE_SECONDS: 3, FINCH_PAGE_SIZE: 5 });
  await runHrisSync(process.env.CONNECTION_ID!, { config, logger: pino({ level: 'silent' }), holder: process.env.HOLDER! });
  process.stdout.write('finished\n');
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
