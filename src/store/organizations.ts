import { newId } from './ids';
import { Organization } from './models';

export async function createOrganization(name: string): Promise<{ id: string; name: string }> {
  const trimmed = name.trim();
  if (!trimmed) throw new Error('an organization needs a name');
  const id = newId();
  await Organization.create({ _id: id, name: trimmed });
  return { id, name: trimmed };
}
