import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, claimsOf, createUser, harness, login, manualClock, storeNames, type Harness, TOKEN_NOT_VALID, BLACKLISTED, tokenNotValid } from '../support/harness.ts';

const refresh = (h: Harness, token: string) => h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: token } });
const me = (h: Harness, access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });

for (const name of storeNames()) {
  describe(`refresh rotation on ${name}`, () => {
    const clock = manualClock(Date.parse('2026-11-22T10:00:00Z'));
    let h: Harness;
    before(async () => { h = await harness(name, { clock }); });
    after(() => h.close());

    it('returns a new pair bound to the same session, and spends the presented token', async () => {
      const { username } = await createUser(h);
      const first = await login(h, username);
      clock.advance(1000);
      const response = await refresh(h, first.refresh);
      assert.equal(response.statusCode, 200);
      const body = response.json();
      assert.deepEqual(Object.keys(body).sort(), ['access', 'access_expires_at', 'refresh', 'refresh_expires_at']);
      assert.notEqual(body.refresh, first.refresh);
      assert.equal(claimsOf(body.access).sid, claimsOf(first.access).sid);
      assert.equal(claimsOf(body.refresh).sid, claimsOf(first.refresh).sid);
      assert.equal(claimsOf(body.refresh).token_type, 'refresh');
      assert.equal(body.access_expires_at, new Date((claimsOf(body.access).exp as number) * 1000).toISOString().replace('.000Z', 'Z'));
      assert.equal((await refresh(h, body.refresh)).statusCode, 200, 'the successor is usable');
    });

    it('gives the same successor pair to a spent token presented inside REFRESH_REUSE_GRACE', async () => {
      const { username } = await createUser(h);
      const first = await login(h, username);
      const a = await refresh(h, first.refresh);
      clock.advance(9_000);
      const b = await refresh(h, first.refresh);
      assert.equal(b.statusCode, 200);
      assert.equal(b.body, a.body, 'identical body: same access and refresh tokens');
      clock.advance(1_000);
      const c = await refresh(h, first.refresh);
      assert.equal(c.statusCode, 200, 'the grace window includes its last millisecond');
      assert.equal(c.body, a.body);
    });

    it('revokes the whole session when a spent token comes back after the grace window', async () => {
      const { username } = await createUser(h);
      const first = await login(h, username);
      const rotated = (await refresh(h, first.refresh)).json();
      clock.advance(10_001);
      const reuse = await refresh(h, first.refresh);
      assert.equal(reuse.statusCode, 401);
      assert.deepEqual(reuse.json(), tokenNotValid(BLACKLISTED));
      assert.equal(reuse.headers['www-authenticate'], 'Bearer realm="api"');
      // The thief's and the owner's tokens of that session are all dead now.
      assert.equal((await refresh(h, rotated.refresh)).statusCode, 401);
      assert.equal((await me(h, rotated.access)).statusCode, 401);
      assert.equal((await me(h, first.access)).statusCode, 401);
      const verify = await h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: rotated.access } });
      assert.deepEqual([verify.statusCode, verify.json()], [401, tokenNotValid(BLACKLISTED)]);
    });

    it('leaves the user’s other sessions alone when one is revoked for reuse', async () => {
      const { username } = await createUser(h);
      const phone = await login(h, username);
      const laptop = await login(h, username);
      await refresh(h, phone.refresh);
      clock.advance(60_000);
      assert.equal((await refresh(h, phone.refresh)).statusCode, 401);
      assert.equal((await me(h, laptop.access)).statusCode, 200);
      assert.equal((await refresh(h, laptop.refresh)).statusCode, 200);
    });

    it('verify accepts a live refresh token; a spent one and one of an ended session are SimpleJWT’s 400 "Token is blacklisted"', async () => {
      const verify = (token: string) => h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token } });
      const { username } = await createUser(h);
      const first = await login(h, username);
      assert.deepEqual([(await verify(first.refresh)).statusCode, (await verify(first.refresh)).json()], [200, {}]);
      const rotated = (await refresh(h, first.refresh)).json();
      const spent = await verify(first.refresh);
      assert.deepEqual([spent.statusCode, spent.json()], [400, { non_field_errors: [BLACKLISTED] }]);
      assert.equal((await verify(rotated.refresh)).statusCode, 200);
      await h.app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh: rotated.refresh } });
      assert.deepEqual((await verify(rotated.refresh)).json(), { non_field_errors: [BLACKLISTED] });
    });

    it('refuses an expired refresh token', async () => {
      const { username } = await createUser(h);
      const first = await login(h, username);
      clock.advance(7 * 86_400_000);
      assert.deepEqual((await refresh(h, first.refresh)).json(), TOKEN_NOT_VALID);
    });

    it('refuses a refresh token whose user was deactivated', async () => {
      const { username, id } = await createUser(h);
      const first = await login(h, username);
      await h.store.db.updateTable('users').set({ is_active: false }).where('id', '=', id).execute();
      const response = await refresh(h, first.refresh);
      assert.equal(response.statusCode, 401);
      assert.equal(response.json().code, 'no_active_account');
    });
  });

  describe(`refresh without rotation on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, { env: { ROTATE_REFRESH_TOKENS: 'false' } }); });
    after(() => h.close());

    it('returns only an access token and keeps the refresh token usable', async () => {
      const { username } = await createUser(h);
      const first = await login(h, username);
      for (let i = 0; i < 3; i++) {
        const response = await refresh(h, first.refresh);
        assert.equal(response.statusCode, 200);
        assert.deepEqual(Object.keys(response.json()).sort(), ['access', 'access_expires_at']);
        assert.equal(claimsOf(response.json().access).sid, claimsOf(first.access).sid);
      }
    });
  });

  describe(`concurrent refreshes over real HTTP on ${name}`, () => {
    let h: Harness;
    let base: string;
    before(async () => {
      h = await harness(name);
      base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    });
    after(() => h.close());

    const post = (token: string) =>
      fetch(`${base}/auth/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: token }) });

    it('lets several tabs refresh the same token at once: all succeed with identical results', async () => {
      const { username } = await createUser(h);
      const first = await login(h, username);
      const responses = await Promise.all(Array.from({ length: 8 }, () => post(first.refresh)));
      const bodies = await Promise.all(responses.map((r) => r.text()));
      assert.deepEqual(responses.map((r) => r.status), Array(8).fill(200));
      assert.equal(new Set(bodies).size, 1, 'every tab got the same pair');
      const pair = JSON.parse(bodies[0] ?? '{}') as { access: string; refresh: string };
      const check = await fetch(`${base}/auth/me/`, { headers: bearer(pair.access) });
      assert.equal(check.status, 200);
      assert.equal((await post(pair.refresh)).status, 200, 'the shared successor rotates on');
    });

    it('keeps two devices independent while both refresh concurrently', async () => {
      const { username } = await createUser(h);
      const [a, b] = await Promise.all([login(h, username), login(h, username)]);
      const results = await Promise.all([post(a.refresh), post(b.refresh), post(a.refresh), post(b.refresh)]);
      const bodies = await Promise.all(results.map((r) => r.json() as Promise<{ refresh: string }>));
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
      assert.equal(bodies[0]?.refresh, bodies[2]?.refresh);
      assert.equal(bodies[1]?.refresh, bodies[3]?.refresh);
      assert.notEqual(bodies[0]?.refresh, bodies[1]?.refresh);
    });

    it('rotates many sessions at once, each for its own successor and with its own audit row; a spent token among them gets its grace', async () => {
      const { username, id } = await createUser(h);
      const pairs = await Promise.all(Array.from({ length: 12 }, () => login(h, username)));
      const replayed = pairs[5]!;
      const successor = await post(replayed.refresh);
      assert.equal(successor.status, 200);
      const graced = await successor.text();

      const responses = await Promise.all(pairs.map((pair) => post(pair.refresh)));
      assert.deepEqual(responses.map((r) => r.status), Array(12).fill(200));
      const bodies = await Promise.all(responses.map((r) => r.text()));
      assert.equal(bodies[5], graced, 'the spent token got the pair it was exchanged for, not a rotation of its own');

      for (const [i, pair] of pairs.entries()) {
        const row = await h.store.db.selectFrom('refresh_tokens').select(['spent_at', 'successor_jti']).where('jti', '=', claimsOf(pair.refresh).jti as string).executeTakeFirstOrThrow();
        assert.notEqual(row.spent_at, null);
        assert.equal(row.successor_jti, claimsOf((JSON.parse(bodies[i]!) as { refresh: string }).refresh).jti, 'each token is spent for its own successor');
      }
      const audited = await h.store.db.selectFrom('audit_events').select(['session_id', 'detail']).where('user_id', '=', id).where('type', '=', 'token_refreshed').execute();
      const sessions = pairs.map((pair) => claimsOf(pair.refresh).sid as string);
      assert.deepEqual(audited.map((row) => row.session_id).sort(), [...sessions, sessions[5]].sort(), 'one event per refresh');
      for (const row of audited) assert.deepEqual(row.detail, {});
    });
  });
}
