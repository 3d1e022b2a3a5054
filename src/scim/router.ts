import { Router } from 'express';
import type { AppDeps } from '../server/deps';

/** SCIM 2.0 service provider, mounted at /scim/v2/{connectionId}. */
export function createScimRouter(_deps: AppDeps): Router {
  return Router();
}
