import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import { manualClock, openTestStore, PASSWORD, storeNames, testConfig, testPasswords, uniqueName } from '../support/harness.ts';

interface Line { level: 'info' | 'warn'; object: Record<string, unknown>; message: string }

for (const name of storeNames()) {
  describe(`the ROTATE_REFRESH_TOKENS hint on reuse, on ${name}`, () => {
    const clock = manualClock(Date.parse('2026-11-22T10:00:00Z'));
    const lines: Line[] = [];
    const logger = {
      info: (object: object, message: string) => lines.push({ level: 'info', object: object as Record<string, unknown>, message }),
      warn: (object: object, message: string) => lines.push({ level: 'warn', object: object as Record<string, unknown>, message }),
    };
    let store: Awaited<ReturnType<typeof openTestStore>>;
    let auth: Auth;
    let app: App;
    before(async () => {
      store = await openTestStore(name);
      auth = createAuth(testConfig(), { store, clock, auditLogger: logger, passwords: testPasswords() });
      await auth.start();
      app = await buildApp({ auth });
    });
    after(async () => {
      await app.close();
      await auth.stop();
      await store.drop();
    });

    const post = (url: string, payload: object) => app.inject({ method: 'POST', url, payload });
    const session = async () => {
      const username = uniqueName('hint');
      await auth.createUser({ username, password: PASSWORD });
      return (await post('/auth/login/', { username, password: PASSWORD })).json() as { access: string; refresh: string };
    };
    const warnings = () => lines.filter((line) => line.level === 'warn');

    it('warns, naming the setting, when the client kept its old token and never used the new one', async () => {
      lines.length = 0;
      const first = await session();
      const rotated = (await post('/auth/refresh/', { refresh: first.refresh })).json() as { access: string; refresh: string };
      clock.advance(60_000);
      assert.equal((await post('/auth/refresh/', { refresh: first.refresh })).statusCode, 401);
      const [warning, ...others] = warnings();
      assert.equal(others.length, 0);
      assert.ok(warning, 'a warning was logged');
      assert.match(warning.message, /ROTATE_REFRESH_TOKENS=false/);
      assert.deepEqual(Object.keys(warning.object).sort(), ['session_id', 'user_id']);
      const logged = JSON.stringify(lines);
      for (const token of [first.access, first.refresh, rotated.access, rotated.refresh]) assert.ok(!logged.includes(token), 'no token in the log');
      const audit = lines.find((line) => (line.object.audit as { type?: string } | undefined)?.type === 'refresh_reuse_detected');
      assert.deepEqual((audit?.object.audit as { detail: unknown }).detail, { session_revoked: true, successor_unused: true });
    });

    it('does not warn when the successor was used (a replayed, probably stolen, token)', async () => {
      lines.length = 0;
      const first = await session();
      const rotated = (await post('/auth/refresh/', { refresh: first.refresh })).json() as { refresh: string };
      assert.equal((await post('/auth/refresh/', { refresh: rotated.refresh })).statusCode, 200);
      clock.advance(60_000);
      assert.equal((await post('/auth/refresh/', { refresh: first.refresh })).statusCode, 401);
      assert.deepEqual(warnings(), []);
      const audit = lines.find((line) => (line.object.audit as { type?: string } | undefined)?.type === 'refresh_reuse_detected');
      assert.deepEqual((audit?.object.audit as { detail: unknown }).detail, { session_revoked: true, successor_unused: false });
    });
  });
}
