/**
 * The facade: every operation the HTTP routes and the CLI perform. It is handed
 * its parts by `createAuth` (src/create-auth.ts), constructs nothing, holds no
 * HTTP or SQL of its own, and answers in domain or wire types, never rows.
 */
import type { Admin } from './admin/service.ts';
import type { AuditLog } from './audit/log.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import { importDjangoBatch, importDjangoSessions, type BatchResult, type ImportSession, type ImportUser, type SessionBatchResult } from './django/import.ts';
import { AuthError, TokenError, ValidationError } from './errors.ts';
import type { RevocationList } from './sessions/revocation.ts';
import { ReuseDetectedError, type ClientInfo, type SessionService, type TokenPair } from './sessions/service.ts';
import type { RevocationSync } from './sessions/sync.ts';
import type { ImportsRepo } from './store/repos/imports.ts';
import type { UserRow } from './store/repos/users.ts';
import type { TokenClaims } from './tokens/claims.ts';
import type { TokenService } from './tokens/service.ts';
import { isoSeconds, publicUser, tokenSubject } from './users/public.ts';
import type { CreateUserInput, UserService } from './users/service.ts';
import type { PublicUser, RefreshResponse, SessionInfo, TokenPairResponse } from './wire.ts';

export type { Actor, AdminCreateUserInput, Page } from './admin/service.ts';
export type { ClientInfo } from './sessions/service.ts';
export type { UserChanges } from './store/repos/users.ts';
export type { AccountChanges } from './store/repos/accounts.ts';
export type { AuditQuery } from './store/repos/audit.ts';
export type { CreateUserInput } from './users/service.ts';
export type { BatchResult, ImportSession, ImportUser, SessionBatchResult } from './django/import.ts';

export type RegistrationInput = Pick<CreateUserInput, 'username' | 'email' | 'password' | 'firstName' | 'lastName'>;

/** Who a verified access token speaks for. Built from the token alone. */
export interface Principal {
  userId: number;
  sessionId: string;
  role: string | null;
  accountId: number | null;
  /** The user must change their password: only a few routes accept this caller (SPEC §3, forced reset). */
  restricted: boolean;
}

export interface LoginResult {
  tokens: TokenPairResponse;
  user: PublicUser;
  sessionId: string;
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
  /** Throws StoreUnavailableError when the database is out of reach. */
  ping: () => Promise<void>;
}

export class Auth {
  readonly config: Config;
  /** Users, accounts and the audit trail as administrators see them. */
  readonly admin: Admin;
  readonly #parts: AuthParts;
  readonly #clock: Clock;
  readonly #tokens: TokenService;
  readonly #sessions: SessionService;
  readonly #users: UserService;
  readonly #audit: AuditLog;

  constructor(parts: AuthParts) {
    this.#parts = parts;
    this.config = parts.config;
    this.admin = parts.admin;
    this.#clock = parts.clock;
    this.#tokens = parts.tokens;
    this.#sessions = parts.sessions;
    this.#users = parts.users;
    this.#audit = parts.audit;
  }

  /** Loads recent revocations and starts following new ones. Call before serving. */
  async start(): Promise<void> {
    await this.#parts.sync.start();
  }

  /** Stops background work. The store is the caller's to close. */
  async stop(): Promise<void> {
    await this.#parts.sync.stop();
  }

