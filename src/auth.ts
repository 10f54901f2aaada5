/**
 * The facade: every operation the HTTP routes and the CLI perform. It is handed
 * its parts by `createAuth` (src/create-auth.ts), constructs nothing, holds no
 * HTTP or SQL of its own, and answers in domain or wire types, never rows.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Admin } from './admin/service.ts';
import type { AuditLog } from './audit/log.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import {
  importDjangoBatch,
  importDjangoSessions,
  type BatchResult,
  type ImportBlacklisted,
  type ImportSession,
  type ImportUser,
  type SessionBatchResult,
} from './django/import.ts';
import { AuthError, MfaError, ThrottledError, TokenError, ValidationError } from './errors.ts';
import type { Language } from './i18n/index.ts';
import type { HashGate, HashGateStats } from './limits/hashing.ts';
import type { Mailer } from './mail/outbox.ts';
import type { Dialect, RecoveryService, ResetConfirmation } from './recovery/service.ts';
import type { Lockout, Throttle, ThrottleLimit } from './limits/throttle.ts';
import type { FactorMethod, MfaProof, MfaService } from './mfa/service.ts';
import { PasskeyError, PasskeyStepError, type PasskeyService } from './mfa/passkeys.ts';
import type { PasskeyRow } from './store/repos/passkeys.ts';
import type { RevocationList } from './sessions/revocation.ts';
import { ReuseDetectedError, type AuthContext, type ClientInfo, type SessionService, type TokenPair, type Within } from './sessions/service.ts';
import type { RevocationSync } from './sessions/sync.ts';
import type { ImportsRepo } from './store/repos/imports.ts';
import type { UserRow } from './store/repos/users.ts';
import type { TokenClaims } from './tokens/claims.ts';
import type { KeyDirectory } from './tokens/key-directory.ts';
import type { KeyRing } from './tokens/keys.ts';
import type { TokenService } from './tokens/service.ts';
import { isoSeconds, publicUser, tokenSubject } from './users/public.ts';
import type { UserCache, UserCacheStats } from './users/cache.ts';
import type { CreateUserInput, UserService } from './users/service.ts';
import type { AuditDetail, Jwks, MfaStatus, PasskeyCeremony, PasskeyInfo, PublicUser, RefreshResponse, SessionInfo, TokenPairResponse, TotpEnrollment } from './wire.ts';

export type { Actor, AdminCreateUserInput, Page } from './admin/service.ts';

/** What `flushExpiredTokens` deleted, per table. */
export interface FlushResult {
  sessions: number;
  refreshTokens: number;
  /** Reset and verification links' tokens (`recovery_tokens`). */
  recoveryTokens: number;
  mfaTokens: number;
  /** Rows of `mail_outbox`. */
  mails: number;
  /** WebAuthn challenges that expired or were used (`webauthn_challenges`). */
  webauthnChallenges: number;
}
export type { ClientInfo } from './sessions/service.ts';
export type { FactorChange, FactorMethod, MfaProof } from './mfa/service.ts';
export type { ThrottleLimit } from './limits/throttle.ts';
export type { UserChanges } from './store/repos/users.ts';
export type { AccountChanges } from './store/repos/accounts.ts';
export type { AuditQuery } from './store/repos/audit.ts';
export type { CreateUserInput } from './users/service.ts';
export type { BatchResult, ImportBlacklisted, ImportSession, ImportUser, SessionBatchResult } from './django/import.ts';
export type { Dialect, ResetConfirmation } from './recovery/service.ts';

export type RegistrationInput = Pick<CreateUserInput, 'username' | 'email' | 'password' | 'firstName' | 'lastName'>;

/** Who a verified access token speaks for. Built from the token alone. */
export interface Principal {
  userId: number;
  sessionId: string;
  role: string | null;
  accountId: number | null;
  /** The user must change their password: only a few routes accept this caller (SPEC §3, forced reset). */
  restricted: boolean;
  /** The user's role needs a second factor and it has none (MFA_REQUIRED_ROLES): only a few routes accept this caller. */
  enrollmentRequired: boolean;
  /** How the user got in (SPEC §12); amr and authTime null only on tokens issued before the claims were (aal1). */
  amr: string[] | null;
  aal: string;
  /** Seconds since the epoch. */
  authTime: number | null;
}

export interface LoginResult {
  tokens: TokenPairResponse;
  user: PublicUser;
  sessionId: string;
  /** MFA_REQUIRED_ROLES: the tokens are restricted until the user enrols a factor. */
  mfaEnrollmentRequired?: true;
  /** A remembered device's token, after `remember_device` (MFA_REMEMBER_DEVICE_DAYS). */
  device?: { token: string; expiresAt: Date };
}

/** A password login's credentials; `deviceToken`: a remembered device (the second step skipped, at aal1). */
export interface Credentials {
  identifier: string;
  password: string;
  deviceToken?: string | undefined;
}

/** What `createAuth` hands the facade. */
export interface AuthParts {
  config: Config;
  clock: Clock;
  tokens: TokenService;
  sessions: SessionService;
  users: UserService;
  admin: Admin;
  audit: AuditLog;
  revocations: RevocationList;
  sync: RevocationSync;
  imports: ImportsRepo;
  /** The signing and verification keys in use. */
  keys: KeyRing;
  /** The key directory `latchkey keys …` manages; a change re-reads `keys`. */
  keyDirectory: KeyDirectory;
  /** Throws StoreUnavailableError when the database is out of reach. */
  ping: () => Promise<void>;
  /** Background failures (a key directory that no longer reads). */
  onError?: (error: unknown) => void;
  /** Counts failures, registrations and refreshes (`noThrottle` with THROTTLE=off). */
  throttle: Throttle;
  /** The second factor (SPEC §12). */
  mfa: MfaService;
  /** Passkeys (WebAuthn, SPEC §12). */
  passkeys: PasskeyService;
  /** Bounds password hashing (load shedding); read for /metrics. */
  hashGate: HashGate;
  /** Users rows for GET /auth/me/ and refresh; read for /metrics. */
  userCache?: UserCache;
  /** Connections the facade owns (a Redis client): opened by `start`, closed by `stop`. */
  resources?: ReadonlyArray<{ start(): Promise<void>; stop(): Promise<void> }>;
  /** Password reset and email verification by mail (SPEC §11). */
  recovery: RecoveryService;
  /** The mail outbox and its sender. */
  mailer: Mailer;
}

/**
 * A resuming feed client's cursor is the time of the last revocation it heard,
 * by the clock of the instance that sent it; the catch-up starts this much
 * earlier, for clocks that differ between instances (a repeat is harmless).
 */
const FEED_CURSOR_MARGIN_MS = 10_000;

