/**
 * The facade: every operation the HTTP routes and the CLI perform. It wires
 * tokens, sessions and users together and holds no HTTP or SQL of its own.
 */
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { AuthError, ConfigError } from './errors.ts';
import { RevocationList } from './sessions/revocation.ts';
import { SessionService, type ClientInfo, type RefreshResult, type TokenPair } from './sessions/service.ts';
import { RevocationSync } from './sessions/sync.ts';
import type { Store } from './store/connect.ts';
import { SessionsRepo, type SessionRow } from './store/repos/sessions.ts';
import { UsersRepo, type UserRow } from './store/repos/users.ts';
import { hmacKeySet } from './tokens/keys.ts';
import type { TokenClaims } from './tokens/claims.ts';
import { TokenService } from './tokens/service.ts';
import { Passwords } from './users/passwords.ts';
import { UserService, type CreateUserInput } from './users/service.ts';

/** Who a verified access token speaks for. Built from the token alone. */
export interface Principal {
  userId: number;
  sessionId: string;
  role: string | null;
  accountId: number | null;
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
  /** Background failures (lost LISTEN connection, failed reconciliation). */
  onError?: (error: unknown) => void;
}

/** How often each instance re-reads recent revocations, in case a notification was lost. */
const RECONCILE_EVERY_MS = 30_000;

export class Auth {
  readonly config: Config;
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
    this.#users = new UserService({ repo: usersRepo, passwords: new Passwords(), clock: this.#clock, roles: config.roles });
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
        return user && { id: user.id, role: user.role, accountId: user.account_id, isActive: user.is_active };
      },
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
    const user = await this.#users.authenticate(credentials.identifier, credentials.password);
    const opened = await this.#sessions.open(toSubject(user), client);
    return { ...opened, user };
  }

  refresh(refreshToken: string, client: ClientInfo): Promise<RefreshResult> {
    return this.#sessions.refresh(refreshToken, client);
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
    return { userId: claims.userId, sessionId: claims.sid, role: claims.role, accountId: claims.accountId };
  }

  /** Ends one session: the refresh token's if given, else the caller's current one. */
  async logout(by: { refreshToken: string } | { principal: Principal }): Promise<void> {
    const sessionId = 'refreshToken' in by
      ? (await this.#sessions.checkRefresh(this.#tokens.verify(by.refreshToken, 'refresh', this.#clock.now()))).sid
      : by.principal.sessionId;
    await this.#sessions.revoke({ sessionIds: [sessionId] }, 'logout');
  }

  /** Ends every session of the caller, on every device. */
  async logoutAll(principal: Principal): Promise<number> {
    return (await this.#sessions.revoke({ userId: principal.userId }, 'logout_all')).length;
  }

  async sessions(principal: Principal): Promise<SessionView[]> {
    const rows = await this.#sessions.list(principal.userId);
    return rows.map((session) => ({ session, current: session.id === principal.sessionId }));
  }

  /** Ends one of the caller's own sessions; anyone else's is "not found". */
  async endSession(principal: Principal, sessionId: string): Promise<void> {
    const session = await this.#sessions.find(sessionId);
    if (!session || session.user_id !== principal.userId || session.revoked_at !== null) {
      throw new AuthError('not_found', 'no such session');
    }
    await this.#sessions.revoke({ sessionIds: [sessionId] }, 'session_deleted');
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

  /** How many sessions the in-memory revocation list holds (for /metrics). */
  revokedSessionCount(): number {
    return this.#revocations.size;
  }

  /** Throws StoreUnavailableError when the database is out of reach. */
  ping(): Promise<void> {
    return this.#store.ping();
  }
}

function toSubject(user: UserRow) {
  return { id: user.id, role: user.role, accountId: user.account_id, isActive: user.is_active };
}
