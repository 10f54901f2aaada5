/**
 * Roles and tenants: the role and account in the token and the login body, an
 * inactive account refused at login and at refresh, ROLES configuring the
 * allowed roles and the default one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, claimsOf, createAccount, createUser, harness, login, storeNames, uniqueName, type Harness, NO_ACTIVE_ACCOUNT } from '../support/harness.ts';

const ACCOUNT_INACTIVE = { detail: 'The account this user belongs to is inactive.', code: 'account_inactive' };

for (const name of storeNames()) {
  describe(`roles and tenants (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    const account = (isActive = true) => createAccount(h, { isActive });
    const setActive = (id: number, isActive: boolean) =>
      h.store.db.updateTable('accounts').set({ is_active: isActive }).where('id', '=', id).execute();
    const tryLogin = (username: string, password = PASSWORD) =>
      h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password } });

    it('puts role and account_id in both tokens and the login body', async () => {
      const accountId = await account();
      const u = await createUser(h, { role: 'employe', accountId });
      const body = (await tryLogin(u.username)).json();
      assert.equal(body.role, 'employe');
      assert.equal(body.user.role, 'employe');
      assert.equal(body.user.account_id, accountId);
      for (const token of [body.access, body.refresh]) {
        assert.equal(claimsOf(token).role, 'employe');
        assert.equal(claimsOf(token).account_id, accountId);
      }
    });

    it('leaves account_id out of the token of a user without an account', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      assert.equal(claimsOf(access).role, 'client');
      assert.equal('account_id' in claimsOf(access), false);
    });

    it('403 account_inactive at login for the right password, 401 as ever for a wrong one', async () => {
      const accountId = await account(false);
      const u = await createUser(h, { accountId });
      const response = await tryLogin(u.username);
      assert.equal(response.statusCode, 403);
      assert.deepEqual(response.json(), ACCOUNT_INACTIVE);
      const wrong = await tryLogin(u.username, 'not the password');
      assert.equal(wrong.statusCode, 401);
      assert.deepEqual(wrong.json(), NO_ACTIVE_ACCOUNT);
    });

    it('a login refused for an inactive account writes no last_login and opens no session', async () => {
      const accountId = await account(false);
      const u = await createUser(h, { accountId });
      assert.equal((await tryLogin(u.username)).statusCode, 403);
      const row = await h.store.db.selectFrom('users').select('last_login').where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.equal(row.last_login, null);
      const sessions = await h.store.db.selectFrom('sessions').select('id').where('user_id', '=', u.id).execute();
      assert.deepEqual(sessions, []);
      // Once the account is active again, the same login writes it.
      await setActive(accountId, true);
      assert.equal((await tryLogin(u.username)).statusCode, 200);
      const after = await h.store.db.selectFrom('users').select('last_login').where('id', '=', u.id).executeTakeFirstOrThrow();
      assert.ok(after.last_login instanceof Date);
    });

    it('403 account_inactive at refresh once the account is deactivated; works again once reactivated', async () => {
      const accountId = await account();
      const u = await createUser(h, { accountId });
      const session = await login(h, u.username);
      await setActive(accountId, false);
      const refused = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: session.refresh } });
      assert.equal(refused.statusCode, 403);
      assert.deepEqual(refused.json(), ACCOUNT_INACTIVE);
      await setActive(accountId, true);
      const again = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: session.refresh } });
      assert.equal(again.statusCode, 200, again.body);
      assert.equal((await tryLogin(u.username)).statusCode, 200);
    });

    it('refuses a user pointed at an account that does not exist, and a role not in ROLES', async () => {
      await assert.rejects(h.auth.createUser({ username: uniqueName(), password: PASSWORD, accountId: 987654 }), (error: { fields?: unknown }) => {
        assert.deepEqual(error.fields, { account_id: ['Invalid pk "987654" - object does not exist.'] });
        return true;
      });
      await assert.rejects(h.auth.createUser({ username: uniqueName(), password: PASSWORD, role: 'overlord' }), (error: { fields?: unknown }) => {
        assert.deepEqual(error.fields, { role: ['"overlord" is not a valid choice.'] });
        return true;
      });
    });
  });

  describe(`custom ROLES (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { ROLES: 'member,owner' } });
    });
    after(() => h.close());

    it('the first role is the default; only listed roles are accepted', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      assert.equal(claimsOf(access).role, 'member');
      const owner = await createUser(h, { role: 'owner' });
      assert.equal(claimsOf((await login(h, owner.username)).access).role, 'owner');
      await assert.rejects(createUser(h, { role: 'client' }), { name: 'ValidationError' });
    });
  });
}
