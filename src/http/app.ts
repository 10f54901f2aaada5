import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyServerOptions } from 'fastify';
import type { Auth } from '../auth.ts';
import { ValidationError } from '../errors.ts';
import { DebugRequestLogs } from '../logging.ts';
import { handleError, sendError } from './errors.ts';
import { metrics } from './metrics.ts';
import { adminAccountsRoutes } from './routes/admin/accounts.ts';
import { adminAuditRoutes } from './routes/admin/audit-events.ts';
import { invalidateAllTokensRoute } from './routes/admin/invalidate-all-tokens.ts';
import { adminUsersRoutes } from './routes/admin/users.ts';
import { changePasswordRoute } from './routes/change-password.ts';
import { healthRoutes } from './routes/health.ts';
import { loginRoute } from './routes/login.ts';
import { logoutAllRoute } from './routes/logout-all.ts';
import { logoutRoute } from './routes/logout.ts';
import { meRoutes } from './routes/me.ts';
import { refreshRoute } from './routes/refresh.ts';
import { registerRoute } from './routes/register.ts';
import { sessionsRoutes } from './routes/sessions.ts';
import { verifyRoute } from './routes/verify.ts';
import type { App, RouteContext } from './types.ts';

export interface BuildAppOptions {
  auth: Auth;
  /** Fastify's logger option: `false` in tests, pino options otherwise. */
  logger?: FastifyServerOptions['logger'];
  /** A pino logger to use instead (`serve` shares one with the audit trail). */
  loggerInstance?: FastifyBaseLogger;
}

const ROUTES: Array<(app: App, context: RouteContext) => void> = [
  loginRoute,
  refreshRoute,
  verifyRoute,
  logoutRoute,
  logoutAllRoute,
  sessionsRoutes,
  meRoutes,
  registerRoute,
  changePasswordRoute,
  invalidateAllTokensRoute,
  adminUsersRoutes,
  adminAccountsRoutes,
  adminAuditRoutes,
  healthRoutes,
];

function rejectNulCharacters(body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  const fields: Record<string, string[]> = {};
  for (const [field, value] of Object.entries(body)) {
    if (typeof value === 'string' && value.includes('\u0000')) fields[field] = ['Null characters are not allowed.'];
  }
  if (Object.keys(fields).length > 0) throw new ValidationError(fields);
}

export { REDACT } from '../logging.ts';

/**
 * Builds the HTTP app around an Auth facade. It never listens: `serve` does,
 * and tests drive it with `inject()`.
 * @example const app = await buildApp({ auth }); await app.inject({ method: 'POST', url: '/auth/login/', body });
 */
export async function buildApp({ auth, logger = false, loggerInstance }: BuildAppOptions): Promise<App> {
  const config = auth.config;
  const app = Fastify({
    ...(loggerInstance ? { loggerInstance } : { logger }),
    // In production a log line per request costs throughput: request lines only at LOG_LEVEL=debug.
    ...(config.production ? { logController: new DebugRequestLogs() } : {}),
    bodyLimit: config.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: { allErrors: true, verbose: true, coerceTypes: false, removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('principal', null);
  await app.register(formbody);
  await app.register(swagger, {
    openapi: { info: { title: 'Latchkey', version: '0.1.0', description: 'JWT authentication speaking SimpleJWT’s wire format' } },
  });

  // JSON and form bodies only, as DRF's default parsers; anything else is 415.
  app.removeContentTypeParser('text/plain');
  // A request without a body reads as an empty form, so missing fields are "required".
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {};
  });
  // After authentication and the schema: NUL characters are refused as DRF's CharField does
  // (PostgreSQL cannot store them).
  app.addHook('preHandler', async (request) => rejectNulCharacters(request.body));
  // An empty JSON body is an empty object (fields "required"), as DRF reads it.
  const parseJson = app.getDefaultJsonParser('error', 'remove');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (typeof body !== 'string' || body.trim() === '') return done(null, {});
    parseJson(request, body, done);
  });

  app.setErrorHandler(handleError);
  // DRF answers 405 for a known path with another method; Fastify would say 404.
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const path = route.url.replace(/\/+$/, '');
    const methods = methodsByPath.get(path) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByPath.set(path, methods);
  });
  app.setNotFoundHandler((request, reply) => {
    const methods = methodsByPath.get(request.url.split('?')[0]!.replace(/\/+$/, ''));
    if (!methods) return sendError(reply, 'not_found');
    reply.header('allow', [...methods].join(', '));
    return sendError(reply, 'method_not_allowed', `Method "${request.method}" not allowed.`);
  });

  metrics(app, auth);
  const context: RouteContext = { auth, config };
  for (const register of ROUTES) register(app, context);
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
