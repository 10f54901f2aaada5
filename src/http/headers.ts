/**
 * Headers that make responses safe for browsers and proxies: helmet's
 * set (nosniff, frame and referrer policies, a strict Content-Security-Policy
 * that Latchkey's own pages satisfy), and `Cache-Control: no-store` on API
 * answers, which carry tokens and profiles (RFC 6749 §5.1).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** Registers the headers in the plugin's scope, so they apply to Latchkey's routes only. */
export async function registerSecurityHeaders(app: App, { config }: RouteContext): Promise<void> {
  app.decorate('latchkeyConfig', config);
  const security = helmetHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(security);
    done();
  });
  // Every answer that did not choose its own caching (static assets do) is not to be stored:
  // tokens, profiles, sessions, user lists — and errors, which may depend on credentials.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    done(null, payload);
  });
}
