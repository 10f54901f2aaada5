/**
 * Builds apps on a real database for tests: PGlite always, and PostgreSQL when
 * DATABASE_URL is set (CI sets it, and then an unreachable server fails the run).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import type { Auth } from '../../src/auth.ts';
import { createAuth, type AuthDeps } from '../../src/create-auth.ts';
import { manualClock, systemClock, type Clock } from '../../src/clock.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import { openStore, type Store } from '../../src/store/connect.ts';
import { PGliteDialect } from '../../src/store/dialects/pglite.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import type { Database } from '../../src/store/schema.ts';
import { Passwords } from '../../src/users/passwords.ts';

export type StoreName = 'pglite' | 'postgres';

/** The databases every storage test runs on. */
export function storeNames(): StoreName[] {
  if (process.env.DATABASE_URL) return ['pglite', 'postgres'];
  if (process.env.CI) throw new Error('CI must set DATABASE_URL so storage tests run on PostgreSQL too');
  return ['pglite'];
}

export const TEST_SIGNING_KEY = 'test-signing-key-that-is-at-least-32-bytes-long';

/**
 * Test configuration: defaults plus overrides, with a fixed signing key.
 * Throttling is off unless a test turns it on (`THROTTLE: 'on'`): every
 * injected request comes from one address.
 */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ SIGNING_KEY: TEST_SIGNING_KEY, LOG_LEVEL: 'silent', THROTTLE: 'off', ...env });
}

/**
 * Opens a fresh, migrated database: in-memory PGlite (a copy of one migrated
 * once per process, or with `fresh`, created and migrated from nothing), or a
 * new PostgreSQL schema.
 */
export async function openTestStore(name: StoreName, options: { fresh?: boolean } = {}): Promise<Store & { drop(): Promise<void> }> {
  if (name === 'pglite') {
    const store = options.fresh ? await openStore({ dataDir: 'memory://' }) : await openStore({ dataDir: 'memory://', loadDataDir: await migratedPGliteImage() });
    if (options.fresh) await migrateToLatest(store.db);
    return Object.assign(store, { drop: () => store.close() });
  }
  const schema = `lk_test_${randomBytes(6).toString('hex')}`;
  const store = await openStore({ databaseUrl: process.env.DATABASE_URL, schema });
  const drop = async () => {
    await sql`drop schema ${sql.id(schema)} cascade`.execute(store.db);
    await store.close();
  };
  try {
    await migrateToLatest(store.db);
  } catch (error) {
    await drop();
    throw error;
  }
  return Object.assign(store, { drop });
}

export interface Harness {
  store: Store & { drop(): Promise<void> };
  auth: Auth;
  app: App;
  config: Config;
  clock: Clock;
  close(): Promise<void>;
}

/**
 * A started Auth and its app on a fresh database. Pass `clock` to step time.
 * Passwords are hashed at test cost unless `passwords` says otherwise.
 */
export async function harness(
  name: StoreName,
  options: { env?: Record<string, string>; clock?: Clock; store?: Harness['store']; passwords?: Passwords; deps?: Partial<AuthDeps> } = {},
): Promise<Harness> {
  const config = testConfig(options.env);
  const store = options.store ?? (await openTestStore(name));
  const clock = options.clock ?? systemClock;
  const auth = createAuth(config, { ...options.deps, store, clock, passwords: options.passwords ?? testPasswords() });
  await auth.start();
  const app = await buildApp({ auth });
  await app.ready();
  return {
    store,
    auth,
    app,
    config,
    clock,
    async close() {
      await app.close();
      await auth.stop();
      if (!options.store) await store.drop();
    },
  };
}

export { manualClock };

let counter = 0;
/** A username no other test in the run has used. */
export function uniqueName(prefix = 'user'): string {
  counter += 1;
  return `${prefix}${counter}_${randomBytes(3).toString('hex')}`;
}

export const PASSWORD = 'correct horse battery staple';

