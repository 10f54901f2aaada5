/**
 * The signed-in account pages as served (SPEC §13): each path answers its page
 * with the same headers as the mailed-link pages (CSP, no Referer, nosniff),
 * in the language Accept-Language asks for, and the assets they load —
 * the view modules and the QR code library — are served as JavaScript.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { harness, storeNames, type Harness } from '../support/harness.ts';

const [store] = storeNames();

describe('account pages served', () => {
  let h: Harness;
  before(async () => {
    h = await harness(store!);
  });
  after(() => h.close());

  const settingsOf = (html: string) => JSON.parse(/name="latchkey-account" content="([^"]*)"/.exec(html)![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as Record<string, string>;
  const SAME = ['content-security-policy', 'referrer-policy', 'x-content-type-options', 'x-frame-options', 'cross-origin-resource-policy'];

  it('/account/, /account/security/ and /account/sessions/ (with or without the slash) serve their page with the headers of the other pages', async () => {
    const reference = await h.app.inject({ method: 'GET', url: '/account/forgot-password/' });
    assert.equal(reference.statusCode, 200);
    for (const [url, page] of [['/account/', 'home'], ['/account', 'home'], ['/account/security/', 'security'], ['/account/security', 'security'], ['/account/sessions/', 'sessions'], ['/account/sessions', 'sessions']] as const) {
      const response = await h.app.inject({ method: 'GET', url, headers: { 'accept-language': 'fr-CA,fr;q=0.9,en;q=0.5' } });
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(response.headers.vary, 'Accept-Language');
      for (const header of SAME) assert.equal(response.headers[header], reference.headers[header], `${url} ${header}`);
      assert.match(String(response.headers['content-security-policy']), /default-src 'none'.*script-src 'self'/);
      assert.equal(response.headers['referrer-policy'], 'no-referrer');
      assert.match(response.body, /<html lang="fr">/);
      assert.deepEqual(settingsOf(response.body), { baseUrl: '', authBasePath: '/auth', mode: 'header', page, lang: 'fr' });
    }
    assert.equal(settingsOf((await h.app.inject({ method: 'GET', url: '/account/' })).body).lang, 'en');
    assert.equal((await h.app.inject({ method: 'GET', url: '/account/nothing-here/' })).statusCode, 404);
  });

  it('the view modules and the QR code library are served as JavaScript modules', async () => {
    for (const file of ['account.js', 'page.js', 'signin.js', 'overview.js', 'security.js', 'sessions.js']) {
      const response = await h.app.inject({ method: 'GET', url: `/_latchkey/account/${file}` });
      assert.equal(response.statusCode, 200, file);
      assert.match(String(response.headers['content-type']), /^(text|application)\/javascript/);
    }
    const qr = await h.app.inject({ method: 'GET', url: '/_latchkey/account/qrcode.js' });
    assert.equal(qr.statusCode, 200);
    assert.equal(qr.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(qr.headers['x-content-type-options'], 'nosniff');
    assert.match(qr.body, /export\s*\{[^}]*as default/);
    assert.doesNotMatch(qr.body, /^import /m, 'one module with no imports');
  });
});
