/**
 * latchkey/client's second-factor and session calls against a live server over
 * real HTTP (SPEC §8, §12): login meeting `401 mfa_required`, verifyMfa with a
 * TOTP code and a recovery code, TOTP enrolment, new recovery codes, removal,
 * the session list, ending one, logout-all; in header and cookie mode.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { LatchkeyClient, LatchkeyError, MfaRequiredError, memoryStorage } from '../../src/client/index.ts';
import { createUser, harness, manualClock, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { cookieFetch } from '../support/cookie-fetch.ts';

const STEP_MS = 30_000;
const codeAt = (secret: string, at: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });

const addressOf = (h: Harness) => {
  const address = h.app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
};

/** Rejects with a LatchkeyError of this status and code. */
const failsWith = (status: number, code: string) => (e: unknown) => e instanceof LatchkeyError && e.status === status && e.code === code;

for (const name of storeNames()) {
  describe(`latchkey/client: second factor and sessions, on ${name}`, () => {
    // A few seconds into a step, so ±1 step is unambiguous.
    const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
    let h: Harness;
    let baseUrl: string;
    before(async () => {
      h = await harness(name, { clock, env: { ACCESS_TOKEN_LIFETIME: '1h' } });
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      baseUrl = addressOf(h);
    });
    after(() => h.close());

    /** A signed-in client of a user who has confirmed TOTP; the clock is one step past the enrolment code. */
    async function enrolled() {
      const u = await createUser(h);
      const storage = memoryStorage();
      const client = new LatchkeyClient({ baseUrl, storage });
      await client.login(u.username, PASSWORD);
      const enrolment = await client.startTotp(PASSWORD);
      const before = storage.get();
      const codes = await client.confirmTotp(codeAt(enrolment.secret, clock.now()));
      clock.advance(STEP_MS);
      return { ...u, client, storage, secret: enrolment.secret, codes, before };
    }

    it('enrolment: startTotp needs the password; confirmTotp keeps the fresh pair and gives ten recovery codes; mfaStatus says so', async () => {
      const u = await createUser(h);
      const client = new LatchkeyClient({ baseUrl, storage: memoryStorage() });
      await client.login(u.username, PASSWORD);
      assert.deepEqual(await client.mfaStatus(), {
        mfa_enabled: false, mfa_required: false, totp: { enabled: false, created_at: null, last_used_at: null }, passkeys: 0, recovery_codes_remaining: 0, remembered_devices: [],
      });
      await assert.rejects(client.startTotp('not the password'), (e: unknown) =>
        e instanceof LatchkeyError && e.status === 400 && e.code === 'invalid' && e.detail === 'Invalid password.');
      await assert.rejects(client.confirmTotp('123456'), failsWith(400, 'mfa_not_pending'));

      const { storage, secret, codes, before } = await enrolled();
      assert.match(secret, /^[A-Z2-7]{32}$/);
      assert.equal(codes.length, 10);
      assert.ok(codes.every((code) => /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code)), codes.join(' '));
      const after = storage.get();
      assert.ok(after?.access && after.refresh);
      assert.notEqual(after.access, before?.access, 'the fresh pair replaced the old one');
      assert.notEqual(after.refresh, before?.refresh);
      // The kept pair works, and is at aal2.
      const me = new LatchkeyClient({ baseUrl, storage });
      const status = await me.mfaStatus();
      assert.equal(status.mfa_enabled, true);
      assert.equal(status.totp.enabled, true);
      assert.equal(status.recovery_codes_remaining, 10);
      assert.equal(JSON.parse(Buffer.from(after.access.split('.')[1]!, 'base64url').toString()).aal, 'aal2');
    });

    it('login throws MfaRequiredError (a LatchkeyError with detail) and keeps nothing; verifyMfa with a code, then a recovery code, signs in', async () => {
      const u = await enrolled();
      const storage = memoryStorage();
      const client = new LatchkeyClient({ baseUrl, storage });
      const error = await client.login(u.username, PASSWORD).then(() => null, (e: unknown) => e);
      assert.ok(error instanceof MfaRequiredError);
      assert.ok(error instanceof LatchkeyError, 'a client that knows nothing of MFA still sees a LatchkeyError');
      assert.equal(error.status, 401);
      assert.equal(error.code, 'mfa_required');
      assert.equal(error.detail, 'Multi-factor authentication required.');
      assert.match(error.mfaToken, /.{20,}/);
      assert.ok(Date.parse(error.expiresAt) > clock.now());
      assert.deepEqual(error.methods, ['totp', 'recovery_code']);
      assert.equal(storage.get(), null, 'not half logged in');
      // A wrong password stays the ordinary error, not an MfaRequiredError.
      const wrong = await client.login(u.username, 'wrong password').then(() => null, (e: unknown) => e);
      assert.ok(wrong instanceof LatchkeyError && !(wrong instanceof MfaRequiredError) && wrong.code === 'no_active_account');

      await assert.rejects(client.verifyMfa({ mfaToken: error.mfaToken, code: '000000' === codeAt(u.secret, clock.now()) ? '111111' : '000000' }), (e: unknown) =>
        e instanceof LatchkeyError && e.status === 400 && e.code === 'mfa_code_invalid' && (e.body as { attempts_left: number }).attempts_left === 4);
      assert.equal(storage.get(), null);
      const body = await client.verifyMfa({ mfaToken: error.mfaToken, code: codeAt(u.secret, clock.now()) });
      assert.equal(body.user?.username, u.username);
      assert.equal(storage.get()?.access, body.access);
      assert.equal(storage.get()?.refresh, body.refresh);
      assert.equal((await client.me()).username, u.username);
      await assert.rejects(client.verifyMfa({ mfaToken: error.mfaToken, code: codeAt(u.secret, clock.now()) }), failsWith(401, 'mfa_token_invalid'));

      const second = new LatchkeyClient({ baseUrl, storage: memoryStorage() });
      const again = await second.login(u.username, PASSWORD).then(() => null, (e: unknown) => e as MfaRequiredError);
      const recovered = await second.verifyMfa({ mfaToken: again!.mfaToken, recoveryCode: u.codes[0]! });
      assert.equal(recovered.user?.username, u.username);
      assert.equal((await second.mfaStatus()).recovery_codes_remaining, 9);
      const third = await second.login(u.username, PASSWORD).then(() => null, (e: unknown) => e as MfaRequiredError);
      await assert.rejects(second.verifyMfa({ mfaToken: third!.mfaToken, recoveryCode: u.codes[0]! }), failsWith(400, 'mfa_code_invalid'));
    });

    it('regenerateRecoveryCodes needs a current code and replaces the set; disableTotp removes the factor', async () => {
      const u = await enrolled();
      await assert.rejects(u.client.regenerateRecoveryCodes('12345'), failsWith(400, 'mfa_code_invalid'));
      const fresh = await u.client.regenerateRecoveryCodes(codeAt(u.secret, clock.now()));
      assert.equal(fresh.length, 10);
      assert.equal(fresh.filter((code) => u.codes.includes(code)).length, 0);
      clock.advance(STEP_MS);
      await u.client.disableTotp(codeAt(u.secret, clock.now()));
      const status = await u.client.mfaStatus();
      assert.equal(status.mfa_enabled, false);
      assert.equal(status.recovery_codes_remaining, 0);
      // Without a factor the login is one step again.
      const plain = new LatchkeyClient({ baseUrl, storage: memoryStorage() });
      assert.equal((await plain.login(u.username, PASSWORD)).user?.username, u.username);
      await assert.rejects(u.client.disableTotp('123456'), failsWith(404, 'not_found'));
    });

    it('sessions lists the devices with the current one marked; endSession ends another (its refresh fails); logoutAll ends them all', async () => {
      const u = await createUser(h);
      const here = new LatchkeyClient({ baseUrl, storage: memoryStorage() });
      await here.login(u.username, PASSWORD);
      const thereStorage = memoryStorage();
      const there = new LatchkeyClient({ baseUrl, storage: thereStorage });
      await there.login(u.username, PASSWORD);
      const sessions = await here.sessions();
      assert.equal(sessions.length, 2);
      assert.deepEqual(sessions.map((s) => s.current).sort(), [false, true]);
      const other = sessions.find((s) => !s.current)!;
      assert.deepEqual(Object.keys(other).sort(), ['created_at', 'current', 'expires_at', 'id', 'ip', 'last_used_at', 'user_agent']);
      assert.equal(other.ip, '127.0.0.1');
      await here.endSession(other.id);
      assert.deepEqual((await here.sessions()).map((s) => s.current), [true]);
      await assert.rejects(there.refresh(), failsWith(401, 'token_not_valid'));
      assert.equal(thereStorage.get(), null);
      await assert.rejects(here.endSession(other.id), failsWith(404, 'not_found'));

      await there.login(u.username, PASSWORD);
      assert.equal(await here.logoutAll(), 2);
      await assert.rejects(here.me(), failsWith(401, 'not_authenticated'));
      await assert.rejects(there.refresh(), failsWith(401, 'token_not_valid'));
    });

    it('cookie mode: verifyMfa and confirmTotp leave the tokens to the cookies; the calls carry the CSRF header', async () => {
      const c = await harness(name, { clock, env: { AUTH_COOKIES: 'true', COOKIE_SECURE: 'false' } });
      try {
        await c.app.listen({ host: '127.0.0.1', port: 0 });
        const url = addressOf(c);
        const u = await createUser(c);
        const { fetcher, jar } = cookieFetch();
        const client = new LatchkeyClient({ baseUrl: url, mode: 'cookie', fetch: fetcher, csrfToken: () => jar.get('csrf_token') });
        await client.login(u.username, PASSWORD);
        const { secret } = await client.startTotp(PASSWORD);
        const firstCookie = jar.get('access_token');
        const codes = await client.confirmTotp(codeAt(secret, clock.now()));
        assert.equal(codes.length, 10);
        assert.notEqual(jar.get('access_token'), firstCookie, 'the fresh pair came as cookies');
        clock.advance(STEP_MS);
        await client.logout();
        assert.equal(jar.size, 0);
        const challenge = await client.login(u.username, PASSWORD).then(() => null, (e: unknown) => e as MfaRequiredError);
        assert.ok(challenge instanceof MfaRequiredError);
        assert.equal(jar.has('access_token'), false);
        const body = await client.verifyMfa({ mfaToken: challenge.mfaToken, code: codeAt(secret, clock.now()) });
        assert.equal(body.access, undefined, 'no token in the body');
        assert.ok(jar.get('access_token'));
        assert.equal((await client.sessions()).length, 1);
        clock.advance(STEP_MS);
        await client.disableTotp(codeAt(secret, clock.now()));
        assert.equal((await client.mfaStatus()).mfa_enabled, false);
      } finally {
        await c.close();
      }
    });
  });
}
