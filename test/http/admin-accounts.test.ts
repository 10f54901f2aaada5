/**
 * /admin/accounts/: tenants — create, list, read, rename, deactivate (every
 * session of its users ends at once) and reactivate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as Response } from 'fastify';
import {
  PASSWORD, bearer, claimsOf, createUser, harness, login, manualClock, storeNames, uniqueName, type Harness,
  NOT_AUTHENTICATED, NOT_FOUND, BLACKLISTED, credentialNotValid,
} from '../support/harness.ts';

const PERMISSION_DENIED = { detail: 'You do not have permission to perform this action.', code: 'permission_denied' };
const ACCOUNT_INACTIVE = { detail: 'The account this user belongs to is inactive.', code: 'account_inactive' };
const INVALID_PAGE = { detail: 'Invalid page.', code: 'not_found' };
const BASE = 'http://localhost:80/admin/accounts/';

const iso = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

for (const name of storeNames()) {
  describe(`admin accounts (${name})`, () => {
    let h: Harness;
    let admin: string;
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000 + 250);
    const created = iso(clock.now());

    before(async () => {
      h = await harness(name, { clock });
      const boss = await createUser(h, { role: 'admin' });
      admin = (await login(h, boss.username)).access;
    });
    after(() => h.close());

    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, token = admin): Promise<Response> =>
      h.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload: payload as Record<string, unknown> } : {}) });

    async function newAccount(accountName = uniqueName('Acme')) {
      const response = await call('POST', '/admin/accounts/', { name: accountName });
      assert.equal(response.statusCode, 201, response.body);
      return response.json() as { id: number; name: string; is_active: boolean; created_at: string };
    }

    /** A user of the account, logged in. */
    async function member(accountId: number) {
      const username = uniqueName('member');
      const response = await call('POST', '/admin/users/', { username, password: PASSWORD, account_id: accountId });
      assert.equal(response.statusCode, 201, response.body);
      return { username, id: (response.json() as { id: number }).id, ...(await login(h, username)) };
    }

    const me = (access: string) => call('GET', '/auth/me/', undefined, access);

    it('POST 201 with {id, name, is_active, created_at}; the name is trimmed', async () => {
      const accountName = uniqueName('Initech');
      const response = await call('POST', '/admin/accounts', { name: `  ${accountName} ` });
      assert.equal(response.statusCode, 201);
      const body = response.json();
      assert.deepEqual(Object.keys(body), ['id', 'name', 'is_active', 'created_at']);
      assert.deepEqual(body, { id: body.id, name: accountName, is_active: true, created_at: created });
      assert.deepEqual((await call('GET', `/admin/accounts/${body.id}/`)).json(), body);
    });

    it('POST 400 per field: required, blank, too long, wrong type, taken case-insensitively', async () => {
      const taken = await newAccount();
      const cases: Array<[object, object]> = [
        [{}, { name: ['This field is required.'] }],
        [{ name: '   ' }, { name: ['This field may not be blank.'] }],
        [{ name: 'x'.repeat(151) }, { name: ['Ensure this field has no more than 150 characters.'] }],
        [{ name: true }, { name: ['Not a valid string.'] }],
        [{ name: taken.name.toUpperCase() }, { name: ['An account with that name already exists.'] }],
        [{ name: ` ${taken.name} ` }, { name: ['An account with that name already exists.'] }],
      ];
      for (const [payload, expected] of cases) {
        const response = await call('POST', '/admin/accounts/', payload);
        assert.equal(response.statusCode, 400, JSON.stringify(payload));
        assert.deepEqual(response.json(), expected, JSON.stringify(payload));
      }
    });

    it('GET lists by id, paged as DRF, searchable by name', async () => {
      const tag = uniqueName('list');
      const accounts = [];
      for (const suffix of ['North', 'South', 'North East']) accounts.push(await newAccount(`${tag} ${suffix}`));
      const first = await call('GET', `/admin/accounts/?search=${tag}&page_size=2`);
      assert.equal(first.statusCode, 200);
      assert.deepEqual(first.json(), {
        count: 3,
        next: `${BASE}?page=2&page_size=2&search=${tag}`,
        previous: null,
        results: accounts.slice(0, 2),
      });
      const second = (await call('GET', `/admin/accounts/?search=${tag}&page_size=2&page=2`)).json();
      assert.deepEqual(second, { count: 3, next: null, previous: `${BASE}?page_size=2&search=${tag}`, results: [accounts[2]] });
      const north = (await call('GET', `/admin/accounts/?search=${encodeURIComponent(`${tag.toUpperCase()} north`)}`)).json();
      assert.deepEqual(north.results, [accounts[0], accounts[2]]);
      const past = await call('GET', `/admin/accounts/?search=${tag}&page=3&page_size=2`);
      assert.deepEqual([past.statusCode, past.json()], [404, INVALID_PAGE]);
    });

    it('GET, PATCH and DELETE of an unknown or non-numeric id are 404', async () => {
      for (const id of ['424242', 'acme', '99999999999']) {
        for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
          const response = await call(method, `/admin/accounts/${id}/`, method === 'PATCH' ? { name: uniqueName() } : undefined);
          assert.deepEqual([response.statusCode, response.json()], [404, NOT_FOUND], `${method} ${id}`);
        }
      }
    });

    it('PATCH renames (its own name in another case is not "taken"); another account’s name is 400', async () => {
      const account = await newAccount();
      const other = await newAccount();
      const renamed = await call('PATCH', `/admin/accounts/${account.id}/`, { name: account.name.toUpperCase() });
      assert.deepEqual([renamed.statusCode, renamed.json()], [200, { ...account, name: account.name.toUpperCase() }]);
      const clash = await call('PATCH', `/admin/accounts/${account.id}/`, { name: other.name });
      assert.deepEqual([clash.statusCode, clash.json()], [400, { name: ['An account with that name already exists.'] }]);
      const bad = await call('PATCH', `/admin/accounts/${account.id}/`, { name: '', is_active: 'no' });
      assert.deepEqual([bad.statusCode, bad.json()], [400, { name: ['This field may not be blank.'], is_active: ['Must be a valid boolean.'] }]);
      const unchanged = await call('PATCH', `/admin/accounts/${account.id}/`, { id: 1, created_at: '2000-01-01T00:00:00Z' });
      assert.deepEqual([unchanged.statusCode, unchanged.json()], [200, { ...account, name: account.name.toUpperCase() }]);
    });

    it('a user created in an account carries account_id in the token', async () => {
      const account = await newAccount();
      const user = await member(account.id);
      assert.equal(claimsOf(user.access).account_id, account.id);
    });

    it('DELETE deactivates: 204, its users’ tokens refused at once, their login 403 account_inactive; other accounts untouched', async () => {
      const account = await newAccount();
      const neighbour = await newAccount();
      const [alice, bob] = [await member(account.id), await member(account.id)];
      const carol = await member(neighbour.id);

      const response = await call('DELETE', `/admin/accounts/${account.id}/`);
      assert.equal(response.statusCode, 204);
      assert.equal(response.body, '');
      assert.deepEqual((await call('GET', `/admin/accounts/${account.id}/`)).json(), { ...account, is_active: false });
      for (const user of [alice, bob]) {
        const refused = await me(user.access);
        assert.deepEqual([refused.statusCode, refused.json()], [401, credentialNotValid(BLACKLISTED)]);
        const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: user.refresh } });
        assert.equal(refreshed.statusCode, 401);
        const again = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: user.username, password: PASSWORD } });
        assert.deepEqual([again.statusCode, again.json()], [403, ACCOUNT_INACTIVE]);
      }
      assert.equal((await me(carol.access)).statusCode, 200, 'another account’s user is still signed in');
      assert.equal((await call('DELETE', `/admin/accounts/${account.id}`)).statusCode, 204, 'idempotent');
      const user = (await call('GET', `/admin/users/${alice.id}/`)).json();
      assert.equal(user.is_active, true, 'the users themselves stay active');
    });

    it('PATCH is_active false does what DELETE does; PATCH is_active true lets its users log in again', async () => {
      const account = await newAccount();
      const dave = await member(account.id);
      const off = await call('PATCH', `/admin/accounts/${account.id}/`, { is_active: false });
      assert.deepEqual([off.statusCode, off.json()], [200, { ...account, is_active: false }]);
      assert.deepEqual((await me(dave.access)).json(), credentialNotValid(BLACKLISTED));
      const on = await h.app.inject({
        method: 'PATCH', url: `/admin/accounts/${account.id}/`, payload: 'is_active=true',
        headers: { ...bearer(admin), 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.deepEqual([on.statusCode, on.json()], [200, account], 'a form body reads "true" as DRF does');
      assert.equal((await me((await login(h, dave.username)).access)).statusCode, 200);
    });

    it('a client gets 403 and no token 401', async () => {
      const client = await createUser(h);
      const { access } = await login(h, client.username);
      const denied = await call('POST', '/admin/accounts/', { name: uniqueName() }, access);
      assert.deepEqual([denied.statusCode, denied.json()], [403, PERMISSION_DENIED]);
      const anonymous = await h.app.inject({ method: 'GET', url: '/admin/accounts/' });
      assert.deepEqual([anonymous.statusCode, anonymous.json()], [401, NOT_AUTHENTICATED]);
    });
  });
}
