/**
 * The reset links a Django site mailed before the cut-over: Django's
 * PasswordResetTokenGenerator (3.1+: seconds since 2001-01-01 in base 36, an
 * HMAC of the user's id, password hash, last login, the timestamp and the
 * email; sha256, or sha1 for links made before DEFAULT_HASHING_ALGORITHM
 * changed). Such a link dies when any of those change, as in Django.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const KEY_SALT = 'django.contrib.auth.tokens.PasswordResetTokenGenerator';
const EPOCH_2001 = Date.UTC(2001, 0, 1);

export interface DjangoTokenUser {
  id: number;
  password: string;
  lastLogin: Date | null;
  email: string;
}

/** Shaped like a Django token: a base-36 timestamp, a dash, 32 (sha256) or 20 (sha1) hex digits. */
export const DJANGO_RESET_TOKEN = /^[0-9a-z]{1,13}-(?:[0-9a-f]{32}|[0-9a-f]{20})$/;

/**
 * True when `token` is one Django would accept for `user` now.
 * @example checkDjangoResetToken(user, '…-…', { secretKey, timeoutMs: 259_200_000, now: Date.now() })
 */
export function checkDjangoResetToken(user: DjangoTokenUser, token: string, options: { secretKey: string; timeoutMs: number; now: number }): boolean {
  if (!DJANGO_RESET_TOKEN.test(token)) return false;
  const [tsB36 = '', digest = ''] = token.split('-');
  const timestamp = Number.parseInt(tsB36, 36);
  if (!Number.isSafeInteger(timestamp)) return false;
  const algorithm = digest.length === 32 ? 'sha256' : 'sha1';
  const expected = makeDjangoResetToken(user, timestamp, options.secretKey, algorithm);
  if (expected.length !== token.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(token))) return false;
  const nowSeconds = Math.floor((options.now - EPOCH_2001) / 1000);
  return nowSeconds - timestamp <= Math.floor(options.timeoutMs / 1000);
}

/** Django's `_make_token_with_timestamp`. Exported for tests. */
export function makeDjangoResetToken(user: DjangoTokenUser, timestamp: number, secretKey: string, algorithm: 'sha256' | 'sha1'): string {
  const key = createHash(algorithm).update(KEY_SALT + secretKey).digest();
  const value = `${user.id}${user.password}${loginTimestamp(user.lastLogin)}${timestamp}${user.email}`;
  const hex = createHmac(algorithm, key).update(value).digest('hex');
  const everyOther = [...hex].filter((_, i) => i % 2 === 0).join('');
  return `${timestamp.toString(36)}-${everyOther}`;
}

/** `str(last_login.replace(microsecond=0, tzinfo=None))`: naive UTC, `2026-01-02 03:04:05`, or '' when never. */
function loginTimestamp(lastLogin: Date | null): string {
  if (lastLogin === null) return '';
  return lastLogin.toISOString().slice(0, 19).replace('T', ' ');
}
