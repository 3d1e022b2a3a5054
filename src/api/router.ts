import { Router } from 'express';
import type { AppDeps } from '../server/deps';

/** Admin API, mounted at /api/v1. */
export function createApiRouter(_deps: AppDeps): Router {
  return Router();
}
