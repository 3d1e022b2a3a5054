import type { Config } from '../config/config';
import { EVENT_TYPES, connectStore, disconnectStore, headCursor, organizationExists, presentEvent, readEvents } from '../store';

export interface TailOptions {
  org: string;
  types?: string[];
  /** Start after this cursor; default: the newest event now (only what arrives from here on). */
  after?: number;
  pollMs?: number;
}

/**
 * `audience-sync events tail`: prints the organization's events as they arrive, one JSON object per line, until
 * SIGINT or SIGTERM (for a person watching a first Okta push).
 */
export async function eventsTail(
  config: Config,
  opts: TailOptions,
  write: (line: string) => void = (l) => process.stdout.write(l),
): Promise<void> {
  for (const t of opts.types ?? []) {
    if (!(EVENT_TYPES as readonly string[]).includes(t))
      throw new TailUsageError(`unknown event type "${t}" (types: ${EVENT_TYPES.join(', ')})`);
  }
  await connectStore(config.MONGODB_URI, { serverSelectionTimeoutMS: 15_000, syncIndexes: false });
  let stop = false;
  const onSignal = () => {
    stop = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (!(await organizationExists(opts.org))) throw new TailUsageError(`organization ${opts.org} does not exist`);
    let cursor = opts.after ?? (await headCursor(opts.org));
    const pollMs = opts.pollMs ?? 500;
    while (!stop) {
      const page = await readEvents(opts.org, { after: cursor, limit: 500, types: opts.types });
      for (const e of page.items) write(JSON.stringify(presentEvent(e)) + '\n');
      cursor = page.cursor;
      if (!page.more) await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await disconnectStore();
  }
}

export class TailUsageError extends Error {}
