import { sql, type Kysely } from 'kysely';

/**
 * Room on each page of refresh_tokens for the one update every row gets (its
 * spending, which adds the successor's jti). With full pages that update could
 * not stay on the row's page, so it wrote a new entry into both of the table's
 * indexes and left them to be cleaned; with a quarter of each page kept free it
 * is a heap-only (HOT) update that touches no index. Pages written from now on
 * keep the room; existing ones gain it as they are rewritten.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table refresh_tokens set (fillfactor = 75)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table refresh_tokens reset (fillfactor)`.execute(db);
}
