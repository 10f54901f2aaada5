/**
 * CORS for CORS_ORIGINS (@fastify/cors): each listed origin, matched exactly,
 * may call the API with credentials (cookie mode) and gets its preflight
 * answered; any other origin gets no CORS header at all, so its browser keeps
 * the response from the page. `Vary: Origin` on every response, since the
 * answer depends on it.
 */
import cors from '@fastify/cors';
import { CSRF_HEADER } from './cookies.ts';
import type { App, RouteContext } from './types.ts';

/** Registers CORS in the plugin's scope, before the routes, so it covers every Latchkey route (not the host's). */
export async function registerCors(app: App, { config }: RouteContext): Promise<void> {
  if (config.corsOrigins.length === 0) return;
  const allowed = new Set(config.corsOrigins);
  await app.register(cors, {
    // A function, not the list: with a list, @fastify/cors still sends Allow-Credentials to strangers.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Accept-Language', CSRF_HEADER],
    maxAge: 600,
    hideOptionsRoute: true,
  });
}
