/**
 * The revocation feed (GET /auth/revocations/, Server-Sent Events) and
 * latchkey/verify following it over real HTTP: a logout on Latchkey is refused
 * by the other service; a late follower catches up; a lost feed fails closed,
 * on the verifier and on Latchkey's own instances (REVOCATION_MAX_STALENESS).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import type { RevocationSink } from '../../src/sessions/sync.ts';
import { createVerifier, followRevocations, FeedRefusedError, VerificationError, type RevocationFollower } from '../../src/verify/index.ts';
import { TEST_SIGNING_KEY, bearer, createUser, harness, login, manualClock, openTestStore, storeNames, testConfig, type Harness } from '../support/harness.ts';

const FEED_TOKEN = 'feed-token-that-is-at-least-32-bytes-long!';

async function refusedWithin(check: () => Promise<unknown>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    try {
      await check();
    } catch (error) {
      if (error instanceof VerificationError && error.code === 'token_not_valid') return Date.now() - start;
      throw error;
    }
    await sleep(5);
  }
  assert.fail(`still accepted after ${ms} ms`);
}

for (const name of storeNames()) {
  describe(`revocation feed on ${name}`, () => {
    let h: Harness;
    let base: string;
    const followers: RevocationFollower[] = [];
    before(async () => {
      h = await harness(name, { env: { REVOCATION_FEED_TOKEN: FEED_TOKEN } });
      base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    });
    after(async () => {
      for (const follower of followers) follower.close();
      await h.close();
    });
    const follow = async (options: Partial<Parameters<typeof followRevocations>[0]> = {}) => {
      const follower = await followRevocations({ url: `${base}/auth/revocations/`, token: FEED_TOKEN, ...options });
      followers.push(follower);
      return follower;
    };

    it('answers 401 without the feed token and 403 with a wrong one', async () => {
      const none = await fetch(`${base}/auth/revocations/`);
      assert.equal(none.status, 401);
      assert.deepEqual(await none.json(), { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
      const wrong = await fetch(`${base}/auth/revocations/`, { headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 403);
      await assert.rejects(followRevocations({ url: `${base}/auth/revocations/`, token: 'nope' }), FeedRefusedError);
    });

    it('streams revocations as Server-Sent Events, resuming after Last-Event-ID', async () => {
      const { username } = await createUser(h);
      const pair = await login(h, username);
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh: pair.refresh } })).statusCode, 200);
      const controller = new AbortController();
      const response = await fetch(`${base}/auth/revocations/`, { headers: { authorization: `Bearer ${FEED_TOKEN}` }, signal: controller.signal });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(response.headers.get('cache-control'), 'no-store');
      let text = '';
      const decoder = new TextDecoder();
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        if (text.includes('event: ready')) break;
      }
      controller.abort();
      const sid = JSON.parse(Buffer.from(pair.access.split('.')[1] ?? '', 'base64url').toString()).sid as string;
      const event = text.split('\n\n').find((block) => block.includes(sid));
      assert.ok(event, 'the logout is in the catch-up');
      assert.match(event, /^id: \d+\nevent: revoked\ndata: \{"sessions":\[.*\],"revoked_at":"[^"]+"\}$/);
      // A cursor later than the revocation (beyond the clock margin) does not repeat it.
      const id = Number(/^id: (\d+)/.exec(event)?.[1]);
      const later = new AbortController();
      const resumed = await fetch(`${base}/auth/revocations/`, { headers: { authorization: `Bearer ${FEED_TOKEN}`, 'last-event-id': String(id + 60_000) }, signal: later.signal });
      let rest = '';
      for await (const chunk of resumed.body as AsyncIterable<Uint8Array>) {
        rest += decoder.decode(chunk, { stream: true });
        if (rest.includes('event: ready')) break;
      }
      later.abort();
      assert.ok(!rest.includes(sid));
    });

    it('a logout on Latchkey is refused by the other service, within a second', async () => {
      const verifier = createVerifier({ secret: TEST_SIGNING_KEY, revocations: await follow() });
      for (let i = 0; i < 5; i += 1) {
        const { username } = await createUser(h);
        const pair = await login(h, username);
        await verifier.verify(pair.access);
        await h.app.inject({ method: 'POST', url: '/auth/logout/', headers: bearer(pair.access), payload: { refresh: pair.refresh } });
        const delay = await refusedWithin(() => verifier.verify(pair.access), 1000);
        assert.ok(delay < 1000);
        const error = await verifier.verify(pair.access).catch((e: unknown) => e);
        assert.ok(error instanceof VerificationError);
        assert.equal((error.body.messages as Array<{ message: string }>)[0]?.message, 'Token is blacklisted');
      }
    });

    it('a follower that starts after a logout catches up first', async () => {
      const { username } = await createUser(h);
      const pair = await login(h, username);
      await h.app.inject({ method: 'POST', url: '/auth/logout-all/', headers: bearer(pair.access) });
      const verifier = createVerifier({ secret: TEST_SIGNING_KEY, revocations: await follow() });
      await assert.rejects(verifier.verify(pair.access), (error: unknown) => error instanceof VerificationError && error.code === 'token_not_valid');
    });

    it('fails closed when the feed has been silent longer than the bound', async () => {
      const clock = manualClock(Date.now());
      const follower = await follow({ clock, maxStalenessMs: 30_000 });
      const verifier = createVerifier({ secret: TEST_SIGNING_KEY, revocations: follower });
      const { username } = await createUser(h);
      const pair = await login(h, username);
      await verifier.verify(pair.access);
      clock.advance(30_001);
      const error = await verifier.verify(pair.access).catch((e: unknown) => e);
      assert.ok(error instanceof VerificationError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'service_unavailable');
    });
  });

  describe(`Latchkey's own staleness bound on ${name}`, () => {
    it('refuses access tokens with 503 once every feed has been lost longer than REVOCATION_MAX_STALENESS, until one resyncs', async () => {
      const clock = manualClock(Date.parse('2026-11-22T10:00:00Z'));
      let sink: RevocationSink | undefined;
      let other: RevocationSink | undefined;
      const store = await openTestStore(name);
      // The store's own feed is off: the two below are the only ones (as NOTIFY and Redis would be).
      const auth = createAuth(testConfig({ REVOCATION_MAX_STALENESS: '1m', REVOCATION_LISTEN: 'false' }), {
        store,
        clock,
        feeds: [{ name: 'test', start: async (s) => { sink = s; } }, { name: 'other', start: async (s) => { other = s; } }],
      });
      await auth.start();
      const app = await buildApp({ auth });
      try {
        const h = { app, auth } as unknown as Harness;
        const { username } = await createUser(h);
        const pair = await login(h, username);
        const me = () => app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(pair.access) });
        other?.lost?.();
        clock.advance(120_000);
        assert.equal((await me()).statusCode, 200, 'one connected feed is enough');
        sink?.lost?.();
        clock.advance(60_000);
        assert.equal((await me()).statusCode, 200, 'at the bound');
        clock.advance(1);
        const refused = await me();
        assert.equal(refused.statusCode, 503);
        assert.equal(refused.json().code, 'service_unavailable');
        sink?.resync();
        // The resync reloads from the database in the background: bounded polling, no timing asserted.
        let status = (await me()).statusCode;
        for (let i = 0; i < 100 && status !== 200; i += 1) {
          await sleep(50);
          status = (await me()).statusCode;
        }
        assert.equal(status, 200, 'caught up again');
      } finally {
        await app.close();
        await auth.stop();
        await store.drop();
      }
    });
  });
}

describe('the revocation feed without REVOCATION_FEED_TOKEN', () => {
  it('is off: 404', async () => {
    const h = await harness('pglite');
    try {
      const response = await h.app.inject({ method: 'GET', url: '/auth/revocations/', headers: bearer(FEED_TOKEN) });
      assert.equal(response.statusCode, 404);
    } finally {
      await h.close();
    }
  });
});
