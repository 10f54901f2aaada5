/**
 * flush-expired-tokens: deletes expired sessions, sessions revoked long enough
 * ago that no access token of theirs lives, and expired refresh tokens; expired
 * or used reset and verification tokens, expired or spent mfa_tokens, mails
 * sent or given up on more than 7 days ago; keeps everything that can still
 * matter, and says how many rows went from each table.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { createUser, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const NOTHING = { sessions: 0, refreshTokens: 0, recoveryTokens: 0, mfaTokens: 0, mails: 0, webauthnChallenges: 0 };

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

      assert.deepEqual(await h.auth.flushExpiredTokens(), { ...NOTHING, sessions: 1, refreshTokens: 1 });
      assert.deepEqual(await counts(), { sessions: 2, tokens: 3 });

      // The spent token is still recognised: replayed after the grace window, the session ends.
      clock.advance(MINUTE);
      assert.equal((await refresh(live.refresh)).statusCode, 401);
      assert.equal((await refresh(rotated.json().refresh)).statusCode, 401, 'reuse ended the session');

      // Once the revocations are older than an access token's lifetime, both revoked sessions go.
      clock.advance(16 * MINUTE);
      assert.deepEqual(await h.auth.flushExpiredTokens(), { ...NOTHING, sessions: 2, refreshTokens: 3 });
      assert.deepEqual(await counts(), { sessions: 0, tokens: 0 });
      assert.deepEqual(await h.auth.flushExpiredTokens(), NOTHING);
    });

    it('reset and verification tokens, mfa_tokens and mails: deletes what has served its time, keeps what is still needed', async () => {
      const u = await createUser(h);
      const now = clock.now();
      const at = (ms: number) => new Date(now + ms);
      const recovery = (hash: string, purpose: 'password_reset' | 'email_verify', expiresIn: number, used: boolean) =>
        ({ user_id: u.id, purpose, token_hash: `${hash}-${u.id}`, bound_to: 'x', created_at: at(-2 * DAY), expires_at: at(expiresIn), used_at: used ? at(-MINUTE) : null });
      await h.store.db.insertInto('recovery_tokens').values([
        recovery('reset-live', 'password_reset', HOUR, false),
        recovery('reset-used', 'password_reset', HOUR, true),
        recovery('reset-expired', 'password_reset', -MINUTE, false),
        // A used verification link still answers "already verified" until it expires.
        recovery('verify-used', 'email_verify', HOUR, true),
        recovery('verify-used-expired', 'email_verify', -MINUTE, true),
        recovery('verify-live', 'email_verify', DAY, false),
      ]).execute();
      const mfa = (hash: string, expiresIn: number, consumed: boolean) =>
        ({ token_hash: `${hash}-${u.id}`, user_id: u.id, created_at: at(-10 * MINUTE), expires_at: at(expiresIn), consumed_at: consumed ? at(-MINUTE) : null });
      await h.store.db.insertInto('mfa_tokens').values([mfa('mfa-live', MINUTE, false), mfa('mfa-spent', MINUTE, true), mfa('mfa-expired', -MINUTE, false)]).execute();
      const challenge = (id: string, expiresIn: number) =>
        ({ id: `${id}-${u.id}`, purpose: 'register', user_id: u.id, challenge: id, created_at: at(-MINUTE), expires_at: at(expiresIn) });
      await h.store.db.insertInto('webauthn_challenges').values([challenge('challenge-live', MINUTE), challenge('challenge-expired', -MINUTE)]).execute();
      const mail = (kind: string, done: { sent?: number; failed?: number }) => ({
        kind, to_address: `${u.username}@example.com`, subject: kind, text_body: '', html_body: '', created_at: at(-30 * DAY), send_after: at(-MINUTE),
        sent_at: done.sent === undefined ? null : at(done.sent), failed_at: done.failed === undefined ? null : at(done.failed),
      });
      await h.store.db.insertInto('mail_outbox').values([
        // Still being retried, however old: never deleted.
        { ...mail('waiting', {}), attempts: 11 },
        mail('sent-8-days-ago', { sent: -8 * DAY }),
        mail('sent-6-days-ago', { sent: -6 * DAY }),
        mail('failed-8-days-ago', { failed: -8 * DAY }),
        mail('failed-yesterday', { failed: -DAY }),
      ]).execute();

      assert.deepEqual(await h.auth.flushExpiredTokens(), { ...NOTHING, recoveryTokens: 3, mfaTokens: 2, mails: 2, webauthnChallenges: 1 });
      const left = async () => ({
        recovery: (await h.store.db.selectFrom('recovery_tokens').select('token_hash').where('user_id', '=', u.id).orderBy('token_hash').execute()).map((r) => r.token_hash),
        mfa: (await h.store.db.selectFrom('mfa_tokens').select('token_hash').where('user_id', '=', u.id).execute()).map((r) => r.token_hash),
        mails: (await h.store.db.selectFrom('mail_outbox').select('kind').orderBy('kind').execute()).map((r) => r.kind),
      });
      assert.deepEqual(await left(), {
        recovery: [`reset-live-${u.id}`, `verify-live-${u.id}`, `verify-used-${u.id}`],
        mfa: [`mfa-live-${u.id}`],
        mails: ['failed-yesterday', 'sent-6-days-ago', 'waiting'],
      });

      // A day and a half on: the link tokens and the mfa_token have expired, the mails passed their week.
      clock.advance(DAY + 12 * HOUR);
      assert.deepEqual(await h.auth.flushExpiredTokens(), { ...NOTHING, recoveryTokens: 3, mfaTokens: 1, mails: 1, webauthnChallenges: 1 });
      assert.deepEqual(await left(), { recovery: [], mfa: [], mails: ['failed-yesterday', 'waiting'] });
      clock.advance(6 * DAY);
      assert.deepEqual(await h.auth.flushExpiredTokens(), { ...NOTHING, mails: 1 });
      assert.deepEqual((await left()).mails, ['waiting']);
    });
  });
}
