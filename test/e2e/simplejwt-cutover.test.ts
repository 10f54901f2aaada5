/**
 * The cut-over from a Django + SimpleJWT service (ACCEPT_SIMPLEJWT_TOKENS, SPEC §2), with tokens minted
 * by the real SimpleJWT (Debian's python3-djangorestframework-simplejwt, test/fixtures/django/simplejwt_mint.py)
 * with the shared key, on a site without the blacklist app: nothing imported about them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  BLACKLISTED,
  bearer,
  claimsOf,
  createUser,
  credentialNotValid,
  harness,
  login,
  manualClock,
  PASSWORD,
  storeNames,
  TEST_SIGNING_KEY,
  tokenNotValid,
  type Harness,
} from '../support/harness.ts';

const PYTHON = '/usr/bin/python3';
const MINT = fileURLToPath(new URL('../fixtures/django/simplejwt_mint.py', import.meta.url));

/** A pair as the replaced Django service issued it to user `userId`. */
function mint(userId: number, key = TEST_SIGNING_KEY): { access: string; refresh: string } {
  return JSON.parse(execFileSync(PYTHON, [MINT, key, String(userId)], { encoding: 'utf8', timeout: 30_000 })) as { access: string; refresh: string };
}

const ON = { ACCEPT_SIMPLEJWT_TOKENS: 'true', REFRESH_REUSE_GRACE: '0s' };

const me = (h: Harness, access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
const refresh = (h: Harness, token: string) => h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: token } });
const post = (h: Harness, url: string, payload: object, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload, headers });

