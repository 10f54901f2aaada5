import type { FastifyRequest } from 'fastify';
import type { Auth, ClientInfo, Principal } from '../auth.ts';
import { AuthError, TokenError } from '../errors.ts';
import { ACCESS_COOKIE, checkCsrf } from './cookies.ts';
import { CredentialTokenError } from './errors.ts';
import { AUTHENTICATES } from './methods.ts';
import { routeNameOf } from './paths.ts';

/**
 * The bearer token of a request: undefined when there is none (or another
 * scheme), as SimpleJWT's JWTAuthentication reads the header.
 */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const parts = header.trim().split(/\s+/);
  if (parts[0] !== 'Bearer') return undefined;
  if (parts.length !== 2 || !parts[1]) throw new AuthError('bad_authorization_header');
  return parts[1];
}

/**
 * The caller of an authenticated route: the Bearer token, or else (cookie mode)
 * the access cookie, which for an unsafe method also needs the CSRF header.
 * 401 `not_authenticated` without credentials.
 */
export function requirePrincipal(auth: Auth, request: FastifyRequest): Principal {
  const token = bearerToken(request);
  if (token !== undefined) return authenticateCredential(auth, token);
  const cookie = auth.config.authCookies ? request.cookies?.[ACCESS_COOKIE] : undefined;
  if (!cookie) throw new AuthError('not_authenticated');
  // As DRF's SessionAuthentication: who the caller is first (401), then the CSRF check (403).
  const caller = authenticateCredential(auth, cookie);
  checkCsrf(request);
  return caller;
}

/** Checks an access token sent as a credential (header or cookie): a refusal is answered in SimpleJWT's `messages` shape. */
export function authenticateCredential(auth: Auth, token: string): Principal {
  try {
    return auth.authenticate(token);
  } catch (error) {
    throw error instanceof TokenError ? new CredentialTokenError(error) : error;
  }
}

export interface AuthenticateOptions {
  /**
   * Accept a user who must change their password first. Only the routes a forced
   * reset needs do: me, change-password, logout (refresh and verify take no access token).
   */
  allowRestricted?: boolean;
  /**
   * Accept a user who must enrol a second factor first (MFA_REQUIRED_ROLES): me and
   * logout-all. Every route under `{base}/mfa/` and `{base}/passkeys/` accepts one too.
   */
  allowEnrollment?: boolean;
}

/** Route names (see paths.ts) under which a user who must enrol a factor can do so (SPEC §12). */
const ENROLLMENT_ROUTES = /^(mfa|passkeys)(\/|$)/;

/**
 * An onRequest hook that sets `request.principal`, or answers 401 (403 `password_reset_required` or
 * `mfa_enrollment_required` for a restricted caller). It runs before the body is read, so credentials
 * are judged first, as in DRF. A forced password change comes before enrolment.
 */
export function authenticate(auth: Auth, options: AuthenticateOptions = {}) {
  return authenticating(async (request: FastifyRequest): Promise<void> => {
    const caller = requirePrincipal(auth, request);
    if (caller.restricted && !options.allowRestricted) throw new AuthError('password_reset_required');
    if (caller.enrollmentRequired && !caller.restricted && !options.allowEnrollment && !enrollmentRoute(auth, request)) {
      throw new AuthError('mfa_enrollment_required');
    }
    request.principal = caller;
  });
}

/** True for the MFA and passkey routes, wherever the plugin is mounted. */
function enrollmentRoute(auth: Auth, request: FastifyRequest): boolean {
  const url = request.routeOptions.url ?? '';
  const name = routeNameOf(auth.config, url.slice(request.server.prefix.length));
  return name !== undefined && ENROLLMENT_ROUTES.test(name);
}

/** Marks an onRequest hook as the route's authentication, which a wrong method on its path must pass first (methods.ts). */
export function authenticating<T extends (request: FastifyRequest) => Promise<void>>(hook: T): T {
  return Object.assign(hook, { [AUTHENTICATES]: true as const });
}

/** The caller set by `authenticate`. */
export function principal(request: FastifyRequest): Principal {
  if (!request.principal) throw new AuthError('not_authenticated');
  return request.principal;
}

/**
 * Who is asking, for sessions and the audit trail, and whether they are still
 * there: a request whose connection has closed costs no password hash.
 */
export function clientInfo(request: FastifyRequest): ClientInfo {
  const userAgent = request.headers['user-agent'];
  // The socket, not the request: a request stream is destroyed as soon as its body has been read.
  const socket = request.raw.socket as { destroyed?: boolean } | null | undefined;
  return { ip: request.ip ?? null, userAgent: typeof userAgent === 'string' ? userAgent : null, gone: () => socket?.destroyed === true };
}
