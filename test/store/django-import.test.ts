/**
 * Importing Django users (django/import.ts, django/source.ts,
 * store/repos/imports.ts) from the fixtures real Django wrote: what is imported
 * and skipped, idempotent re-runs, ids, and logging in with Django passwords.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Store } from '../../src/store/connect.ts';
import { ImportsRepo } from '../../src/store/repos/imports.ts';
import { importDjangoBatch, mapDjangoRow, mappedBatches, type ImportTotals, type SkippedRow } from '../../src/django/import.ts';
import { DjangoSourceError, openDjangoSource, type DjangoRow } from '../../src/django/source.ts';
import { queryDatabase, scratchDatabase, tempDir } from '../support/cli.ts';
import { harness, NO_ACTIVE_ACCOUNT, PASSWORD, storeNames, type Harness } from '../support/harness.ts';
import { Passwords } from '../../src/users/passwords.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/django/', import.meta.url));
const USERS_JSON = join(FIXTURES, 'users.json');
const dump = JSON.parse(readFileSync(USERS_JSON, 'utf8')) as Array<{ pk: number; fields: Record<string, unknown> & { username: string; password: string } }>;
const passwords = JSON.parse(readFileSync(join(FIXTURES, 'passwords.json'), 'utf8')) as Record<string, string>;
const ROLES = ['client', 'employe', 'admin'];

/** A JSON file with these rows, as dumpdata would write them. */
function writeDump(rows: unknown[]): string {
  const path = join(tempDir('lk-django-'), 'users.json');
  writeFileSync(path, JSON.stringify(rows));
  return path;
}

/** What the CLI does, in process: read, map, import batch by batch. */
async function importAll(store: Store, location: string, limits = { rows: 500, bytes: 512 * 1024 }): Promise<ImportTotals> {
  const source = await openDjangoSource(location);
  const totals: ImportTotals = { read: 0, imported: 0, present: 0, unusable: 0, skipped: [] };
  try {
    for await (const batch of mappedBatches(source, ROLES, limits)) {
      const result = await importDjangoBatch(new ImportsRepo(store.db), batch.users);
      totals.read += batch.read;
      totals.imported += result.imported;
      totals.present += result.present;
      totals.unusable += result.unusable;
      totals.skipped.push(...batch.skipped, ...result.skipped);
    }
  } finally {
    await source.close();
  }
  totals.skipped.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  return totals;
}

/** Every user row, in id order. */
function allUsers(store: Store) {
  return store.db.selectFrom('users').selectAll().orderBy('id').execute();
}

const FIXTURE_SKIPS: SkippedRow[] = [
  { id: 12, username: 'casetwin', reason: 'username is taken (case-insensitively) by user 11 ("CaseTwin")' },
  { id: 14, username: 'shared_email_b', reason: 'email "shared@example.com" is taken (case-insensitively) by user 13 ("shared_email_a")' },
  { id: 15, username: 'john smith', reason: 'username "john smith" is not valid: up to 150 letters, digits and @/./+/-/_' },
  { id: 17, username: 'md5_user', reason: 'password hash format "md5" is not supported' },
];
const IMPORTED_IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 16, 18];
const DJANGO_LOGINS = ['pbkdf2_user', 'old_pbkdf2_user', 'argon2_user', 'argon2i_user', 'bcrypt_user', 'plain_bcrypt_user', 'zoë.ørsted'];
const FRESH_ARGON2ID = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/;
/** This file checks that logins leave production-cost argon2id hashes, so it hashes at that cost. */
const PRODUCTION_HASHING = { passwords: new Passwords() };

function postLogin(h: Harness, username: string, password: string) {
  return h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password } });
}

/** Logs in with each Django user's password and checks the hash became argon2id and still works. */
async function checkLogins(h: Harness, usernames: string[]): Promise<void> {
  for (const username of usernames) {
    const before = await h.store.db.selectFrom('users').select(['id', 'password']).where('username', '=', username).executeTakeFirstOrThrow();
    assert.doesNotMatch(before.password, FRESH_ARGON2ID, `${username} starts with Django's hash`);
    const first = await postLogin(h, username, passwords[username] ?? '');
    assert.equal(first.statusCode, 200, `${username}: ${first.body}`);
    assert.equal((first.json() as { user: { id: number } }).user.id, before.id);
    const after = await h.store.db.selectFrom('users').select('password').where('id', '=', before.id).executeTakeFirstOrThrow();
    assert.match(after.password, FRESH_ARGON2ID, `${username} was re-hashed`);
    const second = await postLogin(h, username, passwords[username] ?? '');
    assert.equal(second.statusCode, 200, `${username} logs in with the re-hashed password`);
    const wrong = await postLogin(h, username, 'not the password');
    assert.equal(wrong.statusCode, 401);
  }
}