/** Creates a user and returns its username and id. */
export async function createUser(
  h: Harness,
  overrides: { username?: string; email?: string; password?: string; isStaff?: boolean; role?: string; accountId?: number; passwordNeedsReset?: boolean } = {},
) {
  const username = overrides.username ?? uniqueName();
  const user = await h.auth.createUser({
    username,
    email: overrides.email ?? `${username}@example.com`,
    password: overrides.password ?? PASSWORD,
    ...(overrides.isStaff !== undefined ? { isStaff: overrides.isStaff } : {}),
    ...(overrides.role !== undefined ? { role: overrides.role } : {}),
    ...(overrides.accountId !== undefined ? { accountId: overrides.accountId } : {}),
    ...(overrides.passwordNeedsReset !== undefined ? { passwordNeedsReset: overrides.passwordNeedsReset } : {}),
  });
  return { username, id: user.id, email: user.email };
}

/** Creates an account (tenant) and returns its id. */
export async function createAccount(h: Pick<Harness, 'store'>, options: { name?: string; isActive?: boolean } = {}): Promise<number> {
  const row = await h.store.db
    .insertInto('accounts')
    .values({ name: options.name ?? uniqueName('account'), is_active: options.isActive ?? true, created_at: new Date() })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Logs in through the app and returns the parsed body. */
export async function login(h: Harness, username: string, password = PASSWORD, headers: Record<string, string> = {}) {
  const response = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password }, headers });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  return response.json() as { access: string; refresh: string; access_expires_at: string; refresh_expires_at: string; user: { id: number } };
}

/** Decodes a JWT's payload without checking it (for asserting claims). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** SPEC.md's error bodies, written out here rather than read from src/, so a changed message fails the tests. */
export const TOKEN_NOT_VALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' };
/** A refused token from a body (refresh, verify, logout), with SimpleJWT's REASON. */
export const tokenNotValid = (reason: string) => ({ detail: reason, code: 'token_not_valid' });
/** A refused token from the Authorization header of an authenticated route, SimpleJWT's shape. */
export const credentialNotValid = (reason = 'Token is invalid or expired') => ({
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: reason }],
});
export const BLACKLISTED = 'Token is blacklisted';
export const WRONG_TYPE = 'Token has wrong type';
export const NO_USER_ID = { detail: 'Token contained no recognizable user identification', code: 'token_not_valid' };
export const NOT_AUTHENTICATED = { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' };
export const NO_ACTIVE_ACCOUNT = { detail: 'No active account found with the given credentials', code: 'no_active_account' };
export const NOT_FOUND = { detail: 'Not found.', code: 'not_found' };

// --- Speed: cheap password hashing and cloned PGlite databases ---------------

/**
 * argon2id at the smallest cost it accepts, for tests that do not look at the
 * hash itself: production's 19 MiB × 2 passes cost ~0.1 s of CPU per hash and
 * per login. Tests about the hash's format or cost use `new Passwords()`.
 */
export const TEST_ARGON2ID_COST = { memoryCost: 8, timeCost: 1, parallelism: 1 };

export function testPasswords(): Passwords {
  return new Passwords({ argon2id: TEST_ARGON2ID_COST });
}

let migratedImage: Promise<Blob> | undefined;

/**
 * A migrated in-memory PGlite, dumped: creating a PGlite runs initdb (seconds
 * of WASM), loading a dump of one is several times cheaper. The dump is made
 * once and kept in the temporary directory, under a name that changes with
 * PGlite's version and the migrations' source, so each test process (and the
 * next run) only loads it.
 */
function migratedPGliteImage(): Promise<Blob> {
  migratedImage ??= (async () => {
    const path = join(tmpdir(), `latchkey-test-pglite-${imageKey()}.tar`);
    if (existsSync(path)) return new Blob([readFileSync(path)]);
    const pglite = await PGlite.create();
    const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
    try {
      await migrateToLatest(db);
      const image = await pglite.dumpDataDir('none');
      // Written aside and renamed, so a process running at the same time reads a whole file or none.
      const partial = `${path}.${process.pid}`;
      writeFileSync(partial, Buffer.from(await image.arrayBuffer()));
      renameSync(partial, path);
      return image;
    } finally {
      await db.destroy();
    }
  })();
  return migratedImage;
}

/** What the migrated database depends on: PGlite's version and the migrations' source. */
function imageKey(): string {
  const hash = createHash('sha256');
  hash.update(readFileSync(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url)));
  const store = fileURLToPath(new URL('../../src/store/', import.meta.url));
  const migrations = join(store, 'migrations');
  for (const file of ['migrate.ts', ...readdirSync(migrations).sort().map((name) => join('migrations', name))]) {
    hash.update(file).update(readFileSync(join(store, file)));
  }
  return hash.digest('hex').slice(0, 16);
}
