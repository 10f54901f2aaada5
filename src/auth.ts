/**
 * The facade: every operation the HTTP routes and the CLI perform. It wires
 * tokens, sessions and users together and holds no HTTP or SQL of its own.
 */
import { Admin } from './admin/service.ts';
import { AuditLog, type AuditLogger } from './audit/log.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { AuthError, ConfigError } from './errors.ts';
import { RevocationList } from './sessions/revocation.ts';
import { ReuseDetectedError, SessionService, type ClientInfo, type RefreshResult, type TokenPair, type TokenSubject } from './sessions/service.ts';
import { RevocationSync } from './sessions/sync.ts';
import type { Store } from './store/connect.ts';
import { AccountsRepo } from './store/repos/accounts.ts';
import { AuditRepo } from './store/repos/audit.ts';
import { ImportsRepo } from './store/repos/imports.ts';
import { SessionsRepo, type SessionRow } from './store/repos/sessions.ts';
import { UsersRepo, type UserRow } from './store/repos/users.ts';
import { hmacKeySet } from './tokens/keys.ts';
import type { TokenClaims } from './tokens/claims.ts';
import { TokenService } from './tokens/service.ts';
import { importDjangoBatch, importDjangoSessions, type BatchResult, type ImportSession, type ImportUser, type SessionBatchResult } from './users/django-import.ts';
import { Passwords } from './users/passwords.ts';
import { UserService, type CreateUserInput } from './users/service.ts';

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

export interface LoginResult extends TokenPair {
  user: UserRow;
  sessionId: string;
}

export interface SessionView {
  session: SessionRow;
  current: boolean;
}

export interface AuthOptions {
  config: Config;
  store: Store;
  clock?: Clock;
  /** Background failures (lost LISTEN connection, failed reconciliation, a lost audit row). */
  onError?: (error: unknown) => void;
  /** Where audit events are also written as JSON lines (the server's pino logger). */
  logger?: AuditLogger;
  /** Password hashing; production cost by default (tests pass a cheap one). */
  passwords?: Passwords;
}

/** How often each instance re-reads recent revocations, in case a notification was lost. */
const RECONCILE_EVERY_MS = 30_000;

export class Auth {
  readonly config: Config;
  /** Users, accounts and the audit trail as administrators see them. */
  readonly admin: Admin;
  readonly #audit: AuditLog;
  readonly #imports: ImportsRepo;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #tokens: TokenService;
  readonly #sessions: SessionService;
  readonly #users: UserService;
  readonly #sync: RevocationSync;
  readonly #revocations: RevocationList;

