/**
 * `latchkey import-django-users` as users run it: real `node bin/latchkey.js`
 * processes, on a temporary embedded data directory (alone, and with a server
 * holding it) and on PostgreSQL when DATABASE_URL is set.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULTS } from '../../src/config.ts';

const BIN = fileURLToPath(new URL('../../bin/latchkey.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/django/', import.meta.url));
const USERS_JSON = join(FIXTURES, 'users.json');
const passwords = JSON.parse(readFileSync(join(FIXTURES, 'passwords.json'), 'utf8')) as Record<string, string>;
const SIGNING_KEY = 'e2e-import-signing-key-at-least-32-bytes-long';
/** Upper bound for any one process to finish or a server to come up; never asserted on. */
const PROCESS_TIMEOUT_MS = 60_000;

const SKIPPED_LINES = [
  '  skipped id 12 ("casetwin"): username is taken (case-insensitively) by user 11 ("CaseTwin")',
  '  skipped id 14 ("shared_email_b"): email "shared@example.com" is taken (case-insensitively) by user 13 ("shared_email_a")',
  '  skipped id 15 ("john smith"): username "john smith" is not valid: up to 150 letters, digits and @/./+/-/_',
  '  skipped id 17 ("md5_user"): password hash format "md5" is not supported',
];
const UNUSABLE_LINE = '1 imported user has no usable password (set_unusable_password in Django) and cannot log in with one.';

const firstRun = (label: string) =>
  [`Read 18 users from ${label}.`, 'Imported 14, already present 0, skipped 4.', UNUSABLE_LINE, ...SKIPPED_LINES, ''].join('\n');
const reRun = (label: string) => [`Read 18 users from ${label}.`, 'Imported 0, already present 14, skipped 4.', ...SKIPPED_LINES, ''].join('\n');

const children = new Set<ChildProcess>();
const dirs: string[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lk-import-'));
  dirs.push(dir);
  return dir;
}

function spawnCli(args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [...Object.keys(DEFAULTS), 'NODE_ENV']) delete clean[key];
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...clean, SIGNING_KEY, LOG_LEVEL: 'info', ...env }, stdio: 'pipe', timeout: PROCESS_TIMEOUT_MS });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs one command to completion, stdin empty (never a terminal). */
async function run(args: string[], env: Record<string, string>, cwd = tempDir()): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawnCli(args, env, cwd);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin?.end();
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

/** Starts `serve`, resolving once it listens. */
async function startServer(env: Record<string, string>, cwd: string): Promise<{ output(): string; stop(): Promise<number | null> }> {
  const child = spawnCli(['serve'], env, cwd);
  let output = '';
  const exited = once(child, 'exit') as Promise<[number | null]>;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Latchkey listening on')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then(([status]) => reject(new Error(`serve exited with ${status} before listening:\n${output}`)));
  });
  return {
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      return (await exited)[0];
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

async function login(port: number, username: string, password: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/auth/login/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
  });
  return response.status;
}

function oneErrorLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0] ?? '';
}

describe('import-django-users usage', () => {
  const env = () => ({ DATA_DIR: join(tempDir(), 'data') });

  it('--help explains both sources and that a re-run is safe', async () => {
    const result = await run(['import-django-users', '--help'], env());
    assert.equal(result.status, 0, result.stderr);
    for (const text of ['dumpdata auth.user', 'postgres://', 'Running it again is safe', 'bcrypt_sha256', 'Exit status']) {
      assert.ok(result.stdout.includes(text), `--help mentions ${text}`);
    }
  });

  it('no source is bad usage: exit 2, one line', async () => {
    const result = await run(['import-django-users'], env());
    assert.equal(result.status, 2);
    assert.equal(oneErrorLine(result.stderr), "error: missing required argument 'source'");
  });

  it('a missing file, a file that is not JSON, or an unreachable database: exit 1, one line, nothing imported', async () => {
    const dir = tempDir();
    const missing = join(dir, 'missing.json');
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '[{"model": "auth.user",');
    const [noFile, notJson, noDatabase] = await Promise.all([
      run(['import-django-users', missing], env()),
      run(['import-django-users', broken], env()),
      run(['import-django-users', 'postgres://django:s3cret@127.0.0.1:1/site'], env()),
    ]);
    for (const result of [noFile, notJson, noDatabase]) {
      assert.equal(result.status, 1, result.stderr);
      assert.equal(result.stdout, '');
    }
    assert.equal(oneErrorLine(noFile.stderr), `error: cannot read ${missing}: no such file`);
    assert.match(oneErrorLine(notJson.stderr), new RegExp(`^error: ${broken.replaceAll('.', '\\.')} is not JSON: `));
    assert.match(oneErrorLine(noDatabase.stderr), /^error: cannot connect to postgres:\/\/django:\*\*\*@127\.0\.0\.1:1\/site: /);
  });
});

