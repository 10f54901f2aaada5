import { createHash, createPrivateKey, createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock.ts';
import { MIN_SIGNING_KEY_BYTES, type Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { PublicJwk } from '../wire.ts';
import { isHmac, type AsymmetricAlgorithm, type HmacAlgorithm, type VerificationKey } from './codec.ts';
import { activeKeys, jwkThumbprint, KeyDirectory, keyDirectoryPath, readKeyDirectory } from './key-directory.ts';

/** The key that signs new tokens and every key that still verifies. */
export interface KeySet {
  readonly current: VerificationKey;
  readonly all: ReadonlyMap<string, VerificationKey>;
  /** Looks for a `kid` not in `all` by re-reading the keys (rate-limited); see KeyRing. */
  refresh?(kid: string): VerificationKey | undefined;
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
export function hmacKeySet(secret: string, algorithm: HmacAlgorithm): KeySet {
  const key: VerificationKey = { kid: keyId(secret), algorithm, secret: createSecretKey(Buffer.from(secret)) };
  return { current: key, all: new Map([[key.kid, key]]) };
}

/** The JWS algorithm a private or public key is for; undefined for a key Latchkey does not sign with. */
export function algorithmOf(key: KeyObject): AsymmetricAlgorithm | undefined {
  if (key.asymmetricKeyType === 'rsa') return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? 'RS256' : undefined;
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : undefined;
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  return undefined;
}

/**
 * A signing key from a private key (PEM or JWK), its algorithm read from the key.
 * @example asymmetricKey(createPrivateKey(readFileSync('key.pem')))
 */
export function asymmetricKey(privateKey: KeyObject, kid?: string): VerificationKey & { algorithm: AsymmetricAlgorithm } {
  const algorithm = algorithmOf(privateKey);
  if (!algorithm) throw new Error('not an RSA (2048 bits or more), P-256 or Ed25519 private key');
  const publicKey = createPublicKey(privateKey);
  const id = kid ?? jwkThumbprint(publicKey.export({ format: 'jwk' }));
  if (algorithm !== 'ES256') return { kid: id, algorithm, publicKey, privateKey };
  const d = privateKey.export({ format: 'jwk' }).d;
  if (typeof d !== 'string') throw new Error('EC key without its private part');
  return { kid: id, algorithm, publicKey, privateKey, scalar: new Uint8Array(Buffer.from(d, 'base64url')) };
}

function publicJwk(key: VerificationKey): PublicJwk | undefined {
  if ('secret' in key) return undefined;
  const { kty, crv, x, y, n, e } = key.publicKey.export({ format: 'jwk' });
  if (kty === undefined) return undefined;
  return { kty, ...(crv ? { crv } : {}), ...(x ? { x } : {}), ...(y ? { y } : {}), ...(n ? { n } : {}), ...(e ? { e } : {}), kid: key.kid, alg: key.algorithm, use: 'sig' };
}

type KeySettings = Pick<Config, 'signingKey' | 'jwtAlgorithm' | 'jwtPrivateKeyFiles' | 'dataDir' | 'production' | 'refreshTokenLifetime' | 'leeway'>;

/**
 * Reads every key from the configuration: `SIGNING_KEY` for HS256/384/512; for
 * RS256, ES256 and EdDSA the first `JWT_PRIVATE_KEY_FILE` (or the newest key of
 * that algorithm in the key directory) signs, and the other files and every
 * key directory entry that may still have valid tokens verify.
 */
export function loadKeySet(config: KeySettings, nowMs: number): KeySet {
  const all = new Map<string, VerificationKey>();
  const stored = activeKeys(readKeyDirectory(keyDirectoryPath(config.dataDir)), nowMs, config.refreshTokenLifetime + config.leeway);
  for (const entry of stored) all.set(entry.kid, asymmetricKey(createPrivateKey({ key: entry.jwk, format: 'jwk' }), entry.kid));

  let current: VerificationKey | undefined;
  if (isHmac(config.jwtAlgorithm)) {
    if (config.signingKey === undefined) throw new ConfigError('SIGNING_KEY', 'is not set');
    current = hmacKeySet(config.signingKey, config.jwtAlgorithm).current;
  } else if (config.jwtPrivateKeyFiles.length > 0) {
    const [first, ...previous] = config.jwtPrivateKeyFiles.map((path) => readKeyFile(path));
    current = first;
    for (const key of previous) all.set(key.kid, key);
  } else {
    const newest = stored.filter((entry) => entry.alg === config.jwtAlgorithm).at(-1);
    if (newest) current = all.get(newest.kid);
  }
  if (!current) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `is required with JWT_ALGORITHM=${config.jwtAlgorithm} (or run \`latchkey keys generate\`)`);
  }
  if (current.algorithm !== config.jwtAlgorithm) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `holds a ${current.algorithm} key, but JWT_ALGORITHM is ${config.jwtAlgorithm}`);
  }
  all.set(current.kid, current);
  return { current, all };
}

