import {
  connectStore,
  createConnection,
  createOrganization,
  disconnectStore,
  dropStoreDatabase,
  type ConnectionRef,
  type ConnectOptions,
} from '../../src/store';

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

/** A CSV connection of a new organization named `name`, as the merge takes it. */
export async function csvConnection(name: string): Promise<ConnectionRef> {
  const org = await createOrganization(name);
  const c = await createConnection(
    { orgId: org.id, type: 'csv' },
    { publicUrl: 'http://localhost', secretKey: 'test-secret-key-0123456789' },
  );
  return { _id: c.id, orgId: org.id, type: 'csv' };
}
