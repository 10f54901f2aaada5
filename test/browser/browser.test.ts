/**
 * Real-browser tests in headless Chromium (playwright-core, Debian's chromium):
 * the admin console (sign in, revoke a session, log everyone out and return to
 * sign-in) and a page on a second origin using latchkey/client in cookie mode
 * (sign in, one silent refresh through an access-token expiry, log out), refused
 * when its origin is not in CORS_ORIGINS; the console's "Reset second factor".
 * Screenshots go to test-output/ (the console's MFA reset to docs/screenshots/
 * with UPDATE_SCREENSHOTS=1, from the PGlite run).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bundleClient } from '../../src/http/console.ts';
import { createUser, harness, login, manualClock, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { CHROMIUM, ARGS, DOCS, missing } from '../support/browser.ts';

const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;

/** A page served from another origin: imports the client bundle and exposes a few calls to the test. */
const APP_HTML = `<!doctype html><meta charset="utf-8"><title>Second origin</title>
<h1>Shop</h1><p id="status">loading</p><script type="module" src="/app.js"></script>`;
const appJs = (apiBase: string) => `
import { LatchkeyClient } from '/latchkey-client.js';
const status = document.getElementById('status');
const client = new LatchkeyClient({ baseUrl: ${JSON.stringify(apiBase)}, mode: 'cookie', onSessionExpired: () => { status.textContent = 'session expired'; } });
window.app = {
  async login(username, password) {
    try { const body = await client.login(username, password); status.textContent = 'signed in as ' + body.user.username; return 'ok'; }
    catch (error) { status.textContent = 'refused: ' + error; return 'refused'; }
  },
  async me() { const me = await client.me(); status.textContent = 'hello ' + me.username; return me.username; },
  async logout() { await client.logout(); status.textContent = 'signed out'; },
};
status.textContent = 'ready';
`;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function secondOrigin(apiBase: string, bundle: string): Server {
  return createServer((request, response) => {
    const type = request.url === '/' ? 'text/html' : 'text/javascript';
    const body = request.url === '/' ? APP_HTML : request.url === '/app.js' ? appJs(apiBase) : request.url === '/latchkey-client.js' ? bundle : null;
    if (body === null) return response.writeHead(404).end();
    response.writeHead(200, { 'content-type': `${type}; charset=utf-8` }).end(body);
  });
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${OUTPUT}${name}.png`, fullPage: true });

for (const name of storeNames()) {
  describe(`in Chromium, on ${name}`, { skip: missing && 'chromium not installed' }, () => {
    const clock = manualClock(Date.now());
    let h: Harness;
    let browser: Browser;
    let api: string;
    let allowed: Server;
    let stranger: Server;
    let allowedUrl: string;
    let strangerUrl: string;

    before(async () => {
      mkdirSync(OUTPUT, { recursive: true });
      const bundle = await bundleClient();
      // The ports must be known before the server's CORS_ORIGINS is: listen first, then build the API.
      allowed = createServer();
      stranger = createServer();
      allowedUrl = `http://127.0.0.1:${await listen(allowed)}`;
      strangerUrl = `http://127.0.0.1:${await listen(stranger)}`;
      h = await harness(name, { clock, env: { AUTH_COOKIES: 'true', COOKIE_SECURE: 'false', CORS_ORIGINS: allowedUrl, ACCESS_TOKEN_LIFETIME: '5m' } });
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      api = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
      for (const server of [allowed, stranger]) server.on('request', secondOrigin(api, bundle).listeners('request')[0] as () => void);
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    });
    after(async () => {
      await browser?.close();
      allowed?.close();
      stranger?.close();
      await h?.close();
    });

    it('the console: sign in, revoke a session, log everyone out and return to sign-in', async () => {
      const admin = await createUser(h, { isStaff: true });
      await login(h, admin.username, PASSWORD, { 'user-agent': 'Other device' });
      const context = await browser.newContext();
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
      page.on('pageerror', (error) => errors.push(String(error)));
      try {
        const response = await page.goto(`${api}/admin/`);
        assert.equal(response?.status(), 200);
        await page.locator('#sign-in-form').waitFor();
        await shot(page, `${name}-console-1-sign-in`);
        await page.fill('input[name="username"]', admin.username);
        await page.fill('input[name="password"]', PASSWORD);
        await page.click('#sign-in-form button[type="submit"]');
        await page.locator('#sessions tr').nth(1).waitFor();
        assert.equal(await page.locator('#sessions tr').count(), 2);
        await shot(page, `${name}-console-2-sessions`);
        await page.click('#sessions button:has-text("Revoke")');
        await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1);
        assert.equal(await page.textContent('#sessions tr'), await page.locator('#sessions tr').first().textContent());
        assert.match(String(await page.textContent('#sessions tr')), /this session/);

        await page.click('nav [data-view="users"]');
        await page.locator(`#users tr[data-username="${admin.username}"]`).waitFor();
        await page.click('nav [data-view="audit"]');
        await page.locator('#audit tr').first().waitFor();
        await shot(page, `${name}-console-3-audit`);

        await page.click('nav [data-view="everyone"]');
        await page.click('#everyone-ask');
        await shot(page, `${name}-console-4-confirm`);
        await page.click('#everyone-yes');
        await page.locator('#sign-in').waitFor({ state: 'visible' });
        assert.equal(await page.isVisible('#console'), false);
        await shot(page, `${name}-console-5-signed-out`);
        assert.deepEqual(errors.filter((e) => !/401|Failed to load resource/.test(e)), [], 'no script or CSP error');
      } finally {
        await context.close();
      }
    });

    it('the console shows who has a second factor and resets it after a confirmation', async () => {
      // The previous test logged everyone out: tokens of that same second count as issued before it.
      clock.advance(1000);
      const admin = await createUser(h, { isStaff: true });
      const user = await createUser(h);
      // The user enrols TOTP through the API (a Bearer token: this server's login answers put tokens in cookies only).
      const session = (await h.auth.login({ identifier: user.username, password: PASSWORD }, { ip: null, userAgent: null })).tokens;
      const started = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/', headers: { authorization: `Bearer ${session.access}` }, payload: { password: PASSWORD } });
      assert.equal(started.statusCode, 201, started.body);
      const code = TOTP.generate({ secret: Secret.fromBase32(started.json().secret as string), timestamp: clock.now() });
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm/', headers: { authorization: `Bearer ${session.access}` }, payload: { code } })).statusCode, 200);
      const hasFactor = async () => (await h.store.db.selectFrom('user_mfa').select('user_id').where('user_id', '=', user.id).executeTakeFirst()) !== undefined;

      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      try {
        await page.goto(`${api}/admin/`);
        await page.fill('input[name="username"]', admin.username);
        await page.fill('input[name="password"]', PASSWORD);
        await page.click('#sign-in-form button[type="submit"]');
        await page.locator('#sessions tr').first().waitFor();
        await page.click('nav [data-view="users"]');
        const row = page.locator(`#users tr[data-username="${user.username}"]`);
        await row.waitFor();
        assert.equal(await row.locator('td.mfa-on').textContent(), 'yes');
        assert.equal(await page.locator(`#users tr[data-username="${admin.username}"] td.mfa-off`).textContent(), 'no');
        assert.equal(await page.locator(`#users tr[data-username="${admin.username}"] button:has-text("Reset second factor")`).count(), 0, 'not for users without a factor');

        if (name === 'pglite') await page.screenshot({ path: `${DOCS}admin-console-users-mfa.png` });
        // Cancel changes nothing.
        await row.locator('button:has-text("Reset second factor")').click();
        await page.locator('#mfa-reset-confirm').waitFor({ state: 'visible' });
        assert.equal(await page.textContent('#mfa-reset-user'), user.username);
        if (name === 'pglite') await page.screenshot({ path: `${DOCS}admin-console-mfa-reset.png` });
        await page.keyboard.press('Escape');
        await page.locator('#mfa-reset-confirm').waitFor({ state: 'hidden' });
        assert.equal(await hasFactor(), true, 'cancelled: the factor stays');

        await row.locator('button:has-text("Reset second factor")').click();
        await page.click('#mfa-reset-yes');
        await page.waitForFunction(() => /second factor removed/.test(document.getElementById('console-error')?.textContent ?? ''));
        assert.equal(await row.locator('td.mfa-off').textContent(), 'no');
        assert.equal(await row.locator('button:has-text("Reset second factor")').count(), 0);
        assert.equal(await hasFactor(), false);
        assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: { authorization: `Bearer ${session.access}` } })).statusCode, 401, "the user's sessions ended");
        await shot(page, `${name}-console-6-mfa-reset`);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('/docs renders the API reference from local assets, with no CSP violation', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
      page.on('request', (request) => { if (!request.url().startsWith(api) && !request.url().startsWith('data:')) problems.push(`external: ${request.url()}`); });
      try {
        await page.goto(`${api}/docs/`);
        await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
        assert.ok((await page.locator('.opblock').count()) >= 25);
        await shot(page, `${name}-docs`);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });

    it('a second origin signs in with latchkey/client in cookie mode, survives an expiry through one silent refresh, and logs out', async () => {
      const user = await createUser(h);
      const context = await browser.newContext();
      const page = await context.newPage();
      const refreshes: string[] = [];
      page.on('request', (request) => { if (new URL(request.url()).pathname === '/auth/refresh/' && request.method() === 'POST') refreshes.push(request.url()); });
      try {
        await page.goto(`${allowedUrl}/`);
        await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
        assert.equal(await page.evaluate(([u, p]) => (window as unknown as { app: { login(u: string, p: string): Promise<string> } }).app.login(u!, p!), [user.username, PASSWORD]), 'ok');
        assert.equal(await page.evaluate(() => (window as unknown as { app: { me(): Promise<string> } }).app.me()), user.username);
        const cookies = await context.cookies();
        assert.deepEqual(cookies.map((c) => c.name).sort(), ['access_token', 'csrf_token', 'refresh_token']);
        assert.equal(cookies.find((c) => c.name === 'access_token')!.httpOnly, true);
        await shot(page, `${name}-spa-1-signed-in`);

        clock.advance(5 * 60_000 + 1000);
        assert.equal(await page.evaluate(() => (window as unknown as { app: { me(): Promise<string> } }).app.me()), user.username);
        assert.equal(refreshes.length, 1, 'one silent refresh');

        await page.evaluate(() => (window as unknown as { app: { logout(): Promise<void> } }).app.logout());
        assert.deepEqual((await context.cookies()).map((c) => c.name), [], 'logout cleared the cookies');
        await shot(page, `${name}-spa-2-signed-out`);
      } finally {
        await context.close();
      }
    });

    it('the same page on an origin not in CORS_ORIGINS is refused', async () => {
      const user = await createUser(h);
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${strangerUrl}/`);
        await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
        assert.equal(await page.evaluate(([u, p]) => (window as unknown as { app: { login(u: string, p: string): Promise<string> } }).app.login(u!, p!), [user.username, PASSWORD]), 'refused');
        assert.match(String(await page.textContent('#status')), /refused: TypeError/);
        await shot(page, `${name}-spa-3-refused`);
      } finally {
        await context.close();
      }
    });
  });
}
