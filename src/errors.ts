/**
 * Domain errors. Each carries a stable `code`; the HTTP layer turns codes into
 * DRF-shaped bodies in exactly one table (src/http/errors.ts).
 */
import type { DomainErrorCode } from './wire.ts';

/** The codes the domain raises, listed once in the wire module so clients know them too. */
export type AuthErrorCode = DomainErrorCode;

export class AuthError extends Error {
  readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string = code) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
  }
}

/**
 * Why a token was refused, in SimpleJWT's terms. The token and session layers
 * raise one; src/http/errors.ts words it, in a body's shape or an authenticated
 * route's (SPEC §3, token errors).
 */
export type TokenFailure = 'invalid' | 'wrong_type' | 'no_id' | 'no_exp' | 'blacklisted' | 'no_user_id';

/** A refused token: always `token_not_valid` on the wire, with SimpleJWT's words for `reason`. */
export class TokenError extends AuthError {
  readonly reason: TokenFailure;
  /** `message` is for logs (what exactly failed); clients see the reason's wording only. */
  constructor(reason: TokenFailure, message: string = reason) {
    super('token_not_valid', message);
    this.name = 'TokenError';
    this.reason = reason;
  }
}

/**
 * Too many attempts (SPEC §5): 429 with `Retry-After`. `lockout` names the
 * limit when this refusal is the one that started a lockout (for the audit
 * trail); later refusals in the same window leave it unset.
 */
export class ThrottledError extends AuthError {
  /** Whole seconds until the window ends. */
  readonly retryAfter: number;
  readonly lockout: string | undefined;
  constructor(retryAfter: number, lockout?: string) {
    super('throttled', `throttled for ${retryAfter}s`);
    this.name = 'ThrottledError';
    this.retryAfter = retryAfter;
    this.lockout = lockout;
  }
}

/**
 * Too many password checks in flight (load shedding, SPEC §5): 503
 * `service_unavailable` with `Retry-After`, answered at once.
 */
export class OverloadedError extends AuthError {
  /** Whole seconds the client should wait. */
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super('service_unavailable', 'too many password checks in flight');
    this.name = 'OverloadedError';
    this.retryAfter = retryAfter;
  }
}

/**
 * A second-factor error whose body carries more than `detail` and `code`
 * (the mfa_token of `mfa_required`, the attempts left of `mfa_code_invalid`),
 * and a `Retry-After` for `mfa_locked`.
 */
export class MfaError extends AuthError {
  readonly extra: Readonly<Record<string, unknown>>;
  readonly retryAfter: number | undefined;
  /** Whose factor failed, for the audit trail (never sent). */
  readonly userId: number | undefined;
  constructor(code: AuthErrorCode, extra: Record<string, unknown> = {}, retryAfter?: number, userId?: number) {
    super(code);
    this.name = 'MfaError';
    this.extra = extra;
    this.retryAfter = retryAfter;
    this.userId = userId;
  }
}

/** A field-level problem with the input, reported per field as DRF does. */
export class ValidationError extends Error {
  readonly code = 'invalid' as const;
  readonly fields: Record<string, string[]>;
  constructor(fields: Record<string, string[]>) {
    super(`invalid input: ${Object.keys(fields).join(', ')}`);
    this.name = 'ValidationError';
    this.fields = fields;
  }
}

/** Raised by the store when the database cannot be reached; the request may be retried. */
export class StoreUnavailableError extends AuthError {
  constructor(cause: unknown) {
    super('service_unavailable', 'database unavailable');
    this.name = 'StoreUnavailableError';
    this.cause = cause;
  }
}

/** Bad configuration: names the variable so `serve` can fail at start with one line. */
export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

/** A username or email that is already taken (create-user, registration). */
export class ConflictError extends ValidationError {}
