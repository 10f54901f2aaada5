/**
 * GET /admin/audit-events/: the admin actions recorded with who did them and
 * from where, filters (user, type, time), newest first, DRF paging — and never
 * a password or a token, in a row or in a log line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse as Response } from 'fastify';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp, REDACT } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import {
  PASSWORD, bearer, claimsOf, manualClock, openTestStore, storeNames, testConfig, testPasswords, uniqueName,
  NOT_AUTHENTICATED,
} from '../support/harness.ts';

const PERMISSION_DENIED = { detail: 'You do not have permission to perform this action.', code: 'permission_denied' };
const INVALID_PAGE = { detail: 'Invalid page.', code: 'not_found' };
const BASE = 'http://localhost:80/admin/audit-events/';
/** The types this suite's admin actions record (logins, recorded by the facade, are left out of the comparisons). */
const ADMIN_TYPES = [
  'user_created', 'user_updated', 'user_deactivated', 'user_sessions_ended', 'password_reset_forced',
  'account_created', 'account_updated', 'account_deactivated',
];

interface Event {
  id: number;
  type: string;
  at: string;
  user_id: number | null;
  session_id: string | null;
  ip: string | null;
  user_agent: string | null;
  outcome: string;
  detail: Record<string, unknown>;
}

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

for (const name of storeNames()) {
  describe(`admin audit events (${name})`, () => {
    const lines: string[] = [];
    const stream = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const clock = manualClock(Date.parse('2030-03-01T12:00:00Z'));
    let store: Awaited<ReturnType<typeof openTestStore>>;
    let auth: Auth;
    let app: App;
    let admin: string;
    let adminId: number;
    let adminSid: string;

    before(async () => {
      store = await openTestStore(name);
      auth = createAuth(testConfig(), {
        store,
        clock,
        passwords: testPasswords(),
        auditLogger: { info: (object, message) => lines.push(JSON.stringify({ ...object, msg: message })) },
      });
      await auth.start();
      app = await buildApp({ auth, logger: { level: 'trace', stream, redact: REDACT } });
      const boss = await auth.createUser({ username: uniqueName('boss'), password: PASSWORD, isStaff: true });
      adminId = boss.id;
      admin = (await logIn(boss.username)).access;
      adminSid = String(claimsOf(admin).sid);
    });
    after(async () => {
      await app.close();
      await auth.stop();
      await store.drop();
    });

    async function logIn(username: string, password = PASSWORD) {
      const response = await app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password } });
      assert.equal(response.statusCode, 200, response.body);
      return response.json() as { access: string; refresh: string };
    }

    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, token = admin): Promise<Response> =>
      app.inject({ method, url, headers: bearer(token), ...(payload ? { payload: payload as Record<string, unknown> } : {}) });

    const events = async (query: string): Promise<Event[]> => {
      const response = await call('GET', `/admin/audit-events/?${query}`);
      assert.equal(response.statusCode, 200, response.body);
      return (response.json() as { results: Event[] }).results;
    };

    /** What every event an admin action records shares. */
    const byAdmin = (type: string, at: number, userId: number | null, detail: Record<string, unknown>) => ({
      type, at: iso(at), user_id: userId, session_id: adminSid, ip: '127.0.0.1', user_agent: 'lightMyRequest', outcome: 'success',
      detail: { by: adminId, ...detail },
    });
    const withoutIds = (list: Event[]) => list.filter((e) => ADMIN_TYPES.includes(e.type)).map(({ id: _id, ...rest }) => rest);

    async function newUser(): Promise<number> {
      const response = await call('POST', '/admin/users/', { username: uniqueName(), password: PASSWORD });
      assert.equal(response.statusCode, 201, response.body);
      return (response.json() as { id: number }).id;
    }

    it('records each admin action on a user, newest first, with the administrator, their session and client', async () => {
      const t1 = clock.now();
      const username = uniqueName('audited');
      const created = await call('POST', '/admin/users/', { username, password: PASSWORD, email: `${username}@example.com`, role: 'employe' });
      const id = (created.json() as { id: number }).id;
      clock.advance(1000);
      await logIn(username);
      clock.advance(1000);
      const t2 = clock.now();
      await call('PATCH', `/admin/users/${id}/`, { first_name: 'Ada', last_name: '', password_needs_reset: true, is_staff: false });
      // Forcing a reset ended that session; a new login gets restricted tokens.
      await logIn(username);
      clock.advance(1000);
      const t3 = clock.now();
      await call('POST', `/admin/users/${id}/logout/`);
      clock.advance(1000);
      const t4 = clock.now();
      await call('DELETE', `/admin/users/${id}/`);
      clock.advance(1000);

      const list = await events(`user_id=${id}`);
      assert.ok(list.every((e) => e.user_id === id));
      assert.deepEqual(withoutIds(list), [
        byAdmin('user_deactivated', t4, id, { sessions_ended: 0 }),
        byAdmin('user_sessions_ended', t3, id, { sessions_ended: 1 }),
        byAdmin('password_reset_forced', t2, id, { sessions_ended: 1 }),
        byAdmin('user_updated', t2, id, { fields: ['first_name', 'password_needs_reset'] }),
        byAdmin('user_created', t1, id, { fields: ['username', 'email', 'role'] }),
      ]);
      const ids = list.map((e) => e.id);
      assert.ok(ids.every((value) => Number.isInteger(value)), 'ids are numbers');
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    });

    it('a PATCH that deactivates records the update and the deactivation with the sessions it ended', async () => {
      const id = await newUser();
      const username = ((await call('GET', `/admin/users/${id}/`)).json() as { username: string }).username;
      await logIn(username);
      await logIn(username);
      const at = clock.now();
      await call('PATCH', `/admin/users/${id}/`, { is_active: false });
      await call('PATCH', `/admin/users/${id}/`, { is_active: false });
      const [deactivated, updated] = withoutIds(await events(`user_id=${id}`));
      assert.deepEqual(deactivated, byAdmin('user_deactivated', at, id, { sessions_ended: 2 }));
      assert.deepEqual(updated, byAdmin('user_updated', at, id, { fields: ['is_active'] }));
      assert.equal(withoutIds(await events(`user_id=${id}`)).length, 3, 'a PATCH that changes nothing records nothing');
    });

    it('records account actions with no user and the account id', async () => {
      const at = clock.now();
      const created = await call('POST', '/admin/accounts/', { name: uniqueName('Audited') });
      const accountId = (created.json() as { id: number }).id;
      await call('PATCH', `/admin/accounts/${accountId}/`, { name: uniqueName('Renamed') });
      await call('DELETE', `/admin/accounts/${accountId}/`);
      const mine = (await events('page_size=100')).filter((e) => e.detail.account_id === accountId);
      assert.deepEqual(withoutIds(mine), [
        byAdmin('account_deactivated', at, null, { account_id: accountId, sessions_ended: 0 }),
        byAdmin('account_updated', at, null, { account_id: accountId, fields: ['name'] }),
        byAdmin('account_created', at, null, { account_id: accountId }),
      ]);
    });

    it('filters by type and by time (inclusive bounds, any ISO 8601 offset), and combines filters', async () => {
      // Within the administrator's access token lifetime (logged in at 12:00).
      clock.set(Date.parse('2030-03-01T12:10:00Z'));
      const a = await newUser();
      clock.set(Date.parse('2030-03-01T12:11:00Z'));
      const b = await newUser();
      clock.set(Date.parse('2030-03-01T12:12:00Z'));
      const c = await newUser();
      const createdIds = async (query: string) => (await events(`type=user_created&${query}`)).map((e) => e.user_id);

      assert.deepEqual(await createdIds('since=2030-03-01T12:10:00Z'), [c, b, a]);
      assert.deepEqual(await createdIds('since=2030-03-01T12:11:00Z&until=2030-03-01T12:11:00Z'), [b]);
      assert.deepEqual(await createdIds('since=2030-03-01T12:11'), [c, b]);
      assert.deepEqual(await createdIds('since=2030-03-01T07:11:00-05:00'), [c, b]);
      assert.deepEqual(await createdIds(`since=${encodeURIComponent('2030-03-01T13:11:00+01:00')}&until=2030-03-01T12:11:59.999`), [b]);
      assert.deepEqual(await createdIds('since=2030-03-01T13:11:00+01:00&until=2030-03-01T12:11:00Z'), [b], 'an unencoded + arrives as a space');
      assert.deepEqual(await createdIds('until=2030-03-01T12:10:59Z&since=2030-03-01%2012:10'), [a]);
      assert.deepEqual(await createdIds('until=2030-03-01'), [], 'a bare date is midnight UTC');
      assert.deepEqual(await createdIds(`since=2030-03-01T12:11:00Z&user_id=${a}`), []);
      assert.deepEqual(await createdIds(`user_id=${c}&since=&until=`), [c], 'an empty filter is no filter');
      assert.ok((await events('type=account_created')).every((e) => e.type === 'account_created'));
      assert.deepEqual(await events('user_id=99999999999'), [], 'an id no user can have matches nothing');
    });

    it('a bad filter is 400 under its name, all of them at once', async () => {
      const cases: Array<[string, object]> = [
        ['user_id=abc', { user_id: ['A valid integer is required.'] }],
        ['type=bogus', { type: ['Select a valid choice. bogus is not one of the available choices.'] }],
        ['since=yesterday', { since: ['Enter a valid date/time.'] }],
        ['until=2031-02-30T00:00:00Z', { until: ['Enter a valid date/time.'] }],
        ['until=2031-01-01T24:00:00Z', { until: ['Enter a valid date/time.'] }],
        [
          'user_id=1.5&since=2031-13-01&until=01/02/2031',
          { user_id: ['A valid integer is required.'], since: ['Enter a valid date/time.'], until: ['Enter a valid date/time.'] },
        ],
      ];
      for (const [query, expected] of cases) {
        const response = await call('GET', `/admin/audit-events/?${query}`);
        assert.equal(response.statusCode, 400, query);
        assert.deepEqual(response.json(), expected, query);
      }
    });

    it('pages as DRF, newest first across pages', async () => {
      const id = await newUser();
      for (const first_name of ['a', 'b', 'c', 'd']) {
        clock.advance(1000);
        await call('PATCH', `/admin/users/${id}/`, { first_name });
      }
      const query = `type=user_updated&user_id=${id}`;
      const first = await call('GET', `/admin/audit-events/?${query}&page_size=3`);
      const body = first.json();
      assert.equal(body.count, 4);
      assert.equal(body.next, `${BASE}?page=2&page_size=3&type=user_updated&user_id=${id}`);
      assert.equal(body.previous, null);
      const second = (await call('GET', `/admin/audit-events/?${query}&page_size=3&page=2`)).json();
      assert.deepEqual([second.next, second.previous], [null, `${BASE}?page_size=3&type=user_updated&user_id=${id}`]);
      const all = [...body.results, ...second.results] as Event[];
      assert.deepEqual(all.map((e) => e.at), [...all.map((e) => e.at)].sort().reverse());
      const past = await call('GET', `/admin/audit-events/?${query}&page_size=3&page=3`);
      assert.deepEqual([past.statusCode, past.json()], [404, INVALID_PAGE]);
    });

    it('a client gets 403 and no token 401', async () => {
      const username = uniqueName();
      await auth.createUser({ username, password: PASSWORD });
      const { access } = await logIn(username);
      const denied = await call('GET', '/admin/audit-events/', undefined, access);
      assert.deepEqual([denied.statusCode, denied.json()], [403, PERMISSION_DENIED]);
      const anonymous = await app.inject({ method: 'GET', url: '/admin/audit-events/' });
      assert.deepEqual([anonymous.statusCode, anonymous.json()], [401, NOT_AUTHENTICATED]);
    });

    it('never stores or logs a password or a token: not a created user’s, not the administrator’s', async () => {
      const secret = `Zebra-${uniqueName('pw')}-Quartz`;
      const username = uniqueName('secretive');
      const created = await call('POST', '/admin/users/', { username, password: secret, email: `${username}@example.com` });
      assert.equal(created.statusCode, 201, created.body);
      const id = (created.json() as { id: number }).id;
      const session = await logIn(username, secret);
      await app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: `${secret}!` } });
      await call('PATCH', `/admin/users/${id}/`, { password: secret, password_needs_reset: true });
      await call('POST', `/admin/users/${id}/logout/`);
      await call('DELETE', `/admin/users/${id}/`);

      const rows = await store.db.selectFrom('audit_events').selectAll().execute();
      assert.ok(rows.some((row) => row.user_id === id && row.type === 'user_created'), 'the events were stored');
      const auditLines = lines.filter((line) => line.includes('"audit"'));
      assert.ok(auditLines.some((line) => line.includes('user_created')), 'the events were logged');
      const stored = JSON.stringify(rows);
      const logged = lines.join('\n');
      const hash = ((await store.db.selectFrom('users').select('password').where('id', '=', id).executeTakeFirstOrThrow()).password);
      for (const value of [secret, hash, admin, session.access, session.refresh, admin.split('.')[2]!, session.refresh.split('.')[2]!]) {
        assert.ok(!stored.includes(value), `an audit row holds a secret: ${value.slice(0, 10)}…`);
        assert.ok(!logged.includes(value), `a log line holds a secret: ${value.slice(0, 10)}…`);
      }
    });
  });
}
