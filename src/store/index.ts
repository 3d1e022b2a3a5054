/** The recipient store: models, the one merge, audience resolution and the filter translator. */
export * from './models';
export * from './db';
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
