/**
 * flush-expired-tokens: deletes expired sessions, sessions revoked long enough
 * ago that no access token of theirs lives, and expired refresh tokens; keeps
 * everything that can still matter.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createUser, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;

for (const name of storeNames()) {
  describe(`flush expired tokens (${name})`, () => {
    let h: Harness;
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
    before(async () => {
      h = await harness(name, { clock });
    });
    after(() => h.close());

    const counts = async () => {
      const { rows } = await sql<{ sessions: string; tokens: string }>`
        select (select count(*) from sessions) as sessions, (select count(*) from refresh_tokens) as tokens
      `.execute(h.store.db);
      return { sessions: Number(rows[0]!.sessions), tokens: Number(rows[0]!.tokens) };
    };
    const refresh = (token: string) => h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: token } });

    it('keeps live sessions, recent revocations and unexpired spent tokens; deletes the rest and says how many', async () => {
      const u = await createUser(h);
      // An old session, left to expire (refresh lifetime 7 days).
      await login(h, u.username);
      clock.advance(8 * DAY);
      // A live session with one rotation: one spent and one current refresh token.
      const live = await login(h, u.username);
      const rotated = await refresh(live.refresh);
      assert.equal(rotated.statusCode, 200);
      // A session revoked just now: its access token may still be alive elsewhere, so it stays.
      const recent = await login(h, u.username);
      await h.app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh: recent.refresh } });
      assert.deepEqual(await counts(), { sessions: 3, tokens: 4 });

      assert.deepEqual(await h.auth.flushExpiredTokens(), { sessions: 1, refreshTokens: 1 });
      assert.deepEqual(await counts(), { sessions: 2, tokens: 3 });

      // The spent token is still recognised: replayed after the grace window, the session ends.
      clock.advance(MINUTE);
      assert.equal((await refresh(live.refresh)).statusCode, 401);
      assert.equal((await refresh(rotated.json().refresh)).statusCode, 401, 'reuse ended the session');

      // Once the revocations are older than an access token's lifetime, both revoked sessions go.
      clock.advance(16 * MINUTE);
      assert.deepEqual(await h.auth.flushExpiredTokens(), { sessions: 2, refreshTokens: 3 });
      assert.deepEqual(await counts(), { sessions: 0, tokens: 0 });
      assert.deepEqual(await h.auth.flushExpiredTokens(), { sessions: 0, refreshTokens: 0 });
    });
  });
}
