/**
 * Compact JWS encoding and decoding: the only file that knows the token format.
 *
 * HS256 is done with node:crypto's HMAC: measured on this stack at ~5 µs per
 * verification against ~100 µs for WebCrypto through a JWT library (see
 * bench/RESULTS.md). Asymmetric algorithms, when added, belong here too.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;

export type Algorithm = 'HS256';

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

export interface VerificationKey {
  kid: string;
  algorithm: Algorithm;
  secret: KeyObject;
}

function hmac(secret: KeyObject, signingInput: string): Buffer {
  return createHmac('sha256', secret).update(signingInput).digest();
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
 * Signs a payload. Deterministic for HS256: the same claims give the same token.
 * @example encode(payload, key) // 'eyJhbGciOiJIUzI1NiIs…'
 */
export function encode(payload: Payload, key: VerificationKey): string {
  const header: JwsHeader = { alg: key.algorithm, typ: 'JWT', kid: key.kid };
  const signingInput = `${encodeJson(header)}.${encodeJson(payload)}`;
  return `${signingInput}.${hmac(key.secret, signingInput).toString('base64url')}`;
}

/**
 * Checks the signature and returns the payload. Only the algorithms of the given
 * keys are accepted (never `none`); a token without `kid` is tried against the
 * current key, as tokens from a SimpleJWT deployment carry none.
 */
export function decode(token: string, keys: ReadonlyMap<string, VerificationKey>, current: VerificationKey): Payload {
  if (token.length > MAX_TOKEN_BYTES) throw new CodecError('too_large');
  const parts = token.split('.');
  if (parts.length !== 3) throw new CodecError('malformed');
  const [headerSegment, payloadSegment, signatureSegment] = parts as [string, string, string];
  const header = decodeJson(headerSegment);
  const key = header.kid === undefined ? current : typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
  if (header.alg !== 'HS256') throw new CodecError('algorithm');
  if (key === undefined) throw new CodecError('unknown_key');
  if (header.alg !== key.algorithm) throw new CodecError('algorithm');
  if (!/^[A-Za-z0-9_-]*$/.test(signatureSegment)) throw new CodecError('malformed');
  const expected = hmac(key.secret, `${headerSegment}.${payloadSegment}`);
  const actual = Buffer.from(signatureSegment, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new CodecError('signature');
  return decodeJson(payloadSegment);
}
