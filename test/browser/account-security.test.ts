/**
 * The signed-in account pages in headless Chromium (SPEC §12, §13): sign in,
 * enrol TOTP from the QR page (the code computed here from the key the page
 * shows), the recovery codes shown once and printed alone, the two-step
 * sign-in with a code and with a recovery code (once), new codes, removal;
 * the sessions page in French, ending another device and all the others; and
 * a whole sign-in driven by the keyboard alone. Screenshots of the PGlite run
 * go to test-output/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import qrcode from 'qrcode-generator';
import { bearer, createUser, harness, login, manualClock, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { CHROMIUM, ARGS, DOCS, missing, freePort } from '../support/browser.ts';

const STEP_MS = 30_000;

const codeAt = (secret: string, at: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });

for (const name of storeNames()) {
  describe(`account security and sessions pages in Chromium, on ${name}`, { skip: missing && 'chromium not installed' }, () => {
    // A few seconds into a step; each code the test types comes from a later step than the one before (a code is accepted once).
    const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
    let h: Harness;
    let browser: Browser;
    let base: string;
    const shot = (page: Page, file: string) => (name === 'pglite' ? page.screenshot({ path: `${DOCS}${file}.png`, fullPage: true }) : Promise.resolve());
    const nextCode = (secret: string) => {
      clock.advance(STEP_MS);
      return codeAt(secret, clock.now());
    };

    before(async () => {
      mkdirSync(DOCS, { recursive: true });
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      h = await harness(name, { clock, env: { PUBLIC_URL: base, ACCESS_TOKEN_LIFETIME: '1h' } });
      await h.app.listen({ host: '127.0.0.1', port });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    });
    after(async () => {
      await browser?.close();
      await h?.close();
    });

    /** A page of a new context in `locale`; page errors and every requested URL are recorded. */
    async function open(locale: string): Promise<{ context: BrowserContext; page: Page; errors: string[]; requests: string[] }> {
      const context = await browser.newContext({ locale, viewport: { width: 900, height: 800 } });
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      page.on('request', (request) => requests.push(`${request.method()} ${request.url()} ${request.postData() ?? ''}`));
      return { context, page, errors, requests };
    }

    async function signIn(page: Page, username: string) {
      await page.locator('#signin input[name="username"]').waitFor();
      await page.fill('#signin input[name="username"]', username);
      await page.fill('#signin input[name="password"]', PASSWORD);
      await page.click('#signin button[type="submit"]');
    }

    async function secondStep(page: Page, field: 'code' | 'recovery_code', value: string) {
      await page.locator(`#second-step input[name="${field}"]`).waitFor();
      await page.fill(`#second-step input[name="${field}"]`, value);
      await page.click('#second-step button[type="submit"]');
    }

    const overviewHeading = (page: Page, username: string) => page.locator('#view h2', { hasText: `Signed in as ${username}` }).waitFor();

    /** A user who enrolled TOTP over HTTP; the clock is past the enrolment code. */
    async function enrolledOverHttp() {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const started = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/', payload: { password: PASSWORD }, headers: bearer(session.access) });
      const secret = started.json().secret as string;
      const confirmed = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm/', payload: { code: nextCode(secret) }, headers: bearer(session.access) });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      return { ...u, secret, recoveryCodes: confirmed.json().recovery_codes as string[] };
    }

    it('sign in, enrol TOTP from the QR page, recovery codes once, two-step sign-in with a code and a recovery code, new codes, removal (English)', async () => {
      const u = await createUser(h);
      const { context, page, errors, requests } = await open('en-US');
      try {
        const served = await page.goto(`${base}/account/`);
        assert.equal(served?.status(), 200);
        assert.equal(served?.headers()['referrer-policy'], 'no-referrer');
        assert.match(served?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
        await page.locator('#signin').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Sign in');
        await signIn(page, u.username);
        await overviewHeading(page, u.username);
        assert.equal(await page.locator('h1').textContent(), 'Your account');
        assert.deepEqual(await page.locator('.sections a').evaluateAll((links) => links.map((a) => (a as HTMLAnchorElement).pathname)),
          ['/account/security/', '/account/passkeys/', '/account/sessions/']);

        await page.click('.sections a[href$="/security/"]');
        await page.locator('#view h2', { hasText: 'Two-step verification is off' }).waitFor();
        await page.fill('#totp-start input[name="password"]', 'not the password');
        await page.click('#totp-start button');
        await page.locator('#status.error').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'Invalid password.');
        await page.fill('#totp-start input[name="password"]', PASSWORD);
        const enrolment = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/auth/mfa/totp/');
        await page.click('#totp-start button');
        const { otpauth_url } = (await (await enrolment).json()) as { otpauth_url: string };
        await page.locator('#view h2', { hasText: 'Scan this QR code' }).waitFor();
        assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Scan this QR code', 'the focus moved to the new step');
        const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s+/g, '');
        assert.match(secret, /^[A-Z2-7]{32}$/);
        // The QR code is drawn in the page: an SVG of at least version 4's 33 modules, plus the quiet zone.
        const qr = await page.locator('svg.qr').evaluate((svg) => ({ viewBox: svg.getAttribute('viewBox'), label: svg.getAttribute('aria-label'), modules: (svg.querySelector('path')?.getAttribute('d')?.match(/M/g) ?? []).length }));
        assert.equal(qr.label, 'QR code for your authenticator app');
        assert.ok(Number(qr.viewBox?.split(' ')[2]) >= 33 + 8, String(qr.viewBox));
        assert.ok(qr.modules > 300, String(qr.modules));
        // And it is the otpauth URL's: the same modules as the URL encoded here.
        const expected = qrcode(0, 'M');
        expected.addData(otpauth_url);
        expected.make();
        let d = '';
        for (let row = 0; row < expected.getModuleCount(); row += 1) for (let col = 0; col < expected.getModuleCount(); col += 1) if (expected.isDark(row, col)) d += `M${col + 4} ${row + 4}h1v1h-1z`;
        assert.equal(await page.locator('svg.qr path').getAttribute('d'), d);
        assert.ok(otpauth_url.includes(`secret=${secret}`));
        await shot(page, 'account-7-security-qr');

        await page.fill('#totp-confirm input[name="code"]', nextCode(secret));
        await page.click('#totp-confirm button');
        await page.locator('#recovery-codes li').first().waitFor();
        const codes = await page.locator('#recovery-codes code').allTextContents();
        assert.equal(codes.length, 10);
        assert.ok(codes.every((code) => /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code)), codes.join(' '));
        assert.equal(new Set(codes).size, 10);
        assert.equal(await page.locator('#status').textContent(), 'Two-step verification is on.');
        await shot(page, 'account-8-recovery-codes');
        // Print: the button prints, and the print stylesheet shows the codes alone.
        await page.evaluate(() => {
          (window as unknown as { printed: number }).printed = 0;
          window.print = () => { (window as unknown as { printed: number }).printed += 1; };
        });
        await page.click('#print-codes');
        assert.equal(await page.evaluate(() => (window as unknown as { printed: number }).printed), 1);
        await page.emulateMedia({ media: 'print' });
        assert.equal(await page.locator('h1').isVisible(), false);
        assert.equal(await page.locator('#print-codes').isVisible(), false);
        assert.equal(await page.locator('#status').isVisible(), false);
        assert.equal(await page.locator('#recovery-codes').isVisible(), true);
        await page.emulateMedia({ media: 'screen' });
        // The secret went to no URL: only the enrolment answer carried it.
        assert.deepEqual(requests.filter((line) => line.includes(secret)), []);

        await page.click('#codes-saved');
        await page.locator('#view h2', { hasText: 'Two-step verification is on' }).waitFor();
        assert.match((await page.locator('#view > p').first().textContent()) ?? '', /Recovery codes left: 10\./);
        await page.reload();
        await page.locator('#view h2', { hasText: 'Two-step verification is on' }).waitFor();
        assert.equal(await page.locator('#recovery-codes').count(), 0, 'the codes are shown once');

        // Sign out, then the two steps: a wrong code, then the app's next one.
        await page.goto(`${base}/account/`);
        await page.click('#sign-out');
        await page.locator('#signin').waitFor();
        assert.equal(await page.evaluate(() => sessionStorage.getItem('latchkey.account')), null);
        await signIn(page, u.username);
        await page.locator('#second-step input[name="code"]').waitFor();
        assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name), 'code');
        assert.equal(await page.locator('#signin').isVisible(), false);
        const right = nextCode(secret);
        await secondStep(page, 'code', right === '000000' ? '111111' : '000000');
        await page.locator('#status.error').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'Invalid code. 4 attempts left.');
        await secondStep(page, 'code', right);
        await overviewHeading(page, u.username);

        // A recovery code works once.
        await page.click('#sign-out');
        await signIn(page, u.username);
        await page.click('#switch-method');
        await secondStep(page, 'recovery_code', codes[0]!);
        await overviewHeading(page, u.username);
        await page.click('#sign-out');
        await signIn(page, u.username);
        await page.click('#switch-method');
        await secondStep(page, 'recovery_code', codes[0]!);
        await page.locator('#status.error').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'Invalid code. 4 attempts left.');
        await page.click('#switch-method');
        await secondStep(page, 'code', nextCode(secret));
        await overviewHeading(page, u.username);

        // New codes with a current code, then removal.
        await page.goto(`${base}/account/security/`);
        await page.locator('#view h2', { hasText: 'Two-step verification is on' }).waitFor();
        assert.match((await page.locator('#view > p').first().textContent()) ?? '', /Recovery codes left: 9\./);
        await page.fill('#regenerate input[name="code"]', nextCode(secret));
        await page.click('#regenerate button');
        await page.locator('#recovery-codes li').first().waitFor();
        const fresh = await page.locator('#recovery-codes code').allTextContents();
        assert.equal(fresh.length, 10);
        assert.equal(fresh.filter((code) => codes.includes(code)).length, 0);
        await page.click('#codes-saved');
        await page.locator('#disable').waitFor();
        await page.fill('#disable input[name="code"]', nextCode(secret));
        await page.click('#disable button');
        await page.locator('#view h2', { hasText: 'Two-step verification is off' }).waitFor();
        assert.equal(await page.locator('#status').textContent(), 'Two-step verification is off.');
        const status = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } });
        assert.equal(status.statusCode, 200, 'one step again');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('sessions in French: this device marked, another ended (its refresh then fails), all the others, then everywhere', async () => {
      const u = await createUser(h);
      const loginOverHttp = async (userAgent: string) => {
        const response = await fetch(`${base}/auth/login/`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': userAgent }, body: JSON.stringify({ username: u.username, password: PASSWORD }) });
        assert.equal(response.status, 200);
        return (await response.json()) as { refresh: string };
      };
      const refresh = (token: string) => fetch(`${base}/auth/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: token }) });
      const phone = await loginOverHttp('Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1');
      clock.advance(60_000);
      const { context, page, errors } = await open('fr-FR');
      try {
        await page.goto(`${base}/account/sessions/`);
        await page.locator('#signin').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Connexion');
        await signIn(page, u.username);
        await page.locator('#sessions li').nth(1).waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Appareils et sessions');
        assert.equal(await page.locator('#view h2').textContent(), 'Connecté sur 2 appareils');
        const current = page.locator('#sessions li.current');
        assert.equal(await current.count(), 1);
        assert.match((await current.textContent()) ?? '', /Chrome sur Linux.*Cet appareil/);
        assert.equal(await page.locator('#sessions li').first().getAttribute('class'), 'session current', 'this device first');
        const other = page.locator('#sessions li:not(.current)');
        assert.match((await other.textContent()) ?? '', /Safari sur iOS.*depuis 127\.0\.0\.1/);
        assert.match((await other.locator('button').getAttribute('aria-label')) ?? '', /^Fermer la session de Safari sur iOS, connectée le /);
        await shot(page, 'account-9-sessions-fr');

        assert.equal((await refresh(phone.refresh)).status, 200, 'the phone can refresh before');
        const phoneNow = (await (await refresh(phone.refresh)).json()) as { refresh?: string };
        await other.locator('button').click();
        await page.locator('#status.ok').waitFor();
        assert.equal(await page.locator('#status').textContent(), 'La session a été fermée.');
        assert.equal(await page.locator('#sessions li').count(), 1);
        assert.equal(await page.locator('#view p.hint').textContent(), 'Aucun autre appareil n’est connecté.');
        const ended = await refresh(phoneNow.refresh ?? phone.refresh);
        assert.equal(ended.status, 401);
        assert.equal(((await ended.json()) as { code: string }).code, 'token_not_valid');

        // End all the others, one request per session; this one stays.
        const laptops = [await loginOverHttp('curl/8.5.0'), await loginOverHttp('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0')];
        await page.reload();
        await page.locator('#sessions li').nth(2).waitFor();
        await page.click('#end-others');
        await page.waitForFunction(() => document.getElementById('status')?.textContent === 'Toutes les autres sessions ont été fermées.');
        assert.equal(await page.locator('#sessions li').count(), 1);
        for (const laptop of laptops) assert.equal((await refresh(laptop.refresh)).status, 401);

        // Everywhere: logout-all ends this session too, and the page asks to sign in again.
        const mine = await page.evaluate(() => JSON.parse(sessionStorage.getItem('latchkey.account') ?? 'null') as { refresh: string } | null);
        assert.ok(mine?.refresh);
        await page.click('#sign-out-everywhere');
        await page.locator('#signin').waitFor();
        assert.equal((await refresh(mine.refresh)).status, 401);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('cookie mode (AUTH_COOKIES): the two-step sign-in, the session list and sign-out work on the httpOnly cookies, nothing in storage', async () => {
      const port = await freePort();
      const cookieBase = `http://127.0.0.1:${port}`;
      const c = await harness(name, { clock, store: h.store, env: { PUBLIC_URL: cookieBase, AUTH_COOKIES: 'true', COOKIE_SECURE: 'false', ACCESS_TOKEN_LIFETIME: '1h' } });
      await c.app.listen({ host: '127.0.0.1', port });
      const u = await enrolledOverHttp();
      const { context, page, errors } = await open('en-US');
      try {
        await page.goto(`${cookieBase}/account/sessions/`);
        await signIn(page, u.username);
        // Five wrong codes burn the mfa_token: back to the password, which is asked again.
        const right = nextCode(u.secret);
        const wrong = right === '000000' ? '111111' : '000000';
        for (const left of [4, 3, 2, 1]) {
          await secondStep(page, 'code', wrong);
          await page.waitForFunction((text) => document.getElementById('status')?.textContent === text, `Invalid code. ${left === 1 ? 'One attempt left.' : `${left} attempts left.`}`);
        }
        await secondStep(page, 'code', wrong);
        await page.waitForFunction(() => document.getElementById('status')?.textContent === 'Too many wrong codes. Enter your password again.');
        assert.equal(await page.locator('#second-step').count(), 0);
        assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name), 'password');
        await signIn(page, u.username);
        await secondStep(page, 'code', right);
        await page.locator('#sessions li.current').waitFor();
        const cookies = await context.cookies();
        assert.ok(cookies.some((cookie) => cookie.name === 'access_token' && cookie.httpOnly));
        assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the tokens stay in the cookies');
        // This one and the session that enrolled over HTTP (raised to aal2 by the confirmation, not ended).
        assert.equal(await page.locator('#sessions li').count(), 2);
        assert.equal(await page.locator('#sessions li.current').count(), 1);
        await page.goto(`${cookieBase}/account/`);
        await page.click('#sign-out');
        await page.locator('#signin').waitFor();
        assert.equal((await context.cookies()).some((cookie) => cookie.name === 'access_token'), false);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
        await c.close();
      }
    });

    it('keyboard only: sign in with both steps, move to security, get new recovery codes; the focus is visible at each step', async () => {
      const u = await enrolledOverHttp();
      const { context, page, errors } = await open('en-US');
      const focused = () => page.evaluate(() => {
        const element = document.activeElement as HTMLElement | null;
        return { tag: element?.tagName, name: element?.getAttribute('name'), text: element?.textContent, outline: element ? getComputedStyle(element).outlineStyle : '' };
      });
      try {
        await page.goto(`${base}/account/`);
        await page.locator('#signin').waitFor();
        assert.equal((await focused()).name, 'username', 'the first field has the focus');
        await page.keyboard.type(u.username);
        await page.keyboard.press('Tab');
        assert.equal((await focused()).name, 'password');
        await page.keyboard.type(PASSWORD);
        await page.keyboard.press('Enter');
        await page.locator('#second-step').waitFor();
        assert.equal((await focused()).name, 'code', 'the focus moved to the second step');
        await page.keyboard.type(nextCode(u.secret));
        await page.keyboard.press('Enter');
        await overviewHeading(page, u.username);
        assert.equal((await focused()).text, `Signed in as ${u.username}`);
        await page.keyboard.press('Tab');
        const link = await focused();
        assert.deepEqual([link.tag, link.text], ['A', 'Two-step verification']);
        assert.equal(link.outline, 'solid', 'the focus ring shows');
        await page.keyboard.press('Enter');
        await page.waitForURL(`${base}/account/security/`);
        await page.locator('#view h2', { hasText: 'Two-step verification is on' }).waitFor();
        await page.keyboard.press('Tab');
        assert.equal((await focused()).name, 'code');
        await page.keyboard.type(nextCode(u.secret));
        await page.keyboard.press('Enter');
        await page.locator('#recovery-codes li').first().waitFor();
        assert.equal((await focused()).text, 'Your recovery codes');
        assert.equal((await page.locator('#recovery-codes code').allTextContents()).filter((code) => u.recoveryCodes.includes(code)).length, 0);
        await page.keyboard.press('Tab');
        assert.equal((await focused()).text, 'Print');
        await page.keyboard.press('Tab');
        const saved = await focused();
        assert.deepEqual([saved.text, saved.outline], ['I have saved them', 'solid']);
        await page.keyboard.press('Enter');
        await page.locator('#view h2', { hasText: 'Two-step verification is on' }).waitFor();
        assert.equal((await focused()).text, 'Two-step verification is on');
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });
  });
}
