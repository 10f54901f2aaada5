/**
 * Passkeys for real in headless Chromium, with the DevTools protocol's virtual
 * authenticator (CTAP2, internal transport, resident keys, user verification):
 * on /account/passkeys/ a password sign-in, a passkey added, signing out,
 * signing in with the passkey, then the passkey as the second step after the
 * password; renaming and removing it from the keyboard. Screenshots of the
 * page in English and French (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createUser, harness, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { CHROMIUM, ARGS, DOCS, missing, freePort } from '../support/browser.ts';

/** A page with a virtual platform authenticator that holds resident keys and verifies its user. */
async function withAuthenticator(context: BrowserContext): Promise<{ page: Page; credentials: () => Promise<Array<{ signCount: number; isResidentCredential: boolean }>> }> {
  // The virtual authenticator answers a conditional (autofill) request at once, as no person would:
  // the page is told autofill is unavailable, so each ceremony here is the one the test starts.
  // (A string: a function here would be compiled with helpers the page does not have.)
  await context.addInitScript("Object.defineProperty(PublicKeyCredential, 'isConditionalMediationAvailable', { value: async () => false });");
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { page, credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials };
}

for (const name of storeNames()) {
  describe(`passkeys in Chromium, on ${name}`, { skip: missing && 'chromium not installed' }, () => {
    let h: Harness;
    let browser: Browser;
    let base: string;
    const shot = (page: Page, file: string) => (name === 'pglite' ? page.screenshot({ path: `${DOCS}${file}.png`, fullPage: true }) : Promise.resolve());

    before(async () => {
      mkdirSync(DOCS, { recursive: true });
      const port = await freePort();
      // WebAuthn wants a secure context and a domain: http://localhost is both (127.0.0.1 is no RP ID).
      base = `http://localhost:${port}`;
      h = await harness(name, { env: { WEBAUTHN_RP_ID: 'localhost', WEBAUTHN_ORIGINS: base } });
      await h.app.listen({ host: '127.0.0.1', port });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    });
    after(async () => {
      await browser?.close();
      await h?.close();
    });

    const signInWithPassword = async (page: Page, username: string) => {
      await page.fill('#signin input[name="username"]', username);
      await page.fill('#signin input[name="password"]', PASSWORD);
      await page.click('#signin button[type="submit"]');
    };

    it('add a passkey, sign out, sign in with it, then use it as the second step after the password (English)', async () => {
      const u = await createUser(h);
      const context = await browser.newContext({ locale: 'en-US' });
      const { page, credentials } = await withAuthenticator(context);
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      page.on('dialog', (dialog) => void dialog.accept());
      try {
        assert.equal((await page.goto(`${base}/account/passkeys/`))?.status(), 200);
        await page.locator('#signin-passkey').waitFor();
        assert.equal(await page.getAttribute('#signin input[name="username"]', 'autocomplete'), 'username webauthn');
        assert.equal(await page.locator('#signin-passkey').textContent(), 'Sign in with a passkey');

        await signInWithPassword(page, u.username);
        await page.locator('#passkey-add').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Passkeys');
        assert.equal(await page.locator('#passkey-list').textContent(), 'You have no passkey yet.');
        // Keyboard only: the name field, Enter to add.
        await page.focus('#passkey-name');
        await page.keyboard.type('Work laptop');
        await page.keyboard.press('Enter');
        await page.locator('.passkey').waitFor();
        assert.match((await page.locator('#status').textContent()) ?? '', /Passkey “Work laptop” added/);
        assert.equal(await page.locator('.passkey-name').textContent(), 'Work laptop');
        const made = await credentials();
        assert.equal(made.length, 1);
        assert.equal(made[0]?.isResidentCredential, true);
        const stored = await h.store.db.selectFrom('passkeys').selectAll().where('user_id', '=', u.id).execute();
        assert.equal(stored.length, 1);
        assert.equal(stored[0]?.name, 'Work laptop');
        await shot(page, 'passkeys-1-list');

        // Sign out, then in with the passkey alone.
        await page.click('#signout');
        await page.locator('#signin-passkey').waitFor();
        await page.click('#signin-passkey');
        await page.locator('.passkey').waitFor();
        assert.equal(await page.locator('#signin').isHidden(), true);
        const byPasskey = await h.store.db.selectFrom('sessions').select(['amr', 'aal', 'passkey_id']).where('user_id', '=', u.id).where('passkey_id', 'is not', null).execute();
        assert.equal(byPasskey.length, 1);
        assert.equal(byPasskey[0]?.passkey_id, stored[0]?.id);
        assert.equal(byPasskey[0]?.aal, 'aal2');
        assert.deepEqual(byPasskey[0]?.amr?.slice(1), ['user', 'mfa']);
        assert.ok(['hwk', 'swk'].includes(byPasskey[0]?.amr?.[0] ?? ''), String(byPasskey[0]?.amr));

        // The password alone no longer signs in: the passkey is the second step.
        await page.click('#signout');
        await page.locator('#signin').waitFor();
        await signInWithPassword(page, u.username);
        await page.locator('#passkey-step-button').waitFor();
        assert.match((await page.locator('#passkey-step').textContent()) ?? '', /second step/);
        assert.equal(await page.locator('#second-step').count(), 0, 'no code form: the user has no TOTP');
        await shot(page, 'passkeys-2-second-step');
        await page.keyboard.press('Enter'); // the step's button has the focus
        await page.locator('.passkey').waitFor();
        const second = await h.store.db.selectFrom('sessions').select(['amr', 'aal']).where('user_id', '=', u.id).where('revoked_at', 'is', null).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
        assert.equal(second.aal, 'aal2');
        assert.equal(second.amr?.[0], 'pwd');
        assert.deepEqual(second.amr?.slice(2), ['user', 'mfa']);
        assert.ok((await credentials())[0]!.signCount >= 2, 'the authenticator signed twice');

        // Rename from the keyboard, then remove (the confirmation accepted).
        await page.getByRole('button', { name: 'Rename Work laptop' }).focus();
        await page.keyboard.press('Enter');
        await page.keyboard.type('Old laptop');
        await page.keyboard.press('Enter');
        await page.locator('#status.ok').filter({ hasText: 'renamed' }).waitFor();
        assert.equal(await page.locator('.passkey-name').textContent(), 'Old laptop');
        await page.getByRole('button', { name: 'Remove Old laptop' }).click();
        // It opened this session: the page asks to sign in again.
        await page.locator('#signin').waitFor();
        assert.equal(await h.store.db.selectFrom('passkeys').select('id').where('user_id', '=', u.id).executeTakeFirst(), undefined);
        assert.deepEqual(errors, []);
      } finally {
        await context.close();
      }
    });

    it('the page in French', async () => {
      const u = await createUser(h);
      const context = await browser.newContext({ locale: 'fr-FR', extraHTTPHeaders: { 'Accept-Language': 'fr-FR,fr;q=0.9' } });
      const { page } = await withAuthenticator(context);
      try {
        await page.goto(`${base}/account/passkeys/`);
        await page.locator('#signin-passkey').waitFor();
        assert.equal(await page.locator('#signin-passkey').textContent(), 'Se connecter avec une clé d’accès');
        await signInWithPassword(page, u.username);
        await page.locator('#passkey-add').waitFor();
        assert.equal(await page.locator('h1').textContent(), 'Clés d’accès');
        await page.fill('#passkey-name', 'Téléphone');
        await page.click('#passkey-add button[type="submit"]');
        await page.locator('.passkey').waitFor();
        assert.match((await page.locator('#status').textContent()) ?? '', /Clé d’accès «\u00a0Téléphone\u00a0» ajoutée/);
        await shot(page, 'passkeys-3-list-fr');
        const session = await h.store.db.selectFrom('sessions').select('aal').where('user_id', '=', u.id).where('revoked_at', 'is', null).execute();
        assert.deepEqual(session.map((s) => s.aal), ['aal2'], 'the first factor raised the page’s session');
      } finally {
        await context.close();
      }
    });
  });
}
