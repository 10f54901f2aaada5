/**
 * The second factor (SPEC §12): TOTP enrolment behind the password, the
 * two-step login, recovery codes, single use of every code across instances,
 * the mfa_token's attempts and the account's lock, and the amr/aal/auth_time
 * claims.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { PASSWORD, bearer, claimsOf, createUser, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

const STEP_MS = 30_000;
const MFA_REQUIRED = 'Multi-factor authentication required.';

/** What an authenticator app shows at `at`. */
function codeAt(secret: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
}

for (const name of storeNames()) {
  describe(`second factor (${name})`, () => {
    // A few seconds into a step, so ±1 step is unambiguous.
    const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
    let h: Harness;
    let other: Harness;
    before(async () => {
      h = await harness(name, { clock });
      // A second instance on the same database: what one spends, the other sees spent.
      other = await harness(name, { clock, store: h.store });
    });
    after(async () => {
      await other.close();
      await h.close();
    });

    const post = (app: Harness, url: string, payload: object, headers: Record<string, string> = {}) => app.app.inject({ method: 'POST', url, payload, headers });

    /** A user with TOTP enrolled; the clock moved one step past the enrolment code. */
    async function enrolled() {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const started = await post(h, '/auth/mfa/totp/', { password: PASSWORD }, bearer(session.access));
      assert.equal(started.statusCode, 201, started.body);
      const secret = started.json().secret as string;
      const enrolmentCode = codeAt(secret, clock.now());
      const confirmed = await post(h, '/auth/mfa/totp/confirm/', { code: enrolmentCode }, bearer(session.access));
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      return { ...u, secret, enrolmentCode, confirmed: confirmed.json(), session };
    }

    async function challenge(app: Harness, username: string) {
      const response = await post(app, '/auth/login/', { username, password: PASSWORD });
      assert.equal(response.statusCode, 401, response.body);
      return response.json().mfa_token as string;
    }

    it('enrolment needs the password; the secret is stored sealed; confirming gives ten recovery codes and aal2', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const other1 = await login(h, u.username);
      assert.equal((await post(h, '/auth/mfa/totp/', { password: PASSWORD })).statusCode, 401);
      assert.deepEqual((await post(h, '/auth/mfa/totp/', {}, bearer(session.access))).json(), { password: ['This field is required.'] });
      const wrong = await post(h, '/auth/mfa/totp/', { password: 'not the password' }, bearer(session.access));
      assert.equal(wrong.statusCode, 400);
      assert.deepEqual(wrong.json(), { password: ['Invalid password.'] });
      assert.equal(await h.store.db.selectFrom('user_mfa').select('user_id').where('user_id', '=', u.id).executeTakeFirst(), undefined, 'a wrong password changes nothing');

      const started = await post(h, '/auth/mfa/totp/', { password: PASSWORD }, bearer(session.access));
      assert.equal(started.statusCode, 201);
      const { secret, otpauth_url, expires_at } = started.json();
      assert.match(secret, /^[A-Z2-7]{32}$/);
      assert.match(otpauth_url, /^otpauth:\/\/totp\/Latchkey:.*secret=[A-Z2-7]{32}.*algorithm=SHA1&digits=6&period=30/);
      assert.equal(Date.parse(expires_at), Math.floor((clock.now() + 600_000) / 1000) * 1000);
      const row = await h.store.db.selectFrom('user_mfa').selectAll().where('user_id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(row.totp_confirmed_at, null);
      assert.ok(row.totp_pending_secret?.startsWith('v1.'));
      assert.ok(!row.totp_pending_secret!.includes(secret), 'the secret is not stored in clear');
      // Pending: logging in still needs no second factor.
      assert.ok((await login(h, u.username)).access);

      const bad = await post(h, '/auth/mfa/totp/confirm/', { code: '000000' === codeAt(secret, clock.now()) ? '111111' : '000000' }, bearer(session.access));
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().code, 'mfa_code_invalid');

      const confirmed = await post(h, '/auth/mfa/totp/confirm/', { code: codeAt(secret, clock.now()) }, bearer(session.access));
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const body = confirmed.json();
      assert.equal(body.recovery_codes.length, 10);
      assert.equal(new Set(body.recovery_codes).size, 10);
      for (const code of body.recovery_codes) assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      assert.equal(body.user.id, u.id);
      const claims = claimsOf(body.access);
      assert.equal(claims.aal, 'aal2');
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(claims.sid, claimsOf(session.access).sid, 'the same session, raised');
      // Other sessions end; this one goes on with the fresh pair.
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(other1.access) })).statusCode, 401);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(body.access) })).statusCode, 200);
      const codes = await h.store.db.selectFrom('mfa_recovery_codes').select('code_hash').where('user_id', '=', u.id).execute();
      assert.equal(codes.length, 10);
      for (const { code_hash } of codes) assert.ok(code_hash.startsWith('$argon2id$'));
      // Enrolled: a second enrolment is refused until the factor is removed.
      const again = await post(h, '/auth/mfa/totp/', { password: PASSWORD }, bearer(body.access));
      assert.equal(again.json().code, 'mfa_already_enabled');
    });

    it('a user with a factor and the right password gets 401 mfa_required and never tokens; a wrong password is the usual 401', async () => {
      const u = await enrolled();
      const response = await post(h, '/auth/login/', { username: u.username, password: PASSWORD });
      assert.equal(response.statusCode, 401);
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'mfa_methods', 'mfa_token', 'mfa_token_expires_at']);
      assert.equal(body.detail, MFA_REQUIRED);
      assert.equal(body.code, 'mfa_required');
      assert.deepEqual(body.mfa_methods, ['totp', 'recovery_code']);
      assert.match(body.mfa_token, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Date.parse(body.mfa_token_expires_at), Math.floor((clock.now() + 300_000) / 1000) * 1000);
      const stored = await h.store.db.selectFrom('mfa_tokens').select('token_hash').where('user_id', '=', u.id).execute();
      assert.ok(stored.length > 0 && stored.every((row) => row.token_hash !== body.mfa_token), 'stored hashed');
      const wrong = await post(h, '/auth/login/', { username: u.username, password: 'wrong password' });
      assert.deepEqual(wrong.json(), { detail: 'No active account found with the given credentials', code: 'no_active_account' });
      const french = await post(h, '/auth/login/', { username: u.username, password: PASSWORD }, { 'accept-language': 'fr' });
      assert.equal(french.json().detail, 'Authentification à deux facteurs requise.');
    });

    it('verify with a TOTP code answers the login body at aal2; the enrolment code and every used code are refused after', async () => {
      const u = await enrolled();
      // The enrolment code, replayed to log in: refused.
      const replay = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), code: u.enrolmentCode });
      assert.equal(replay.statusCode, 400);
      assert.equal(replay.json().code, 'mfa_code_reused');
      clock.advance(STEP_MS);
      const token = await challenge(h, u.username);
      const code = codeAt(u.secret, clock.now());
      const ok = await post(h, '/auth/mfa/verify/', { mfa_token: token, code });
      assert.equal(ok.statusCode, 200, ok.body);
      const body = ok.json();
      assert.deepEqual(Object.keys(body).sort(), ['access', 'access_expires_at', 'email', 'password_needs_reset', 'refresh', 'refresh_expires_at', 'role', 'user']);
      const claims = claimsOf(body.access);
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
      assert.equal(claims.aal, 'aal2');
      assert.equal(claims.auth_time, Math.floor(clock.now() / 1000));
      assert.deepEqual(claimsOf(body.refresh).amr, claims.amr);
      // Kept across refresh.
      clock.advance(1000);
      const refreshed = await post(h, '/auth/refresh/', { refresh: body.refresh });
      assert.equal(refreshed.statusCode, 200);
      assert.equal(claimsOf(refreshed.json().access).aal, 'aal2');
      assert.equal(claimsOf(refreshed.json().access).auth_time, claims.auth_time);
      assert.deepEqual(claimsOf(refreshed.json().refresh).amr, claims.amr);
      // The mfa_token is spent: a thief who copied it gets nothing.
      const stolen = await post(other, '/auth/mfa/verify/', { mfa_token: token, code });
      assert.equal(stolen.statusCode, 401);
      assert.equal(stolen.json().code, 'mfa_token_invalid');
      // The same code with a fresh mfa_token, on the other instance: reused.
      const again = await post(other, '/auth/mfa/verify/', { mfa_token: await challenge(other, u.username), code });
      assert.equal(again.statusCode, 400);
      assert.deepEqual(again.json(), { detail: 'This code has already been used.', code: 'mfa_code_reused', attempts_left: 4 });
    });

    it('one code sent to two instances at once logs in once', async () => {
      const u = await enrolled();
      clock.advance(STEP_MS);
      const [a, b] = [await challenge(h, u.username), await challenge(other, u.username)];
      const code = codeAt(u.secret, clock.now());
      const answers = await Promise.all([post(h, '/auth/mfa/verify/', { mfa_token: a, code }), post(other, '/auth/mfa/verify/', { mfa_token: b, code })]);
      assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 400]);
      assert.equal(answers.find((r) => r.statusCode === 400)?.json().code, 'mfa_code_reused');
      const sessions = await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', u.id).where('aal', '=', 'aal2').execute();
      assert.equal(sessions.length, 2, 'the enrolment session and one login');
    });

    it('a code one step either side is accepted, and the drift is learnt', async () => {
      const u = await enrolled();
      clock.advance(3 * STEP_MS);
      // The device runs one step ahead.
      const ahead = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), code: codeAt(u.secret, clock.now() + STEP_MS) });
      assert.equal(ahead.statusCode, 200, ahead.body);
      const row = await h.store.db.selectFrom('user_mfa').select('totp_drift').where('user_id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(row.totp_drift, 1);
      clock.advance(2 * STEP_MS);
      // Two steps ahead of the server is now within the window (drift 1, ±1).
      const further = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), code: codeAt(u.secret, clock.now() + 2 * STEP_MS) });
      assert.equal(further.statusCode, 200, further.body);
      clock.advance(4 * STEP_MS);
      // Five steps off is not.
      const far = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), code: codeAt(u.secret, clock.now() + 5 * STEP_MS) });
      assert.equal(far.json().code, 'mfa_code_invalid');
    });

    it('a recovery code logs in once; two concurrent uses of one code: one wins', async () => {
      const u = await enrolled();
      const [first, second] = u.confirmed.recovery_codes as string[];
      const ok = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), recovery_code: first!.toLowerCase() });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.deepEqual(claimsOf(ok.json().access).amr, ['pwd', 'recovery_code', 'mfa']);
      const again = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), recovery_code: first });
      assert.equal(again.statusCode, 400);
      assert.equal(again.json().code, 'mfa_code_invalid');
      const [a, b] = [await challenge(h, u.username), await challenge(other, u.username)];
      const answers = await Promise.all([post(h, '/auth/mfa/verify/', { mfa_token: a, recovery_code: second }), post(other, '/auth/mfa/verify/', { mfa_token: b, recovery_code: second })]);
      assert.deepEqual(answers.map((r) => r.statusCode).sort(), [200, 400]);
      const used = await h.store.db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', u.id).where('used_at', 'is not', null).execute();
      assert.equal(used.length, 2);
      const status = await h.app.inject({ method: 'GET', url: '/auth/mfa/', headers: bearer(ok.json().access) });
      assert.equal(status.json().recovery_codes_remaining, 8);
      assert.equal(status.json().mfa_enabled, true);
    });

    it('five wrong codes burn the mfa_token; ten in a row lock the factor for 15 minutes on every instance', async () => {
      const u = await enrolled();
      clock.advance(STEP_MS);
      const right = () => codeAt(u.secret, clock.now());
      const wrongCode = () => (right() === '123456' ? '654321' : '123456');
      const token = await challenge(h, u.username);
      for (let left = 4; left >= 0; left--) {
        const response = await post(h, '/auth/mfa/verify/', { mfa_token: token, code: wrongCode() });
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { detail: 'Invalid code.', code: 'mfa_code_invalid', attempts_left: left });
      }
      const burnt = await post(h, '/auth/mfa/verify/', { mfa_token: token, code: right() });
      assert.equal(burnt.statusCode, 401);
      assert.equal(burnt.json().code, 'mfa_token_invalid');
      const token2 = await challenge(other, u.username);
      for (let i = 0; i < 4; i++) assert.equal((await post(other, '/auth/mfa/verify/', { mfa_token: token2, code: wrongCode() })).statusCode, 400);
      const locked = await post(other, '/auth/mfa/verify/', { mfa_token: token2, code: wrongCode() });
      assert.equal(locked.statusCode, 429);
      assert.equal(locked.json().code, 'mfa_locked');
      assert.equal(locked.headers['retry-after'], '900');
      // Locked everywhere, even with the right password and then the right code.
      const atLogin = await post(h, '/auth/login/', { username: u.username, password: PASSWORD });
      assert.equal(atLogin.statusCode, 429);
      assert.equal(atLogin.json().code, 'mfa_locked');
      clock.advance(15 * 60_000);
      const ok = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(h, u.username), code: right() });
      assert.equal(ok.statusCode, 200, ok.body);
      const types = await h.store.db.selectFrom('audit_events').select('type').where('user_id', '=', u.id).execute();
      assert.ok(types.some((t) => t.type === 'mfa_locked'));
      assert.ok(types.filter((t) => t.type === 'mfa_failed').length >= 9);
    });

    it('an expired mfa_token is refused', async () => {
      const u = await enrolled();
      const token = await challenge(h, u.username);
      clock.advance(5 * 60_000 + STEP_MS);
      const response = await post(h, '/auth/mfa/verify/', { mfa_token: token, code: codeAt(u.secret, clock.now()) });
      assert.equal(response.statusCode, 401);
      assert.deepEqual(response.json(), { detail: 'The MFA token is invalid or expired.', code: 'mfa_token_invalid' });
    });

    it('hostile codes: short, long, non-digit and both proofs are DRF errors and log nobody in', async () => {
      const u = await enrolled();
      clock.advance(STEP_MS);
      const token = await challenge(h, u.username);
      for (const code of ['12345', '1234567', 'abcdef', '12 456', '１２３４５６']) {
        const response = await post(h, '/auth/mfa/verify/', { mfa_token: token, code });
        assert.equal(response.statusCode, 400, code);
        assert.equal(response.json().code, 'mfa_code_invalid');
      }
      const long = await post(h, '/auth/mfa/verify/', { mfa_token: token, code: '1'.repeat(65) });
      assert.deepEqual(long.json(), { code: ['Ensure this field has no more than 64 characters.'] });
      const both = await post(h, '/auth/mfa/verify/', { mfa_token: token, code: '123456', recovery_code: 'AAAA-AAAA-AAAA' });
      assert.deepEqual(both.json(), { non_field_errors: ['Give either code, recovery_code or credential.'] });
      assert.deepEqual((await post(h, '/auth/mfa/verify/', { code: '123456' })).json(), { mfa_token: ['This field is required.'] });
      const forged = await post(h, '/auth/mfa/verify/', { mfa_token: 'x'.repeat(43), code: codeAt(u.secret, clock.now()) });
      assert.equal(forged.json().code, 'mfa_token_invalid');
    });

    it('removing the factor needs a current code; then logins need only the password again', async () => {
      const u = await enrolled();
      clock.advance(STEP_MS);
      const access = u.confirmed.access as string;
      const wrong = await h.app.inject({ method: 'DELETE', url: '/auth/mfa/totp/', headers: bearer(access), payload: { code: codeAt(u.secret, clock.now() - 5 * STEP_MS) } });
      assert.equal(wrong.statusCode, 400);
      const removed = await h.app.inject({ method: 'DELETE', url: '/auth/mfa/totp/', headers: bearer(access), payload: { code: codeAt(u.secret, clock.now()) } });
      assert.equal(removed.statusCode, 204, removed.body);
      assert.ok((await login(h, u.username)).access);
      assert.equal((await h.store.db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', u.id).execute()).length, 0);
    });

    it('users without a factor: every token says a password at aal1, at the login time, kept across refresh', async () => {
      const u = await createUser(h);
      const loginAt = clock.now();
      const body = await login(h, u.username);
      const claims = claimsOf(body.access);
      assert.deepEqual([claims.amr, claims.aal, claims.auth_time], [['pwd'], 'aal1', Math.floor(loginAt / 1000)]);
      const session = await h.store.db.selectFrom('sessions').select(['amr', 'aal', 'auth_time']).where('id', '=', claims.sid as string).executeTakeFirstOrThrow();
      assert.deepEqual(session, { amr: ['pwd'], aal: 'aal1', auth_time: new Date(loginAt) });
      clock.advance(60_000);
      const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: body.refresh } });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      for (const token of [refreshed.json().access, refreshed.json().refresh]) {
        const c = claimsOf(token);
        assert.deepEqual([c.amr, c.aal, c.auth_time], [['pwd'], 'aal1', Math.floor(loginAt / 1000)]);
        assert.equal(c.iat, Math.floor(clock.now() / 1000));
      }
    });
  });

  describe(`second factor with cookies and minimal bodies (${name})`, () => {
    it('verify sets the cookies as login does, and LOGIN_RESPONSE=minimal is honoured', async () => {
      const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
      const h = await harness(name, { clock, env: { LOGIN_RESPONSE: 'minimal', AUTH_COOKIES: 'true', COOKIE_BODY_TOKENS: 'true' } });
      try {
        const u = await createUser(h);
        const session = await login(h, u.username);
        const secret = (await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/', headers: bearer(session.access), payload: { password: PASSWORD } })).json().secret as string;
        const confirmed = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm/', headers: bearer(session.access), payload: { code: codeAt(secret, clock.now()) } });
        assert.deepEqual(Object.keys(confirmed.json()).sort(), ['access', 'recovery_codes', 'refresh']);
        clock.advance(STEP_MS);
        const token = (await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } })).json().mfa_token as string;
        const ok = await h.app.inject({ method: 'POST', url: '/auth/mfa/verify/', payload: { mfa_token: token, code: codeAt(secret, clock.now()) } });
        assert.equal(ok.statusCode, 200, ok.body);
        assert.deepEqual(Object.keys(ok.json()).sort(), ['access', 'refresh']);
        const cookies = ok.cookies.map((c) => c.name).sort();
        assert.deepEqual(cookies, ['access_token', 'csrf_token', 'refresh_token']);
      } finally {
        await h.close();
      }
    });
  });
}
