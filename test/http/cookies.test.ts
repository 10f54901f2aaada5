/**
 * Cookie mode (SPEC §4): httpOnly token cookies, a readable CSRF cookie echoed
 * in X-CSRF-Token on every unsafe cookie-authenticated request, logout clearing
 * all three, and the settings that shape them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { createAuth } from '../../src/create-auth.ts';
import { ConfigError } from '../../src/errors.ts';
import { latchkey } from '../../src/http/plugin.ts';
import { bearer, createUser, harness, openTestStore, PASSWORD, storeNames, testConfig, type Harness } from '../support/harness.ts';

interface Cookie {
  name: string;
  value: string;
  path?: string;
  maxAge?: number;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: string;
  domain?: string;
  expires?: Date;
}

type Reply = Awaited<ReturnType<Harness['app']['inject']>>;

/** The Set-Cookie lines of a response, by cookie name. */
function cookiesOf(response: Reply): Map<string, Cookie> {
  return new Map((response.cookies as Cookie[]).map((c) => [c.name, c]));
}

/** A browser's Cookie header for the cookies set by `response`. */
function jar(response: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of cookiesOf(response).values()) if (c.value) out[c.name] = c.value;
  return out;
}

const CSRF_MISSING = { detail: 'CSRF Failed: CSRF token missing.', code: 'csrf_failed' };
const CSRF_INCORRECT = { detail: 'CSRF Failed: CSRF token incorrect.', code: 'csrf_failed' };

