/**
 * Latchkey's HTTP API as a Fastify plugin. A host application registers it
 * next to its own routes, under a prefix of its choice; `latchkey serve` is
 * this plugin in a bare app (app.ts). Everything it sets — body parsers,
 * validation, the error handler, 404/405 answers — is encapsulated: the host's
 * own routes keep the host's behaviour.
 */
import { AjvCompiler } from '@fastify/ajv-compiler';
import formbody from '@fastify/formbody';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyPluginAsync, RouteOptions } from 'fastify';
import type { Auth } from '../auth.ts';
import { ValidationError } from '../errors.ts';
import { registerAccountPages } from './account.ts';
import { registerConsole } from './console.ts';
import { registerCookies } from './cookies.ts';
import { registerCors } from './cors.ts';
import { registerDocs, registerDocsRoutes } from './docs.ts';
import { registerSecurityHeaders } from './headers.ts';
import { readBodies } from './body.ts';
import { pathAliases } from './aliases.ts';
import { handleError } from './errors.ts';
import { drfMethods } from './methods.ts';
import { routeNameOf } from './paths.ts';
import { metrics } from './metrics.ts';
import { adminAccountsRoutes } from './routes/admin/accounts.ts';
import { adminAuditRoutes } from './routes/admin/audit-events.ts';
import { invalidateAllTokensRoute } from './routes/admin/invalidate-all-tokens.ts';
import { adminUsersRoutes } from './routes/admin/users.ts';
import { changePasswordRoute } from './routes/change-password.ts';
import { healthRoutes } from './routes/health.ts';
import { jwksRoute } from './routes/jwks.ts';
import { revocationsRoute } from './routes/revocations.ts';
import { loginRoute } from './routes/login.ts';
import { djRestAuthResetRoutes } from './routes/password-reset-dj-rest-auth.ts';
import { passwordResetRoutes } from './routes/password-reset.ts';
import { logoutAllRoute } from './routes/logout-all.ts';
import { logoutRoute } from './routes/logout.ts';
import { meRoutes } from './routes/me.ts';
import { mfaRoutes } from './routes/mfa.ts';
import { passkeyLoginRoutes } from './routes/passkey-login.ts';
import { passkeysRoutes } from './routes/passkeys.ts';
import { refreshRoute } from './routes/refresh.ts';
import { registerRoute } from './routes/register.ts';
import { sessionsRoutes } from './routes/sessions.ts';
import { verifyEmailRoutes } from './routes/verify-email.ts';
import { verifyRoute } from './routes/verify.ts';
import type { App, RouteContext } from './types.ts';

export interface LatchkeyPluginOptions {
  /** The facade, from `createAuth`; the host starts and stops it. */
  auth: Auth;
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
  jwksRoute,
  revocationsRoute,
  mfaRoutes,
  passkeysRoutes,
  passkeyLoginRoutes,
  passwordResetRoutes,
  djRestAuthResetRoutes,
  verifyEmailRoutes,
];

/**
 * Validation as DRF reads input: every field's problem reported at once, and
 * no type coercion or stripping (a number is not a string). Fastify's default
 * compiler with these options, private to the plugin.
 */
const buildValidator = AjvCompiler()({}, { customOptions: { allErrors: true, verbose: true, coerceTypes: false, removeAdditional: false } });

/** Marks the trailing-slash twin a route gets when the host's router tells `/x` from `/x/`. */
const SLASH_TWIN = Symbol('latchkey.slashTwin');

/**
 * Latchkey's routes, parsers, validation and error answers.
 * @example
 * const host = Fastify();
 * host.get('/hello', async () => ({ hello: 'world' }));
 * await host.register(latchkey, { auth, prefix: '/identity' });   // → /identity/auth/login/, /identity/admin/users/ …
 */
export const latchkey: FastifyPluginAsync<LatchkeyPluginOptions> = async (instance, { auth }) => {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>() as App;
  const config = auth.config;

  app.setValidatorCompiler(({ schema }) => buildValidator({ schema } as Parameters<typeof buildValidator>[0]));
  // Every route answers with and without the trailing slash. A host whose router already ignores
  // the slash (as `serve`'s does) needs nothing; otherwise each route gets its twin.
  const ignoresSlash = routerIgnoresTrailingSlash(instance);
  app.addHook('onRoute', function (route) {
    route.bodyLimit ??= config.bodyLimit;
    const twin = route as RouteOptions & { [SLASH_TWIN]?: true };
    if (ignoresSlash || twin[SLASH_TWIN] || route.routePath === '' || route.routePath.endsWith('/')) return;
    // A wildcard (static assets, the CORS preflight route) already matches the slash.
    if (route.routePath.endsWith('*')) return;
    // Fastify adds HEAD beside each GET; the GET's twin gets its own.
    if (route.method === 'HEAD') return;
    // The twin is registered relative to this plugin, as the original was.
    const { url, path, prefix, routePath, ...rest } = route as RouteOptions & { path?: string; prefix?: string; routePath: string };
    this.route({ ...rest, url: `${routePath}/`, schema: { ...rest.schema, hide: true }, [SLASH_TWIN]: true } as RouteOptions);
  });

  app.decorateRequest('principal', null);
  await app.register(formbody, { bodyLimit: config.bodyLimit });

  // JSON, form and multipart bodies, as DRF's default parsers; anything else is 415.
  await readBodies(app, config);
  // After authentication and the schema: NUL characters are refused as DRF's CharField does
  // (PostgreSQL cannot store them).
  app.addHook('preHandler', (request, _reply, done) => {
    try {
      rejectNulCharacters(request.body);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  });

  app.setErrorHandler(handleError);
  // DRF answers 405 for a known path with another method (after authentication), OPTIONS with its
  // metadata, and Allow on every response; Fastify would say 404.
  drfMethods(app, (path) => routeNameOf(config, path.slice(instance.prefix.length)));

  // PATH_ALIASES: each named route again at its extra paths, once every route is in (clashes are checked then).
  const aliases = pathAliases(app, config);
  metrics(app, auth);
  const context: RouteContext = { auth, config, mountedAuthPath: `${instance.prefix}${config.authBasePath}` };
  await registerCookies(app, context);
  await registerCors(app, context);
  const pageHeaders = await registerSecurityHeaders(app, context);
  await registerDocs(app, context);
  for (const register of ROUTES) register(app, context);
  // The pages (API reference, console, account) in a scope of their own: helmet's whole set of headers.
  await app.register(async (scope) => {
    const pages = scope as App;
    pages.addHook('onRequest', pageHeaders);
    await registerDocsRoutes(pages);
    await registerConsole(pages, context);
    await registerAccountPages(pages, context);
  });
  aliases.register();
};

function routerIgnoresTrailingSlash(instance: FastifyInstance): boolean {
  const initial = instance.initialConfig as { ignoreTrailingSlash?: boolean; routerOptions?: { ignoreTrailingSlash?: boolean } };
  return initial.routerOptions?.ignoreTrailingSlash === true || initial.ignoreTrailingSlash === true;
}

function rejectNulCharacters(body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  const fields: Record<string, string[]> = {};
  for (const [field, value] of Object.entries(body)) {
    if (typeof value === 'string' && value.includes('\u0000')) fields[field] = ['Null characters are not allowed.'];
  }
  if (Object.keys(fields).length > 0) throw new ValidationError(fields);
}