describe('import-django-users on the embedded database', () => {
  const cwd = tempDir();
  const env = { DATA_DIR: join(cwd, 'data') };

  it('imports the dumpdata file: exit 0, the summary on stdout, no progress noise without a terminal', async () => {
    const result = await run(['import-django-users', USERS_JSON], env, cwd);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, firstRun(USERS_JSON));
    assert.equal(result.stderr, '');
  });

  it('a second run imports nothing new', async () => {
    const result = await run(['import-django-users', USERS_JSON], env, cwd);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, reRun(USERS_JSON));
  });

  it('lists the first 50 skipped rows and counts the rest', async () => {
    const dump = JSON.parse(readFileSync(USERS_JSON, 'utf8')) as Array<{ pk: number; fields: Record<string, unknown> }>;
    const md5 = dump.find((row) => row.fields.username === 'md5_user');
    assert.ok(md5);
    const rows = Array.from({ length: 55 }, (_, i) => ({ ...md5, pk: 1000 + i, fields: { ...md5.fields, username: `md5_${i}`, email: '' } }));
    const path = join(tempDir(), 'md5.json');
    writeFileSync(path, JSON.stringify(rows));
    const result = await run(['import-django-users', path], env, cwd);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.slice(0, 3), [`Read 55 users from ${path}.`, 'Imported 0, already present 0, skipped 55.', '  skipped id 1000 ("md5_0"): password hash format "md5" is not supported']);
    assert.equal(lines.length, 2 + 50 + 1);
    assert.equal(lines.at(-2), '  skipped id 1049 ("md5_49"): password hash format "md5" is not supported');
    assert.equal(lines.at(-1), '  … and 5 more skipped');
  });

  it('with a server holding the data directory, the server imports the batches; the users log in at once', async () => {
    const serverCwd = tempDir();
    const port = await freePort();
    const serverEnv = { DATA_DIR: join(serverCwd, 'data'), PORT: String(port) };
    const server = await startServer(serverEnv, serverCwd);
    try {
      const result = await run(['import-django-users', USERS_JSON], serverEnv, serverCwd);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, firstRun(USERS_JSON));
      assert.match(server.output(), /running `latchkey import-django-users` from the control socket/);
      for (const username of ['pbkdf2_user', 'argon2_user', 'bcrypt_user']) assert.equal(await login(port, username, passwords[username] ?? ''), 200, username);
      const again = await run(['import-django-users', USERS_JSON], serverEnv, serverCwd);
      assert.equal(again.stdout, reRun(USERS_JSON));
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('import-django-users on PostgreSQL', { skip: process.env.DATABASE_URL ? false : 'DATABASE_URL is not set' }, () => {
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const latchkeyDb = `lk_import_${suffix}`;
  const djangoDb = `lk_django_${suffix}`;
  const cwd = tempDir();
  const urlOf = (database: string) => {
    const url = new URL(process.env.DATABASE_URL ?? '');
    url.pathname = `/${database}`;
    return url.toString();
  };
  const env = () => ({ DATABASE_URL: urlOf(latchkeyDb), DATA_DIR: join(cwd, 'data') });

  async function query(database: string | undefined, statement: string): Promise<void> {
    const client = new pg.Client({ connectionString: database ? urlOf(database) : process.env.DATABASE_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  }

  before(async () => {
    await query(undefined, `create database "${latchkeyDb}"`);
    await query(undefined, `create database "${djangoDb}"`);
    await query(djangoDb, readFileSync(join(FIXTURES, 'auth_user.sql'), 'utf8'));
    const migrated = await run(['migrate'], env(), cwd);
    assert.equal(migrated.status, 0, migrated.stderr);
  });
  after(async () => {
    await query(undefined, `drop database if exists "${latchkeyDb}" with (force)`);
    await query(undefined, `drop database if exists "${djangoDb}" with (force)`);
  });

  it("imports from the Django site's PostgreSQL database, then finds everyone present", async () => {
    const label = urlOf(djangoDb);
    const first = await run(['import-django-users', label], env(), cwd);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout, firstRun(label));
    const again = await run(['import-django-users', USERS_JSON], env(), cwd);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, reRun(USERS_JSON));
  });

  it('serve lets an imported bcrypt_sha256 user log in', async () => {
    const port = await freePort();
    const server = await startServer({ ...env(), PORT: String(port) }, cwd);
    try {
      assert.equal(await login(port, 'bcrypt_user', passwords.bcrypt_user ?? ''), 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
