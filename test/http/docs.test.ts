/**
 * /docs: the OpenAPI document validates as OpenAPI 3, describes every route's
 * answers and the bearer and cookie security schemes; the reference UI is served
 * locally, with no inline script, under the same CSP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { harness, storeNames, type Harness } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`/docs on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { AUTH_COOKIES: 'true' } }); });
    after(() => h.close());

    it('/docs/openapi.json validates as OpenAPI 3', async () => {
      const response = await h.app.inject({ method: 'GET', url: '/docs/openapi.json' });
      assert.equal(response.statusCode, 200);
      const validator = new Validator();
      const result = await validator.validate(response.json());
      assert.deepEqual(result.errors ?? [], [], String(JSON.stringify(result.errors)).slice(0, 2000));
      assert.equal(result.valid, true);
      assert.match(response.json().openapi, /^3\./);
    });

    it('every route has a success response schema, and authenticated routes name the bearer and cookie schemes', async () => {
      const doc = (await h.app.inject({ method: 'GET', url: '/docs/openapi.json' })).json();
      assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['bearerAuth', 'cookieAuth', 'csrfHeader']);
      assert.deepEqual(doc.components.securitySchemes.cookieAuth, { type: 'apiKey', in: 'cookie', name: 'access_token', description: 'Cookie mode (AUTH_COOKIES=true): the httpOnly access cookie' });
      const missing: string[] = [];
      let operations = 0;
      for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, { responses?: Record<string, unknown>; security?: unknown[] }>>)) {
        for (const [method, op] of Object.entries(item)) {
          operations += 1;
          const success = Object.keys(op.responses ?? {}).find((s) => /^2\d\d$/.test(s));
          if (!success) missing.push(`${method.toUpperCase()} ${path}`);
        }
      }
      assert.deepEqual(missing, []);
      assert.ok(operations >= 25, `${operations} operations`);
      assert.deepEqual(doc.paths['/auth/me'].get.security, [{ bearerAuth: [] }, { cookieAuth: [], csrfHeader: [] }]);
      assert.deepEqual(doc.paths['/auth/login'].post.security, []);
      assert.deepEqual(doc.paths['/admin/users/{id}/logout'].post.security, [{ bearerAuth: [] }, { cookieAuth: [], csrfHeader: [] }]);
      assert.ok(doc.paths['/admin/users'].get.responses['200']);
    });

    it('the reference UI is served from Latchkey itself: its page and assets, no CDN, no inline script, under the CSP', async () => {
      const page = await h.app.inject({ method: 'GET', url: '/docs/' });
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.doesNotMatch(page.body, /https?:\/\/(?!swagger\.io)/, 'no external URL');
      assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
      const csp = String(page.headers['content-security-policy']);
      assert.match(csp, /script-src 'self';/);
      assert.match(csp, /style-src 'self' 'unsafe-inline';/, 'Swagger UI injects styles; its pages alone allow them');
      const api = await h.app.inject({ method: 'GET', url: '/auth/me/' });
      assert.doesNotMatch(String(api.headers['content-security-policy']), /unsafe-inline/, 'other pages keep the strict policy');
      for (const asset of page.body.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)) {
        const url = new URL(asset[1]!, 'http://localhost/docs/').pathname;
        const response = await h.app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 200, url);
      }
    });
  });
}
