/**
 * POST /auth/login/: the body, the claims, the header, and the settings that
 * shape them (lifetimes, LOGIN_RESPONSE, USER_ID_CLAIM, JWT_ISSUER/AUDIENCE, LEEWAY).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as Response } from 'fastify';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import {
  PASSWORD,
  bearer,
  claimsOf,
  createAccount,
  createUser,
  harness,
  headerOf,
  login,
  manualClock,
  storeNames,
  testConfig,
  testPasswords,
  uniqueName,
  type Harness,
  NO_ACTIVE_ACCOUNT,
  TOKEN_NOT_VALID,
  credentialNotValid,
} from '../support/harness.ts';

const REQUIRED = 'This field is required.';

const BODY_KEYS = ['access', 'refresh', 'access_expires_at', 'refresh_expires_at', 'role', 'email', 'password_needs_reset', 'user'];
const USER_KEYS = [
  'id', 'username', 'email', 'first_name', 'last_name', 'role', 'is_staff', 'is_manager', 'account_id',
  'password_needs_reset', 'last_login', 'date_joined',
];
const ISO_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** DRF's rendering of a time: ISO 8601 to the second, in UTC, with Z. */
const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

function postLogin(h: Harness, payload: Record<string, unknown>): Promise<Response> {
  return h.app.inject({ method: 'POST', url: '/auth/login/', payload });
}

interface Sibling {
  app: App;
  close(): Promise<void>;
}

/**
 * A second app on the store of `h`, with other settings. Its Auth is not
 * started: it needs no revocation feed here, and on PostgreSQL a second
 * start() on one store leaks a LISTEN connection (see the report).
 */
async function sibling(h: Harness, env: Record<string, string>): Promise<Sibling> {
  const auth = createAuth(testConfig(env), { store: h.store, passwords: testPasswords() });
  const app = await buildApp({ auth });
  await app.ready();
  return { app, close: () => app.close() };
}

async function loginOn(app: App, username: string): Promise<{ access: string; refresh: string }> {
  const response = await app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
  assert.equal(response.statusCode, 200, response.body);
  return response.json();
}

/** A clock stopped on a whole second, so times in bodies and claims can be asserted exactly. */
const wholeSecondClock = () => manualClock(Math.floor(Date.now() / 1000) * 1000);

