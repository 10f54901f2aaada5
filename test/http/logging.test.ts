import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Auth } from '../../src/auth.ts';
import { buildApp, REDACT } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
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
      auth = new Auth({ config: testConfig(), store, passwords: testPasswords() });
      await auth.start();
      await auth.createUser({ username: 'logged', password: PASSWORD });
      app = await buildApp({ auth, logger: { level: 'trace', stream, redact: REDACT } });
    });
    after(async () => {
      await app.close();
      auth.stop();
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
