/**
 * Latchkey mounted in a host application: the host's own routes, hooks, error
 * handler and 404 keep their behaviour, and Latchkey's routes answer under the
 * host's prefix with their own (with and without the trailing slash, though
 * this host's router tells them apart).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import { latchkey } from '../../src/index.ts';
import { PASSWORD, bearer, openTestStore, storeNames, testConfig, uniqueName, type StoreName } from '../support/harness.ts';

async function hostApp(auth: Auth): Promise<FastifyInstance> {
  const host = Fastify();
  host.addHook('onRequest', async (_request, reply) => {
    reply.header('x-host', 'yes');
  });
  host.setErrorHandler((error, _request, reply) => reply.code(418).send({ host_error: (error as Error).message }));
  host.get('/hello', async () => ({ hello: 'world' }));
  host.post('/echo', async (request) => ({ got: request.body }));
  host.get('/boom', async () => {
    throw new Error('host failure');
  });
  await host.register(latchkey, { auth, prefix: '/identity' });
  await host.ready();
  return host;
}

for (const name of storeNames() as StoreName[]) {
  describe(`the plugin in a host app (${name})`, () => {
    let store: Awaited<ReturnType<typeof openTestStore>>;
    let auth: Auth;
    let host: FastifyInstance;
    let username: string;

    before(async () => {
      store = await openTestStore(name);
      auth = createAuth(testConfig({ MFA_REQUIRED_ROLES: 'admin' }), { store });
      await auth.start();
      host = await hostApp(auth);
      username = uniqueName('host');
      await auth.createUser({ username, email: `${username}@example.com`, password: PASSWORD, passwordNeedsReset: true });
    });
    after(async () => {
      await host.close();
      await auth.stop();
      await store.drop();
    });

    it('a user still to enrol a required factor reaches the MFA routes under the prefix, and nothing else', async () => {
      const admin = uniqueName('host-admin');
      await auth.createUser({ username: admin, email: `${admin}@example.com`, password: PASSWORD, role: 'admin' });
      const logged = await host.inject({ method: 'POST', url: '/identity/auth/login/', payload: { username: admin, password: PASSWORD } });
      assert.equal(logged.json().mfa_enrollment_required, true);
      const access = logged.json().access as string;
      assert.equal((await host.inject({ method: 'GET', url: '/identity/auth/mfa/', headers: bearer(access) })).statusCode, 200);
      const started = await host.inject({ method: 'POST', url: '/identity/auth/mfa/totp/', headers: bearer(access), payload: { password: PASSWORD } });
      assert.equal(started.statusCode, 201, started.body);
      const sessions = await host.inject({ method: 'GET', url: '/identity/auth/sessions/', headers: bearer(access) });
      assert.deepEqual([sessions.statusCode, sessions.json().code], [403, 'mfa_enrollment_required']);
    });

    it('leaves the host’s routes, hooks, error handler and 404 as they were', async () => {
      const hello = await host.inject({ method: 'GET', url: '/hello' });
      assert.equal(hello.statusCode, 200);
      assert.deepEqual(hello.json(), { hello: 'world' });
      assert.equal(hello.headers['x-host'], 'yes');

      const boom = await host.inject({ method: 'GET', url: '/boom' });
      assert.equal(boom.statusCode, 418);
      assert.deepEqual(boom.json(), { host_error: 'host failure' });

      // Fastify's own 404, not Latchkey's DRF body; and the trailing slash is the host's business.
      for (const url of ['/nowhere', '/hello/']) {
        const missing = await host.inject({ method: 'GET', url });
        assert.equal(missing.statusCode, 404);
        assert.equal(missing.json().code, undefined);
        assert.equal(missing.json().error, 'Not Found');
      }
      // The host's JSON parser is untouched: an empty JSON body is Fastify's error here, an empty form in Latchkey.
      const echo = await host.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' });
      assert.deepEqual(echo.json(), { got: { a: 1 } });
    });

    it('answers its routes under the prefix, with and without the trailing slash, and runs the host’s hooks on them', async () => {
      for (const url of ['/identity/auth/login/', '/identity/auth/login', '/identity/api/token/']) {
        const response = await host.inject({ method: 'POST', url, payload: { username, password: PASSWORD } });
        assert.equal(response.statusCode, 200, url);
        assert.equal(response.headers['x-host'], 'yes');
        const body = response.json();
        // A forced reset points at change-password under the mount point.
        assert.equal(body.password_reset_url, '/identity/auth/change-password/');
        const me = await host.inject({ method: 'GET', url: '/identity/auth/me/', headers: bearer(body.access) });
        assert.equal(me.statusCode, 200);
        assert.equal(me.json().username, username);
      }
    });

    it('answers in DRF’s shapes under the prefix: 404, 405 with Allow, 400, 401', async () => {
      const missing = await host.inject({ method: 'GET', url: '/identity/nowhere/' });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.json(), { detail: 'Not found.', code: 'not_found' });

      const wrongMethod = await host.inject({ method: 'GET', url: '/identity/auth/login/' });
      assert.equal(wrongMethod.statusCode, 405);
      assert.equal(wrongMethod.headers.allow, 'POST, OPTIONS');
      assert.deepEqual(wrongMethod.json(), { detail: 'Method "GET" not allowed.', code: 'method_not_allowed' });

      const blank = await host.inject({ method: 'POST', url: '/identity/auth/login/', payload: { username: '' } });
      assert.equal(blank.statusCode, 400);
      assert.deepEqual(blank.json(), { username: ['This field may not be blank.'], password: ['This field is required.'] });

      const anonymous = await host.inject({ method: 'GET', url: '/identity/auth/me' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="api"');
      assert.deepEqual(anonymous.json(), { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
    });

    it('serves its OpenAPI document under the prefix, each route once', async () => {
      const response = await host.inject({ method: 'GET', url: '/identity/docs/openapi.json' });
      assert.equal(response.statusCode, 200);
      const paths = Object.keys(response.json().paths as Record<string, unknown>);
      assert.ok(paths.includes('/identity/auth/login/') || paths.includes('/identity/auth/login'), paths.join(' '));
      assert.equal(paths.some((path) => path === '/hello'), false, 'the host’s routes are not Latchkey’s to document');
      const login = paths.filter((path) => path.replace(/\/$/, '') === '/identity/auth/login');
      assert.equal(login.length, 1, login.join(' '));
    });
  });
}
