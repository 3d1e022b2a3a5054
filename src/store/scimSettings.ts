import { Connection } from './models';
import { ValidationError } from './errors';

/**
 * SCIM settings of a directory connection (issue #14 items 5 and 9): the interoperability-profile mode, the custom
 * attributes the administrator declares, and the attributes an identity provider sent that no schema declares.
 */
export const INTEROP_PROFILES = ['lenient', 'strict'] as const;
export type InteropProfile = (typeof INTEROP_PROFILES)[number];

export const CUSTOM_ATTRIBUTE_TYPES = ['string', 'boolean', 'integer', 'decimal', 'dateTime'] as const;
export type CustomAttributeType = (typeof CUSTOM_ATTRIBUTE_TYPES)[number];

export interface CustomAttributeDef {
  /** A SCIM attribute name (RFC 7643 §2.1 ATTRNAME); stored as `custom.<name>` in the source record's attributes. */
  name: string;
  type: CustomAttributeType;
  multiValued: boolean;
}

export const MAX_CUSTOM_ATTRIBUTES = 50;
/** RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA. */
export const CUSTOM_ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** Validates a list of declarations: names unique case-insensitively (SCIM names are), known types. */
export function validateCustomAttributes(input: readonly { name: string; type: string; multiValued?: boolean }[]): CustomAttributeDef[] {
  if (input.length > MAX_CUSTOM_ATTRIBUTES) throw new ValidationError(`at most ${MAX_CUSTOM_ATTRIBUTES} custom attributes`);
  const seen = new Set<string>();
  return input.map((a) => {
    if (!CUSTOM_ATTRIBUTE_NAME.test(a.name)) {
      throw new ValidationError(`custom attribute name "${a.name}" must start with a letter and hold only letters, digits, - and _`);
    }
    if (!(CUSTOM_ATTRIBUTE_TYPES as readonly string[]).includes(a.type)) {
      throw new ValidationError(`custom attribute "${a.name}": type must be one of ${CUSTOM_ATTRIBUTE_TYPES.join(', ')}`);
    }
    const l = a.name.toLowerCase();
    if (seen.has(l)) throw new ValidationError(`custom attribute "${a.name}" is declared twice`);
    seen.add(l);
    return { name: a.name, type: a.type as CustomAttributeType, multiValued: Boolean(a.multiValued) };
  });
}

export function validateInteropProfile(v: string): InteropProfile {
  if (!(INTEROP_PROFILES as readonly string[]).includes(v))
    throw new ValidationError(`interopProfile must be one of ${INTEROP_PROFILES.join(', ')}`);
  return v as InteropProfile;
}

/** How many distinct unknown attribute names a connection keeps (the first ones seen). */
export const MAX_UNKNOWN_SCIM_ATTRIBUTES = 100;

/**
 * Records the first sighting of an attribute name no schema of the connection declares. True when this call recorded
 * it (the caller logs it then, once per connection and name across processes); false when it was already recorded,
 * or the connection keeps its maximum of names.
 */
export async function recordUnknownScimAttribute(connectionId: string, name: string, at = new Date()): Promise<boolean> {
  const res = await Connection.updateOne(
    {
      _id: connectionId,
      'unknownScimAttributes.name': { $ne: name },
      [`unknownScimAttributes.${MAX_UNKNOWN_SCIM_ATTRIBUTES - 1}`]: { $exists: false },
    },
    { $push: { unknownScimAttributes: { name, firstSeenAt: at } } },
  ).exec();
  return res.modifiedCount > 0;
}
