/**
 * The account pages in headless Chromium (playwright-core, Debian's chromium):
 * from "forgot password" to the mail delivered to a real SMTP server, its link
 * opened, a new password set and a sign-in with it; the verification page; both
 * in English and French. Screenshots of the PGlite run go to test-output/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createUser, harness, PASSWORD, storeNames, uniqueName, type Harness } from '../support/harness.ts';
import { CHROMIUM, ARGS, DOCS, missing, freePort } from '../support/browser.ts';
import { linkIn, mailEnv, startSmtp, type Inbox } from '../support/smtp.ts';

const NEW_PASSWORD = 'a brand new passphrase 42';

for (const name of storeNames()) {
  describe(`account pages in Chromium, on ${name}`, { skip: missing && 'chromium not installed' }, () => {
    let h: Harness;
    let inbox: Inbox;
    let browser: Browser;
    let base: string;
    const shot = (page: Page, file: string) => (name === 'pglite' ? page.screenshot({ path: `${DOCS}${file}.png`, fullPage: true }) : Promise.resolve());

    before(async () => {
      mkdirSync(DOCS, { recursive: true });
      inbox = await startSmtp();
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      h = await harness(name, { env: mailEnv(inbox, { PUBLIC_URL: base, EMAIL_VERIFICATION: 'optional' }), deps: { mailSender: { backoffMs: 100, maxBackoffMs: 400, pollMs: 100 } } });
      await h.app.listen({ host: '127.0.0.1', port });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    });
    after(async () => {
      await browser?.close();
      await h?.close();
      await inbox?.stop();
    });

    it('forgot password → mail → link → new password → sign in (English)', async () => {
      const u = await createUser(h);
      const context = await browser.newContext({ locale: 'en-US' });
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      try {
        assert.equal((await page.goto(`${base}/account/forgot-password/`))?.status(), 200);
        await page.locator('#forgot input[name="email"]').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Forgot your password?');
        await shot(page, 'account-1-forgot-password');
        await page.fill('#forgot input[name="email"]', u.email);
        await page.click('#forgot button[type="submit"]');
        await page.locator('#status.ok').waitFor();
        assert.match((await page.locator('#status').textContent()) ?? '', /a link is on its way/);
        await shot(page, 'account-2-link-sent');

        const link = linkIn(await inbox.waitFor((m) => m.subject === 'Reset your password' && (m.text ?? '').includes(`Hello ${u.username},`)));
        assert.ok(link.url.startsWith(`${base}/account/reset/`), link.url);
        const opened = await page.goto(link.url);
        assert.equal(opened?.status(), 200);
        assert.equal(opened?.headers()['referrer-policy'], 'no-referrer');
        await page.locator('#reset input[name="new_password"]').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Choose a new password');
        await page.fill('#reset input[name="new_password"]', '1234');
        await page.fill('#reset input[name="re_new_password"]', '1234');
        await page.click('#reset button[type="submit"]');
        await page.locator('#problems li').first().waitFor();
        assert.match((await page.locator('#problems').textContent()) ?? '', /too short/);
        await shot(page, 'account-3-new-password-refused');
        await page.fill('#reset input[name="new_password"]', NEW_PASSWORD);
        await page.fill('#reset input[name="re_new_password"]', NEW_PASSWORD);
        await page.click('#reset button[type="submit"]');
        await page.locator('#signin').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'Your password was changed. Sign in with it.');
        await page.fill('#signin input[name="username"]', u.username);
        await page.fill('#signin input[name="password"]', NEW_PASSWORD);
        await page.click('#signin button[type="submit"]');
        await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('Signed in as'));
        assert.equal(await page.locator('#status').textContent(), `Signed in as ${u.username}.`);
        await shot(page, 'account-4-signed-in');
        // The link is spent: opening it again says so before anything is typed.
        await page.goto(link.url);
        await page.locator('#status.error').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'This link is no longer valid. Ask for a new one.');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('French, and the verification page: a click confirms the address, opening the page alone does not', async () => {
      const username = uniqueName();
      const email = `${username}@example.com`;
      const registered = await h.app.inject({ method: 'POST', url: '/auth/register/', payload: { username, email, password: PASSWORD }, headers: { 'accept-language': 'fr' } });
      assert.equal(registered.statusCode, 201);
      const mail = await inbox.waitFor((m) => m.subject === 'Confirmez votre adresse électronique' && (m.text ?? '').includes(email));
      const link = linkIn(mail, '/account/verify-email/');
      const context = await browser.newContext({ locale: 'fr-FR' });
      const page = await context.newPage();
      try {
        await page.goto(link.url);
        await page.locator('#verify button').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Confirmez votre adresse électronique');
        await shot(page, 'account-5-verify-email-fr');
        const before = await h.store.db.selectFrom('users').select('email_verified').where('username', '=', username).executeTakeFirstOrThrow();
        assert.equal(before.email_verified, false, 'opening the page changed nothing');
        await page.click('#verify button');
        await page.locator('#status.ok').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'Votre adresse est confirmée.');
        await shot(page, 'account-6-verified-fr');
        const verified = await h.store.db.selectFrom('users').select('email_verified').where('username', '=', username).executeTakeFirstOrThrow();
        assert.equal(verified.email_verified, true);
        await page.goto(`${base}/account/forgot-password/`);
        await page.locator('#forgot').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Mot de passe oublié\u00a0?');
      } finally {
        await context.close();
      }
    });
  });
}
