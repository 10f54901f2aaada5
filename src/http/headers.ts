/**
 * Headers that make responses safe for browsers and proxies. Pages (the
 * console, the account pages, the API reference) get helmet's set with a strict
 * Content-Security-Policy that they satisfy. JSON answers get the headers that
 * apply to a JSON body (OWASP's REST Security Cheat Sheet): a CSP that loads
 * nothing and forbids framing, nosniff, X-Frame-Options, CORP, HSTS, and
 * `Cache-Control: no-store` (they carry tokens and profiles, RFC 6749 §5.1).
 * Referrer, DNS-prefetch or download policies mean nothing for a JSON body, and
 * each header costs every answer of the hottest routes its bytes and checks.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { onRequestHookHandler } from 'fastify';
import helmet from 'helmet';
import type { App, RouteContext } from './types.ts';

/** Scripts, styles and calls only from this origin; nothing inline, no frames, no plugins. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/** Helmet's options: not its defaults, which add upgrade-insecure-requests and break a console served over http on localhost. */
const HELMET_OPTIONS = {
  contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
  // Cookie mode on another origin needs its CORS requests answered; CORP only concerns no-cors loads.
  crossOriginResourcePolicy: { policy: 'same-origin' as const },
};

/**
 * The headers helmet sets with these options, computed once: none depends on
 * the request (no CSP nonces), so running helmet's middleware on every request,
 * as @fastify/helmet does, rebuilt the same strings each time (about a tenth of
 * a token check's CPU).
 */
export function helmetHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    // X-Powered-By: Fastify never sets it.
    removeHeader() {},
  };
  let finished = false;
  helmet(HELMET_OPTIONS)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  if (!finished) throw new Error('helmet did not set its headers synchronously');
  return headers;
}

/**
 * What every answer of the plugin carries unless its route says otherwise. `Cache-Control: no-store`
 * covers tokens, profiles, sessions, user lists — and errors, which may depend on credentials; a
 * route or static asset that chooses its own caching sets the header again, which replaces it.
 */
export function apiHeaders(): Record<string, string> {
  const helmet = helmetHeaders();
  return {
    'content-security-policy': "default-src 'none';frame-ancestors 'none'",
    'cross-origin-resource-policy': helmet['cross-origin-resource-policy']!,
    'strict-transport-security': helmet['strict-transport-security']!,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
  };
}

/**
 * Registers the JSON answers' headers in the plugin's scope (Latchkey's routes only, its 404s and
 * 405s included), and returns the hook that gives a scope's pages helmet's whole set on top.
 * @example const pageHeaders = await registerSecurityHeaders(app, context);
 * await app.register(async (pages) => { pages.addHook('onRequest', pageHeaders); pages.get('/admin', …) });
 */
export async function registerSecurityHeaders(app: App, { config }: RouteContext): Promise<onRequestHookHandler> {
  app.decorate('latchkeyConfig', config);
  const api = apiHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(api);
    done();
  });
  const page = helmetHeaders();
  return (_request, reply, done) => {
    reply.headers(page);
    done();
  };
}
