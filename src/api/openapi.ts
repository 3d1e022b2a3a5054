export function openApiDocument(publicUrl: string): Record<string, unknown> {
  return { openapi: '3.1.0', info: { title: 'audience-sync Admin API', version: '1' }, servers: [{ url: `${publicUrl}/api/v1` }], paths: {} };
}
