import { stripCoreSchema } from '../filter';
import { badRequest } from './errors';
import { isObject } from './normalize';
import { patchOperations } from './patch';
import { USER_SCHEMA } from './schemas';

const isPassword = (name: string) => stripCoreSchema(name.trim(), USER_SCHEMA).toLowerCase() === 'password';

/**
 * Recipients never log in, so no password is stored and the ServiceProviderConfig advertises `changePassword`
 * unsupported: a PATCH that sets or removes `password` (by path, or as a key of a path-less value) is refused with 400
 * rather than answered 200 while nothing changed. (A POST or PUT carrying one is a whole resource: the password in it
 * is dropped, as RFC 7643 §4.1.1 lets a service provider that does not keep passwords do.)
 */
export function refusePasswordChange(body: unknown): void {
  for (const op of patchOperations(body)) {
    const named = op.path !== undefined ? isPassword(op.path) : isObject(op.value) && Object.keys(op.value).some(isPassword);
    if (named) {
      throw badRequest(
        'mutability',
        'password changes are not supported (ServiceProviderConfig changePassword.supported is false): recipients have no password',
      );
    }
  }
}