/** How often the keys are re-read, for keys changed by a command that could not reach this server. */
const KEY_RELOAD_EVERY_MS = 30_000;

export class Auth {
  readonly config: Config;
  /** Users, accounts and the audit trail as administrators see them. */
  readonly admin: Admin;
  /** The key directory (`latchkey keys …`); changes made through it take effect here at once. */
  readonly keyDirectory: KeyDirectory;
  readonly #parts: AuthParts;
  readonly #clock: Clock;
  readonly #tokens: TokenService;
  readonly #sessions: SessionService;
  readonly #users: UserService;
  readonly #audit: AuditLog;
  readonly #throttle: Throttle;
  readonly #mfa: MfaService;
  readonly #passkeys: PasskeyService;
  /** Lockouts started by this instance, by limit (for /metrics). */
  readonly #lockouts = new Map<ThrottleLimit, number>();

  constructor(parts: AuthParts) {
    this.#parts = parts;
    this.config = parts.config;
    this.admin = parts.admin;
    this.keyDirectory = parts.keyDirectory;
    this.#clock = parts.clock;
    this.#tokens = parts.tokens;
    this.#sessions = parts.sessions;
    this.#users = parts.users;
    this.#audit = parts.audit;
    this.#throttle = parts.throttle;
    this.#mfa = parts.mfa;
    this.#passkeys = parts.passkeys;
  }

