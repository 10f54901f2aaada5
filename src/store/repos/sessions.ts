import { CompiledQuery, sql, type ExpressionBuilder, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, RefreshTokensTable, SessionsTable } from '../schema.ts';
import type { NewAuditEvent } from './audit.ts';
import { Batcher } from '../batch.ts';
import { PREPARED } from '../prepared.ts';

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
  | 'mfa_reset'
  | 'passkey_removed'
  | 'all_tokens_invalidated'
  | 'password_reset';

/** Whose sessions to end: listed ones, every one of a user, or of every user of an account. */
export type RevokeTarget =
  | { sessionIds: string[] }
  | { userId: number; exceptSessionId?: string }
  | { accountId: number }
  | { everyone: true };

/** Another request adopted the same SimpleJWT refresh token first (SessionsRepo.adoptLegacy). */
export class LegacyRaceError extends Error {
  override readonly name = 'LegacyRaceError';
}

/** All SQL about sessions and their refresh tokens. */
export class SessionsRepo {
  readonly #db: Kysely<Database>;
  readonly #channel: string;
  #rotations: Batcher<Rotation, boolean> | undefined;
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
      await repo.#db.insertInto('sessions').values(sessionValues(session)).execute();
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
      .values(tokenValues(token))
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
   * Rotation in one statement: spends `jti` if it is unspent and belongs to
   * `sessionId`, a live session of `userId`; then inserts its successor and
   * touches the session. False when any of that does not hold, and then
   * nothing is written: the caller takes the locking path, which tells a spent
   * token (grace or reuse) from a revoked session or an unknown token. Two
   * refreshes of one token cannot both spend it: the second waits for the
   * first's row lock, re-reads the row and finds it spent. `audit`, if given,
   * is inserted by the same statement once the rotation is done. Concurrent
   * rotations share the statement (store/batch.ts): one round trip and one
   * commit (one WAL flush) for all of them, one session at most in each.
   */
  rotate(
    spend: { jti: string; sessionId: string; userId: number; at: Date },
    successor: NewRefreshToken,
    session: { userAgent: string | null; ip: string | null },
    audit?: NewAuditEvent,
  ): Promise<boolean> {
    const rotation: Rotation = {
      jti: spend.jti,
      session_id: spend.sessionId,
      user_id: spend.userId,
      at: spend.at.getTime(),
      successor_jti: successor.jti,
      issued_at: successor.issuedAt.getTime(),
      expires_at: successor.expiresAt.getTime(),
      access_jti: successor.accessJti,
      access_expires_at: successor.accessExpiresAt.getTime(),
      user_agent: session.userAgent,
      ip: session.ip,
      ...(audit ? {
        audit_type: audit.type,
        audit_at: audit.at.getTime(),
        audit_user_id: audit.userId,
        audit_session_id: audit.sessionId,
        audit_ip: audit.ip,
        audit_user_agent: audit.userAgent,
        audit_outcome: audit.outcome,
        audit_detail: audit.detail,
      } : {}),
    };
    if (this.#db.isTransaction) return rotateAll(this.#db, [rotation]).then(([rotated]) => rotated!);
    this.#rotations ??= new Batcher({ run: (rotations) => rotateAll(this.#db, rotations), key: (r) => r.session_id, concurrency: ROTATE_CONCURRENCY, size: ROTATE_BATCH });
    return this.#rotations.submit(rotation);
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
   * Records that tokens without a session (SimpleJWT's) issued up to `at` are
   * void for the target's users — every one of them, for `everyone` — and
   * tells every instance. A cut-off only moves forward. Listed sessions name
   * no user-wide cut-off. Returns the cut-offs written, `[subject, ms]`.
   */
  async cutOff(target: RevokeTarget, at: Date): Promise<Array<[string, number]>> {
    if ('sessionIds' in target) return [];
    return this.transaction(async (repo) => {
      const subjects = 'everyone' in target ? ['*']
        : 'userId' in target ? [String(target.userId)]
        : (await repo.#db.selectFrom('users').select('id').where('account_id', '=', target.accountId).execute()).map((row) => String(row.id));
      if (subjects.length === 0) return [];
      await repo.#db
        .insertInto('token_cutoffs')
        .values(subjects.map((subject) => ({ subject, not_before: at })))
        .onConflict((conflict) => conflict.column('subject').doUpdateSet({ not_before: sql`greatest(token_cutoffs.not_before, excluded.not_before)` }))
        .execute();
      const entries = subjects.map((subject): [string, number] => [subject, at.getTime()]);
      for (let i = 0; i < entries.length; i += 100) {
        const payload = JSON.stringify({ sessions: [], cutoffs: entries.slice(i, i + 100) });
        await sql`select pg_notify(${repo.#channel}, ${payload})`.execute(repo.#db);
      }
      return entries;
    });
  }

  /** Cut-offs written after `since` (all of them from the epoch): what an instance loads at start and on reconnecting. */
  async cutoffsSince(since: Date): Promise<Array<[string, number]>> {
    const rows = await this.#db.selectFrom('token_cutoffs').select(['subject', 'not_before']).where('not_before', '>', since).execute();
    return rows.map((row) => [row.subject, row.not_before.getTime()]);
  }

  /** Why a SimpleJWT refresh token may not be exchanged, if it may not. */
  async spentLegacyReason(jti: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('simplejwt_spent_tokens').select('reason').where('jti', '=', jti).executeTakeFirst();
    return row?.reason;
  }

  /** Remembers SimpleJWT refresh tokens that must not be exchanged; a jti already there keeps its first reason. */
  async spendLegacy(tokens: ReadonlyArray<{ jti: string; reason: string; expiresAt: Date }>): Promise<void> {
    if (tokens.length === 0) return;
    await this.#db
      .insertInto('simplejwt_spent_tokens')
      .values(tokens.map((token) => ({ jti: token.jti, reason: token.reason, expires_at: token.expiresAt })))
      .onConflict((conflict) => conflict.column('jti').doNothing())
      .execute();
  }

  /**
   * Opens the session a SimpleJWT refresh token is exchanged into, with that
   * token as its first refresh token (`imported`: found by its jti from now
   * on). Throws LegacyRaceError, rolling the transaction back, when another
   * request adopted the same jti first: the caller retries and finds its row.
   */
  async adoptLegacy(session: SessionRow, token: NewRefreshToken): Promise<void> {
    await this.transaction(async (repo) => {
      await repo.#db.insertInto('sessions').values(sessionValues(session)).execute();
      const inserted = await repo.#db
        .insertInto('refresh_tokens')
        .values({ ...tokenValues(token), imported: true })
        .onConflict((conflict) => conflict.column('jti').doNothing())
        .returning('jti')
        .executeTakeFirst();
      if (!inserted) throw new LegacyRaceError();
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
      // A SimpleJWT token whose session goes stays spent until it expires: with ACCEPT_SIMPLEJWT_TOKENS
      // an unknown one would be exchanged again.
      await sql`
        insert into simplejwt_spent_tokens (jti, reason, expires_at)
        select t.jti, 'ended', t.expires_at from refresh_tokens t
        where t.imported and t.expires_at > ${now}
          and t.session_id in (select id from sessions where expires_at <= ${now} or revoked_at < ${revokedBefore})
        on conflict (jti) do nothing`.execute(repo.#db);
      await repo.#db.deleteFrom('simplejwt_spent_tokens').where('expires_at', '<=', now).execute();
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

/** A session row as its INSERT takes it: `amr` is a JSON column. */
function sessionValues(session: SessionRow) {
  return { ...session, amr: session.amr === null ? null : JSON.stringify(session.amr) };
}

/** A refresh token's row as its INSERT takes it. */
function tokenValues(token: NewRefreshToken) {
  return {
    jti: token.jti,
    session_id: token.sessionId,
    issued_at: token.issuedAt,
    expires_at: token.expiresAt,
    access_jti: token.accessJti,
    access_expires_at: token.accessExpiresAt,
  };
}

/**
 * One rotation as the statement reads it (a row of its JSON input), times in
 * milliseconds since the epoch (JSON.stringify turns a Date into text five
 * times slower, and PostgreSQL parses a number faster than a timestamp). The
 * audit columns are absent without an event.
 */
interface Rotation {
  jti: string;
  session_id: string;
  user_id: number;
  at: number;
  successor_jti: string;
  issued_at: number;
  expires_at: number;
  access_jti: string;
  access_expires_at: number;
  user_agent: string | null;
  ip: string | null;
  audit_type?: string;
  audit_at?: number;
  audit_user_id?: number | null;
  audit_session_id?: string | null;
  audit_ip?: string | null;
  audit_user_agent?: string | null;
  audit_outcome?: string;
  audit_detail?: Record<string, unknown>;
}

/** Rotation statements running at once, and rotations in one (a batch holds one per session). */
const ROTATE_CONCURRENCY = 2;
const ROTATE_BATCH = 128;

/**
 * Every rotation of the batch in one statement, its rows as one JSON parameter
 * (one text the same for every batch size, so prepared once per connection on
 * PostgreSQL). Each step reads only the rows the step before it wrote. The
 * session is checked by a subquery per rotation, not a join: the planner takes
 * the JSON for 100 rows, and would hash a whole small sessions table for them.
 */
const ROTATE = `${PREPARED}with input as materialized (
  select i.jti, i.session_id, i.user_id, i.successor_jti, i.access_jti, i.user_agent, i.ip,
    to_timestamp(i.at / 1000.0) as at, to_timestamp(i.issued_at / 1000.0) as issued_at,
    to_timestamp(i.expires_at / 1000.0) as expires_at, to_timestamp(i.access_expires_at / 1000.0) as access_expires_at,
    i.audit_type, to_timestamp(i.audit_at / 1000.0) as audit_at, i.audit_user_id, i.audit_session_id, i.audit_ip,
    i.audit_user_agent, i.audit_outcome, i.audit_detail
  from json_to_recordset($1::json) as i(
    jti text, session_id text, user_id integer, at bigint, successor_jti text,
    issued_at bigint, expires_at bigint, access_jti text, access_expires_at bigint, user_agent text, ip text,
    audit_type text, audit_at bigint, audit_user_id integer, audit_session_id text, audit_ip text,
    audit_user_agent text, audit_outcome text, audit_detail jsonb)
), spent as (
  update refresh_tokens t set spent_at = i.at, successor_jti = i.successor_jti
  from input i
  where t.jti = i.jti and t.session_id = i.session_id and t.spent_at is null
    and (select s.user_id = i.user_id and s.revoked_at is null from sessions s where s.id = i.session_id)
  returning i.session_id
), added as (
  insert into refresh_tokens (jti, session_id, issued_at, expires_at, access_jti, access_expires_at)
  select i.successor_jti, i.session_id, i.issued_at, i.expires_at, i.access_jti, i.access_expires_at
  from input i join spent using (session_id)
  returning session_id
), touched as (
  update sessions s set last_used_at = i.at, expires_at = i.expires_at, user_agent = i.user_agent, ip = i.ip
  from input i join added using (session_id)
  where s.id = i.session_id
  returning s.id
), audited as (
  insert into audit_events (type, at, user_id, session_id, ip, user_agent, outcome, detail)
  select i.audit_type, i.audit_at, i.audit_user_id, i.audit_session_id, i.audit_ip, i.audit_user_agent, i.audit_outcome, i.audit_detail
  from input i join touched t on t.id = i.session_id
  where i.audit_type is not null
)
select id from touched`;

/** Whether each rotation was done. */
async function rotateAll(db: Kysely<Database>, rotations: Rotation[]): Promise<boolean[]> {
  const { rows } = await db.executeQuery<{ id: string }>(CompiledQuery.raw(ROTATE, [JSON.stringify(rotations)]));
  const done = new Set(rows.map((row) => row.id));
  return rotations.map((rotation) => done.has(rotation.session_id));
}
