import { v7 as uuidv7 } from 'uuid';
import { epochSeconds, type Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { AuthError, TokenError } from '../errors.ts';
import { newJti, type TokenClaims } from '../tokens/claims.ts';
import type { IssuedToken, TokenService } from '../tokens/service.ts';
import type { NewAuditEvent } from '../store/repos/audit.ts';
import { LegacyRaceError, type RefreshTokenRow, type RevokeReason, type RevokeTarget, type SessionRow, type SessionsRepo } from '../store/repos/sessions.ts';
import type { RevocationList } from './revocation.ts';

/** What the session layer needs to know of a user to put it in a token. */
export interface TokenSubject {
  id: number;
  role: string | null;
  accountId: number | null;
  isActive: boolean;
  /** False when the user's account (tenant) is deactivated. */
  accountActive: boolean;
  passwordNeedsReset: boolean;
  /** How the user got in; put on the session and every token of it (SPEC §12). Default: a password, now. */
  auth?: AuthContext;
  /** Whether the address is proven (the `email_verified` claim, with EMAIL_VERIFICATION). */
  emailVerified?: boolean;
  /** MFA_REQUIRED_ROLES names the user's role and it has no factor yet: restricted tokens until enrolment. */
  mfaEnrollmentRequired?: boolean;
}

/** RFC 8176 `amr`, the assurance level and the time of authentication (ms since the epoch). */
export interface AuthContext {
  amr: string[];
  aal: 'aal1' | 'aal2';
  authTime: number;
  /** The passkey the session is opened with: deleting it ends the session (SPEC §12). */
  passkeyId?: string;
}

/** Work that must commit or fail with the session it accompanies (a second factor's step spent). */
export type Within = (repo: Pick<SessionsRepo, 'bind'>) => Promise<void>;

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  /** True once the client has gone (its connection closed): work for it, a password hash above all, may be skipped. */
  gone?: () => boolean;
}

export interface TokenPair {
  access: IssuedToken;
  refresh: IssuedToken;
}

export interface RefreshResult {
  access: IssuedToken;
  /** Absent when ROTATE_REFRESH_TOKENS is off. */
  refresh?: IssuedToken;
  /** The presented refresh token's claims (who refreshed, which session). */
  claims: TokenClaims;
  /** The presented token was SimpleJWT's, exchanged here for its first Latchkey tokens (audit `simplejwt_token_exchanged`). */
  exchanged?: true;
  /** The audit row written with the rotation, when it was (the caller then only logs it). */
  audited?: NewAuditEvent;
}

/** Verified claims with their session; `adopt`: a SimpleJWT refresh token seen for the first time, whose session `sid` is still to open. */
type SessionClaims = TokenClaims & { adopt?: true };

/** A spent refresh token presented outside the grace window: its session has been revoked. */
export class ReuseDetectedError extends TokenError {
  readonly claims: TokenClaims;
  /**
   * The token the reused one was exchanged for was never presented itself: the
   * client kept the old one, as a front end written for SimpleJWT without
   * rotation does (its ROTATE_REFRESH_TOKENS was off).
   */
  readonly successorUnused: boolean;
  constructor(claims: TokenClaims, successorUnused = false) {
    super('blacklisted', 'refresh token reused: session revoked');
    this.claims = claims;
    this.successorUnused = successorUnused;
  }
}

type SessionSettings = Pick<Config, 'accessTokenLifetime' | 'refreshTokenLifetime' | 'rotateRefreshTokens' | 'refreshReuseGrace'>
  & Partial<Pick<Config, 'acceptSimplejwtTokens'>>;

const MAX_USER_AGENT = 512;

/**
 * Sessions (one per login and device), refresh rotation with reuse detection,
 * and revocation. The database is the truth; the RevocationList is what access
 * token checks consult.
 */
export class SessionService {
  readonly #repo: SessionsRepo;
  readonly #tokens: TokenService;
  readonly #revocations: RevocationList;
  readonly #clock: Clock;
  readonly #settings: SessionSettings;
  readonly #loadSubject: (userId: number) => Promise<TokenSubject | undefined>;

  constructor(deps: {
    repo: SessionsRepo;
    tokens: TokenService;
    revocations: RevocationList;
    clock: Clock;
    settings: SessionSettings;
    loadSubject: (userId: number) => Promise<TokenSubject | undefined>;
  }) {
    this.#repo = deps.repo;
    this.#tokens = deps.tokens;
    this.#revocations = deps.revocations;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#loadSubject = deps.loadSubject;
  }

