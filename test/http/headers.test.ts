/**
 * Responses browsers and proxies handle safely: Cache-Control: no-store where a
 * token or a profile is carried, nosniff everywhere, and absolute links that
 * never come from an unchecked Host header.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fastifyHelmet from '@fastify/helmet';
import Fastify from 'fastify';
import { CONTENT_SECURITY_POLICY } from '../../src/http/headers.ts';
import { bearer, createUser, harness, login, PASSWORD, storeNames, uniqueName, type Harness } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`safe response headers on ${name}`, () => {
    let h: Harness;
    let admin: { access: string; refresh: string };
    let user: { access: string; refresh: string };
    before(async () => {
      h = await harness(name);
      const staff = await createUser(h, { isStaff: true });
      admin = await login(h, staff.username);
      user = await login(h, (await createUser(h)).username);
    });
    after(() => h.close());

    it('every response that carries a token or a profile says Cache-Control: no-store, and nosniff', async () => {
      const someone = await createUser(h);
      const cases: Array<{ method: 'GET' | 'POST' | 'PATCH'; url: string; payload?: object; headers?: Record<string, string> }> = [
        { method: 'POST', url: '/auth/login/', payload: { username: someone.username, password: PASSWORD } },
        { method: 'POST', url: '/auth/refresh/', payload: { refresh: user.refresh } },
        { method: 'GET', url: '/auth/me/', headers: bearer(user.access) },
        { method: 'PATCH', url: '/auth/me/', headers: bearer(user.access), payload: { first_name: 'A' } },
        { method: 'GET', url: '/auth/sessions/', headers: bearer(admin.access) },
        { method: 'POST', url: '/auth/register/', payload: { username: uniqueName(), email: `${uniqueName()}@example.com`, password: 'a long enough passphrase' } },
        { method: 'GET', url: '/admin/users/', headers: bearer(admin.access) },
        { method: 'GET', url: `/admin/users/${someone.id}/`, headers: bearer(admin.access) },
      ];
      for (const request of cases) {
        const response = await h.app.inject(request);
        assert.ok(response.statusCode < 300, `${request.method} ${request.url}: ${response.statusCode} ${response.body}`);
        assert.equal(response.headers['cache-control'], 'no-store', `${request.method} ${request.url}`);
        assert.equal(response.headers['x-content-type-options'], 'nosniff', `${request.method} ${request.url}`);
      }
    });

    it('pages carry exactly the headers helmet sets per request with the same options (computed once here)', async () => {
      const reference = Fastify();
      await reference.register(fastifyHelmet, {
        global: true,
        contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
        crossOriginResourcePolicy: { policy: 'same-origin' },
      });
      reference.get('/', async () => ({}));
      const expected = (await reference.inject({ url: '/' })).headers;
      await reference.close();
      const names = Object.keys(expected).filter((name) => !['content-type', 'content-length', 'date', 'connection', 'keep-alive'].includes(name));
      assert.ok(names.includes('content-security-policy') && names.includes('strict-transport-security') && names.includes('referrer-policy'));
      for (const url of ['/admin/', '/account/', '/account/security/', '/_latchkey/admin.js', '/docs/openapi.json']) {
        const response = await h.app.inject({ url });
        assert.equal(response.statusCode, 200, url);
        for (const name of names) assert.equal(response.headers[name], expected[name], `${url}: ${name}`);
      }
    });

    it('JSON answers carry the headers that apply to a JSON body, and none of the page-only ones', async () => {
      const hsts = 'max-age=31536000; includeSubDomains';
      for (const [method, url, headers] of [['GET', '/auth/me/', bearer(user.access)], ['POST', '/auth/verify/', {}], ['GET', '/nowhere', {}], ['GET', '/auth/me/', {}]] as const) {
        const response = await h.app.inject({ method, url, headers, ...(method === 'POST' ? { payload: { token: user.access } } : {}) });
        assert.match(String(response.headers['content-type']), /^application\/json/, `${method} ${url}`);
        assert.equal(response.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none'", `${method} ${url}`);
        assert.equal(response.headers['x-content-type-options'], 'nosniff', `${method} ${url}`);
        assert.equal(response.headers['x-frame-options'], 'DENY', `${method} ${url}`);
        assert.equal(response.headers['cross-origin-resource-policy'], 'same-origin', `${method} ${url}`);
        assert.equal(response.headers['strict-transport-security'], hsts, `${method} ${url}`);
        assert.equal(response.headers['cache-control'], 'no-store', `${method} ${url}`);
        for (const name of ['referrer-policy', 'x-dns-prefetch-control', 'x-download-options', 'origin-agent-cluster', 'x-xss-protection']) {
          assert.equal(response.headers[name], undefined, `${method} ${url}: ${name}`);
        }
      }
    });

    it('errors, 404s and 405s carry nosniff and no-store too', async () => {
      for (const [method, url] of [['GET', '/nowhere'], ['GET', '/auth/login/'], ['GET', '/auth/me/'], ['POST', '/auth/login/']] as const) {
        const response = await h.app.inject({ method, url });
        assert.ok(response.statusCode >= 400);
        assert.equal(response.headers['x-content-type-options'], 'nosniff', `${method} ${url}`);
        assert.equal(response.headers['cache-control'], 'no-store', `${method} ${url}`);
      }
    });

    it('paging links are absolute for a localhost request, and relative for any other Host (never built from it)', async () => {
      const tag = uniqueName('paging');
      for (let i = 0; i < 3; i++) await createUser(h, { username: `${tag}_${i}` });
      const page = (host: string) => h.app.inject({ method: 'GET', url: `/admin/users/?page_size=1&search=${tag}`, headers: { ...bearer(admin.access), host } });
      assert.equal((await page('127.0.0.1:8000')).json().next, `http://127.0.0.1:8000/admin/users/?page=2&page_size=1&search=${tag}`);
      assert.equal((await page('localhost')).json().next, `http://localhost/admin/users/?page=2&page_size=1&search=${tag}`);
      for (const host of ['evil.example', 'localhost.evil.example', 'auth.example.com']) {
        assert.equal((await page(host)).json().next, `/admin/users/?page=2&page_size=1&search=${tag}`, host);
      }
    });
  });

  describe(`PUBLIC_URL on ${name}`, () => {
    it('absolute links start with PUBLIC_URL whatever the Host header says', async () => {
      const h = await harness(name, { env: { PUBLIC_URL: 'https://auth.example.com/' } });
      try {
        const staff = await createUser(h, { isStaff: true });
        const { access } = await login(h, staff.username);
        const tag = uniqueName('pub');
        for (let i = 0; i < 2; i++) await createUser(h, { username: `${tag}_${i}` });
        for (const host of ['evil.example', 'localhost']) {
          const response = await h.app.inject({ method: 'GET', url: `/admin/users/?page_size=1&search=${tag}`, headers: { ...bearer(access), host } });
          assert.equal(response.json().next, `https://auth.example.com/admin/users/?page=2&page_size=1&search=${tag}`);
        }
      } finally {
        await h.close();
      }
    });
  });
}
