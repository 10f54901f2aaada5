/**
 * The CLI as users run it: real `node bin/latchkey.js` processes on a temporary
 * data directory, talking HTTP on 127.0.0.1. Covers usage errors, the embedded
 * database shared by a server and one-shot commands (lock + control socket),
 * restarts, and PostgreSQL mode when DATABASE_URL is set.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PASSWORD, PROCESS_TIMEOUT_MS, freePort, login, oneErrorLine, post, run, scratchDatabase, startServer, tempDir, type Server,
} from '../support/cli.ts';

describe('latchkey usage', () => {
  it('answers --help for the program and every command, with exit status 0', async () => {
    const [top, serve, migrate, createUser] = await Promise.all([
      run(['--help']),
      run(['serve', '--help']),
      run(['migrate', '--help']),
      run(['create-user', '--help']),
    ]);
    for (const result of [top, serve, migrate, createUser]) assert.equal(result.status, 0, result.stderr);
    for (const command of ['serve', 'migrate', 'create-user']) assert.match(top?.stdout ?? '', new RegExp(`\\n  ${command} `));
    assert.match(serve?.stdout ?? '', /DATA_DIR/);
    assert.match(serve?.stdout ?? '', /SIGNING_KEY/);
    assert.match(migrate?.stdout ?? '', /DATABASE_URL/);
    for (const flag of ['--username', '--email', '--password-stdin', '--role', '--admin', '--account', '--password-needs-reset']) {
      assert.ok(createUser?.stdout.includes(flag), `create-user --help mentions ${flag}`);
    }
  });

  it('exits 2 with one line on stderr for bad usage', async () => {
    const results = await Promise.all([
      run(['frobnicate']),
      run(['migrate', '--bogus']),
      run(['create-user', '--username', 'ann', '--account', 'seven']),
      run(['create-user', '--username', 'ann', '--password', 'x', '--password-stdin']),
    ]);
    for (const result of results) {
      assert.equal(result.status, 2, result.stderr);
      oneErrorLine(result);
    }
    assert.match(results[0]?.stderr ?? '', /unknown command 'frobnicate'/);
    assert.match(results[1]?.stderr ?? '', /unknown option '--bogus'/);
  });

  it('serve and the commands refuse a bad setting at start: exit 2, one line naming the variable', async () => {
    const results = await Promise.all([
      run(['serve'], { env: { PORT: 'eighty' } }),
      run(['serve'], { env: { NODE_ENV: 'production' } }),
      run(['migrate'], { env: { ACCESS_TOKEN_LIFETIME: 'soon' } }),
    ]);
    for (const result of results) assert.equal(result.status, 2, result.stderr);
    assert.match(oneErrorLine(results[0]!), /^error: PORT: /);
    assert.match(oneErrorLine(results[1]!), /^error: SIGNING_KEY: /);
    assert.match(oneErrorLine(results[2]!), /^error: ACCESS_TOKEN_LIFETIME: /);
  });

  it('create-user without a terminal and without --username exits 2 naming the flag', async () => {
    const result = await run(['create-user', '--password-stdin'], { input: PASSWORD });
    assert.equal(result.status, 2);
    assert.equal(oneErrorLine(result), 'error: --username is required (no terminal to prompt on)');
  });

  it('a bad environment variable exits 2 with one line naming it', async () => {
    const result = await run(['migrate'], { env: { PORT: 'eighty' } });
    assert.equal(result.status, 2);
    assert.match(oneErrorLine(result), /^error: PORT: /);
  });
});

describe('embedded mode: a server and commands sharing one data directory', () => {
  const cwd = tempDir('lk-embedded-');
  const dataDir = join(cwd, 'data');
  const lockFile = join(dataDir, 'latchkey.lock');
  let port: number;
  let server: Server | undefined;
  let tokenBeforeRestart: string;
  let keyBeforeRestart: string;
  const env = () => ({ DATA_DIR: dataDir, PORT: String(port) });
  const createUser = (username: string, extra: string[] = []) =>
    run(['create-user', '--username', username, '--email', `${username}@example.com`, '--password-stdin', ...extra], { env: env(), input: `${PASSWORD}\n`, cwd });

  before(async () => {
    port = await freePort();
  });
  after(async () => {
    await server?.stop();
  });

  it('two commands at once with no server take turns on the lock', async () => {
    // The database exists first: creating it (PGlite's initdb) is slow on a loaded machine, and a
    // command waits for the lock only LOCK_WAIT_MS; what is under test is the turn-taking.
    const prepared = await run(['migrate'], { env: env(), cwd });
    assert.equal(prepared.status, 0, prepared.stderr);
    const [first, second] = await Promise.all([createUser('ann', ['--admin']), run(['migrate'], { env: env(), cwd })]);
    assert.equal(first?.status, 0, first?.stderr);
    assert.equal(second?.status, 0, second?.stderr);
  });

  it('create-user with no server opens the database itself and releases the lock', async () => {
    const result = await createUser('zoe');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'Created user "zoe" (id 2).\n');
    assert.ok(!result.stdout.includes(PASSWORD) && !result.stderr.includes(PASSWORD), 'the password is never printed');
    assert.equal(existsSync(lockFile), false);
  });

  it('serve starts on that data and the user logs in over HTTP', async () => {
    server = await startServer(env(), cwd);
    const response = await login(port, 'ann');
    assert.equal(response.status, 200);
    assert.equal((response.body.user as Record<string, unknown>).is_staff, true);
    tokenBeforeRestart = String(response.body.access);
    keyBeforeRestart = readFileSync(join(dataDir, 'signing.key'), 'utf8');
    const holder = JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number; socket: string };
    assert.equal(holder.pid, server.child.pid);
    assert.equal(holder.socket, join(dataDir, 'control.sock'));
  });

  it('create-user --password-stdin goes through the control socket; the user logs in at once', async () => {
    const result = await createUser('bob');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'Created user "bob" (id 3).\n');
    assert.match(server?.output() ?? '', /running `latchkey create-user` from the control socket/);
    assert.equal((await login(port, 'bob')).status, 200);
  });

  it('a duplicate username through the server exits 1 naming the field', async () => {
    const result = await run(['create-user', '--username', 'bob', '--email', 'other-bob@example.com', '--password-stdin'], { env: env(), input: PASSWORD, cwd });
    assert.equal(result.status, 1);
    assert.equal(oneErrorLine(result), 'error: username: A user with that username already exists.');
  });

  it('migrate through the server has nothing to apply', async () => {
    const result = await run(['migrate'], { env: env(), cwd });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'No migrations to apply.\n');
  });

  it('a second serve on the same data refuses, and the first keeps serving', async () => {
    const result = await run(['serve'], { env: { ...env(), PORT: String(await freePort()) }, cwd });
    assert.notEqual(result.status, 0);
    assert.match(oneErrorLine(result), new RegExp(`server is already running .*pid ${server?.child.pid}`));
    assert.equal((await login(port, 'ann')).status, 200);
  });

  it('SIGTERM stops the server with status 0 and releases the lock', async () => {
    assert.equal(await server?.stop(), 0);
    server = undefined;
    assert.equal(existsSync(lockFile), false);
    assert.equal(existsSync(join(dataDir, 'control.sock')), false);
    const result = await createUser('carol');
    assert.equal(result.status, 0, result.stderr);
  });

  it('data and the dev signing key survive a restart', async () => {
    server = await startServer(env(), cwd);
    assert.equal(readFileSync(join(dataDir, 'signing.key'), 'utf8'), keyBeforeRestart);
    for (const username of ['ann', 'bob', 'carol']) assert.equal((await login(port, username)).status, 200, username);
    const verified = await post(port, '/auth/verify/', { token: tokenBeforeRestart });
    assert.deepEqual(verified, { status: 200, body: {} });
  });

  it('a killed server leaves a stale lock that the next command and server retake', async () => {
    await server?.kill();
    server = undefined;
    assert.equal(existsSync(lockFile), true);
    const result = await createUser('dan');
    assert.equal(result.status, 0, result.stderr);
    server = await startServer(env(), cwd);
    assert.equal((await login(port, 'dan')).status, 200);
    assert.equal(await server.stop(), 0);
    server = undefined;
  });
});

describe('PostgreSQL mode', { skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set' }, () => {
  const cwd = tempDir('lk-postgres-');
  let database: Awaited<ReturnType<typeof scratchDatabase>>;
  let port: number;
  let server: Server | undefined;
  const env = () => ({ DATABASE_URL: database.url, DATA_DIR: join(cwd, 'data'), PORT: String(port) });

  before(async () => {
    port = await freePort();
    database = await scratchDatabase('lk_cli');
  });
  after(async () => {
    await server?.stop();
    await database.drop();
  });

  it('serve refuses to start while migrations are pending', async () => {
    const result = await run(['serve'], { env: env(), cwd });
    assert.equal(result.status, 1);
    assert.match(oneErrorLine(result), /pending migration.*latchkey migrate/);
  });

  it('migrate applies the migrations, then has nothing to apply', async () => {
    const first = await run(['migrate'], { env: env(), cwd });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, 'Applied 0001_initial\nApplied 0002_accounts_audit\nApplied 0003_identifier_rule\nApplied 0004_user_changes\nApplied 0005_mail_recovery\nApplied 0006_simplejwt_cutover\nApplied 0007_mfa\nApplied 0008_passkeys\nApplied 0009_remembered_devices\nApplied 0010_refresh_token_room\n');
    const second = await run(['migrate'], { env: env(), cwd });
    assert.equal(second.stdout, 'No migrations to apply.\n');
  });

  it('create-user connects directly, and serve lets that user log in', async () => {
    const created = await run(['create-user', '--username', 'dora', '--password-stdin', '--role', 'admin'], { env: env(), input: PASSWORD, cwd });
    assert.equal(created.status, 0, created.stderr);
    assert.equal(created.stdout, 'Created user "dora" (id 1).\n');
    server = await startServer(env(), cwd);
    const response = await login(port, 'dora');
    assert.equal(response.status, 200);
    assert.equal(response.body.role, 'admin');
    // PostgreSQL is multi-process: commands connect directly even with a server running.
    const second = await run(['create-user', '--username', 'eve', '--password-stdin'], { env: env(), input: PASSWORD, cwd });
    assert.equal(second.status, 0, second.stderr);
    assert.equal((await login(port, 'eve')).status, 200);
    assert.equal(await server.stop(), 0);
    server = undefined;
  });

  it('two servers on one database: a logout on one is refused by the other within moments', async () => {
    const shared = { ...env(), SIGNING_KEY: 'e2e-shared-signing-key-for-two-instances-0123' };
    const otherPort = await freePort();
    const first = await startServer(shared, cwd);
    const second = await startServer({ ...shared, PORT: String(otherPort) }, cwd);
    try {
      const tokens = (await login(port, 'dora')).body as { access: string; refresh: string };
      const me = async (at: number) =>
        (await fetch(`http://127.0.0.1:${at}/auth/me/`, { headers: { authorization: `Bearer ${tokens.access}` }, signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS) })).status;
      assert.equal(await me(otherPort), 200, 'the token issued by one instance works on the other');
      assert.equal((await post(port, '/auth/logout/', { refresh: tokens.refresh })).status, 200);
      assert.equal(await me(port), 401, 'refused at once where the logout happened');
      let status = await me(otherPort);
      // NOTIFY crosses processes in milliseconds; the loop is bounded at 100 tries over ~2 s.
      for (let attempt = 0; status !== 401 && attempt < 100; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = await me(otherPort);
      }
      assert.equal(status, 401, 'the other instance learned of the logout');
    } finally {
      await first.stop();
      await second.stop();
    }
  });
});
