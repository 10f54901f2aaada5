import type { UserRow } from '../store/repos/users.ts';

/** A user as the API shows it: never the password hash. */
export interface PublicUser {
  id: number;
  username: string;
  email: string;
  first_name: string;
  last_name: string;
  role: string;
  is_staff: boolean;
  is_manager: boolean;
  account_id: number | null;
  password_needs_reset: boolean;
  last_login: string | null;
  date_joined: string;
}

/** ISO 8601 in UTC to the second, as DRF renders datetimes: `2026-11-22T10:15:00Z`. */
export function isoSeconds(value: Date | number): string {
  return new Date(Math.floor(new Date(value).getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
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
