/**
 * POST /auth/register/: open sign-up with Django's password validators, unique
 * usernames and emails (case-insensitively), and REGISTRATION_ENABLED.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { PASSWORD, createUser, harness, manualClock, storeNames, uniqueName, type Harness, NOT_FOUND } from '../support/harness.ts';

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
const REQUIRED = ['This field is required.'];
const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.';
const TOO_COMMON = 'This password is too common.';
const NUMERIC = 'This password is entirely numeric.';

for (const name of storeNames()) {
  describe(`registration (${name})`, () => {
    let h: Harness;
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
    before(async () => {
      h = await harness(name, { clock });
    });
    after(() => h.close());

    const register = (payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
      h.app.inject({ method: 'POST', url: '/auth/register/', payload, headers });

    it('201 with the new user, default role, never the hash; the user can log in', async () => {
      const username = uniqueName('reg');
      const response = await register({ username, email: `${username}@Example.com`, password: PASSWORD, first_name: 'Ada', last_name: 'Lovelace' });
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.deepEqual(body, {
        id: body.id,
        username,
        email: `${username}@example.com`, // the domain lower-cased, as Django's normalize_email does
        first_name: 'Ada',
        last_name: 'Lovelace',
        role: 'client',
        is_staff: false,
        is_manager: false,
        account_id: null,
        password_needs_reset: false,
        last_login: null,
        date_joined: iso(clock.now()),
      });
      assert.equal(typeof body.id, 'number');
      assert.ok(!response.body.includes('argon2') && !/"password"/.test(response.body));
      const login = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: username.toUpperCase(), password: PASSWORD } });
      assert.equal(login.statusCode, 200, login.body);
      assert.equal(login.json().user.id, body.id);
    });

    it('answers on the path without the trailing slash and takes form bodies, as DRF does', async () => {
      const username = uniqueName('form');
      const response = await h.app.inject({
        method: 'POST',
        url: '/auth/register',
        payload: new URLSearchParams({ username, email: `${username}@example.com`, password: PASSWORD }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(response.statusCode, 201, response.body);
    });

    it('accepts usernames in any script, as Django’s UnicodeUsernameValidator does', async () => {
      const username = `zoë.ørsted_${uniqueName('').replace(/\W/g, '')}`;
      const response = await register({ username, email: `z${uniqueName('')}@example.com`, password: PASSWORD });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().username, username);
    });

    it('ignores privileged fields: a registrant cannot make themselves staff, admin, or a tenant member', async () => {
      const username = uniqueName('sneaky');
      const response = await register({
        username, email: `${username}@example.com`, password: PASSWORD,
        is_staff: true, is_manager: true, role: 'admin', account_id: 1, password_needs_reset: true, is_active: false,
      });
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.deepEqual(
        [body.is_staff, body.is_manager, body.role, body.account_id, body.password_needs_reset],
        [false, false, 'client', null, false],
      );
    });

    it('400 per field for a username or email already taken, whatever the case', async () => {
      const taken = await createUser(h);
      const username = uniqueName('other');
      const byName = await register({ username: taken.username.toUpperCase(), email: `${username}@example.com`, password: PASSWORD });
      assert.equal(byName.statusCode, 400);
      assert.deepEqual(byName.json(), { username: ['A user with that username already exists.'] });
      const byEmail = await register({ username, email: taken.email.toUpperCase(), password: PASSWORD });
      assert.equal(byEmail.statusCode, 400);
      assert.deepEqual(byEmail.json(), { email: ['A user with that email already exists.'] });
      const both = await register({ username: taken.username, email: taken.email, password: PASSWORD });
      assert.deepEqual(both.json(), {
        username: ['A user with that username already exists.'],
        email: ['A user with that email already exists.'],
      });
    });

    it("applies Django's password validators, each failure a message in the password list", async () => {
      const cases: Array<[string, string[]]> = [
        ['x7#kQ', [TOO_SHORT]],
        ['12345678', [TOO_COMMON, NUMERIC]],
        ['password', [TOO_COMMON]],
        ['83629174', [NUMERIC]],
      ];
      for (const [password, messages] of cases) {
        const username = uniqueName('weak');
        const response = await register({ username, email: `${username}@example.com`, password });
        assert.equal(response.statusCode, 400, password);
        assert.deepEqual(response.json(), { password: messages }, password);
      }
    });

    it('refuses a password too similar to the username or the email', async () => {
      const suffix = uniqueName('').replace(/\W/g, '');
      const username = `marguerite${suffix}`;
      const byName = await register({ username, email: `m${suffix}@example.com`, password: `${username}!` });
      assert.equal(byName.statusCode, 400);
      assert.deepEqual(byName.json(), { password: ['The password is too similar to the username.'] });
      const byEmail = await register({ username: `u${suffix}`, email: `bartholomew${suffix}@example.com`, password: `bartholomew${suffix}` });
      assert.equal(byEmail.statusCode, 400);
      assert.deepEqual(byEmail.json(), { password: ['The password is too similar to the email address.'] });
    });

    it('reports every field at once: required, invalid and weak together', async () => {
      const missing = await register({});
      assert.equal(missing.statusCode, 400);
      assert.deepEqual(missing.json(), { username: REQUIRED, email: REQUIRED, password: REQUIRED });
      const bad = await register({ username: 'no spaces allowed', email: 'not-an-email', password: 'short' });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json(), {
        username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
        email: ['Enter a valid email address.'],
        password: [TOO_SHORT],
      });
      const blank = await register({ username: ' ', email: '', password: PASSWORD });
      assert.deepEqual(blank.json(), { username: ['This field may not be blank.'], email: ['This field may not be blank.'] });
      const types = await register({ username: true, email: ['a@b.c'], password: PASSWORD });
      assert.deepEqual(types.json(), { username: ['Not a valid string.'], email: ['Not a valid string.'] });
    });

    it('stores nothing when refused', async () => {
      const username = uniqueName('nothing');
      await register({ username, email: `${username}@example.com`, password: '123' });
      const { rows } = await sql<{ n: string }>`select count(*) as n from users where username = ${username}`.execute(h.store.db);
      assert.equal(Number(rows[0]?.n), 0);
    });
  });

  describe(`registration switched off (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { REGISTRATION_ENABLED: 'false' } });
    });
    after(() => h.close());

    it('404 not_found with REGISTRATION_ENABLED=false, with or without a body', async () => {
      for (const url of ['/auth/register/', '/auth/register']) {
        const response = await h.app.inject({ method: 'POST', url, payload: { username: 'x', email: 'x@example.com', password: PASSWORD } });
        assert.equal(response.statusCode, 404);
        assert.deepEqual(response.json(), NOT_FOUND);
      }
    });
  });
}