describe('mapping a Django row', () => {
  const row = (over: Record<string, unknown> = {}, pk: unknown = 42): DjangoRow => ({
    pk,
    fields: { ...dump[0]?.fields, username: 'mapped', email: 'mapped@example.com', ...over },
  });

  it('keeps id, names, flags and dates; a datetime without a zone is UTC', () => {
    assert.deepEqual(mapDjangoRow(row({ last_login: '2024-05-06T07:08:09', date_joined: '2020-01-02 03:04:05.5' }), ROLES), {
      user: {
        id: 42,
        username: 'mapped',
        email: 'mapped@example.com',
        password: dump[0]?.fields.password,
        firstName: 'Pat',
        lastName: 'Kdf',
        role: 'client',
        isStaff: false,
        isActive: true,
        lastLogin: '2024-05-06T07:08:09.000Z',
        dateJoined: '2020-01-02T03:04:05.500Z',
      },
    });
  });

  it('a superuser is staff with the role admin, or the default role when ROLES has no admin', () => {
    const superuser = row({ is_superuser: true, is_staff: false });
    const mapped = (roles: string[]) => {
      const result = mapDjangoRow(superuser, roles);
      assert.ok('user' in result);
      return { role: result.user.role, isStaff: result.user.isStaff };
    };
    assert.deepEqual(mapped(ROLES), { role: 'admin', isStaff: true });
    assert.deepEqual(mapped(['member', 'owner']), { role: 'member', isStaff: true });
  });

  it('skips malformed rows, naming what is wrong', () => {
    const skipped = (r: DjangoRow) => {
      const result = mapDjangoRow(r, ROLES);
      assert.ok('skipped' in result, JSON.stringify(r));
      return result.skipped;
    };
    assert.deepEqual(skipped({ fields: row().fields }), { id: null, username: 'mapped', reason: 'malformed row: no pk (was it dumped with --natural-primary?)' });
    assert.deepEqual(skipped(row({}, 'seven')), { id: null, username: 'mapped', reason: 'malformed row: pk "seven" is not a whole number from 1 to 2147483647' });
    assert.deepEqual(skipped(row({}, 2 ** 31)), { id: null, username: 'mapped', reason: 'malformed row: pk 2147483648 is not a whole number from 1 to 2147483647' });
    assert.deepEqual(skipped({ pk: 3 }), { id: 3, username: null, reason: 'malformed row: no fields' });
    assert.deepEqual(skipped(row({ is_staff: 'yes', date_joined: undefined, last_login: 'yesterday' })), {
      id: 42,
      username: 'mapped',
      reason: 'malformed row: is_staff is not a boolean, last_login is not a datetime or null, no date_joined',
    });
    assert.deepEqual(skipped(row({ username: 7 })), { id: 42, username: null, reason: 'malformed row: username is not a string' });
    assert.deepEqual(skipped(row({ username: 'a'.repeat(151) })).reason, `username "${'a'.repeat(151)}" is not valid: up to 150 letters, digits and @/./+/-/_`);
    assert.deepEqual(skipped(row({ email: 'not an email' })).reason, 'email "not an email" is not a valid address');
    assert.deepEqual(skipped(row({ password: 'sha1$salt$abc' })).reason, 'password hash format "sha1" is not supported');
    assert.deepEqual(skipped(row({ password: 'pbkdf2_sha256$99999999$salt$hash' })).reason, "pbkdf2_sha256 iteration count 99999999 is over Latchkey's limit of 10000000");
  });

  it('batches stay under the row and byte limits', async () => {
    const source = await openDjangoSource(USERS_JSON);
    const batches = [];
    for await (const batch of mappedBatches(source, ROLES, { rows: 4, bytes: 1200 })) batches.push(batch);
    assert.deepEqual(batches.map((b) => b.read).reduce((a, b) => a + b), 18);
    assert.deepEqual(batches.flatMap((b) => b.skipped.map((s) => s.id)), [15, 17]);
    for (const batch of batches) {
      assert.ok(batch.users.length <= 4);
      assert.ok(batch.users.length === 1 || Buffer.byteLength(batch.users.map((u) => JSON.stringify(u)).join('')) <= 1200);
    }
    assert.deepEqual(batches.flatMap((b) => b.users.map((u) => u.id)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 18]);
  });

  it('a dump file keeps only auth.user rows; a file that cannot be read is one DjangoSourceError', async () => {
    const path = writeDump([{ model: 'auth.group', pk: 1, fields: { name: 'editors' } }, dump[0], 'junk']);
    const source = await openDjangoSource(path);
    assert.equal(source.total, 1);
    const missing = join(tempDir('lk-django-'), 'missing.json');
    await assert.rejects(openDjangoSource(missing), new DjangoSourceError(`cannot read ${missing}: no such file`));
    const notJson = writeDump([]);
    writeFileSync(notJson, '[{"model": ');
    await assert.rejects(openDjangoSource(notJson), (error) => error instanceof DjangoSourceError && error.message.startsWith(`${notJson} is not JSON: `));
    writeFileSync(notJson, '{"model": "auth.user"}');
    await assert.rejects(openDjangoSource(notJson), new DjangoSourceError(`${notJson} is not a dumpdata file: expected a JSON array of objects`));
  });
});

