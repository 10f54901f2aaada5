/**
 * A change of address under EMAIL_VERIFICATION (SPEC §11): an administrator's
 * PATCH /admin/users/{id}/ is the one way an address changes (SPEC §3 keeps
 * PATCH /auth/me/ to the names). With `optional` or `mandatory` the new
 * address is unverified and mailed a link, in the transaction of the change;
 * the old address gets a notice with no link and without the new address.
 * Links are bound to the address they were mailed to. With `none`, nothing
 * is mailed and nothing else changes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedMail } from 'mailparser';
import { PASSWORD, bearer, claimsOf, createUser, login, storeNames, uniqueName } from '../support/harness.ts';
import { addressOf, linkIn, mailHarness, type MailHarness } from '../support/smtp.ts';

const NOT_VERIFIED = { detail: 'Email address is not verified.', code: 'email_not_verified' };
const INVALID_TOKEN = { token: ['Invalid token for given user.'] };
const VERIFY_PATH = '/account/verify-email/';

/** Helpers over one harness: an administrator, the PATCH, the mails since a mark. */
function using(h: MailHarness) {
  let adminAccess: string | undefined;
  const admin = async () => (adminAccess ??= (await login(h, (await createUser(h, { isStaff: true })).username)).access);
  return {
    async patchEmail(id: number, email: string, headers: Record<string, string> = {}) {
      const response = await h.app.inject({ method: 'PATCH', url: `/admin/users/${id}/`, payload: { email }, headers: { ...bearer(await admin()), ...headers } });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().email, email);
      return response;
    },
    mailTo: (address: string, subject: string, since: number) => h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= since && addressOf(m) === address && m.subject === subject),
    async verified(id: number) {
      return (await h.store.db.selectFrom('users').select('email_verified').where('id', '=', id).executeTakeFirstOrThrow()).email_verified;
    },
    async outboxTo(address: string) {
      return h.store.db.selectFrom('mail_outbox').select(['kind', 'subject']).where('to_address', '=', address).execute();
    },
    loginStatus: async (username: string, password = PASSWORD) => h.post('/auth/login/', { username, password }),
  };
}

/** A user who registered under verification and has not followed the link yet, with that link. */
async function registered(h: MailHarness) {
  const username = uniqueName();
  const email = `${username}@example.com`;
  const since = h.inbox.messages.length;
  const created = await h.post('/auth/register/', { username, email, password: PASSWORD });
  assert.equal(created.statusCode, 201, created.body);
  const mail = await h.inbox.waitFor((m) => h.inbox.messages.indexOf(m) >= since && addressOf(m) === email);
  return { id: created.json().id as number, username, email, link: linkIn(mail, VERIFY_PATH) };
}

function hasNoLink(mail: ParsedMail): boolean {
  return !/https?:\/\//.test(mail.text ?? '') && !/href=/.test(typeof mail.html === 'string' ? mail.html : '');
}

