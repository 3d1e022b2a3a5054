/**
 * The shapes of what the store keeps, and their fixed vocabularies, for callers. The mongoose models themselves stay
 * inside src/store/ (see src/store/README.md): callers use the store's functions.
 */
export { ROLES, PERMISSIONS, type ApiTokenDoc, type Role } from './models/apiToken';
export type { AudienceDoc, AudienceSelection } from './models/audience';
export type { AuditEventDoc } from './models/auditEvent';
export type { ConnectionDoc, HrisSettings, SftpSettings } from './models/connection';
export type { GroupDoc } from './models/group';
export type { OrganizationDoc } from './models/organization';
export type { Contribution, RecipientDoc, RecipientStatus, StoredRecipient } from './models/recipient';
export type { SegmentDoc } from './models/segment';
export type { SourceRecordDoc } from './models/sourceRecord';
export {
  SYNC_RUN_PHASES,
  SYNC_RUN_STATUSES,
  type SyncCounts,
  type SyncRunDoc,
  type SyncRunInput,
  type SyncRunPhase,
  type SyncRunStatus,
} from './models/syncRun';
export type { FileEntryDoc } from './models/fileEntry';
export type { EventDoc } from './models/event';
export type { DeliveryOutcome, WebhookDeliveryDoc, WebhookEndpointDoc } from './models/webhook';