function readKeyFile(path: string): VerificationKey {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (error) {
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return asymmetricKey(createPrivateKey(text));
  } catch (error) {
    // The message names the problem, never the key's content.
    throw new ConfigError('JWT_PRIVATE_KEY_FILE', `${path}: ${error instanceof Error && error.message.startsWith('not an') ? error.message : 'not a PEM private key'}`);
  }
}

/** How often an unknown `kid` may make the ring re-read its keys. */
const REFRESH_COOLDOWN_MS = 1000;

/**
 * The live key set: re-read when the CLI adds or retires a key (the control
 * socket), every `reloadEveryMs`, and when a token names a `kid` it does not
 * know (another instance may have rotated first), at most once a second.
 * A failed re-read keeps the keys it had.
 */
export class KeyRing implements KeySet {
  readonly #load: () => KeySet;
  readonly #clock: Clock;
  #keys: KeySet;
  #lastLoad: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(load: () => KeySet, clock: Clock) {
    this.#load = load;
    this.#clock = clock;
    this.#keys = load();
    this.#lastLoad = clock.now();
  }

  get current(): VerificationKey {
    return this.#keys.current;
  }

  get all(): ReadonlyMap<string, VerificationKey> {
    return this.#keys.all;
  }

  readonly refresh = (kid: string): VerificationKey | undefined => {
    if (this.#clock.now() - this.#lastLoad < REFRESH_COOLDOWN_MS) return undefined;
    this.reload();
    return this.#keys.all.get(kid);
  };

  /** Re-reads the keys; throws (and keeps the old ones) when they no longer load. */
  reload(): void {
    this.#lastLoad = this.#clock.now();
    this.#keys = this.#load();
  }

  /** Starts re-reading on a timer; `onError` hears a failed re-read. */
  start(everyMs: number, onError?: (error: unknown) => void): void {
    this.#timer = setInterval(() => {
      try {
        this.reload();
      } catch (error) {
        onError?.(error);
      }
    }, everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The public keys, for `/.well-known/jwks.json`; HMAC secrets are never published. */
  publicKeys(): PublicJwk[] {
    return [...this.#keys.all.values()].map(publicJwk).filter((jwk): jwk is PublicJwk => jwk !== undefined);
  }
}

/**
 * The key directory of a configuration, for `latchkey keys …`.
 * @example keyDirectory(config, systemClock).list()
 */
export function keyDirectory(config: Pick<Config, 'dataDir' | 'jwtAlgorithm' | 'refreshTokenLifetime' | 'leeway'>, clock: Clock, onChange?: () => void): KeyDirectory {
  return new KeyDirectory({
    dir: keyDirectoryPath(config.dataDir),
    algorithm: config.jwtAlgorithm,
    windowMs: config.refreshTokenLifetime + config.leeway,
    clock,
    ...(onChange ? { onChange } : {}),
  });
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