for (const name of storeNames()) {
  describe(`login (${name}): ACCESS_TOKEN_LIFETIME=90s, REFRESH_TOKEN_LIFETIME=1d`, () => {
    let h: Harness;
    const clock = wholeSecondClock();
    const t0 = clock.now();
    before(async () => {
      h = await harness(name, { env: { ACCESS_TOKEN_LIFETIME: '90s', REFRESH_TOKEN_LIFETIME: '1d' }, clock });
    });
    after(() => h.close());

    it('200 with exactly the full body of SPEC §3', async () => {
      const u = await createUser(h);
      const response = await postLogin(h, { username: u.username, password: PASSWORD });
      assert.equal(response.statusCode, 200, response.body);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const body = response.json();
      assert.deepEqual(Object.keys(body), BODY_KEYS);
      assert.deepEqual(Object.keys(body.user), USER_KEYS);
      const { access, refresh, user, ...rest } = body;
      assert.equal(typeof access, 'string');
      assert.equal(typeof refresh, 'string');
      assert.deepEqual(rest, {
        access_expires_at: iso(t0 + 90_000),
        refresh_expires_at: iso(t0 + 86_400_000),
        role: 'client',
        email: u.email,
        password_needs_reset: false,
      });
      const { last_login: lastLogin, ...userRest } = user;
      assert.ok(lastLogin === null || ISO_Z.test(lastLogin), String(lastLogin));
      assert.deepEqual(userRest, {
        id: u.id,
        username: u.username,
        email: u.email,
        first_name: '',
        last_name: '',
        role: 'client',
        is_staff: false,
        is_manager: false,
        account_id: null,
        password_needs_reset: false,
        date_joined: iso(t0),
      });
      assert.ok(!('password' in user));
      assert.ok(!response.body.includes('argon2'));
    });

    it('the login body’s user.last_login is the time of this very login (not the previous one)', async () => {
      const u = await createUser(h);
      const body = (await postLogin(h, { username: u.username, password: PASSWORD })).json();
      assert.equal(body.user.last_login, iso(t0));
    });

    it('access_expires_at and refresh_expires_at are ISO strings ending in Z equal to the tokens’ exp', async () => {
      const u = await createUser(h);
      const body = (await postLogin(h, { username: u.username, password: PASSWORD })).json();
      assert.match(body.access_expires_at, ISO_Z);
      assert.match(body.refresh_expires_at, ISO_Z);
      assert.equal(body.access_expires_at, iso((claimsOf(body.access).exp as number) * 1000));
      assert.equal(body.refresh_expires_at, iso((claimsOf(body.refresh).exp as number) * 1000));
    });

    it('access claims: exactly token_type, exp, iat, jti, user_id, sid, role, amr, aal, auth_time (no account_id when null)', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      const claims = claimsOf(access);
      assert.deepEqual(Object.keys(claims).sort(), ['aal', 'amr', 'auth_time', 'exp', 'iat', 'jti', 'role', 'sid', 'token_type', 'user_id']);
      // SPEC §12: a password login, now.
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(claims.aal, 'aal1');
      assert.equal(claims.auth_time, t0 / 1000);
      assert.equal(claims.token_type, 'access');
      assert.equal(claims.user_id, u.id);
      assert.equal(claims.role, 'client');
      assert.equal(claims.iat, t0 / 1000);
      assert.equal(claims.exp, t0 / 1000 + 90);
      assert.match(String(claims.jti), /^[0-9a-f]{32}$/);
      assert.equal(typeof claims.sid, 'string');
      assert.ok((claims.sid as string).length > 0);
    });

    it('refresh claims: the same set with token_type refresh, exp - iat = REFRESH_TOKEN_LIFETIME', async () => {
      const u = await createUser(h);
      const { access, refresh } = await login(h, u.username);
      const claims = claimsOf(refresh);
      assert.deepEqual(Object.keys(claims).sort(), ['aal', 'amr', 'auth_time', 'exp', 'iat', 'jti', 'role', 'sid', 'token_type', 'user_id']);
      assert.deepEqual([claims.amr, claims.aal, claims.auth_time], [['pwd'], 'aal1', t0 / 1000]);
      assert.equal(claims.token_type, 'refresh');
      assert.equal((claims.exp as number) - (claims.iat as number), 86_400);
      assert.match(String(claims.jti), /^[0-9a-f]{32}$/);
      assert.equal(claims.sid, claimsOf(access).sid, 'both tokens belong to one session');
      assert.notEqual(claims.jti, claimsOf(access).jti);
    });

    it('exp - iat of the access token = ACCESS_TOKEN_LIFETIME (90s)', async () => {
      const u = await createUser(h);
      const claims = claimsOf((await login(h, u.username)).access);
      assert.equal((claims.exp as number) - (claims.iat as number), 90);
    });

    it('each login opens a new session with new jtis', async () => {
      const u = await createUser(h);
      const a = await login(h, u.username);
      const b = await login(h, u.username);
      assert.notEqual(claimsOf(a.access).sid, claimsOf(b.access).sid);
      assert.notEqual(claimsOf(a.access).jti, claimsOf(b.access).jti);
      assert.notEqual(claimsOf(a.refresh).jti, claimsOf(b.refresh).jti);
      assert.notEqual(a.access, b.access);
    });

    it('header: alg HS256, typ JWT and a kid, the same on access and refresh', async () => {
      const u = await createUser(h);
      const { access, refresh } = await login(h, u.username);
      const header = headerOf(access);
      assert.deepEqual(Object.keys(header).sort(), ['alg', 'kid', 'typ']);
      assert.equal(header.alg, 'HS256');
      assert.equal(header.typ, 'JWT');
      assert.equal(typeof header.kid, 'string');
      assert.ok((header.kid as string).length > 0);
      assert.deepEqual(headerOf(refresh), header);
    });

    it('role and account_id come from the user', async () => {
      const username = uniqueName('admin');
      const accountId = await createAccount(h);
      const row = await h.auth.createUser({ username, email: `${username}@example.com`, password: PASSWORD, role: 'admin', accountId });
      const body = (await postLogin(h, { username, password: PASSWORD })).json();
      assert.equal(body.role, 'admin');
      assert.equal(body.user.role, 'admin');
      assert.equal(body.user.account_id, accountId);
      assert.equal(body.user.id, row.id);
      const claims = claimsOf(body.access);
      assert.equal(claims.role, 'admin');
      assert.equal(claims.account_id, accountId);
      assert.equal(claimsOf(body.refresh).account_id, accountId);
    });

    it('a user flagged password_needs_reset gets the flag and password_reset_url under the base path', async () => {
      const username = uniqueName('reset');
      await h.auth.createUser({ username, email: `${username}@example.com`, password: PASSWORD, passwordNeedsReset: true });
      const response = await postLogin(h, { username, password: PASSWORD });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.equal(body.password_needs_reset, true);
      assert.equal(body.password_reset_url, '/auth/change-password/');
      assert.equal(body.user.password_needs_reset, true);
    });

    describe('identifier', () => {
      let u: { username: string; id: number; email: string };
      before(async () => {
        const username = uniqueName('MixedCase');
        u = await createUser(h, { username, email: `${username}.Mail@Example.COM` });
      });

      const cases: Array<[string, () => Record<string, string>]> = [
        ['username', () => ({ username: u.username, password: PASSWORD })],
        ['username in upper case', () => ({ username: u.username.toUpperCase(), password: PASSWORD })],
        ['username in lower case', () => ({ username: u.username.toLowerCase(), password: PASSWORD })],
        ['email sent as username', () => ({ username: u.email, password: PASSWORD })],
        ['email sent as username, lower case', () => ({ username: u.email.toLowerCase(), password: PASSWORD })],
        ['email sent as email', () => ({ email: u.email, password: PASSWORD })],
        ['email sent as email, upper case', () => ({ email: u.email.toUpperCase(), password: PASSWORD })],
        ['username sent as email', () => ({ email: u.username, password: PASSWORD })],
      ];
      for (const [title, body] of cases) {
        it(`logs in by ${title}`, async () => {
          const response = await postLogin(h, body());
          assert.equal(response.statusCode, 200, response.body);
          const json = response.json();
          assert.equal(json.user.id, u.id);
          assert.equal(json.user.username, u.username, 'the stored spelling is returned');
          assert.equal(claimsOf(json.access).user_id, u.id);
        });
      }
    });

    describe('refusals', () => {
      let u: { username: string; id: number; email: string };
      let inactive: { username: string; id: number; email: string };
      before(async () => {
        u = await createUser(h);
        inactive = await createUser(h);
        await h.store.db.updateTable('users').set({ is_active: false }).where('id', '=', inactive.id).execute();
      });

      const refusals: Array<[string, () => Record<string, string>]> = [
        ['wrong password', () => ({ username: u.username, password: 'wrong password' })],
        ['password in another case', () => ({ username: u.username, password: PASSWORD.toUpperCase() })],
        ['unknown user', () => ({ username: uniqueName('ghost'), password: PASSWORD })],
        ['unknown email', () => ({ email: `${uniqueName('ghost')}@example.com`, password: PASSWORD })],
        ['inactive user, right password', () => ({ username: inactive.username, password: PASSWORD })],
        ['inactive user by email, right password', () => ({ email: inactive.email, password: PASSWORD })],
        ['inactive user, wrong password', () => ({ username: inactive.username, password: 'wrong password' })],
      ];

      let reference: Response | undefined;
      for (const [title, body] of refusals) {
        it(`${title} → 401 no_active_account, identical to every other refusal`, async () => {
          const response = await postLogin(h, body());
          assert.equal(response.statusCode, 401);
          assert.deepEqual(response.json(), NO_ACTIVE_ACCOUNT);
          assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
          reference ??= response;
          assert.equal(response.body, reference.body);
          assert.equal(response.headers['content-type'], reference.headers['content-type']);
          assert.equal(response.headers['content-length'], reference.headers['content-length']);
        });
      }

      it('missing username and password → 400 per-field lists', async () => {
        const response = await postLogin(h, {});
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { username: [REQUIRED], password: [REQUIRED] });
      });

      it('missing password → 400 {"password": ["This field is required."]}', async () => {
        const response = await postLogin(h, { username: u.username });
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { password: [REQUIRED] });
      });

      it('missing username → 400 {"username": ["This field is required."]}', async () => {
        const response = await postLogin(h, { password: PASSWORD });
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { username: [REQUIRED] });
      });

      it('blank fields → 400 "This field may not be blank."', async () => {
        const response = await postLogin(h, { username: '', password: '' });
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { username: ['This field may not be blank.'], password: ['This field may not be blank.'] });
      });
    });

    it('last_login is set by the login (GET /auth/me/ and the database)', async () => {
      const u = await createUser(h);
      const before = await h.store.db.selectFrom('users').select('last_login').where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(before.last_login, null);
      const { access } = await login(h, u.username);
      const row = await h.store.db.selectFrom('users').select('last_login').where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.ok(row.last_login instanceof Date);
      assert.equal(row.last_login.getTime(), t0);
      const me = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.equal(me.json().last_login, iso(t0));
    });

    it('a failed login does not set last_login', async () => {
      const u = await createUser(h);
      await postLogin(h, { username: u.username, password: 'wrong password' });
      const row = await h.store.db.selectFrom('users').select('last_login').where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(row.last_login, null);
    });
  });

  describe(`login (${name}): defaults`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    it('access lives 15m and refresh 7d by default', async () => {
      const u = await createUser(h);
      const { access, refresh } = await login(h, u.username);
      assert.equal((claimsOf(access).exp as number) - (claimsOf(access).iat as number), 900);
      assert.equal((claimsOf(refresh).exp as number) - (claimsOf(refresh).iat as number), 7 * 86_400);
    });

    it('no iss or aud without JWT_ISSUER / JWT_AUDIENCE', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      assert.ok(!('iss' in claimsOf(access)));
      assert.ok(!('aud' in claimsOf(access)));
    });
  });

  describe(`login (${name}): LOGIN_RESPONSE=minimal`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { LOGIN_RESPONSE: 'minimal' } });
    });
    after(() => h.close());

    it('200 with exactly SimpleJWT’s {"access", "refresh"}', async () => {
      const u = await createUser(h);
      const response = await postLogin(h, { username: u.username, password: PASSWORD });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ['access', 'refresh']);
      assert.equal(claimsOf(body.access).token_type, 'access');
      assert.equal(claimsOf(body.refresh).token_type, 'refresh');
    });

    it('refusals keep their shape', async () => {
      const response = await postLogin(h, { username: 'nobody', password: 'x' });
      assert.equal(response.statusCode, 401);
      assert.deepEqual(response.json(), NO_ACTIVE_ACCOUNT);
    });
  });

  describe(`login (${name}): USER_ID_CLAIM=uid`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { USER_ID_CLAIM: 'uid' } });
    });
    after(() => h.close());

    it('renames the claim on access and refresh tokens', async () => {
      const u = await createUser(h);
      const { access, refresh } = await login(h, u.username);
      for (const token of [access, refresh]) {
        const claims = claimsOf(token);
        assert.equal(claims.uid, u.id);
        assert.ok(!('user_id' in claims));
      }
    });

    it('tokens with the renamed claim authenticate, verify and refresh', async () => {
      const u = await createUser(h);
      const { access, refresh } = await login(h, u.username);
      const me = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json().id, u.id);
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: access } })).statusCode, 200);
      const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
      assert.equal(claimsOf(refreshed.json().access).uid, u.id);
    });
  });

  describe(`login (${name}): JWT_ISSUER and JWT_AUDIENCE`, () => {
    let plain: Harness;
    let strict: Sibling;
    let otherIssuer: Sibling;
    let otherAudience: Sibling;
    before(async () => {
      plain = await harness(name);
      strict = await sibling(plain, { JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'example-api' });
      otherIssuer = await sibling(plain, { JWT_ISSUER: 'https://evil.example.com', JWT_AUDIENCE: 'example-api' });
      otherAudience = await sibling(plain, { JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'another-api' });
    });
    after(async () => {
      for (const app of [otherAudience, otherIssuer, strict]) await app?.close();
      await plain.close();
    });

    it('iss and aud are put in both tokens, and such tokens work', async () => {
      const u = await createUser(plain);
      const { access, refresh } = await loginOn(strict.app, u.username);
      for (const token of [access, refresh]) {
        assert.equal(claimsOf(token).iss, 'https://auth.example.com');
        assert.equal(claimsOf(token).aud, 'example-api');
      }
      const me = await strict.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.equal(me.statusCode, 200, me.body);
      const refreshed = await strict.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.equal(refreshed.statusCode, 200, refreshed.body);
    });

    it('a token without iss/aud (from an app without them) is refused where they are configured', async () => {
      const u = await createUser(plain);
      const { access, refresh } = await login(plain, u.username);
      const me = await strict.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.deepEqual([me.statusCode, me.json()], [401, credentialNotValid()]);
      const verified = await strict.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: access } });
      assert.deepEqual([verified.statusCode, verified.json()], [401, TOKEN_NOT_VALID]);
      const verifiedRefresh = await strict.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: refresh } });
      assert.deepEqual([verifiedRefresh.statusCode, verifiedRefresh.json()], [401, TOKEN_NOT_VALID]);
      const refreshed = await strict.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.deepEqual([refreshed.statusCode, refreshed.json()], [401, TOKEN_NOT_VALID]);
      // The same tokens are good where they were minted: only iss/aud made the difference.
      assert.equal((await plain.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) })).statusCode, 200);
      assert.equal((await plain.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: refresh } })).statusCode, 200);
    });

    it('a token from another issuer is refused', async () => {
      const u = await createUser(plain);
      const { access, refresh } = await loginOn(otherIssuer.app, u.username);
      const me = await strict.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.deepEqual([me.statusCode, me.json()], [401, credentialNotValid()]);
      const refreshed = await strict.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.deepEqual([refreshed.statusCode, refreshed.json()], [401, TOKEN_NOT_VALID]);
    });

    it('a token for another audience is refused', async () => {
      const u = await createUser(plain);
      const { access } = await loginOn(otherAudience.app, u.username);
      assert.equal((await otherAudience.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) })).statusCode, 200);
      const me = await strict.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.deepEqual([me.statusCode, me.json()], [401, credentialNotValid()]);
    });
  });

  describe(`login (${name}): LEEWAY`, () => {
    let h: Harness;
    const clock = wholeSecondClock();
    before(async () => {
      h = await harness(name, { env: { ACCESS_TOKEN_LIFETIME: '60s', LEEWAY: '30s' }, clock });
    });
    after(() => h.close());

    it('a just-expired access token passes within LEEWAY and fails after it', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      const me = () => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      clock.advance(60_000); // exactly at exp
      assert.equal((await me()).statusCode, 200);
      clock.advance(29_999); // exp + 29.999s
      assert.equal((await me()).statusCode, 200);
      const verified = await h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: access } });
      assert.equal(verified.statusCode, 200, verified.body);
      clock.advance(1); // exp + 30s: out
      const refused = await me();
      assert.deepEqual([refused.statusCode, refused.json()], [401, credentialNotValid()]);
    });
  });

  describe(`login (${name}): no LEEWAY`, () => {
    let h: Harness;
    const clock = wholeSecondClock();
    before(async () => {
      h = await harness(name, { env: { ACCESS_TOKEN_LIFETIME: '60s' }, clock });
    });
    after(() => h.close());

    it('the same just-expired access token is refused at exp', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      clock.advance(59_999);
      assert.equal((await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) })).statusCode, 200);
      clock.advance(1);
      const refused = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.deepEqual([refused.statusCode, refused.json()], [401, credentialNotValid()]);
    });
  });
}