  /**
   * Opens a session for a user who has just proved who they are.
   * @example const { access, refresh } = await sessions.open(user, { ip, userAgent });
   */
  async open(who: TokenSubject, client: ClientInfo, within?: Within): Promise<TokenPair & { sessionId: string }> {
    const sessionId = uuidv7();
    const nowMs = this.#clock.now();
    const subject: TokenSubject = { ...who, auth: who.auth ?? { amr: ['pwd'], aal: 'aal1', authTime: nowMs } };
    const pair = this.#newPair(subject, sessionId, nowMs);
    const now = new Date(pair.refresh.claims.iat * 1000);
    const session: SessionRow = {
      id: sessionId,
      user_id: subject.id,
      created_at: now,
      last_used_at: now,
      expires_at: new Date(pair.refresh.expiresAt),
      revoked_at: null,
      revoked_reason: null,
      user_agent: clip(client.userAgent),
      ip: client.ip,
      amr: subject.auth!.amr,
      aal: subject.auth!.aal,
      auth_time: new Date(subject.auth!.authTime),
      passkey_id: subject.auth!.passkeyId ?? null,
    };
    await this.#repo.insertSession(session, tokenRow(pair), within);
    return { ...pair, sessionId };
  }

  /**
   * Exchanges a refresh token. A spent token inside REFRESH_REUSE_GRACE gets the
   * same successor pair back; outside it, the whole session is revoked.
   * `audit` gives the event to write in the rotation's own statement, when it
   * takes the one-statement path (`audited` in the result says it did).
   */
  async refresh(token: string, client: ClientInfo, audit?: (claims: TokenClaims) => NewAuditEvent): Promise<RefreshResult> {
    try {
      return await this.#refresh(token, client, audit);
    } catch (error) {
      // Another request exchanged the same SimpleJWT token first: now it has a row, and this is a second presentation.
      if (error instanceof LegacyRaceError) return this.#refresh(token, client, audit);
      throw error;
    }
  }

