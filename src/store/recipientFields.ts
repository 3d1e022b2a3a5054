import { tableResolver, type FieldResolver, type FieldSpec } from '../filter';
import { FULL_ATTRIBUTE_SET } from './attributes';

/** Recipient fields a segment filter may name: the SPEC's attribute names, `custom.<name>`, and a few of our own. */
const table: Record<string, FieldSpec> = {
  id: { path: '_id', type: 'string', caseExact: true },
  email: { path: 'email', type: 'string', caseExact: true },
  status: { path: 'status', type: 'string', caseExact: true },
  groups: { path: 'groups', type: 'string', caseExact: true },
  // The recipient's names are its first_name and last_name attributes (the store keeps no copy: recipientDocs.ts).
  firstName: { path: 'attributes.first_name', type: 'string' },
  lastName: { path: 'attributes.last_name', type: 'string' },
};
for (const name of FULL_ATTRIBUTE_SET) table[name] = { path: `attributes.${name}`, type: 'string' };

const CUSTOM_RE = /^custom\.([A-Za-z0-9_-]{1,64})$/;

export const recipientFieldResolver: FieldResolver = tableResolver(table, (attrPath) => {
  const m = CUSTOM_RE.exec(attrPath);
  return m ? { path: `attributes.custom.${m[1]}`, type: 'string' } : undefined;
});
