import type { Kysely } from 'kysely';

/**
 * Passkeys (WebAuthn, SPEC §12): each user's credentials, the challenges of
 * ceremonies in progress (rows, not cookies, so apps work too), and which
 * passkey opened a session (deleting the passkey ends them). Depends on 0001 and 0007.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('passkeys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // The authenticator's credential id (base64url): unique across the relying party.
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    // The COSE public key, base64url.
    .addColumn('public_key', 'text', (c) => c.notNull())
    // The signature counter last seen; bigint, as authenticators count to 2^32 - 1.
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'jsonb', (c) => c.notNull())
    // 'singleDevice' (a security key: amr hwk) or 'multiDevice' (a synced passkey: amr swk).
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull())
    // The user handle given to the authenticator (random, the same for all of one user's passkeys).
    .addColumn('user_handle', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('passkeys_user_id').on('passkeys').column('user_id').execute();

  await db.schema
    .createTable('webauthn_challenges')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // 'register' (bound to user_id), 'login' (bound to nothing), 'mfa' (bound to the mfa_token's hash).
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('mfa_token_hash', 'text')
    .addColumn('challenge', 'text', (c) => c.notNull())
    // A registration's user handle (base64url), offered in the options and stored with the passkey.
    .addColumn('user_handle', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('webauthn_challenges_expires_at').on('webauthn_challenges').column('expires_at').execute();

  await db.schema
    .alterTable('sessions')
    .addColumn('passkey_id', 'text', (c) => c.references('passkeys.id').onDelete('set null'))
    .execute();
  await db.schema.createIndex('sessions_passkey_id').on('sessions').column('passkey_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('passkey_id').execute();
  await db.schema.dropTable('webauthn_challenges').execute();
  await db.schema.dropTable('passkeys').execute();
}
