/**
 * Administrators and the second factor (SPEC §12): `POST /admin/users/{id}/mfa/reset/`
 * (the acting administrator at aal2 when it has a factor, never on itself),
 * `mfa_enabled` in the admin API's users, the mails a user gets when a factor is
 * added or removed (read from a real SMTP server), and the audit trail of every
 * step, with no secret in it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedMail } from 'mailparser';
import { Secret, TOTP } from 'otpauth';
import { describeTime } from '../../src/mfa/notices.ts';
import { NOT_FOUND, PASSWORD, bearer, claimsOf, createUser, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';
import { startSmtp, type Inbox } from '../support/smtp.ts';

const STEP_MS = 30_000;
const QUICK = { backoffMs: 100, maxBackoffMs: 400, pollMs: 100, maxAttempts: 50 };
const INSUFFICIENT_AAL = { detail: 'This action requires a session signed in with a second factor.', code: 'insufficient_aal' };
const OWN_MFA = { detail: 'You cannot reset your own second factor here: remove it from your account.', code: 'cannot_reset_own_mfa' };

function codeAt(secret: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
}

const recipient = (mail: ParsedMail) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address;

for (const name of storeNames()) {
  describe(`second factor, administrators and notices (${name})`, () => {
    const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
    let h: Harness;
    let inbox: Inbox;
    before(async () => {
      inbox = await startSmtp();
      h = await harness(name, {
        clock,
        env: { EMAIL_BACKEND: 'smtp', EMAIL_HOST: '127.0.0.1', EMAIL_PORT: String(inbox.port), PUBLIC_URL: 'https://id.example.test' },
        deps: { mailSender: QUICK },
      });
    });
    after(async () => {
      await h.close();
      await inbox.stop();
    });

    const post = (url: string, payload: object, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload, headers });
    const mailTo = (address: string, subject: string) => inbox.waitFor((m) => recipient(m) === address && m.subject === subject);
    const outboxFor = async (address: string) => (await h.store.db.selectFrom('mail_outbox').select(['kind']).where('to_address', '=', address).execute()).map((r) => r.kind);
    const auditOf = (userId: number, type: string) =>
      h.store.db.selectFrom('audit_events').selectAll().where('user_id', '=', userId).where('type', '=', type).orderBy('id').execute();

    /** A user with TOTP enrolled through the API; the clock one step past the enrolment code. */
    async function enrolled(overrides: { isStaff?: boolean; headers?: Record<string, string> } = {}) {
      const u = await createUser(h, overrides.isStaff ? { isStaff: true } : {});
      const session = await login(h, u.username);
      const started = await post('/auth/mfa/totp/', { password: PASSWORD }, bearer(session.access));
      assert.equal(started.statusCode, 201, started.body);
      const secret = started.json().secret as string;
      const confirmed = await post('/auth/mfa/totp/confirm/', { code: codeAt(secret, clock.now()) }, { ...bearer(session.access), ...overrides.headers });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      clock.advance(STEP_MS);
      return { ...u, secret, access: confirmed.json().access as string, recoveryCodes: confirmed.json().recovery_codes as string[] };
    }

    async function adminAtAal1() {
      const admin = await createUser(h, { isStaff: true });
      return { ...admin, access: (await login(h, admin.username)).access };
    }

    it('an administrator resets a user’s second factor: everything goes, every session ends, the user is mailed and can log in with the password', async () => {
      const admin = await adminAtAal1();
      const u = await enrolled();
      const other = await post('/auth/login/', { username: u.username, password: PASSWORD });
      assert.equal(other.json().code, 'mfa_required', 'a login waiting for its second step');
      // A pending lock and failures go too.
      await h.store.db.updateTable('user_mfa').set({ failures: 3 }).where('user_id', '=', u.id).execute();

      const listed = await h.app.inject({ method: 'GET', url: `/admin/users/?search=${u.username}`, headers: bearer(admin.access) });
      assert.equal(listed.json().results[0].mfa_enabled, true);
      const detail = await h.app.inject({ method: 'GET', url: `/admin/users/${u.id}/`, headers: bearer(admin.access) });
      assert.equal(detail.json().mfa_enabled, true);
      assert.deepEqual(Object.keys(detail.json()).slice(-2), ['is_active', 'mfa_enabled']);

      const reset = await post(`/admin/users/${u.id}/mfa/reset/`, {}, bearer(admin.access));
      assert.equal(reset.statusCode, 204, reset.body);
      assert.equal(reset.body, '');
      assert.equal(await h.store.db.selectFrom('user_mfa').select('user_id').where('user_id', '=', u.id).executeTakeFirst(), undefined);
      assert.equal((await h.store.db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', u.id).execute()).length, 0);
      assert.equal((await h.store.db.selectFrom('mfa_tokens').select('token_hash').where('user_id', '=', u.id).execute()).length, 0);
      // Every session ended at once (the revocation list, not the next refresh).
      const me = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(u.access) });
      assert.equal(me.statusCode, 401);
      assert.equal((await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', u.id).where('revoked_at', 'is', null).execute()).length, 0);
      // The password alone logs in now, at aal1.
      const fresh = await login(h, u.username);
      assert.equal(claimsOf(fresh.access).aal, 'aal1');
      assert.equal((await h.app.inject({ method: 'GET', url: `/admin/users/${u.id}/`, headers: bearer(admin.access) })).json().mfa_enabled, false);

      const [event, ...more] = await auditOf(u.id, 'mfa_removed');
      assert.equal(more.length, 0);
      assert.equal(event!.outcome, 'success');
      assert.deepEqual(event!.detail, { via: 'admin', by: admin.id, methods: ['totp', 'recovery_code'], sessions_ended: 1 });

      const mail = await mailTo(u.email, 'A second factor was removed from your account');
      const text = mail.text ?? '';
      assert.match(text, new RegExp(`Hello ${u.username},`));
      assert.match(text, /an authenticator app \(TOTP\) and recovery codes/);
      assert.ok(text.includes(describeTime(new Date(clock.now()), 'en')), text);
      assert.match(text, /An administrator reset your second factor/);
      assert.match(text, /If this wasn’t you/);
      assert.match(text, /https:\/\/id\.example\.test\/account\/forgot-password\//);
      assert.match(String(mail.html), /href="https:\/\/id\.example\.test\/account\/forgot-password\/"/);
      for (const secret of [u.secret, ...u.recoveryCodes]) assert.ok(!text.includes(secret) && !String(mail.html).includes(secret), 'no secret in the mail');
    });

    it('the acting administrator with a factor must be at aal2; never on itself; 404 for an unknown user; 403 for a non-administrator', async () => {
      const u = await enrolled();
      // An administrator whose factor was added while this aal1 session went on (as a remembered device would).
      const admin = await adminAtAal1();
      await h.store.db
        .insertInto('user_mfa')
        .values({ user_id: admin.id, totp_secret: 'v1.sealed', totp_confirmed_at: new Date(clock.now()), created_at: new Date(clock.now()) })
        .execute();
      const refused = await post(`/admin/users/${u.id}/mfa/reset/`, {}, bearer(admin.access));
      assert.equal(refused.statusCode, 403);
      assert.deepEqual(refused.json(), INSUFFICIENT_AAL);
      const french = await post(`/admin/users/${u.id}/mfa/reset/`, {}, { ...bearer(admin.access), 'accept-language': 'fr' });
      assert.deepEqual(french.json(), { detail: 'Cette action demande une session ouverte avec un second facteur.', code: 'insufficient_aal' });
      assert.ok(await h.store.db.selectFrom('user_mfa').select('user_id').where('user_id', '=', u.id).where('totp_confirmed_at', 'is not', null).executeTakeFirst(), 'nothing removed');
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(u.access) })).statusCode, 200, 'no session ended');

      // At aal2 (signed in with its factor), it may.
      const admin2 = await enrolled({ isStaff: true });
      assert.equal(claimsOf(admin2.access).aal, 'aal2');
      const own = await post(`/admin/users/${admin2.id}/mfa/reset/`, {}, bearer(admin2.access));
      assert.equal(own.statusCode, 403);
      assert.deepEqual(own.json(), OWN_MFA);
      const ok = await post(`/admin/users/${u.id}/mfa/reset/`, {}, bearer(admin2.access));
      assert.equal(ok.statusCode, 204, ok.body);

      const plain = await adminAtAal1();
      assert.deepEqual((await post(`/admin/users/${plain.id}/mfa/reset/`, {}, bearer(plain.access))).json(), OWN_MFA);
      const unknown = await post('/admin/users/999999/mfa/reset/', {}, bearer(plain.access));
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), NOT_FOUND);
      assert.equal((await post('/admin/users/abc/mfa/reset/', {}, bearer(plain.access))).statusCode, 404);
      const user = await createUser(h);
      const notAdmin = await post(`/admin/users/${admin2.id}/mfa/reset/`, {}, bearer((await login(h, user.username)).access));
      assert.equal(notAdmin.statusCode, 403);
      assert.equal(notAdmin.json().code, 'permission_denied');
      const anonymous = await post(`/admin/users/${admin2.id}/mfa/reset/`, {});
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.headers['www-authenticate'], 'Bearer realm="api"');
      assert.ok(await h.store.db.selectFrom('user_mfa').select('user_id').where('user_id', '=', admin2.id).where('totp_confirmed_at', 'is not', null).executeTakeFirst());
    });

    it('a user without a factor: 204 all the same (as a DELETE of something gone), its sessions end, no mail', async () => {
      const admin = await adminAtAal1();
      const u = await createUser(h);
      const session = await login(h, u.username);
      const reset = await post(`/admin/users/${u.id}/mfa/reset/`, {}, bearer(admin.access));
      assert.equal(reset.statusCode, 204);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(session.access) })).statusCode, 401);
      const [event] = await auditOf(u.id, 'mfa_removed');
      assert.deepEqual(event!.detail, { via: 'admin', by: admin.id, methods: [], sessions_ended: 1 });
      await h.auth.settled();
      assert.deepEqual(await outboxFor(u.email), []);
    });

    it('enrolling and removing TOTP mail the user (French on Accept-Language: fr); a refused change queues nothing', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const secret = (await post('/auth/mfa/totp/', { password: PASSWORD }, bearer(session.access))).json().secret as string;
      const right = codeAt(secret, clock.now());
      const wrong = await post('/auth/mfa/totp/confirm/', { code: right === '000000' ? '111111' : '000000' }, bearer(session.access));
      assert.equal(wrong.statusCode, 400);
      await h.auth.settled();
      assert.deepEqual(await outboxFor(u.email), [], 'no mail without the change');
      const confirmed = await post('/auth/mfa/totp/confirm/', { code: right }, { ...bearer(session.access), 'accept-language': 'fr' });
      assert.equal(confirmed.statusCode, 200);
      const added = await mailTo(u.email, 'Un second facteur a été ajouté à votre compte');
      assert.match(added.text ?? '', /une application d’authentification \(TOTP\), le /);
      assert.ok((added.text ?? '').includes(describeTime(new Date(clock.now()), 'fr')));
      assert.match(added.text ?? '', /Si ce n’était pas vous/);
      assert.match(String(added.html), /lang="fr"/);
      for (const code of [secret, right, ...confirmed.json().recovery_codes]) assert.ok(!(added.text ?? '').includes(code) && !String(added.html).includes(code));

      clock.advance(STEP_MS);
      const access = confirmed.json().access as string;
      const stale = await h.app.inject({ method: 'DELETE', url: '/auth/mfa/totp/', headers: bearer(access), payload: { code: codeAt(secret, clock.now() - 5 * STEP_MS) } });
      assert.equal(stale.statusCode, 400);
      await h.auth.settled();
      assert.deepEqual(await outboxFor(u.email), ['mfa_factor_added']);
      const removed = await h.app.inject({ method: 'DELETE', url: '/auth/mfa/totp/', headers: bearer(access), payload: { code: codeAt(secret, clock.now()) } });
      assert.equal(removed.statusCode, 204);
      const gone = await mailTo(u.email, 'A second factor was removed from your account');
      assert.match(gone.text ?? '', /an authenticator app \(TOTP\), on /);
      assert.match(gone.text ?? '', /from a signed-in session/);
      assert.deepEqual((await outboxFor(u.email)).sort(), ['mfa_factor_added', 'mfa_factor_removed']);
    });

    it('every step is an audit event with no secret in it', async () => {
      const u = await enrolled();
      const token = (await post('/auth/login/', { username: u.username, password: PASSWORD })).json().mfa_token as string;
      const right = codeAt(u.secret, clock.now());
      const wrong = right === '123456' ? '654321' : '123456';
      assert.equal((await post('/auth/mfa/verify/', { mfa_token: token, code: wrong })).statusCode, 400);
      const recovered = await post('/auth/mfa/verify/', { mfa_token: token, recovery_code: u.recoveryCodes[0]! });
      assert.equal(recovered.statusCode, 200, recovered.body);
      // Ten wrong codes in a row lock the factor.
      for (let i = 0; i < 10; i++) {
        const t = (await post('/auth/login/', { username: u.username, password: PASSWORD })).json().mfa_token as string | undefined;
        if (t === undefined) break;
        await post('/auth/mfa/verify/', { mfa_token: t, code: wrong });
      }
      clock.advance(15 * 60_000);
      // The access token has expired meanwhile: the session goes on with its refresh token.
      const access = (await post('/auth/refresh/', { refresh: recovered.json().refresh })).json().access as string;
      assert.equal((await h.app.inject({ method: 'DELETE', url: '/auth/mfa/totp/', headers: bearer(access), payload: { code: codeAt(u.secret, clock.now()) } })).statusCode, 204);

      const rows = await h.store.db.selectFrom('audit_events').selectAll().where('user_id', '=', u.id).orderBy('id').execute();
      const types = rows.map((row) => row.type);
      for (const type of ['mfa_enrollment_started', 'mfa_enrolled', 'mfa_challenged', 'mfa_failed', 'recovery_code_used', 'mfa_locked', 'mfa_removed']) assert.ok(types.includes(type), `${type} in ${types}`);
      assert.deepEqual(rows.find((r) => r.type === 'mfa_enrolled')!.detail, { method: 'totp', sessions_ended: 0 });
      assert.deepEqual(rows.find((r) => r.type === 'mfa_failed')!.detail, { reason: 'mfa_code_invalid' });
      assert.deepEqual(rows.find((r) => r.type === 'recovery_code_used')!.detail, { remaining: 9 });
      assert.deepEqual(rows.find((r) => r.type === 'mfa_locked')!.detail, { retry_after: 900 });
      // The enrolment's session ends; the recovery-code session carries on.
      assert.deepEqual(rows.find((r) => r.type === 'mfa_removed')!.detail, { method: 'totp', sessions_ended: 1 });
      const all = JSON.stringify(rows);
      for (const secret of [u.secret, token, right, wrong, ...u.recoveryCodes, u.recoveryCodes[0]!.replace(/-/g, '')]) assert.ok(!all.includes(secret), `no secret in the audit trail (${secret})`);
    });
  });
}
