/**
 * Identifiers that cannot be hijacked (SPEC §5): usernames NFKC-normalised as
 * Django's normalize_username, emails as normalize_email, and no username equal
 * to another user's email nor the reverse — at registration, admin create and
 * update, in the database itself (a race), and in the Django import; the
 * migration that adds the rule reports existing clashes and changes nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { importDjangoBatch, type ImportUser } from '../../src/django/import.ts';
import { openStore } from '../../src/store/connect.ts';
import { migrateThrough, migrateToLatest } from '../../src/store/migrate.ts';
import { ImportsRepo } from '../../src/store/repos/imports.ts';
import { PASSWORD, bearer, createUser, harness, login, storeNames, uniqueName, type Harness } from '../support/harness.ts';

const USERNAME_TAKEN = { username: ['A user with that username already exists.'] };
const EMAIL_TAKEN = { email: ['A user with that email already exists.'] };

for (const name of storeNames()) {
  describe(`identifiers that cannot be hijacked (${name})`, () => {
    let h: Harness;
    let adminAccess: string;
    before(async () => {
      h = await harness(name);
      const admin = await createUser(h, { isStaff: true });
      adminAccess = (await login(h, admin.username)).access;
    });
    after(() => h.close());

    const register = (payload: Record<string, unknown>) => h.app.inject({ method: 'POST', url: '/auth/register/', payload });
    const adminCreate = (payload: Record<string, unknown>) =>
      h.app.inject({ method: 'POST', url: '/admin/users/', headers: bearer(adminAccess), payload });
    const userCount = async () => Number((await h.store.db.selectFrom('users').select(sql<string>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);

    it('a fullwidth look-alike of a username is the same username (NFKC), refused; a new one is stored normalised', async () => {
      const base = uniqueName('alice');
      await createUser(h, { username: base });
      const lookalike = `ａ${base.slice(1)}`.toUpperCase().replace('Ａ', 'ａ');
      const response = await register({ username: lookalike, email: `${uniqueName()}@example.com`, password: PASSWORD });
      assert.equal(response.statusCode, 400, response.body);
      assert.deepEqual(response.json(), USERNAME_TAKEN);

      const fresh = uniqueName('ﬁona');
      const created = await register({ username: fresh, email: `${uniqueName()}@Example.COM`, password: PASSWORD });
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.json().username, fresh.normalize('NFKC'));
      assert.match(created.json().email, /@example\.com$/, 'the domain is lower-cased, as normalize_email does');
      assert.equal(created.json().username.startsWith('fiona'), true);
    });

    it('a username equal to another user’s email is refused, so login by that email still finds its owner', async () => {
      const victim = await createUser(h);
      const before = await userCount();
      for (const username of [victim.email, victim.email.toUpperCase()]) {
        const response = await register({ username, email: `${uniqueName()}@example.com`, password: PASSWORD });
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(response.json(), USERNAME_TAKEN);
        const byAdmin = await adminCreate({ username, password: PASSWORD });
        assert.equal(byAdmin.statusCode, 400, byAdmin.body);
        assert.deepEqual(byAdmin.json(), USERNAME_TAKEN);
      }
      assert.equal(await userCount(), before, 'nothing was created');
      const byEmail = await login(h, victim.email);
      assert.equal(byEmail.user.id, victim.id);
    });

    it('an email equal to another user’s username is refused: registration, admin create and admin update', async () => {
      const holderName = uniqueName();
      const holder = await createUser(h, { username: `${holderName}@example.org`, email: `${holderName}@example.com` });
      const response = await register({ username: uniqueName(), email: holder.username.toUpperCase(), password: PASSWORD });
      assert.equal(response.statusCode, 400, response.body);
      assert.deepEqual(response.json(), EMAIL_TAKEN);
      const byAdmin = await adminCreate({ username: uniqueName(), email: holder.username, password: PASSWORD });
      assert.deepEqual([byAdmin.statusCode, byAdmin.json()], [400, EMAIL_TAKEN]);
      const other = await createUser(h);
      const patched = await h.app.inject({
        method: 'PATCH', url: `/admin/users/${other.id}/`, headers: bearer(adminAccess), payload: { email: ` ${holder.username.toUpperCase()} ` },
      });
      assert.deepEqual([patched.statusCode, patched.json()], [400, EMAIL_TAKEN]);
      const row = await h.store.db.selectFrom('users').select('email').where('id', '=', other.id).executeTakeFirstOrThrow();
      assert.equal(row.email, other.email, 'unchanged');
      // One's own username as one's email is no clash.
      const self = `${uniqueName()}@example.net`;
      const own = await register({ username: self, email: self, password: PASSWORD });
      assert.equal(own.statusCode, 201, own.body);
    });

    it('PATCH /auth/me/ cannot change the email (only names), so it cannot make a clash', async () => {
      const holder = await createUser(h);
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', headers: bearer(access), payload: { email: holder.username } });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().email, u.email);
    });

    it('the database refuses a clash the application did not see (a race): unique_violation', async () => {
      const holder = await createUser(h);
      const insert = (username: string, email: string) =>
        sql`insert into users (username, email, password, role, date_joined) values (${username}, ${email}, '!', 'client', now())`.execute(h.store.db);
      await assert.rejects(insert(holder.email.toUpperCase(), ''), (error: { code?: string; message?: string }) => {
        assert.match(`${error.code ?? ''} ${error.message ?? ''}`, /23505|users_username_not_an_email/);
        return true;
      });
      await assert.rejects(insert(uniqueName(), holder.username), /users_email_not_a_username/);
      // Two registrations racing for the same identifier in both columns: exactly one wins.
      const id = `${uniqueName()}@example.com`;
      const [a, b] = await Promise.all([
        register({ username: id, email: `${uniqueName()}@example.com`, password: PASSWORD }),
        register({ username: uniqueName(), email: id, password: PASSWORD }),
      ]);
      assert.deepEqual([a.statusCode, b.statusCode].sort(), [201, 400], `${a.body} ${b.body}`);
    });

    it('the Django import skips rows that would clash across username and email, with the reason', async () => {
      const holderName = uniqueName();
      const holder = await createUser(h, { username: `${holderName}@example.org`, email: `${holderName}@example.com` });
      const row = (id: number, username: string, email: string): ImportUser => ({
        id, username, email, password: '!', firstName: '', lastName: '', role: 'client',
        isStaff: false, isActive: true, lastLogin: null, dateJoined: new Date().toISOString(),
      });
      const twin = `${uniqueName('twin')}@example.com`;
      const second = uniqueName();
      const result = await importDjangoBatch(new ImportsRepo(h.store.db), [
        row(900_001, holder.email.toUpperCase(), ''),
        row(900_002, second, holder.username),
        row(900_003, twin, ''),
        row(900_004, uniqueName(), twin.toUpperCase()),
      ]);
      assert.equal(result.imported, 1);
      assert.deepEqual(result.skipped, [
        { id: 900_001, username: holder.email.toUpperCase(), reason: `username is the email of user ${holder.id} (${JSON.stringify(holder.username)})` },
        { id: 900_002, username: second, reason: `email ${JSON.stringify(holder.username)} is the username of user ${holder.id} (${JSON.stringify(holder.username)})` },
        { id: 900_004, username: result.skipped[2]?.username ?? '', reason: `email ${JSON.stringify(twin.toUpperCase())} is the username of user 900003 (${JSON.stringify(twin)})` },
      ]);
    });
  });

  describe(`the migration adding the identifier rule (${name})`, () => {
    it('reports users that already clash and changes none of them', async () => {
      const schema = `lk_test_${randomBytes(6).toString('hex')}`;
      const store = name === 'pglite' ? await openStore({ dataDir: 'memory://' }) : await openStore({ databaseUrl: process.env.DATABASE_URL, schema });
      try {
        await migrateThrough(store.db, '0002_accounts_audit');
        await sql`
          insert into users (id, username, email, password, role, date_joined) values
            (1, 'ann', 'ann@example.com', '!', 'client', now()),
            (2, 'ANN@example.com', 'mallory@example.com', '!', 'client', now()),
            (3, 'alice', '', '!', 'client', now()),
            (4, 'ａlice', '', '!', 'client', now())
        `.execute(store.db);
        const report = await migrateToLatest(store.db);
        assert.deepEqual(report.applied, ['0003_identifier_rule', '0004_user_changes', '0005_mail_recovery', '0006_simplejwt_cutover', '0007_mfa', '0008_passkeys', '0009_remembered_devices', '0010_refresh_token_room']);
        assert.deepEqual(report.identifierClashes, [
          { userId: 2, username: 'ANN@example.com', otherUserId: 1, otherUsername: 'ann', kind: 'username_is_email' },
          { userId: 3, username: 'alice', otherUserId: 4, otherUsername: 'ａlice', kind: 'username_lookalike' },
        ]);
        const users = await store.db.selectFrom('users').select(['id', 'username', 'email']).orderBy('id').execute();
        assert.equal(users.length, 4, 'nothing deleted');
        // The rule holds for new writes; the old rows can still be edited.
        await assert.rejects(sql`insert into users (username, password, role, date_joined) values ('Mallory@example.com', '!', 'client', now())`.execute(store.db));
        await sql`update users set email = 'ann2@example.com' where id = 1`.execute(store.db);
      } finally {
        if (name === 'postgres') await sql`drop schema ${sql.id(schema)} cascade`.execute(store.db);
        await store.close();
      }
    });
  });
}
