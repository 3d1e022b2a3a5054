/**
 * A separate process appending change-feed events of one organization (for the two-process feed test). Reads
 * MONGODB_URI, ORG_ID, LABEL, WRITERS and EVENTS from the environment: WRITERS concurrent writers, each appending
 * EVENTS events one append at a time, in order (keys `LABEL-w-i`). Appends one event first (its positions warm),
 * prints "ready", starts the writers on a line on stdin, and prints "done" when every append finished.
 */
import { appendEvents, connectStore, disconnectStore } from '../../src/store';

async function main(): Promise<void> {
  await connectStore(process.env.MONGODB_URI!, { syncIndexes: false });
  const org = process.env.ORG_ID!;
  const label = process.env.LABEL!;
  const writers = Number(process.env.WRITERS);
  const events = Number(process.env.EVENTS);
  await appendEvents(org, [
    { key: `${label}-warm`, type: 'recipient.updated', connectionId: null, data: { writer: `${label}-warm`, i: 0 } },
  ]);
  process.stdout.write('ready\n');
  await new Promise((r) => process.stdin.once('data', r));
  process.stdin.pause();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < events; i++) {
        await appendEvents(org, [
          { key: `${label}-${w}-${i}`, type: 'recipient.updated', connectionId: null, data: { writer: `${label}-${w}`, i } },
        ]);
      }
    }),
  );
  process.stdout.write('done\n');
  await disconnectStore();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
