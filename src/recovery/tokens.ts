/**
 * What mailed links carry besides their opaque token (tokens/opaque.ts): the
 * binding that voids a token when what it was issued against changes, and
 * Django's `uid`.
 */
import { createHash } from 'node:crypto';

/** What a token is bound to (a password hash, an address): a digest, so the row holds neither. */
export function bindingOf(value: string): string {
  return createHash('sha256').update(`latchkey.recovery:${value}`).digest('hex');
}

/**
 * Django's uid: the user id's decimal string in URL-safe base64, unpadded (`urlsafe_base64_encode`).
 * @example encodeUid(1) // 'MQ'
 */
export function encodeUid(id: number): string {
  return Buffer.from(String(id)).toString('base64url');
}

/** The user id in a uid; undefined when it is not one (Django's "Invalid user id"). */
export function decodeUid(uid: string): number | undefined {
  if (!/^[A-Za-z0-9_-]{1,16}={0,2}$/.test(uid)) return undefined;
  const text = Buffer.from(uid.replace(/=+$/, ''), 'base64url').toString('utf8');
  if (!/^[1-9]\d{0,9}$/.test(text)) return undefined;
  const id = Number(text);
  return id <= 2_147_483_647 ? id : undefined;
}
