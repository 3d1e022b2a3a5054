import { tableResolver, type FieldResolver, type FieldSpec, type FieldType } from '../filter';
import { ENTERPRISE_ATTRS, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_ATTRS, USER_SCHEMA, type AttrDef } from './schemas';

/** Where searchDoc puts each extension's attributes (keys must not contain dots). */
export const USER_EXTENSION_KEYS: Record<string, string> = { [ENTERPRISE_SCHEMA]: 'ent' };

function fieldType(def: AttrDef): FieldType {
  switch (def.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'decimal':
      return 'number';
    case 'dateTime':
      return 'date';
    case 'complex':
      return 'complex';
    default:
      return 'string';
  }
}

/**
 * Field specs for attributes held in a search document (normalize.ts searchDoc): case-insensitive strings are stored
 * lower-cased, so their `lowerPath` is the path itself.
 */
function specOf(def: AttrDef, path: string, leaf: string): FieldSpec {
  const type = fieldType(def);
  const spec: FieldSpec = { path, type, caseExact: def.caseExact === true };
  if (type === 'string' && !def.caseExact) spec.lowerPath = leaf;
  if (type === 'complex' && def.multiValued) spec.multiValued = true;
  if (def.subAttributes) {
    spec.subAttributes = {};
    for (const sub of def.subAttributes) {
      if (sub.name.startsWith('$')) continue;
      spec.subAttributes[sub.name] = specOf(sub, sub.name, sub.name);
    }
  }
  return spec;
}

function addAll(table: Record<string, FieldSpec>, defs: AttrDef[], base: string, prefixes: string[]): void {
  for (const def of defs) {
    if (def.mutability === 'writeOnly' || def.name === 'groups') continue;
    const path = `${base}.${def.name}`;
    const spec = specOf(def, path, path);
    for (const p of prefixes) table[p + def.name] = spec;
  }
}

function commonTable(schemaUrn: string): Record<string, FieldSpec> {
  const t: Record<string, FieldSpec> = {};
  const idSpec: FieldSpec = { path: 'key', type: 'string', caseExact: true };
  const created: FieldSpec = { path: 'createdAt', type: 'date' };
  const modified: FieldSpec = { path: 'updatedAt', type: 'date' };
  for (const p of ['', `${schemaUrn}:`]) {
    t[`${p}id`] = idSpec;
    t[`${p}meta.created`] = created;
    t[`${p}meta.lastModified`] = modified;
  }
  return t;
}

const userTable: Record<string, FieldSpec> = commonTable(USER_SCHEMA);
addAll(userTable, USER_ATTRS, 'lookup', ['', `${USER_SCHEMA}:`]);
userTable['externalId'] = { path: 'lookup.externalId', type: 'string', caseExact: true };
addAll(userTable, ENTERPRISE_ATTRS, `lookup.${USER_EXTENSION_KEYS[ENTERPRISE_SCHEMA]}`, [`${ENTERPRISE_SCHEMA}:`]);
// A user's groups are the group ids on its source record.
userTable['groups'] = { path: 'groups', type: 'string', caseExact: true };
userTable['groups.value'] = userTable['groups'];
userTable[`${USER_SCHEMA}:groups`] = userTable['groups'];
userTable[`${USER_SCHEMA}:groups.value`] = userTable['groups'];

/** SCIM User attributes, resolved to source record paths. */
export const userFieldResolver: FieldResolver = tableResolver(userTable);

const groupTable: Record<string, FieldSpec> = {};
for (const p of ['', `${GROUP_SCHEMA}:`]) {
  groupTable[`${p}id`] = { path: '_id', type: 'string', caseExact: true };
  groupTable[`${p}meta.created`] = { path: 'createdAt', type: 'date' };
  groupTable[`${p}meta.lastModified`] = { path: 'updatedAt', type: 'date' };
  groupTable[`${p}displayName`] = { path: 'displayName', type: 'string', lowerPath: 'displayNameLower' };
  groupTable[`${p}externalId`] = { path: 'externalId', type: 'string', caseExact: true };
}

/** SCIM Group attributes, resolved to Group document paths (members are handled in groupSearch.ts). */
export const groupFieldResolver: FieldResolver = tableResolver(groupTable);
