/**
 * The audit trail as the facade writes it (SPEC §6): every authentication event
 * stored and logged as a JSON line, with time, user, session, IP, user agent and
 * outcome — and never a password or a token.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import { PASSWORD, bearer, claimsOf, openTestStore, storeNames, testConfig, testPasswords, uniqueName } from '../support/harness.ts';

const NEW_PASSWORD = 'a brand new passphrase 42';
const CLIENT = { 'user-agent': 'AuditTest/1.0' };

for (const name of storeNames()) {
  describe(`audit trail (${name})`, () => {
    let store: Awaited<ReturnType<typeof openTestStore>>;
    let auth: Auth;
    let app: App;
    const lines: Array<Record<string, unknown>> = [];
    const secrets: string[] = [];

    before(async () => {
      store = await openTestStore(name);
      auth = createAuth(testConfig(), { store, passwords: testPasswords(), auditLogger: { info: (object) => lines.push(JSON.parse(JSON.stringify(object)) as Record<string, unknown>) } });
      await auth.start();
      app = await buildApp({ auth });
    });
    after(async () => {
      await app.close();
      await auth.stop();
      await store.drop();
    });

    const post = async (url: string, payload?: object, headers: Record<string, string> = {}) => {
      const response = await app.inject({ method: 'POST', url, ...(payload ? { payload } : {}), headers: { ...CLIENT, ...headers } });
      for (const value of Object.values(String(response.headers['content-type'] ?? '').includes('json') ? (response.json() as object) : {})) {
        if (typeof value === 'string' && value.split('.').length === 3) secrets.push(value);
      }
      return response;
    };
    const events = async (type: string) =>
      store.db.selectFrom('audit_events').selectAll().where('type', '=', type).orderBy('id', 'asc').execute();

    it('records each event with user, session, ip, user agent and outcome, in the table and the log', async () => {
      const username = uniqueName('audited');
      secrets.push(PASSWORD, NEW_PASSWORD, 'wrong password 123');
      const registered = await post('/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD });
      assert.equal(registered.statusCode, 201);
      const userId = registered.json().id as number;

      assert.equal((await post('/auth/login/', { username, password: 'wrong password 123' })).statusCode, 401);
      assert.equal((await post('/auth/login/', { username: `nobody-${username}`, password: 'wrong password 123' })).statusCode, 401);
      const first = (await post('/auth/login/', { username, password: PASSWORD })).json();
      const second = (await post('/auth/login/', { username, password: PASSWORD })).json();
      const sid = claimsOf(first.access).sid as string;
      const rotated = (await post('/auth/refresh/', { refresh: first.refresh })).json();
      const changed = await post('/auth/change-password/', { old_password: PASSWORD, new_password: NEW_PASSWORD }, bearer(rotated.access));
      assert.equal(changed.statusCode, 200, changed.body);
      const third = (await post('/auth/login/', { username, password: NEW_PASSWORD })).json();
      const del = await app.inject({ method: 'DELETE', url: `/auth/sessions/${claimsOf(third.access).sid as string}/`, headers: { ...CLIENT, ...bearer(changed.json().access) } });
      assert.equal(del.statusCode, 204);
      assert.equal((await post('/auth/logout-all/', undefined, bearer(changed.json().access))).statusCode, 200);

      const [reg] = await events('user_registered');
      assert.deepEqual(
        { type: reg?.type, user_id: reg?.user_id, outcome: reg?.outcome, ip: reg?.ip, user_agent: reg?.user_agent },
        { type: 'user_registered', user_id: userId, outcome: 'success', ip: '127.0.0.1', user_agent: 'AuditTest/1.0' },
      );
      const failed = await events('login_failed');
      assert.deepEqual(failed.map((e) => [e.user_id, e.outcome, e.detail]), [
        [userId, 'failure', { reason: 'bad_password' }],
        [null, 'failure', { reason: 'unknown_user' }],
      ]);
      const succeeded = await events('login_succeeded');
      assert.equal(succeeded.length, 3);
      assert.equal(succeeded[0]?.session_id, sid);
      assert.equal(succeeded[0]?.user_id, userId);
      const [refreshed] = await events('token_refreshed');
      assert.deepEqual([refreshed?.user_id, refreshed?.session_id, refreshed?.outcome], [userId, sid, 'success']);
      const [pw] = await events('password_changed');
      assert.deepEqual([pw?.user_id, pw?.session_id, pw?.detail], [userId, sid, { sessions_ended: 1, forced_reset_cleared: false }]);
      assert.equal(claimsOf(second.access).sid !== sid, true);
      const [revoked] = await events('session_revoked');
      assert.equal(revoked?.session_id, claimsOf(third.access).sid);
      const [all] = await events('logout_all');
      assert.deepEqual([all?.user_id, all?.detail], [userId, { sessions_ended: 1 }]);
      for (const row of await store.db.selectFrom('audit_events').selectAll().execute()) {
        assert.ok(row.at instanceof Date);
      }

      // The same events as JSON log lines.
      const logged = lines.map((line) => (line.audit as { type: string }).type);
      for (const type of ['user_registered', 'login_failed', 'login_succeeded', 'token_refreshed', 'password_changed', 'session_revoked', 'logout_all']) {
        assert.ok(logged.includes(type), `${type} logged`);
      }
      const line = lines.find((l) => (l.audit as { type: string }).type === 'token_refreshed')!.audit as Record<string, unknown>;
      assert.deepEqual(Object.keys(line), ['type', 'at', 'user_id', 'session_id', 'ip', 'user_agent', 'outcome', 'detail']);
    });

    it('records reuse detection, logout and the emergency switch', async () => {
      const username = uniqueName('reuse');
      await auth.createUser({ username, password: PASSWORD });
      const session = (await post('/auth/login/', { username, password: PASSWORD })).json();
      await post('/auth/refresh/', { refresh: session.refresh });
      // Replayed outside the grace window (10 s): move the spent time back rather than wait.
      await store.db.updateTable('refresh_tokens').set({ spent_at: new Date(Date.now() - 60_000) }).where('spent_at', 'is not', null).execute();
      assert.equal((await post('/auth/refresh/', { refresh: session.refresh })).statusCode, 401);
      const [reuse] = await events('refresh_reuse_detected');
      assert.deepEqual([reuse?.session_id, reuse?.outcome, reuse?.detail], [claimsOf(session.access).sid, 'failure', { session_revoked: true, successor_unused: true }]);

      const other = (await post('/auth/login/', { username, password: PASSWORD })).json();
      assert.equal((await post('/auth/logout/', { refresh: other.refresh })).statusCode, 200);
      const logouts = await events('logout');
      assert.equal(logouts.at(-1)?.session_id, claimsOf(other.access).sid);

      await auth.invalidateAllTokens({ source: 'cli' });
      const [all] = await events('all_tokens_invalidated');
      assert.equal(all?.outcome, 'success');
      assert.equal((all?.detail as { via: string }).via, 'cli');
    });

    it('never stores or logs a password or a token', async () => {
      assert.ok(secrets.length > 5);
      const rows = JSON.stringify(await store.db.selectFrom('audit_events').selectAll().execute());
      const logged = JSON.stringify(lines);
      for (const secret of secrets) {
        assert.ok(!rows.includes(secret), 'a secret in an audit row');
        assert.ok(!logged.includes(secret), 'a secret in a log line');
      }
      // And nothing that looks like a JWT or a password hash at all.
      assert.doesNotMatch(rows + logged, /eyJ[\w-]+\.[\w-]+\.[\w-]+/);
      assert.doesNotMatch(rows + logged, /\$argon2/);
    });
  });
}