  /** Loads recent revocations and starts following new ones. Call before serving. */
  async start(): Promise<void> {
    for (const resource of this.#parts.resources ?? []) await resource.start();
    await this.#parts.sync.start();
    this.#parts.keys.start(KEY_RELOAD_EVERY_MS, (error) => this.#parts.onError?.(error));
  }

  /** Stops background work. The store is the caller's to close. */
  async stop(): Promise<void> {
    this.#parts.keys.stop();
    await this.#parts.sync.stop();
    for (const resource of this.#parts.resources ?? []) await resource.stop();
  }

  /** The public signing keys, for `/.well-known/jwks.json` (none with HS256/384/512). */
  jwks(): Jwks {
    return { keys: this.#parts.keys.publicKeys() };
  }

  /**
   * Checks credentials and opens a session.
   * @example const { tokens, user } = await auth.login({ identifier: 'alice', password: '…' }, client);
   */
  async login(credentials: Credentials, client: ClientInfo): Promise<LoginResult> {
    // A locked-out pair is refused before any hash, even with the right password (SPEC §5).
    await this.#throttle.checkLogin(credentials.identifier, client.ip);
    const attempt = await this.#users.attempt(credentials.identifier, credentials.password, client.gone);
    if (!attempt.ok) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: attempt.userId, client, detail: { reason: attempt.reason } });
      // Only failures count: an office behind one address is never locked out by its successes.
      for (const lockout of await this.#throttle.loginFailed(credentials.identifier, client.ip)) {
        await this.#recordLockout(lockout, client, attempt.userId);
      }
      throw new AuthError('no_active_account', attempt.reason);
    }
    // Only after the password (SPEC §11): an unverified address is no secret from its owner.
    if (this.config.emailVerification === 'mandatory' && !attempt.user.email_verified) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: attempt.user.id, client, detail: { reason: 'email_not_verified' } });
      throw new AuthError('email_not_verified');
    }
    // A user with a second factor gets an mfa_token, never tokens (SPEC §12); one primary-key read.
    const factor = await this.#mfa.state(attempt.user.id);
    if (factor.enabled) {
      // A remembered device skips the prompt, never to aal2 (SPEC §12); a bad or foreign token just means the prompt.
      if (await this.#mfa.recognizeDevice(credentials.deviceToken, attempt.user.id)) {
        return this.#completeLogin(attempt.user, client, { remembered: true });
      }
      return this.#challenge(attempt.user, factor, client);
    }
    return this.#completeLogin(attempt.user, client, { enrollmentRequired: await this.#mfa.enrollmentRequired(attempt.user, factor) });
  }

  /**
   * The end of every login, with or without a second factor: the account
   * checked, last_login written, a session opened (with `within` in its
   * transaction), the audit row.
   */
  async #completeLogin(
    found: UserRow,
    client: ClientInfo,
    how: { second?: { context: AuthContext; within: Within; method: string }; remembered?: true; enrollmentRequired?: boolean } = {},
  ): Promise<LoginResult> {
    const { second } = how;
    // Only after the password: an inactive tenant is no secret from someone who knows it.
    // The account is checked in the same statement that writes last_login, so a refused login writes nothing.
    const user = await this.#users.recordLogin(found);
    if (!user) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: found.id, client, detail: { reason: 'account_inactive' } });
      throw new AuthError('account_inactive');
    }
    const subject = { ...tokenSubject(user, true), ...(second ? { auth: second.context } : {}), ...(how.enrollmentRequired ? { mfaEnrollmentRequired: true } : {}) };
    const opened = await this.#sessions.open(subject, client, second?.within);
    await this.#audit.record({
      type: 'login_succeeded',
      outcome: 'success',
      userId: user.id,
      sessionId: opened.sessionId,
      client,
      detail: {
        ...(user.password_needs_reset ? { password_needs_reset: true } : {}),
        ...(second ? { mfa: second.method } : {}),
        ...(how.remembered ? { mfa: 'remembered_device' } : {}),
        ...(how.enrollmentRequired ? { mfa_enrollment_required: true } : {}),
      },
    });
    return { tokens: pairBody(opened), user: publicUser(user), sessionId: opened.sessionId, ...(how.enrollmentRequired ? { mfaEnrollmentRequired: true as const } : {}) };
  }

  /** The right password of a user with a factor: 401 mfa_required with an mfa_token (or 429 while locked). */
  async #challenge(user: UserRow, factor: Awaited<ReturnType<MfaService['state']>>, client: ClientInfo): Promise<never> {
    if (!(await this.#users.accountActive(user))) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: user.id, client, detail: { reason: 'account_inactive' } });
      throw new AuthError('account_inactive');
    }
    const locked = this.#mfa.lockedFor(factor);
    if (locked !== undefined) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: user.id, client, detail: { reason: 'mfa_locked' } });
      throw new MfaError('mfa_locked', {}, locked);
    }
    const { token, expiresAt } = await this.#mfa.issueToken(user.id);
    await this.#audit.record({ type: 'mfa_challenged', outcome: 'success', userId: user.id, client });
    throw new MfaError('mfa_required', { mfa_token: token, mfa_token_expires_at: isoSeconds(expiresAt), mfa_methods: this.#mfa.methods(factor) });
  }

  /**
   * The second step of a login: the mfa_token and a TOTP or recovery code →
   * the same result as `login`, the session at aal2 (SPEC §12).
   * @example const result = await auth.verifyMfa(mfaToken, { code: '123456' }, client);
   */
  async verifyMfa(mfaToken: string, proof: MfaProof, client: ClientInfo, options: { rememberDevice?: boolean } = {}): Promise<LoginResult> {
    let verified;
    try {
      verified = await this.#mfa.verifyLogin(mfaToken, proof, client.gone);
    } catch (error) {
      await this.#recordMfaFailure(error, null, client);
      throw error;
    }
    const { user, within, method } = verified;
    const context: AuthContext = { amr: ['pwd', method === 'totp' ? 'otp' : 'recovery_code', 'mfa'], aal: 'aal2', authTime: this.#clock.now() };
    try {
      const result = await this.#completeLogin(user, client, { second: { context, within, method } });
      if (method === 'recovery_code') {
        await this.#audit.record({ type: 'recovery_code_used', outcome: 'success', userId: user.id, sessionId: result.sessionId, client, detail: { remaining: await this.#mfa.recoveryCodesRemaining(user.id) } });
      }
      return await this.#rememberDevice(result, user.id, client, options);
    } catch (error) {
      await this.#recordMfaFailure(error, user.id, client);
      throw error;
    }
  }

  /** A completed second step, with a remembered-device token when the client asked for one (and MFA_REMEMBER_DEVICE_DAYS allows). */
  async #rememberDevice(result: LoginResult, userId: number, client: ClientInfo, options: { rememberDevice?: boolean }): Promise<LoginResult> {
    const device = options.rememberDevice ? await this.#mfa.rememberDevice(userId, client.userAgent) : undefined;
    if (!device) return result;
    await this.#audit.record({ type: 'mfa_device_remembered', outcome: 'success', userId, sessionId: result.sessionId, client, detail: { expires_at: isoSeconds(device.expiresAt) } });
    return { ...result, device };
  }

  /** Starts TOTP enrolment behind the password: the pending secret and its otpauth:// URL. */
  async beginTotp(principal: Principal, password: string, client: ClientInfo): Promise<TotpEnrollment> {
    // The password is checked against the database's hash, not a cached row.
    const user = await this.#activeUser(principal, true);
    const started = await this.#mfa.beginTotp(user, password, client.gone);
    await this.#audit.record({ type: 'mfa_enrollment_started', outcome: 'success', userId: user.id, sessionId: principal.sessionId, client, detail: { method: 'totp' } });
    return { secret: started.secret, otpauth_url: started.otpauthUrl, expires_at: isoSeconds(started.expiresAt) };
  }

  /**
   * Confirms TOTP enrolment with a first code: the factor is on, ten recovery
   * codes are made (shown once), this session gets a fresh pair at aal2, and the
   * user's other sessions end (SPEC §12).
   */
  async confirmTotp(principal: Principal, code: string, client: ClientInfo, lang: Language = 'en'): Promise<LoginResult & { recoveryCodes: string[] }> {
    const user = await this.#activeUser(principal);
    const { within, recoveryCodes } = await this.#mfa.prepareConfirm(user, code, client.gone);
    const now = this.#clock.now();
    const amr = [...new Set([...(principal.amr ?? ['pwd']), 'otp', 'mfa'])];
    const subject = { ...tokenSubject(user, true), auth: { amr, aal: 'aal2' as const, authTime: now } };
    // The "factor added" mail is queued in the transaction that confirms the factor.
    const notice = this.#mfa.factorNotice(user, { change: 'added', methods: ['totp'], by: 'user', at: new Date(now) }, lang);
    const pair = await this.#sessions.reissue(subject, principal.sessionId, client, inOrder(within, notice));
    this.#mfa.mailQueued();
    const ended = await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'mfa_enrolled');
    await this.#audit.record({ type: 'mfa_enrolled', outcome: 'success', userId: user.id, sessionId: principal.sessionId, client, detail: { method: 'totp', sessions_ended: ended.length } });
    return { tokens: pairBody(pair), user: publicUser(user), sessionId: principal.sessionId, recoveryCodes };
  }

  /** Removes the TOTP factor with a current code: recovery codes go too, the other sessions end. */
  async removeTotp(principal: Principal, code: string, client: ClientInfo, lang: Language = 'en'): Promise<void> {
    const user = await this.#activeUser(principal);
    let removed: boolean;
    try {
      const notice = this.#mfa.factorNotice(user, { change: 'removed', methods: ['totp'], by: 'user', at: new Date(this.#clock.now()) }, lang);
      removed = await this.#mfa.removeTotp(user.id, await this.#mfa.checkCurrentCode(user, code), notice);
    } catch (error) {
      await this.#recordMfaFailure(error, user.id, client);
      throw error;
    }
    if (!removed) throw new AuthError('not_found', 'no second factor');
    this.#mfa.mailQueued();
    const ended = await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'mfa_removed');
    await this.#audit.record({ type: 'mfa_removed', outcome: 'success', userId: user.id, sessionId: principal.sessionId, client, detail: { method: 'totp', sessions_ended: ended.length } });
  }

  /**
   * Removes every second factor of a user and ends all its sessions on every
   * instance (SPEC §12): `POST /admin/users/{id}/mfa/reset/` and `latchkey
   * reset-mfa`. The user is mailed when a factor was removed. An administrator
   * who has a factor must be signed in at aal2 (403 `insufficient_aal`), and never
   * resets its own (403 `cannot_reset_own_mfa`: that is `DELETE /auth/mfa/totp/`,
   * which asks for a current code). A user without a factor is no error (204, as
   * a DELETE of something gone): the sessions still end and the event is recorded.
   * @example const reset = await auth.resetMfa('ann', { source: 'cli' });
   */
  async resetMfa(
    who: number | string,
    by: { principal: Principal; client: ClientInfo } | { source: 'cli' },
    lang: Language = 'en',
  ): Promise<{ id: number; username: string; methods: FactorMethod[]; sessionsEnded: number }> {
    if ('principal' in by) {
      const acting = by.principal;
      await this.#requireAal2IfFactor(acting, acting.userId);
      if (who === acting.userId) throw new AuthError('cannot_reset_own_mfa');
    }
    const user = await this.#users.lookup(who);
    if (!user) throw new AuthError('not_found', typeof who === 'number' ? 'no such user' : `no user named ${JSON.stringify(who)}`);
    if ('principal' in by && user.id === by.principal.userId) throw new AuthError('cannot_reset_own_mfa');
    const methods = await this.#mfa.removeAllFactors(user, 'principal' in by ? 'admin' : 'operator', lang);
    const ended = await this.#sessions.revoke({ userId: user.id }, 'mfa_reset');
    await this.#audit.record({
      type: 'mfa_removed',
      outcome: 'success',
      userId: user.id,
      ...('principal' in by
        ? { sessionId: by.principal.sessionId, client: by.client, detail: { via: 'admin', by: by.principal.userId, methods, sessions_ended: ended.length } }
        : { detail: { via: 'cli', methods, sessions_ended: ended.length } }),
    });
    return { id: user.id, username: user.username, methods, sessionsEnded: ended.length };
  }

  /** A new set of recovery codes after a current TOTP code; nothing else changes. */
  async regenerateRecoveryCodes(principal: Principal, code: string, client: ClientInfo): Promise<string[]> {
    const user = await this.#activeUser(principal);
    let codes: string[];
    try {
      codes = await this.#mfa.regenerateRecoveryCodes(user.id, await this.#mfa.checkCurrentCode(user, code), client.gone);
    } catch (error) {
      await this.#recordMfaFailure(error, user.id, client);
      throw error;
    }
    await this.#audit.record({ type: 'recovery_codes_regenerated', outcome: 'success', userId: user.id, sessionId: principal.sessionId, client });
    return codes;
  }

  /** `GET /auth/mfa/`: what second factor the caller has. */
  async mfaStatus(principal: Principal): Promise<MfaStatus> {
    const user = await this.#activeUser(principal);
    const state = await this.#mfa.state(user.id);
    const row = state.row;
    const devices = state.enabled ? await this.#mfa.devices(user.id) : [];
    return {
      mfa_enabled: state.enabled,
      mfa_required: this.#mfa.roleRequiresFactor(user.role),
      totp: {
        enabled: state.totp,
        created_at: row?.totp_confirmed_at ? isoSeconds(row.totp_confirmed_at) : null,
        last_used_at: row?.totp_last_used_at ? isoSeconds(row.totp_last_used_at) : null,
      },
      passkeys: state.passkeys,
      recovery_codes_remaining: state.totp ? await this.#mfa.recoveryCodesRemaining(user.id) : 0,
      remembered_devices: devices.map((device) => ({
        id: device.id,
        name: device.user_agent,
        created_at: isoSeconds(device.created_at),
        last_used_at: device.last_used_at ? isoSeconds(device.last_used_at) : null,
        expires_at: isoSeconds(device.expires_at),
      })),
    };
  }

  /** Forgets one of the caller's remembered devices; anyone else's is "not found". */
  async forgetDevice(principal: Principal, deviceId: string, client: ClientInfo): Promise<void> {
    if (!(await this.#mfa.forgetDevice(principal.userId, deviceId))) throw new AuthError('not_found', 'no such device');
    await this.#audit.record({ type: 'mfa_device_forgotten', outcome: 'success', userId: principal.userId, sessionId: principal.sessionId || null, client, detail: { device_id: deviceId } });
  }

  /**
   * The admin API's gate: an active administrator (403 `permission_denied`) who, when
   * MFA_REQUIRED_ROLES names its role, got in with a second factor (403 `insufficient_aal`).
   */
  async authorizeAdmin(principal: Principal): Promise<void> {
    const { role } = await this.admin.authorize(principal);
    if (this.#mfa.roleRequiresFactor(role) && principal.aal !== 'aal2') throw new AuthError('insufficient_aal');
  }

  /** A wrong, reused or locked second-factor code in the audit trail (never the code). */
  async #recordMfaFailure(error: unknown, userId: number | null, client: ClientInfo): Promise<void> {
    if (!(error instanceof MfaError)) return;
    userId ??= error.userId ?? null;
    if (error.code === 'mfa_locked') {
      await this.#audit.record({ type: 'mfa_locked', outcome: 'failure', userId, client, detail: { retry_after: error.retryAfter ?? null } });
    } else if (error.code === 'mfa_code_invalid' || error.code === 'mfa_code_reused' || error.code === 'mfa_token_invalid' || error.code === 'webauthn_failed') {
      const passkey: AuditDetail = error instanceof PasskeyStepError ? { method: 'webauthn', webauthn: error.failure, passkey_id: error.passkeyId ?? null } : {};
      await this.#audit.record({ type: 'mfa_failed', outcome: 'failure', userId, client, detail: { reason: error.code, ...passkey } });
    }
  }

  /**
   * `POST /auth/passkeys/register/options/`: options to create a passkey for the caller.
   * A user who already has a factor adds another only from a session that used one
   * (403 `insufficient_aal`): a stolen password session, or a remembered device, cannot.
   */
  async passkeyRegistrationOptions(principal: Principal): Promise<PasskeyCeremony> {
    const user = await this.#activeUser(principal);
    await this.#requireAal2IfFactor(principal, user.id);
    const { challengeId, options } = await this.#passkeys.registrationOptions(user);
    return { challenge_id: challengeId, options };
  }

  async #requireAal2IfFactor(principal: Principal, userId: number): Promise<void> {
    if (principal.aal !== 'aal2' && (await this.#mfa.state(userId)).enabled) throw new AuthError('insufficient_aal', 'a further factor needs a session that used one');
  }

  /**
   * Stores a new passkey after its registration ceremony. When it is the
   * user's first factor, the user's other sessions end and this one is raised
   * to aal2 with a fresh pair (SPEC §12, as TOTP enrolment does).
   */
  async registerPasskey(principal: Principal, challengeId: string, credential: unknown, name: string, client: ClientInfo, lang: Language = 'en'): Promise<{ passkey: PasskeyInfo; login?: LoginResult }> {
    const user = await this.#activeUser(principal);
    const first = !(await this.#mfa.state(user.id)).enabled;
    if (!first) await this.#requireAal2IfFactor(principal, user.id);
    let row: PasskeyRow;
    try {
      row = await this.#passkeys.register(user, challengeId, credential, name);
    } catch (error) {
      await this.#recordPasskeyFailure(error, client, 'register');
      throw error;
    }
    let login: LoginResult | undefined;
    let ended: string[] = [];
    if (first) {
      const amr = [...new Set([...(principal.amr ?? ['pwd']), row.backed_up || row.device_type === 'multiDevice' ? 'swk' : 'hwk', 'user', 'mfa'])];
      const subject = { ...tokenSubject(user, true), auth: { amr, aal: 'aal2' as const, authTime: this.#clock.now() } };
      const pair = await this.#sessions.reissue(subject, principal.sessionId, client);
      ended = await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'mfa_enrolled');
      login = { tokens: pairBody(pair), user: publicUser(user), sessionId: principal.sessionId };
    }
    await this.#mfa.factorChanged(user, { change: 'added', methods: ['webauthn'], by: 'user', at: new Date(this.#clock.now()) }, lang);
    await this.#audit.record({
      type: 'passkey_added',
      outcome: 'success',
      userId: user.id,
      sessionId: principal.sessionId,
      client,
      detail: { passkey_id: row.id, device_type: row.device_type, first_factor: first, sessions_ended: ended.length },
    });
    return { passkey: passkeyInfo(row), ...(login ? { login } : {}) };
  }

  /** `POST /auth/passkeys/login/options/`: a login challenge with no credential list (discoverable passkeys, autofill). */
  async passkeyLoginOptions(): Promise<PasskeyCeremony> {
    const { challengeId, options } = await this.#passkeys.loginOptions();
    return { challenge_id: challengeId, options };
  }

  /**
   * A login with a passkey alone (with user verification: aal2): the same
   * result as `login`, LOGIN_RESPONSE and a forced reset honoured.
   */
  async loginWithPasskey(challengeId: string, credential: unknown, client: ClientInfo): Promise<LoginResult> {
    let assertion;
    try {
      assertion = await this.#passkeys.login(challengeId, credential);
    } catch (error) {
      await this.#recordPasskeyFailure(error, client, 'login');
      throw error;
    }
    const user = await this.#users.get(assertion.passkey.user_id, { fresh: true });
    if (!user?.is_active) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: assertion.passkey.user_id, client, detail: { reason: 'inactive', method: 'webauthn' } });
      throw new AuthError('no_active_account', 'user inactive or gone');
    }
    if (this.config.emailVerification === 'mandatory' && !user.email_verified) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: user.id, client, detail: { reason: 'email_not_verified' } });
      throw new AuthError('email_not_verified');
    }
    try {
      return await this.#completeLogin(user, client, { second: { context: this.#passkeys.context(assertion, false), within: assertion.within, method: 'webauthn' } });
    } catch (error) {
      await this.#recordPasskeyFailure(error, client, 'login');
      throw error;
    }
  }

  /** `POST /auth/mfa/webauthn/options/`: a challenge for the user's passkeys, bound to the mfa_token. */
  async mfaPasskeyOptions(mfaToken: string, client: ClientInfo): Promise<PasskeyCeremony> {
    try {
      const { challengeId, options } = await this.#passkeys.mfaOptions(mfaToken);
      return { challenge_id: challengeId, options };
    } catch (error) {
      await this.#recordMfaFailure(error, null, client);
      throw error;
    }
  }

  /** The second step of a login with a passkey: the password's `pwd` and the key's `hwk`/`swk`, aal2. */
  async verifyMfaPasskey(mfaToken: string, challengeId: string, credential: unknown, client: ClientInfo, options: { rememberDevice?: boolean } = {}): Promise<LoginResult> {
    let verified;
    try {
      verified = await this.#passkeys.verifySecondStep(mfaToken, challengeId, credential);
    } catch (error) {
      await this.#recordMfaFailure(error, null, client);
      throw error;
    }
    try {
      const result = await this.#completeLogin(verified.user, client, { second: { context: this.#passkeys.context(verified, true), within: verified.within, method: 'webauthn' } });
      return await this.#rememberDevice(result, verified.user.id, client, options);
    } catch (error) {
      if (error instanceof PasskeyError) await this.#recordPasskeyFailure(error, client, 'mfa');
      else await this.#recordMfaFailure(error, verified.user.id, client);
      throw error;
    }
  }

  /** `GET /auth/passkeys/`: the caller's passkeys, oldest first. */
  async passkeys(principal: Principal): Promise<PasskeyInfo[]> {
    const user = await this.#activeUser(principal);
    return (await this.#passkeys.list(user.id)).map(passkeyInfo);
  }

  /** Renames one of the caller's passkeys (another user's is not found). */
  async renamePasskey(principal: Principal, id: string, name: string, client: ClientInfo): Promise<PasskeyInfo> {
    const user = await this.#activeUser(principal);
    const row = await this.#passkeys.rename(user.id, id, name);
    if (!row) throw new AuthError('not_found', 'no such passkey');
    await this.#audit.record({ type: 'passkey_renamed', outcome: 'success', userId: user.id, sessionId: principal.sessionId, client, detail: { passkey_id: id } });
    return passkeyInfo(row);
  }

  /**
   * Deletes one of the caller's passkeys: the sessions it opened end (this one
   * too, if it did); when it was the user's last factor, the other sessions end as well.
   */
  async deletePasskey(principal: Principal, id: string, client: ClientInfo, lang: Language = 'en'): Promise<void> {
    const user = await this.#activeUser(principal);
    const { deleted, sessions } = await this.#passkeys.delete(user.id, id);
    if (!deleted) throw new AuthError('not_found', 'no such passkey');
    const ended = await this.#sessions.revoke({ sessionIds: sessions }, 'passkey_removed');
    const last = !(await this.#mfa.state(user.id)).enabled;
    if (last) ended.push(...(await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'mfa_removed')));
    await this.#mfa.factorChanged(user, { change: 'removed', methods: ['webauthn'], by: 'user', at: new Date(this.#clock.now()) }, lang);
    await this.#audit.record({
      type: 'passkey_removed',
      outcome: 'success',
      userId: user.id,
      sessionId: principal.sessionId,
      client,
      detail: { passkey_id: id, last_factor: last, sessions_ended: ended.length },
    });
  }

  /** A failed ceremony in the audit trail: why, and which passkey (never the assertion). */
  async #recordPasskeyFailure(error: unknown, client: ClientInfo, step: 'register' | 'login' | 'mfa'): Promise<void> {
    if (!(error instanceof PasskeyError)) return;
    await this.#audit.record({
      type: 'mfa_failed',
      outcome: 'failure',
      userId: error.userId ?? null,
      client,
      detail: { reason: 'webauthn_failed', method: 'webauthn', step, webauthn: error.reason, passkey_id: error.passkeyId ?? null },
    });
  }

  /**
   * Exchanges a refresh token: rotation, the grace window and reuse detection (SPEC §2).
   * @example const { access, refresh } = await auth.refresh(refreshToken, client);
   */
  async refresh(refreshToken: string, client: ClientInfo): Promise<RefreshResponse> {
    await this.#counted(() => this.#throttle.refresh(client.ip), client);
    try {
      // The event is written by the rotation's own statement when it can be (one commit), else here.
      // A SimpleJWT token's first exchange (ACCEPT_SIMPLEJWT_TOKENS, or an imported session) is its own event.
      const event = (claims: TokenClaims) => ({ type: 'token_refreshed', outcome: 'success', userId: claims.userId, sessionId: claims.sid, client }) as const;
      const result = await this.#sessions.refresh(refreshToken, client, (claims) => this.#audit.row(event(claims)));
      const { userId, sid: sessionId } = result.claims;
      if (result.audited) this.#audit.logged(result.audited);
      else if (result.exchanged) await this.#audit.record({ type: 'simplejwt_token_exchanged', outcome: 'success', userId, sessionId, client });
      else await this.#audit.record(event(result.claims));
      return {
        access: result.access.token,
        access_expires_at: isoSeconds(result.access.expiresAt),
        ...(result.refresh ? { refresh: result.refresh.token, refresh_expires_at: isoSeconds(result.refresh.expiresAt) } : {}),
      };
    } catch (error) {
      if (error instanceof ReuseDetectedError) {
        const { userId, sid: sessionId } = error.claims;
        await this.#audit.record({
          type: 'refresh_reuse_detected',
          outcome: 'failure',
          userId,
          sessionId,
          client,
          detail: { session_revoked: true, successor_unused: error.successorUnused },
        });
        // The classic non-rotating front end (SimpleJWT's default): it never stored the rotated token.
        if (error.successorUnused) this.#audit.warn({ user_id: userId, session_id: sessionId }, ROTATION_HINT);
      }
      throw error;
    }
  }

  /**
   * Verifies an access token, revocation included, without touching the database.
   * @example const principal = auth.authenticate(bearerToken);
   */
  authenticate(accessToken: string): Principal {
    return this.#principal(this.#tokens.verify(accessToken, 'access', this.#clock.now()));
  }

  /**
   * SimpleJWT's verify: any token type. Access tokens are checked in memory, refresh tokens against their
   * session; a spent or revoked refresh token is SimpleJWT's 400 `{"non_field_errors": ["Token is blacklisted"]}`.
   */
  async verify(token: string): Promise<void> {
    const claims = this.#tokens.verify(token, 'any', this.#clock.now());
    if (claims.tokenType === 'access') {
      this.#principal(claims);
      return;
    }
    try {
      await this.#sessions.checkRefresh(claims);
    } catch (error) {
      if (error instanceof TokenError && error.reason === 'blacklisted') throw new ValidationError({ non_field_errors: [BLACKLISTED] });
      throw error;
    }
  }

  #principal(claims: TokenClaims): Principal {
    // Fail closed: revocations may have been missed for longer than REVOCATION_MAX_STALENESS.
    const bound = this.config.revocationMaxStaleness;
    if (bound > 0 && this.#parts.sync.staleFor() > bound) throw new AuthError('service_unavailable', 'revocations not heard for too long');
    if (this.#sessions.isRevoked(claims.sid)) throw new TokenError('blacklisted', 'session revoked');
    // A SimpleJWT access token (ACCEPT_SIMPLEJWT_TOKENS) has no session: refused once its user was logged
    // out everywhere, deactivated or invalidated since it was issued. Also from memory.
    if (claims.legacy && this.#sessions.isCutOff(claims.userId, claims.iat)) throw new TokenError('blacklisted', 'user-wide logout since issued');
    return {
      userId: claims.userId,
      sessionId: claims.sid,
      role: claims.role,
      accountId: claims.accountId,
      restricted: claims.passwordResetRequired === true,
      enrollmentRequired: claims.mfaEnrollmentRequired === true,
      amr: claims.amr ?? null,
      aal: claims.aal ?? 'aal1',
      authTime: claims.authTime ?? null,
    };
  }

  /** Ends one session: the refresh token's if given, else the caller's current one. */
  async logout(by: { refreshToken: string } | { principal: Principal }, client: ClientInfo = NO_CLIENT): Promise<void> {
    let ended: { userId: number; sessionId: string };
    if ('refreshToken' in by) {
      const claims = await this.#sessions.checkRefresh(this.#tokens.verify(by.refreshToken, 'refresh', this.#clock.now()));
      if (claims.adopt) {
        // A SimpleJWT refresh token never exchanged here: it has no session to end, and may never be exchanged now.
        await this.#sessions.spendLegacy(claims, 'logged_out');
        await this.#audit.record({ type: 'logout', outcome: 'success', userId: claims.userId, client, detail: { simplejwt: true } });
        return;
      }
      ended = { userId: claims.userId, sessionId: claims.sid };
    } else {
      ended = by.principal;
    }
    const { userId, sessionId } = ended;
    // A SimpleJWT access token alone (ACCEPT_SIMPLEJWT_TOKENS) names no session: nothing to end, as on the old site.
    if (sessionId !== '') await this.#sessions.revoke({ sessionIds: [sessionId] }, 'logout');
    await this.#audit.record({ type: 'logout', outcome: 'success', userId, sessionId: sessionId || null, client });
  }

  /** Ends every session of the caller, on every device. */
  async logoutAll(principal: Principal, client: ClientInfo = NO_CLIENT): Promise<number> {
    const ended = (await this.#sessions.revoke({ userId: principal.userId }, 'logout_all')).length;
    // Every device: the remembered ones too (SPEC §12).
    const devices = await this.#mfa.forgetDevices(principal.userId);
    await this.#audit.record({
      type: 'logout_all',
      outcome: 'success',
      userId: principal.userId,
      sessionId: principal.sessionId || null,
      client,
      detail: { sessions_ended: ended, ...(devices > 0 ? { remembered_devices_forgotten: devices } : {}) },
    });
    return ended;
  }

  /** The caller's active sessions, the current one marked. */
  async sessions(principal: Principal): Promise<SessionInfo[]> {
    const rows = await this.#sessions.list(principal.userId);
    return rows.map((session) => ({
      id: session.id,
      created_at: isoSeconds(session.created_at),
      last_used_at: isoSeconds(session.last_used_at),
      expires_at: isoSeconds(session.expires_at),
      user_agent: session.user_agent,
      ip: session.ip,
      current: session.id === principal.sessionId,
    }));
  }

  /** Ends one of the caller's own sessions; anyone else's is "not found". */
  async endSession(principal: Principal, sessionId: string, client: ClientInfo = NO_CLIENT): Promise<void> {
    const session = await this.#sessions.find(sessionId);
    if (!session || session.user_id !== principal.userId || session.revoked_at !== null) {
      throw new AuthError('not_found', 'no such session');
    }
    await this.#sessions.revoke({ sessionIds: [sessionId] }, 'session_deleted');
    await this.#audit.record({ type: 'session_revoked', outcome: 'success', userId: principal.userId, sessionId, client, detail: { by_session: principal.sessionId } });
  }

  /** The caller's profile; a deleted or deactivated user is refused like a bad token. */
  async me(principal: Principal): Promise<PublicUser> {
    return publicUser(await this.#activeUser(principal));
  }

  async updateMe(principal: Principal, names: { first_name?: string; last_name?: string }): Promise<PublicUser> {
    await this.#activeUser(principal, true);
    return publicUser(await this.#users.updateNames(principal.userId, names));
  }

  /** `fresh`: read the database, not the user cache (before a write or a password check). */
  async #activeUser(principal: Principal, fresh = false): Promise<UserRow> {
    const user = await this.#users.get(principal.userId, { fresh });
    if (!user) throw new AuthError('user_not_found', 'user gone');
    if (!user.is_active) throw new AuthError('user_inactive', 'user inactive');
    return user;
  }

  /** Creates a user (the CLI's create-user). @example await auth.createUser({ username: 'ann', password: '…' }); */
  async createUser(input: CreateUserInput): Promise<PublicUser> {
    return publicUser(await this.#users.create(input));
  }

  /** Adds one batch of users read from a Django site, hashes and ids kept (see django/import.ts). */
  async importUsers(users: ImportUser[]): Promise<BatchResult> {
    const result = await importDjangoBatch(this.#parts.imports, users);
    await this.#audit.record({
      type: 'users_imported',
      outcome: 'success',
      detail: { imported: result.imported, already_present: result.present, skipped: result.skipped.length },
    });
    return result;
  }

  /** Adds one batch of sessions from a Django site's outstanding SimpleJWT refresh tokens (see django/import.ts). */
  async importSessions(sessions: ImportSession[]): Promise<SessionBatchResult> {
    const result = await importDjangoSessions(this.#parts.imports, sessions);
    await this.#audit.record({
      type: 'sessions_imported',
      outcome: 'success',
      detail: { imported: result.imported, already_present: result.present, users: result.userIds.length },
    });
    return result;
  }

  /** Records a batch of tokens the Django site had blacklisted: under ACCEPT_SIMPLEJWT_TOKENS they are refused, never exchanged. */
  async importBlacklisted(tokens: ImportBlacklisted[]): Promise<{ recorded: number }> {
    return { recorded: await this.#parts.imports.insertBlacklisted(tokens.map((token) => ({ jti: token.jti, expiresAt: new Date(token.expiresAt) }))) };
  }

  /** Open sign-up: a new user with the default role. Off (404) when REGISTRATION_ENABLED=false. */
  async register(input: RegistrationInput, client: ClientInfo, lang: Language = 'en'): Promise<PublicUser> {
    if (!this.config.registrationEnabled) throw new AuthError('not_found', 'registration disabled');
    await this.#counted(() => this.#throttle.registration(client.ip), client);
    const user = await this.#users.create({ ...input, emailRequired: true }, client.gone);
    await this.#audit.record({ type: 'user_registered', outcome: 'success', userId: user.id, client });
    if (this.config.emailVerification !== 'none') {
      await this.#parts.recovery.startVerification(user.id, lang, client);
      return publicUser({ ...user, email_verified: false });
    }
    return publicUser(user);
  }

  /**
   * Changes the caller's password: their other sessions end, a forced reset is
   * lifted, and the current session carries on with a fresh pair.
   */
  async changePassword(principal: Principal, passwords: { old: string; new: string }, client: ClientInfo): Promise<TokenPairResponse> {
    const user = await this.#activeUser(principal, true);
    await this.#users.changePassword(user, passwords.old, passwords.new, client.gone);
    const ended = await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'password_changed');
    const enrolment = (await this.#mfa.enrollmentRequired(user)) ? { mfaEnrollmentRequired: true } : {};
    const subject = { ...tokenSubject({ ...user, password_needs_reset: false }, true), ...enrolment };
    // A caller with a SimpleJWT access token (no session) carries on in a new session.
    const pair = principal.sessionId === '' ? await this.#sessions.open(subject, client) : await this.#sessions.reissue(subject, principal.sessionId, client);
    await this.#audit.record({
      type: 'password_changed',
      outcome: 'success',
      userId: user.id,
      // The session carried on, or the one opened for a SimpleJWT access token.
      sessionId: pair.refresh.claims.sid,
      client,
      detail: { sessions_ended: ended.length, forced_reset_cleared: user.password_needs_reset },
    });
    return pairBody(pair);
  }

  /**
   * Asks for a reset link (SPEC §11): answers the same, at once, whether the
   * address is known or not; past THROTTLE_PASSWORD_RESETS_PER_IP, 429.
   * @example await auth.requestPasswordReset('ann@example.com', 'fr', client);
   */
  requestPasswordReset(email: string, lang: Language, client: ClientInfo): Promise<void> {
    return this.#parts.recovery.requestReset(email, lang, client);
  }

  /** Checks a reset link without using it; the dialect's 400 when it is not good. */
  validatePasswordReset(uid: string, token: string, dialect: Dialect): Promise<void> {
    return this.#parts.recovery.validateReset(uid, token, dialect);
  }

  /**
   * Sets a new password from a reset link: every session of the user ends, on
   * every instance; nobody is logged in by it.
   */
  confirmPasswordReset(input: ResetConfirmation, client: ClientInfo): Promise<void> {
    return this.#parts.recovery.confirmReset(input, client);
  }

  /**
   * Mails a user a reset link on an administrator's word (the admin API, `latchkey send-password-reset`):
   * a user id, or a username or email.
   * @example await auth.sendPasswordReset('ann', { source: 'cli' });
   */
  async sendPasswordReset(
    user: number | string,
    by: { principal: Principal; client: ClientInfo } | { source: 'cli' },
    lang: Language = 'en',
  ): Promise<{ id: number; username: string; email: string }> {
    return this.#parts.recovery.adminReset(user, 'principal' in by ? { userId: by.principal.userId, client: by.client } : by, lang);
  }

  /** Mails a new verification link; the same answer whatever the address (SPEC §11). */
  resendVerification(email: string, lang: Language, client: ClientInfo): Promise<void> {
    return this.#parts.recovery.resendVerification(email, lang, client);
  }

  /** Follows a verification link: `uid` and `token` (djoser), or dj-rest-auth's `key` (`uid:token`). */
  verifyEmail(link: { uid: string; token: string } | { key: string }, client: ClientInfo): Promise<void> {
    if ('key' in link) {
      const [uid = '', token = '', extra] = link.key.split(':');
      // dj-rest-auth answers a bad key with 404.
      return this.#parts.recovery.verifyEmail(uid, token, client).catch((error: unknown) => {
        if (error instanceof ValidationError || (error instanceof AuthError && error.code === 'stale_token') || extra !== undefined) throw new AuthError('not_found', 'bad key');
        throw error;
      });
    }
    return this.#parts.recovery.verifyEmail(link.uid, link.token, client);
  }

  /** Resolves once background work started by requests (reset lookups, outbox rows, the sending they woke) is done. */
  async settled(): Promise<void> {
    await this.#parts.recovery.settled();
    await this.#parts.mailer.idle();
  }

  /** Sends every mail due now (a command about to exit); bounded by `deadlineMs`. */
  drainMail(deadlineMs?: number): Promise<void> {
    return this.#parts.mailer.drain(deadlineMs);
  }

  /**
   * Logs everyone out: every active session ends, and every instance refuses
   * their access tokens from the next request on.
   * @example const { sessionsEnded } = await auth.invalidateAllTokens({ source: 'cli' });
   */
  async invalidateAllTokens(by: { principal: Principal; client: ClientInfo } | { source: 'cli' }): Promise<{ sessionsEnded: number }> {
    const ended = await this.#sessions.revoke({ everyone: true }, 'all_tokens_invalidated');
    await this.#audit.record({
      type: 'all_tokens_invalidated',
      outcome: 'success',
      ...('principal' in by
        ? { userId: by.principal.userId, sessionId: by.principal.sessionId, client: by.client, detail: { via: 'api', sessions_ended: ended.length } }
        : { detail: { via: 'cli', sessions_ended: ended.length } }),
    });
    return { sessionsEnded: ended.length };
  }

  /**
   * Deletes what has served its time, and says how many rows per table:
   * expired sessions, long-revoked ones and expired refresh tokens; expired or
   * used reset and verification tokens; expired or spent mfa_tokens and WebAuthn challenges; mails
   * sent or given up on more than OUTBOX_RETENTION_MS (7 days) ago.
   * @example const { sessions, mails } = await auth.flushExpiredTokens();
   */
  async flushExpiredTokens(): Promise<FlushResult> {
    const now = new Date(this.#clock.now());
    const { sessions, refreshTokens } = await this.#sessions.purge(now, new Date(this.#parts.revocations.horizon));
    return {
      sessions,
      refreshTokens,
      recoveryTokens: await this.#parts.recovery.purge(now),
      mfaTokens: await this.#mfa.purge(now),
      mails: await this.#parts.mailer.purge(now),
      webauthnChallenges: await this.#passkeys.purge(now),
    };
  }

  /** True when `token` is REVOCATION_FEED_TOKEN (compared in constant time); false when the feed is off. */
  revocationFeedAllowed(token: string): boolean {
    const expected = this.config.revocationFeedToken;
    if (expected === undefined) return false;
    const digest = (value: string) => createHash('sha256').update(value).digest();
    return timingSafeEqual(digest(token), digest(expected));
  }

  /**
   * The revocation feed: `listener` hears every revocation new to this
   * instance from now on; the result holds the ones since `sinceMs` (or within
   * the last access-token lifetime) from the database, to send first.
   * @example const feed = auth.followRevocations(cursor, (ids, at) => send(ids, at)); …; feed.stop();
   */
  followRevocations(sinceMs: number | undefined, listener: (sessionIds: readonly string[], revokedAtMs: number) => void) {
    const stop = this.#parts.revocations.subscribe((ids, at) => listener(ids, at));
    const horizon = this.#parts.revocations.horizon;
    const since = sinceMs === undefined ? horizon : Math.max(horizon, sinceMs - FEED_CURSOR_MARGIN_MS);
    const backlog = this.#sessions.revokedSince(new Date(since)).catch((error: unknown) => {
      stop();
      throw error;
    });
    return { backlog, stop };
  }

  /**
   * Throws OverloadedError (503) when the password-hashing queue is full: routes
   * that check a password call it before reading the body, so shedding is cheap.
   */
  admitPasswordCheck(): void {
    this.#parts.hashGate.admit();
  }

  /** The password-hashing gate's counts: running, waiting, run, shed, abandoned (for /metrics). */
  hashStats(): HashGateStats {
    return this.#parts.hashGate.stats();
  }

  /** Lockouts this instance has started since it began, by limit (for /metrics). */
  throttleLockouts(): ReadonlyMap<ThrottleLimit, number> {
    return this.#lockouts;
  }

  /** Runs a throttle count; a refusal that starts a lockout is recorded before it propagates. */
  async #counted(count: () => Promise<void>, client: ClientInfo): Promise<void> {
    try {
      await count();
    } catch (error) {
      if (error instanceof ThrottledError && error.lockout) {
        await this.#recordLockout({ limit: error.lockout as ThrottleLimit, retryAfter: error.retryAfter }, client, null);
      }
      throw error;
    }
  }

  async #recordLockout(lockout: Lockout, client: ClientInfo, userId: number | null): Promise<void> {
    this.#lockouts.set(lockout.limit, (this.#lockouts.get(lockout.limit) ?? 0) + 1);
    await this.#audit.record({ type: 'throttled', outcome: 'failure', userId, client, detail: { limit: lockout.limit, retry_after: lockout.retryAfter } });
  }

  /** The user cache's hits, misses, bypassed reads, invalidations and size (for /metrics). */
  userCacheStats(): UserCacheStats | undefined {
    return this.#parts.userCache?.stats();
  }

  /** How many sessions the in-memory revocation list holds (for /metrics). */
  revokedSessionCount(): number {
    return this.#parts.revocations.size;
  }

  /** Throws StoreUnavailableError when the database is out of reach. */
  ping(): Promise<void> {
    return this.#parts.ping();
  }
}

