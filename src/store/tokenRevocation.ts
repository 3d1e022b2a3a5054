import { ConflictError } from './errors';
import { ApiToken, type ApiTokenDoc } from './models';

/** Revoking this token would leave its organization without an owner token (no one could manage tokens any more). */
export class LastOwnerTokenError extends ConflictError {
  constructor() {
    super(
      "this is the organization's last owner token: create another owner token first (POST /api/v1/tokens with role owner), then revoke this one",
    );
    this.name = 'LastOwnerTokenError';
  }
}

async function otherOwners(orgId: string, tokenId: string): Promise<number> {
  return ApiToken.countDocuments({ orgId, role: 'owner', _id: { $ne: tokenId } }).exec();
}

/**
 * Revokes (deletes) an API token of an organization; null when the organization has no such token. The last owner token
 * of an organization is never revoked: it throws LastOwnerTokenError. Two owners revoking each other's tokens at the
 * same moment could both pass the first check, so the check is repeated after the delete and the token restored when
 * no owner is left.
 */
export async function revokeApiToken(orgId: string, tokenId: string): Promise<ApiTokenDoc | null> {
  const doc = (await ApiToken.findOne({ _id: tokenId, orgId }).lean().exec()) as ApiTokenDoc | null;
  if (!doc) return null;
  const owner = doc.role === 'owner';
  if (owner && (await otherOwners(orgId, tokenId)) === 0) throw new LastOwnerTokenError();
  await ApiToken.deleteOne({ _id: doc._id, orgId }).exec();
  if (owner && (await otherOwners(orgId, tokenId)) === 0) {
    await ApiToken.create(doc).catch(() => undefined);
    throw new LastOwnerTokenError();
  }
  return doc;
}