  async #refresh(token: string, client: ClientInfo, audit?: (claims: TokenClaims) => NewAuditEvent): Promise<RefreshResult> {
    const now = this.#clock.now();
    const claims = await this.#withSession(this.#tokens.verify(token, 'refresh', now));
    if (this.#revocations.isRevoked(claims.sid)) throw blacklisted('session revoked');
    // Read before the transaction: on PGlite a query outside it would wait for it to end.
    const loaded = await this.#loadSubject(claims.userId);
    // How the session got in travels in its tokens (signed, so as good as the row). A token from before
    // the claims were written takes the general path, which reads them from the session's row.
    const subject = loaded && withClaimsContext(loaded, claims);

    // The usual case in one statement: an unspent token of a live session, an active user. A SimpleJWT
    // token (its first exchange is its own audit event) takes the general path.
    if (this.#settings.rotateRefreshTokens && subject?.isActive && subject.accountActive && !claims.legacy) {
      const pair = this.#newPair(subject, claims.sid, now);
      const spend = { jti: claims.jti, sessionId: claims.sid, userId: claims.userId, at: new Date(now) };
      const row = audit?.(claims);
      if (await this.#repo.rotate(spend, tokenRow(pair), clientChanges(client), row)) return { ...pair, claims, ...(row ? { audited: row } : {}) };
    }
    // Anything else (a spent token: grace or reuse; a revoked session; an unknown token; rotation off;
    // a SimpleJWT token) under the session's lock, which tells them apart.
    const outcome = await this.#repo.transaction(async (tx): Promise<Omit<RefreshResult, 'claims'> | { reuse: { successorUnused: boolean } }> => {
      if (claims.adopt) {
        // ACCEPT_SIMPLEJWT_TOKENS: the token opens a session in this transaction and is spent in it (below),
        // so presenting it again, here or on another instance, finds its row.
        if (!loaded?.isActive) throw new AuthError('no_active_account', 'user inactive or gone');
        await tx.adoptLegacy(this.#adoptedSession(claims, now, client), {
          jti: claims.jti,
          sessionId: claims.sid,
          issuedAt: new Date(claims.iat * 1000),
          expiresAt: new Date(claims.exp * 1000),
          // No access token was issued with it here; the column wants one (as for imported sessions).
          accessJti: newJti(),
          accessExpiresAt: new Date(claims.iat * 1000),
        });
      }
      const session = await tx.lockSession(claims.sid);
      if (!session || session.user_id !== claims.userId) throw invalid('no such session');
      if (session.revoked_at !== null) throw blacklisted('session revoked');
      const row = await tx.findToken(claims.jti);
      if (!row || row.session_id !== session.id) throw invalid('unknown refresh token');
      // Under the lock the session's row is the truth (a step-up since this token was issued).
      const subject = loaded && withContext(loaded, session);
      if (!subject?.isActive) throw new AuthError('no_active_account', 'user inactive or gone');
      if (!subject.accountActive) throw new AuthError('account_inactive', 'account inactive');

      // A SimpleJWT token's first exchange (imported or adopted); without rotation, only its adoption.
      const exchanged = claims.legacy && row.spent_at === null && (this.#settings.rotateRefreshTokens || claims.adopt) ? { exchanged: true as const } : {};
      if (!this.#settings.rotateRefreshTokens) {
        // Without rotation, a SimpleJWT token keeps refreshing the session it opened, as it did on the old site.
        const expiresAt = claims.adopt ? { expiresAt: new Date(claims.exp * 1000) } : {};
        await tx.touchSession(session.id, { lastUsedAt: new Date(now), ...expiresAt, ...clientChanges(client) });
        return { access: this.#newAccess(subject, session.id, now, newJti()), ...exchanged };
      }
      if (row.spent_at === null) {
        const pair = this.#newPair(subject, session.id, now);
        await tx.markSpent(row.jti, pair.refresh.claims.jti, new Date(now));
        await tx.insertToken(tokenRow(pair));
        await tx.touchSession(session.id, { lastUsedAt: new Date(now), expiresAt: new Date(pair.refresh.expiresAt), ...clientChanges(client) });
        return { ...pair, ...exchanged };
      }
      const successor = row.successor_jti ? await tx.findToken(row.successor_jti) : undefined;
      if (successor && now - row.spent_at.getTime() <= this.#settings.refreshReuseGrace) {
        return this.#resign(subject, successor);
      }
      await tx.revoke({ sessionIds: [session.id] }, 'reuse_detected', new Date(now));
      return { reuse: { successorUnused: successor !== undefined && successor.spent_at === null } };
    });

    if ('reuse' in outcome) {
      this.#revocations.add([claims.sid], now);
      throw new ReuseDetectedError(claims, outcome.reuse.successorUnused);
    }
    return { ...outcome, claims };
  }

