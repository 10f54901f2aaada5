import { sql, type Kysely, type Selectable } from 'kysely';
import type { AccountsTable, Database } from '../schema.ts';
import { matchesAllTerms, type ListQuery } from './search.ts';

export type AccountRow = Selectable<AccountsTable>;

export interface AccountChanges {
  name?: string;
  is_active?: boolean;
}

/** All SQL about accounts (tenants). Accounts are deactivated, never deleted. */
export class AccountsRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async findById(id: number): Promise<AccountRow | undefined> {
    return this.#db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** True when another account (not `exceptId`) has this name, case-insensitively. */
  async nameTaken(name: string, exceptId?: number): Promise<boolean> {
    let query = this.#db.selectFrom('accounts').select('id').where(sql`lower(name)`, '=', name.toLowerCase());
    if (exceptId !== undefined) query = query.where('id', '<>', exceptId);
    return (await query.executeTakeFirst()) !== undefined;
  }

  /** One page of accounts whose name holds every search term, by id, and how many match in all. */
  async list(query: ListQuery): Promise<{ count: number; rows: AccountRow[] }> {
    const filtered = this.#db.selectFrom('accounts').where((eb) => matchesAllTerms(eb, ['name'], query.search));
    const [total, rows] = await Promise.all([
      filtered.select(sql<string>`count(*)`.as('count')).executeTakeFirstOrThrow(),
      filtered.selectAll().orderBy('id').offset(query.offset).limit(query.limit).execute(),
    ]);
    return { count: Number(total.count), rows };
  }

  async insert(account: { name: string; createdAt: Date }): Promise<AccountRow> {
    return this.#db
      .insertInto('accounts')
      .values({ name: account.name, created_at: account.createdAt })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async update(id: number, changes: AccountChanges): Promise<AccountRow | undefined> {
    if (Object.keys(changes).length === 0) return this.findById(id);
    return this.#db.updateTable('accounts').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
  }
}
