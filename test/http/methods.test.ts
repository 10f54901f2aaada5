/**
 * HTTP framing as DRF's (SPEC §3): authentication before the method check,
 * OPTIONS answered with DRF's metadata from the route schemas, and Allow on
 * every response of a route. Every store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NOT_AUTHENTICATED, bearer, createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

const PARSES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'];
const text = (label: string, required = true) => ({ type: 'string', required, read_only: false, label });

for (const name of storeNames()) {
  describe(`HTTP methods as DRF frames them (${name})`, () => {
    let h: Harness;
    let access: string;
    before(async () => {
      h = await harness(name);
      access = (await login(h, (await createUser(h)).username)).access;
    });
    after(() => h.close());

    describe('authentication before the method check', () => {
      it('POST /auth/me/ without a token → 401 not_authenticated; with one → 405', async () => {
        const anonymous = await h.app.inject({ method: 'POST', url: '/auth/me/' });
        assert.deepEqual([anonymous.statusCode, anonymous.json()], [401, NOT_AUTHENTICATED]);
        assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="api"');
        const signedIn = await h.app.inject({ method: 'PUT', url: '/auth/me/', headers: bearer(access) });
        assert.deepEqual([signedIn.statusCode, signedIn.json()], [405, { detail: 'Method "PUT" not allowed.', code: 'method_not_allowed' }]);
        assert.equal(signedIn.headers.allow, 'GET, PATCH, HEAD, OPTIONS');
      });

      it('a wrong method on an admin path is 401, then 403 for a non-admin, before 405', async () => {
        assert.equal((await h.app.inject({ method: 'PUT', url: '/admin/users/' })).statusCode, 401);
        assert.equal((await h.app.inject({ method: 'PUT', url: '/admin/users/', headers: bearer(access) })).statusCode, 403);
      });
    });

    describe('OPTIONS: DRF’s metadata', () => {
      it('login: SimpleJWT’s view name, docstring, parsers and the POST fields', async () => {
        const response = await h.app.inject({ method: 'OPTIONS', url: '/auth/login/' });
        assert.equal(response.statusCode, 200);
        assert.equal(response.headers.allow, 'POST, OPTIONS');
        assert.deepEqual(response.json(), {
          name: 'Token Obtain Pair',
          description: 'Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.',
          renders: ['application/json'],
          parses: PARSES,
          actions: { POST: { username: text('Username'), password: text('Password'), email: text('Email', false), device_token: { ...text('Device token', false), max_length: 128 } } },
        });
      });

      it('refresh, verify and logout under their aliases too', async () => {
        const refresh = (await h.app.inject({ method: 'OPTIONS', url: '/api/token/refresh/' })).json();
        assert.deepEqual([refresh.name, refresh.actions], ['Token Refresh', { POST: { refresh: text('Refresh'), access: { type: 'string', required: false, read_only: true, label: 'Access' } } }]);
        const verify = (await h.app.inject({ method: 'OPTIONS', url: '/auth/token/verify' })).json();
        assert.deepEqual([verify.name, verify.actions], ['Token Verify', { POST: { token: text('Token') } }]);
        const logout = (await h.app.inject({ method: 'OPTIONS', url: '/auth/token/blacklist/' })).json();
        assert.deepEqual([logout.name, logout.actions], ['Token Blacklist', { POST: { refresh: text('Refresh', false), refresh_token: text('Refresh token', false) } }]);
      });

      it('register lists max_length; a route without a POST body has no actions', async () => {
        const register = (await h.app.inject({ method: 'OPTIONS', url: '/auth/register/' })).json();
        assert.deepEqual(register.actions.POST.username, { ...text('Username'), max_length: 150 });
        const me = await h.app.inject({ method: 'OPTIONS', url: '/auth/me/', headers: bearer(access) });
        assert.equal(me.statusCode, 200);
        assert.equal(me.json().actions, undefined);
      });

      it('OPTIONS on an authenticated route authenticates first, as DRF does', async () => {
        const response = await h.app.inject({ method: 'OPTIONS', url: '/auth/me/' });
        assert.deepEqual([response.statusCode, response.json()], [401, NOT_AUTHENTICATED]);
      });

      it('an unknown path is still 404', async () => {
        assert.equal((await h.app.inject({ method: 'OPTIONS', url: '/auth/nowhere/' })).statusCode, 404);
      });
    });

    describe('Allow on every response of a route', () => {
      it('success and error alike', async () => {
        const me = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
        assert.deepEqual([me.statusCode, me.headers.allow], [200, 'GET, PATCH, HEAD, OPTIONS']);
        const verify = await h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: access } });
        assert.deepEqual([verify.statusCode, verify.headers.allow], [200, 'POST, OPTIONS']);
        const refused = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: {} });
        assert.deepEqual([refused.statusCode, refused.headers.allow], [400, 'POST, OPTIONS']);
        const anonymous = await h.app.inject({ method: 'GET', url: '/auth/me' });
        assert.deepEqual([anonymous.statusCode, anonymous.headers.allow], [401, 'GET, PATCH, HEAD, OPTIONS']);
      });
    });
  });
}
