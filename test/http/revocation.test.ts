import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuth } from '../../src/create-auth.ts';
import { bearer, claimsOf, createUser, harness, login, openTestStore, storeNames, testConfig, type Harness, BLACKLISTED, credentialNotValid } from '../support/harness.ts';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/connect.ts';

const me = (h: Harness, access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
const post = (h: Harness, url: string, payload?: object, headers: Record<string, string> = {}) =>
  h.app.inject({ method: 'POST', url, ...(payload ? { payload } : {}), headers });

/** Polls a condition a bounded number of times; for effects that cross a connection. */
async function eventually(check: () => boolean, attempts = 100, everyMs = 20): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return check();
}

for (const name of storeNames()) {
  describe(`logout and sessions on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name); });
    after(() => h.close());

    it('logout with the refresh token ends that session at once; its access token is refused on the next request', async () => {
      const { username } = await createUser(h);
      const t = await login(h, username);
      assert.equal((await me(h, t.access)).statusCode, 200);
      const out = await post(h, '/auth/logout/', { refresh: t.refresh });
      assert.deepEqual([out.statusCode, out.json()], [200, {}]);
      const after = await me(h, t.access);
      assert.deepEqual([after.statusCode, after.json()], [401, credentialNotValid(BLACKLISTED)]);
      const verified = await post(h, '/auth/verify/', { token: t.access });
      assert.deepEqual([verified.statusCode, verified.json()], [401, { detail: BLACKLISTED, code: 'token_not_valid' }], 'verify: a revoked access token is "blacklisted"');
      const verifiedRefresh = await post(h, '/auth/verify/', { token: t.refresh });
      assert.deepEqual([verifiedRefresh.statusCode, verifiedRefresh.json()], [400, { non_field_errors: [BLACKLISTED] }], 'verify: a logged-out refresh token');
      assert.equal((await post(h, '/auth/refresh/', { refresh: t.refresh })).statusCode, 401);
      assert.equal((await post(h, '/auth/logout/', { refresh: t.refresh })).statusCode, 401, 'a second logout finds nothing to end');
    });

    it('logout accepts refresh_token, the blacklist alias, or only the Bearer token', async () => {
      const { username } = await createUser(h);
      const a = await login(h, username);
      const b = await login(h, username);
      const c = await login(h, username);
      assert.equal((await post(h, '/auth/logout', { refresh_token: a.refresh })).statusCode, 200);
      assert.equal((await post(h, '/auth/token/blacklist/', { refresh: b.refresh })).statusCode, 200);
      assert.equal((await post(h, '/auth/logout/', undefined, bearer(c.access))).statusCode, 200);
      for (const t of [a, b, c]) assert.equal((await me(h, t.access)).statusCode, 401);
    });

    it('logout without any token is 400 refresh required; with a bad Bearer it is 401', async () => {
      const none = await post(h, '/auth/logout/');
      assert.deepEqual([none.statusCode, none.json()], [400, { refresh: ['This field is required.'] }]);
      const bad = await post(h, '/auth/logout/', undefined, bearer('not.a.token'));
      assert.equal(bad.statusCode, 401);
      assert.equal(bad.headers['www-authenticate'], 'Bearer realm="api"');
    });

    it('logout on one device leaves the others signed in', async () => {
      const { username } = await createUser(h);
      const phone = await login(h, username);
      const laptop = await login(h, username);
      await post(h, '/auth/logout/', { refresh: phone.refresh });
      assert.equal((await me(h, phone.access)).statusCode, 401);
      assert.equal((await me(h, laptop.access)).statusCode, 200);
      assert.equal((await post(h, '/auth/refresh/', { refresh: laptop.refresh })).statusCode, 200);
    });

    it('logout-all ends every session of the caller and no one else’s', async () => {
      const { username } = await createUser(h);
      const other = await createUser(h);
      const devices = [await login(h, username), await login(h, username), await login(h, username)];
      const stranger = await login(h, other.username);
      const response = await post(h, '/auth/logout-all/', undefined, bearer(devices[0]!.access));
      assert.deepEqual([response.statusCode, response.json()], [200, { sessions_ended: 3 }]);
      for (const d of devices) {
        assert.equal((await me(h, d.access)).statusCode, 401);
        assert.equal((await post(h, '/auth/refresh/', { refresh: d.refresh })).statusCode, 401);
      }
      assert.equal((await me(h, stranger.access)).statusCode, 200);
      const anonymous = await post(h, '/auth/logout-all/');
      assert.deepEqual([anonymous.statusCode, anonymous.json().code], [401, 'not_authenticated']);
    });

    it('lists the caller’s active sessions with the current one marked', async () => {
      const { username } = await createUser(h);
      const phone = await login(h, username, undefined, { 'user-agent': 'Phone/1.0' });
      const laptop = await login(h, username, undefined, { 'user-agent': 'Laptop/2.0' });
      const ended = await login(h, username);
      await post(h, '/auth/logout/', { refresh: ended.refresh });
      const response = await h.app.inject({ method: 'GET', url: '/auth/sessions', headers: bearer(laptop.access) });
      assert.equal(response.statusCode, 200);
      const list = response.json() as Array<Record<string, unknown>>;
      assert.equal(list.length, 2);
      assert.deepEqual(Object.keys(list[0]!).sort(), ['created_at', 'current', 'expires_at', 'id', 'ip', 'last_used_at', 'user_agent']);
      const byAgent = Object.fromEntries(list.map((s) => [s.user_agent, s]));
      assert.equal(byAgent['Laptop/2.0']?.current, true);
      assert.equal(byAgent['Phone/1.0']?.current, false);
      assert.equal(byAgent['Phone/1.0']?.id, claimsOf(phone.access).sid);
      assert.equal(byAgent['Phone/1.0']?.ip, '127.0.0.1');
      assert.match(String(byAgent['Phone/1.0']?.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });

    it('DELETE /auth/sessions/{id}/ ends one session (204); another user’s or an unknown id is 404', async () => {
      const { username } = await createUser(h);
      const phone = await login(h, username);
      const laptop = await login(h, username);
      const stranger = await login(h, (await createUser(h)).username);
      const sid = String(claimsOf(phone.access).sid);
      const denied = await h.app.inject({ method: 'DELETE', url: `/auth/sessions/${sid}/`, headers: bearer(stranger.access) });
      assert.deepEqual([denied.statusCode, denied.json()], [404, { detail: 'Not found.', code: 'not_found' }]);
      const unknown = await h.app.inject({ method: 'DELETE', url: '/auth/sessions/nope/', headers: bearer(laptop.access) });
      assert.equal(unknown.statusCode, 404);
      const ok = await h.app.inject({ method: 'DELETE', url: `/auth/sessions/${sid}`, headers: bearer(laptop.access) });
      assert.equal(ok.statusCode, 204);
      assert.equal(ok.body, '');
      assert.equal((await me(h, phone.access)).statusCode, 401);
      assert.equal((await me(h, laptop.access)).statusCode, 200);
      assert.equal((await me(h, stranger.access)).statusCode, 200);
    });

    it('verifies access tokens without the database: verify answers while the database is closed', async () => {
      const own = await harness(name);
      const { username } = await createUser(own);
      const live = await login(own, username);
      const revoked = await login(own, username);
      await post(own, '/auth/logout/', { refresh: revoked.refresh });
      const schema = await currentSchema(own.store);
      await own.store.close();
      const ok = await post(own, '/auth/verify/', { token: live.access });
      assert.deepEqual([ok.statusCode, ok.json()], [200, {}]);
      const refused = await post(own, '/auth/verify/', { token: revoked.access });
      assert.equal(refused.statusCode, 401);
      await own.app.close();
      await own.auth.stop();
      if (name === 'postgres') {
        const admin = await openStore({ databaseUrl: process.env.DATABASE_URL });
        await sql`drop schema ${sql.id(schema)} cascade`.execute(admin.db);
        await admin.close();
      }
    });
  });

  describe(`revocation across instances on ${name}`, () => {
    it('a second instance refuses a session ended on the first, and one started later knows it too', async () => {
      const store = await openTestStore(name);
      // On PostgreSQL the second instance has its own connections, as another process would.
      const secondStore = name === 'postgres' ? await openStore({ databaseUrl: process.env.DATABASE_URL, schema: await currentSchema(store) }) : store;
      const first = await harness(name, { store });
      const second = createAuth(testConfig(), { store: secondStore });
      await second.start();
      try {
        const { username } = await createUser(first);
        const phone = await login(first, username);
        const laptop = await login(first, username);
        assert.doesNotThrow(() => second.authenticate(phone.access));
        await post(first, '/auth/logout/', { refresh: phone.refresh });
        const refused = await eventually(() => {
          try {
            second.authenticate(phone.access);
            return false;
          } catch {
            return true;
          }
        });
        assert.ok(refused, 'the other instance learned of the logout');
        assert.doesNotThrow(() => second.authenticate(laptop.access), 'other sessions stay valid');

        const late = createAuth(testConfig(), { store: secondStore });
        await late.start();
        assert.throws(() => late.authenticate(phone.access), { code: 'token_not_valid' });
        await late.stop();
      } finally {
        await second.stop();
        await first.close();
        if (secondStore !== store) await secondStore.close();
        await store.drop();
      }
    });
  });
}

async function currentSchema(store: Store): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
  return rows[0]!.schema;
}