for (const name of storeNames()) {
  describe(`a change of address, EMAIL_VERIFICATION=mandatory (${name})`, () => {
    let h: MailHarness;
    before(async () => {
      h = await mailHarness(name, { env: { EMAIL_VERIFICATION: 'mandatory' } });
    });
    after(() => h.close());

    it('the new address is unverified and mailed a link; login is refused after the right password only; the link verifies the new address', async () => {
      const { patchEmail, mailTo, verified, loginStatus } = using(h);
      const u = await createUser(h);
      assert.equal((await loginStatus(u.username)).statusCode, 200, 'created by create-user: verified');
      const email = `new-${u.username}@example.com`;
      const since = h.inbox.messages.length;
      await patchEmail(u.id, email);
      assert.equal(await verified(u.id), false);

      const verify = await mailTo(email, 'Confirm your email address', since);
      assert.match(verify.text ?? '', new RegExp(`To confirm that ${email} is your address`));
      const notice = await mailTo(u.email, 'Your email address was changed', since);
      assert.match(notice.text ?? '', /The email address of your account was changed: this address will no longer receive its mail\./);
      assert.ok(hasNoLink(notice), 'the notice to the old address carries no link');
      assert.doesNotMatch(`${notice.text} ${String(notice.html)}`, new RegExp(email), 'nor the new address');

      assert.equal((await loginStatus(email, 'not the password')).statusCode, 401);
      const refused = await loginStatus(email);
      assert.deepEqual([refused.statusCode, refused.json()], [403, NOT_VERIFIED]);

      const link = linkIn(verify, VERIFY_PATH);
      assert.match(link.url, /^https:\/\/id\.example\.test\/account\/verify-email\/[A-Za-z0-9_-]+\/[A-Za-z0-9_-]{43}$/);
      const followed = await h.post('/auth/verify-email/', { uid: link.uid, token: link.token });
      assert.equal(followed.statusCode, 204, followed.body);
      assert.equal(await verified(u.id), true);
      const ok = await loginStatus(email);
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(claimsOf(ok.json().access).email_verified, true);

      const [event] = await h.store.db.selectFrom('audit_events').select(['detail']).where('user_id', '=', u.id).where('type', '=', 'email_verification_sent').execute();
      assert.deepEqual(event?.detail, { reason: 'email_changed' });
    });

    it('a link mailed to the old address does not verify the new one', async () => {
      const { patchEmail, mailTo } = using(h);
      const u = await registered(h);
      const email = `moved-${u.username}@example.com`;
      const since = h.inbox.messages.length;
      await patchEmail(u.id, email);
      const fresh = linkIn(await mailTo(email, 'Confirm your email address', since), VERIFY_PATH);
      const old = await h.post('/auth/verify-email/', { uid: u.link.uid, token: u.link.token });
      assert.deepEqual([old.statusCode, old.json()], [400, INVALID_TOKEN]);
      const oldKey = await h.post('/auth/registration/verify-email/', { key: `${u.link.uid}:${u.link.token}` });
      assert.equal(oldKey.statusCode, 404);
      assert.equal((await h.post('/auth/verify-email/', { uid: fresh.uid, token: fresh.token })).statusCode, 204);
    });

    it('a link is bound to its address: changed by any writer, the address no longer takes the link', async () => {
      const u = await registered(h);
      // Not through Latchkey (no new link replaces the old one): only the binding stands in the way.
      await h.store.db.updateTable('users').set({ email: `elsewhere-${u.username}@example.com` }).where('id', '=', u.id).execute();
      const moved = await h.post('/auth/verify-email/', { uid: u.link.uid, token: u.link.token });
      assert.deepEqual([moved.statusCode, moved.json()], [400, INVALID_TOKEN]);
      // Back to the address it was mailed to, the same link works (letter case aside: one mailbox).
      await h.store.db.updateTable('users').set({ email: u.email.toUpperCase().replace('@EXAMPLE.COM', '@example.com') }).where('id', '=', u.id).execute();
      assert.equal((await h.post('/auth/verify-email/', { uid: u.link.uid, token: u.link.token })).statusCode, 204);
    });

    it('in French under Accept-Language: fr (the administrator’s language), both mails', async () => {
      const { patchEmail, mailTo } = using(h);
      const u = await createUser(h);
      const email = `fr-${u.username}@example.com`;
      const since = h.inbox.messages.length;
      await patchEmail(u.id, email, { 'accept-language': 'fr-FR,fr;q=0.9' });
      const verify = await mailTo(email, 'Confirmez votre adresse électronique', since);
      assert.match(verify.text ?? '', new RegExp(`Pour confirmer que ${email} est bien votre adresse, ouvrez ce lien dans les 1\u00a0jour`));
      assert.match(String(verify.html), /Confirmer mon adresse/);
      const notice = await mailTo(u.email, 'Votre adresse électronique a été modifiée', since);
      assert.match(notice.text ?? '', /L’adresse électronique de votre compte a été modifiée\u00a0: cette adresse n’en recevra plus les messages\./);
      assert.ok(hasNoLink(notice));
      const link = linkIn(verify, VERIFY_PATH);
      assert.equal((await h.post('/auth/verify-email/', { uid: link.uid, token: link.token })).statusCode, 204);
    });

    it('the same mailbox in other letters changes nothing more; an added address gets a link and no notice; a cleared one a notice only', async () => {
      const { patchEmail, verified, outboxTo, loginStatus, mailTo } = using(h);
      const u = await createUser(h, { email: `${uniqueName('case')}@example.com` });
      const recased = u.email.replace(/^(\w)/, (c) => c.toUpperCase());
      assert.notEqual(recased, u.email);
      await patchEmail(u.id, recased);
      assert.equal(await verified(u.id), true);
      assert.deepEqual(await outboxTo(u.email), []);
      assert.deepEqual(await outboxTo(recased), []);

      const since = h.inbox.messages.length;
      await patchEmail(u.id, '');
      await mailTo(recased, 'Your email address was changed', since);
      assert.equal(await verified(u.id), true, 'no address: nothing to prove, nothing to refuse a login for');
      assert.equal((await loginStatus(u.username)).statusCode, 200);

      const added = `added-${u.username}@example.com`;
      await patchEmail(u.id, added);
      await mailTo(added, 'Confirm your email address', since);
      assert.equal(await verified(u.id), false);
      assert.deepEqual((await outboxTo(recased)).map((m) => m.kind), ['email_changed'], 'no notice for an address added where there was none');
    });
  });

  describe(`a change of address, EMAIL_VERIFICATION=optional and none (${name})`, () => {
    it('optional: the session carries on, and its next tokens say email_verified false, then true once the link is followed', async () => {
      const h = await mailHarness(name, { env: { EMAIL_VERIFICATION: 'optional' } });
      try {
        const { patchEmail, mailTo } = using(h);
        const u = await createUser(h);
        const session = await login(h, u.username);
        assert.equal(claimsOf(session.access).email_verified, true);
        const email = `opt-${u.username}@example.com`;
        const since = h.inbox.messages.length;
        await patchEmail(u.id, email);
        const refreshed = await h.post('/auth/refresh/', { refresh: session.refresh });
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        assert.equal(claimsOf(refreshed.json().access).email_verified, false);
        const again = await login(h, email);
        assert.equal(claimsOf(again.access).email_verified, false, 'optional: login works, unverified');
        const link = linkIn(await mailTo(email, 'Confirm your email address', since), VERIFY_PATH);
        assert.equal((await h.post('/auth/verify-email/', { uid: link.uid, token: link.token })).statusCode, 204);
        const after = await h.post('/auth/refresh/', { refresh: again.refresh });
        assert.equal(claimsOf(after.json().access).email_verified, true);
      } finally {
        await h.close();
      }
    });

    it('none: no mail to either address, the flag stays, and tokens carry no email_verified', async () => {
      const h = await mailHarness(name);
      try {
        const { patchEmail, verified } = using(h);
        const u = await createUser(h);
        const email = `none-${u.username}@example.com`;
        await patchEmail(u.id, email);
        await h.auth.settled();
        assert.deepEqual(await h.store.db.selectFrom('mail_outbox').select('kind').execute(), []);
        assert.equal(h.inbox.messages.length, 0);
        assert.equal(await verified(u.id), true);
        assert.equal('email_verified' in claimsOf((await login(h, email)).access), false);
      } finally {
        await h.close();
      }
    });
  });
}
