import { sql, type Kysely } from 'kysely';

/**
 * Password reset and email verification (SPEC §11): the outbox mail is sent
 * from, the one-purpose tokens mailed links carry (stored hashed), and whether
 * a user's address is proven.
 *
 * `mail_outbox` holds each message rendered, so a restart loses nothing; the
 * bodies (which carry links) are blanked once the message is delivered.
 * `recovery_tokens.bound_to` is a digest of what the token was issued against
 * (the password hash for a reset, the address for a verification): when that
 * changes, the token is void, whatever changed it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('mail_outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text_body', 'text', (c) => c.notNull())
    .addColumn('html_body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('send_after', 'timestamptz', (c) => c.notNull())
    .addColumn('locked_until', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('sent_at', 'timestamptz')
    .addColumn('failed_at', 'timestamptz')
    .execute();
  await sql`create index mail_outbox_due on mail_outbox (send_after) where sent_at is null and failed_at is null`.execute(db);

  await db.schema
    .createTable('recovery_tokens')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('bound_to', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('recovery_tokens_user_purpose').on('recovery_tokens').columns(['user_id', 'purpose']).execute();

  // Verified unless registration says otherwise (EMAIL_VERIFICATION): existing, imported and
  // admin-created users are not locked out when verification is turned on.
  await db.schema.alterTable('users').addColumn('email_verified', 'boolean', (c) => c.notNull().defaultTo(true)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').dropColumn('email_verified').execute();
  await db.schema.dropTable('recovery_tokens').execute();
  await db.schema.dropTable('mail_outbox').execute();
}
