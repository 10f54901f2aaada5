import type { ColumnType, Generated } from 'kysely';

/** Table types for Kysely. Migrations must produce exactly these columns (test/store/migrations.test.ts). */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  accounts: AccountsTable;
  audit_events: AuditEventsTable;
  user_mfa: UserMfaTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  mfa_tokens: MfaTokensTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  mfa_remembered_devices: MfaRememberedDevicesTable;
  mail_outbox: MailOutboxTable;
  recovery_tokens: RecoveryTokensTable;
  token_cutoffs: TokenCutoffsTable;
  simplejwt_spent_tokens: SimplejwtSpentTokensTable;
}

type Timestamp = ColumnType<Date, Date, Date>;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string;
  password: string;
  first_name: Generated<string>;
  last_name: Generated<string>;
  role: string;
  is_staff: Generated<boolean>;
  is_manager: Generated<boolean>;
  is_active: Generated<boolean>;
  account_id: number | null;
  password_needs_reset: Generated<boolean>;
  last_login: Timestamp | null;
  date_joined: Timestamp;
  /** False only for a user who registered under EMAIL_VERIFICATION and has not followed the link yet. */
  email_verified: Generated<boolean>;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  created_at: Timestamp;
  last_used_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  user_agent: string | null;
  ip: string | null;
  /** How the user got in (RFC 8176 `amr`, `aal`, `auth_time`; SPEC §12): null on sessions older than them. */
  amr: ColumnType<string[] | null, string | null | undefined, string | null>;
  aal: ColumnType<string | null, string | null | undefined, string | null>;
  auth_time: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The passkey that opened the session (deleting it ends the session); null otherwise. */
  passkey_id: ColumnType<string | null, string | null | undefined, string | null>;
}

/** One row per refresh token issued; `spent_at` set when rotated, with the successor it was exchanged for. */
export interface RefreshTokensTable {
  jti: string;
  session_id: string;
  issued_at: Timestamp;
  expires_at: Timestamp;
  /** The access token issued alongside, so a grace-window replay can re-sign the same pair. */
  access_jti: string;
  access_expires_at: Timestamp;
  spent_at: Timestamp | null;
  successor_jti: string | null;
  /** Issued by a Django site's SimpleJWT and imported: such a token has no sid and is found by its jti. */
  imported: Generated<boolean>;
}

/** Tenants. Users point at one through `users.account_id`; an inactive account's users cannot log in. */
export interface AccountsTable {
  id: Generated<number>;
  name: string;
  is_active: Generated<boolean>;
  created_at: Timestamp;
}

/** The audit trail: one row per authentication or admin event. Never a password or a token. */
export interface AuditEventsTable {
  /** bigint: pg returns it as a string. */
  id: ColumnType<string, never, never>;
  type: string;
  at: Timestamp;
  user_id: number | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  outcome: string;
  detail: ColumnType<Record<string, unknown>, string, string>;
}

/** A user's second factor: TOTP (secrets encrypted), replay and drift state, and the failure lock. */
export interface UserMfaTable {
  user_id: number;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  totp_pending_expires_at: Timestamp | null;
  totp_confirmed_at: Timestamp | null;
  totp_last_used_at: Timestamp | null;
  /** bigint: pg returns it as a string. */
  totp_last_step: ColumnType<string, number | undefined, number>;
  totp_drift: Generated<number>;
  failures: Generated<number>;
  locked_until: Timestamp | null;
  created_at: Timestamp;
}

/** A user's WebAuthn credential (SPEC §12). */
export interface PasskeysTable {
  id: string;
  user_id: number;
  credential_id: string;
  public_key: string;
  /** bigint: pg returns it as a string. */
  counter: ColumnType<string, number, number>;
  transports: ColumnType<string[], string, string>;
  device_type: string;
  backed_up: boolean;
  user_handle: string;
  name: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
}

