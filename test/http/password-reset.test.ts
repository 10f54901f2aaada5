/**
 * Password reset by mail (SPEC §11), djoser's dialect: request → mail → link →
 * validate → confirm, against a real SMTP server. Tokens are single use,
 * newest only, expire, die with any password change; confirm ends every
 * session; a GET uses nothing; concurrent confirms with one link: one wins.
 * The messages are pinned from djoser 2.1 itself (test/fixtures/djoser/reset.json,
 * recorded by record.py from Debian's python3-djoser).
 */
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedMail } from 'mailparser';
import { PASSWORD, bearer, createUser, login, manualClock, storeNames, credentialNotValid, BLACKLISTED } from '../support/harness.ts';
import { addressOf, linkIn, mailHarness, type MailHarness } from '../support/smtp.ts';

const NEW_PASSWORD = 'a brand new passphrase 42';
const DJOSER = JSON.parse(readFileSync(new URL('../fixtures/djoser/reset.json', import.meta.url), 'utf8')) as {
  cases: Array<{ name: string; path: string; body: Record<string, string>; status: number; response: unknown }>;
};

for (const name of storeNames()) {
  describe(`password reset, djoser's dialect (${name})`, () => {
    let h: MailHarness;
    before(async () => {
      h = await mailHarness(name);
    });
    after(() => h.close());

    const mailTo = (address: string, subject = 'Reset your password') => (m: ParsedMail) => m.subject === subject && addressOf(m) === address;

    /** Asks for a link for `email` and returns the one delivered. */
    async function requestLink(email: string) {
      const before = h.inbox.messages.length;
      const response = await h.post('/auth/password-reset/', { email });
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, '');
      const mail = await h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= before && mailTo(email)(m));
      return linkIn(mail);
    }

    it('204 for a known address and an unknown one alike; the known one gets a mail whose link points at PUBLIC_URL', async () => {
      const u = await createUser(h);
      const unknown = await h.post('/auth/password-reset/', { email: 'nobody-at-all@example.com' });
      assert.equal(unknown.statusCode, 204);
      assert.equal(unknown.body, '');
      const link = await requestLink(u.email);
      assert.match(link.url, /^https:\/\/id\.example\.test\/account\/reset\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(link.uid, 'base64url').toString(), String(u.id), "uid is Django's: the id in URL-safe base64");
      // Only a digest is stored.
      const rows = await h.store.db.selectFrom('recovery_tokens').selectAll().where('user_id', '=', u.id).execute();
      assert.equal(rows.length, 1);
      assert.notEqual(rows[0]?.token_hash, link.token);
      assert.ok(!JSON.stringify(rows).includes(link.token));
      await h.auth.settled();
      assert.ok(!h.inbox.messages.some((m) => addressOf(m) === 'nobody-at-all@example.com'));
    });

    it('validate answers 200 {} and uses nothing; confirm sets the password, clears a forced reset, ends every session, and mails the user', async () => {
      const u = await createUser(h, { passwordNeedsReset: true });
      const laptop = await login(h, u.username);
      const phone = await login(h, u.username);
      const link = await requestLink(u.email);
      for (let i = 0; i < 2; i += 1) {
        const validate = await h.post('/auth/password-reset/validate/', { uid: link.uid, token: link.token });
        assert.equal(validate.statusCode, 200);
        assert.deepEqual(validate.json(), {});
      }
      const confirm = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: NEW_PASSWORD, re_new_password: NEW_PASSWORD });
      assert.equal(confirm.statusCode, 204, confirm.body);
      assert.equal(confirm.body, '');
      for (const session of [laptop, phone]) {
        const me = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(session.access) });
        assert.equal(me.statusCode, 401);
        assert.deepEqual(me.json(), credentialNotValid(BLACKLISTED));
        const refreshed = await h.post('/auth/refresh/', { refresh: session.refresh });
        assert.equal(refreshed.statusCode, 401);
      }
      assert.equal((await h.post('/auth/login/', { username: u.username, password: PASSWORD })).statusCode, 401);
      const fresh = await h.post('/auth/login/', { username: u.username, password: NEW_PASSWORD });
      assert.equal(fresh.statusCode, 200);
      assert.equal(fresh.json().password_needs_reset, false);
      await h.inbox.waitFor(mailTo(u.email, 'Your password was changed'));
      const events = await h.store.db.selectFrom('audit_events').selectAll().where('user_id', '=', u.id).orderBy('id').execute();
      const done = events.find((e) => e.type === 'password_reset_completed');
      assert.deepEqual(done?.detail, { sessions_ended: 2, remembered_devices_forgotten: 0, forced_reset_cleared: true, link: 'latchkey' });
      assert.ok(events.some((e) => e.type === 'password_reset_requested'));
      assert.ok(!JSON.stringify(events).includes(link.token), 'no token in the audit trail');
      // Single use.
      const again = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: 'yet another passphrase 42' });
      assert.equal(again.statusCode, 400);
      assert.deepEqual(again.json(), { token: ['Invalid token for given user.'] });
    });

    it("djoser's own paths are aliases; only the newest link lives", async () => {
      const u = await createUser(h);
      const first = await requestLink(u.email);
      const second = await requestLink(u.email);
      const old = await h.post('/auth/users/reset_password_confirm/', { uid: first.uid, token: first.token, new_password: NEW_PASSWORD });
      assert.deepEqual([old.statusCode, old.json()], [400, { token: ['Invalid token for given user.'] }]);
      const before = h.inbox.messages.length;
      assert.equal((await h.post('/auth/users/reset_password/', { email: u.email.toUpperCase() })).statusCode, 204);
      const third = linkIn(await h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= before && mailTo(u.email)(m)));
      const stale = await h.post('/auth/users/reset_password_confirm/', { uid: second.uid, token: second.token, new_password: NEW_PASSWORD });
      assert.equal(stale.statusCode, 400);
      const ok = await h.post('/auth/users/reset_password_confirm/', { uid: third.uid, token: third.token, new_password: NEW_PASSWORD });
      assert.equal(ok.statusCode, 204);
    });

    it('any password change voids the link', async () => {
      const u = await createUser(h);
      const link = await requestLink(u.email);
      const session = await login(h, u.username);
      const changed = await h.app.inject({
        method: 'POST', url: '/auth/change-password/', headers: bearer(session.access), payload: { old_password: PASSWORD, new_password: 'changed by hand 1234' },
      });
      assert.equal(changed.statusCode, 200);
      const confirm = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: NEW_PASSWORD });
      assert.deepEqual([confirm.statusCode, confirm.json()], [400, { token: ['Invalid token for given user.'] }]);
    });

    it('a GET on any reset route is 405 and uses nothing', async () => {
      const u = await createUser(h);
      const link = await requestLink(u.email);
      for (const url of ['/auth/password-reset/', '/auth/password-reset/validate/', '/auth/password-reset/confirm/', '/auth/users/reset_password_confirm/', '/auth/password/reset/confirm/']) {
        const response = await h.app.inject({ method: 'GET', url: `${url}?uid=${link.uid}&token=${link.token}&new_password=${encodeURIComponent(NEW_PASSWORD)}` });
        assert.equal(response.statusCode, 405, url);
      }
      const confirm = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: NEW_PASSWORD });
      assert.equal(confirm.statusCode, 204);
    });

    it('two confirms with one link at once: exactly one wins', async () => {
      const u = await createUser(h);
      const link = await requestLink(u.email);
      const answers = await Promise.all(
        ['first winner passphrase 1', 'second winner passphrase 2', 'third winner passphrase 3'].map((password) =>
          h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: password })),
      );
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [204, 400, 400]);
      for (const loser of answers.filter((a) => a.statusCode === 400)) assert.deepEqual(loser.json(), { token: ['Invalid token for given user.'] });
      const completed = await h.store.db.selectFrom('audit_events').select('id').where('user_id', '=', u.id).where('type', '=', 'password_reset_completed').execute();
      assert.equal(completed.length, 1);
    });

    it("answers as djoser 2.1 does (recorded from the real thing), in djoser's order of checks", async () => {
      const u = await createUser(h);
      let link = { uid: '', token: '' };
      for (const recorded of DJOSER.cases.filter((c) => c.path.includes('reset_password'))) {
        const sent = h.inbox.messages.length;
        // djoser's uid and token for its user stand for ours; the bad ones are sent as recorded.
        const body = Object.fromEntries(Object.entries(recorded.body).map(([field, value]) => {
          if (field === 'uid' && value === 'MQ') return [field, link.uid];
          if (field === 'token' && value !== 'abc-123') return [field, link.token];
          if (field === 'email' && value === 'ann@example.com') return [field, u.email];
          return [field, value];
        }));
        const response = await h.post(recorded.path, body);
        assert.equal(response.statusCode, recorded.status, `${recorded.name}: ${response.body}`);
        assert.deepEqual(recorded.response === null ? response.body : response.json(), recorded.response === null ? '' : recorded.response, recorded.name);
        // The link djoser mailed for its user stands for the one mailed here.
        if (recorded.name === 'request, known address') link = linkIn(await h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= sent && mailTo(u.email)(m)));
      }
      assert.notEqual(link.token, '', 'the recorded cases include a known address');
    });

    it('a password too like the user is refused only once the link is proven (a guessed uid learns nothing)', async () => {
      const u = await createUser(h);
      const link = await requestLink(u.email);
      const guessed = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: 'x'.repeat(43), new_password: `${u.username}1` });
      assert.deepEqual(guessed.json(), { token: ['Invalid token for given user.'] });
      const proven = await h.post('/auth/password-reset/confirm/', { uid: link.uid, token: link.token, new_password: `${u.username}1` });
      assert.deepEqual([proven.statusCode, proven.json()], [400, { new_password: ['The password is too similar to the username.'] }]);
    });

    it('French: the mail and the messages', async () => {
      const u = await createUser(h);
      const before = h.inbox.messages.length;
      await h.post('/auth/password-reset/', { email: u.email }, { 'accept-language': 'fr' });
      const mail = await h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= before && mailTo(u.email, 'Réinitialisez votre mot de passe')(m));
      const link = linkIn(mail);
      const bad = await h.post('/auth/password-reset/confirm/', { uid: 'Zm9v', token: link.token, new_password: NEW_PASSWORD }, { 'accept-language': 'fr' });
      assert.deepEqual(bad.json(), { uid: ["Identifiant d'utilisateur non valide ou utilisateur inexistant."] });
    });
  });

  describe(`password reset links expire (${name})`, () => {
    it('a link works for PASSWORD_RESET_TOKEN_LIFETIME and not a second more', async () => {
      const clock = manualClock(Date.now());
      const h = await mailHarness(name, { clock, env: { PASSWORD_RESET_TOKEN_LIFETIME: '30m' } });
      try {
        const u = await createUser(h);
        await h.app.inject({ method: 'POST', url: '/auth/password-reset/', payload: { email: u.email } });
        const link = linkIn(await h.inbox.waitFor((m) => addressOf(m) === u.email));
        assert.match(h.inbox.messages[0]?.text ?? '', /within 30 minutes/);
        clock.advance(30 * 60_000 - 1000);
        const valid = await h.app.inject({ method: 'POST', url: '/auth/password-reset/validate/', payload: { uid: link.uid, token: link.token } });
        assert.equal(valid.statusCode, 200);
        clock.advance(1000);
        const expired = await h.app.inject({ method: 'POST', url: '/auth/password-reset/validate/', payload: { uid: link.uid, token: link.token } });
        assert.deepEqual([expired.statusCode, expired.json()], [400, { token: ['Invalid token for given user.'] }]);
      } finally {
        await h.close();
      }
    });
  });
}
