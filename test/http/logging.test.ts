import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp, REDACT } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import { createLogger } from '../../src/logging.ts';
import { openTestStore, PASSWORD, storeNames, testConfig, testPasswords } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`request logs on ${name}`, () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    let app: App;
    let auth: Auth;
    let store: Awaited<ReturnType<typeof openTestStore>>;

    before(async () => {
      store = await openTestStore(name);
      auth = createAuth(testConfig(), { store, passwords: testPasswords() });
      await auth.start();
      await auth.createUser({ username: 'logged', password: PASSWORD });
      app = await buildApp({ auth, logger: { level: 'trace', stream, redact: REDACT } });
    });
    after(async () => {
      await app.close();
      await auth.stop();
      await store.drop();
    });

    it('never contain a password or a token, whatever the route or outcome', async () => {
      const login = await app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'logged', password: PASSWORD } });
      const { access, refresh } = login.json() as { access: string; refresh: string };
      await app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'logged', password: `${PASSWORD}!` } });
      const rotated = (await app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } })).json() as { refresh: string };
      await app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: `${access}x` } });
      await app.inject({ method: 'GET', url: '/auth/me/', headers: { authorization: `Bearer ${access}` } });
      await app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh: rotated.refresh } });
      await app.inject({ method: 'POST', url: '/auth/refresh/', payload: `{"refresh": "${refresh}"`, headers: { 'content-type': 'application/json' } });

      const log = lines.join('');
      assert.ok(lines.length >= 7, 'requests were logged');
      for (const secret of [PASSWORD, access, refresh, rotated.refresh, access.split('.')[2]!, refresh.split('.')[1]!]) {
        assert.ok(!log.includes(secret), `log contains a secret: ${secret.slice(0, 12)}…`);
      }
    });
  });
}

describe('per-request log lines', () => {
  let store: Awaited<ReturnType<typeof openTestStore>>;
  before(async () => {
    store = await openTestStore('pglite');
  });
  after(async () => {
    await store.drop();
  });

  /** The messages logged for a health check and a failed login, with the app built as `serve` builds it. */
  async function messages(env: Record<string, string>): Promise<string[]> {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const config = testConfig(env);
    const logger = createLogger(config, { stream, isTTY: false });
    const auth = createAuth(config, { store, auditLogger: logger });
    await auth.start();
    const app = await buildApp({ auth, loggerInstance: logger });
    try {
      await app.inject({ method: 'GET', url: '/healthz' });
      await app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'nobody', password: PASSWORD } });
    } finally {
      await app.close();
      await auth.stop();
    }
    return lines.join('').trim().split('\n').map((line) => (JSON.parse(line) as { msg: string }).msg);
  }
  const requestLines = (msgs: string[]) => msgs.filter((msg) => msg === 'incoming request' || msg === 'request completed');

  it('are logged at info outside production', async () => {
    assert.equal(requestLines(await messages({ LOG_LEVEL: 'info' })).length, 4);
  });

  it('are not logged at info in production (NODE_ENV=production); audit lines still are', async () => {
    const msgs = await messages({ NODE_ENV: 'production', LOG_LEVEL: 'info' });
    assert.deepEqual(requestLines(msgs), []);
    assert.ok(msgs.includes('audit login_failed'), msgs.join(' | '));
  });

  it('are logged in production at LOG_LEVEL=debug', async () => {
    assert.equal(requestLines(await messages({ NODE_ENV: 'production', LOG_LEVEL: 'debug' })).length, 4);
  });
});
