import type { UserRow } from '../store/repos/users.ts';
import type { TokenSubject } from '../sessions/service.ts';
import type { AdminUser, PublicUser } from '../wire.ts';

export type { AdminUser, PublicUser } from '../wire.ts';

/** ISO 8601 in UTC to the second, as DRF renders datetimes: `2026-11-22T10:15:00Z`. */
export function isoSeconds(value: Date | number): string {
  const ms = typeof value === 'number' ? value : value.getTime();
  // Whole seconds always end in '.000Z'.
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, -5)}Z`;
}

export function publicUser(row: UserRow): PublicUser {
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