  /**
   * Checks credentials and opens a session.
   * @example const { tokens, user } = await auth.login({ identifier: 'alice', password: '…' }, client);
   */
  async login(credentials: { identifier: string; password: string }, client: ClientInfo): Promise<LoginResult> {
    const attempt = await this.#users.attempt(credentials.identifier, credentials.password);
    if (!attempt.ok) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: attempt.userId, client, detail: { reason: attempt.reason } });
      throw new AuthError('no_active_account', attempt.reason);
    }
    // Only after the password: an inactive tenant is no secret from someone who knows it.
    // The account is checked in the same statement that writes last_login, so a refused login writes nothing.
    const user = await this.#users.recordLogin(attempt.user);
    if (!user) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: attempt.user.id, client, detail: { reason: 'account_inactive' } });
      throw new AuthError('account_inactive');
    }
    const opened = await this.#sessions.open(tokenSubject(user, true), client);
    await this.#audit.record({
      type: 'login_succeeded',
      outcome: 'success',
      userId: user.id,
      sessionId: opened.sessionId,
      client,
      detail: user.password_needs_reset ? { password_needs_reset: true } : {},
    });
    return { tokens: pairBody(opened), user: publicUser(user), sessionId: opened.sessionId };
  }

  /**
   * Exchanges a refresh token: rotation, the grace window and reuse detection (SPEC §2).
   * @example const { access, refresh } = await auth.refresh(refreshToken, client);
   */
  async refresh(refreshToken: string, client: ClientInfo): Promise<RefreshResponse> {
    try {
      const result = await this.#sessions.refresh(refreshToken, client);
      const { userId, sid: sessionId } = result.claims;
      await this.#audit.record({ type: 'token_refreshed', outcome: 'success', userId, sessionId, client });
      return {
        access: result.access.token,
        access_expires_at: isoSeconds(result.access.expiresAt),
        ...(result.refresh ? { refresh: result.refresh.token, refresh_expires_at: isoSeconds(result.refresh.expiresAt) } : {}),
      };
    } catch (error) {
      if (error instanceof ReuseDetectedError) {
        const { userId, sid: sessionId } = error.claims;
        await this.#audit.record({ type: 'refresh_reuse_detected', outcome: 'failure', userId, sessionId, client, detail: { session_revoked: true } });
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
    if (this.#sessions.isRevoked(claims.sid)) throw new TokenError('blacklisted', 'session revoked');
    return {
      userId: claims.userId,
      sessionId: claims.sid,
      role: claims.role,
      accountId: claims.accountId,
      restricted: claims.passwordResetRequired === true,
    };
  }

  /** Ends one session: the refresh token's if given, else the caller's current one. */
  async logout(by: { refreshToken: string } | { principal: Principal }, client: ClientInfo = NO_CLIENT): Promise<void> {
    const { userId, sessionId } = 'refreshToken' in by
      ? await this.#sessions.checkRefresh(this.#tokens.verify(by.refreshToken, 'refresh', this.#clock.now())).then((c) => ({ userId: c.userId, sessionId: c.sid }))
      : by.principal;
    await this.#sessions.revoke({ sessionIds: [sessionId] }, 'logout');
    await this.#audit.record({ type: 'logout', outcome: 'success', userId, sessionId, client });
  }

  /** Ends every session of the caller, on every device. */
  async logoutAll(principal: Principal, client: ClientInfo = NO_CLIENT): Promise<number> {
    const ended = (await this.#sessions.revoke({ userId: principal.userId }, 'logout_all')).length;
    await this.#audit.record({ type: 'logout_all', outcome: 'success', userId: principal.userId, sessionId: principal.sessionId, client, detail: { sessions_ended: ended } });
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
    await this.#activeUser(principal);
    return publicUser(await this.#users.updateNames(principal.userId, names));
  }

  async #activeUser(principal: Principal): Promise<UserRow> {
    const user = await this.#users.get(principal.userId);
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

  /** Open sign-up: a new user with the default role. Off (404) when REGISTRATION_ENABLED=false. */
  async register(input: RegistrationInput, client: ClientInfo): Promise<PublicUser> {
    if (!this.config.registrationEnabled) throw new AuthError('not_found', 'registration disabled');
    const user = await this.#users.create({ ...input, emailRequired: true });
    await this.#audit.record({ type: 'user_registered', outcome: 'success', userId: user.id, client });
    return publicUser(user);
  }

  /**
   * Changes the caller's password: their other sessions end, a forced reset is
   * lifted, and the current session carries on with a fresh pair.
   */
  async changePassword(principal: Principal, passwords: { old: string; new: string }, client: ClientInfo): Promise<TokenPairResponse> {
    const user = await this.#activeUser(principal);
    await this.#users.changePassword(user, passwords.old, passwords.new);
    const ended = await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'password_changed');
    const pair = await this.#sessions.reissue(tokenSubject({ ...user, password_needs_reset: false }, true), principal.sessionId, client);
    await this.#audit.record({
      type: 'password_changed',
      outcome: 'success',
      userId: user.id,
      sessionId: principal.sessionId,
      client,
      detail: { sessions_ended: ended.length, forced_reset_cleared: user.password_needs_reset },
    });
    return pairBody(pair);
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

  /** Deletes expired sessions, long-revoked ones and expired refresh tokens; says how many. */
  flushExpiredTokens(): Promise<{ sessions: number; refreshTokens: number }> {
    const now = this.#clock.now();
    return this.#sessions.purge(new Date(now), new Date(this.#parts.revocations.horizon));
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

function pairBody(pair: TokenPair): TokenPairResponse {
  return {
    access: pair.access.token,
    refresh: pair.refresh.token,
    access_expires_at: isoSeconds(pair.access.expiresAt),
    refresh_expires_at: isoSeconds(pair.refresh.expiresAt),
  };
}

/** SimpleJWT's words, as its verify serializer raises them. */
const BLACKLISTED = 'Token is blacklisted';

const NO_CLIENT: ClientInfo = { ip: null, userAgent: null };
