/**
 * POST /auth/change-password/: checks the old password, validates the new one,
 * ends the caller's other sessions at once and carries the current one on with
 * a fresh pair.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  PASSWORD, bearer, claimsOf, createUser, harness, login, storeNames, type Harness,
  NO_ACTIVE_ACCOUNT, NOT_AUTHENTICATED, BLACKLISTED, credentialNotValid,
} from '../support/harness.ts';

const NEW_PASSWORD = 'a brand new passphrase 42';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

for (const name of storeNames()) {
  describe(`change password (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    const change = (access: string, payload: Record<string, unknown>) =>
      h.app.inject({ method: 'POST', url: '/auth/change-password/', headers: bearer(access), payload });
    const me = (access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
    const refresh = (token: string) => h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: token } });
    const tryLogin = (username: string, password: string) =>
      h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password } });

    it('400 under old_password when the old password is wrong; nothing changes', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const response = await change(session.access, { old_password: 'not it', new_password: NEW_PASSWORD });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), { old_password: ['Your old password was entered incorrectly. Please enter it again.'] });
      assert.equal((await tryLogin(u.username, PASSWORD)).statusCode, 200);
      assert.equal((await me(session.access)).statusCode, 200);
    });

    it('400 under new_password for a password the validators refuse', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const response = await change(session.access, { old_password: PASSWORD, new_password: '1234' });
      assert.equal(response.statusCode, 400);
      assert.deepEqual(response.json(), {
        new_password: ['This password is too short. It must contain at least 8 characters.', 'This password is too common.', 'This password is entirely numeric.'],
      });
      const similar = await change(session.access, { old_password: PASSWORD, new_password: `${u.username}1` });
      assert.deepEqual(similar.json(), { new_password: ['The password is too similar to the username.'] });
    });

    it('400 with both fields required; 401 without credentials', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const missing = await change(session.access, {});
      assert.equal(missing.statusCode, 400);
      assert.deepEqual(missing.json(), { old_password: ['This field is required.'], new_password: ['This field is required.'] });
      const anonymous = await h.app.inject({ method: 'POST', url: '/auth/change-password/', payload: { old_password: PASSWORD, new_password: NEW_PASSWORD } });
      assert.equal(anonymous.statusCode, 401);
      assert.deepEqual(anonymous.json(), NOT_AUTHENTICATED);
      // Credentials are judged before the body is read, as in DRF.
      const unreadable = await h.app.inject({
        method: 'POST', url: '/auth/change-password/', payload: '{"old_password": ', headers: { 'content-type': 'application/json' },
      });
      assert.equal(unreadable.statusCode, 401);
      assert.deepEqual(unreadable.json(), NOT_AUTHENTICATED);
    });

    it('200 with a fresh pair for the current session; the other sessions end at once; the old password stops working', async () => {
      const u = await createUser(h);
      const here = await login(h, u.username);
      const phone = await login(h, u.username);
      const response = await change(here.access, { old_password: PASSWORD, new_password: NEW_PASSWORD });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ['access', 'refresh', 'access_expires_at', 'refresh_expires_at']);
      assert.match(body.access_expires_at, ISO);
      assert.match(body.refresh_expires_at, ISO);
      // Same session, new tokens.
      assert.equal(claimsOf(body.access).sid, claimsOf(here.access).sid);
      assert.notEqual(body.refresh, here.refresh);

      // The phone is logged out on the very next request.
      const phoneMe = await me(phone.access);
      assert.equal(phoneMe.statusCode, 401);
      assert.deepEqual(phoneMe.json(), credentialNotValid(BLACKLISTED));
      assert.equal((await refresh(phone.refresh)).statusCode, 401);

      // This device carries on.
      assert.equal((await me(body.access)).statusCode, 200);
      const next = await refresh(body.refresh);
      assert.equal(next.statusCode, 200, next.body);

      const old = await tryLogin(u.username, PASSWORD);
      assert.equal(old.statusCode, 401);
      assert.deepEqual(old.json(), NO_ACTIVE_ACCOUNT);
      assert.equal((await tryLogin(u.username, NEW_PASSWORD)).statusCode, 200);
    });

    it('spends the refresh token held before the change: replayed after the grace window it ends the session', async () => {
      const u = await createUser(h);
      const here = await login(h, u.username);
      const changed = (await change(here.access, { old_password: PASSWORD, new_password: NEW_PASSWORD })).json();
      // Inside the grace window the old refresh token gets the new pair (a second tab), not a new family.
      const replay = await refresh(here.refresh);
      assert.equal(replay.statusCode, 200, replay.body);
      assert.equal(replay.json().refresh, changed.refresh);
    });
  });
}
