/**
 * The recipient store: its operations (the one merge, sync runs, audiences, connections, ...), the shapes of what it
 * keeps, and its errors. The mongoose models are not part of it: see src/store/README.md.
 */
export * from './types';
export * from './errors';
export * from './defaults';
export * from './db';
export { storeMonitorRestarts } from './storeMonitor';
export * from './email';
export * from './ids';
export * from './attributes';
export * from './connectionTypes';
export * from './secrets';
export * from './derive';
export * from './merge';
export * from './settings';
export * from './syncRuns';
export * from './abandonedRuns';
export * from './audiences';
// Segment filters are SCIM filters (src/filter); what the store's operations raise and return:
export { FilterError, type MongoQuery } from '../filter';
export * from './recipientFields';
export * from './organizations';
export * from './tokens';
export * from './connections';
export * from './audit';
export * from './batchRead';
export * from './lookupKeys';
export * from './tokenRevocation';
export * from './columnMappings';
export * from './massRemovalGuard';
export * from './snapshotPreview';
export * from './namedGroups';
export * from './sourceRecords';
export * from './groups';
export * from './segments';
export * from './recipients';
export * from './lists';
export * from './manualEntries';
export * from './scimUsers';
export * from './scimGroups';
export * from './recovery';
export * from './remerge';
export * from './jobs';
export * from './files';
export * from './accountFiles';
export * from './fileRuns';
export * from './serviceInfo';
export * from './leases';
export * from './hrisConnections';
export * from './syncRunState';
export * from './syncRunItems';
export * from './operator';
export * from './events';
export * from './webhooks';
export * from './audienceEvents';
