/**
 * Opaque single-use tokens: the links mailed for a reset or a verification,
 * and the mfa_token of a login waiting for its second step. 256 random bits
 * in base64url; only the SHA-256 is stored, so a database leak yields no
 * usable token. Spending one (once, before it expires) is each table's own
 * conditional update.
 */
import { createHash, randomBytes } from 'node:crypto';

/**
 * A new token: what the user is given, and what is stored.
 * @example const { token, hash } = newOpaqueToken();
 */
export function newOpaqueToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOpaqueToken(token) };
}

/** The stored form of a token (hex SHA-256), to look it up by. */
export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** What a token looks like: 43 base64url characters. */
export const OPAQUE_TOKEN = /^[A-Za-z0-9_-]{43}$/;
