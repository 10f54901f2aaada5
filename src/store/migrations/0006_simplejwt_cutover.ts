import { sql, type Kysely } from 'kysely';

/**
 * The cut-over from a SimpleJWT site (ACCEPT_SIMPLEJWT_TOKENS, SPEC §2).
 *
 * `token_cutoffs`: per user (`subject` is the user id in decimal) or for
 * everyone (`*`), the time before which tokens without a session — the
 * replaced site's — are void: written with every user-wide revocation
 * (logout-all, an admin logout, a deactivation, invalidate-all), so an access
 * token SimpleJWT issued can be refused from memory.
 *
 * `simplejwt_spent_tokens`: SimpleJWT refresh-token jtis that must not be
 * exchanged (again): blacklisted on the old site, logged out here before their
 * first use, or whose imported or exchanged session is gone. Kept until the
 * token expires.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('token_cutoffs')
    .addColumn('subject', 'text', (c) => c.primaryKey())
    .addColumn('not_before', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create index token_cutoffs_not_before on token_cutoffs (not_before)`.execute(db);
  await db.schema
    .createTable('simplejwt_spent_tokens')
    .addColumn('jti', 'text', (c) => c.primaryKey())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('simplejwt_spent_tokens').execute();
  await db.schema.dropTable('token_cutoffs').execute();
}
