/** SCIM filters and attribute paths: one parser, two backends (MongoDB queries, in-memory evaluation). See README.md. */
export * from './parse';
export * from './path';
export * from './mongo';
export * from './memory';
