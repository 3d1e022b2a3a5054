import mongoose from 'mongoose';

/** Store commands sent while counting, by command name (`find`, `insert`, `update`, ...). */
export interface CommandCount {
  /** Commands by name so far. */
  byName(): Record<string, number>;
  total(): number;
  /** Commands of one name on one collection (e.g. `update` on `recipients`). */
  on(name: string, collection: string): number;
  stop(): void;
}

/**
 * Counts the commands the driver sends from now on, with the driver's command monitoring (the store must be connected
 * with `monitorCommands: true`; otherwise nothing is counted and `total()` stays 0). For benches and command-count
 * tests: the number of commands per operation is what costs a round trip on MongoDB and a transaction on FerretDB.
 */
export function countStoreCommands(): CommandCount {
  const names = new Map<string, number>();
  const perCollection = new Map<string, number>();
  const client = mongoose.connection.getClient();
  const listener = (ev: { commandName: string; command: Record<string, unknown> }) => {
    names.set(ev.commandName, (names.get(ev.commandName) ?? 0) + 1);
    const coll = ev.command[ev.commandName];
    if (typeof coll === 'string') {
      const k = `${ev.commandName} ${coll}`;
      perCollection.set(k, (perCollection.get(k) ?? 0) + 1);
    }
  };
  client.on('commandStarted', listener);
  return {
    byName: () => Object.fromEntries([...names].sort()),
    total: () => [...names.values()].reduce((a, b) => a + b, 0),
    on: (name, collection) => perCollection.get(`${name} ${collection}`) ?? 0,
    stop: () => void client.off('commandStarted', listener),
  };
}
