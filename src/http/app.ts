import Fastify, { type FastifyBaseLogger, type FastifyServerOptions } from 'fastify';
import type { Auth } from '../auth.ts';
import { DebugRequestLogs } from '../logging.ts';
import { handleClientError, handleFrameworkError } from './errors.ts';
import { latchkey } from './plugin.ts';
import type { App } from './types.ts';

export interface BuildAppOptions {
  auth: Auth;
  /** Fastify's logger option: `false` in tests, pino options otherwise. */
  logger?: FastifyServerOptions['logger'];
  /** A pino logger to use instead (`serve` shares one with the audit trail). */
  loggerInstance?: FastifyBaseLogger;
}

export { REDACT } from '../logging.ts';

/**
 * The server `latchkey serve` runs: the Latchkey plugin at the root of a bare
 * app. It never listens: `serve` does, and tests drive it with `inject()`.
 * @example const app = await buildApp({ auth }); await app.inject({ method: 'POST', url: '/auth/login/', body });
 */
export async function buildApp({ auth, logger = false, loggerInstance }: BuildAppOptions): Promise<App> {
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger }),
    // In production a log line per request costs throughput: request lines only at LOG_LEVEL=debug.
    ...(auth.config.production ? { logController: new DebugRequestLogs() } : {}),
    bodyLimit: auth.config.bodyLimit,
    // The client IP (throttling, sessions, the audit trail) comes from X-Forwarded-For only as TRUST_PROXY allows.
    trustProxy: trustProxy(auth.config.trustProxy),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    // Errors raised before any route runs answer in DRF's shape too (SPEC §3).
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
  });
  await app.register(latchkey, { auth });
  return app as unknown as App;
}

/**
 * TRUST_PROXY as Fastify takes it. A hop count trusts that many proxies next
 * to the server, as Express reads a number (Fastify 5 alone would ignore the
 * header); it cannot tell a proxy from a client that connects directly, so
 * addresses are the safer setting.
 */
function trustProxy(setting: boolean | number | string[]): FastifyServerOptions['trustProxy'] {
  if (typeof setting !== 'number') return setting;
  return (_address: string, hop: number) => hop < setting;
}
