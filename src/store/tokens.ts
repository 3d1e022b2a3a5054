import { ValidationError } from './errors';
import { newId } from './ids';
import { ApiToken, ROLES, PERMISSIONS, type ApiTokenDoc, type Role } from './models';
import { hashToken, newToken } from './secrets';

/** Creates an API token; the token is returned once and only its hash is stored. */
export async function createApiToken(
  orgId: string,
  role: string,
  permissions: string[] = [],
  name?: string | null,
): Promise<{ id: string; token: string; role: Role; permissions: string[] }> {
  if (!(ROLES as readonly string[]).includes(role)) throw new ValidationError(`role must be one of ${ROLES.join(', ')}`);
  for (const p of permissions) {
    if (!(PERMISSIONS as readonly string[]).includes(p))
      throw new ValidationError(`unknown permission "${p}" (known: ${PERMISSIONS.join(', ')})`);
  }
  const token = newToken('as');
  const id = newId();
  await ApiToken.create({ _id: id, orgId, role: role as Role, permissions, tokenHash: hashToken(token), name: name ?? null });
  return { id, token, role: role as Role, permissions };
}

/** Finds the token a bearer value stands for (by its hash: an exact, indexed lookup, so no timing leak on content). */
export async function findApiToken(token: string): Promise<ApiTokenDoc | null> {
  if (!token || token.length > 200) return null;
  return await ApiToken.findOne({ tokenHash: hashToken(token) })
    .lean()
    .exec();
}

/** One API token by id (callers check its organization), or null. */
export async function getApiToken(id: string): Promise<ApiTokenDoc | null> {
  return ApiToken.findOne({ _id: id }).lean<ApiTokenDoc>().exec();
}

/** An organization's API tokens, oldest first (hashes included: callers present them without). */
export async function listApiTokens(orgId: string): Promise<ApiTokenDoc[]> {
  const docs = await ApiToken.find({ orgId }).lean<ApiTokenDoc[]>().exec();
  return docs.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
}

/** Revokes an API token; false when there was none. */
export async function deleteApiToken(id: string): Promise<boolean> {
  return (await ApiToken.deleteOne({ _id: id }).exec()).deletedCount === 1;
}

/** Records that a token was used now. */
export async function touchApiToken(id: string, at = new Date()): Promise<void> {
  await ApiToken.updateOne({ _id: id }, { $set: { lastUsedAt: at } }).exec();
}
