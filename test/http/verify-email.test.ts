/**
 * Email verification (SPEC §11): EMAIL_VERIFICATION=none|optional|mandatory, the
 * link mailed on registration, djoser's activation and resend routes and
 * dj-rest-auth's `key`, `email_not_verified` only after a proven password, the
 * `email_verified` claim, and tokens bound to one purpose.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedMail } from 'mailparser';
import { PASSWORD, claimsOf, createUser, storeNames, uniqueName } from '../support/harness.ts';
import { addressOf, linkIn, mailHarness, type MailHarness } from '../support/smtp.ts';
const NOT_VERIFIED = { detail: 'Email address is not verified.', code: 'email_not_verified' };

for (const name of storeNames()) {
  describe(`email verification, mandatory (${name})`, () => {
    let h: MailHarness;
    before(async () => {
      h = await mailHarness(name, { env: { EMAIL_VERIFICATION: 'mandatory' } });
    });
    after(() => h.close());
    const verifyMail = (address: string, after = 0) => (m: ParsedMail) => h.inbox.messages.indexOf(m) >= after && m.subject === 'Confirm your email address' && addressOf(m) === address;

    async function register() {
      const username = uniqueName();
      const email = `${username}@example.com`;
      const created = await h.post('/auth/register/', { username, email, password: PASSWORD });
      assert.equal(created.statusCode, 201, created.body);
      const link = linkIn(await h.inbox.waitFor(verifyMail(email)), '/account/verify-email/');
      return { username, email, link };
    }

    it('registration mails a link; login is refused after the right password only; the link verifies once, then stale_token', async () => {
      const { username, link } = await register();
      assert.match(link.url, /^https:\/\/id\.example\.test\/account\/verify-email\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]{43}$/);
      const wrong = await h.post('/auth/login/', { username, password: 'not the password' });
      assert.equal(wrong.statusCode, 401);
      const refused = await h.post('/auth/login/', { username, password: PASSWORD });
      assert.deepEqual([refused.statusCode, refused.json()], [403, NOT_VERIFIED]);
      const verified = await h.post('/auth/verify-email/', { uid: link.uid, token: link.token });
      assert.equal(verified.statusCode, 204, verified.body);
      const ok = await h.post('/auth/login/', { username, password: PASSWORD });
      assert.equal(ok.statusCode, 200);
      assert.equal(claimsOf(ok.json().access).email_verified, true);
      const again = await h.post('/auth/users/activation/', { uid: link.uid, token: link.token });
      assert.deepEqual([again.statusCode, again.json()], [403, { detail: 'Stale token for given user.', code: 'stale_token' }]);
      const fr = await h.post('/auth/verify-email/', { uid: link.uid, token: link.token }, { 'accept-language': 'fr' });
      assert.equal(fr.json().detail, 'Jeton périmé pour cet utilisateur.');
    });

    it('users who did not register under verification (create-user, imports) are not locked out', async () => {
      const u = await createUser(h);
      assert.equal((await h.post('/auth/login/', { username: u.username, password: PASSWORD })).statusCode, 200);
    });

    it('a link serves one purpose: a reset link does not verify, a verification link does not reset', async () => {
      const { username, email, link } = await register();
      const before = h.inbox.messages.length;
      await h.post('/auth/password-reset/', { email });
      const reset = linkIn(await h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= before && m.subject === 'Reset your password'));
      const crossed = await h.post('/auth/verify-email/', { uid: reset.uid, token: reset.token });
      assert.deepEqual([crossed.statusCode, crossed.json()], [400, { token: ['Invalid token for given user.'] }]);
      const crossedBack = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: 'a brand new passphrase 42' });
      assert.deepEqual([crossedBack.statusCode, crossedBack.json()], [400, { token: ['Invalid token for given user.'] }]);
      const bad = await h.post('/auth/verify-email/', { uid: 'Zm9v', token: link.token });
      assert.deepEqual([bad.statusCode, bad.json()], [400, { uid: ["Invalid user id or user doesn't exist."] }]);
      assert.equal((await h.post('/auth/login/', { username, password: PASSWORD })).statusCode, 403);
    });

    it('resend: 204 whatever the address; a new link replaces the old one', async () => {
      const { email, link: first } = await register();
      assert.equal((await h.post('/auth/verify-email/resend/', { email: 'nobody-known@example.com' })).statusCode, 204);
      const before = h.inbox.messages.length;
      assert.equal((await h.post('/auth/users/resend_activation/', { email })).statusCode, 204);
      const second = linkIn(await h.inbox.waitFor(verifyMail(email, before)), '/account/verify-email/');
      const old = await h.post('/auth/verify-email/', { uid: first.uid, token: first.token });
      assert.equal(old.statusCode, 400);
      // dj-rest-auth's key is uid:token.
      const bad = await h.post('/auth/registration/verify-email/', { key: 'nonsense' });
      assert.deepEqual([bad.statusCode, bad.json()], [404, { detail: 'Not found.', code: 'not_found' }]);
      const ok = await h.post('/auth/registration/verify-email/', { key: `${second.uid}:${second.token}` });
      assert.deepEqual([ok.statusCode, ok.json()], [200, { detail: 'ok' }]);
      await h.auth.settled();
      const count = h.inbox.messages.length;
      assert.equal((await h.post('/auth/verify-email/resend/', { email })).statusCode, 204, 'verified: nothing is sent, the answer is the same');
      await h.auth.settled();
      assert.equal(h.inbox.messages.length, count);
    });
  });

  describe(`email verification, optional and none (${name})`, () => {
    it('optional: login works before verifying, and the token says email_verified false', async () => {
      const h = await mailHarness(name, { env: { EMAIL_VERIFICATION: 'optional' } });
      try {
        const username = uniqueName();
        await h.app.inject({ method: 'POST', url: '/auth/register/', payload: { username, email: `${username}@example.com`, password: PASSWORD } });
        await h.inbox.waitFor((m) => m.subject === 'Confirm your email address');
        const login = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
        assert.equal(login.statusCode, 200);
        assert.equal(claimsOf(login.json().access).email_verified, false);
      } finally {
        await h.close();
      }
    });

    it('none (the default): no mail on registration, no email_verified claim', async () => {
      const h = await mailHarness(name);
      try {
        const username = uniqueName();
        await h.app.inject({ method: 'POST', url: '/auth/register/', payload: { username, email: `${username}@example.com`, password: PASSWORD } });
        await h.auth.settled();
        assert.equal(h.inbox.messages.length, 0);
        const login = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
        assert.equal('email_verified' in claimsOf(login.json().access), false);
      } finally {
        await h.close();
      }
    });
  });
}
