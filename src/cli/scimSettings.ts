import {
  CUSTOM_ATTRIBUTE_TYPES,
  findConnection,
  recordAudit,
  updateConnection,
  ValidationError,
  type CustomAttributeDef,
  type CustomAttributeType,
} from '../store';

/**
 * `--custom-attribute NAME:TYPE[:multi]` (repeatable) as declarations, e.g. `costCode:string`, `badges:string:multi`.
 * TYPE is string, boolean, integer, decimal or dateTime; the store validates names.
 */
export function parseCustomAttributes(specs: readonly string[]): CustomAttributeDef[] {
  return specs.map((spec) => {
    const [name = '', type = 'string', multi, ...rest] = spec.split(':');
    if (rest.length || (multi !== undefined && multi !== 'multi') || !(CUSTOM_ATTRIBUTE_TYPES as readonly string[]).includes(type)) {
      throw new ValidationError(
        `--custom-attribute ${JSON.stringify(spec)}: expected NAME:TYPE[:multi] with TYPE one of ${CUSTOM_ATTRIBUTE_TYPES.join(', ')}`,
      );
    }
    return { name, type: type as CustomAttributeType, multiValued: multi === 'multi' };
  });
}

export interface ScimSettingsCommand {
  connectionId: string;
  interopProfile?: string;
  /** Replaces the declared custom attributes when given. */
  customAttributes?: string[];
  clearCustomAttributes: boolean;
}

/**
 * `audience-sync connection scim ID [--interop-profile strict|lenient] [--custom-attribute NAME:TYPE[:multi] ...]
 * [--clear-custom-attributes]`: shows or changes a scim connection's interoperability-profile mode and custom attributes.
 */
export async function connectionScimSettings(cmd: ScimSettingsCommand) {
  const before = await findConnection(cmd.connectionId);
  if (!before || before.deleting) throw new ValidationError(`connection ${cmd.connectionId} does not exist`);
  if (before.type !== 'scim') throw new ValidationError(`connection ${cmd.connectionId} is a ${before.type} connection, not scim`);
  if (cmd.clearCustomAttributes && cmd.customAttributes?.length) {
    throw new ValidationError('--clear-custom-attributes and --custom-attribute do not go together');
  }
  const customAttributes = cmd.clearCustomAttributes
    ? []
    : cmd.customAttributes?.length
      ? parseCustomAttributes(cmd.customAttributes)
      : undefined;
  let doc = before;
  if (cmd.interopProfile !== undefined || customAttributes !== undefined) {
    doc = (await updateConnection(cmd.connectionId, { interopProfile: cmd.interopProfile, customAttributes })).value;
    const fields = [cmd.interopProfile !== undefined ? 'interopProfile' : null, customAttributes ? 'customAttributes' : null].filter(
      Boolean,
    );
    await recordAudit(doc.orgId, 'cli', 'connection.update', doc._id, { fields });
  }
  return {
    id: doc._id,
    interopProfile: doc.interopProfile ?? 'lenient',
    customAttributes: (doc.customAttributes ?? []).map((a) => ({ name: a.name, type: a.type, multiValued: Boolean(a.multiValued) })),
    unknownScimAttributes: (doc.unknownScimAttributes ?? []).map((u) => ({ name: u.name, firstSeenAt: u.firstSeenAt.toISOString() })),
  };
}