for (const name of storeNames()) {
  describe(`cookie mode on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { AUTH_COOKIES: 'true', ACCESS_TOKEN_LIFETIME: '5m', REFRESH_TOKEN_LIFETIME: '1d' } }); });
    after(() => h.close());

    const signIn = async () => {
      const { username, id } = await createUser(h);
      const response = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
      assert.equal(response.statusCode, 200, response.body);
      const cookies = jar(response);
      return { id, username, response, cookies, csrf: cookies.csrf_token! };
    };

    it('login sets access_token, refresh_token (scoped to the auth path) and a readable csrf_token, with the documented attributes', async () => {
      const { response } = await signIn();
      const set = cookiesOf(response);
      assert.deepEqual([...set.keys()].sort(), ['access_token', 'csrf_token', 'refresh_token']);
      const access = set.get('access_token')!;
      assert.deepEqual(
        { path: access.path, httpOnly: access.httpOnly, secure: access.secure, sameSite: access.sameSite, maxAge: access.maxAge },
        { path: '/', httpOnly: true, secure: true, sameSite: 'Lax', maxAge: 300 },
      );
      const refresh = set.get('refresh_token')!;
      assert.deepEqual(
        { path: refresh.path, httpOnly: refresh.httpOnly, secure: refresh.secure, sameSite: refresh.sameSite, maxAge: refresh.maxAge },
        { path: '/auth/', httpOnly: true, secure: true, sameSite: 'Lax', maxAge: 86400 },
      );
      const csrf = set.get('csrf_token')!;
      assert.equal(csrf.httpOnly, undefined, 'readable by the page');
      assert.match(csrf.value, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(csrf.domain, undefined);
    });

    it('token strings are left out of the body; the rest of the login body stays', async () => {
      const { response } = await signIn();
      const body = response.json();
      assert.equal(body.access, undefined);
      assert.equal(body.refresh, undefined);
      assert.ok(body.access_expires_at && body.refresh_expires_at && body.user.username);
    });

    it('the access cookie authenticates when no Authorization header is sent; safe methods need no CSRF header', async () => {
      const { cookies, username } = await signIn();
      const me = await h.app.inject({ method: 'GET', url: '/auth/me/', cookies });
      assert.deepEqual([me.statusCode, me.json().username], [200, username]);
      const none = await h.app.inject({ method: 'GET', url: '/auth/me/' });
      assert.equal(none.statusCode, 401);
    });

    it('an unsafe request authenticated by cookie without a matching X-CSRF-Token is 403 csrf_failed and changes nothing', async () => {
      const { cookies, csrf } = await signIn();
      const patch = (headers: Record<string, string>) =>
        h.app.inject({ method: 'PATCH', url: '/auth/me/', cookies, headers, payload: { first_name: 'Changed' } });
      const missing = await patch({});
      assert.deepEqual([missing.statusCode, missing.json()], [403, CSRF_MISSING]);
      const wrong = await patch({ 'x-csrf-token': `${csrf.slice(0, -1)}x` });
      assert.deepEqual([wrong.statusCode, wrong.json()], [403, CSRF_INCORRECT]);
      const noCookie = await h.app.inject({ method: 'PATCH', url: '/auth/me/', cookies: { access_token: cookies.access_token! }, headers: { 'x-csrf-token': csrf }, payload: { first_name: 'Changed' } });
      assert.deepEqual([noCookie.statusCode, noCookie.json()], [403, { detail: 'CSRF Failed: CSRF cookie not set.', code: 'csrf_failed' }]);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', cookies })).json().first_name, '', 'nothing changed');
      const good = await patch({ 'x-csrf-token': csrf });
      assert.deepEqual([good.statusCode, good.json().first_name], [200, 'Changed']);
    });

    it('French: the CSRF failure in French, the code unchanged', async () => {
      const { cookies } = await signIn();
      const response = await h.app.inject({ method: 'POST', url: '/auth/logout-all/', cookies, headers: { 'accept-language': 'fr' } });
      assert.deepEqual([response.statusCode, response.json()], [403, { detail: 'Échec de la vérification CSRF\u00a0: jeton CSRF manquant.', code: 'csrf_failed' }]);
    });

    it('a Bearer token needs no CSRF header, cookies or not', async () => {
      const { username } = await createUser(h);
      const login = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
      const { access_token } = jar(login);
      const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', headers: bearer(access_token!), payload: { last_name: 'B' } });
      assert.equal(response.statusCode, 200);
    });

    it('refresh takes the refresh cookie (with the CSRF header) and sets new cookies; without the header it is 403 and the token is not spent', async () => {
      const { cookies, csrf } = await signIn();
      const refused = await h.app.inject({ method: 'POST', url: '/auth/refresh/', cookies });
      assert.deepEqual([refused.statusCode, refused.json()], [403, CSRF_MISSING]);
      const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', cookies, headers: { 'x-csrf-token': csrf } });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      const body = refreshed.json();
      assert.deepEqual(Object.keys(body).sort(), ['access_expires_at', 'refresh_expires_at']);
      const next = jar(refreshed);
      assert.ok(next.access_token && next.refresh_token && next.access_token !== cookies.access_token && next.refresh_token !== cookies.refresh_token);
      assert.equal(next.csrf_token, csrf, 'the CSRF token is kept, so other tabs keep working');
      // The refused attempt spent nothing: the first refresh rotated normally (no reuse), and the new pair works.
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', cookies: next })).statusCode, 200);
    });

    it('refresh takes a token from the body first, and then needs no CSRF header', async () => {
      const { username } = await createUser(h);
      const login = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
      const { refresh_token } = jar(login);
      const response = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: refresh_token } });
      assert.equal(response.statusCode, 200);
      assert.ok(jar(response).access_token);
      const neither = await h.app.inject({ method: 'POST', url: '/auth/refresh/' });
      assert.deepEqual([neither.statusCode, neither.json()], [400, { refresh: ['This field is required.'] }]);
    });

    it('logout by cookie needs the CSRF header, ends the session and clears all three cookies', async () => {
      const { cookies, csrf } = await signIn();
      const refused = await h.app.inject({ method: 'POST', url: '/auth/logout/', cookies });
      assert.deepEqual([refused.statusCode, refused.json()], [403, CSRF_MISSING]);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', cookies })).statusCode, 200, 'still signed in');
      const out = await h.app.inject({ method: 'POST', url: '/auth/logout/', cookies, headers: { 'x-csrf-token': csrf } });
      assert.deepEqual([out.statusCode, out.json()], [200, {}]);
      const cleared = cookiesOf(out);
      for (const [cookie, path] of [['access_token', '/'], ['refresh_token', '/auth/'], ['csrf_token', '/']] as const) {
        const c = cleared.get(cookie)!;
        assert.deepEqual([c.value, c.maxAge, c.path, c.expires?.getTime()], ['', 0, path, 0], cookie);
      }
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', cookies })).statusCode, 401, 'the old access cookie is refused at once');
    });

    it('logout with only the access cookie (no refresh cookie) ends that session', async () => {
      const { cookies, csrf } = await signIn();
      const only = { access_token: cookies.access_token!, csrf_token: csrf };
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/logout/', cookies: only })).statusCode, 403);
      const out = await h.app.inject({ method: 'POST', url: '/auth/logout/', cookies: only, headers: { 'x-csrf-token': csrf } });
      assert.equal(out.statusCode, 200);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', cookies })).statusCode, 401);
    });

    it('admin routes and session deletion need the CSRF header too', async () => {
      const { username } = await createUser(h, { isStaff: true });
      const login = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
      const cookies = jar(login);
      const list = await h.app.inject({ method: 'GET', url: '/admin/users/', cookies });
      assert.equal(list.statusCode, 200);
      const refused = await h.app.inject({ method: 'POST', url: '/admin/invalidate-all-tokens/', cookies });
      assert.deepEqual([refused.statusCode, refused.json()], [403, CSRF_MISSING]);
      const sessions = (await h.app.inject({ method: 'GET', url: '/auth/sessions/', cookies })).json() as Array<{ id: string }>;
      const del = await h.app.inject({ method: 'DELETE', url: `/auth/sessions/${sessions[0]!.id}/`, cookies });
      assert.equal(del.statusCode, 403);
    });

    it('change-password sets fresh cookies and keeps tokens out of the body', async () => {
      const { cookies, csrf } = await signIn();
      const response = await h.app.inject({
        method: 'POST', url: '/auth/change-password/', cookies, headers: { 'x-csrf-token': csrf },
        payload: { old_password: PASSWORD, new_password: 'a brand new passphrase 42' },
      });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(Object.keys(response.json()).sort(), ['access_expires_at', 'refresh_expires_at']);
      assert.ok(jar(response).access_token);
    });
  });

  describe(`cookie settings on ${name}`, () => {
    it('COOKIE_SECURE=false, COOKIE_SAMESITE=Strict, COOKIE_DOMAIN and COOKIE_BODY_TOKENS=true shape the cookies and the body', async () => {
      const h = await harness(name, { env: { ENABLE_JWT_AUTH: 'true', COOKIE_SECURE: 'false', COOKIE_SAMESITE: 'strict', COOKIE_DOMAIN: 'example.com', COOKIE_BODY_TOKENS: 'true', AUTH_BASE_PATH: '/api/auth' } });
      try {
        const { username } = await createUser(h);
        const response = await h.app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username, password: PASSWORD } });
        const set = cookiesOf(response);
        for (const c of set.values()) assert.deepEqual([c.secure, c.sameSite, c.domain], [undefined, 'Strict', 'example.com'], c.name);
        assert.equal(set.get('refresh_token')!.path, '/api/auth/');
        assert.equal(response.json().access, set.get('access_token')!.value, 'tokens in the body too');
      } finally {
        await h.close();
      }
    });

    it('cookies off (the default): no cookies set, and an access cookie is ignored', async () => {
      const h = await harness(name);
      try {
        const { username } = await createUser(h);
        const response = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
        assert.equal(response.headers['set-cookie'], undefined);
        const me = await h.app.inject({ method: 'GET', url: '/auth/me/', cookies: { access_token: response.json().access } });
        assert.equal(me.statusCode, 401);
      } finally {
        await h.close();
      }
    });

    it('mounted under a prefix, the refresh cookie is scoped to the prefixed auth path', async () => {
      const store = await openTestStore(name);
      const auth = createAuth(testConfig({ AUTH_COOKIES: 'true' }), { store });
      await auth.start();
      const host = Fastify();
      await host.register(latchkey, { auth, prefix: '/identity' });
      try {
        const { username } = await createUser({ auth } as Harness);
        const response = await host.inject({ method: 'POST', url: '/identity/auth/login/', payload: { username, password: PASSWORD } });
        assert.equal(cookiesOf(response as unknown as Reply).get('refresh_token')!.path, '/identity/auth/');
        const cookies = jar(response as unknown as Reply);
        const refreshed = await host.inject({ method: 'POST', url: '/identity/auth/refresh/', cookies, headers: { 'x-csrf-token': cookies.csrf_token! } });
        assert.equal(refreshed.statusCode, 200);
      } finally {
        await host.close();
        await auth.stop();
        await store.drop();
      }
    });
  });
}

describe('cookie settings at start-up', () => {
  it('COOKIE_SAMESITE=None without Secure is a start-up error naming the variable', () => {
    assert.throws(() => loadConfig({ AUTH_COOKIES: 'true', COOKIE_SAMESITE: 'None', COOKIE_SECURE: 'false' }), (e: unknown) => e instanceof ConfigError && e.variable === 'COOKIE_SAMESITE');
    assert.equal(loadConfig({ COOKIE_SAMESITE: 'None' }).cookieSameSite, 'None');
  });

  it('ENABLE_JWT_AUTH is an alias of AUTH_COOKIES; AUTH_COOKIES wins when both are set', () => {
    assert.equal(loadConfig({}).authCookies, false);
    assert.equal(loadConfig({ ENABLE_JWT_AUTH: 'true' }).authCookies, true);
    assert.equal(loadConfig({ AUTH_COOKIES: 'false', ENABLE_JWT_AUTH: 'true' }).authCookies, false);
    assert.throws(() => loadConfig({ ENABLE_JWT_AUTH: 'maybe' }), (e: unknown) => e instanceof ConfigError && e.variable === 'ENABLE_JWT_AUTH');
  });

  it('bad COOKIE_SAMESITE, COOKIE_DOMAIN, CORS_ORIGINS and PUBLIC_URL values name their variable', () => {
    for (const [variable, value] of [['COOKIE_SAMESITE', 'sometimes'], ['COOKIE_DOMAIN', 'a b'], ['CORS_ORIGINS', 'https://a.example/path'], ['PUBLIC_URL', 'ftp://x']]) {
      assert.throws(() => loadConfig({ [variable!]: value }), (e: unknown) => e instanceof ConfigError && e.variable === variable, variable);
    }
  });
});
