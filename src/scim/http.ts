import type { Response } from 'express';

/** What a SCIM operation answers; the router (and /Bulk) turn it into a response. */
export interface ScimResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export function send(res: Response, result: ScimResult): void {
  res.status(result.status);
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v);
  if (result.body === undefined || result.status === 204 || result.status === 304) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.end(JSON.stringify(result.body));
}