for (const name of storeNames()) {
  describe(`importing Django users on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, PRODUCTION_HASHING); });
    after(() => h.close());

    it('imports the dumpdata fixture: exact counts and skip reasons, across batches', async () => {
      // Eleven users per batch: CaseTwin (11) and casetwin (12) land in different batches.
      const totals = await importAll(h.store, USERS_JSON, { rows: 11, bytes: 512 * 1024 });
      assert.deepEqual(totals, { read: 18, imported: 14, present: 0, unusable: 1, skipped: FIXTURE_SKIPS });
    });

    it("keeps Django's ids, names, flags, dates and hashes; superusers become admin staff", async () => {
      const users = await allUsers(h.store);
      assert.deepEqual(users.map((u) => u.id), IMPORTED_IDS);
      for (const user of users) {
        const django = dump.find((row) => row.pk === user.id);
        assert.ok(django);
        assert.equal(user.username, django.fields.username);
        assert.equal(user.email, django.fields.email);
        assert.equal(user.password, django.fields.password);
        assert.equal(user.first_name, django.fields.first_name);
        assert.equal(user.last_name, django.fields.last_name);
        assert.equal(user.is_active, django.fields.is_active);
        assert.equal(user.date_joined.toISOString(), '2021-03-04T05:06:07.123Z');
        assert.equal(user.account_id, null);
        assert.equal(user.password_needs_reset, false);
      }
      const byName = (username: string) => users.find((u) => u.username === username);
      assert.deepEqual(
        users.map((u) => [u.username, u.role, u.is_staff]).filter(([, role, staff]) => role !== 'client' || staff),
        [['root', 'admin', true], ['staff_member', 'client', true]],
      );
      assert.equal(byName('argon2_user')?.last_login?.toISOString(), '2024-01-02T03:04:05.000Z');
      assert.equal(byName('pbkdf2_user')?.last_login, null);
      assert.equal(byName('inactive_user')?.is_active, false);
      assert.deepEqual([byName('zoë.ørsted')?.first_name, byName('zoë.ørsted')?.last_name], ['Zoë', 'Ørsted-Łukasiewicz']);
    });

    it('a re-run finds every user already present and changes nothing', async () => {
      const before = await allUsers(h.store);
      const totals = await importAll(h.store, USERS_JSON);
      assert.deepEqual(totals, { read: 18, imported: 0, present: 14, unusable: 0, skipped: FIXTURE_SKIPS });
      assert.deepEqual(await allUsers(h.store), before);
    });

    it('a user created afterwards gets the id after the highest imported one', async () => {
      const created = await h.auth.createUser({ username: 'after_import', email: 'after@example.com', password: PASSWORD });
      assert.equal(created.id, 19);
    });

    it('pbkdf2_sha256, argon2 and bcrypt_sha256 users log in with their Django passwords; the hash becomes argon2id and keeps working', async () => {
      await checkLogins(h, DJANGO_LOGINS);
    });

    it('a re-run after those logins keeps the upgraded hashes (present rows are never overwritten)', async () => {
      const before = await allUsers(h.store);
      const totals = await importAll(h.store, USERS_JSON);
      assert.equal(totals.present, 14);
      assert.equal(totals.imported, 0);
      const after = await allUsers(h.store);
      assert.deepEqual(after, before);
      for (const username of DJANGO_LOGINS) assert.match(after.find((u) => u.username === username)?.password ?? '', FRESH_ARGON2ID);
    });

    it('logs in case-insensitively and by email; a superuser gets role admin in the response', async () => {
      const response = await postLogin(h, 'ROOT@example.COM', passwords.root ?? '');
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as { role: string; user: { id: number; username: string; is_staff: boolean } };
      assert.deepEqual([body.role, body.user.id, body.user.username, body.user.is_staff], ['admin', 7, 'root', true]);
      assert.equal((await postLogin(h, 'CASETWIN', passwords.CaseTwin ?? '')).statusCode, 200);
      // The skipped twin's password is not CaseTwin's.
      assert.equal((await postLogin(h, 'casetwin', passwords.casetwin ?? '')).statusCode, 401);
    });

    it('inactive, unusable-password and skipped users cannot log in', async () => {
      for (const [username, password] of [
        ['inactive_user', passwords.inactive_user],
        ['no_password', 'any password'],
        ['no_password', dump.find((row) => row.fields.username === 'no_password')?.fields.password],
        ['md5_user', passwords.md5_user],
      ]) {
        const response = await postLogin(h, username ?? '', password ?? 'x');
        assert.equal(response.statusCode, 401, username);
        assert.deepEqual(response.json(), NO_ACTIVE_ACCOUNT);
      }
    });
  });

  describe(`importing Django users into a Latchkey that has users already, on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name, PRODUCTION_HASHING); });
    after(() => h.close());

    it('skips rows whose id, username or email another user holds, and never moves the id sequence back', async () => {
      await h.auth.createUser({ username: 'early_bird', email: 'early@example.com', password: PASSWORD });
      await new ImportsRepo(h.store.db).advanceIds(100);
      assert.equal((await h.auth.createUser({ username: 'ARGON2_USER', email: 'a2@example.net', password: PASSWORD })).id, 101);
      assert.equal((await h.auth.createUser({ username: 'mailer', email: 'BCRYPT@example.com', password: PASSWORD })).id, 102);
      const totals = await importAll(h.store, USERS_JSON);
      assert.deepEqual(totals, {
        read: 18,
        imported: 11,
        present: 0,
        unusable: 1,
        skipped: [
          { id: 1, username: 'pbkdf2_user', reason: 'id 1 belongs to another user, user 1 ("early_bird")' },
          { id: 3, username: 'argon2_user', reason: 'username is taken (case-insensitively) by user 101 ("ARGON2_USER")' },
          { id: 5, username: 'bcrypt_user', reason: 'email "bcrypt@example.com" is taken (case-insensitively) by user 102 ("mailer")' },
          ...FIXTURE_SKIPS,
        ],
      });
      assert.equal((await h.store.db.selectFrom('users').select('username').where('id', '=', 1).executeTakeFirstOrThrow()).username, 'early_bird');
      assert.equal((await h.auth.createUser({ username: 'later', password: PASSWORD })).id, 103);
    });
  });
}

