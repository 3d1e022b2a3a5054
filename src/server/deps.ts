import type { Logger } from 'pino';
import type { Config } from '../config/config';

/** What the HTTP routers and daemons are built from. */
export interface AppDeps {
  config: Config;
  logger: Logger;
}
