/**
 * Passkeys (SPEC §12) with real attestations and assertions from a software
 * authenticator: registration, the discoverable login, the second step after
 * the password, the claims, challenges used once for one purpose within five
 * minutes, counter regressions, forged and misdirected assertions, and which
 * sessions end when a passkey goes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.ts';
import { SoftAuthenticator, type Tamper } from '../support/authenticator.ts';
import { PASSWORD, bearer, claimsOf, createUser, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

const ORIGIN = 'https://app.example.test';
const RP_ID = 'example.test';
const FAILED = { detail: 'The passkey could not be verified.', code: 'webauthn_failed' };
const ENV = { WEBAUTHN_RP_ID: RP_ID, WEBAUTHN_ORIGINS: `${ORIGIN},https://other.example.test`, WEBAUTHN_RP_NAME: 'Example', MFA_REMEMBER_DEVICE_DAYS: '30' };

describe('passkey settings', () => {
  it('default to the server’s own URL, else localhost for development', () => {
    const base = { SIGNING_KEY: 'x'.repeat(40), PORT: '8123' };
    const local = loadConfig(base);
    assert.equal(local.webauthnRpId, 'localhost');
    assert.deepEqual(local.webauthnOrigins, ['http://localhost:8123']);
    assert.equal(local.webauthnRpName, 'Latchkey');
    const hosted = loadConfig({ ...base, PUBLIC_URL: 'https://auth.example.com/base', CORS_ORIGINS: 'https://app.example.com' });
    assert.equal(hosted.webauthnRpId, 'auth.example.com');
    assert.deepEqual(hosted.webauthnOrigins, ['https://auth.example.com', 'https://app.example.com']);
    const set = loadConfig({ ...base, ...ENV });
    assert.equal(set.webauthnRpId, RP_ID);
    assert.deepEqual(set.webauthnOrigins, [ORIGIN, 'https://other.example.test']);
    assert.equal(set.webauthnRpName, 'Example');
    assert.throws(() => loadConfig({ ...base, WEBAUTHN_RP_ID: 'https://example.com' }), /WEBAUTHN_RP_ID/);
    assert.throws(() => loadConfig({ ...base, WEBAUTHN_RP_ID: '10.0.0.1' }), /WEBAUTHN_RP_ID/);
    assert.throws(() => loadConfig({ ...base, WEBAUTHN_ORIGINS: 'example.com' }), /WEBAUTHN_ORIGINS/);
  });
});

for (const name of storeNames()) {
  describe(`passkeys (${name})`, () => {
    const clock = manualClock(Date.now());
    let h: Harness;
    before(async () => {
      h = await harness(name, { clock, env: ENV });
    });
    after(async () => {
      await h.close();
    });

    const post = (url: string, payload: object, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload, headers });
    const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });
    const alive = async (access: string) => (await get('/auth/me/', bearer(access))).statusCode === 200;
    const events = async (userId: number, type: string) =>
      h.store.db.selectFrom('audit_events').select(['detail', 'outcome']).where('user_id', '=', userId).where('type', '=', type).orderBy('id').execute();

    /** A user with one passkey registered from a password session (which the registration raised to aal2). */
    async function withPasskey(options: { synced?: boolean } = {}) {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const key = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, ...options });
      const started = await post('/auth/passkeys/register/options/', {}, bearer(session.access));
      assert.equal(started.statusCode, 200, started.body);
      const { challenge_id, options: creation } = started.json();
      const registered = await post('/auth/passkeys/register/', { challenge_id, credential: key.create(creation), name: 'Laptop' }, bearer(session.access));
      assert.equal(registered.statusCode, 201, registered.body);
      return { ...u, key, session, registered: registered.json() };
    }

    async function loginWith(key: SoftAuthenticator, tamper: Tamper = {}) {
      const options = await post('/auth/passkeys/login/options/', {});
      assert.equal(options.statusCode, 200, options.body);
      const { challenge_id, options: request } = options.json();
      return post('/auth/passkeys/login/', { challenge_id, credential: key.get(request, tamper) });
    }

    async function mfaToken(username: string): Promise<string> {
      const response = await post('/auth/login/', { username, password: PASSWORD });
      assert.equal(response.statusCode, 401, response.body);
      return response.json().mfa_token;
    }

    it('registration: options for a resident key with user verification; 201 with the passkey; the first factor raises this session and ends the others', async () => {
      const u = await createUser(h);
      const session = await login(h, u.username);
      const elsewhere = await login(h, u.username);
      assert.equal((await post('/auth/passkeys/register/options/', {})).statusCode, 401);

      const started = await post('/auth/passkeys/register/options/', {}, bearer(session.access));
      assert.equal(started.statusCode, 200);
      const { challenge_id, options } = started.json();
      assert.match(challenge_id, /^[0-9a-f-]{36}$/);
      assert.equal(options.rp.id, RP_ID);
      assert.equal(options.rp.name, 'Example');
      assert.equal(options.user.name, u.email);
      assert.deepEqual(options.authenticatorSelection, { residentKey: 'required', userVerification: 'required', requireResidentKey: true });
      assert.equal(options.attestation, 'none');
      assert.deepEqual(options.excludeCredentials, []);
      assert.match(options.challenge, /^[A-Za-z0-9_-]{43}$/);
      const row = await h.store.db.selectFrom('webauthn_challenges').selectAll().where('id', '=', challenge_id).executeTakeFirstOrThrow();
      assert.equal(row.purpose, 'register');
      assert.equal(row.user_id, u.id);
      assert.equal(row.expires_at.getTime(), Math.floor(clock.now()) + 300_000);

      const key = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const missing = await post('/auth/passkeys/register/', { challenge_id, credential: key.create(options) }, bearer(session.access));
      assert.equal(missing.statusCode, 400);
      assert.deepEqual(missing.json(), { name: ['This field is required.'] });
      const response = await post('/auth/passkeys/register/', { challenge_id, credential: key.create(options), name: ' Laptop ' }, bearer(session.access));
      assert.equal(response.statusCode, 201, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body.passkey).sort(), ['backed_up', 'created_at', 'device_type', 'id', 'last_used_at', 'name', 'transports']);
      assert.equal(body.passkey.name, 'Laptop');
      assert.equal(body.passkey.device_type, 'singleDevice');
      assert.equal(body.passkey.backed_up, false);
      assert.deepEqual(body.passkey.transports, ['internal']);
      assert.equal(body.passkey.last_used_at, null);
      // The first factor: a fresh pair for this session at aal2, the login body's shape.
      assert.equal(body.user.id, u.id);
      const claims = claimsOf(body.access);
      assert.equal(claims.sid, claimsOf(session.access).sid);
      assert.equal(claims.aal, 'aal2');
      assert.deepEqual(claims.amr, ['pwd', 'hwk', 'user', 'mfa']);
      assert.equal(await alive(elsewhere.access), false, 'the other session ended');
      assert.equal(await alive(body.access), true);
      const stored = await h.store.db.selectFrom('passkeys').selectAll().where('user_id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(stored.credential_id, key.id);
      assert.equal(stored.user_handle, options.user.id);
      assert.equal((await events(u.id, 'passkey_added'))[0]?.detail.first_factor, true);

      const status = await get('/auth/mfa/', bearer(body.access));
      assert.equal(status.statusCode, 200);
      assert.equal(status.json().mfa_enabled, true);
      assert.equal(status.json().passkeys, 1);
      assert.equal(status.json().totp.enabled, false);
      assert.equal(status.json().recovery_codes_remaining, 0);

      // A second passkey: the first is excluded; no new pair, nothing else ends.
      const second = await post('/auth/passkeys/register/options/', {}, bearer(body.access));
      assert.deepEqual(second.json().options.excludeCredentials, [{ id: key.id, type: 'public-key', transports: ['internal'] }]);
      assert.equal(second.json().options.user.id, options.user.id, 'one user handle for all of a user’s passkeys');
      const phone = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, synced: true });
      const added = await post('/auth/passkeys/register/', { challenge_id: second.json().challenge_id, credential: phone.create(second.json().options), name: 'Phone' }, bearer(body.access));
      assert.equal(added.statusCode, 201);
      assert.deepEqual(Object.keys(added.json()), ['passkey']);
      assert.equal(added.json().passkey.device_type, 'multiDevice');
      assert.equal(added.json().passkey.backed_up, true);
      assert.equal(await alive(body.access), true);
      // The same authenticator again is refused (the browser would not offer it: excludeCredentials).
      const again = await post('/auth/passkeys/register/options/', {}, bearer(body.access));
      const duplicate = await post('/auth/passkeys/register/', { challenge_id: again.json().challenge_id, credential: phone.create(again.json().options), name: 'Phone' }, bearer(body.access));
      assert.equal(duplicate.statusCode, 400);
      assert.deepEqual(duplicate.json(), FAILED);
    });

    it('login with a passkey: options without a credential list; exactly the login body; amr hwk or swk, user, mfa at aal2; the session remembers the passkey', async () => {
      const u = await withPasskey();
      const options = await post('/auth/passkeys/login/options/', {});
      assert.equal(options.statusCode, 200);
      const request = options.json().options;
      assert.equal(request.rpId, RP_ID);
      assert.equal(request.userVerification, 'required');
      assert.equal(request.allowCredentials, undefined);

      const response = await loginWith(u.key);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'no-store');
      const body = response.json();
      const password = await post('/auth/login/', { username: (await createUser(h)).username, password: PASSWORD });
      assert.deepEqual(Object.keys(body).sort(), Object.keys(password.json()).sort(), 'the same body as a password login');
      assert.equal(body.user.id, u.id);
      const claims = claimsOf(body.access);
      assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);
      assert.equal(claims.aal, 'aal2');
      assert.equal(claims.auth_time, Math.floor(clock.now() / 1000));
      const session = await h.store.db.selectFrom('sessions').selectAll().where('id', '=', claims.sid as string).executeTakeFirstOrThrow();
      assert.equal(session.passkey_id, u.registered.passkey.id);
      assert.deepEqual(session.amr, ['hwk', 'user', 'mfa']);
      const row = await h.store.db.selectFrom('passkeys').select(['counter', 'last_used_at']).where('id', '=', u.registered.passkey.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.counter), 1);
      assert.ok(row.last_used_at);
      // Carried across refresh.
      const refreshed = await post('/auth/refresh/', { refresh: body.refresh });
      assert.deepEqual(claimsOf(refreshed.json().access).amr, ['hwk', 'user', 'mfa']);

      const synced = await withPasskey({ synced: true });
      const fromPhone = await loginWith(synced.key);
      assert.deepEqual(claimsOf(fromPhone.json().access).amr, ['swk', 'user', 'mfa']);
    });

    it('login with a passkey honours a forced password reset (restricted tokens) and LOGIN_RESPONSE=minimal', async () => {
      const u = await withPasskey();
      await h.store.db.updateTable('users').set({ password_needs_reset: true }).where('id', '=', u.id).execute();
      const response = await loginWith(u.key);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().password_needs_reset, true);
      assert.equal(response.json().password_reset_url, '/auth/change-password/');
      const me = await get('/auth/sessions/', bearer(response.json().access));
      assert.equal(me.statusCode, 403);
      assert.equal(me.json().code, 'password_reset_required');

      const minimal = await harness(name, { clock, env: { ...ENV, LOGIN_RESPONSE: 'minimal' }, store: h.store });
      try {
        const options = await minimal.app.inject({ method: 'POST', url: '/auth/passkeys/login/options/', payload: {} });
        const { challenge_id, options: request } = options.json();
        const done = await minimal.app.inject({ method: 'POST', url: '/auth/passkeys/login/', payload: { challenge_id, credential: u.key.get(request) } });
        assert.deepEqual(Object.keys(done.json()).sort(), ['access', 'refresh']);
      } finally {
        await minimal.close();
      }
    });

    it('login with a passkey in cookie mode sets the cookies, as a password login does', async () => {
      const u = await withPasskey();
      const cookies = await harness(name, { clock, env: { ...ENV, AUTH_COOKIES: 'true', COOKIE_SECURE: 'false' }, store: h.store });
      try {
        const options = await cookies.app.inject({ method: 'POST', url: '/auth/passkeys/login/options/', payload: {} });
        const { challenge_id, options: request } = options.json();
        const done = await cookies.app.inject({ method: 'POST', url: '/auth/passkeys/login/', payload: { challenge_id, credential: u.key.get(request) } });
        assert.equal(done.statusCode, 200, done.body);
        const names = done.cookies.map((c) => c.name).sort();
        assert.ok(names.length >= 2, `cookies set: ${names.join(', ')}`);
        assert.equal(done.json().access, undefined, 'no token strings in the body in cookie mode');
        assert.equal(done.json().user.id, u.id);
      } finally {
        await cookies.close();
      }
    });

    it('a passkey as the second step: mfa_required lists webauthn; options bound to the mfa_token; pwd + hwk + mfa at aal2; the token is spent', async () => {
      const u = await withPasskey();
      const response = await post('/auth/login/', { username: u.username, password: PASSWORD });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().code, 'mfa_required');
      assert.deepEqual(response.json().mfa_methods, ['webauthn']);
      const token = response.json().mfa_token as string;

      assert.equal((await post('/auth/mfa/webauthn/options/', { mfa_token: 'nope' })).json().code, 'mfa_token_invalid');
      const options = await post('/auth/mfa/webauthn/options/', { mfa_token: token });
      assert.equal(options.statusCode, 200, options.body);
      const { challenge_id, options: request } = options.json();
      assert.deepEqual(request.allowCredentials, [{ id: u.key.id, type: 'public-key', transports: ['internal'] }]);
      assert.equal(request.userVerification, 'required');

      const both = await post('/auth/mfa/verify/', { mfa_token: token, code: '123456', challenge_id, credential: u.key.get(request) });
      assert.equal(both.statusCode, 400);
      assert.deepEqual(both.json(), { non_field_errors: ['Give either code, recovery_code or credential.'] });
      const noChallenge = await post('/auth/mfa/verify/', { mfa_token: token, credential: u.key.get(request) });
      assert.deepEqual(noChallenge.json(), { challenge_id: ['This field is required.'] });

      const verified = await post('/auth/mfa/verify/', { mfa_token: token, challenge_id, credential: u.key.get(request) });
      assert.equal(verified.statusCode, 200, verified.body);
      const claims = claimsOf(verified.json().access);
      assert.deepEqual(claims.amr, ['pwd', 'hwk', 'user', 'mfa']);
      assert.equal(claims.aal, 'aal2');
      const session = await h.store.db.selectFrom('sessions').select('passkey_id').where('id', '=', claims.sid as string).executeTakeFirstOrThrow();
      assert.equal(session.passkey_id, u.registered.passkey.id);
      assert.equal((await events(u.id, 'login_succeeded')).at(-1)?.detail.mfa, 'webauthn');

      // The mfa_token and the challenge are spent.
      const again = await post('/auth/mfa/verify/', { mfa_token: token, challenge_id, credential: u.key.get(request) });
      assert.equal(again.statusCode, 401);
      assert.equal(again.json().code, 'mfa_token_invalid');
    });

    it('a bad assertion as the second step counts against the mfa_token and is audited; a challenge of another login is refused', async () => {
      const u = await withPasskey();
      const token = await mfaToken(u.username);
      const { challenge_id, options: request } = (await post('/auth/mfa/webauthn/options/', { mfa_token: token })).json();
      const forged = await post('/auth/mfa/verify/', { mfa_token: token, challenge_id, credential: u.key.get(request, { forge: true }) });
      assert.equal(forged.statusCode, 400);
      assert.deepEqual(forged.json(), { ...FAILED, attempts_left: 4 });
      const failed = await events(u.id, 'mfa_failed');
      assert.equal(failed.at(-1)?.detail.reason, 'webauthn_failed');
      assert.equal(failed.at(-1)?.detail.webauthn, 'assertion');

      // A challenge bound to another mfa_token (of the same user) is not this one's; nor is a login challenge.
      const other = await mfaToken(u.username);
      const foreign = (await post('/auth/mfa/webauthn/options/', { mfa_token: other })).json();
      const crossed = await post('/auth/mfa/verify/', { mfa_token: token, challenge_id: foreign.challenge_id, credential: u.key.get(foreign.options) });
      assert.deepEqual(crossed.json(), { ...FAILED, attempts_left: 3 });
      const loginChallenge = (await post('/auth/passkeys/login/options/', {})).json();
      const wrongPurpose = await post('/auth/mfa/verify/', { mfa_token: token, challenge_id: loginChallenge.challenge_id, credential: u.key.get(loginChallenge.options) });
      assert.deepEqual(wrongPurpose.json(), { ...FAILED, attempts_left: 2 });
      // Nothing was spent: the other token's challenge and the login challenge still work for their own purpose.
      const done = await post('/auth/mfa/verify/', { mfa_token: other, challenge_id: foreign.challenge_id, credential: u.key.get(foreign.options) });
      assert.equal(done.statusCode, 200, done.body);
      const logged = await post('/auth/passkeys/login/', { challenge_id: loginChallenge.challenge_id, credential: u.key.get(loginChallenge.options) });
      assert.equal(logged.statusCode, 200, logged.body);
    });

    it('a counter that does not move forward is refused and audited; the stored counter stays', async () => {
      const u = await withPasskey();
      assert.equal((await loginWith(u.key)).statusCode, 200);
      assert.equal((await loginWith(u.key)).statusCode, 200);
      const cloned = await loginWith(u.key, { counter: 2 });
      assert.equal(cloned.statusCode, 400);
      assert.deepEqual(cloned.json(), FAILED);
      const lower = await loginWith(u.key, { counter: 1 });
      assert.deepEqual(lower.json(), FAILED);
      const row = await h.store.db.selectFrom('passkeys').select('counter').where('user_id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.counter), 2);
      const failed = await events(u.id, 'mfa_failed');
      assert.deepEqual(failed.slice(-2).map((e) => e.detail.webauthn), ['counter_regression', 'counter_regression']);
      assert.equal(failed.at(-1)?.detail.passkey_id, u.registered.passkey.id);
      assert.equal(failed.at(-1)?.outcome, 'failure');
      // A counter past the stored one is accepted again.
      assert.equal((await loginWith(u.key, { counter: 10 })).statusCode, 200);
    });

    it('a challenge works once, for five minutes, for its own purpose only', async () => {
      const u = await withPasskey();
      const { challenge_id, options: request } = (await post('/auth/passkeys/login/options/', {})).json();
      assert.equal((await post('/auth/passkeys/login/', { challenge_id, credential: u.key.get(request) })).statusCode, 200);
      const twice = await post('/auth/passkeys/login/', { challenge_id, credential: u.key.get(request) });
      assert.equal(twice.statusCode, 400);
      assert.deepEqual(twice.json(), FAILED);

      const late = (await post('/auth/passkeys/login/options/', {})).json();
      clock.advance(300_000);
      const expired = await post('/auth/passkeys/login/', { challenge_id: late.challenge_id, credential: u.key.get(late.options) });
      assert.deepEqual(expired.json(), FAILED);

      // A registration challenge is not a login challenge, and the reverse; and it is its user's only.
      const session = (await loginWith(u.key)).json();
      const registration = (await post('/auth/passkeys/register/options/', {}, bearer(session.access))).json();
      const asLogin = await post('/auth/passkeys/login/', { challenge_id: registration.challenge_id, credential: u.key.get(registration.options) });
      assert.deepEqual(asLogin.json(), FAILED);
      const someone = await createUser(h);
      const theirs = await login(h, someone.username);
      const key = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const stolen = await post('/auth/passkeys/register/', { challenge_id: registration.challenge_id, credential: key.create(registration.options), name: 'Mine' }, bearer(theirs.access));
      assert.deepEqual(stolen.json(), FAILED);
      const loginChallenge = (await post('/auth/passkeys/login/options/', {})).json();
      const asRegistration = await post('/auth/passkeys/register/', { challenge_id: loginChallenge.challenge_id, credential: key.create({ ...loginChallenge.options, user: { id: 'AAAA' } }), name: 'Mine' }, bearer(theirs.access));
      assert.deepEqual(asRegistration.json(), FAILED);
      assert.equal(await h.store.db.selectFrom('passkeys').select('id').where('user_id', '=', someone.id).executeTakeFirst(), undefined, 'nothing stored');
      // Unspent by the misuse: the registration challenge still registers for its own user.
      const ok = await post('/auth/passkeys/register/', { challenge_id: registration.challenge_id, credential: new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID }).create(registration.options), name: 'Spare' }, bearer(session.access));
      assert.equal(ok.statusCode, 201, ok.body);
      const unknown = await post('/auth/passkeys/login/', { challenge_id: '00000000-0000-7000-8000-000000000000', credential: u.key.get(request) });
      assert.deepEqual(unknown.json(), FAILED);
    });

    it('a forged signature, another origin or relying party, no user verification, an unknown credential: 400 webauthn_failed, nothing changed', async () => {
      const u = await withPasskey();
      for (const tamper of [{ forge: true }, { origin: 'https://evil.example' }, { rpId: 'evil.example' }, { noUv: true }, { type: 'webauthn.create' }, { challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }] satisfies Tamper[]) {
        const response = await loginWith(u.key, tamper);
        assert.equal(response.statusCode, 400, JSON.stringify(tamper));
        assert.deepEqual(response.json(), FAILED);
      }
      // The other configured origin is accepted.
      const other = new SoftAuthenticator({ origin: 'https://other.example.test', rpId: RP_ID });
      const w = await withPasskey();
      assert.equal((await loginWith(w.key, { origin: 'https://other.example.test' })).statusCode, 200);
      const stranger = await loginWith(other);
      assert.deepEqual(stranger.json(), FAILED);
      const row = await h.store.db.selectFrom('passkeys').select(['counter', 'last_used_at']).where('user_id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(Number(row.counter), 0);
      assert.equal(row.last_used_at, null);
      assert.equal((await events(u.id, 'login_succeeded')).filter((e) => e.detail.mfa === 'webauthn').length, 0, 'no login by passkey');
      // A registration from another origin or without user verification is refused too.
      const session = await login(h, (await createUser(h)).username);
      for (const tamper of [{ origin: 'https://evil.example' }, { noUv: true }, { rpId: 'evil.example' }] satisfies Tamper[]) {
        const { challenge_id, options } = (await post('/auth/passkeys/register/options/', {}, bearer(session.access))).json();
        const response = await post('/auth/passkeys/register/', { challenge_id, credential: new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID }).create(options, tamper), name: 'x' }, bearer(session.access));
        assert.deepEqual(response.json(), FAILED, JSON.stringify(tamper));
      }
    });

    it('list, rename and remove one’s own passkeys only; removing one ends the sessions it opened; the last one ends the others', async () => {
      const u = await withPasskey();
      const stranger = await withPasskey();
      const list = await get('/auth/passkeys/', bearer(u.registered.access));
      assert.equal(list.statusCode, 200);
      assert.deepEqual(list.json().map((p: { id: string }) => p.id), [u.registered.passkey.id]);
      assert.equal((await get('/auth/passkeys/')).statusCode, 401);

      const renamed = await h.app.inject({ method: 'PATCH', url: `/auth/passkeys/${u.registered.passkey.id}/`, payload: { name: 'Work laptop' }, headers: bearer(u.registered.access) });
      assert.equal(renamed.statusCode, 200);
      assert.equal(renamed.json().name, 'Work laptop');
      const blank = await h.app.inject({ method: 'PATCH', url: `/auth/passkeys/${u.registered.passkey.id}/`, payload: { name: '  ' }, headers: bearer(u.registered.access) });
      assert.deepEqual(blank.json(), { name: ['This field may not be blank.'] });
      for (const method of ['PATCH', 'DELETE'] as const) {
        const theirs = await h.app.inject({ method, url: `/auth/passkeys/${stranger.registered.passkey.id}/`, payload: { name: 'Mine now' }, headers: bearer(u.registered.access) });
        assert.equal(theirs.statusCode, 404);
        assert.deepEqual(theirs.json(), { detail: 'Not found.', code: 'not_found' });
      }
      assert.equal((await h.store.db.selectFrom('passkeys').select('name').where('id', '=', stranger.registered.passkey.id).executeTakeFirstOrThrow()).name, 'Laptop');

      // A second passkey; sessions opened by each, and one by password + passkey (the second step).
      const second = (await post('/auth/passkeys/register/options/', {}, bearer(u.registered.access))).json();
      const phone = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, synced: true });
      const phoneRow = (await post('/auth/passkeys/register/', { challenge_id: second.challenge_id, credential: phone.create(second.options), name: 'Phone' }, bearer(u.registered.access))).json().passkey;
      const byLaptop = (await loginWith(u.key)).json();
      const token = await mfaToken(u.username);
      const step = (await post('/auth/mfa/webauthn/options/', { mfa_token: token })).json();
      const byLaptopSecond = (await post('/auth/mfa/verify/', { mfa_token: token, challenge_id: step.challenge_id, credential: u.key.get(step.options) })).json();
      const byPhone = (await loginWith(phone)).json();

      const removed = await h.app.inject({ method: 'DELETE', url: `/auth/passkeys/${u.registered.passkey.id}/`, headers: bearer(byPhone.access) });
      assert.equal(removed.statusCode, 204);
      assert.equal(await alive(byLaptop.access), false);
      assert.equal(await alive(byLaptopSecond.access), false);
      assert.equal(await alive(byPhone.access), true);
      assert.equal(await alive(u.registered.access), true, 'a session the passkey did not open stays');
      assert.equal((await loginWith(u.key)).statusCode, 400, 'the removed passkey no longer logs in');
      const event = (await events(u.id, 'passkey_removed'))[0];
      assert.equal(event?.detail.sessions_ended, 2);
      assert.equal(event?.detail.last_factor, false);

      // The last factor: the sessions it opened (this one) and every other session end; the password alone logs in again.
      const last = await h.app.inject({ method: 'DELETE', url: `/auth/passkeys/${phoneRow.id}/`, headers: bearer(u.registered.access) });
      assert.equal(last.statusCode, 204);
      assert.equal(await alive(byPhone.access), false);
      assert.equal(await alive(u.registered.access), true);
      assert.equal((await post('/auth/login/', { username: u.username, password: PASSWORD })).statusCode, 200);
      assert.equal((await get('/auth/mfa/', bearer(u.registered.access))).json().mfa_enabled, false);
      assert.equal((await h.app.inject({ method: 'DELETE', url: `/auth/passkeys/${phoneRow.id}/`, headers: bearer(u.registered.access) })).statusCode, 404);
    });

    it('adding or removing a passkey mails the user and forgets the remembered devices; an administrator’s reset removes the passkeys too', async () => {
      const device = async (userId: number) => {
        const now = new Date(clock.now());
        await h.store.db.insertInto('mfa_remembered_devices')
          .values({ id: `device-${userId}-${now.getTime()}`, user_id: userId, token_hash: `hash-${userId}-${now.getTime()}`, user_agent: 'test', created_at: now, last_used_at: null, expires_at: new Date(now.getTime() + 86_400_000) })
          .execute();
      };
      const devices = async (userId: number) => (await h.store.db.selectFrom('mfa_remembered_devices').select('id').where('user_id', '=', userId).execute()).length;
      const mails = async (to: string) => (await h.store.db.selectFrom('mail_outbox').select('kind').where('to_address', '=', to).orderBy('id').execute()).map((row) => row.kind);

      const u = await withPasskey();
      assert.deepEqual(await mails(u.email), ['mfa_factor_added']);
      await device(u.id);
      const second = (await post('/auth/passkeys/register/options/', {}, bearer(u.registered.access))).json();
      const phone = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID, synced: true });
      const phoneRow = (await post('/auth/passkeys/register/', { challenge_id: second.challenge_id, credential: phone.create(second.options), name: 'Phone' }, bearer(u.registered.access))).json().passkey;
      assert.equal(await devices(u.id), 0, 'a new factor forgets the remembered devices');
      await device(u.id);
      const removed = await h.app.inject({ method: 'DELETE', url: `/auth/passkeys/${phoneRow.id}/`, headers: { ...bearer(u.registered.access), 'accept-language': 'fr' } });
      assert.equal(removed.statusCode, 204);
      assert.equal(await devices(u.id), 0, 'a removed factor forgets the remembered devices');
      assert.deepEqual(await mails(u.email), ['mfa_factor_added', 'mfa_factor_added', 'mfa_factor_removed']);

      // An administrator's reset takes the remaining passkey and what hangs on it.
      await device(u.id);
      const admin = await createUser(h, { isStaff: true });
      const adminSession = await login(h, admin.username);
      const reset = await post(`/admin/users/${u.id}/mfa/reset/`, {}, bearer(adminSession.access));
      assert.equal(reset.statusCode, 204, reset.body);
      assert.equal((await h.store.db.selectFrom('passkeys').select('id').where('user_id', '=', u.id).execute()).length, 0);
      assert.equal(await devices(u.id), 0);
      assert.equal((await loginWith(u.key)).statusCode, 400, 'the reset passkey no longer logs in');
      assert.deepEqual((await events(u.id, 'mfa_removed')).at(-1)?.detail.methods, ['webauthn']);
      assert.equal((await h.app.inject({ method: 'GET', url: `/admin/users/${u.id}/`, headers: bearer(adminSession.access) })).json().mfa_enabled, false);
    });

    it('a user with a factor adds another passkey only from a session that used one: a remembered device (aal1) gets 403 insufficient_aal', async () => {
      const u = await withPasskey();
      const token = await mfaToken(u.username);
      const step = (await post('/auth/mfa/webauthn/options/', { mfa_token: token })).json();
      const remembered = await post('/auth/mfa/verify/', { mfa_token: token, challenge_id: step.challenge_id, credential: u.key.get(step.options), remember_device: true });
      assert.equal(remembered.statusCode, 200, remembered.body);
      assert.equal(claimsOf(remembered.json().access).aal, 'aal2');
      const deviceToken = remembered.json().device_token;
      assert.equal(typeof deviceToken, 'string');
      const skipped = await post('/auth/login/', { username: u.username, password: PASSWORD, device_token: deviceToken });
      assert.equal(skipped.statusCode, 200, skipped.body);
      assert.equal(claimsOf(skipped.json().access).aal, 'aal1');
      const refused = { detail: 'This action requires a session signed in with a second factor.', code: 'insufficient_aal' };
      const options = await post('/auth/passkeys/register/options/', {}, bearer(skipped.json().access));
      assert.equal(options.statusCode, 403);
      assert.deepEqual(options.json(), refused);
      // Options fetched at aal2 do not help an aal1 session finish the ceremony.
      const started = (await post('/auth/passkeys/register/options/', {}, bearer(remembered.json().access))).json();
      const other = new SoftAuthenticator({ origin: ORIGIN, rpId: RP_ID });
      const sneaked = await post('/auth/passkeys/register/', { challenge_id: started.challenge_id, credential: other.create(started.options), name: 'Sneaked' }, bearer(skipped.json().access));
      assert.equal(sneaked.statusCode, 403);
      assert.deepEqual(sneaked.json(), refused);
      assert.equal((await h.store.db.selectFrom('passkeys').select('id').where('user_id', '=', u.id).execute()).length, 1);
    });
  });
}