const postgresOnly = storeNames().includes('postgres') ? false : 'DATABASE_URL is not set';

describe('importing from a Django PostgreSQL database', { skip: postgresOnly }, () => {
  let django: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let djangoUrl: string;
  let h: Harness;

  before(async () => {
    django = await scratchDatabase('lk_django');
    djangoUrl = django.url;
    await queryDatabase(djangoUrl, readFileSync(join(FIXTURES, 'auth_user.sql'), 'utf8'));
    h = await harness('postgres', PRODUCTION_HASHING);
  });
  after(async () => {
    await h?.close();
    await django?.drop();
  });

  it('reads auth_user in id order, in pages, and imports exactly what the JSON import does', async () => {
    const totals = await importAll(h.store, djangoUrl, { rows: 5, bytes: 512 * 1024 });
    assert.deepEqual(totals, { read: 18, imported: 14, present: 0, unusable: 1, skipped: FIXTURE_SKIPS });
    const users = await allUsers(h.store);
    assert.deepEqual(users.map((u) => u.id), IMPORTED_IDS);
    assert.equal(users.find((u) => u.username === 'argon2_user')?.last_login?.toISOString(), '2024-01-02T03:04:05.000Z');
    // PostgreSQL keeps microseconds; Latchkey keeps them too.
    assert.equal(users[0]?.date_joined.toISOString(), '2021-03-04T05:06:07.123Z');
    assert.deepEqual(users.map((u) => u.role).filter((role) => role !== 'client'), ['admin']);
  });

  it('a re-run from the database is all "already present"', async () => {
    const totals = await importAll(h.store, djangoUrl);
    assert.deepEqual(totals, { read: 18, imported: 0, present: 14, unusable: 0, skipped: FIXTURE_SKIPS });
  });

  it('those users log in with their Django passwords', async () => {
    await checkLogins(h, DJANGO_LOGINS);
  });

  it('a database without auth_user, or out of reach, is one DjangoSourceError without the password', async () => {
    const url = new URL(process.env.DATABASE_URL ?? '');
    await assert.rejects(openDjangoSource(url.toString()), new DjangoSourceError(`${url.toString()} has no auth_user table: is it the Django site's database?`));
    await assert.rejects(openDjangoSource('postgres://someone:hunter2@127.0.0.1:1/site'), (error) => {
      assert.ok(error instanceof DjangoSourceError);
      assert.match(error.message, /^cannot connect to postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/site: /);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });
});
