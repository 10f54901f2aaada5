/**
 * Headers that make responses safe for browsers and proxies: @fastify/helmet's
 * set (nosniff, frame and referrer policies, a strict Content-Security-Policy
 * that Latchkey's own pages satisfy), and `Cache-Control: no-store` on API
 * answers, which carry tokens and profiles (RFC 6749 §5.1).
 */
import helmet from '@fastify/helmet';
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

/** Registers the headers in the plugin's scope, so they apply to Latchkey's routes only. */
export async function registerSecurityHeaders(app: App, { config }: RouteContext): Promise<void> {
  app.decorate('latchkeyConfig', config);
  await app.register(helmet, {
    global: true,
    // Not helmet's defaults: they add upgrade-insecure-requests, which breaks a console served over http on localhost.
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // Cookie mode on another origin needs its CORS requests answered; CORP only concerns no-cors loads.
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
  // Every answer that did not choose its own caching (static assets do) is not to be stored:
  // tokens, profiles, sessions, user lists — and errors, which may depend on credentials.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}
