/**
 * `latchkey/verify`: for another Node service that accepts Latchkey access
 * tokens (SPEC §9). Keys from the server's JWKS or the shared secret, the
 * server's own claim checks, and revocations followed from its feed.
 *
 * @example
 * import Fastify from 'fastify';
 * import { createVerifier, followRevocations, latchkeyVerify } from 'latchkey/verify';
 *
 * const revocations = await followRevocations({ url: 'https://auth.example.com/auth/revocations/', token: process.env.REVOCATION_FEED_TOKEN! });
 * const verifier = createVerifier({ jwksUrl: 'https://auth.example.com/.well-known/jwks.json', revocations });
 * const app = Fastify();
 * await app.register(latchkeyVerify, { verifier });
 * app.get('/orders', async (request) => ({ user: request.latchkey?.user_id }));
 */
export { createVerifier, verifyToken, Verifier, VerificationError } from './verifier.ts';
export type { RevocationView, VerifiedPrincipal, VerifierOptions, VerificationErrorCode } from './verifier.ts';
export { latchkeyVerify, type LatchkeyVerifyOptions } from './fastify.ts';
export { followRevocations, FeedRefusedError, type FollowRevocationsOptions, type RevocationFollower } from './feed.ts';
export { latchkeyMiddleware, type MiddlewareRequest, type MiddlewareResponse } from './express.ts';
export type { Principal } from '../auth.ts';
export type { TokenClaims, TokenType } from '../tokens/claims.ts';
export type { ErrorBody, ErrorCode } from '../wire.ts';
