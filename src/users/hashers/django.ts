/**
 * What every Django password format provides, and how Django names the format
 * of a stored hash (`identify_hasher` in django/contrib/auth/hashers.py).
 */
import { timingSafeEqual } from 'node:crypto';

export interface DjangoHasher {
  /** Django's name for the format: the text before the first `$`. */
  readonly algorithm: string;
  /** Why this hash cannot be checked (malformed, or a work factor over Latchkey's bound); undefined when it can. */
  problem(encoded: string): string | undefined;
  /** Never throws: a hash `problem` refuses, or a wrong password, is false. */
  verify(encoded: string, password: string): Promise<boolean>;
}

/** `User.set_unusable_password()` stores `!` and 40 random characters. */
export const UNUSABLE_PREFIX = '!';

/**
 * The algorithm name Django reads from a stored hash, ancient unsalted formats included.
 * @example djangoAlgorithm('pbkdf2_sha256$260000$salt$hash') // 'pbkdf2_sha256'
 */
export function djangoAlgorithm(encoded: string): string {
  if ((encoded.length === 32 && !encoded.includes('$')) || (encoded.length === 37 && encoded.startsWith('md5$$'))) return 'unsalted_md5';
  if (encoded.length === 46 && encoded.startsWith('sha1$$')) return 'unsalted_sha1';
  return encoded.split('$', 1)[0] ?? '';
}

/** Django's `constant_time_compare`: equal strings, compared in time that does not depend on where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  // timingSafeEqual needs equal lengths; comparing `left` with itself keeps the time the same.
  return timingSafeEqual(left, left.length === right.length ? right : left) && left.length === right.length;
}
