import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { VerificationError, type Verifier, type VerifiedPrincipal } from './verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by latchkey/verify's plugin: who the access token speaks for. */
    latchkey: VerifiedPrincipal | null;
  }
}

export interface LatchkeyVerifyOptions {
  verifier: Verifier;
  /** Routes that need no token (health checks…): return true to skip. */
  skip?: (request: FastifyRequest) => boolean;
}

/**
 * A Fastify plugin that refuses requests without a valid Latchkey access token
 * (in the scope it is registered in) and puts the principal on `request.latchkey`.
 * Failures answer as Latchkey does (401 `token_not_valid`, 403 `password_reset_required`, …).
 * @example
 * await app.register(latchkeyVerify, { verifier: createVerifier({ jwksUrl }) });
 * app.get('/orders', async (request) => listOrders(request.latchkey!.user_id));
 */
export const latchkeyVerify: FastifyPluginAsync<LatchkeyVerifyOptions> = async (app, { verifier, skip }) => {
  app.decorateRequest('latchkey', null);
  app.addHook('onRequest', async (request, reply) => {
    if (skip?.(request)) return;
    try {
      request.latchkey = await verifier.authenticate(request.headers.authorization);
    } catch (error) {
      if (!(error instanceof VerificationError)) throw error;
      return reply.code(error.status).headers(error.headers).send(error.body);
    }
  });
};
// Not encapsulated (as fastify-plugin would mark it): the hook covers the routes of the scope that registers it.
(latchkeyVerify as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
