/**
 * Second-factor policy (SPEC §12 "Enforcement", sessions on security events):
 * MFA_REQUIRED_ROLES (restricted tokens until enrolment, admin routes at aal2),
 * remembered devices (MFA_REMEMBER_DEVICE_DAYS: listed, revocable, never aal2),
 * and which sessions and devices each security event ends. Both databases.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { PASSWORD, bearer, claimsOf, createUser, credentialNotValid, BLACKLISTED, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

const STEP_MS = 30_000;
const DAY_MS = 86_400_000;
const ENROL_FIRST = { detail: 'A second factor must be set up first.', code: 'mfa_enrollment_required' };
const INSUFFICIENT_AAL = { detail: 'This action requires a session signed in with a second factor.', code: 'insufficient_aal' };
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0';

function codeAt(secret: string, at: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
}

/** A user with TOTP enrolled on a harness of its own, and the mfa_token of a later password login (one step on). */
async function waitingForCode(h: Harness, clock: ReturnType<typeof manualClock>) {
  const u = await createUser(h);
  const first = await login(h, u.username);
  const secret = (await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/', headers: bearer(first.access), payload: { password: PASSWORD } })).json().secret as string;
  await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm/', headers: bearer(first.access), payload: { code: codeAt(secret, clock.now()) } });
  clock.advance(STEP_MS);
  const token = (await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } })).json().mfa_token as string;
  return { u, secret, token };
}

