import { sql, type ExpressionBuilder, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, RefreshTokensTable, SessionsTable } from '../schema.ts';
import type { NewAuditEvent } from './audit.ts';

export type SessionRow = Selectable<SessionsTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;

export interface NewRefreshToken {
  jti: string;
  sessionId: string;
  issuedAt: Date;
  expiresAt: Date;
  accessJti: string;
  accessExpiresAt: Date;
}

export type RevokeReason =
  | 'logout'
  | 'logout_all'
  | 'session_deleted'
  | 'reuse_detected'
  | 'password_changed'
  | 'user_deactivated'
  | 'account_deactivated'
  | 'admin_logout'
  | 'password_reset_forced'
  | 'claims_changed'
  | 'mfa_enrolled'
  | 'mfa_removed'
  | 'all_tokens_invalidated'
  | 'password_reset';

/** Whose sessions to end: listed ones, every one of a user, or of every user of an account. */
export type RevokeTarget =
  | { sessionIds: string[] }
  | { userId: number; exceptSessionId?: string }
  | { accountId: number }
  | { everyone: true };

/** All SQL about sessions and their refresh tokens. */
export class SessionsRepo {
  readonly #db: Kysely<Database>;
  readonly #channel: string;
  constructor(db: Kysely<Database>, channel: string) {
    this.#db = db;
    this.#channel = channel;
  }

