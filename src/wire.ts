/**
 * The wire format: request and response bodies as JSON carries them, and the
 * error shape. The server produces these and `latchkey/client` consumes them,
 * so this module imports nothing and holds nothing but types and constants.
 */

/** A datetime as DRF renders it: ISO 8601, UTC, to the second (`2026-11-22T10:15:00Z`). */
export type IsoDateTime = string;

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
  last_login: IsoDateTime | null;
  date_joined: IsoDateTime;
}

/** A user as an administrator sees it. */
export interface AdminUser extends PublicUser {
  is_active: boolean;
  /** The user has a confirmed second factor (SPEC §12); `POST /admin/users/{id}/mfa/reset/` removes it. */
  mfa_enabled: boolean;
}

export interface LoginRequest {
  /** A username or an email; it may also be sent as `email`. */
  username: string;
  password: string;
  /** A remembered device's token (MFA_REMEMBER_DEVICE_DAYS): the second step is skipped, at aal1. */
  device_token?: string;
}

/** `LOGIN_RESPONSE=minimal`: exactly SimpleJWT's body (and a remembered device's token, only when one was asked for). */
export interface MinimalLoginResponse {
  access: string;
  refresh: string;
  device_token?: string;
  device_token_expires_at?: IsoDateTime;
}

/** `LOGIN_RESPONSE=full` (the default). */
export interface LoginResponse extends MinimalLoginResponse {
  access_expires_at: IsoDateTime;
  refresh_expires_at: IsoDateTime;
  role: string;
  email: string;
  password_needs_reset: boolean;
  /** Present when `password_needs_reset` is true: where to change it. */
  password_reset_url?: string;
  /** Present (true) when MFA_REQUIRED_ROLES names the user's role and it has no factor: the tokens are restricted until enrolment. */
  mfa_enrollment_required?: true;
  /** Present after `POST /auth/mfa/verify/` with `remember_device: true` (MFA_REMEMBER_DEVICE_DAYS): give it at the next logins. */
  device_token?: string;
  device_token_expires_at?: IsoDateTime;
  user: PublicUser;
}

export interface RefreshResponse {
  access: string;
  access_expires_at: IsoDateTime;
  /** Present when refresh tokens rotate (`ROTATE_REFRESH_TOKENS`, on by default). */
  refresh?: string;
  refresh_expires_at?: IsoDateTime;
}

/** A fresh pair, as change-password returns it. */
export interface TokenPairResponse {
  access: string;
  refresh: string;
  access_expires_at: IsoDateTime;
  refresh_expires_at: IsoDateTime;
}

/** `401 mfa_required`: the password was right; the second step goes to `POST /auth/mfa/verify/` (SPEC §12). */
export interface MfaRequiredResponse {
  detail: string;
  code: 'mfa_required';
  mfa_token: string;
  mfa_token_expires_at: IsoDateTime;
  mfa_methods: MfaMethod[];
}

export type MfaMethod = 'totp' | 'webauthn' | 'recovery_code';

/** `POST /auth/mfa/verify/`: the mfa_token and a TOTP code, a recovery code, or a passkey's assertion; `remember_device` asks for a device token. */
export type MfaVerifyRequest = (
  | { mfa_token: string; code: string }
  | { mfa_token: string; recovery_code: string }
  | { mfa_token: string; challenge_id: string; credential: PasskeyCredentialJSON }
) & { remember_device?: boolean };

/** A WebAuthn credential as `PublicKeyCredential.toJSON()` gives it (RegistrationResponseJSON or AuthenticationResponseJSON). */
export interface PasskeyCredentialJSON {
  id: string;
  rawId: string;
  type: 'public-key';
  response: Record<string, unknown>;
  clientExtensionResults: Record<string, unknown>;
  authenticatorAttachment?: string;
}

/**
 * The options of a WebAuthn ceremony (`…/options/`): `options` is what
 * `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`
 * take; `challenge_id` goes back with the credential (the challenge is a row: five minutes, used once).
 */
export interface PasskeyCeremony {
  challenge_id: string;
  options: Record<string, unknown>;
}

/** One of the caller's passkeys (`GET /auth/passkeys/`). */
export interface PasskeyInfo {
  id: string;
  name: string;
  created_at: IsoDateTime;
  last_used_at: IsoDateTime | null;
  /** `singleDevice` (a security key) or `multiDevice` (synced between devices). */
  device_type: string;
  backed_up: boolean;
  transports: string[];
}

/**
 * `POST /auth/passkeys/register/` (201): the new passkey; when it is the
 * user's first factor, also this session's fresh pair at aal2 (the login body;
 * the user's other sessions have ended).
 */
export type PasskeyRegistration = { passkey: PasskeyInfo } & Partial<LoginResponse>;

/** `POST /auth/mfa/totp/` (201): the pending secret, for an authenticator app, until it is confirmed. */
export interface TotpEnrollment {
  secret: string;
  otpauth_url: string;
  expires_at: IsoDateTime;
}

