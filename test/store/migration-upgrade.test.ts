/**
 * Upgrading a database made by an earlier release: 0002 gives every account id
 * that users already name a row, then enforces the foreign key; new accounts
 * are numbered after them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { migrateThrough, migrateToLatest } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/connect.ts';
import { randomBytes } from 'node:crypto';
import { storeNames } from '../support/harness.ts';

async function openEmpty(name: 'pglite' | 'postgres') {
  if (name === 'pglite') {
    const store = await openStore({ dataDir: 'memory://' });
    return { store, drop: () => store.close() };
  }
  const schema = `lk_test_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ databaseUrl: process.env.DATABASE_URL, schema });
  return {
    store,
    drop: async () => {
      await sql`drop schema ${sql.id(schema)} cascade`.execute(store.db);
      await store.close();
    },
  };
}

for (const name of storeNames()) {
  describe(`upgrading from 0001 (${name})`, () => {
    it('keeps users that name an account, gives those accounts rows, and numbers new accounts after them', async () => {
      const { store, drop } = await openEmpty(name);
      try {
        await migrateThrough(store.db, '0001_initial');
        await sql`
          insert into users (username, password, role, account_id, date_joined)
          values ('ann', '!', 'client', 7, now()), ('bob', '!', 'client', 7, now()), ('cy', '!', 'client', null, now())
        `.execute(store.db);

        assert.deepEqual(await migrateToLatest(store.db), { applied: ['0002_accounts_audit', '0003_identifier_rule', '0004_user_changes', '0005_mail_recovery', '0006_simplejwt_cutover', '0007_mfa', '0008_passkeys', '0009_remembered_devices', '0010_refresh_token_room'] });

        const accounts = await store.db.selectFrom('accounts').select(['id', 'name', 'is_active']).execute();
        assert.deepEqual(accounts, [{ id: 7, name: 'Account 7', is_active: true }]);
        const next = await store.db.insertInto('accounts').values({ name: 'New', created_at: new Date() }).returning('id').executeTakeFirstOrThrow();
        assert.equal(next.id, 8);
        await assert.rejects(sql`update users set account_id = 99 where username = 'cy'`.execute(store.db), /foreign key|violates/);
      } finally {
        await drop();
      }
    });

    it('0009: sessions opened before the claims (and imported ones) read as a password at aal1, when they began', async () => {
      const { store, drop } = await openEmpty(name);
      try {
        await migrateThrough(store.db, '0008_passkeys');
        await sql`insert into users (id, username, password, role, date_joined) values (5, 'ann', '!', 'client', now())`.execute(store.db);
        const created = new Date('2026-11-01T08:00:00Z');
        await sql`
          insert into sessions (id, user_id, created_at, last_used_at, expires_at)
          values ('old', 5, ${created}, ${created}, ${new Date('2026-12-31T00:00:00Z')})
        `.execute(store.db);
        await sql`
          insert into sessions (id, user_id, created_at, last_used_at, expires_at, amr, aal, auth_time)
          values ('stepped', 5, ${created}, ${created}, ${new Date('2026-12-31T00:00:00Z')}, '["pwd","otp","mfa"]'::jsonb, 'aal2', ${new Date('2026-11-02T00:00:00Z')})
        `.execute(store.db);
        assert.deepEqual(await migrateToLatest(store.db), { applied: ['0009_remembered_devices', '0010_refresh_token_room'] });
        const rows = await sql<{ id: string; amr: string[]; aal: string; auth_time: Date }>`select id, amr, aal, auth_time from sessions order by id`.execute(store.db);
        assert.deepEqual(rows.rows, [
          { id: 'old', amr: ['pwd'], aal: 'aal1', auth_time: created },
          { id: 'stepped', amr: ['pwd', 'otp', 'mfa'], aal: 'aal2', auth_time: new Date('2026-11-02T00:00:00Z') },
        ]);
      } finally {
        await drop();
      }
    });

    it('0010: refresh_tokens keeps a quarter of each page for the update that spends a token', async () => {
      const { store, drop } = await openEmpty(name);
      try {
        await migrateThrough(store.db, '0009_remembered_devices');
        const options = () => sql<{ reloptions: string[] | null }>`select reloptions from pg_class where oid = 'refresh_tokens'::regclass`.execute(store.db);
        assert.deepEqual((await options()).rows, [{ reloptions: null }]);
        assert.deepEqual(await migrateToLatest(store.db), { applied: ['0010_refresh_token_room'] });
        assert.deepEqual((await options()).rows, [{ reloptions: ['fillfactor=75'] }]);
      } finally {
        await drop();
      }
    });
  });
}
