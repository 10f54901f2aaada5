/**
 * CORS for CORS_ORIGINS: exact origins with credentials, preflights answered,
 * Vary: Origin, and nothing at all for an origin not listed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, harness, PASSWORD, storeNames, type Harness } from '../support/harness.ts';

const APP = 'http://app.example.test:5173';

for (const name of storeNames()) {
  describe(`CORS on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { AUTH_COOKIES: 'true', CORS_ORIGINS: `${APP},https://admin.example.test` } }); });
    after(() => h.close());

    const corsHeaders = (headers: Record<string, unknown>) => Object.keys(headers).filter((k) => k.startsWith('access-control-')).sort();

    it('a preflight from a listed origin is answered 204 with credentials, methods and the CSRF header allowed', async () => {
      const response = await h.app.inject({
        method: 'OPTIONS', url: '/auth/refresh/',
        headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-csrf-token' },
      });
      assert.equal(response.statusCode, 204);
      assert.equal(response.headers['access-control-allow-origin'], APP);
      assert.equal(response.headers['access-control-allow-credentials'], 'true');
      assert.equal(response.headers['access-control-allow-methods'], 'GET, HEAD, POST, PUT, PATCH, DELETE');
      assert.match(String(response.headers['access-control-allow-headers']), /x-csrf-token/i);
      assert.match(String(response.headers.vary), /Origin/);
    });

    it('an actual request from a listed origin gets its origin back, credentials allowed, Vary: Origin', async () => {
      const { username } = await createUser(h);
      const response = await h.app.inject({ method: 'POST', url: '/auth/login/', headers: { origin: APP }, payload: { username, password: PASSWORD } });
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['access-control-allow-origin'], APP);
      assert.equal(response.headers['access-control-allow-credentials'], 'true');
      assert.match(String(response.headers.vary), /Origin/);
    });

    it('origins match exactly: another port, scheme or a suffix gets no CORS header, preflight or not', async () => {
      for (const origin of ['http://app.example.test:5174', 'https://app.example.test:5173', 'http://app.example.test:5173.evil.test', 'null']) {
        const preflight = await h.app.inject({ method: 'OPTIONS', url: '/auth/login/', headers: { origin, 'access-control-request-method': 'POST' } });
        assert.deepEqual(corsHeaders(preflight.headers), [], origin);
        assert.notEqual(preflight.statusCode, 204);
        const get = await h.app.inject({ method: 'GET', url: '/healthz', headers: { origin } });
        assert.deepEqual(corsHeaders(get.headers), [], origin);
        assert.equal(get.statusCode, 200);
      }
    });

    it('without CORS_ORIGINS no route sends CORS headers and a preflight is not answered as one', async () => {
      const plain = await harness(name);
      try {
        const response = await plain.app.inject({ method: 'OPTIONS', url: '/auth/login/', headers: { origin: APP, 'access-control-request-method': 'POST' } });
        assert.deepEqual(corsHeaders(response.headers), []);
        // Not answered as a preflight: as DRF without CORS configured, OPTIONS is its metadata, which grants the browser nothing.
        assert.equal(response.statusCode, 200);
        assert.equal(response.json().name, 'Token Obtain Pair');
      } finally {
        await plain.close();
      }
    });
  });
}
