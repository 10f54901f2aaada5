/**
 * `latchkey import-django-users` as users run it: real `node bin/latchkey.js`
 * processes, on a temporary embedded data directory (alone, and with a server
 * holding it) and on PostgreSQL when DATABASE_URL is set.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  BIN, PROCESS_TIMEOUT_MS, childEnv, freePort, login, oneErrorLine, post, queryDatabase, run, scratchDatabase, startServer, tempDir,
} from '../support/cli.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/django/', import.meta.url));
const USERS_JSON = join(FIXTURES, 'users.json');
/** The same users with SimpleJWT's token tables (`dumpdata auth.user token_blacklist`). */
const SITE_JSON = join(FIXTURES, 'site.json');
const simplejwt = JSON.parse(readFileSync(join(FIXTURES, 'simplejwt.json'), 'utf8')) as { signing_key: string; tokens: Record<string, string> };
const passwords = JSON.parse(readFileSync(join(FIXTURES, 'passwords.json'), 'utf8')) as Record<string, string>;
const SIGNING_KEY = 'e2e-import-signing-key-at-least-32-bytes-long';

const SKIPPED_LINES = [
  '  skipped id 12 ("casetwin"): username is taken (case-insensitively) by user 11 ("CaseTwin")',
  '  skipped id 14 ("shared_email_b"): email "shared@example.com" is taken (case-insensitively) by user 13 ("shared_email_a")',
  '  skipped id 15 ("john smith"): username "john smith" is not valid: up to 150 letters, digits and @/./+/-/_',
  '  skipped id 17 ("md5_user"): password hash format "md5" is not supported',
];
const UNUSABLE_LINE = '1 imported user has no usable password (set_unusable_password in Django) and cannot log in with one.';

const SESSIONS_LINE = 'Imported 3 sessions (refresh tokens) for 3 users; skipped 3 (blacklisted, expired or user not imported).';
const SESSIONS_PRESENT_LINE = 'Imported 0 sessions (refresh tokens) for 0 users, already present 3; skipped 3 (blacklisted, expired or user not imported).';

const firstRun = (label: string, ...more: string[]) =>
  [`Read 18 users from ${label}.`, 'Imported 14, already present 0, skipped 4.', UNUSABLE_LINE, ...SKIPPED_LINES, ...more, ''].join('\n');
const reRun = (label: string, ...more: string[]) =>
  [`Read 18 users from ${label}.`, 'Imported 0, already present 14, skipped 4.', ...SKIPPED_LINES, ...more, ''].join('\n');

describe('import-django-users usage', () => {
  const env = () => ({ SIGNING_KEY, DATA_DIR: join(tempDir('lk-import-'), 'data') });

  it('--help explains both sources and that a re-run is safe', async () => {
    const result = await run(['import-django-users', '--help'], { env: env() });
    assert.equal(result.status, 0, result.stderr);
    for (const text of ['dumpdata auth.user', 'postgres://', 'Running it again is safe', 'bcrypt_sha256', 'Exit status']) {
      assert.ok(result.stdout.includes(text), `--help mentions ${text}`);
    }
  });

  it('no source is bad usage: exit 2, one line', async () => {
    const result = await run(['import-django-users'], { env: env() });
    assert.equal(result.status, 2);
    assert.equal(oneErrorLine(result), "error: missing required argument 'source'");
  });

  it('a missing file, a file that is not JSON, or an unreachable database: exit 1, one line, nothing imported', async () => {
    const dir = tempDir('lk-import-');
    const missing = join(dir, 'missing.json');
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '[{"model": "auth.user",');
    const [noFile, notJson, noDatabase] = await Promise.all([
      run(['import-django-users', missing], { env: env() }),
      run(['import-django-users', broken], { env: env() }),
      run(['import-django-users', 'postgres://django:s3cret@127.0.0.1:1/site'], { env: env() }),
    ]);
    for (const result of [noFile, notJson, noDatabase]) {
      assert.equal(result.status, 1, result.stderr);
      assert.equal(result.stdout, '');
    }
    assert.equal(oneErrorLine(noFile), `error: cannot read ${missing}: no such file`);
    assert.match(oneErrorLine(notJson), new RegExp(`^error: ${broken.replaceAll('.', '\\.')} is not JSON: `));
    assert.match(oneErrorLine(noDatabase), /^error: cannot connect to postgres:\/\/django:\*\*\*@127\.0\.0\.1:1\/site: /);
  });
});

