import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, UsersTable } from '../schema.ts';

export type UserRow = Selectable<UsersTable>;

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
  role: string;
  isStaff: boolean;
  accountId: number | null;
  passwordNeedsReset: boolean;
  firstName: string;
  lastName: string;
  dateJoined: Date;
}

/** All SQL about users. */
export class UsersRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** A user whose username or email matches, case-insensitively; username wins when both would. */
  async findByIdentifier(identifier: string): Promise<UserRow | undefined> {
    const lowered = identifier.toLowerCase();
    return this.#db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb.or([eb(sql`lower(username)`, '=', lowered), eb(sql`lower(email)`, '=', lowered)]))
      .orderBy(sql`lower(username) = ${lowered}`, 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  async findById(id: number): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Which of username and email are taken already (case-insensitive). */
  async taken(username: string, email: string): Promise<{ username: boolean; email: boolean }> {
    const rows = await this.#db
      .selectFrom('users')
      .select([sql<boolean>`lower(username) = ${username.toLowerCase()}`.as('username'), sql<boolean>`lower(email) = ${email.toLowerCase()}`.as('email')])
      .where((eb) =>
        eb.or([eb(sql`lower(username)`, '=', username.toLowerCase()), ...(email ? [eb(sql`lower(email)`, '=', email.toLowerCase())] : [])]),
      )
      .execute();
    return { username: rows.some((r) => r.username), email: email !== '' && rows.some((r) => r.email) };
  }

  async insert(user: NewUser): Promise<UserRow> {
    return this.#db
      .insertInto('users')
      .values({
        username: user.username,
        email: user.email,
        password: user.passwordHash,
        role: user.role,
        is_staff: user.isStaff,
        account_id: user.accountId,
        password_needs_reset: user.passwordNeedsReset,
        first_name: user.firstName,
        last_name: user.lastName,
        date_joined: user.dateJoined,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async updatePassword(id: number, passwordHash: string): Promise<void> {
    await this.#db.updateTable('users').set({ password: passwordHash }).where('id', '=', id).execute();
  }

  async recordLogin(id: number, at: Date): Promise<void> {
    await this.#db.updateTable('users').set({ last_login: at }).where('id', '=', id).execute();
  }

  async updateNames(id: number, names: { first_name?: string; last_name?: string }): Promise<UserRow | undefined> {
    if (Object.keys(names).length === 0) return this.findById(id);
    return this.#db.updateTable('users').set(names).where('id', '=', id).returningAll().executeTakeFirst();
  }
}

/** True when a unique index on username or email refused an insert (two registrations raced). */
export function isUniqueViolation(error: unknown): 'username' | 'email' | undefined {
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e?.code !== '23505' && !String(e?.message ?? '').includes('duplicate key')) return undefined;
  const where = `${String(e.constraint ?? '')} ${String(e.message ?? '')}`;
  return where.includes('email') ? 'email' : 'username';
}
