import { connectStore, disconnectStore, dropStoreDatabase, type ConnectOptions } from '../../src/store';

/**
 * Connects the store to a fresh database of the test server (MONGODB_URI, set by `npm test`) for one test file.
 * Returns the database name; drop it with `closeTestStore`.
 */
export async function openTestStore(label: string, opts: ConnectOptions = {}): Promise<string> {
  const base = process.env.MONGODB_URI;
  if (!base) throw new Error('MONGODB_URI is not set: run the tests with `npm test`, which starts a local store');
  const dbName = `t_${label.replace(/[^a-z0-9]/gi, '_').slice(0, 30)}_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  await connectStore(url.toString(), opts);
  return dbName;
}

export async function closeTestStore(): Promise<void> {
  try {
    await dropStoreDatabase();
  } finally {
    await disconnectStore();
  }
}