  /**
   * A fresh pair for a session that stays open (after a password change): the
   * session's outstanding refresh tokens are spent, with the new one as their
   * successor, so a tab still holding one gets the new pair inside the grace.
   */
  async reissue(who: TokenSubject, sessionId: string, client: ClientInfo, within?: Within): Promise<TokenPair> {
    const now = this.#clock.now();
    return this.#repo.transaction(async (tx) => {
      const session = await tx.lockSession(sessionId);
      if (!session || session.revoked_at !== null || session.user_id !== who.id) throw invalid('no such session');
      if (within) await within(tx);
      // A new context (a step-up) is recorded on the session; otherwise the session's own stays.
      if (who.auth) await tx.setAuthContext(sessionId, { amr: who.auth.amr, aal: who.auth.aal, authTime: new Date(who.auth.authTime) });
      const subject = who.auth ? who : withContext(who, session);
      const pair = this.#newPair(subject, sessionId, now);
      await tx.spendOutstanding(sessionId, pair.refresh.claims.jti, new Date(now));
      await tx.insertToken(tokenRow(pair));
      await tx.touchSession(sessionId, { lastUsedAt: new Date(now), expiresAt: new Date(pair.refresh.expiresAt), ...clientChanges(client) });
      return pair;
    });
  }

  /**
   * Refuses a verified refresh token's claims if the token is spent or its session revoked. A SimpleJWT
   * token not seen yet (ACCEPT_SIMPLEJWT_TOKENS) passes with `adopt` and a session id that names nothing yet.
   */
  async checkRefresh(verified: TokenClaims): Promise<SessionClaims> {
    const claims = await this.#withSession(verified);
    if (claims.adopt) return claims;
    const [session, row] = await Promise.all([this.#repo.findSession(claims.sid), this.#repo.findToken(claims.jti)]);
    if (!session || session.user_id !== claims.userId || !row || row.session_id !== session.id) throw invalid('unknown session or token');
    if (session.revoked_at !== null) throw blacklisted('session revoked');
    if (this.#settings.rotateRefreshTokens && row.spent_at !== null) throw blacklisted('spent');
    return claims;
  }

  /** True when the session's access tokens must be refused. No database access. */
  isRevoked(sessionId: string): boolean {
    return this.#revocations.isRevoked(sessionId);
  }

  /**
   * Ends sessions; their access tokens are refused here from the next request on. A user-wide target
   * (a user, an account, everyone) also voids the tokens without a session (SimpleJWT's) issued until now.
   */
  async revoke(target: RevokeTarget, reason: RevokeReason): Promise<string[]> {
    const now = this.#clock.now();
    const { ids, cutoffs } = await this.#repo.transaction(async (tx) => ({
      ids: await tx.revoke(target, reason, new Date(now)),
      cutoffs: await tx.cutOff(target, new Date(now)),
    }));
    this.#revocations.cutOff(cutoffs);
    this.#revocations.add(ids, now);
    return ids;
  }

  /** True when a token without a session (SimpleJWT's) was voided by a user-wide revocation since it was issued. No database access. */
  isCutOff(userId: number, iat: number): boolean {
    return this.#revocations.isCutOff(userId, iat);
  }

  /** A SimpleJWT refresh token logged out before its first exchange: it may never be exchanged. */
  async spendLegacy(claims: TokenClaims, reason: 'logged_out'): Promise<void> {
    await this.#repo.spendLegacy([{ jti: claims.jti, reason, expiresAt: new Date(claims.exp * 1000) }]);
  }

  /** Sessions revoked after `since`, from the database (the revocation feed's catch-up). */
  revokedSince(since: Date): Promise<Array<{ id: string; revoked_at: Date }>> {
    return this.#repo.revokedSince(since);
  }

  /** Deletes sessions and refresh tokens that can no longer matter (see SessionsRepo.purge). */
  purge(now: Date, revokedBefore: Date): Promise<{ sessions: number; refreshTokens: number }> {
    return this.#repo.purge(now, revokedBefore);
  }

  async list(userId: number): Promise<SessionRow[]> {
    return this.#repo.listActive(userId, new Date(this.#clock.now()));
  }

  async find(sessionId: string): Promise<SessionRow | undefined> {
    return this.#repo.findSession(sessionId);
  }

  /**
   * A legacy (SimpleJWT) refresh token's claims with the session its imported
   * row belongs to; Latchkey's own claims as they are. Only an imported row will
   * do: one of Latchkey's own tokens stripped of its sid is refused.
   */
  async #withSession(claims: TokenClaims): Promise<SessionClaims> {
    if (!claims.legacy) return claims;
    const row = await this.#repo.findToken(claims.jti);
    if (row?.imported) return { ...claims, sid: row.session_id };
    if (row || !this.#settings.acceptSimplejwtTokens) throw invalid('unknown legacy refresh token');
    // ACCEPT_SIMPLEJWT_TOKENS: a token the old site issued and nobody has presented here yet is exchanged
    // once — unless it was blacklisted there, logged out here, or its user logged out everywhere since.
    if ((await this.#repo.spentLegacyReason(claims.jti)) !== undefined) throw blacklisted('legacy refresh token spent');
    if (this.#revocations.isCutOff(claims.userId, claims.iat)) throw blacklisted('legacy refresh token issued before a user-wide logout');
    return { ...claims, sid: uuidv7(), adopt: true };
  }

  #adoptedSession(claims: TokenClaims, nowMs: number, client: ClientInfo): SessionRow {
    const now = new Date(nowMs);
    return {
      id: claims.sid,
      user_id: claims.userId,
      created_at: now,
      last_used_at: now,
      expires_at: new Date(claims.exp * 1000),
      revoked_at: null,
      revoked_reason: null,
      user_agent: clip(client.userAgent),
      ip: client.ip,
      // A token of the old site says nothing of how its user got in: a password, as far as anyone knows.
      amr: ['pwd'],
      aal: 'aal1',
      auth_time: new Date(claims.iat * 1000),
      passkey_id: null,
    };
  }

  #newPair(subject: TokenSubject, sessionId: string, nowMs: number): TokenPair {
    const iat = epochSeconds(nowMs);
    // What both tokens say of the subject, built once for the pair.
    const about = this.#subjectClaims(subject, sessionId);
    const refresh = this.#tokens.sign({
      ...about,
      tokenType: 'refresh',
      iat,
      exp: iat + Math.floor(this.#settings.refreshTokenLifetime / 1000),
      jti: newJti(),
    });
    return { access: this.#access(about, iat, newJti()), refresh };
  }

  #newAccess(subject: TokenSubject, sessionId: string, nowMs: number, jti: string, exp?: number): IssuedToken {
    return this.#access(this.#subjectClaims(subject, sessionId), epochSeconds(nowMs), jti, exp);
  }

  #access(about: SubjectClaims, iat: number, jti: string, exp?: number): IssuedToken {
    return this.#tokens.sign({
      ...about,
      tokenType: 'access',
      iat,
      exp: exp ?? iat + Math.floor(this.#settings.accessTokenLifetime / 1000),
      jti,
    });
  }

  /** Signs a stored pair again: the same claims give the same strings. */
  #resign(subject: TokenSubject, row: RefreshTokenRow): TokenPair {
    const issuedAt = row.issued_at.getTime();
    const refresh = this.#tokens.sign({
      ...this.#subjectClaims(subject, row.session_id),
      tokenType: 'refresh',
      iat: epochSeconds(issuedAt),
      exp: epochSeconds(row.expires_at.getTime()),
      jti: row.jti,
    });
    const access = this.#newAccess(subject, row.session_id, issuedAt, row.access_jti, epochSeconds(row.access_expires_at.getTime()));
    return { access, refresh };
  }

  #subjectClaims(subject: TokenSubject, sessionId: string): SubjectClaims {
    const about: SubjectClaims = { userId: subject.id, sid: sessionId, role: subject.role, accountId: subject.accountId };
    if (subject.passwordNeedsReset) about.passwordResetRequired = true;
    if (subject.mfaEnrollmentRequired) about.mfaEnrollmentRequired = true;
    // How the session got in, on every token of it (SPEC §12); SimpleJWT ignores claims it does not know.
    if (subject.auth) {
      about.amr = subject.auth.amr;
      about.aal = subject.auth.aal;
      about.authTime = Math.floor(subject.auth.authTime / 1000);
    }
    if (subject.emailVerified !== undefined) about.emailVerified = subject.emailVerified;
    return about;
  }
}