for (const name of storeNames()) {
  describe(`second-factor policy (${name})`, () => {
    // A few seconds into a step, so ±1 step is unambiguous.
    const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
    let h: Harness;
    /** Mails sent, as the transport received them. */
    const sent: Array<{ to: string; text: string }> = [];
    before(async () => {
      const mailTransport = { send: async (mail: { to: string; text: string }) => void sent.push(mail), close: () => {} };
      h = await harness(name, { clock, env: { MFA_REQUIRED_ROLES: 'admin', MFA_REMEMBER_DEVICE_DAYS: '30' }, deps: { mailTransport } });
    });
    after(() => h.close());

    const post = (url: string, payload: object, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload, headers });
    const get = (url: string, access: string) => h.app.inject({ method: 'GET', url, headers: bearer(access) });

    /** Enrols TOTP on the session of `access`; the clock then moves one step on, past the enrolment code. */
    async function enrol(access: string) {
      const started = await post('/auth/mfa/totp/', { password: PASSWORD }, bearer(access));
      assert.equal(started.statusCode, 201, started.body);
      const secret = started.json().secret as string;
      const confirmed = await post('/auth/mfa/totp/confirm/', { code: codeAt(secret, clock.now()) }, bearer(access));
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      clock.advance(STEP_MS);
      return { secret, confirmed: confirmed.json() as { access: string; refresh: string; recovery_codes: string[] } };
    }

    /** A password login then the TOTP step; `remember`: ask for a device token. */
    async function twoStep(username: string, secret: string, remember = false, headers: Record<string, string> = {}) {
      const challenged = await post('/auth/login/', { username, password: PASSWORD }, headers);
      assert.equal(challenged.statusCode, 401, challenged.body);
      const verified = await post('/auth/mfa/verify/', { mfa_token: challenged.json().mfa_token, code: codeAt(secret, clock.now()), ...(remember ? { remember_device: true } : {}) }, headers);
      assert.equal(verified.statusCode, 200, verified.body);
      clock.advance(STEP_MS);
      return verified.json() as { access: string; refresh: string; device_token?: string; device_token_expires_at?: string };
    }

    /** A user of a role MFA_REQUIRED_ROLES leaves out, with TOTP, and a remembered device. */
    async function withDevice() {
      const u = await createUser(h);
      const first = await login(h, u.username);
      const { secret } = await enrol(first.access);
      const remembered = await twoStep(u.username, secret, true, { 'user-agent': UA });
      assert.ok(remembered.device_token);
      return { ...u, secret, deviceToken: remembered.device_token, session: remembered };
    }

    describe('MFA_REQUIRED_ROLES', () => {
      it('an admin without a factor gets restricted tokens: only me, refresh, verify, logout and the MFA routes work until enrolment', async () => {
        const admin = await createUser(h, { role: 'admin' });
        const response = await post('/auth/login/', { username: admin.username, password: PASSWORD });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json();
        assert.equal(body.mfa_enrollment_required, true);
        assert.equal(claimsOf(body.access).mfa_enrollment_required, true);
        assert.equal(claimsOf(body.refresh).mfa_enrollment_required, true);

        assert.equal((await get('/auth/me/', body.access)).statusCode, 200);
        assert.equal((await post('/auth/verify/', { token: body.access })).statusCode, 200);
        for (const url of ['/auth/sessions/', '/admin/users/', '/admin/audit-events/']) {
          const refused = await get(url, body.access);
          assert.deepEqual([refused.statusCode, refused.json()], [403, ENROL_FIRST], url);
        }
        const status = await get('/auth/mfa/', body.access);
        assert.equal(status.statusCode, 200, status.body);
        assert.equal(status.json().mfa_required, true);
        assert.equal(status.json().mfa_enabled, false);

        // A refresh keeps the restriction while there is no factor.
        const refreshed = await post('/auth/refresh/', { refresh: body.refresh });
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        assert.equal(claimsOf(refreshed.json().access).mfa_enrollment_required, true);
        assert.deepEqual((await get('/auth/sessions/', refreshed.json().access)).json(), ENROL_FIRST);

        // Enrolment gives a fresh aal2 pair without the restriction; the admin routes open.
        const { confirmed } = await enrol(refreshed.json().access);
        assert.equal(confirmed.access !== undefined && 'mfa_enrollment_required' in claimsOf(confirmed.access), false);
        assert.equal(claimsOf(confirmed.access).aal, 'aal2');
        assert.equal((await get('/auth/sessions/', confirmed.access)).statusCode, 200);
        assert.equal((await get('/admin/users/', confirmed.access)).statusCode, 200);
        const again = await post('/auth/refresh/', { refresh: confirmed.refresh });
        assert.equal('mfa_enrollment_required' in claimsOf(again.json().access), false);
      });

      it('logout and logout-all work with restricted tokens; a user of another role sees no change', async () => {
        const admin = await createUser(h, { role: 'admin' });
        const a = await login(h, admin.username);
        const b = await login(h, admin.username);
        const all = await post('/auth/logout-all/', {}, bearer(a.access));
        assert.deepEqual([all.statusCode, all.json()], [200, { sessions_ended: 2 }]);
        assert.deepEqual((await get('/auth/me/', b.access)).json(), credentialNotValid(BLACKLISTED));
        const c = await login(h, admin.username);
        assert.equal((await post('/auth/logout/', { refresh: c.refresh })).statusCode, 200);

        const client = await createUser(h);
        const plain = await post('/auth/login/', { username: client.username, password: PASSWORD });
        assert.equal('mfa_enrollment_required' in plain.json(), false);
        assert.equal('mfa_enrollment_required' in claimsOf(plain.json().access), false);
        assert.equal((await get('/auth/sessions/', plain.json().access)).statusCode, 200);
        assert.equal((await get('/auth/mfa/', plain.json().access)).json().mfa_required, false);
      });

      it('a forced password change comes first, then enrolment', async () => {
        const admin = await createUser(h, { role: 'admin', passwordNeedsReset: true });
        const first = await login(h, admin.username);
        assert.equal((first as { mfa_enrollment_required?: boolean }).mfa_enrollment_required, true);
        const blocked = await post('/auth/mfa/totp/', { password: PASSWORD }, bearer(first.access));
        assert.deepEqual([blocked.statusCode, blocked.json().code], [403, 'password_reset_required']);
        const changed = await post('/auth/change-password/', { old_password: PASSWORD, new_password: 'a brand new passphrase 7' }, bearer(first.access));
        assert.equal(changed.statusCode, 200, changed.body);
        assert.equal(claimsOf(changed.json().access).mfa_enrollment_required, true);
        assert.equal('password_reset_required' in claimsOf(changed.json().access), false);
        const started = await post('/auth/mfa/totp/', { password: 'a brand new passphrase 7' }, bearer(changed.json().access));
        assert.equal(started.statusCode, 201, started.body);
      });

      it('admin routes need aal2: a remembered device (aal1) gets 403 insufficient_aal, the TOTP login 200', async () => {
        const admin = await createUser(h, { role: 'admin' });
        const { secret } = await enrol((await login(h, admin.username)).access);
        const stepped = await twoStep(admin.username, secret, true);
        assert.equal((await get('/admin/users/', stepped.access)).statusCode, 200);
        const remembered = await post('/auth/login/', { username: admin.username, password: PASSWORD, device_token: stepped.device_token });
        assert.equal(remembered.statusCode, 200, remembered.body);
        assert.equal(claimsOf(remembered.json().access).aal, 'aal1');
        const refused = await get('/admin/users/', remembered.json().access);
        assert.deepEqual([refused.statusCode, refused.json()], [403, INSUFFICIENT_AAL]);
        // Everything else works at aal1.
        assert.equal((await get('/auth/sessions/', remembered.json().access)).statusCode, 200);
      });
    });

    describe('remembered devices', () => {
      it('remember_device gives a device token; the next password login with it skips the prompt at aal1, amr ["pwd"]', async () => {
        const u = await withDevice();
        assert.match(u.deviceToken, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(u.session.device_token_expires_at, new Date(Math.floor((clock.now() - STEP_MS + 30 * DAY_MS) / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
        const stored = await h.store.db.selectFrom('mfa_remembered_devices').selectAll().where('user_id', '=', u.id).execute();
        assert.equal(stored.length, 1);
        assert.ok(!JSON.stringify(stored).includes(u.deviceToken), 'stored hashed');

        const loginAt = clock.now();
        const skipped = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        assert.equal(skipped.statusCode, 200, skipped.body);
        const claims = claimsOf(skipped.json().access);
        assert.deepEqual([claims.amr, claims.aal, claims.auth_time], [['pwd'], 'aal1', Math.floor(loginAt / 1000)]);
        assert.equal('device_token' in skipped.json(), false);

        const status = await get('/auth/mfa/', skipped.json().access);
        const devices = status.json().remembered_devices as Array<Record<string, unknown>>;
        assert.equal(devices.length, 1);
        assert.deepEqual(Object.keys(devices[0] ?? {}).sort(), ['created_at', 'expires_at', 'id', 'last_used_at', 'name']);
        assert.equal(devices[0]?.name, UA);
        assert.equal(devices[0]?.last_used_at, new Date(Math.floor(loginAt / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
        assert.equal(devices[0]?.id, stored[0]?.id);
      });

      it("a wrong, foreign or expired device token just means the prompt", async () => {
        const u = await withDevice();
        const other = await withDevice();
        for (const token of ['garbage', other.deviceToken, `${u.deviceToken.slice(0, -1)}${u.deviceToken.endsWith('A') ? 'B' : 'A'}`, '']) {
          const response = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: token });
          assert.equal(response.statusCode, 401, token);
          assert.equal(response.json().code, 'mfa_required');
        }
        // A wrong password with a good device token is the ordinary refusal.
        const wrong = await post('/auth/login/', { username: u.username, password: 'not the password', device_token: u.deviceToken });
        assert.deepEqual([wrong.statusCode, wrong.json().code], [401, 'no_active_account']);
        clock.advance(30 * DAY_MS);
        const expired = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        assert.equal(expired.json().code, 'mfa_required');
      });

      it('DELETE /auth/mfa/devices/{id}/ forgets one device (204); another user\'s or an unknown id is 404', async () => {
        const u = await withDevice();
        const other = await withDevice();
        const [device] = (await get('/auth/mfa/', u.session.access)).json().remembered_devices as Array<{ id: string }>;
        assert.ok(device);
        const foreign = await h.app.inject({ method: 'DELETE', url: `/auth/mfa/devices/${device.id}/`, headers: bearer(other.session.access) });
        assert.deepEqual([foreign.statusCode, foreign.json()], [404, { detail: 'Not found.', code: 'not_found' }]);
        const gone = await h.app.inject({ method: 'DELETE', url: `/auth/mfa/devices/${device.id}/`, headers: bearer(u.session.access) });
        assert.equal(gone.statusCode, 204, gone.body);
        const again = await h.app.inject({ method: 'DELETE', url: `/auth/mfa/devices/${device.id}/`, headers: bearer(u.session.access) });
        assert.equal(again.statusCode, 404);
        const prompted = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        assert.equal(prompted.json().code, 'mfa_required');
        assert.deepEqual((await get('/auth/mfa/', u.session.access)).json().remembered_devices, []);
        const audit = await h.store.db.selectFrom('audit_events').select(['type']).where('user_id', '=', u.id).where('type', 'in', ['mfa_device_remembered', 'mfa_device_forgotten']).orderBy('id').execute();
        assert.deepEqual(audit.map((e) => e.type), ['mfa_device_remembered', 'mfa_device_forgotten']);
      });
    });

    describe('sessions on security events', () => {
      it('enrolling a factor ends the other sessions and raises this one to aal2', async () => {
        const u = await createUser(h);
        const here = await login(h, u.username);
        const there = await login(h, u.username);
        const { confirmed } = await enrol(here.access);
        assert.deepEqual([claimsOf(confirmed.access).aal, claimsOf(confirmed.access).amr, claimsOf(confirmed.access).sid], ['aal2', ['pwd', 'otp', 'mfa'], claimsOf(here.access).sid]);
        assert.deepEqual((await get('/auth/me/', there.access)).json(), credentialNotValid(BLACKLISTED));
        assert.equal((await post('/auth/refresh/', { refresh: there.refresh })).statusCode, 401);
        assert.equal((await get('/auth/me/', confirmed.access)).statusCode, 200);
        // Raised for good: a refresh of this session stays at aal2.
        const refreshed = await post('/auth/refresh/', { refresh: confirmed.refresh });
        assert.equal(claimsOf(refreshed.json().access).aal, 'aal2');
      });

      it('removing TOTP ends the other sessions and the remembered devices, not this session', async () => {
        const u = await withDevice();
        const there = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        assert.equal(there.statusCode, 200);
        const removed = await h.app.inject({ method: 'DELETE', url: '/auth/mfa/totp/', headers: bearer(u.session.access), payload: { code: codeAt(u.secret, clock.now()) } });
        assert.equal(removed.statusCode, 204, removed.body);
        assert.deepEqual((await get('/auth/me/', there.json().access)).json(), credentialNotValid(BLACKLISTED));
        assert.equal((await get('/auth/me/', u.session.access)).statusCode, 200);
        assert.equal((await h.store.db.selectFrom('mfa_remembered_devices').select('id').where('user_id', '=', u.id).execute()).length, 0);
      });

      it('a password reset ends every session and the remembered devices', async () => {
        const u = await withDevice();
        const there = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        await h.auth.sendPasswordReset(u.id, { source: 'cli' });
        await h.auth.drainMail(10_000);
        const mail = sent.filter((m) => m.to === u.email).at(-1);
        const [, uid, token] = /\/reset\/([^/\s]+)\/([^/\s]+)/.exec(mail?.text ?? '') ?? [];
        assert.ok(uid && token, mail?.text);
        const confirmed = await post('/auth/password-reset/confirm/', { uid, token, new_password: 'another good passphrase 9' });
        assert.equal(confirmed.statusCode, 204, confirmed.body);
        for (const access of [u.session.access, there.json().access]) assert.deepEqual((await get('/auth/me/', access)).json(), credentialNotValid(BLACKLISTED));
        const prompted = await post('/auth/login/', { username: u.username, password: 'another good passphrase 9', device_token: u.deviceToken });
        assert.equal(prompted.json().code, 'mfa_required', 'a second factor stays required, and the device is forgotten');
        assert.equal((await h.store.db.selectFrom('mfa_remembered_devices').select('id').where('user_id', '=', u.id).execute()).length, 0);
      });

      it('logout-all ends every session and voids the remembered devices', async () => {
        const u = await withDevice();
        const there = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        const all = await post('/auth/logout-all/', {}, bearer(u.session.access));
        assert.deepEqual([all.statusCode, all.json()], [200, { sessions_ended: 3 }]);
        assert.deepEqual((await get('/auth/me/', there.json().access)).json(), credentialNotValid(BLACKLISTED));
        const prompted = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        assert.equal(prompted.json().code, 'mfa_required');
        const audit = await h.store.db.selectFrom('audit_events').select('detail').where('user_id', '=', u.id).where('type', '=', 'logout_all').executeTakeFirstOrThrow();
        assert.deepEqual(audit.detail, { sessions_ended: 3, remembered_devices_forgotten: 1 });
      });

      it('new recovery codes end nothing: other sessions and remembered devices keep working', async () => {
        const u = await withDevice();
        const there = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        const codes = await post('/auth/mfa/recovery-codes/', { code: codeAt(u.secret, clock.now()) }, bearer(u.session.access));
        assert.equal(codes.statusCode, 200, codes.body);
        assert.equal(codes.json().recovery_codes.length, 10);
        assert.equal((await get('/auth/me/', there.json().access)).statusCode, 200);
        assert.equal((await get('/auth/me/', u.session.access)).statusCode, 200);
        const skipped = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: u.deviceToken });
        assert.equal(skipped.statusCode, 200, skipped.body);
      });
    });
  });

  describe(`remembered devices in cookie mode, and off by default (${name})`, () => {
    it('verify sets an httpOnly mfa_device cookie; a login presenting only the cookie skips the prompt', async () => {
      const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
      const h = await harness(name, { clock, env: { AUTH_COOKIES: 'true', COOKIE_BODY_TOKENS: 'true', MFA_REMEMBER_DEVICE_DAYS: '7' } });
      try {
        const { u, secret, token } = await waitingForCode(h, clock);
        const verified = await h.app.inject({ method: 'POST', url: '/auth/mfa/verify/', payload: { mfa_token: token, code: codeAt(secret, clock.now()), remember_device: true } });
        assert.equal(verified.statusCode, 200, verified.body);
        const cookie = verified.cookies.find((c) => c.name === 'mfa_device');
        assert.ok(cookie);
        assert.deepEqual([cookie.value, cookie.httpOnly, cookie.path, cookie.maxAge, cookie.sameSite], [verified.json().device_token, true, '/auth/', 7 * 86_400, 'Lax']);
        const skipped = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD }, cookies: { mfa_device: cookie.value } });
        assert.equal(skipped.statusCode, 200, skipped.body);
        assert.equal(claimsOf(skipped.json().access).aal, 'aal1');
      } finally {
        await h.close();
      }
    });

    it('with MFA_REMEMBER_DEVICE_DAYS=0 (the default) remember_device is ignored: no device token, the prompt every time', async () => {
      const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
      const h = await harness(name, { clock });
      try {
        const { secret, token } = await waitingForCode(h, clock);
        const verified = await h.app.inject({ method: 'POST', url: '/auth/mfa/verify/', payload: { mfa_token: token, code: codeAt(secret, clock.now()), remember_device: true } });
        assert.equal(verified.statusCode, 200, verified.body);
        assert.equal('device_token' in verified.json(), false);
        assert.equal((await h.store.db.selectFrom('mfa_remembered_devices').select('id').execute()).length, 0);
      } finally {
        await h.close();
      }
    });
  });
}