/**
 * `POST /auth/mfa/totp/confirm/`: the recovery codes, shown once, and the login
 * body for this session at aal2 (in cookie mode without the token strings).
 */
export type TotpConfirmation = Partial<LoginResponse> & { recovery_codes: string[] };

/** `GET /auth/mfa/`. */
export interface MfaStatus {
  mfa_enabled: boolean;
  mfa_required: boolean;
  totp: { enabled: boolean; created_at: IsoDateTime | null; last_used_at: IsoDateTime | null };
  passkeys: number;
  recovery_codes_remaining: number;
  remembered_devices: RememberedDevice[];
}

/** A device that skips the second step (MFA_REMEMBER_DEVICE_DAYS); `DELETE /auth/mfa/devices/{id}/` forgets it. */
export interface RememberedDevice {
  id: string;
  /** The user agent that asked to be remembered. */
  name: string | null;
  created_at: IsoDateTime;
  last_used_at: IsoDateTime | null;
  expires_at: IsoDateTime;
}

export interface RegisterRequest {
  username: string;
  email: string;
  password: string;
  first_name?: string;
  last_name?: string;
}

/** One device the caller is signed in on (`GET /auth/sessions/`). */
export interface SessionInfo {
  id: string;
  created_at: IsoDateTime;
  last_used_at: IsoDateTime;
  expires_at: IsoDateTime;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

/** An account (tenant). */
export interface Account {
  id: number;
  name: string;
  is_active: boolean;
  created_at: IsoDateTime;
}

/** Every kind of event the audit trail records (SPEC §6), plus the admin actions. */
export const AUDIT_EVENT_TYPES = [
  'login_succeeded',
  'login_failed',
  'token_refreshed',
  'refresh_reuse_detected',
  'logout',
  'logout_all',
  'session_revoked',
  'password_changed',
  'password_reset_forced',
  'user_registered',
  'throttled',
  'all_tokens_invalidated',
  'user_created',
  'user_updated',
  'user_deactivated',
  'user_sessions_ended',
  'account_created',
  'account_updated',
  'account_deactivated',
  'users_imported',
  'sessions_imported',
  'mfa_challenged',
  'mfa_enrollment_started',
  'mfa_enrolled',
  'mfa_removed',
  'mfa_failed',
  'mfa_locked',
  'recovery_code_used',
  'recovery_codes_regenerated',
  'passkey_added',
  'passkey_renamed',
  'passkey_removed',
  'mfa_device_remembered',
  'mfa_device_forgotten',
  'password_reset_requested',
  'password_reset_completed',
  'email_verification_sent',
  'email_verified',
  'simplejwt_token_exchanged',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** Plain values only: a reason, a count, the fields changed — never a credential. */
export type AuditDetail = Record<string, string | number | boolean | null | string[]>;

export interface AuditEvent {
  id: number;
  type: AuditEventType;
  at: IsoDateTime;
  user_id: number | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  outcome: 'success' | 'failure';
  detail: AuditDetail;
}

/** DRF's PageNumberPagination. */
export interface Paged<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Error codes the domain raises (src/errors.ts's AuthError). */
export type DomainErrorCode =
  | 'no_active_account'
  | 'token_not_valid'
  | 'not_authenticated'
  | 'bad_authorization_header'
  | 'user_not_found'
  | 'user_inactive'
  | 'permission_denied'
  | 'password_reset_required'
  | 'account_inactive'
  | 'not_found'
  | 'service_unavailable'
  | 'throttled'
  | 'csrf_failed'
  | 'mfa_required'
  | 'mfa_token_invalid'
  | 'mfa_code_invalid'
  | 'mfa_code_reused'
  | 'mfa_locked'
  | 'mfa_already_enabled'
  | 'mfa_not_pending'
  | 'insufficient_aal'
  | 'cannot_reset_own_mfa'
  | 'webauthn_failed'
  | 'email_not_verified'
  | 'stale_token'
  | 'mfa_enrollment_required';

/** Error codes only the HTTP layer raises: the request's shape, not the domain. */
export type HttpErrorCode =
  | 'parse_error'
  | 'bad_request'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'method_not_allowed'
  | 'error'
  | 'request_timeout'
  | 'request_header_fields_too_large';

/** Every stable error code the API answers with; src/http/errors.ts has a row for each. */
export type ErrorCode = DomainErrorCode | HttpErrorCode;

/** DRF's error body: `detail` and a stable `code`. */
export interface ErrorBody {
  detail: string;
  code: ErrorCode;
}

/** DRF's validation body: a list of messages per field (`non_field_errors` for the body as a whole). */
export type FieldErrors = Record<string, string[]>;

/** A public key of `GET /.well-known/jwks.json` (RFC 7517). */
export interface PublicJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/** `GET /.well-known/jwks.json`: the keys that verify Latchkey's tokens; empty with HS256/384/512. */
export interface Jwks {
  keys: PublicJwk[];
}
