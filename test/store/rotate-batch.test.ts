/**
 * SessionsRepo.rotate: rotations asked for in the same turn of the event loop
 * share one statement, and each is still judged on its own: a spent token, a
 * revoked session or a token presented with another user's id is not rotated,
 * and writes nothing, while the others in the same statement are; a second
 * rotation of one session waits for the next statement.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SessionsRepo } from '../../src/store/repos/sessions.ts';
import { claimsOf, createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`rotations sharing a statement (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    it('rotates each live token for its own successor, with its audit row, and nothing for the others', async () => {
      const user = await createUser(h);
      const other = await createUser(h);
      const [a, b, c, spent, ended, foreign] = await Promise.all(Array.from({ length: 6 }, () => login(h, user.username)));
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: spent!.refresh } })).statusCode, 200);
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh: ended!.refresh } })).statusCode, 200);

      const repo = new SessionsRepo(h.store.db, h.store.channel);
      const at = new Date(Math.floor(Date.now() / 1000) * 1000);
      const expiresAt = new Date(at.getTime() + 86_400_000);
      const rotate = (token: string, userId = user.id) => {
        const claims = claimsOf(token);
        const sessionId = claims.sid as string;
        const jti = randomUUID().replaceAll('-', '');
        const done = repo.rotate(
          { jti: claims.jti as string, sessionId, userId, at },
          { jti, sessionId, issuedAt: at, expiresAt, accessJti: randomUUID().replaceAll('-', ''), accessExpiresAt: expiresAt },
          { userAgent: 'batch test', ip: '192.0.2.7' },
          { type: 'token_refreshed', at, userId, sessionId, ip: '192.0.2.7', userAgent: 'batch test', outcome: 'success', detail: { n: jti } },
        );
        return { sessionId, jti, done };
      };
      // All asked for in one turn: one statement, and the second rotation of a's token in the next.
      const asked = [rotate(a!.refresh), rotate(b!.refresh), rotate(spent!.refresh), rotate(c!.refresh), rotate(ended!.refresh), rotate(foreign!.refresh, other.id), rotate(a!.refresh)];
      assert.deepEqual(await Promise.all(asked.map((r) => r.done)), [true, true, false, true, false, false, false]);

      const rotated = [asked[0]!, asked[1]!, asked[3]!];
      for (const r of rotated) {
        const token = await h.store.db.selectFrom('refresh_tokens').select(['session_id', 'spent_at', 'issued_at', 'expires_at']).where('jti', '=', r.jti).executeTakeFirstOrThrow();
        assert.deepEqual(token, { session_id: r.sessionId, spent_at: null, issued_at: at, expires_at: expiresAt });
        const session = await h.store.db.selectFrom('sessions').select(['last_used_at', 'expires_at', 'user_agent', 'ip']).where('id', '=', r.sessionId).executeTakeFirstOrThrow();
        assert.deepEqual(session, { last_used_at: at, expires_at: expiresAt, user_agent: 'batch test', ip: '192.0.2.7' });
      }
      const spends = await h.store.db.selectFrom('refresh_tokens').select(['jti', 'successor_jti']).where('jti', 'in', [a, b, c].map((pair) => claimsOf(pair!.refresh).jti as string)).execute();
      assert.deepEqual(
        Object.fromEntries(spends.map((row) => [row.jti, row.successor_jti])),
        Object.fromEntries([a, b, c].map((pair, i) => [claimsOf(pair!.refresh).jti, rotated[i]!.jti])),
        'each token is spent for its own successor',
      );
      for (const r of asked.filter((x) => !rotated.includes(x))) {
        assert.equal(await h.store.db.selectFrom('refresh_tokens').select('jti').where('jti', '=', r.jti).executeTakeFirst(), undefined, 'no successor');
      }
      const events = await h.store.db.selectFrom('audit_events').select(['session_id', 'at', 'detail']).where('user_agent', '=', 'batch test').execute();
      assert.deepEqual(
        events.map((e) => [e.session_id, e.at, e.detail]).sort(),
        rotated.map((r) => [r.sessionId, at, { n: r.jti }]).sort(),
        'one event for each rotation done, none for the others',
      );
    });
  });
}