/** A WebAuthn ceremony in progress: five minutes, used once, for one purpose. */
export interface WebauthnChallengesTable {
  id: string;
  purpose: string;
  user_id: number | null;
  mfa_token_hash: string | null;
  challenge: string;
  user_handle: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

/** Ten per user, each usable once: found by a keyed HMAC, proved by an argon2id hash. */
export interface MfaRecoveryCodesTable {
  /** bigint: pg returns it as a string. */
  id: ColumnType<string, never, never>;
  user_id: number;
  lookup: string;
  code_hash: string;
  created_at: Timestamp;
  used_at: Timestamp | null;
}

/** A device that may skip the second step until `expires_at` (aal1 only): its token stored as its sha256. */
export interface MfaRememberedDevicesTable {
  id: string;
  user_id: number;
  token_hash: string;
  user_agent: string | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  expires_at: Timestamp;
}

/** A login waiting for its second step: the token is stored as its sha256. */
export interface MfaTokensTable {
  token_hash: string;
  user_id: number;
  created_at: Timestamp;
  expires_at: Timestamp;
  attempts: Generated<number>;
  consumed_at: Timestamp | null;
}

/** Mail waiting to be sent, or sent (bodies blanked), or given up on. */
export interface MailOutboxTable {
  /** bigint: pg returns it as a string. */
  id: ColumnType<string, never, never>;
  kind: string;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  created_at: Timestamp;
  send_after: Timestamp;
  /** Claimed by a sender until then (several instances share the outbox). */
  locked_until: Timestamp | null;
  attempts: Generated<number>;
  last_error: string | null;
  sent_at: Timestamp | null;
  failed_at: Timestamp | null;
}

/** Password-reset and email-verification tokens: only their SHA-256 is kept. */
export interface RecoveryTokensTable {
  id: ColumnType<string, never, never>;
  user_id: number;
  purpose: string;
  token_hash: string;
  /** Digest of what the token was issued against (the password hash, or the address). */
  bound_to: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

/** Per user (`subject`: the id in decimal) or for everyone (`*`): tokens without a session issued before `not_before` are void. */
export interface TokenCutoffsTable {
  subject: string;
  not_before: Timestamp;
}

/** SimpleJWT refresh-token jtis that must not be exchanged (again), until they expire. */
export interface SimplejwtSpentTokensTable {
  jti: string;
  /** `blacklisted` (imported), `logged_out`, `ended` (its session is gone). */
  reason: string;
  expires_at: Timestamp;
}

/** Every column of every table, checked against the migrated database by a test. */
export const COLUMNS = {
  users: {
    id: true, username: true, email: true, password: true, first_name: true, last_name: true, role: true,
    is_staff: true, is_manager: true, is_active: true, account_id: true, password_needs_reset: true,
    last_login: true, date_joined: true, email_verified: true,
  },
  sessions: {
    id: true, user_id: true, created_at: true, last_used_at: true, expires_at: true, revoked_at: true,
    revoked_reason: true, user_agent: true, ip: true, amr: true, aal: true, auth_time: true, passkey_id: true,
  },
  refresh_tokens: {
    jti: true, session_id: true, issued_at: true, expires_at: true, access_jti: true, access_expires_at: true,
    spent_at: true, successor_jti: true, imported: true,
  },
  accounts: { id: true, name: true, is_active: true, created_at: true },
  audit_events: {
    id: true, type: true, at: true, user_id: true, session_id: true, ip: true, user_agent: true, outcome: true, detail: true,
  },
  user_mfa: {
    user_id: true, totp_secret: true, totp_pending_secret: true, totp_pending_expires_at: true, totp_confirmed_at: true,
    totp_last_used_at: true, totp_last_step: true, totp_drift: true, failures: true, locked_until: true, created_at: true,
  },
  mfa_recovery_codes: { id: true, user_id: true, lookup: true, code_hash: true, created_at: true, used_at: true },
  mfa_tokens: { token_hash: true, user_id: true, created_at: true, expires_at: true, attempts: true, consumed_at: true },
  passkeys: {
    id: true, user_id: true, credential_id: true, public_key: true, counter: true, transports: true, device_type: true,
    backed_up: true, user_handle: true, name: true, created_at: true, last_used_at: true,
  },
  webauthn_challenges: { id: true, purpose: true, user_id: true, mfa_token_hash: true, challenge: true, user_handle: true, created_at: true, expires_at: true, used_at: true },
  mfa_remembered_devices: { id: true, user_id: true, token_hash: true, user_agent: true, created_at: true, last_used_at: true, expires_at: true },
  mail_outbox: {
    id: true, kind: true, to_address: true, subject: true, text_body: true, html_body: true, created_at: true, send_after: true,
    locked_until: true, attempts: true, last_error: true, sent_at: true, failed_at: true,
  },
  recovery_tokens: {
    id: true, user_id: true, purpose: true, token_hash: true, bound_to: true, created_at: true, expires_at: true, used_at: true,
  },
  token_cutoffs: { subject: true, not_before: true },
  simplejwt_spent_tokens: { jti: true, reason: true, expires_at: true },
} as const satisfies { [T in keyof Database]: Record<keyof Database[T], true> };
