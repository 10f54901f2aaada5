/**
 * A front end written for Django REST framework + SimpleJWT, in the style of SimpleJWT's React example:
 * axios, both tokens in localStorage, an interceptor that refreshes on a 401 and retries — not
 * latchkey/client. It logs in at /api/token/both/ and refreshes at /api/token/access/ (PATH_ALIASES),
 * and goes through two access-token expiries in headless Chromium (playwright-core, Debian's chromium):
 * with ROTATE_REFRESH_TOKENS=true when it stores the rotated token, and =false when it never does (as
 * such front ends are written). The third case is what the README warns of: rotation on and a front end
 * that never stores the rotated token is logged out at its second refresh. axios is served from
 * node_modules by the test's own static server (no network). Screenshots go to test-output/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createUser, harness, manualClock, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { CHROMIUM, ARGS, missing } from '../support/browser.ts';

const OUTPUT = new URL('../../test-output/', import.meta.url).pathname;
const AXIOS = readFileSync(new URL('../../node_modules/axios/dist/axios.min.js', import.meta.url), 'utf8');

const PAGE = `<!doctype html><meta charset="utf-8"><title>SimpleJWT front end</title>
<h1>Notes</h1><p id="status">loading</p><p id="refreshes">refreshes: 0</p>
<script src="/axios.min.js"></script><script src="/app.js"></script>`;

/** The app: SimpleJWT's React example's axios set-up, as plain script. `storeRotated`: whether it keeps a rotated refresh token. */
const appJs = (api: string, storeRotated: boolean) => `
const baseURL = ${JSON.stringify(api)};
const storeRotated = ${storeRotated};
const status = document.getElementById('status');
let refreshes = 0;
const axiosInstance = axios.create({ baseURL, timeout: 5000, headers: { 'Content-Type': 'application/json', accept: 'application/json' } });
axiosInstance.interceptors.request.use((config) => {
  const token = localStorage.getItem('access_token');
  if (token) config.headers.Authorization = 'Bearer ' + token;
  return config;
});
axiosInstance.interceptors.response.use((response) => response, async (error) => {
  const original = error.config;
  if (error.response && error.response.status === 401 && !original._retry && localStorage.getItem('refresh_token')) {
    original._retry = true;
    try {
      const response = await axios.post(baseURL + '/api/token/access/', { refresh: localStorage.getItem('refresh_token') });
      refreshes += 1;
      document.getElementById('refreshes').textContent = 'refreshes: ' + refreshes;
      localStorage.setItem('access_token', response.data.access);
      if (storeRotated && response.data.refresh) localStorage.setItem('refresh_token', response.data.refresh);
      return axiosInstance(original);
    } catch (refreshError) {
      localStorage.removeItem('access_token');
      localStorage.removeItem('refresh_token');
      status.textContent = 'logged out: please sign in again';
      return Promise.reject(refreshError);
    }
  }
  return Promise.reject(error);
});
window.app = {
  async login(username, password) {
    const response = await axiosInstance.post('/api/token/both/', { username, password });
    localStorage.setItem('access_token', response.data.access);
    localStorage.setItem('refresh_token', response.data.refresh);
    status.textContent = 'signed in';
  },
  async hello() {
    try {
      const response = await axiosInstance.get('/auth/me/');
      status.textContent = 'hello ' + response.data.username;
      return { ok: true, username: response.data.username, refreshes };
    } catch (error) {
      return { ok: false, status: error.response ? error.response.status : 0, refreshes };
    }
  },
};
status.textContent = 'ready';
`;

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const shot = (page: Page, name: string) => page.screenshot({ path: `${OUTPUT}${name}.png`, fullPage: true });

const CASES = [
  { rotate: 'true', storeRotated: true, works: true },
  { rotate: 'false', storeRotated: false, works: true },
  { rotate: 'true', storeRotated: false, works: false },
] as const;

for (const name of storeNames()) {
  for (const { rotate, storeRotated, works } of CASES) {
    const title = `ROTATE_REFRESH_TOKENS=${rotate}, a front end that ${storeRotated ? 'stores' : 'never stores'} the rotated token`;
    describe(`SimpleJWT-style axios front end in Chromium, ${title}, on ${name}`, { skip: missing && 'chromium not installed' }, () => {
      const clock = manualClock(Date.now());
      let h: Harness;
      let browser: Browser;
      let front: Server;

      before(async () => {
        mkdirSync(OUTPUT, { recursive: true });
        front = createServer();
        const frontUrl = `http://127.0.0.1:${await listen(front)}`;
        h = await harness(name, {
          clock,
          env: { PATH_ALIASES: 'login:/api/token/both/,refresh:/api/token/access/', CORS_ORIGINS: frontUrl, ROTATE_REFRESH_TOKENS: rotate, ACCESS_TOKEN_LIFETIME: '60s' },
        });
        await h.app.listen({ host: '127.0.0.1', port: 0 });
        const api = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
        front.on('request', (request, response) => {
          const files: Record<string, [string, string]> = {
            '/': ['text/html', PAGE],
            '/axios.min.js': ['text/javascript', AXIOS],
            '/app.js': ['text/javascript', appJs(api, storeRotated)],
          };
          const file = files[request.url ?? ''];
          if (!file) return response.writeHead(404).end();
          response.writeHead(200, { 'content-type': `${file[0]}; charset=utf-8` }).end(file[1]);
        });
        browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      });
      after(async () => {
        await browser?.close();
        await new Promise((resolve) => front.close(resolve));
        await h.close();
      });

      it(works ? 'logs in at the alias and refreshes on 401 twice without losing the session' : 'is logged out at its second refresh (reuse), as the README warns', async () => {
        const { username } = await createUser(h);
        const page = await browser.newPage();
        const origin = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
        await page.goto(`${origin}/`);
        await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 10_000 });
        await page.evaluate(([u, p]) => (window as unknown as { app: { login(u: string, p: string): Promise<void> } }).app.login(u!, p!), [username, PASSWORD]);
        const hello = () => page.evaluate(() => (window as unknown as { app: { hello(): Promise<{ ok: boolean; refreshes: number; status?: number }> } }).app.hello());
        assert.deepEqual(await hello(), { ok: true, username, refreshes: 0 });

        // The access token expires (60 s) beyond the reuse grace (10 s): the next call gets a 401 and refreshes.
        clock.advance(61_000);
        assert.deepEqual(await hello(), { ok: true, username, refreshes: 1 });
        clock.advance(61_000);
        const second = await hello();
        await shot(page, `simplejwt-frontend-rotate-${rotate}-${storeRotated ? 'stores' : 'keeps-old'}-${name}`);
        if (works) {
          assert.deepEqual(second, { ok: true, username, refreshes: 2 });
          assert.equal(await page.textContent('#status'), `hello ${username}`);
        } else {
          assert.deepEqual(second, { ok: false, status: 401, refreshes: 1 });
          assert.equal(await page.textContent('#status'), 'logged out: please sign in again');
        }
        await page.close();
      });
    });
  }
}
