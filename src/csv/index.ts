/** The CSV reader shared by API uploads and the SFTP daemon: a library, not an ingest path. */
export * from './errors';
export * from './encoding';
export * from './headers';
export * from './rows';
export * from './readCsv';
export * from './check';
export * from './ingest';
export * from './columnMapping';
export * from './dryRun';
export * from './fileRun';
export * from './fileQueue';
