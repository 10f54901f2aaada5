/**
 * /admin/users/: who may call it, DRF paging and search, create, read, update,
 * deactivate, and ending a user's sessions (their access tokens refused at once).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as Response } from 'fastify';
import {
  PASSWORD, bearer, claimsOf, createUser, harness, login, manualClock, storeNames, uniqueName, type Harness,
  NOT_AUTHENTICATED, NOT_FOUND, NO_ACTIVE_ACCOUNT, BLACKLISTED, credentialNotValid, tokenNotValid,
} from '../support/harness.ts';

const PERMISSION_DENIED = { detail: 'You do not have permission to perform this action.', code: 'permission_denied' };
const INVALID_PAGE = { detail: 'Invalid page.', code: 'not_found' };
const BASE = 'http://localhost:80/admin/users/';

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

for (const name of storeNames()) {
  describe(`admin users (${name})`, () => {
    let h: Harness;
    let admin: string;
    let adminId: number;
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
    const t0 = clock.now();

    before(async () => {
      h = await harness(name, { clock });
      const staff = await createUser(h, { isStaff: true });
      adminId = staff.id;
      admin = (await login(h, staff.username)).access;
    });
    after(() => h.close());

    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, token = admin): Promise<Response> =>
      h.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload: payload as Record<string, unknown> } : {}) });

    /** A user as the admin API shows it, freshly created with createUser and never logged in. */
    const shown = (u: { id: number; username: string; email: string }, overrides: Record<string, unknown> = {}) => ({
      id: u.id, username: u.username, email: u.email, first_name: '', last_name: '', role: 'client', is_staff: false,
      is_manager: false, account_id: null, password_needs_reset: false, last_login: null, date_joined: iso(t0), is_active: true,
      mfa_enabled: false, ...overrides,
    });

    async function newAccount(): Promise<number> {
      const response = await call('POST', '/admin/accounts/', { name: uniqueName('acct') });
      assert.equal(response.statusCode, 201, response.body);
      return (response.json() as { id: number }).id;
    }

    describe('who may call it', () => {
      const routes = (id: number): Array<[method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string]> => [
        ['GET', '/admin/users/'], ['POST', '/admin/users/'], ['GET', `/admin/users/${id}/`], ['PATCH', `/admin/users/${id}/`],
        ['DELETE', `/admin/users/${id}/`], ['POST', `/admin/users/${id}/logout/`],
        ['GET', '/admin/accounts/'], ['POST', '/admin/accounts/'], ['GET', '/admin/accounts/1/'], ['PATCH', '/admin/accounts/1/'],
        ['DELETE', '/admin/accounts/1/'], ['GET', '/admin/audit-events/'], ['POST', '/admin/invalidate-all-tokens/'],
      ];

      it('a client gets 403 permission_denied on every admin route, and nothing changes', async () => {
        const client = await createUser(h);
        const { access } = await login(h, client.username);
        for (const [method, url] of routes(client.id)) {
          const response = await call(method, url, method === 'GET' || method === 'DELETE' ? undefined : { is_active: false, name: 'x' }, access);
          assert.equal(response.statusCode, 403, `${method} ${url}: ${response.body}`);
          assert.deepEqual(response.json(), PERMISSION_DENIED, `${method} ${url}`);
        }
        assert.equal((await call('GET', `/admin/users/${client.id}/`)).json().is_active, true);
        assert.equal((await call('GET', '/auth/me/', undefined, access)).statusCode, 200);
        // Permission is judged before the body is read, as in DRF: an unreadable body is still 403.
        const unreadable = await h.app.inject({
          method: 'PATCH', url: `/admin/users/${client.id}/`, payload: '{"is_active": ', headers: { ...bearer(access), 'content-type': 'application/json' },
        });
        assert.equal(unreadable.statusCode, 403);
        assert.deepEqual(unreadable.json(), PERMISSION_DENIED);
      });

      it('no token is 401 not_authenticated on every admin route', async () => {
        for (const [method, url] of routes(adminId)) {
          const response = await h.app.inject({ method, url });
          assert.equal(response.statusCode, 401, `${method} ${url}`);
          assert.deepEqual(response.json(), NOT_AUTHENTICATED);
          assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
        }
      });

      it('a bad token is 401 token_not_valid', async () => {
        const response = await call('GET', '/admin/users/', undefined, `${admin}x`);
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), credentialNotValid());
      });

      it('is_staff or role admin is enough; the staff flag alone need not go with the role', async () => {
        const byRole = await createUser(h, { role: 'admin' });
        const roleToken = (await login(h, byRole.username)).access;
        assert.equal((await call('GET', '/admin/users/', undefined, roleToken)).statusCode, 200);
        assert.equal((await call('GET', '/admin/users/', undefined, admin)).statusCode, 200);
        const employe = await createUser(h, { role: 'employe' });
        const response = await call('GET', '/admin/users/', undefined, (await login(h, employe.username)).access);
        assert.equal(response.statusCode, 403);
      });

      it('a demoted administrator is refused on the very next request, with the same token', async () => {
        const other = await createUser(h, { isStaff: true });
        const token = (await login(h, other.username)).access;
        assert.equal((await call('GET', '/admin/users/', undefined, token)).statusCode, 200);
        assert.equal((await call('PATCH', `/admin/users/${other.id}/`, { is_staff: false })).statusCode, 200);
        const response = await call('GET', '/admin/users/', undefined, token);
        assert.equal(response.statusCode, 403);
        assert.deepEqual(response.json(), PERMISSION_DENIED);
      });
    });

    describe('GET /admin/users/ (paged, searchable)', () => {
      it('pages as DRF: count, next and previous as absolute URLs keeping the other parameters', async () => {
        const tag = uniqueName('pg');
        const users = [];
        for (let i = 0; i < 5; i += 1) users.push(await createUser(h, { username: `${tag}_${i}` }));
        const page = (query: string) => call('GET', `/admin/users/?${query}`);

        const first = await page(`search=${tag}&page_size=2`);
        assert.equal(first.statusCode, 200, first.body);
        assert.deepEqual(first.json(), {
          count: 5,
          next: `${BASE}?page=2&page_size=2&search=${tag}`,
          previous: null,
          results: [shown(users[0]!), shown(users[1]!)],
        });
        const second = (await page(`page_size=2&search=${tag}&page=2`)).json();
        assert.equal(second.next, `${BASE}?page=3&page_size=2&search=${tag}`);
        assert.equal(second.previous, `${BASE}?page_size=2&search=${tag}`, 'page 1 is the URL without page, as DRF writes it');
        assert.deepEqual(second.results.map((u: { id: number }) => u.id), [users[2]!.id, users[3]!.id]);
        const third = (await page(`page=3&page_size=2&search=${tag}`)).json();
        assert.deepEqual([third.next, third.previous], [null, `${BASE}?page=2&page_size=2&search=${tag}`]);
        assert.deepEqual(third.results.map((u: { id: number }) => u.id), [users[4]!.id]);
        assert.deepEqual((await page(`page=last&page_size=2&search=${tag}`)).json(), third);
      });

      it('an invalid page is 404 "Invalid page."; an empty list still has page 1', async () => {
        const tag = uniqueName('none');
        for (const query of ['page=2', 'page=0', 'page=-1', 'page=abc', 'page=1.5']) {
          const response = await call('GET', `/admin/users/?search=${tag}&${query}`);
          assert.equal(response.statusCode, 404, query);
          assert.deepEqual(response.json(), INVALID_PAGE);
        }
        const empty = await call('GET', `/admin/users/?search=${tag}`);
        assert.deepEqual(empty.json(), { count: 0, next: null, previous: null, results: [] });
        const past = await call('GET', `/admin/users/?page=99`);
        assert.deepEqual([past.statusCode, past.json()], [404, INVALID_PAGE]);
      });

      it('page_size is capped at 100 and falls back to 20 when not a positive integer', async () => {
        const tag = uniqueName('bulk');
        await h.store.db
          .insertInto('users')
          .values(Array.from({ length: 101 }, (_, i) => ({
            username: `${tag}_${i}`, email: '', password: '!', role: 'client', date_joined: new Date(t0),
          })))
          .execute();
        const capped = (await call('GET', `/admin/users/?search=${tag}&page_size=1000`)).json();
        assert.equal(capped.count, 101);
        assert.equal(capped.results.length, 100);
        assert.equal(capped.next, `${BASE}?page=2&page_size=1000&search=${tag}`);
        for (const size of ['0', '-5', 'x', '']) {
          const body = (await call('GET', `/admin/users/?search=${tag}&page_size=${size}`)).json();
          assert.equal(body.results.length, 20, `page_size=${size}`);
        }
      });

      it('search: every term must appear, case-insensitively, in username, email or a name', async () => {
        const tag = uniqueName('srch').toLowerCase();
        const ada = await createUser(h, { username: `${tag}_ada`, email: `ada.${tag}@Example.org` });
        const bob = await createUser(h, { username: `${tag}_bob` });
        await call('PATCH', `/admin/users/${bob.id}/`, { first_name: 'Robert', last_name: 'Lovelace' });
        const ids = async (search: string) =>
          ((await call('GET', `/admin/users/?search=${encodeURIComponent(search)}`)).json().results as Array<{ id: number }>).map((u) => u.id);
        assert.deepEqual(await ids(tag.toUpperCase()), [ada.id, bob.id]);
        assert.deepEqual(await ids(`${tag} EXAMPLE.ORG`), [ada.id]);
        assert.deepEqual(await ids(`${tag},lovelace`), [bob.id]);
        assert.deepEqual(await ids(`${tag} robert lovelace`), [bob.id]);
        assert.deepEqual(await ids(`${tag} nobody`), []);
        assert.deepEqual(await ids(`${tag}\u0000`), [ada.id, bob.id], 'a NUL character is dropped, not a 500');
        assert.deepEqual(await ids('100%_'), [], 'LIKE wildcards are plain characters');
      });
    });

    describe('GET /admin/users/{id}/', () => {
      it('200 with the public user and is_active, never the password', async () => {
        const u = await createUser(h);
        await login(h, u.username);
        const response = await call('GET', `/admin/users/${u.id}`);
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), shown(u, { last_login: iso(t0) }));
        assert.ok(!response.body.includes('argon2'));
      });

      it('an unknown, non-numeric or out-of-range id is 404', async () => {
        for (const id of ['999999', 'abc', '99999999999', '0', '1'.repeat(40), '-1']) {
          for (const [method, url] of [['GET', `/admin/users/${id}/`], ['PATCH', `/admin/users/${id}/`], ['DELETE', `/admin/users/${id}/`], ['POST', `/admin/users/${id}/logout/`]] as const) {
            const response = await call(method, url, method === 'PATCH' ? { first_name: 'x' } : undefined);
            assert.equal(response.statusCode, 404, `${method} ${url}`);
            assert.deepEqual(response.json(), NOT_FOUND);
          }
        }
      });
    });

    describe('POST /admin/users/', () => {
      it('201 with the new user, who can log in; every field may be set', async () => {
        const accountId = await newAccount();
        const username = uniqueName('made');
        const response = await call('POST', '/admin/users/', {
          username, email: ` ${username}@example.com `, password: PASSWORD, first_name: 'Grace', last_name: 'Hopper',
          role: 'employe', is_staff: true, is_manager: true, account_id: accountId, password_needs_reset: true,
        });
        assert.equal(response.statusCode, 201, response.body);
        const body = response.json();
        assert.deepEqual(body, {
          id: body.id, username, email: `${username}@example.com`, first_name: 'Grace', last_name: 'Hopper', role: 'employe',
          is_staff: true, is_manager: true, account_id: accountId, password_needs_reset: true, last_login: null, date_joined: iso(t0),
          is_active: true, mfa_enabled: false,
        });
        const session = await login(h, username);
        assert.equal(claimsOf(session.access).account_id, accountId);
        assert.equal(claimsOf(session.access).role, 'employe');
      });

      it('defaults: first role, not staff, no account; is_active false makes a user who cannot log in', async () => {
        const username = uniqueName('plain');
        const response = await call('POST', '/admin/users/', { username, password: PASSWORD, is_active: false });
        assert.equal(response.statusCode, 201, response.body);
        assert.deepEqual(response.json(), shown({ id: response.json().id, username, email: '' }, { is_active: false }));
        const refused = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
        assert.deepEqual([refused.statusCode, refused.json()], [401, NO_ACTIVE_ACCOUNT]);
      });

      it('400 per field: required, taken (case-insensitively), unknown account, bad choice, weak password, wrong types', async () => {
        const taken = await createUser(h);
        const cases: Array<[object, object]> = [
          [{}, { username: ['This field is required.'], password: ['This field is required.'] }],
          [{ username: '  ', password: '' }, { username: ['This field may not be blank.'], password: ['This field may not be blank.'] }],
          [{ username: taken.username.toUpperCase(), password: PASSWORD }, { username: ['A user with that username already exists.'] }],
          [{ username: uniqueName(), email: taken.email.toUpperCase(), password: PASSWORD }, { email: ['A user with that email already exists.'] }],
          [{ username: uniqueName(), password: PASSWORD, account_id: 999999 }, { account_id: ['Invalid pk "999999" - object does not exist.'] }],
          [{ username: uniqueName(), password: PASSWORD, role: 'boss' }, { role: ['"boss" is not a valid choice.'] }],
          [{ username: uniqueName(), password: 'short' }, { password: ['This password is too short. It must contain at least 8 characters.'] }],
          [
            { username: false, password: PASSWORD, is_staff: 'yes', account_id: '5', first_name: null },
            {
              username: ['Not a valid string.'], is_staff: ['Must be a valid boolean.'], account_id: ['A valid integer is required.'],
              first_name: ['This field may not be null.'],
            },
          ],
          [{ username: uniqueName(), password: PASSWORD, account_id: 1.5 }, { account_id: ['A valid integer is required.'] }],
        ];
        for (const [payload, expected] of cases) {
          const response = await call('POST', '/admin/users/', payload);
          assert.equal(response.statusCode, 400, JSON.stringify(payload));
          assert.deepEqual(response.json(), expected, JSON.stringify(payload));
        }
      });
    });

    describe('PATCH /admin/users/{id}/', () => {
      it('changes each editable field, and only those', async () => {
        const u = await createUser(h);
        const accountId = await newAccount();
        const steps: Array<[object, object]> = [
          [{ first_name: 'Ada' }, { first_name: 'Ada' }],
          [{ last_name: 'Lovelace' }, { last_name: 'Lovelace' }],
          [{ email: ` NEW.${u.email} ` }, { email: `NEW.${u.email}` }],
          [{ role: 'employe' }, { role: 'employe' }],
          [{ is_staff: true }, { is_staff: true }],
          [{ is_manager: true }, { is_manager: true }],
          [{ account_id: accountId }, { account_id: accountId }],
          [{ account_id: null }, { account_id: null }],
          [{ password_needs_reset: true }, { password_needs_reset: true }],
          [{ username: 'renamed', password: 'ignored!', id: 1, date_joined: '2000-01-01T00:00:00Z' }, {}],
          [{}, {}],
        ];
        let expected: Record<string, unknown> = shown(u);
        for (const [payload, changed] of steps) {
          const response = await call('PATCH', `/admin/users/${u.id}/`, payload);
          assert.equal(response.statusCode, 200, `${JSON.stringify(payload)}: ${response.body}`);
          expected = { ...expected, ...changed };
          assert.deepEqual(response.json(), expected, JSON.stringify(payload));
          assert.deepEqual((await call('GET', `/admin/users/${u.id}/`)).json(), expected);
        }
        // The password was not changed by the ignored field.
        const session = await login(h, u.username);
        assert.equal((session as unknown as { password_needs_reset: boolean }).password_needs_reset, true);
      });

      it('a change the tokens carry (role, account) or a forced reset ends the user’s sessions at once; names do not', async () => {
        const accountId = await newAccount();
        const cases: Array<[object, boolean]> = [
          [{ first_name: 'Kept' }, false],
          [{ is_manager: true }, false],
          [{ role: 'employe' }, true],
          [{ account_id: accountId }, true],
          [{ password_needs_reset: true }, true],
        ];
        for (const [payload, ends] of cases) {
          const u = await createUser(h);
          const { access } = await login(h, u.username);
          assert.equal((await call('PATCH', `/admin/users/${u.id}/`, payload)).statusCode, 200);
          const me = await call('GET', '/auth/me/', undefined, access);
          assert.equal(me.statusCode, ends ? 401 : 200, JSON.stringify(payload));
        }
        // After a forced reset the next login carries restricted tokens.
        const flagged = await createUser(h);
        await call('PATCH', `/admin/users/${flagged.id}/`, { password_needs_reset: true });
        const restricted = await login(h, flagged.username);
        assert.equal(claimsOf(restricted.access).password_reset_required, true);
        const sessions = await call('GET', '/auth/sessions/', undefined, restricted.access);
        assert.equal(sessions.statusCode, 403);
        assert.deepEqual(sessions.json(), { detail: 'Password change required.', code: 'password_reset_required' });
      });

      it('400 per field: bad email, email taken, bad role, unknown account, wrong types', async () => {
        const u = await createUser(h);
        const other = await createUser(h);
        const cases: Array<[object, object]> = [
          [{ email: 'not-an-email' }, { email: ['Enter a valid email address.'] }],
          [{ email: other.email.toUpperCase() }, { email: ['A user with that email already exists.'] }],
          [{ role: 'boss' }, { role: ['"boss" is not a valid choice.'] }],
          [{ account_id: 424242 }, { account_id: ['Invalid pk "424242" - object does not exist.'] }],
          [{ account_id: 0 }, { account_id: ['Invalid pk "0" - object does not exist.'] }],
          [{ account_id: 99999999999 }, { account_id: ['Invalid pk "99999999999" - object does not exist.'] }],
          [{ role: 'boss', email: 'x' }, { email: ['Enter a valid email address.'], role: ['"boss" is not a valid choice.'] }],
          [
            { is_active: 'false', is_manager: 1, password_needs_reset: null, first_name: [7], account_id: 'x' },
            {
              is_active: ['Must be a valid boolean.'], is_manager: ['Must be a valid boolean.'], password_needs_reset: ['This field may not be null.'],
              first_name: ['Not a valid string.'], account_id: ['A valid integer is required.'],
            },
          ],
          [{ first_name: 'x'.repeat(151) }, { first_name: ['Ensure this field has no more than 150 characters.'] }],
        ];
        for (const [payload, expected] of cases) {
          const response = await call('PATCH', `/admin/users/${u.id}/`, payload);
          assert.equal(response.statusCode, 400, JSON.stringify(payload));
          assert.deepEqual(response.json(), expected, JSON.stringify(payload));
        }
        assert.deepEqual((await call('GET', `/admin/users/${u.id}/`)).json(), shown(u), 'nothing changed');
        const own = await call('PATCH', `/admin/users/${u.id}/`, { email: u.email.toUpperCase() });
        assert.equal(own.statusCode, 200, 'the user’s own email, in another case, is not "taken"');
      });

      it('is_active false refuses the user’s access token at once, and their login', async () => {
        const u = await createUser(h);
        const { access, refresh } = await login(h, u.username);
        const response = await call('PATCH', `/admin/users/${u.id}/`, { is_active: false });
        assert.deepEqual([response.statusCode, response.json()], [200, shown(u, { is_active: false, last_login: iso(t0) })]);
        const me = await call('GET', '/auth/me/', undefined, access);
        assert.deepEqual([me.statusCode, me.json()], [401, credentialNotValid(BLACKLISTED)]);
        const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
        assert.equal(refreshed.statusCode, 401);
        const again = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } });
        assert.deepEqual([again.statusCode, again.json()], [401, NO_ACTIVE_ACCOUNT]);

        assert.equal((await call('PATCH', `/admin/users/${u.id}/`, { is_active: true })).statusCode, 200);
        assert.equal((await call('GET', '/auth/me/', undefined, (await login(h, u.username)).access)).statusCode, 200, 'reactivated');
      });
    });

    describe('form bodies', () => {
      it('read booleans and ids from DRF’s spellings; anything else is still a wrong type', async () => {
        const u = await createUser(h);
        const accountId = await newAccount();
        const form = (body: string) =>
          h.app.inject({ method: 'PATCH', url: `/admin/users/${u.id}/`, headers: { ...bearer(admin), 'content-type': 'application/x-www-form-urlencoded' }, payload: body });
        const set = await form(`is_manager=True&is_staff=1&account_id=${accountId}&first_name=Ada`);
        assert.equal(set.statusCode, 200, set.body);
        assert.deepEqual(set.json(), shown(u, { is_manager: true, is_staff: true, account_id: accountId, first_name: 'Ada' }));
        const unset = await form('is_manager=off&is_staff=false&account_id=');
        assert.deepEqual(unset.json(), shown(u, { first_name: 'Ada' }));
        const bad = await form('is_manager=maybe&account_id=x');
        assert.deepEqual([bad.statusCode, bad.json()], [400, { is_manager: ['Must be a valid boolean.'], account_id: ['A valid integer is required.'] }]);
        const json = await call('PATCH', `/admin/users/${u.id}/`, { is_manager: 'true' });
        assert.deepEqual([json.statusCode, json.json()], [400, { is_manager: ['Must be a valid boolean.'] }], 'JSON keeps its types');
      });
    });

    describe('DELETE /admin/users/{id}/', () => {
      it('204 with no body; the user is kept, inactive, and their token refused at once; again is 204', async () => {
        const u = await createUser(h);
        const { access } = await login(h, u.username);
        const response = await call('DELETE', `/admin/users/${u.id}/`);
        assert.equal(response.statusCode, 204);
        assert.equal(response.body, '');
        assert.deepEqual((await call('GET', `/admin/users/${u.id}/`)).json(), shown(u, { is_active: false, last_login: iso(t0) }));
        const me = await call('GET', '/auth/me/', undefined, access);
        assert.deepEqual([me.statusCode, me.json()], [401, credentialNotValid(BLACKLISTED)]);
        const again = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } });
        assert.deepEqual([again.statusCode, again.json()], [401, NO_ACTIVE_ACCOUNT]);
        assert.equal((await call('DELETE', `/admin/users/${u.id}`)).statusCode, 204);
      });
    });

    describe('POST /admin/users/{id}/logout/', () => {
      it('ends every session of the user: their tokens are refused at once, and they can log in again', async () => {
        const u = await createUser(h);
        const phone = await login(h, u.username);
        const laptop = await login(h, u.username);
        const response = await call('POST', `/admin/users/${u.id}/logout/`);
        assert.deepEqual([response.statusCode, response.json()], [200, { sessions_ended: 2 }]);
        for (const session of [phone, laptop]) {
          const me = await call('GET', '/auth/me/', undefined, session.access);
          assert.deepEqual([me.statusCode, me.json()], [401, credentialNotValid(BLACKLISTED)]);
          const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: session.refresh } });
          assert.deepEqual([refreshed.statusCode, refreshed.json()], [401, tokenNotValid(BLACKLISTED)]);
        }
        assert.deepEqual((await call('POST', `/admin/users/${u.id}/logout`)).json(), { sessions_ended: 0 });
        assert.equal((await call('GET', '/auth/me/', undefined, (await login(h, u.username)).access)).statusCode, 200);
        assert.equal((await call('GET', '/admin/users/')).statusCode, 200, 'the administrator is still signed in');
      });
    });
  });
}
