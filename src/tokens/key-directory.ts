/**
 * The key directory (`DATA_DIR/keys/`): asymmetric signing keys that
 * `latchkey keys generate|rotate|retire` manage, one JSON file per key
 * (`<kid>.json`, mode 0600) holding its private JWK and when it was made.
 * The newest key of the configured algorithm signs; older ones verify until no
 * token they signed can still be valid, or until they are retired.
 */
import { createHash, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './codec.ts';

/** One file of the key directory. */
export interface StoredKey {
  kid: string;
  alg: AsymmetricAlgorithm;
  /** ISO 8601. */
  created_at: string;
  /** The private key. */
  jwk: JsonWebKey;
}

/** A key as `keys list` shows it; no key material. */
export interface KeyInfo {
  kid: string;
  alg: AsymmetricAlgorithm;
  created_at: string;
  /** `current` signs; `verifying` only verifies; `expired`: no token it signed can still be valid (safe to retire). */
  status: 'current' | 'verifying' | 'expired';
  /** When its last token can expire; null while it signs. */
  verifies_until: string | null;
}

/** A refusal the operator can act on (a key already there, an unknown kid, retiring the current key). */
export class KeyDirectoryError extends Error {
  override readonly name = 'KeyDirectoryError';
}

export function keyDirectoryPath(dataDir: string): string {
  return join(dataDir, 'keys');
}

/**
 * Every well-formed key file, oldest first. A missing directory holds no keys;
 * a file that does not parse is skipped (it cannot sign or verify anything).
 */
export function readKeyDirectory(dir: string): StoredKey[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const keys: StoredKey[] = [];
  for (const name of names) {
    try {
      const entry = JSON.parse(readFileSync(join(dir, name), 'utf8')) as StoredKey;
      if (typeof entry.kid === 'string' && (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(entry.alg) && typeof entry.created_at === 'string' && typeof entry.jwk === 'object') {
        keys.push(entry);
      }
    } catch {
      // unreadable or half-written by hand: not a key
    }
  }
  return keys.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.kid.localeCompare(b.kid));
}

/** When each key stopped signing: the next key's creation; the newest never did. */
function supersededAt(keys: readonly StoredKey[], index: number): number | undefined {
  const next = keys[index + 1];
  return next ? Date.parse(next.created_at) : undefined;
}

/**
 * The keys that may still have valid tokens: superseded less than `windowMs`
 * (refresh lifetime + leeway) ago, or never.
 */
export function activeKeys(keys: readonly StoredKey[], nowMs: number, windowMs: number): StoredKey[] {
  return keys.filter((_, index) => {
    const until = supersededAt(keys, index);
    return until === undefined || until + windowMs > nowMs;
  });
}

/** A fresh private key for an algorithm: RSA 2048, P-256 or Ed25519. */
export function generatePrivateKey(alg: AsymmetricAlgorithm): KeyObject {
  switch (alg) {
    case 'RS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519').privateKey;
  }
}

/** The `kid` of a private key: the RFC 7638 thumbprint of its public half. */
export function kidOf(privateKey: KeyObject): string {
  return jwkThumbprint(createPublicKey(privateKey).export({ format: 'jwk' }));
}

/**
 * The RFC 7638 thumbprint of a public JWK: the `kid` of an asymmetric key, so
 * any party holding the public key computes the same one.
 * @example jwkThumbprint(publicKey.export({ format: 'jwk' }))
 */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members: Record<string, readonly string[]> = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };
  const required = members[jwk.kty ?? ''];
  if (!required) throw new Error(`no thumbprint for key type ${String(jwk.kty)}`);
  const canonical = `{${required.map((name) => `${JSON.stringify(name)}:${JSON.stringify(jwk[name])}`).join(',')}}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

export interface KeyDirectoryOptions {
  dir: string;
  /** JWT_ALGORITHM. */
  algorithm: string;
  /** Refresh lifetime + leeway: how long a superseded key keeps verifying. */
  windowMs: number;
  clock: Clock;
  /** Told after every change (a running server re-reads its keys). */
  onChange?: () => void;
}

/**
 * What `latchkey keys …` does to the key directory.
 * @example new KeyDirectory({ dir: keyDirectoryPath(config.dataDir), algorithm: 'ES256', windowMs, clock }).rotate('ES256')
 */
export class KeyDirectory {
  readonly #options: KeyDirectoryOptions;

  constructor(options: KeyDirectoryOptions) {
    this.#options = options;
  }

  /** Every key with its status, oldest first. */
  list(): KeyInfo[] {
    const keys = readKeyDirectory(this.#options.dir);
    const now = this.#options.clock.now();
    const signing = keys.filter((key) => key.alg === this.#options.algorithm).at(-1)?.kid;
    return keys.map((key, index) => {
      const superseded = supersededAt(keys, index);
      const until = key.kid === signing ? undefined : superseded === undefined ? undefined : superseded + this.#options.windowMs;
      const status = key.kid === signing ? 'current' : until !== undefined && until <= now ? 'expired' : 'verifying';
      return { kid: key.kid, alg: key.alg, created_at: key.created_at, status, verifies_until: until === undefined ? null : new Date(until).toISOString() };
    });
  }

  /** The first key of an algorithm; refused when one exists already (that is `rotate`). */
  generate(alg: AsymmetricAlgorithm): KeyInfo {
    const existing = readKeyDirectory(this.#options.dir).filter((key) => key.alg === alg).at(-1);
    if (existing) throw new KeyDirectoryError(`an ${alg} key exists already (${existing.kid}); use \`latchkey keys rotate\` to replace it`);
    return this.#add(alg);
  }

  /** A new key that signs from now on; the previous ones keep verifying. */
  rotate(alg: AsymmetricAlgorithm): { current: KeyInfo; previous: KeyInfo[] } {
    const current = this.#add(alg);
    return { current, previous: this.list().filter((key) => key.kid !== current.kid && key.status === 'verifying') };
  }

  /** Deletes a key: tokens it signed are refused from now on. The current key cannot be retired. */
  retire(kid: string): KeyInfo {
    const key = this.list().find((entry) => entry.kid === kid);
    if (!key) throw new KeyDirectoryError(`no key ${kid} in ${this.#options.dir}`);
    if (key.status === 'current') throw new KeyDirectoryError(`${kid} is the current signing key; rotate first, then retire it`);
    rmSync(join(this.#options.dir, `${kid}.json`));
    this.#options.onChange?.();
    return key;
  }

  #add(alg: AsymmetricAlgorithm): KeyInfo {
    const privateKey = generatePrivateKey(alg);
    const kid = kidOf(privateKey);
    // Strictly after every key there, so the new one is the newest even within one millisecond.
    const last = readKeyDirectory(this.#options.dir).at(-1);
    const at = Math.max(this.#options.clock.now(), last ? Date.parse(last.created_at) + 1 : 0);
    const entry: StoredKey = { kid, alg, created_at: new Date(at).toISOString(), jwk: privateKey.export({ format: 'jwk' }) };
    mkdirSync(this.#options.dir, { recursive: true, mode: 0o700 });
    // Written whole, then renamed into place: a reader never sees half a key.
    const path = join(this.#options.dir, `${kid}.json`);
    writeFileSync(`${path}.tmp`, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    this.#options.onChange?.();
    const info = this.list().find((key) => key.kid === kid);
    if (!info) throw new Error(`key ${kid} was written but cannot be read back`);
    return info;
  }
}
