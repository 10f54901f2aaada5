import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import { latchkey } from '../../src/http/plugin.ts';
import { ConfigError } from '../../src/errors.ts';
import { bearer, createUser, harness, openTestStore, PASSWORD, storeNames, testConfig, testPasswords, type Harness } from '../support/harness.ts';

const ALIASES = 'login:/api/token/both/,refresh:/api/token/access/,me:/api/whoami';

for (const name of storeNames()) {
  describe(`PATH_ALIASES on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { PATH_ALIASES: ALIASES } }); });
    after(() => h.close());

    it('logs in at an alias and refreshes at another, with and without the trailing slash', async () => {
      const { username } = await createUser(h);
      for (const url of ['/api/token/both/', '/api/token/both']) {
        const response = await h.app.inject({ method: 'POST', url, payload: { username, password: PASSWORD } });
        assert.equal(response.statusCode, 200, response.body);
        const { refresh } = response.json() as { refresh: string };
        for (const refreshUrl of ['/api/token/access/', '/api/token/access']) {
          const refreshed = await h.app.inject({ method: 'POST', url: refreshUrl, payload: { refresh } });
          assert.equal(refreshed.statusCode, 200, refreshed.body);
          assert.ok(typeof refreshed.json().access === 'string');
          // Rotation: the next round uses a fresh login, so the spent token is not replayed here.
          break;
        }
      }
    });

    it('answers exactly as the route: errors, Allow, 405, OPTIONS naming the SimpleJWT view', async () => {
      const bad = await h.app.inject({ method: 'POST', url: '/api/token/both/', payload: { username: 'nobody', password: 'x' } });
      const original = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'nobody', password: 'x' } });
      assert.deepEqual([bad.statusCode, bad.json()], [original.statusCode, original.json()]);
      assert.equal(bad.headers.allow, 'POST, OPTIONS');
      const get = await h.app.inject({ method: 'GET', url: '/api/token/access/' });
      assert.equal(get.statusCode, 405);
      assert.deepEqual(get.json(), { detail: 'Method "GET" not allowed.', code: 'method_not_allowed' });
      const options = await h.app.inject({ method: 'OPTIONS', url: '/api/token/access/' });
      assert.equal(options.statusCode, 200);
      assert.equal(options.json().name, 'Token Refresh');
      assert.deepEqual(options.json(), (await h.app.inject({ method: 'OPTIONS', url: '/auth/refresh/' })).json());
    });

    it('an alias of an authenticated route authenticates as the route does', async () => {
      const { username } = await createUser(h);
      const { access } = (await h.app.inject({ method: 'POST', url: '/api/token/both/', payload: { username, password: PASSWORD } })).json() as { access: string };
      assert.equal((await h.app.inject({ method: 'GET', url: '/api/whoami/' })).statusCode, 401);
      const me = await h.app.inject({ method: 'GET', url: '/api/whoami', headers: bearer(access) });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().username, username);
      // DRF authenticates before the method check: a wrong method with a token is 405.
      assert.equal((await h.app.inject({ method: 'POST', url: '/api/whoami/', headers: bearer(access) })).statusCode, 405);
    });

    it('the routes keep their own paths, and paths that are not aliases stay 404', async () => {
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: 'x' } })).statusCode, 401);
      assert.equal((await h.app.inject({ method: 'POST', url: '/api/token/bothx/', payload: {} })).statusCode, 404);
    });
  });
}

describe('PATH_ALIASES refused at start', () => {
  const attempt = async (value: string) => {
    const config = testConfig({ PATH_ALIASES: value });
    const store = await openTestStore('pglite');
    const auth = createAuth(config, { store, passwords: testPasswords() });
    try {
      await buildApp({ auth });
      return undefined;
    } catch (error) {
      return error;
    } finally {
      await store.drop();
    }
  };

  it('an unknown route name, naming the variable and the names there are', async () => {
    const error = await attempt('signin:/api/token/both/');
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.variable, 'PATH_ALIASES');
    assert.match(error.message, /"signin" is not a route name \(one of .*login.*refresh/);
  });

  it('a path another route already serves, or another alias', async () => {
    for (const value of ['login:/auth/refresh/', 'login:/api/token/refresh', 'login:/healthz', 'login:/a/,refresh:/a']) {
      const error = await attempt(value);
      assert.ok(error instanceof ConfigError, `${value}: ${String(error)}`);
      assert.match(error.message, /^PATH_ALIASES: \/.*\/ is already served by another route or alias$/);
    }
  });

  it('a malformed entry or path, when the configuration is read', () => {
    for (const value of ['login', 'login:api/x/', 'login:/api//x/', 'login:/api/:id/', 'login:/api/*', ':/x/', 'Login:/x/']) {
      assert.throws(() => testConfig({ PATH_ALIASES: value }), (error: unknown) => error instanceof ConfigError && error.variable === 'PATH_ALIASES', value);
    }
    assert.deepEqual(testConfig({ PATH_ALIASES: ' login:/api/token/both/ , refresh:/x ' }).pathAliases, [
      { name: 'login', path: '/api/token/both' },
      { name: 'refresh', path: '/x' },
    ]);
  });

  it('in a host app whose router tells /x from /x/, under a prefix, both forms answer', async () => {
    const config = testConfig({ PATH_ALIASES: 'login:/api/token/both/' });
    const store = await openTestStore('pglite');
    const auth = createAuth(config, { store, passwords: testPasswords() });
    await auth.start();
    const host = Fastify();
    await host.register(latchkey, { auth, prefix: '/identity' });
    await host.ready();
    try {
      await auth.createUser({ username: 'hosted', email: 'hosted@example.com', password: PASSWORD });
      for (const url of ['/identity/api/token/both/', '/identity/api/token/both']) {
        const response = await host.inject({ method: 'POST', url, payload: { username: 'hosted', password: PASSWORD } });
        assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      }
    } finally {
      await host.close();
      await auth.stop();
      await store.drop();
    }
  });
});