  constructor(options: AuthOptions) {
    const { config, store } = options;
    if (config.signingKey === undefined) throw new ConfigError('SIGNING_KEY', 'is not set');
    this.config = config;
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = new TokenService(hmacKeySet(config.signingKey), config);
    const usersRepo = new UsersRepo(store.db);
    const sessionsRepo = new SessionsRepo(store.db, store.channel);
    this.#users = new UserService({ repo: usersRepo, passwords: options.passwords ?? new Passwords(), clock: this.#clock, roles: config.roles });
    // No access token outlives its revocation by more than lifetime + leeway; one more second is a
    // margin for clocks that differ between instances.
    const revocations = new RevocationList(this.#clock, config.accessTokenLifetime + config.leeway + 1000);
    this.#revocations = revocations;
    this.#sessions = new SessionService({
      repo: sessionsRepo,
      tokens: this.#tokens,
      revocations,
      clock: this.#clock,
      settings: config,
      loadSubject: async (id) => {
        const user = await this.#users.get(id);
        return user && toSubject(user, await this.#users.accountActive(user));
      },
    });
    this.#imports = new ImportsRepo(store.db);
    this.#audit = new AuditLog({
      repo: new AuditRepo(store.db),
      clock: this.#clock,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    });
    this.admin = new Admin({
      users: usersRepo,
      accounts: new AccountsRepo(store.db),
      audit: this.#audit,
      userService: this.#users,
      sessions: this.#sessions,
      clock: this.#clock,
      roles: config.roles,
    });
    this.#sync = new RevocationSync(revocations, store, sessionsRepo, this.#clock, {
      reconcileEveryMs: RECONCILE_EVERY_MS,
      ...(options.onError ? { onError: options.onError } : {}),
    });
  }

  /** Loads recent revocations and starts following new ones. Call before serving. */
  async start(): Promise<void> {
    await this.#sync.start();
  }

  /** Stops background work. The store is the caller's to close. */
  stop(): void {
    this.#sync.stop();
  }

  /**
   * Checks credentials and opens a session.
   * @example const { access, refresh, user } = await auth.login({ identifier: 'alice', password: '…' }, client);
   */
  async login(credentials: { identifier: string; password: string }, client: ClientInfo): Promise<LoginResult> {
    const attempt = await this.#users.attempt(credentials.identifier, credentials.password);
    if (!attempt.ok) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: attempt.userId, client, detail: { reason: attempt.reason } });
      throw new AuthError('no_active_account', attempt.reason);
    }
    const { user } = attempt;
    // Only after the password: an inactive tenant is no secret from someone who knows it.
    if (!(await this.#users.accountActive(user))) {
      await this.#audit.record({ type: 'login_failed', outcome: 'failure', userId: user.id, client, detail: { reason: 'account_inactive' } });
      throw new AuthError('account_inactive');
    }
    const opened = await this.#sessions.open(toSubject(user, true), client);
    await this.#audit.record({
      type: 'login_succeeded',
      outcome: 'success',
      userId: user.id,
      sessionId: opened.sessionId,
      client,
      detail: user.password_needs_reset ? { password_needs_reset: true } : {},
    });
    return { ...opened, user };
  }

  async refresh(refreshToken: string, client: ClientInfo): Promise<RefreshResult> {
    try {
      const result = await this.#sessions.refresh(refreshToken, client);
      const { userId, sid: sessionId } = result.claims;
      await this.#audit.record({ type: 'token_refreshed', outcome: 'success', userId, sessionId, client });
      return result;
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

  /** SimpleJWT's verify: any token type. Access tokens are checked in memory, refresh tokens against their session. */
  async verify(token: string): Promise<void> {
    const claims = this.#tokens.verify(token, 'any', this.#clock.now());
    if (claims.tokenType === 'access') this.#principal(claims);
    else await this.#sessions.checkRefresh(claims);
  }

  #principal(claims: TokenClaims): Principal {
    if (this.#sessions.isRevoked(claims.sid)) throw new AuthError('token_not_valid', 'session revoked');
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

  async sessions(principal: Principal): Promise<SessionView[]> {
    const rows = await this.#sessions.list(principal.userId);
    return rows.map((session) => ({ session, current: session.id === principal.sessionId }));
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

  /** The caller's user row; a deleted or deactivated user is refused like a bad token. */
  async me(principal: Principal): Promise<UserRow> {
    const user = await this.#users.get(principal.userId);
    if (!user) throw new AuthError('user_not_found', 'user gone');
    if (!user.is_active) throw new AuthError('user_inactive', 'user inactive');
    return user;
  }

  async updateMe(principal: Principal, names: { first_name?: string; last_name?: string }): Promise<UserRow> {
    await this.me(principal);
    return this.#users.updateNames(principal.userId, names);
  }

  createUser(input: CreateUserInput): Promise<UserRow> {
    return this.#users.create(input);
  }

  /** Adds one batch of users read from a Django site, hashes and ids kept (see users/django-import.ts). */
  async importUsers(users: ImportUser[]): Promise<BatchResult> {
    const result = await importDjangoBatch(this.#imports, users);
    await this.#audit.record({
      type: 'users_imported',
      outcome: 'success',
      detail: { imported: result.imported, already_present: result.present, skipped: result.skipped.length },
    });
    return result;
  }

  /** Adds one batch of sessions from a Django site's outstanding SimpleJWT refresh tokens (see users/django-import.ts). */
  async importSessions(sessions: ImportSession[]): Promise<SessionBatchResult> {
    const result = await importDjangoSessions(this.#imports, sessions);
    await this.#audit.record({
      type: 'sessions_imported',
      outcome: 'success',
      detail: { imported: result.imported, already_present: result.present, users: result.userIds.length },
    });
    return result;
  }

  /** Open sign-up: a new user with the default role. Off (404) when REGISTRATION_ENABLED=false. */
  async register(input: RegistrationInput, client: ClientInfo): Promise<UserRow> {
    if (!this.config.registrationEnabled) throw new AuthError('not_found', 'registration disabled');
    const user = await this.#users.create({ ...input, emailRequired: true });
    await this.#audit.record({ type: 'user_registered', outcome: 'success', userId: user.id, client });
    return user;
  }

  /**
   * Changes the caller's password: their other sessions end, a forced reset is
   * lifted, and the current session carries on with a fresh pair.
   */
  async changePassword(principal: Principal, passwords: { old: string; new: string }, client: ClientInfo): Promise<TokenPair> {
    const user = await this.me(principal);
    await this.#users.changePassword(user, passwords.old, passwords.new);
    const ended = await this.#sessions.revoke({ userId: user.id, exceptSessionId: principal.sessionId }, 'password_changed');
    const pair = await this.#sessions.reissue(toSubject({ ...user, password_needs_reset: false }, true), principal.sessionId, client);
    await this.#audit.record({
      type: 'password_changed',
      outcome: 'success',
      userId: user.id,
      sessionId: principal.sessionId,
      client,
      detail: { sessions_ended: ended.length, forced_reset_cleared: user.password_needs_reset },
    });
    return pair;
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
    return this.#sessions.purge(new Date(now), new Date(this.#revocations.horizon));
  }

  /** How many sessions the in-memory revocation list holds (for /metrics). */
  revokedSessionCount(): number {
    return this.#revocations.size;
  }

  /** Throws StoreUnavailableError when the database is out of reach. */
  ping(): Promise<void> {
    return this.#store.ping();
  }
}

function toSubject(user: UserRow, accountActive: boolean): TokenSubject {
  return {
    id: user.id,
    role: user.role,
    accountId: user.account_id,
    isActive: user.is_active,
    accountActive,
    passwordNeedsReset: user.password_needs_reset,
  };
}

const NO_CLIENT: ClientInfo = { ip: null, userAgent: null };
