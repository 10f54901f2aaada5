import { sql, type Kysely } from 'kysely';

/**
 * Remembered devices (MFA_REMEMBER_DEVICE_DAYS, SPEC §12): a device that passed the
 * second step may skip it at its next logins, never at aal2. The token is kept only
 * as its sha256. Also gives sessions opened before 0007 (and imported SimpleJWT ones)
 * what can honestly be said of them: a password, when the session began.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('mfa_remembered_devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('mfa_remembered_devices_user_id').on('mfa_remembered_devices').column('user_id').execute();
  await db.schema.createIndex('mfa_remembered_devices_expires_at').on('mfa_remembered_devices').column('expires_at').execute();

  await sql`update sessions set amr = '["pwd"]'::jsonb, aal = 'aal1', auth_time = created_at where amr is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('mfa_remembered_devices').execute();
}
