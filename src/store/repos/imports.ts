import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/** A user arriving from another system with its own id and password hash. */
export interface ImportedUser {
  id: number;
  username: string;
  email: string;
  passwordHash: string;
  firstName: string;
  lastName: string;
  role: string;
  isStaff: boolean;
  isActive: boolean;
  lastLogin: Date | null;
  dateJoined: Date;
}

/** A Latchkey user an imported row may clash with, with the database's own lower-casing of its names. */
export interface ExistingUser {
  id: number;
  username: string;
  email: string;
  usernameKey: string;
  emailKey: string;
}

/** The database's case folding of a row's username and email: what the unique indexes compare. */
export interface NameKeys {
  username: string;
  email: string;
}

/** A session carried over from another system with the one refresh token it issued there. */
export interface ImportedSession {
  id: string;
  userId: number;
  createdAt: Date;
  expiresAt: Date;
  jti: string;
  /** NOT NULL in refresh_tokens; no access token was ever issued with it. */
  accessJti: string;
}

/** All SQL of bulk imports: users inserted with the ids they had elsewhere, and their sessions. */
export class ImportsRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Runs `work` in one transaction: committed when it returns, rolled back when it throws.
   * @example const ids = await repo.transaction((tx) => tx.insert(users));
   */
  async transaction<T>(work: (repo: ImportsRepo) => Promise<T>): Promise<T> {
    return this.#db.transaction().execute((trx) => work(new ImportsRepo(trx)));
  }

  /**
   * `lower()` of each username and email, in order, as the unique indexes see them
   * (JavaScript's toLowerCase may fold other characters than the database does).
   */
  async keys(rows: ReadonlyArray<{ username: string; email: string }>): Promise<NameKeys[]> {
    if (rows.length === 0) return [];
    const batch = JSON.stringify(rows.map((row, ord) => ({ ord, username: row.username, email: row.email })));
    const { rows: keys } = await sql<NameKeys>`
      select lower(b.username) as username, lower(b.email) as email
      from json_to_recordset(${batch}::json) as b(ord int, username text, email text)
      order by b.ord`.execute(this.#db);
    return keys;
  }

  /**
   * Users holding one of the ids, or one of the usernames or (non-empty) emails
   * case-insensitively, in either column (a username may not be another's email).
   */
  async clashing(rows: ReadonlyArray<{ id: number; username: string; email: string }>): Promise<ExistingUser[]> {
    if (rows.length === 0) return [];
    const batch = JSON.stringify(rows.map((row) => ({ id: row.id, username: row.username, email: row.email })));
    const { rows: users } = await sql<ExistingUser>`
      with b as (select * from json_to_recordset(${batch}::json) as b(id int, username text, email text))
      select u.id, u.username, u.email, lower(u.username) as "usernameKey", lower(u.email) as "emailKey"
      from users u
      where u.id in (select id from b)
         or lower(u.username) in (select lower(username) from b union all select lower(email) from b where email <> '')
         or (u.email <> '' and lower(u.email) in (select lower(email) from b where email <> '' union all select lower(username) from b))`.execute(this.#db);
    return users;
  }

  /** Records blacklisted SimpleJWT refresh tokens as never to be exchanged; a jti already there is left. Returns how many were new. */
  async insertBlacklisted(tokens: ReadonlyArray<{ jti: string; expiresAt: Date }>): Promise<number> {
    if (tokens.length === 0) return 0;
    const rows = await this.#db
      .insertInto('simplejwt_spent_tokens')
      .values(tokens.map((token) => ({ jti: token.jti, reason: 'blacklisted', expires_at: token.expiresAt })))
      .onConflict((conflict) => conflict.column('jti').doNothing())
      .returning('jti')
      .execute();
    return rows.length;
  }

  /**
   * Inserts the users with their own ids. A row that clashes after all (a user
   * registered meanwhile) is left out rather than failing the batch.
   * @returns the ids inserted
   */
  async insert(users: readonly ImportedUser[]): Promise<number[]> {
    if (users.length === 0) return [];
    const rows = await this.#db
      .insertInto('users')
      .values(
        users.map((user) => ({
          id: user.id,
          username: user.username,
          email: user.email,
          password: user.passwordHash,
          first_name: user.firstName,
          last_name: user.lastName,
          role: user.role,
          is_staff: user.isStaff,
          is_active: user.isActive,
          account_id: null,
          last_login: user.lastLogin,
          date_joined: user.dateJoined,
        })),
      )
      .onConflict((conflict) => conflict.doNothing())
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  }

  /** Which of these refresh token jtis are there already. */
  async presentJtis(jtis: readonly string[]): Promise<string[]> {
    if (jtis.length === 0) return [];
    const rows = await this.#db.selectFrom('refresh_tokens').select('jti').where('jti', 'in', jtis).execute();
    return rows.map((row) => row.jti);
  }

  /** Which of these user ids exist. */
  async existingUserIds(ids: readonly number[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db.selectFrom('users').select('id').where('id', 'in', ids).execute();
    return rows.map((row) => row.id);
  }

  /**
   * Inserts each session with its refresh token: issued when the session was
   * created, expiring with it, unspent, marked `imported` (no access token was
   * issued with it, so access_expires_at is its issue time).
   */
  async insertSessions(sessions: readonly ImportedSession[]): Promise<void> {
    if (sessions.length === 0) return;
    await this.#db
      .insertInto('sessions')
      .values(
        sessions.map((session) => ({
          id: session.id,
          user_id: session.userId,
          created_at: session.createdAt,
          last_used_at: session.createdAt,
          expires_at: session.expiresAt,
          revoked_at: null,
          revoked_reason: null,
          user_agent: null,
          ip: null,
          // All a SimpleJWT token says of how its user got in: a password, when it was issued.
          amr: JSON.stringify(['pwd']),
          aal: 'aal1',
          auth_time: session.createdAt,
        })),
      )
      .execute();
    await this.#db
      .insertInto('refresh_tokens')
      .values(
        sessions.map((session) => ({
          jti: session.jti,
          session_id: session.id,
          issued_at: session.createdAt,
          expires_at: session.expiresAt,
          access_jti: session.accessJti,
          access_expires_at: session.createdAt,
          imported: true,
        })),
      )
      .execute();
  }

  /**
   * Moves the users.id identity past `maxId`, so users created later get fresh
   * ids. Never moves it back: ids of deleted users are not handed out again.
   */
  async advanceIds(maxId: number): Promise<void> {
    await sql`
      select setval(s.seq, ${maxId}::int)
      from (select pg_get_serial_sequence('users', 'id')::regclass as seq) s
      where ${maxId}::int > coalesce(pg_sequence_last_value(s.seq), 0)`.execute(this.#db);
  }
}
