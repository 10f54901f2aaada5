/**
 * Compact JWS encoding and decoding: the only file that knows the token format.
 *
 * Signing and verification run on node:crypto, synchronously: HMAC verification
 * measured on this stack at ~5 µs against ~100 µs for WebCrypto through a JWT
 * library (see bench/RESULTS.md), and a synchronous check keeps the access-token
 * path free of awaits. ES256 is signed with RFC 6979 deterministic nonces
 * (@noble/curves) so that, like HS*, RS256 and EdDSA, the same claims always give
 * the same token (the grace-window replay relies on it; see the README).
 */
import { createHmac, sign as cryptoSign, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export const ALGORITHMS = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS] as const;

export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export type Algorithm = HmacAlgorithm | AsymmetricAlgorithm;

export function isHmac(algorithm: Algorithm): algorithm is HmacAlgorithm {
  return (HMAC_ALGORITHMS as readonly string[]).includes(algorithm);
}

export interface JwsHeader {
  alg: Algorithm;
  typ: 'JWT';
  kid: string;
}

export type Payload = Record<string, unknown>;

/** Why a token could not be decoded; never shown to clients, who only see token_not_valid. */
export type CodecFailure = 'too_large' | 'malformed' | 'algorithm' | 'unknown_key' | 'signature';

export class CodecError extends Error {
  readonly reason: CodecFailure;
  constructor(reason: CodecFailure) {
    super(`token rejected: ${reason}`);
    this.name = 'CodecError';
    this.reason = reason;
  }
}

/**
 * A key a token may name by `kid`. Its algorithm is pinned: a token whose header
 * names another algorithm is refused, whatever the signature (no algorithm confusion).
 */
export type VerificationKey =
  | { kid: string; algorithm: HmacAlgorithm; secret: KeyObject }
  | { kid: string; algorithm: AsymmetricAlgorithm; publicKey: KeyObject; privateKey?: KeyObject; /** ES256 only: the raw scalar, for deterministic signing. */ scalar?: Uint8Array };

const HMAC_HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

function hmac(algorithm: HmacAlgorithm, secret: KeyObject, signingInput: string): Buffer {
  return createHmac(HMAC_HASH[algorithm], secret).update(signingInput).digest();
}

function signature(key: VerificationKey, signingInput: string): Buffer {
  if ('secret' in key) return hmac(key.algorithm, key.secret, signingInput);
  const data = Buffer.from(signingInput);
  switch (key.algorithm) {
    case 'RS256':
      return cryptoSign('sha256', data, requirePrivate(key));
    case 'EdDSA':
      return cryptoSign(null, data, requirePrivate(key));
    case 'ES256':
      if (!key.scalar) throw new Error(`key ${key.kid} cannot sign`);
      // prehash: SHA-256 of the message; k from RFC 6979 (no extra entropy); r‖s, as JWS wants.
      return Buffer.from(p256.sign(data, key.scalar, { prehash: true }));
  }
}

function requirePrivate(key: { kid: string; privateKey?: KeyObject }): KeyObject {
  if (!key.privateKey) throw new Error(`key ${key.kid} cannot sign`);
  return key.privateKey;
}

function signatureValid(key: VerificationKey, signingInput: string, actual: Buffer): boolean {
  if ('secret' in key) {
    const expected = hmac(key.algorithm, key.secret, signingInput);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
  const data = Buffer.from(signingInput);
  switch (key.algorithm) {
    case 'RS256':
      return cryptoVerify('sha256', data, key.publicKey, actual);
    case 'EdDSA':
      return cryptoVerify(null, data, key.publicKey, actual);
    case 'ES256':
      return actual.length === 64 && cryptoVerify('sha256', data, { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, actual);
  }
}

function encodeJson(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeJson(segment: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) throw new CodecError('malformed');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new CodecError('malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CodecError('malformed');
  return value as Record<string, unknown>;
}

/**
 * Headers already read, by their encoded segment: every token signed with one
 * key has the same header, so a check decodes it once. Bounded (a flood of
 * made-up headers only fills it, and they are then decoded each time); the
 * objects are frozen, since callers share them.
 */
const HEADERS = new Map<string, Readonly<Record<string, unknown>>>();
const HEADERS_MAX = 64;

function decodeHeader(segment: string): Readonly<Record<string, unknown>> {
  let header = HEADERS.get(segment);
  if (header === undefined) {
    header = Object.freeze(decodeJson(segment));
    if (HEADERS.size < HEADERS_MAX) HEADERS.set(segment, header);
  }
  return header;
}

/** The header of every token a key signs, encoded once per key. */
const ENCODED_HEADERS = new WeakMap<VerificationKey, string>();

function encodedHeader(key: VerificationKey): string {
  let encoded = ENCODED_HEADERS.get(key);
  if (encoded === undefined) {
    const header: JwsHeader = { alg: key.algorithm, typ: 'JWT', kid: key.kid };
    encoded = encodeJson(header);
    ENCODED_HEADERS.set(key, encoded);
  }
  return encoded;
}

/**
 * Signs a payload. Deterministic for every algorithm: the same claims give the same token.
 * @example encode(payload, key) // 'eyJhbGciOiJIUzI1NiIs…'
 */
export function encode(payload: Payload, key: VerificationKey): string {
  const signingInput = `${encodedHeader(key)}.${encodeJson(payload)}`;
  return `${signingInput}.${signature(key, signingInput).toString('base64url')}`;
}

/**
 * Checks the signature and returns the payload. The header's `kid` selects the
 * key and the key fixes the algorithm, so only configured algorithms are ever
 * accepted (never `none`). A token without `kid` is tried against the current
 * key, as tokens from a SimpleJWT deployment carry none; an unknown `kid` is
 * asked of `refresh` once (a key added since the keys were read).
 */
export function decode(
  token: string,
  keys: ReadonlyMap<string, VerificationKey>,
  current: VerificationKey,
  refresh?: (kid: string) => VerificationKey | undefined,
): Payload {
  if (token.length > MAX_TOKEN_BYTES) throw new CodecError('too_large');
  const parts = token.split('.');
  if (parts.length !== 3) throw new CodecError('malformed');
  const [headerSegment, payloadSegment, signatureSegment] = parts as [string, string, string];
  const header = decodeHeader(headerSegment);
  if (typeof header.alg !== 'string' || !(ALGORITHMS as readonly string[]).includes(header.alg)) throw new CodecError('algorithm');
  let key: VerificationKey | undefined;
  if (header.kid === undefined) key = current;
  else if (typeof header.kid === 'string') key = keys.get(header.kid) ?? refresh?.(header.kid);
  if (key === undefined) throw new CodecError('unknown_key');
  if (header.alg !== key.algorithm) throw new CodecError('algorithm');
  if (!/^[A-Za-z0-9_-]*$/.test(signatureSegment)) throw new CodecError('malformed');
  const actual = Buffer.from(signatureSegment, 'base64url');
  if (!signatureValid(key, `${headerSegment}.${payloadSegment}`, actual)) throw new CodecError('signature');
  return decodeJson(payloadSegment);
}

/** The `kid` a token's header names, without verifying anything; undefined when absent or unreadable. */
export function peekKid(token: string): string | undefined {
  try {
    const kid = decodeJson(token.split('.')[0] ?? '').kid;
    return typeof kid === 'string' ? kid : undefined;
  } catch {
    return undefined;
  }
}
