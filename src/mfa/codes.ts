/**
 * TOTP (RFC 6238: SHA-1, 6 digits, 30 s, through `otpauth`) and recovery codes.
 * Pure functions: what is spent and when is the service's business.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the server's clock (shifted by the learnt drift). */
export const TOTP_WINDOW = 1;
/** The drift learnt is bounded: a device more than this many steps off must have its clock set. */
export const MAX_DRIFT = 10;

/** A new TOTP secret: 160 bits, as RFC 4226 recommends. */
export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

export function base32(secret: Buffer): string {
  return new Secret({ buffer: new Uint8Array(secret).buffer }).base32;
}

/** The `otpauth://` URL authenticator apps read from a QR code. */
export function otpauthUrl(secret: Buffer, issuer: string, account: string): string {
  return new TOTP({ issuer, label: account, secret: base32(secret), algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_S }).toString();
}

/** The 30-second step `nowMs` falls in. */
export function stepAt(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_S);
}

/** The code of one step (tests act as the authenticator app with it). */
export function totpCode(secret: Buffer, step: number): string {
  return HOTP.generate({ secret: new Secret({ buffer: new Uint8Array(secret).buffer }), counter: step, algorithm: 'SHA1', digits: TOTP_DIGITS });
}

/**
 * The step `code` belongs to, within ±TOTP_WINDOW of the current step shifted by
 * `drift`; undefined when none matches. Every candidate is compared, in constant time.
 */
export function matchTotp(secret: Buffer, code: string, nowMs: number, drift: number): number | undefined {
  const given = Buffer.from(code.padEnd(TOTP_DIGITS, ' ').slice(0, 16));
  const center = stepAt(nowMs) + drift;
  let found: number | undefined;
  for (let step = center - TOTP_WINDOW; step <= center + TOTP_WINDOW; step++) {
    const expected = Buffer.from(totpCode(secret, step));
    const same = given.length === expected.length && timingSafeEqual(given, expected);
    if (same && found === undefined) found = step;
  }
  return found;
}

/** The drift to remember after accepting `step` now. */
export function learntDrift(step: number, nowMs: number): number {
  return Math.max(-MAX_DRIFT, Math.min(MAX_DRIFT, step - stepAt(nowMs)));
}

/** Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const RECOVERY_CODE_COUNT = 10;

/** A recovery code: 60 random bits as 12 characters, `XXXX-XXXX-XXXX`. */
export function newRecoveryCode(): string {
  const bytes = randomBytes(8);
  let value = bytes.readBigUInt64BE() >> 4n; // 60 bits
  let chars = '';
  for (let i = 0; i < 12; i++) {
    chars = ALPHABET[Number(value & 31n)] + chars;
    value >>= 5n;
  }
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8)}`;
}

/**
 * A typed recovery code in its canonical form (upper case, no separators,
 * the letters people confuse mapped as Crockford says); undefined when it cannot be one.
 */
export function canonicalRecoveryCode(input: string): string | undefined {
  const cleaned = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (cleaned.length !== 12 || [...cleaned].some((c) => !ALPHABET.includes(c))) return undefined;
  return `${cleaned.slice(0, 4)}-${cleaned.slice(4, 8)}-${cleaned.slice(8)}`;
}
