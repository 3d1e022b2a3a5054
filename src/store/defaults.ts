import type { ConnectionType } from './connectionTypes';

/**
 * The product's defaults, in one place. Stored documents carry their own values once set (per organization or per
 * connection); these apply when none is set.
 */

/** Attribute priority when an organization sets none: connection types, highest first (SPEC §3.5). */
export const DEFAULT_PRIORITY: readonly ConnectionType[] = ['hris', 'scim', 'sftp', 'csv', 'manual'];

/** Fraction of a source's people a full snapshot may remove or offboard before it is held for review (SPEC §3.8). */
export const DEFAULT_MASS_REMOVAL_THRESHOLD = 0.2;

/** Directory (SCIM) connections an organization may have unless it is configured otherwise (SPEC §2). */
export const DEFAULT_MAX_DIRECTORY_CONNECTIONS = 2;

/**
 * How long one process trusts the merge settings it read (priority, connections' attribute sets) before reading them
 * again. Changes made through the store clear the cache at once in the process that made them; this bounds how long
 * another process (a scaled-out instance) may merge with the previous settings.
 */
export const MERGE_SETTINGS_TTL_MS = 5_000;
