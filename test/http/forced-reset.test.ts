/**
 * Forced password reset: a flagged user logs in but gets restricted tokens that
 * only me, change-password, refresh, verify and logout accept, until the
 * password is changed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, bearer, claimsOf, createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

const RESET_REQUIRED = { detail: 'Password change required.', code: 'password_reset_required' };
const NEW_PASSWORD = 'a brand new passphrase 42';

for (const name of storeNames()) {
  describe(`forced password reset (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    async function flagged(overrides: { isStaff?: boolean } = {}) {
      const u = await createUser(h, { passwordNeedsReset: true, ...overrides });
      const response = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } });
      assert.equal(response.statusCode, 200, response.body);
      return { ...u, body: response.json(), access: response.json().access as string, refresh: response.json().refresh as string };
    }

    it('logs in with password_needs_reset, the reset URL and restricted tokens', async () => {
      const u = await flagged();
      assert.equal(u.body.password_needs_reset, true);
      assert.equal(u.body.password_reset_url, '/auth/change-password/');
      assert.equal(u.body.user.password_needs_reset, true);
      assert.equal(claimsOf(u.access).password_reset_required, true);
      assert.equal(claimsOf(u.refresh).password_reset_required, true);
    });

    it('me (GET and PATCH), verify and refresh work; refreshed tokens stay restricted', async () => {
      const u = await flagged();
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(u.access) })).statusCode, 200);
      const patched = await h.app.inject({ method: 'PATCH', url: '/auth/me/', headers: bearer(u.access), payload: { first_name: 'Flo' } });
      assert.equal(patched.statusCode, 200, patched.body);
      const verify = await h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: u.access } });
      assert.equal(verify.statusCode, 200);
      assert.deepEqual(verify.json(), {});
      const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: u.refresh } });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assert.equal(claimsOf(refreshed.json().access).password_reset_required, true);
    });

    it('every other authenticated route answers 403 password_reset_required', async () => {
      const u = await flagged({ isStaff: true });
      const routes: Array<{ method: 'GET' | 'POST' | 'DELETE'; url: string }> = [
        { method: 'GET', url: '/auth/sessions/' },
        { method: 'DELETE', url: `/auth/sessions/${claimsOf(u.access).sid as string}/` },
        { method: 'POST', url: '/auth/logout-all/' },
        { method: 'GET', url: '/admin/users/' },
        { method: 'POST', url: '/admin/invalidate-all-tokens/' },
      ];
      for (const route of routes) {
        const response = await h.app.inject({ ...route, headers: bearer(u.access) });
        assert.equal(response.statusCode, 403, `${route.method} ${route.url}: ${response.body}`);
        assert.deepEqual(response.json(), RESET_REQUIRED, `${route.method} ${route.url}`);
      }
      // Nothing was done on the caller's behalf: the session is still open.
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(u.access) })).statusCode, 200);
    });

    it('logout works with only the restricted access token', async () => {
      const u = await flagged();
      const response = await h.app.inject({ method: 'POST', url: '/auth/logout/', headers: bearer(u.access) });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(u.access) })).statusCode, 401);
    });

    it('changing the password lifts the restriction: unrestricted tokens, and the next login is normal', async () => {
      const u = await flagged();
      const changed = await h.app.inject({
        method: 'POST', url: '/auth/change-password/', headers: bearer(u.access), payload: { old_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      assert.equal(changed.statusCode, 200, changed.body);
      const { access } = changed.json();
      assert.equal(claimsOf(access).password_reset_required, undefined);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/sessions/', headers: bearer(access) })).statusCode, 200);
      const me = (await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) })).json();
      assert.equal(me.password_needs_reset, false);
      const again = await login(h, u.username, NEW_PASSWORD);
      const body = again as unknown as Record<string, unknown>;
      assert.equal(body.password_needs_reset, false);
      assert.equal('password_reset_url' in body, false);
      assert.equal(claimsOf(again.access).password_reset_required, undefined);
    });
  });

  describe(`forced reset needs a new password (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    it('the same password again is 400 under new_password; the flag and the restriction stay', async () => {
      const u = await createUser(h, { passwordNeedsReset: true });
      const { access } = await login(h, u.username);
      const same = await h.app.inject({
        method: 'POST', url: '/auth/change-password/', headers: bearer(access), payload: { old_password: PASSWORD, new_password: PASSWORD },
      });
      assert.equal(same.statusCode, 400, same.body);
      assert.deepEqual(same.json(), { new_password: ['The new password must be different from the old one.'] });
      const me = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.equal(me.json().password_needs_reset, true);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/sessions/', headers: bearer(access) })).statusCode, 403);
      const again = await login(h, u.username);
      assert.equal(claimsOf(again.access).password_reset_required, true);
      const fr = await h.app.inject({
        method: 'POST', url: '/auth/change-password/', headers: { ...bearer(access), 'accept-language': 'fr' }, payload: { old_password: PASSWORD, new_password: PASSWORD },
      });
      assert.deepEqual(fr.json(), { new_password: ['Le nouveau mot de passe doit être différent de l’ancien.'] });
    });
  });

  describe(`forced reset under another base path (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { AUTH_BASE_PATH: '/api/auth' } });
    });
    after(() => h.close());

    it('gives the reset URL under AUTH_BASE_PATH', async () => {
      const u = await createUser(h, { passwordNeedsReset: true });
      const response = await h.app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username: u.username, password: PASSWORD } });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().password_reset_url, '/api/auth/change-password/');
    });
  });
}
