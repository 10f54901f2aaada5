/**
 * POST /admin/invalidate-all-tokens/: every session ends, the caller's too, on
 * this instance at once and on every other instance through the database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createAuth } from '../../src/create-auth.ts';
import { openStore } from '../../src/store/connect.ts';
import { bearer, createUser, harness, login, openTestStore, storeNames, testConfig, type Harness, NOT_AUTHENTICATED, BLACKLISTED, credentialNotValid } from '../support/harness.ts';

const PERMISSION_DENIED = { detail: 'You do not have permission to perform this action.', code: 'permission_denied' };

async function eventually(check: () => boolean, attempts = 100, everyMs = 10): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return check();
}

for (const name of storeNames()) {
  describe(`invalidate all tokens (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    const invalidate = (headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url: '/admin/invalidate-all-tokens/', headers });
    const me = (access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });

    it('401 without credentials, 403 permission_denied for a non-admin; nothing ends', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const anonymous = await invalidate();
      assert.equal(anonymous.statusCode, 401);
      assert.deepEqual(anonymous.json(), NOT_AUTHENTICATED);
      const refused = await invalidate(bearer(session.access));
      assert.equal(refused.statusCode, 403);
      assert.deepEqual(refused.json(), PERMISSION_DENIED);
      assert.equal((await me(session.access)).statusCode, 200);
    });

    it('ends every session, the caller’s too: every access and refresh token is refused on the next request', async () => {
      // By is_staff here, by role admin in the next test.
      const admin = await createUser(h, { isStaff: true });
      const adminSession = await login(h, admin.username);
      const users = await Promise.all([createUser(h), createUser(h)]);
      const sessions = [adminSession, ...(await Promise.all(users.map((u) => login(h, u.username)))), await login(h, users[0]!.username)];
      const { rows } = await sql<{ n: string }>`select count(*) as n from sessions where revoked_at is null`.execute(h.store.db);

      const response = await invalidate(bearer(adminSession.access));
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(response.json(), { sessions_ended: Number(rows[0]?.n) });

      for (const session of sessions) {
        const refused = await me(session.access);
        assert.equal(refused.statusCode, 401);
        assert.deepEqual(refused.json(), credentialNotValid(BLACKLISTED));
        const refresh = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: session.refresh } });
        assert.equal(refresh.statusCode, 401);
      }
      // Logging in again works; the new session is unaffected.
      const fresh = await login(h, users[1]!.username);
      assert.equal((await me(fresh.access)).statusCode, 200);
    });

    it('is allowed to role admin, and a second call ends only what was opened since', async () => {
      const admin = await createUser(h, { role: 'admin' });
      const session = await login(h, admin.username);
      const first = await invalidate(bearer(session.access));
      assert.equal(first.statusCode, 200, first.body);
      const again = await login(h, admin.username);
      const second = await invalidate(bearer(again.access));
      assert.deepEqual(second.json(), { sessions_ended: 1 });
    });
  });

  describe(`invalidate all tokens across instances (${name})`, () => {
    it('a second instance refuses every earlier token', async () => {
      const store = await openTestStore(name);
      const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
      const secondStore = name === 'postgres' ? await openStore({ databaseUrl: process.env.DATABASE_URL, schema: rows[0]!.schema }) : store;
      const first = await harness(name, { store });
      const second = createAuth(testConfig(), { store: secondStore });
      await second.start();
      try {
        const u = await createUser(first);
        const sessions = [await login(first, u.username), await login(first, u.username)];
        for (const s of sessions) assert.doesNotThrow(() => second.authenticate(s.access));
        const result = await first.auth.invalidateAllTokens({ source: 'cli' });
        assert.equal(result.sessionsEnded, 2);
        const refused = await eventually(() => sessions.every((s) => {
          try {
            second.authenticate(s.access);
            return false;
          } catch {
            return true;
          }
        }));
        assert.ok(refused, 'the second instance refuses both sessions');
      } finally {
        await second.stop();
        await first.close();
        if (secondStore !== store) await secondStore.close();
        await store.drop();
      }
    });
  });
}
