/**
 * Django's normalisation of login identifiers, applied wherever a username or
 * an email is stored, so that look-alikes cannot sit beside the real thing.
 */

/**
 * Django's `AbstractBaseUser.normalize_username`: Unicode NFKC, so a fullwidth
 * `ａlice` or a ligature `ﬁ` is stored as `alice`, `fi`.
 * @example normalizeUsername('ａlice') // 'alice'
 */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC');
}

/**
 * Django's `BaseUserManager.normalize_email`: surrounding space removed and the
 * domain lower-cased; the local part is kept as typed (it may be case-sensitive).
 * @example normalizeEmail(' Ann@Example.COM ') // 'Ann@example.com'
 */
export function normalizeEmail(email: string): string {
  const trimmed = email.trim();
  const at = trimmed.lastIndexOf('@');
  if (at < 0) return trimmed;
  return `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
}
