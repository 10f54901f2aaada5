import { sql, type Kysely } from 'kysely';

/** Tenants (accounts), the audit trail, and refresh tokens imported from a Django site. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('accounts')
    .addColumn('id', 'integer', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('is_active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await sql`create unique index accounts_name_lower on accounts (lower(name))`.execute(db);

  // Users created before accounts existed may name an account id: give each one a row, then enforce.
  await sql`
    insert into accounts (id, name, created_at)
    select distinct account_id, 'Account ' || account_id, now() from users where account_id is not null
  `.execute(db);
  await sql`select setval(pg_get_serial_sequence('accounts', 'id'), coalesce((select max(id) from accounts), 0) + 1, false)`.execute(db);
  await sql`alter table users add constraint users_account_id_fkey foreign key (account_id) references accounts (id)`.execute(db);
  await db.schema.createIndex('users_account_id').on('users').column('account_id').execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('user_id', 'integer')
    .addColumn('session_id', 'text')
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .execute();
  // Newest first, overall and per user or type.
  await sql`create index audit_events_at on audit_events (at desc, id desc)`.execute(db);
  await sql`create index audit_events_user_at on audit_events (user_id, at desc)`.execute(db);
  await sql`create index audit_events_type_at on audit_events (type, at desc)`.execute(db);

  // SimpleJWT refresh tokens carry no sid: only rows imported for them may be found by jti alone.
  await db.schema
    .alterTable('refresh_tokens')
    .addColumn('imported', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();

}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').dropColumn('imported').execute();
  await db.schema.dropTable('audit_events').execute();
  await sql`alter table users drop constraint users_account_id_fkey`.execute(db);
  await db.schema.dropIndex('users_account_id').execute();
  await db.schema.dropTable('accounts').execute();
}
