/**
 * latchkey/client against a live server over real HTTP on 127.0.0.1: login,
 * me, single-flight refresh on a 401, session expiry, logout, cookie mode and
 * the axios interceptor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { axiosInterceptor, LatchkeyClient, LatchkeyError, localStorageStorage, memoryStorage, type AxiosLike, type AxiosLikeConfig } from '../../src/client/index.ts';
import { createUser, harness, manualClock, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { cookieFetch } from '../support/cookie-fetch.ts';

/** A fetch that counts requests by path. */
function countingFetch() {
  const counts = new Map<string, number>();
  const fetcher: typeof fetch = async (input, init) => {
    const path = new URL(String(input)).pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    return fetch(input, init);
  };
  return { fetcher, count: (path: string) => counts.get(path) ?? 0 };
}

for (const name of storeNames()) {
  describe(`latchkey/client against a live server on ${name}`, () => {
    const clock = manualClock(Date.now());
    let h: Harness;
    let baseUrl: string;
    before(async () => {
      h = await harness(name, { clock, env: { ACCESS_TOKEN_LIFETIME: '60s', REFRESH_REUSE_GRACE: '0s' } });
      await h.app.listen({ host: '127.0.0.1', port: 0 });
      const address = h.app.server.address();
      baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });
    after(() => h.close());

    it('20 concurrent calls on an expired access token make exactly one refresh request, and all 20 succeed', async () => {
      const { username } = await createUser(h);
      const { fetcher, count } = countingFetch();
      const client = new LatchkeyClient({ baseUrl, fetch: fetcher });
      await client.login(username, PASSWORD);
      assert.equal((await client.fetch('/auth/me/')).status, 200);
      clock.advance(61_000);
      const responses = await Promise.all(Array.from({ length: 20 }, () => client.fetch('/auth/me/')));
      assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
      assert.equal(count('/auth/refresh/'), 1);
      assert.equal(count('/auth/me/'), 1 + 20 + 20, 'each call: one 401, one retry');
      const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ username: string }>));
      assert.ok(bodies.every((b) => b.username === username));
    });

    it('login, me, logout; typed errors carry status, code and detail', async () => {
      const { username, id } = await createUser(h);
      const client = new LatchkeyClient({ baseUrl, storage: memoryStorage() });
      const login = await client.login(username.toUpperCase(), PASSWORD);
      assert.equal(login.user?.id, id);
      assert.equal((await client.me()).username, username);
      await client.logout();
      await assert.rejects(client.me(), (e: unknown) => e instanceof LatchkeyError && e.status === 401 && e.code === 'not_authenticated');
      await assert.rejects(client.login(username, 'wrong password'), (e: unknown) =>
        e instanceof LatchkeyError && e.status === 401 && e.code === 'no_active_account' && e.detail === 'No active account found with the given credentials');
    });

    it('a failed refresh calls onSessionExpired once and clears storage; the 401 is returned', async () => {
      const { username } = await createUser(h);
      const values = new Map<string, string>();
      const storage = localStorageStorage('tokens', { getItem: (k) => values.get(k) ?? null, setItem: (k, v) => values.set(k, v), removeItem: (k) => values.delete(k) });
      let expired = 0;
      const client = new LatchkeyClient({ baseUrl, storage, onSessionExpired: () => { expired += 1; } });
      await client.login(username, PASSWORD);
      assert.ok(values.get('tokens'));
      // The session ends elsewhere (another device logs everyone out).
      const other = new LatchkeyClient({ baseUrl });
      await other.login(username, PASSWORD);
      await other.fetch('/auth/logout-all/', { method: 'POST' });
      const responses = await Promise.all([client.fetch('/auth/me/'), client.fetch('/auth/me/')]);
      assert.deepEqual(responses.map((r) => r.status), [401, 401]);
      assert.equal(expired, 1);
      assert.equal(values.get('tokens'), undefined);
      assert.equal(storage.get(), null);
    });

    it('cookie mode: credentials sent, the CSRF header added on unsafe calls, refresh and logout by cookie', async () => {
      const c = await harness(name, { clock, env: { AUTH_COOKIES: 'true', COOKIE_SECURE: 'false', ACCESS_TOKEN_LIFETIME: '60s' } });
      try {
        await c.app.listen({ host: '127.0.0.1', port: 0 });
        const address = c.app.server.address();
        const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
        const { username } = await createUser(c);
        const { fetcher, jar } = cookieFetch();
        const client = new LatchkeyClient({ baseUrl: url, mode: 'cookie', fetch: fetcher, csrfToken: () => jar.get('csrf_token') });
        const login = await client.login(username, PASSWORD);
        assert.equal(login.access, undefined, 'no token in the body');
        assert.ok(jar.get('access_token'));
        const patched = await client.fetch('/auth/me/', { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ first_name: 'Cookie' }) });
        assert.equal(patched.status, 200);
        clock.advance(61_000);
        assert.equal((await client.me()).first_name, 'Cookie', 'refreshed silently by cookie');
        await client.logout();
        assert.equal(jar.size, 0, 'logout cleared the cookies');
      } finally {
        await c.close();
      }
    });

    it('the axios interceptor attaches the token and refreshes once on 401 for concurrent requests', async () => {
      const { username } = await createUser(h);
      const { fetcher, count } = countingFetch();
      const client = new LatchkeyClient({ baseUrl, fetch: fetcher });
      await client.login(username, PASSWORD);
      const axios = miniAxios(baseUrl, fetcher);
      axiosInterceptor(client, axios);
      clock.advance(61_000);
      const results = await Promise.all(Array.from({ length: 5 }, () => axios.request({ method: 'GET', url: '/auth/me/' } as AxiosLikeConfig)));
      assert.deepEqual(results.map((r) => (r as { status: number }).status), Array(5).fill(200));
      assert.equal(count('/auth/refresh/'), 1);
    });
  });
}

/** Just enough of axios to drive the interceptor: request interceptors, then fetch, then rejected-response interceptors. */
function miniAxios(baseUrl: string, fetcher: typeof fetch): AxiosLike {
  const requestUse: Array<(c: AxiosLikeConfig) => AxiosLikeConfig | Promise<AxiosLikeConfig>> = [];
  const responseRejected: Array<(e: unknown) => unknown> = [];
  const axios: AxiosLike = {
    interceptors: {
      request: { use: (f) => requestUse.push(f) - 1, eject: () => {} },
      response: { use: (_ok, rejected) => responseRejected.push(rejected) - 1, eject: () => {} },
    },
    async request(input) {
      let config = { ...input, headers: { ...(input.headers as Record<string, string>) } } as AxiosLikeConfig & { url: string };
      for (const use of requestUse) config = (await use(config)) as typeof config;
      const response = await fetcher(`${baseUrl}${config.url}`, { method: config.method ?? 'GET', headers: config.headers as Record<string, string> });
      if (response.ok) return { status: response.status, data: await response.json() };
      let result: Promise<unknown> = Promise.reject({ config, response: { status: response.status } });
      for (const rejected of responseRejected) result = result.catch(rejected);
      return result;
    },
  };
  return axios;
}
