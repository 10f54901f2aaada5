/**
 * Cookie mode (SPEC §4): tokens travel in httpOnly cookies instead of the
 * `Authorization` header, and every unsafe request authenticated by a cookie
 * must echo the readable `csrf_token` cookie in `X-CSRF-Token` (the
 * double-submit pattern: a page on another site can make the browser send the
 * cookies, but cannot read them to copy one into a header). Cookies are parsed
 * and written by @fastify/cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthError } from '../errors.ts';
import type { App, RouteContext } from './types.ts';

export const ACCESS_COOKIE = 'access_token';
export const REFRESH_COOKIE = 'refresh_token';
export const CSRF_COOKIE = 'csrf_token';
/** A remembered device's token (MFA_REMEMBER_DEVICE_DAYS), sent back to the auth routes only. */
export const DEVICE_COOKIE = 'mfa_device';
export const CSRF_HEADER = 'x-csrf-token';

/** Methods that change nothing, as DRF's CSRF check lists them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Registers @fastify/cookie in the plugin's scope when cookie mode is on (a host that already has it keeps its own). */
export async function registerCookies(app: App, { config }: RouteContext): Promise<void> {
  if (!config.authCookies || app.hasRequestDecorator('cookies')) return;
  await app.register(cookie);
}

/** The tokens a response hands out: set as cookies in cookie mode. */
export interface IssuedTokens {
  access: string;
  refresh?: string | undefined;
}

function attributes({ config }: RouteContext, path: string, maxAgeMs: number, httpOnly: boolean): CookieSerializeOptions {
  return {
    path,
    httpOnly,
    secure: config.cookieSecure,
    sameSite: config.cookieSameSite === 'None' ? 'none' : config.cookieSameSite === 'Strict' ? 'strict' : 'lax',
    maxAge: Math.floor(maxAgeMs / 1000),
    ...(config.cookieDomain ? { domain: config.cookieDomain } : {}),
  };
}

/** The refresh cookie goes only to the auth routes (refresh, logout), under whatever prefix the plugin is mounted at. */
function refreshPath(context: RouteContext): string {
  return `${context.mountedAuthPath}/`;
}

/**
 * Sets `access_token`, `refresh_token` (when one is issued) and the readable
 * `csrf_token`, each with Max-Age = its lifetime. The CSRF token a request
 * already carries is kept, so other tabs keep working.
 */
export function setTokenCookies(request: FastifyRequest, reply: FastifyReply, context: RouteContext, tokens: IssuedTokens): void {
  if (!context.config.authCookies) return;
  const { config } = context;
  reply.setCookie(ACCESS_COOKIE, tokens.access, attributes(context, '/', config.accessTokenLifetime, true));
  if (tokens.refresh) reply.setCookie(REFRESH_COOKIE, tokens.refresh, attributes(context, refreshPath(context), config.refreshTokenLifetime, true));
  const csrf = request.cookies?.[CSRF_COOKIE];
  const value = csrf && /^[A-Za-z0-9_-]{43}$/.test(csrf) ? csrf : randomBytes(32).toString('base64url');
  reply.setCookie(CSRF_COOKIE, value, attributes(context, '/', config.refreshTokenLifetime, false));
}

/** Sets the remembered device's httpOnly cookie (cookie mode), scoped to the auth routes as the refresh cookie is. */
export function setDeviceCookie(reply: FastifyReply, context: RouteContext, device: { token: string }): void {
  if (!context.config.authCookies) return;
  reply.setCookie(DEVICE_COOKIE, device.token, attributes(context, refreshPath(context), context.config.mfaRememberDevice, true));
}

/** The remembered device's token from its cookie, in cookie mode (it proves nothing without the password: no CSRF check needed). */
export function deviceCookie(request: FastifyRequest, { config }: Pick<RouteContext, 'config'>): string | undefined {
  if (!config.authCookies) return undefined;
  return request.cookies?.[DEVICE_COOKIE] || undefined;
}

/** Expires all three cookies (logout), with the same path and domain they were set with. */
export function clearTokenCookies(reply: FastifyReply, context: RouteContext): void {
  if (!context.config.authCookies) return;
  const clear = (name: string, path: string, httpOnly: boolean) => reply.setCookie(name, '', { ...attributes(context, path, 0, httpOnly), expires: new Date(0) });
  clear(ACCESS_COOKIE, '/', true);
  clear(REFRESH_COOKIE, refreshPath(context), true);
  clear(CSRF_COOKIE, '/', false);
}

/**
 * A token from a cookie, only in cookie mode. Reading it for an unsafe request
 * checks the CSRF header first: 403 `csrf_failed` before anything is done.
 */
export function cookieToken(request: FastifyRequest, context: Pick<RouteContext, 'config'>, name: typeof ACCESS_COOKIE | typeof REFRESH_COOKIE): string | undefined {
  if (!context.config.authCookies) return undefined;
  const token = request.cookies?.[name];
  if (!token) return undefined;
  checkCsrf(request);
  return token;
}

/** DRF's double-submit check: `X-CSRF-Token` must equal the `csrf_token` cookie (compared in constant time). */
export function checkCsrf(request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method)) return;
  const cookieValue = request.cookies?.[CSRF_COOKIE];
  if (!cookieValue) throw new AuthError('csrf_failed', 'CSRF Failed: CSRF cookie not set.');
  const header = request.headers[CSRF_HEADER];
  if (typeof header !== 'string' || header === '') throw new AuthError('csrf_failed', 'CSRF Failed: CSRF token missing.');
  // Hashing first gives equal lengths, so the comparison reveals nothing, not even the length.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  if (!timingSafeEqual(digest(header), digest(cookieValue))) throw new AuthError('csrf_failed', 'CSRF Failed: CSRF token incorrect.');
}

/** In cookie mode the token strings stay out of JSON bodies, unless COOKIE_BODY_TOKENS=true. */
export function bodyTokens<T extends object>(body: T, { config }: Pick<RouteContext, 'config'>): T | Omit<T, 'access' | 'refresh'> {
  if (!config.authCookies || config.cookieBodyTokens) return body;
  const { access: _access, refresh: _refresh, ...rest } = body as T & { access?: unknown; refresh?: unknown };
  return rest;
}