/** Polls (bounded: 50 × 100 ms) until `check` holds; another instance hears of a change through the store's notifications. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 50; i += 1) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

for (const name of storeNames()) {
  describe(`ACCEPT_SIMPLEJWT_TOKENS=true on ${name}`, () => {
    let h: Harness;
    let other: Harness;
    before(async () => {
      h = await harness(name, { env: ON });
      // A second instance on the same database: what one learns, the other must too.
      other = await harness(name, { env: ON, store: h.store });
    });
    after(async () => {
      await other.close();
      await h.close();
    });

    it('mint, switch, use, refresh, use, log out: no 401 the user would see; the Django token again is refused', async () => {
      const { id, username } = await createUser(h);
      const django = mint(id);
      assert.equal(claimsOf(django.access).sid, undefined, 'SimpleJWT tokens carry no sid');

      const first = await me(h, django.access);
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.json().username, username);
      assert.equal((await post(h, '/auth/verify/', { token: django.access })).statusCode, 200);
      assert.equal((await post(h, '/auth/verify/', { token: django.refresh })).statusCode, 200);

      const exchanged = await refresh(h, django.refresh);
      assert.equal(exchanged.statusCode, 200, exchanged.body);
      const pair = exchanged.json() as { access: string; refresh: string };
      assert.equal(typeof claimsOf(pair.access).sid, 'string', 'a Latchkey session now');
      assert.equal(claimsOf(pair.refresh).sid, claimsOf(pair.access).sid);
      assert.equal((await me(h, pair.access)).statusCode, 200);
      // The Django access token is still good until its exp: other tabs may hold it.
      assert.equal((await me(h, django.access)).statusCode, 200);

      const next = (await refresh(h, pair.refresh)).json() as { access: string; refresh: string };
      assert.equal((await me(h, next.access)).statusCode, 200);
      assert.equal((await post(h, '/auth/logout/', { refresh: next.refresh })).statusCode, 200);
      assert.equal((await me(h, next.access)).statusCode, 401);

      const again = await refresh(h, django.refresh);
      assert.deepEqual([again.statusCode, again.json()], [401, tokenNotValid(BLACKLISTED)]);

      const events = await h.store.db.selectFrom('audit_events').selectAll().where('user_id', '=', id).orderBy('id').execute();
      const exchange = events.filter((event) => event.type === 'simplejwt_token_exchanged');
      assert.equal(exchange.length, 1);
      assert.equal(exchange[0]?.session_id, claimsOf(pair.access).sid);
      const trail = JSON.stringify(events);
      for (const token of [django.access, django.refresh, pair.access, pair.refresh]) assert.ok(!trail.includes(token), 'no token in the audit trail');
    });

    it('the same Django refresh token presented again is reuse: the session it opened ends, on every instance', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      const pair = (await refresh(h, django.refresh)).json() as { access: string; refresh: string };
      const reuse = await refresh(other, django.refresh);
      assert.deepEqual([reuse.statusCode, reuse.json()], [401, tokenNotValid(BLACKLISTED)]);
      assert.equal((await me(other, pair.access)).statusCode, 401);
      assert.ok(await eventually(async () => (await me(h, pair.access)).statusCode === 401), 'the first instance hears of it');
      const [event] = await h.store.db.selectFrom('audit_events').select('type').where('user_id', '=', id).where('type', '=', 'refresh_reuse_detected').execute();
      assert.ok(event);
    });

    it('two instances exchanging one Django token at once: one exchange, the other is reuse', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      const answers = await Promise.all([refresh(h, django.refresh), refresh(other, django.refresh)]);
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 401]);
      const sessions = await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', id).execute();
      assert.equal(sessions.length, 1, 'one session opened');
    });

    it('logout-all voids the Django tokens issued before it, on every instance and after a restart', async () => {
      const { id, username } = await createUser(h);
      const django = mint(id);
      assert.equal((await me(other, django.access)).statusCode, 200);
      const own = await login(h, username);
      assert.equal((await post(h, '/auth/logout-all/', {}, bearer(own.access))).statusCode, 200);
      const refused = await me(h, django.access);
      assert.deepEqual([refused.statusCode, refused.json()], [401, credentialNotValid(BLACKLISTED)]);
      assert.ok(await eventually(async () => (await me(other, django.access)).statusCode === 401), 'the other instance hears the cut-off');
      assert.deepEqual((await refresh(other, django.refresh)).json(), tokenNotValid(BLACKLISTED));
      const restarted = await harness(name, { env: ON, store: h.store });
      try {
        assert.equal((await me(restarted, django.access)).statusCode, 401, 'a new instance loads cut-offs from the database');
      } finally {
        await restarted.close();
      }
      // Tokens the user gets afterwards work.
      const later = await login(h, username);
      assert.equal((await me(h, later.access)).statusCode, 200);
    });

    it('a deactivated user and invalidate-all void Django tokens; the admin logout too', async () => {
      const admin = await createUser(h, { isStaff: true });
      const adminToken = (await login(h, admin.username)).access;
      const deactivated = await createUser(h);
      const loggedOut = await createUser(h);
      const tokens = { deactivated: mint(deactivated.id), loggedOut: mint(loggedOut.id) };
      assert.equal((await me(h, tokens.deactivated.access)).statusCode, 200);
      assert.equal((await h.app.inject({ method: 'DELETE', url: `/admin/users/${deactivated.id}/`, headers: bearer(adminToken) })).statusCode, 204);
      assert.deepEqual((await me(h, tokens.deactivated.access)).json(), credentialNotValid(BLACKLISTED));
      assert.equal((await refresh(h, tokens.deactivated.refresh)).statusCode, 401);
      assert.equal((await post(h, `/admin/users/${loggedOut.id}/logout/`, {}, bearer(adminToken))).statusCode, 200);
      assert.equal((await me(h, tokens.loggedOut.access)).statusCode, 401);

      const bystander = await createUser(h);
      const theirs = mint(bystander.id);
      assert.equal((await me(h, theirs.access)).statusCode, 200);
      assert.equal((await post(h, '/admin/invalidate-all-tokens/', {}, bearer(adminToken))).statusCode, 200);
      assert.equal((await me(h, theirs.access)).statusCode, 401);
      assert.equal((await refresh(h, theirs.refresh)).statusCode, 401);
      // A token's iat has whole seconds, so one minted in the second of the cut-off counts as before it
      // (void, the safe side). The next test's tokens must come from the following second.
      await sleep(1_050 - (Date.now() % 1_000));
    });

    it('a Django refresh token logged out before its first exchange is never exchanged', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      assert.equal((await post(h, '/auth/logout/', { refresh: django.refresh })).statusCode, 200);
      assert.deepEqual((await refresh(other, django.refresh)).json(), tokenNotValid(BLACKLISTED));
      const verify = await post(h, '/auth/verify/', { token: django.refresh });
      assert.equal(verify.statusCode, 400);
    });

    it('refuses a Django token signed with another key, and one for a user that is not here', async () => {
      const { id } = await createUser(h);
      const forged = mint(id, 'another-signing-key-that-is-at-least-32-bytes');
      assert.equal((await me(h, forged.access)).statusCode, 401);
      assert.equal((await refresh(h, forged.refresh)).statusCode, 401);
      const ghost = mint(2_000_000_000);
      assert.equal((await refresh(h, ghost.refresh)).statusCode, 401);
      assert.equal((await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', 2_000_000_000).execute()).length, 0);
    });

    it('a change of password with a Django access token carries on in a new session and voids the Django tokens', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      const changed = await post(h, '/auth/change-password/', { old_password: PASSWORD, new_password: `${PASSWORD} 2` }, bearer(django.access));
      assert.equal(changed.statusCode, 200, changed.body);
      const pair = changed.json() as { access: string };
      assert.equal((await me(h, pair.access)).statusCode, 200);
      assert.equal((await me(h, django.access)).statusCode, 401);
      assert.equal((await refresh(h, django.refresh)).statusCode, 401);
    });
  });

  describe(`ACCEPT_SIMPLEJWT_TOKENS=true and flush-expired-tokens on ${name}`, () => {
    const clock = manualClock(Date.now());
    let h: Harness;
    before(async () => { h = await harness(name, { clock, env: ON }); });
    after(() => h.close());

    it('a Django refresh token whose session was ended and purged is still refused until it expires', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      // The manual clock catches up with the real time SimpleJWT stamped the token with.
      clock.advance(Math.max(0, Date.now() - clock.now()) + 1000);
      const pair = (await refresh(h, django.refresh)).json() as { refresh: string };
      assert.equal((await post(h, '/auth/logout/', { refresh: pair.refresh })).statusCode, 200);
      // Past the revocation horizon (an access lifetime): the purge deletes the session and the token's row.
      clock.advance(20 * 60_000);
      await h.auth.flushExpiredTokens();
      assert.equal((await h.store.db.selectFrom('refresh_tokens').select('jti').where('jti', '=', claimsOf(django.refresh).jti as string).execute()).length, 0);
      const again = await refresh(h, django.refresh);
      assert.deepEqual([again.statusCode, again.json()], [401, tokenNotValid(BLACKLISTED)]);
      assert.equal((await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', id).execute()).length, 0, 'no new session');
    });
  });

  describe(`ACCEPT_SIMPLEJWT_TOKENS=true, ROTATE_REFRESH_TOKENS=false on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { ...ON, ROTATE_REFRESH_TOKENS: 'false' } }); });
    after(() => h.close());

    it('a front end that keeps its Django refresh token refreshes in the session it opened, as it did on the old site', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      const first = await refresh(h, django.refresh);
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(Object.keys(first.json()).sort(), ['access', 'access_expires_at']);
      const second = await refresh(h, django.refresh);
      assert.equal(second.statusCode, 200);
      assert.equal(claimsOf(second.json().access).sid, claimsOf(first.json().access).sid);
      const events = await h.store.db.selectFrom('audit_events').select('type').where('user_id', '=', id).execute();
      assert.deepEqual(events.map((e) => e.type).sort(), ['simplejwt_token_exchanged', 'token_refreshed']);
      assert.equal((await post(h, '/auth/logout/', { refresh: django.refresh })).statusCode, 200);
      assert.equal((await refresh(h, django.refresh)).statusCode, 401);
      assert.equal((await me(h, first.json().access)).statusCode, 401);
    });
  });

  describe(`ACCEPT_SIMPLEJWT_TOKENS off (the default) on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name); });
    after(() => h.close());

    it('refuses Django tokens that were not imported, as before', async () => {
      const { id } = await createUser(h);
      const django = mint(id);
      assert.deepEqual((await me(h, django.access)).json(), credentialNotValid());
      assert.deepEqual([(await refresh(h, django.refresh)).statusCode], [401]);
      assert.equal((await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', id).execute()).length, 0);
    });
  });
}
