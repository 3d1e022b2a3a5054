import { Schema, model } from 'mongoose';

/**
 * A named set of people from a directory (SCIM Group) or a CSV group column. Person members are held by the source
 * records (`groups`), which keeps large groups out of one document; nested groups are held here.
 */
export interface GroupDoc {
  _id: string;
  orgId: string;
  connectionId: string;
  /** The connection's own key for the group (SCIM id, or the CSV group name lower-cased). */
  key: string;
  displayName: string;
  /** Lower-cased displayName, for case-insensitive lookups. */
  displayNameLower: string;
  externalId?: string | null;
  /** Groups that are members of this group (SPEC §2: expanded when audiences resolve). */
  memberGroups: string[];
  raw?: unknown;
  /**
   * A SCIM write in progress: the people to add to / remove from the group, written in the same insert/replace as the
   * group itself and cleared once their source records carry the change (whoever reads the group next finishes it).
   */
  pendingMembers?: { add: string[]; remove: string[] };
  /** A SCIM DELETE in progress: the group answers 404 and is removed by whoever reads it next. */
  deleting?: boolean;
  /** Set while `pendingMembers` or `deleting` is, for the recovery sweep (sparse index: unset, never null). */
  pendingSince?: Date;
  v: number;
  createdAt: Date;
  updatedAt: Date;
}

const groupSchema = new Schema<GroupDoc>(
  {
    _id: { type: String, required: true },
    orgId: { type: String, required: true },
    connectionId: { type: String, required: true },
    key: { type: String, required: true },
    displayName: { type: String, required: true },
    displayNameLower: { type: String, required: true },
    externalId: { type: String, default: null },
    memberGroups: { type: [String], default: [] },
    raw: { type: Schema.Types.Mixed },
    pendingMembers: {
      type: new Schema({ add: [String], remove: [String] }, { _id: false, suppressReservedKeysWarning: true }),
      default: undefined,
    },
    deleting: { type: Boolean, default: undefined },
    pendingSince: { type: Date, default: undefined },
    v: { type: Number, default: 1 },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
groupSchema.index({ orgId: 1 });
groupSchema.index({ connectionId: 1, displayNameLower: 1 });
groupSchema.index({ connectionId: 1, memberGroups: 1 });
groupSchema.index({ connectionId: 1, externalId: 1 });
groupSchema.index({ pendingSince: 1 }, { sparse: true });

export const Group = model<GroupDoc>('Group', groupSchema, 'groups');
