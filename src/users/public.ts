import type { UserRow } from '../store/repos/users.ts';
import type { TokenSubject } from '../sessions/service.ts';
import type { AdminUser, PublicUser } from '../wire.ts';

export type { AdminUser, PublicUser } from '../wire.ts';

/** ISO 8601 in UTC to the second, as DRF renders datetimes: `2026-11-22T10:15:00Z`. */
export function isoSeconds(value: Date | number): string {
  // The milliseconds cut off: `2026-11-22T10:15:00.999Z` → `2026-11-22T10:15:00Z`.
  return `${(value instanceof Date ? value : new Date(value)).toISOString().slice(0, 19)}Z`;
}

/**
 * Profiles already built, by row. A row is never changed once read (a change
 * reads a new one), and the user cache hands out the same row to every request
 * until the user changes, so GET /auth/me/ builds a profile once per change.
 */
const PROFILES = new WeakMap<UserRow, PublicUser>();

/** The profile SimpleJWT's clients see (frozen: it is shared). */
export function publicUser(row: UserRow): PublicUser {
  let profile = PROFILES.get(row);
  if (profile === undefined) {
    profile = Object.freeze(buildPublicUser(row));
    PROFILES.set(row, profile);
  }
  return profile;
}

function buildPublicUser(row: UserRow): PublicUser {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    role: row.role,
    is_staff: row.is_staff,
    is_manager: row.is_manager,
    account_id: row.account_id,
    password_needs_reset: row.password_needs_reset,
    last_login: row.last_login ? isoSeconds(row.last_login) : null,
    date_joined: isoSeconds(row.date_joined),
  };
}

/** A user as an administrator sees it: the public user, whether it is active and whether it has a second factor. */
export function adminUser(row: UserRow, mfaEnabled: boolean): AdminUser {
  return { ...publicUser(row), is_active: row.is_active, mfa_enabled: mfaEnabled };
}

/** What the session layer puts in a token about a user. */
export function tokenSubject(user: UserRow, accountActive: boolean): TokenSubject {
  return {
    id: user.id,
    role: user.role,
    accountId: user.account_id,
    isActive: user.is_active,
    accountActive,
    passwordNeedsReset: user.password_needs_reset,
    emailVerified: user.email_verified,
  };
}
