import type { Kysely } from 'kysely';

/**
 * The second factor (SPEC §12): each user's TOTP state and lock, recovery
 * codes, the mfa_tokens of logins waiting for their second step, and how each
 * session was authenticated (amr, aal, auth_time). Depends only on 0001–0003's tables.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('user_mfa')
    .addColumn('user_id', 'integer', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    // AES-256-GCM ciphertexts (`v1.iv.ciphertext.tag`, base64url): the confirmed secret, and one awaiting its first code.
    .addColumn('totp_secret', 'text')
    .addColumn('totp_pending_secret', 'text')
    .addColumn('totp_pending_expires_at', 'timestamptz')
    .addColumn('totp_confirmed_at', 'timestamptz')
    .addColumn('totp_last_used_at', 'timestamptz')
    // The last 30-second step accepted: a code of that step or an earlier one is a replay.
    .addColumn('totp_last_step', 'bigint', (c) => c.notNull().defaultTo(-1))
    // Steps the user's device runs ahead (+) or behind (−), learnt from accepted codes.
    .addColumn('totp_drift', 'integer', (c) => c.notNull().defaultTo(0))
    // Wrong second-factor codes in a row, and the lock they lead to (per account, every instance).
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('mfa_recovery_codes')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // A keyed HMAC of the code finds its row; the argon2id hash is what proves it.
    .addColumn('lookup', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('mfa_recovery_codes_user_lookup').on('mfa_recovery_codes').columns(['user_id', 'lookup']).execute();

  await db.schema
    .createTable('mfa_tokens')
    // sha256 of the token, hex: the token itself is never stored.
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('consumed_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('mfa_tokens_expires_at').on('mfa_tokens').column('expires_at').execute();

  // How the session's user got in; null on sessions opened before this migration (and imported ones).
  await db.schema
    .alterTable('sessions')
    .addColumn('amr', 'jsonb')
    .addColumn('aal', 'text')
    .addColumn('auth_time', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('amr').dropColumn('aal').dropColumn('auth_time').execute();
  await db.schema.dropTable('mfa_tokens').execute();
  await db.schema.dropTable('mfa_recovery_codes').execute();
  await db.schema.dropTable('user_mfa').execute();
}