  /** Runs `work` in one transaction with a repo bound to it. */
  transaction<T>(work: (repo: SessionsRepo) => Promise<T>): Promise<T> {
    if (this.#db.isTransaction) return work(this);
    return this.#db.transaction().execute((tx: Transaction<Database>) => work(new SessionsRepo(tx, this.#channel)));
  }

  /**
   * Opens a session with its first refresh token. `within` runs in the same
   * transaction (a second factor's one-time step is spent there): if it throws,
   * no session exists.
   */
  async insertSession(session: SessionRow, token: NewRefreshToken, within?: (repo: SessionsRepo) => Promise<void>): Promise<void> {
    await this.transaction(async (repo) => {
      if (within) await within(repo);
      await repo.#db.insertInto('sessions').values({ ...session, amr: session.amr === null ? null : JSON.stringify(session.amr) }).execute();
      await repo.insertToken(token);
    });
  }

  /** Another repository on this one's connection, inside its transaction if it is in one. */
  bind<R>(make: (db: Kysely<Database>) => R): R {
    return make(this.#db);
  }

  /** Records how the session's user got in (a step-up raises it). */
  async setAuthContext(id: string, context: { amr: string[]; aal: string; authTime: Date }): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({ amr: JSON.stringify(context.amr), aal: context.aal, auth_time: context.authTime })
      .where('id', '=', id)
      .execute();
  }

  async insertToken(token: NewRefreshToken): Promise<void> {
    await this.#db
      .insertInto('refresh_tokens')
      .values({
        jti: token.jti,
        session_id: token.sessionId,
        issued_at: token.issuedAt,
        expires_at: token.expiresAt,
        access_jti: token.accessJti,
        access_expires_at: token.accessExpiresAt,
      })
      .execute();
  }

  /** The session, locked until the transaction ends: concurrent refreshes of one session queue here. */
  async lockSession(id: string): Promise<SessionRow | undefined> {
    return this.#db.selectFrom('sessions').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  async findSession(id: string): Promise<SessionRow | undefined> {
    return this.#db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findToken(jti: string): Promise<RefreshTokenRow | undefined> {
    return this.#db.selectFrom('refresh_tokens').selectAll().where('jti', '=', jti).executeTakeFirst();
  }

  async markSpent(jti: string, successorJti: string, at: Date): Promise<void> {
    await this.#db.updateTable('refresh_tokens').set({ spent_at: at, successor_jti: successorJti }).where('jti', '=', jti).execute();
  }

  /**
   * Rotation in one statement (one round trip, its own transaction): spends
   * `jti` if it is unspent and belongs to `sessionId`, a live session of
   * `userId`; then inserts its successor and touches the session. False when
   * any of that does not hold, and then nothing is written: the caller takes
   * the locking path, which tells a spent token (grace or reuse) from a
   * revoked session or an unknown token. Two refreshes of one token cannot
   * both spend it: the second waits for the first's row lock, re-reads the
   * row and finds it spent. `audit`, if given, is inserted by the same
   * statement once the rotation is done: one commit (one WAL flush) per refresh.
   */
  async rotate(
    spend: { jti: string; sessionId: string; userId: number; at: Date },
    successor: NewRefreshToken,
    session: { userAgent: string | null; ip: string | null },
    audit?: NewAuditEvent,
  ): Promise<boolean> {
    const audited = audit
      ? sql`, audited as (
        insert into audit_events (type, at, user_id, session_id, ip, user_agent, outcome, detail)
        select ${audit.type}, ${audit.at}, ${audit.userId}, ${audit.sessionId}, ${audit.ip}, ${audit.userAgent}, ${audit.outcome}, ${JSON.stringify(audit.detail)}::jsonb
        from touched
        returning id
      )`
      : sql``;
    const { rows } = await sql<{ rotated: number }>`
      with spent as (
        update refresh_tokens set spent_at = ${spend.at}, successor_jti = ${successor.jti}
        where jti = ${spend.jti} and session_id = ${spend.sessionId} and spent_at is null
          and exists (select 1 from sessions where id = ${spend.sessionId} and user_id = ${spend.userId} and revoked_at is null)
        returning jti
      ), added as (
        insert into refresh_tokens (jti, session_id, issued_at, expires_at, access_jti, access_expires_at)
        select ${successor.jti}, ${successor.sessionId}, ${successor.issuedAt}, ${successor.expiresAt}, ${successor.accessJti}, ${successor.accessExpiresAt}
        from spent
        returning jti
      ), touched as (
        update sessions set last_used_at = ${spend.at}, expires_at = ${successor.expiresAt}, user_agent = ${session.userAgent}, ip = ${session.ip}
        where id = ${spend.sessionId} and exists (select 1 from added)
        returning id
      )${audited}
      select (select count(*) from touched)::int as rotated`.execute(this.#db);
    return rows[0]?.rotated === 1;
  }

  /** Marks every unspent refresh token of a session spent, pointing at `successorJti`. */
  async spendOutstanding(sessionId: string, successorJti: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('refresh_tokens')
      .set({ spent_at: at, successor_jti: successorJti })
      .where('session_id', '=', sessionId)
      .where('spent_at', 'is', null)
      .execute();
  }

  async touchSession(id: string, changes: { lastUsedAt: Date; expiresAt?: Date; userAgent?: string | null; ip?: string | null }): Promise<void> {
    await this.#db
      .updateTable('sessions')
      .set({
        last_used_at: changes.lastUsedAt,
        ...(changes.expiresAt ? { expires_at: changes.expiresAt } : {}),
        ...(changes.userAgent !== undefined ? { user_agent: changes.userAgent } : {}),
        ...(changes.ip !== undefined ? { ip: changes.ip } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Revokes the target's sessions that are still active, and notifies every
   * instance in the same transaction. Returns the ids revoked.
   */
  async revoke(target: RevokeTarget, reason: RevokeReason, at: Date): Promise<string[]> {
    if ('sessionIds' in target && target.sessionIds.length === 0) return [];
    return this.transaction(async (repo) => {
      const rows = await repo.#db
        .updateTable('sessions')
        .set({ revoked_at: at, revoked_reason: reason })
        .where('revoked_at', 'is', null)
        .where((eb) => {
          if ('sessionIds' in target) return eb('id', 'in', target.sessionIds);
          if ('accountId' in target) {
            return eb('user_id', 'in', eb.selectFrom('users').select('users.id').where('users.account_id', '=', target.accountId));
          }
          if ('userId' in target) {
            return target.exceptSessionId === undefined
              ? eb('user_id', '=', target.userId)
              : eb.and([eb('user_id', '=', target.userId), eb('id', '<>', target.exceptSessionId)]);
          }
          return eb.lit(true);
        })
        .returning('id')
        .execute();
      const ids = rows.map((r) => r.id);
      await repo.notify(ids);
      return ids;
    });
  }

  /**
   * Deletes what can no longer matter: sessions past their expiry, sessions
   * revoked before `revokedBefore` (no access token of theirs can still be
   * alive), and refresh tokens past their expiry. Unexpired spent tokens stay,
   * so that replaying one is still caught as reuse.
   */
  async purge(now: Date, revokedBefore: Date): Promise<{ sessions: number; refreshTokens: number }> {
    return this.transaction(async (repo) => {
      const gone = (eb: ExpressionBuilder<Database, 'sessions'>) =>
        eb.or([eb('expires_at', '<=', now), eb('revoked_at', '<', revokedBefore)]);
      const tokens = await repo.#db
        .deleteFrom('refresh_tokens')
        .where((eb) => eb.or([eb('expires_at', '<=', now), eb('session_id', 'in', eb.selectFrom('sessions').select('sessions.id').where(gone))]))
        .executeTakeFirst();
      const sessions = await repo.#db.deleteFrom('sessions').where(gone).executeTakeFirst();
      return { sessions: Number(sessions.numDeletedRows), refreshTokens: Number(tokens.numDeletedRows) };
    });
  }

  /** NOTIFY payloads are capped at 8000 bytes; 100 session ids stay well under. */
  async notify(ids: string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 100) {
      const payload = JSON.stringify({ sessions: ids.slice(i, i + 100) });
      await sql`select pg_notify(${this.#channel}, ${payload})`.execute(this.#db);
    }
  }

  /** A user's sessions that are neither revoked nor expired, newest first. */
  async listActive(userId: number, now: Date): Promise<SessionRow[]> {
    return this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  /** Sessions revoked after `since`: what an instance must refuse at start or after reconnecting. */
  async revokedSince(since: Date): Promise<Array<{ id: string; revoked_at: Date }>> {
    const rows = await this.#db
      .selectFrom('sessions')
      .select(['id', 'revoked_at'])
      .where('revoked_at', '>', since)
      .execute();
    return rows.flatMap((r) => (r.revoked_at ? [{ id: r.id, revoked_at: r.revoked_at }] : []));
  }
}