/** Two `within` callbacks run one after the other in the same transaction. */
function inOrder(first: Within, second: Within): Within {
  return async (tx) => {
    await first(tx);
    await second(tx);
  };
}

function pairBody(pair: TokenPair): TokenPairResponse {
  return {
    access: pair.access.token,
    refresh: pair.refresh.token,
    access_expires_at: isoSeconds(pair.access.expiresAt),
    refresh_expires_at: isoSeconds(pair.refresh.expiresAt),
  };
}

/** Logged when a spent refresh token comes back and the token it was exchanged for was never used. */
export const ROTATION_HINT =
  'refresh token reuse: the client presented a rotated-out refresh token and never used the one it was given in exchange, '
  + 'so its session was revoked. A front end written for SimpleJWT without rotation never stores the rotated token; '
  + 'if the replaced site had ROTATE_REFRESH_TOKENS off (SimpleJWT\'s default), set ROTATE_REFRESH_TOKENS=false here too';

/** SimpleJWT's words, as its verify serializer raises them. */
const BLACKLISTED = 'Token is blacklisted';

const NO_CLIENT: ClientInfo = { ip: null, userAgent: null };

/** A passkey as its owner sees it (never the key or the credential id). */
function passkeyInfo(row: PasskeyRow): PasskeyInfo {
  return {
    id: row.id,
    name: row.name,
    created_at: isoSeconds(row.created_at),
    last_used_at: row.last_used_at ? isoSeconds(row.last_used_at) : null,
    device_type: row.device_type,
    backed_up: row.backed_up,
    transports: row.transports,
  };
}
