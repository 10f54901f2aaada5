import { createHash, createSecretKey, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_SIGNING_KEY_BYTES } from '../config.ts';
import type { VerificationKey } from './codec.ts';

/** The key that signs new tokens and every key that still verifies. */
export interface KeySet {
  current: VerificationKey;
  all: ReadonlyMap<string, VerificationKey>;
}

/**
 * A `kid` derived from the secret, so every instance sharing a key agrees on it
 * without configuration. A truncated salted hash reveals nothing usable about a
 * secret of 32 bytes or more.
 */
export function keyId(secret: string): string {
  return createHash('sha256').update(`latchkey-kid:${secret}`).digest('base64url').slice(0, 16);
}

/**
 * Builds the key set for an HMAC algorithm (JWT_ALGORITHM) from a shared secret.
 * @example const keys = hmacKeySet(config.signingKey, config.jwtAlgorithm);
 */
export function hmacKeySet(secret: string, algorithm: VerificationKey['algorithm']): KeySet {
  const key: VerificationKey = { kid: keyId(secret), algorithm, secret: createSecretKey(Buffer.from(secret)) };
  return { current: key, all: new Map([[key.kid, key]]) };
}

const DEV_KEY_FILE = 'signing.key';

/**
 * The development signing key: generated once into the data directory (mode 0600)
 * and read back on every later start, so tokens survive restarts.
 */
export function loadOrCreateDevKey(dataDir: string): string {
  const path = join(dataDir, DEV_KEY_FILE);
  try {
    const existing = readFileSync(path, 'utf8').trim();
    if (Buffer.byteLength(existing) >= MIN_SIGNING_KEY_BYTES) return existing;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'w' });
  chmodSync(path, 0o600);
  return secret;
}
