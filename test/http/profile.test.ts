/**
 * GET and PATCH /auth/me/: the caller's profile, and the only two fields it may change.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as Response } from 'fastify';
import { PASSWORD, bearer, createAccount, createUser, harness, login, manualClock, storeNames, uniqueName, type Harness, NOT_AUTHENTICATED, credentialNotValid } from '../support/harness.ts';

const USER_KEYS = [
  'id', 'username', 'email', 'first_name', 'last_name', 'role', 'is_staff', 'is_manager', 'account_id',
  'password_needs_reset', 'last_login', 'date_joined',
];
const TOO_LONG = 'Ensure this field has no more than 150 characters.';

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

for (const name of storeNames()) {
  describe(`profile (${name})`, () => {
    let h: Harness;
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
    const t0 = clock.now();
    before(async () => {
      h = await harness(name, { clock });
    });
    after(() => h.close());

    /** A new user, logged in: its id, names and access token. */
    async function caller(overrides: { role?: string; isStaff?: boolean } = {}) {
      const u = await createUser(h, overrides);
      const { access } = await login(h, u.username);
      return { ...u, access };
    }

    const me = (access: string): Promise<Response> => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
    const patch = (access: string, payload: unknown): Promise<Response> =>
      h.app.inject({ method: 'PATCH', url: '/auth/me/', headers: bearer(access), payload: payload as Record<string, unknown> });

    describe('GET /auth/me/', () => {
      it('200 with exactly the public user, never a password', async () => {
        const c = await caller();
        const response = await me(c.access);
        assert.equal(response.statusCode, 200, response.body);
        assert.match(String(response.headers['content-type']), /^application\/json/);
        const body = response.json();
        assert.deepEqual(Object.keys(body), USER_KEYS);
        assert.deepEqual(body, {
          id: c.id,
          username: c.username,
          email: c.email,
          first_name: '',
          last_name: '',
          role: 'client',
          is_staff: false,
          is_manager: false,
          account_id: null,
          password_needs_reset: false,
          last_login: iso(t0),
          date_joined: iso(t0),
        });
        assert.ok(!/"password"\s*:/.test(response.body));
        assert.ok(!response.body.includes('$argon2'));
      });

      it('shows role, staff flag, account and names as stored', async () => {
        const username = uniqueName('staff');
        const accountId = await createAccount(h);
        await h.auth.createUser({
          username, email: `${username}@example.com`, password: PASSWORD, role: 'admin', isStaff: true, accountId,
          firstName: 'Ada', lastName: 'Lovelace',
        });
        const { access } = await login(h, username);
        const body = (await me(access)).json();
        assert.equal(body.role, 'admin');
        assert.equal(body.is_staff, true);
        assert.equal(body.account_id, accountId);
        assert.equal(body.first_name, 'Ada');
        assert.equal(body.last_name, 'Lovelace');
      });

      it('answers with and without the trailing slash', async () => {
        const c = await caller();
        const response = await h.app.inject({ method: 'GET', url: '/auth/me', headers: bearer(c.access) });
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), (await me(c.access)).json());
      });

      it('no token → 401 not_authenticated with the challenge', async () => {
        const response = await h.app.inject({ method: 'GET', url: '/auth/me/' });
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), NOT_AUTHENTICATED);
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
      });

      it('a bad token → 401 token_not_valid', async () => {
        const response = await me('not.a.token');
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), credentialNotValid());
      });

      it('a deactivated user’s still-valid token → 401, never their profile', async () => {
        const c = await caller();
        await h.store.db.updateTable('users').set({ is_active: false }).where('id', '=', c.id).execute();
        const response = await me(c.access);
        assert.equal(response.statusCode, 401);
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
        assert.ok(!response.body.includes(c.username));
      });
    });

    describe('PATCH /auth/me/', () => {
      it('changes first_name and last_name and answers with the updated user', async () => {
        const c = await caller();
        const response = await patch(c.access, { first_name: 'Grace', last_name: 'Hopper' });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json();
        assert.deepEqual(Object.keys(body), USER_KEYS);
        assert.equal(body.first_name, 'Grace');
        assert.equal(body.last_name, 'Hopper');
        assert.equal(body.username, c.username);
        assert.deepEqual((await me(c.access)).json(), body, 'GET shows the change');
      });

      it('changes one name and leaves the other', async () => {
        const c = await caller();
        await patch(c.access, { first_name: 'Grace', last_name: 'Hopper' });
        const response = await patch(c.access, { last_name: 'Murray' });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().first_name, 'Grace');
        assert.equal(response.json().last_name, 'Murray');
      });

      it('accepts empty names (DRF CharField on a blank-able model field) and unicode', async () => {
        const c = await caller();
        await patch(c.access, { first_name: 'Grace' });
        const response = await patch(c.access, { first_name: '', last_name: 'Ōtsuka-Ñúñez 😀' });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().first_name, '');
        assert.equal(response.json().last_name, 'Ōtsuka-Ñúñez 😀');
      });

      it('exactly 150 characters is accepted', async () => {
        const c = await caller();
        const response = await patch(c.access, { first_name: 'x'.repeat(150) });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().first_name, 'x'.repeat(150));
      });

      it('an empty body changes nothing', async () => {
        const c = await caller();
        const before = (await me(c.access)).json();
        const response = await patch(c.access, {});
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(response.json(), before);
      });

      it('other fields are ignored: username, email, is_staff, role, account_id, id, password… cannot change', async () => {
        const c = await caller();
        const before = (await me(c.access)).json();
        const response = await patch(c.access, {
          id: 999_999,
          username: 'hijacked',
          email: 'hijacked@example.com',
          is_staff: true,
          is_manager: true,
          is_active: false,
          role: 'admin',
          account_id: 1,
          password: 'new password',
          password_needs_reset: true,
          last_login: '2000-01-01T00:00:00Z',
          date_joined: '2000-01-01T00:00:00Z',
          first_name: 'Only',
        });
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(response.json(), { ...before, first_name: 'Only' });
        assert.deepEqual((await me(c.access)).json(), { ...before, first_name: 'Only' });
        const row = await h.store.db.selectFrom('users').selectAll().where('id', '=', c.id).executeTakeFirstOrThrow();
        assert.equal(row.is_active, true);
        assert.equal(row.is_staff, false);
        assert.equal(row.role, 'client');
        // The password did not change either.
        await login(h, c.username);
      });

      it('a form-encoded body works too', async () => {
        const c = await caller();
        const response = await h.app.inject({
          method: 'PATCH',
          url: '/auth/me/',
          headers: { ...bearer(c.access), 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'first_name=Form&last_name=Encoded',
        });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().first_name, 'Form');
        assert.equal(response.json().last_name, 'Encoded');
      });

      const invalid: Array<[string, unknown, Record<string, string[]>]> = [
        ['a boolean', { last_name: true }, { last_name: ['Not a valid string.'] }],
        ['an object', { first_name: { a: 1 } }, { first_name: ['Not a valid string.'] }],
        ['an array', { last_name: ['a'] }, { last_name: ['Not a valid string.'] }],
        ['null', { first_name: null }, { first_name: ['This field may not be null.'] }],
        ['151 characters', { first_name: 'x'.repeat(151) }, { first_name: [TOO_LONG] }],
        ['both too long', { first_name: 'x'.repeat(151), last_name: 'y'.repeat(1000) }, { first_name: [TOO_LONG], last_name: [TOO_LONG] }],
        ['a boolean and a long name', { first_name: false, last_name: 'y'.repeat(151) }, { first_name: ['Not a valid string.'], last_name: [TOO_LONG] }],
      ];
      for (const [title, payload, expected] of invalid) {
        it(`${title} → 400 ${JSON.stringify(expected).slice(0, 80)}, nothing changed`, async () => {
          const c = await caller();
          const before = (await me(c.access)).json();
          const response = await patch(c.access, payload);
          assert.equal(response.statusCode, 400, response.body);
          assert.deepEqual(response.json(), expected);
          assert.deepEqual((await me(c.access)).json(), before);
        });
      }

      it('a valid name beside an invalid one is not applied either', async () => {
        const c = await caller();
        const response = await patch(c.access, { first_name: 'Valid', last_name: true });
        assert.equal(response.statusCode, 400);
        assert.equal((await me(c.access)).json().first_name, '');
      });

      it('a JSON array body → 400 non_field_errors', async () => {
        const c = await caller();
        const response = await h.app.inject({
          method: 'PATCH', url: '/auth/me/', headers: { ...bearer(c.access), 'content-type': 'application/json' }, payload: '[]',
        });
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      });

      it('a NUL character in a name → 400 "Null characters are not allowed.", not 500', async () => {
        const c = await caller();
        const response = await patch(c.access, { first_name: 'a\u0000b' });
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(response.json(), { first_name: ['Null characters are not allowed.'] });
      });

      it('no token → 401 not_authenticated', async () => {
        const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', payload: { first_name: 'x' } });
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), NOT_AUTHENTICATED);
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
      });

      it('no token and an invalid body → still 401 not_authenticated (authentication first, as DRF)', async () => {
        const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', payload: { first_name: 42 } });
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), NOT_AUTHENTICATED);
      });

      it('a bad token → 401 token_not_valid, nothing changed', async () => {
        const response = await patch('bad.token.here', { first_name: 'x' });
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), credentialNotValid());
      });

      it('only the caller’s own profile changes', async () => {
        const a = await caller();
        const b = await caller();
        await patch(a.access, { first_name: 'Alice' });
        assert.equal((await me(b.access)).json().first_name, '');
      });
    });

    it('other methods on /auth/me/ are not routes (404/405, never 2xx or 5xx)', async () => {
      const c = await caller();
      for (const method of ['PUT', 'DELETE', 'POST'] as const) {
        const response = await h.app.inject({ method, url: '/auth/me/', headers: bearer(c.access), payload: { first_name: 'x' } });
        assert.ok([404, 405].includes(response.statusCode), `${method} → ${response.statusCode}`);
      }
      assert.equal((await me(c.access)).json().first_name, '');
    });
  });
}

for (const name of storeNames()) {
  describe(`/auth/me/ when the user changed behind the token (${name})`, () => {
    let h: Harness;
    before(async () => { h = await harness(name); });
    after(() => h.close());

    it('a deactivated user → 401 user_inactive, as SimpleJWT answers', async () => {
      const user = await createUser(h);
      const { access } = await login(h, user.username);
      await h.store.db.updateTable('users').set({ is_active: false }).where('id', '=', user.id).execute();
      const response = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.deepEqual([response.statusCode, response.json()], [401, { detail: 'User is inactive', code: 'user_inactive' }]);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
    });

    it('a deleted user → 401 user_not_found', async () => {
      const user = await createUser(h);
      const { access } = await login(h, user.username);
      await h.store.db.deleteFrom('users').where('id', '=', user.id).execute();
      const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', headers: bearer(access), payload: { first_name: 'x' } });
      assert.deepEqual([response.statusCode, response.json()], [401, { detail: 'User not found', code: 'user_not_found' }]);
    });
  });
}
