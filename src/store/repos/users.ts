import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, UsersTable } from '../schema.ts';
import { matchesAllTerms, type ListQuery } from './search.ts';

export type UserRow = Selectable<UsersTable>;

export interface NewUser {
  username: string;
  email: string;
  passwordHash: string;
  role: string;
  isStaff: boolean;
  isManager: boolean;
  isActive: boolean;
  accountId: number | null;
  passwordNeedsReset: boolean;
  firstName: string;
  lastName: string;
  dateJoined: Date;
}

/** All SQL about users. */
export class UsersRepo {
  readonly #db: Kysely<Database>;
  readonly #changed: ((ids: number[]) => void) | undefined;
  /**
   * `changed` hears the users this repo has just updated, once the statement
   * has returned (the user cache drops them). Other writers are heard through
   * the users trigger's notifications (migration 0004).
   */
  constructor(db: Kysely<Database>, options: { changed?: (ids: number[]) => void } = {}) {
    this.#db = db;
    this.#changed = options.changed;
  }

  #wrote<T>(id: number, result: T): T {
    this.#changed?.([id]);
    return result;
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

  /** The user with this email address, case-insensitively (password reset); never for an empty address. */
  async findByEmail(email: string): Promise<UserRow | undefined> {
    if (email === '') return undefined;
    return this.#db.selectFrom('users').selectAll().where(sql`lower(email)`, '=', email.toLowerCase()).limit(1).executeTakeFirst();
  }

  /** The user, locked until the transaction ends (a reset confirm checks and writes the password under it). */
  async lockById(id: number): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  async setEmailVerified(id: number, verified: boolean): Promise<void> {
    await this.#db.updateTable('users').set({ email_verified: verified }).where('id', '=', id).execute();
  }

  /**
   * Which of username and email already name someone (case-insensitively): a
   * username is taken by another's username or email, an email by another's
   * email or username, so that a login identifier names one user.
   */
  async taken(username: string, email: string, exceptId?: number): Promise<{ username: boolean; email: boolean }> {
    const u = username.toLowerCase();
    const e = email.toLowerCase();
    const rows = await this.#db
      .selectFrom('users')
      .select([
        sql<boolean>`lower(username) = ${u} or (email <> '' and lower(email) = ${u})`.as('username'),
        sql<boolean>`lower(email) = ${e} or lower(username) = ${e}`.as('email'),
      ])
      .where((eb) =>
        eb.and([
          eb.or([
            eb(sql`lower(username)`, 'in', [u, ...(e ? [e] : [])]),
            eb.and([eb('email', '<>', ''), eb(sql`lower(email)`, 'in', [u, ...(e ? [e] : [])])]),
          ]),
          ...(exceptId !== undefined ? [eb('id', '<>', exceptId)] : []),
        ]),
      )
      .execute();
    return { username: username !== '' && rows.some((r) => r.username), email: email !== '' && rows.some((r) => r.email) };
  }

