/** The SFTP ingest daemon: an SSH server whose accounts drop CSV files into the store (processed by the file queue). */
export * from './server';
export * from './auth';
export * from './defender';
export * from './hostKey';
export * from './paths';
