import { encodeContributions, storedContributions } from '../../src/store/recipientDocs';
import type { StoredRecipient } from '../../src/store/types';

/**
 * A stored recipient's contributions with `group` added to each, encoded as the product stores them beside the
 * recipient's email and attributes: what a raw baseline writes when it adds a membership the way the merge would.
 */
export function contribsWithGroup(r: StoredRecipient, group: string): string {
  return encodeContributions(
    storedContributions(r).map((c) => ({ ...c, g: [...c.g, group].sort() })),
    r.email,
    r.attributes,
  );
}