describe('import-django-users on the embedded database', () => {
  const cwd = tempDir('lk-import-');
  const env = { SIGNING_KEY, DATA_DIR: join(cwd, 'data') };

  it('imports the dumpdata file: exit 0, the summary on stdout, no progress noise without a terminal', async () => {
    const result = await run(['import-django-users', USERS_JSON], { env, cwd });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, firstRun(USERS_JSON));
    assert.equal(result.stderr, '');
  });

  it('on a terminal, shows progress on stderr, rewritten in place, then clears it before the summary', async () => {
    // `script` gives the command a pseudo-terminal, as a user at a shell has.
    const command = [process.execPath, BIN, 'import-django-users', USERS_JSON].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd,
      env: childEnv({ SIGNING_KEY, DATA_DIR: join(tempDir('lk-import-tty-'), 'data') }),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: PROCESS_TIMEOUT_MS,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [status] = (await once(child, 'close')) as [number | null];
    assert.equal(status, 0, output);
    assert.ok(output.includes('\r\x1b[Kread 18/18 · imported 14 · already present 0 · skipped 4'), JSON.stringify(output));
    const cleared = output.lastIndexOf('\r\x1b[K');
    assert.ok(cleared > output.lastIndexOf('read 18/18'), 'the progress line is cleared');
    assert.ok(output.slice(cleared).includes('Imported 14, already present 0, skipped 4.'), 'the summary follows');
  });

  it('a second run imports nothing new', async () => {
    const result = await run(['import-django-users', USERS_JSON], { env, cwd });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, reRun(USERS_JSON));
  });

  it("a dump with SimpleJWT's token tables: their sessions are imported once", async () => {
    const siteEnv = { SIGNING_KEY, DATA_DIR: join(tempDir('lk-import-'), 'data') };
    const first = await run(['import-django-users', SITE_JSON], { env: siteEnv, cwd });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, firstRun(SITE_JSON, SESSIONS_LINE));
    const again = await run(['import-django-users', SITE_JSON], { env: siteEnv, cwd });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, reRun(SITE_JSON, SESSIONS_PRESENT_LINE));
  });

  it('lists the first 50 skipped rows and counts the rest', async () => {
    const dump = JSON.parse(readFileSync(USERS_JSON, 'utf8')) as Array<{ pk: number; fields: Record<string, unknown> }>;
    const md5 = dump.find((row) => row.fields.username === 'md5_user');
    assert.ok(md5);
    const rows = Array.from({ length: 55 }, (_, i) => ({ ...md5, pk: 1000 + i, fields: { ...md5.fields, username: `md5_${i}`, email: '' } }));
    const path = join(tempDir('lk-import-'), 'md5.json');
    writeFileSync(path, JSON.stringify(rows));
    const result = await run(['import-django-users', path], { env, cwd });
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), [`Read 55 users from ${path}.`, 'Imported 0, already present 0, skipped 55.', '  skipped id 1000 ("md5_0"): password hash format "md5" is not supported']);
    assert.equal(lines.length, 2 + 50 + 1);
    assert.equal(lines.at(-2), '  skipped id 1049 ("md5_49"): password hash format "md5" is not supported');
    assert.equal(lines.at(-1), '  … and 5 more skipped');
  });

  it('with a server holding the data directory, the server imports the batches; the users log in and the Django sessions refresh at once', async () => {
    const serverCwd = tempDir('lk-import-');
    const port = await freePort();
    // The Django site's SimpleJWT key: its refresh tokens verify here. With the cut-over switch on, the
    // blacklisted token is still refused: the import recorded it as blacklisted.
    const serverEnv = { SIGNING_KEY: simplejwt.signing_key, DATA_DIR: join(serverCwd, 'data'), PORT: String(port), ACCEPT_SIMPLEJWT_TOKENS: 'true' };
    const server = await startServer(serverEnv, serverCwd);
    try {
      const result = await run(['import-django-users', SITE_JSON], { env: serverEnv, cwd: serverCwd });
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, firstRun(SITE_JSON, SESSIONS_LINE));
      assert.match(server.output(), /running `latchkey import-django-users` from the control socket/);
      for (const username of ['pbkdf2_user', 'argon2_user', 'bcrypt_user']) {
        assert.equal((await login(port, username, passwords[username] ?? '')).status, 200, username);
      }
      const refreshed = await post(port, '/auth/refresh/', { refresh: simplejwt.tokens.live });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      const blacklisted = await post(port, '/auth/refresh/', { refresh: simplejwt.tokens.blacklisted });
      assert.deepEqual([blacklisted.status, blacklisted.body], [401, { detail: 'Token is blacklisted', code: 'token_not_valid' }]);
      const again = await run(['import-django-users', SITE_JSON], { env: serverEnv, cwd: serverCwd });
      assert.equal(again.stdout, reRun(SITE_JSON, SESSIONS_PRESENT_LINE));
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('import-django-users on PostgreSQL', { skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set' }, () => {
  const cwd = tempDir('lk-import-');
  let latchkey: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let django: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  const env = () => ({ SIGNING_KEY, DATABASE_URL: latchkey?.url ?? '', DATA_DIR: join(cwd, 'data') });

  before(async () => {
    latchkey = await scratchDatabase('lk_import');
    django = await scratchDatabase('lk_django');
    await queryDatabase(django.url, readFileSync(join(FIXTURES, 'auth_user.sql'), 'utf8'));
    const migrated = await run(['migrate'], { env: env(), cwd });
    assert.equal(migrated.status, 0, migrated.stderr);
  });
  after(async () => {
    await latchkey?.drop();
    await django?.drop();
  });

  it("imports from the Django site's PostgreSQL database, then finds everyone present", async () => {
    const label = django?.url ?? '';
    const first = await run(['import-django-users', label], { env: env(), cwd });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, firstRun(label, SESSIONS_LINE));
    const again = await run(['import-django-users', USERS_JSON], { env: env(), cwd });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, reRun(USERS_JSON));
  });

  it('a database without the blacklist app tables says so: its users log in again', async () => {
    const label = django?.url ?? '';
    await queryDatabase(label, 'drop table token_blacklist_blacklistedtoken; drop table token_blacklist_outstandingtoken');
    const result = await run(['import-django-users', label], { env: env(), cwd });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, reRun(label, `No SimpleJWT token tables (token_blacklist) in ${label}: no sessions imported; users log in again.`));
  });

  it('serve lets an imported bcrypt_sha256 user log in', async () => {
    const port = await freePort();
    const server = await startServer({ ...env(), PORT: String(port) }, cwd);
    try {
      assert.equal((await login(port, 'bcrypt_user', passwords.bcrypt_user ?? '')).status, 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