  /**
   * Pairs of users whose identifiers break the rule that one identifier names
   * one user: a username equal to another's email, or usernames equal once
   * NFKC-normalised (Django's normalize_username) and lower-cased. Read by the
   * migration that adds the rule, which reports them and changes nothing.
   */
  async identifierClashes(): Promise<IdentifierClash[]> {
    const { rows } = await sql<IdentifierClash>`
      select a.id as "userId", a.username, b.id as "otherUserId", b.username as "otherUsername", 'username_is_email' as kind
        from users a join users b on b.id <> a.id and b.email <> '' and lower(b.email) = lower(a.username)
      union all
      select a.id, a.username, b.id, b.username, 'username_lookalike'
        from users a join users b on b.id > a.id and lower(normalize(a.username, NFKC)) = lower(normalize(b.username, NFKC))
      order by 1, 3`.execute(this.#db);
    return rows;
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
        is_manager: user.isManager,
        is_active: user.isActive,
        account_id: user.accountId,
        password_needs_reset: user.passwordNeedsReset,
        first_name: user.firstName,
        last_name: user.lastName,
        date_joined: user.dateJoined,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Replaces the hash; `clearReset` also lifts a forced password reset. */
  async updatePassword(id: number, passwordHash: string, options: { clearReset?: boolean } = {}): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ password: passwordHash, ...(options.clearReset ? { password_needs_reset: false } : {}) })
      .where('id', '=', id)
      .execute();
    this.#wrote(id, undefined);
  }

  /** The account (tenant) a user may point at: whether it exists and is active. */
  async accountStatus(accountId: number): Promise<{ is_active: boolean } | undefined> {
    return this.#db.selectFrom('accounts').select('is_active').where('id', '=', accountId).executeTakeFirst();
  }

  /**
   * Writes `last_login` unless the user's account (tenant) is inactive: the check
   * and the write are one statement, so a deactivation cannot slip between them.
   * False when the account is inactive (nothing written).
   */
  async recordLoginIfAccountActive(id: number, at: Date): Promise<boolean> {
    const row = await this.#db
      .updateTable('users')
      .set({ last_login: at })
      .where('id', '=', id)
      .where((eb) =>
        eb.or([
          eb('account_id', 'is', null),
          eb.exists(eb.selectFrom('accounts').select('accounts.id').whereRef('accounts.id', '=', 'users.account_id').where('accounts.is_active', '=', true)),
        ]),
      )
      .returning('id')
      .executeTakeFirst();
    return this.#wrote(id, row !== undefined);
  }

  async updateNames(id: number, names: { first_name?: string; last_name?: string }): Promise<UserRow | undefined> {
    if (Object.keys(names).length === 0) return this.findById(id);
    return this.#wrote(id, await this.#db.updateTable('users').set(names).where('id', '=', id).returningAll().executeTakeFirst());
  }

  /** One page of users matching every search term (username, email, names), by id, and how many match in all. */
  async list(query: ListQuery): Promise<{ count: number; rows: UserRow[] }> {
    const filtered = this.#db.selectFrom('users').where((eb) => matchesAllTerms(eb, SEARCHED, query.search));
    const [total, rows] = await Promise.all([
      filtered.select(sql<string>`count(*)`.as('count')).executeTakeFirstOrThrow(),
      filtered.selectAll().orderBy('id').offset(query.offset).limit(query.limit).execute(),
    ]);
    return { count: Number(total.count), rows };
  }

  /** True when a user other than `exceptId` has this email or this username, case-insensitively. */
  async emailTaken(email: string, exceptId: number): Promise<boolean> {
    return (await this.taken('', email, exceptId)).email;
  }

  /** Sets the given columns (an administrator's edit); undefined when the user is gone. */
  async update(id: number, changes: UserChanges): Promise<UserRow | undefined> {
    if (Object.keys(changes).length === 0) return this.findById(id);
    return this.#wrote(id, await this.#db.updateTable('users').set(changes).where('id', '=', id).returningAll().executeTakeFirst());
  }
}

/** Two users whose identifiers clash (see `UsersRepo.identifierClashes`). */
export interface IdentifierClash {
  userId: number;
  username: string;
  otherUserId: number;
  otherUsername: string;
  /** `username_is_email`: the first's username is the other's email; `username_lookalike`: equal after NFKC and case folding. */
  kind: 'username_is_email' | 'username_lookalike';
}

/** What an administrator may change on a user. */
export type UserChanges = Partial<
  Pick<UserRow, 'first_name' | 'last_name' | 'email' | 'role' | 'is_staff' | 'is_manager' | 'is_active' | 'account_id' | 'password_needs_reset'>
>;

const SEARCHED = ['username', 'email', 'first_name', 'last_name'] as const;

/** True when a unique index on username or email refused an insert (two registrations raced). */
export function isUniqueViolation(error: unknown): 'username' | 'email' | undefined {
  const e = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e?.code !== '23505' && !String(e?.message ?? '').includes('duplicate key')) return undefined;
  const where = `${String(e.constraint ?? '')} ${String(e.message ?? '')}`;
  return where.includes('email') ? 'email' : 'username';
}
