export const CONNECTION_TYPES = ['scim', 'sftp', 'hris', 'csv', 'manual'] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

export const SCIM_PROVIDERS = ['okta', 'entra', 'onelogin', 'jumpcloud', 'pingfederate', 'cyberark', 'google', 'generic'] as const;
export type ScimProvider = (typeof SCIM_PROVIDERS)[number];

/** Identity sources can offboard a person (SPEC §3.4). */
export function isIdentitySource(type: string): boolean {
  return type === 'scim' || type === 'hris';
}