/** A token's claims about its subject and session: all but its type, times and id. */
type SubjectClaims = Omit<TokenClaims, 'tokenType' | 'iat' | 'exp' | 'jti'>;

/** The subject with the context a token of its session carries (undefined: a token older than the claims). */
function withClaimsContext(subject: TokenSubject, claims: TokenClaims): TokenSubject | undefined {
  if (claims.amr === undefined || claims.aal === undefined || claims.authTime === undefined) return undefined;
  return { ...subject, auth: { amr: claims.amr, aal: claims.aal === 'aal2' ? 'aal2' : 'aal1', authTime: claims.authTime * 1000 } };
}

/**
 * The subject with its session's authentication context. A session without one (opened before the
 * claims existed) got in with a password, as far as anyone knows, when it was opened.
 */
function withContext(subject: TokenSubject, session: SessionRow): TokenSubject {
  if (session.amr === null || session.aal === null || session.auth_time === null) {
    return { ...subject, auth: { amr: ['pwd'], aal: 'aal1', authTime: session.created_at.getTime() } };
  }
  return { ...subject, auth: { amr: session.amr, aal: session.aal === 'aal2' ? 'aal2' : 'aal1', authTime: session.auth_time.getTime() } };
}

function tokenRow(pair: TokenPair) {
  return {
    jti: pair.refresh.claims.jti,
    sessionId: pair.refresh.claims.sid,
    issuedAt: new Date(pair.refresh.claims.iat * 1000),
    expiresAt: new Date(pair.refresh.expiresAt),
    accessJti: pair.access.claims.jti,
    accessExpiresAt: new Date(pair.access.expiresAt),
  };
}

function clip(userAgent: string | null): string | null {
  return userAgent === null ? null : userAgent.slice(0, MAX_USER_AGENT);
}

function clientChanges(client: ClientInfo) {
  return { userAgent: clip(client.userAgent), ip: client.ip };
}

function invalid(what: string): TokenError {
  return new TokenError('invalid', what);
}

/** Spent, logged out or revoked: SimpleJWT's "Token is blacklisted". */
function blacklisted(what: string): TokenError {
  return new TokenError('blacklisted', what);
}
