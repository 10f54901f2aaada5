import type { App, RouteContext } from '../types.ts';

/**
 * How long verifiers may cache the key set. Short enough that a rotated-in key
 * is seen within minutes even by a verifier that does not refetch on an unknown
 * `kid` (latchkey/verify does), long enough that nobody fetches per request.
 */
export const JWKS_CACHE_CONTROL = 'public, max-age=300, stale-if-error=86400';

/** GET /.well-known/jwks.json: the public keys that verify Latchkey's tokens (none with HMAC). */
export function jwksRoute(app: App, { auth }: RouteContext): void {
  app.get('/.well-known/jwks.json', { schema: { tags: ['tokens'], summary: 'Public signing keys (RFC 7517)' } }, async (_request, reply) => {
    reply.header('cache-control', JWKS_CACHE_CONTROL);
    return auth.jwks();
  });
}
