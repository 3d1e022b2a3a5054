import { z } from 'zod';
import { operation, type OperationSpec } from './operation';
import { audienceOps } from './routes/audiences';
import { auditEventOps } from './routes/auditEvents';
import { columnMappingOps } from './routes/columnMapping';
import { connectionOps } from './routes/connections';
import { eventOps } from './routes/events';
import { groupOps } from './routes/groups';
import { hrisSyncOps } from './routes/hrisSync';
import { organizationOps } from './routes/organization';
import { recipientOps } from './routes/recipients';
import { segmentOps } from './routes/segments';
import { syncRunOps } from './routes/syncRuns';
import { tokenOps } from './routes/tokens';
import { uploadOps } from './routes/uploads';
import { webhookOps } from './routes/webhooks';

/** `GET /openapi.json`: this document, without a token. */
export const openApiOp = operation({
  method: 'get',
  path: '/openapi.json',
  access: 'public',
  summary: 'This OpenAPI document (no token needed)',
  responses: { 200: { description: 'OK', json: z.record(z.string(), z.unknown()) } },
});

/**
 * The admin API's route table: every operation the router serves, in document order. Each route module declares its
 * operations next to its handlers (`xxxOps`); the router registers exactly these (createApiRouter checks), and the
 * OpenAPI document is built from them.
 */
export const API_OPERATIONS: readonly OperationSpec[] = [
  openApiOp,
  ...Object.values(organizationOps),
  ...Object.values(tokenOps),
  ...Object.values(connectionOps),
  ...Object.values(hrisSyncOps),
  ...Object.values(uploadOps),
  ...Object.values(columnMappingOps),
  ...Object.values(recipientOps),
  ...Object.values(syncRunOps),
  ...Object.values(groupOps),
  ...Object.values(segmentOps),
  ...Object.values(audienceOps),
  ...Object.values(eventOps),
  ...Object.values(auditEventOps),
  ...Object.values(webhookOps),
];
