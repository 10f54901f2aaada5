/**
 * Reads Django's `auth_user` table, and SimpleJWT's blacklist app tables, from a
 * Django site's own PostgreSQL database (not Latchkey's): the one place that queries it.
 */
import pg from 'pg';

/** One `auth_user` row's fields in `dumpdata`'s shape: datetimes as ISO 8601 strings in UTC. */
export interface DjangoUserFields {
  username: string;
  email: string;
  password: string;
  first_name: string;
  last_name: string;
  is_active: boolean;
  is_staff: boolean;
  is_superuser: boolean;
  last_login: string | null;
  /** Null only in a damaged table; the importer skips such a row. */
  date_joined: string | null;
}

export interface DjangoUserRecord {
  pk: number;
  fields: DjangoUserFields;
}

/** One `token_blacklist_outstandingtoken` row in `dumpdata`'s shape, without the token itself. */
export interface DjangoTokenRecord {
  pk: number;
  fields: { user: number | null; jti: string; created_at: string | null; expires_at: string | null };
}

/** As selected: the datetimes are epoch seconds, as text. */
type Row = DjangoUserFields & {
  /** A string when the column is bigint. */
  id: number | string;
};

/**
 * `auth_user` page by page, in id order.
 * @example const reader = await DjangoUsersReader.connect('postgres://django@db/site');
 */
export class DjangoUsersReader {
  readonly #client: pg.Client;

  private constructor(client: pg.Client) {
    this.#client = client;
  }

  /** Connects; throws the driver's error when the database cannot be reached. */
  static async connect(url: string): Promise<DjangoUsersReader> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    // A connection lost between pages fails the next query; it must not crash the process meanwhile.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return new DjangoUsersReader(client);
  }

  /** Whether the database has Django's user table at all (in the search path). */
  async hasTable(): Promise<boolean> {
    const { rows } = await this.#client.query<{ found: boolean }>(`select to_regclass('auth_user') is not null as found`);
    return rows[0]?.found === true;
  }

  async count(): Promise<number> {
    const { rows } = await this.#client.query<{ n: string }>('select count(*) as n from auth_user');
    return Number(rows[0]?.n ?? 0);
  }

  /** Up to `limit` rows with ids above `afterId`, in id order (keyset paging: no OFFSET to rescan). */
  async page(afterId: number, limit: number): Promise<DjangoUserRecord[]> {
    // Epoch seconds read `timestamp` (USE_TZ=False) as UTC and `timestamptz` as the instant it is,
    // whatever this process's or the session's time zone.
    const { rows } = await this.#client.query<Row>(
      `select id, username, email, password, first_name, last_name, is_active, is_staff, is_superuser,
              extract(epoch from last_login)::text as last_login, extract(epoch from date_joined)::text as date_joined
       from auth_user where id > $1 order by id limit $2`,
      [afterId, limit],
    );
    return rows.map(({ id, last_login, date_joined, ...fields }) => ({
      pk: Number(id),
      fields: { ...fields, last_login: fromEpoch(last_login), date_joined: fromEpoch(date_joined) },
    }));
  }

  /** Whether SimpleJWT's blacklist app tables are there (`rest_framework_simplejwt.token_blacklist`). */
  async hasTokenTables(): Promise<boolean> {
    const { rows } = await this.#client.query<{ found: boolean }>(
      `select to_regclass('token_blacklist_outstandingtoken') is not null and to_regclass('token_blacklist_blacklistedtoken') is not null as found`,
    );
    return rows[0]?.found === true;
  }

  /** Every outstanding refresh token, blacklisted ones included. */
  async countTokens(): Promise<number> {
    const { rows } = await this.#client.query<{ n: string }>('select count(*) as n from token_blacklist_outstandingtoken');
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Up to `limit` outstanding tokens that are not blacklisted (or, with `blacklisted`, that are), with ids above `afterId`, in id order,
   * in dumpdata's shape. The `token` column (the token itself) is never read.
   */
  async tokenPage(afterId: number, limit: number, blacklisted = false): Promise<DjangoTokenRecord[]> {
    const { rows } = await this.#client.query<{ id: number | string; user: number | string | null; jti: string; created_at: string | null; expires_at: string | null }>(
      `select o.id, o.user_id as user, o.jti,
              extract(epoch from o.created_at)::text as created_at, extract(epoch from o.expires_at)::text as expires_at
       from token_blacklist_outstandingtoken o
       where o.id > $1 and ${blacklisted ? '' : 'not '}exists (select 1 from token_blacklist_blacklistedtoken b where b.token_id = o.id)
       order by o.id limit $2`,
      [afterId, limit],
    );
    return rows.map(({ id, user, jti, created_at, expires_at }) => ({
      pk: Number(id),
      fields: { user: user === null ? null : Number(user), jti, created_at: fromEpoch(created_at), expires_at: fromEpoch(expires_at) },
    }));
  }

  async close(): Promise<void> {
    await this.#client.end().catch(() => {});
  }
}

function fromEpoch(seconds: string | null): string | null {
  return seconds === null ? null : new Date(Math.round(Number(seconds) * 1000)).toISOString();
}
