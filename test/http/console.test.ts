/**
 * The admin console's page and assets as Latchkey serves them: exactly /admin/
 * (every other /admin/ path stays the JSON API), strict security headers, a
 * CSP the page satisfies (no inline script), the client bundle from memory.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { harness, storeNames, type Harness } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`the admin console on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { AUTH_COOKIES: 'true' } }); });
    after(() => h.close());

    it('GET /admin/ is the page, with strict headers and a CSP without inline script; /admin redirects to it', async () => {
      const page = await h.app.inject({ method: 'GET', url: '/admin/' });
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
      const csp = String(page.headers['content-security-policy']);
      for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) {
        assert.ok(csp.includes(directive), directive);
      }
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(page.headers['x-content-type-options'], 'nosniff');
      assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(page.headers['referrer-policy'], 'no-referrer');
      assert.equal(page.headers['cache-control'], 'no-store');
      assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
      assert.doesNotMatch(page.body, /\sstyle=|\son[a-z]+=/, 'no inline style or handler');
      assert.match(page.body, /<meta name="latchkey" content="\{&quot;baseUrl&quot;:&quot;&quot;,&quot;authBasePath&quot;:&quot;\/auth&quot;,&quot;mode&quot;:&quot;cookie&quot;\}">/);
      const bare = await h.app.inject({ method: 'GET', url: '/admin' });
      assert.deepEqual([bare.statusCode, bare.headers.location], [301, '/admin/']);
    });

    it('its script, style and the client bundle are served; the page is not served under another name', async () => {
      for (const [url, type] of [['/_latchkey/admin.js', 'text/javascript'], ['/_latchkey/admin.css', 'text/css'], ['/_latchkey/latchkey-client.js', 'text/javascript']] as const) {
        const response = await h.app.inject({ method: 'GET', url });
        assert.equal(response.statusCode, 200, url);
        assert.match(String(response.headers['content-type']), type === 'text/css' ? /^text\/css/ : /^(text|application)\/javascript/, url);
        assert.equal(response.headers['x-content-type-options'], 'nosniff');
      }
      assert.equal((await h.app.inject({ method: 'GET', url: '/_latchkey/index.html' })).statusCode, 404);
    });

    it('every other /admin/ path stays the JSON API', async () => {
      const users = await h.app.inject({ method: 'GET', url: '/admin/users/' });
      assert.deepEqual([users.statusCode, users.json().code], [401, 'not_authenticated']);
      const other = await h.app.inject({ method: 'GET', url: '/admin/index.html' });
      assert.equal(other.statusCode, 404);
      assert.equal(other.json().code, 'not_found');
    });
  });
}
