/**
 * `latchkey/verify`: for another service that accepts Latchkey access tokens.
 * Today it carries the principal and claim types the server uses; the
 * verifier itself (JWKS or shared secret, the revocation feed) is built on
 * these.
 */
export type { Principal } from '../auth.ts';
export type { TokenClaims, TokenType } from '../tokens/claims.ts';
export type { ErrorBody, ErrorCode } from '../wire.ts';
