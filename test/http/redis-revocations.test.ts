/**
 * Revocations fanned out through Redis pub/sub (the path PgBouncer in
 * transaction mode leaves, since it cannot LISTEN): an instance whose only
 * channel is Redis (REVOCATION_LISTEN=false) hears a logout made on another,
 * and after Redis goes away and comes back it catches up from the database.
 * Real Redis (REDIS_URL, and a private redis-server on another loopback port
 * for the outage), real databases.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Auth } from '../../src/auth.ts';
import { perform } from '../../src/cli/runtime.ts';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import { openStore, type Store } from '../../src/store/connect.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { createUser, login, openTestStore, storeNames, testConfig, testPasswords, type Harness } from '../support/harness.ts';

const SHARED_REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Instance {
  auth: Auth;
  app: App;
  close(): Promise<void>;
}

async function instance(store: Store, env: Record<string, string>, redis?: Redis): Promise<Instance> {
  const auth = createAuth(testConfig(env), { store, passwords: testPasswords(), ...(redis ? { redis } : {}) });
  await auth.start();
  const app = await buildApp({ auth });
  await app.ready();
  return {
    auth,
    app,
    async close() {
      await app.close();
      await auth.stop();
    },
  };
}

/** True when the instance refuses the access token (revoked), false while it accepts it. */
function refuses(auth: Auth, access: string): boolean {
  try {
    auth.authenticate(access);
    return false;
  } catch (error) {
    assert.equal((error as { code?: string }).code, 'token_not_valid');
    return true;
  }
}

/** Polls until `check` holds or `withinMs` has passed; returns whether it held. */
async function within(withinMs: number, check: () => boolean): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(20);
  }
  return check();
}

async function logout(app: App, refresh: string): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh } });
  assert.equal(response.statusCode, 200, response.body);
}

/** A second connection to the same database, as another process would have (PGlite: the same one). */
async function sameDatabase(name: string, store: Store): Promise<Store> {
  if (name !== 'postgres') return store;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
  return openStore({ databaseUrl: process.env.DATABASE_URL, schema: rows[0]!.schema });
}

/** A redis-server of the test's own on a free loopback port, no persistence; started and killed at will. */
class PrivateRedis {
  port = 0;
  #child: ChildProcess | undefined;

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'pipe' });
    this.#child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (status) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${status}:\n${output}`));
      });
    });
  }

  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
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

for (const name of storeNames()) {
  describe(`revocations through Redis pub/sub on ${name}`, () => {
    it('an instance whose only channel is Redis refuses a session logged out on another within 2 s', async (t) => {
      const store = await openTestStore(name);
      const otherStore = await sameDatabase(name, store);
      const env = { REDIS_URL: SHARED_REDIS, REDIS_PREFIX: `lk-test-${randomBytes(4).toString('hex')}` };
      const first = await instance(store, env);
      // Its database notifications are off: whatever it learns in time comes through Redis.
      const second = await instance(otherStore, { ...env, REVOCATION_LISTEN: 'false' });
      // The control: no LISTEN and no Redis, so nothing reaches it before the 30-second reconciliation.
      const deaf = await instance(otherStore, { REVOCATION_LISTEN: 'false' });
      try {
        const h = { app: first.app, auth: first.auth } as unknown as Harness;
        const { username } = await createUser(h);
        const phone = await login(h, username);
        const laptop = await login(h, username);
        assert.equal(refuses(second.auth, phone.access), false);

        const sent = performance.now();
        await logout(first.app, phone.refresh);
        assert.ok(await within(2000, () => refuses(second.auth, phone.access)), 'the Redis-only instance refuses the logged-out session');
        t.diagnostic(`heard through Redis ${Math.round(performance.now() - sent)} ms after the logout request was sent`);
        assert.equal(refuses(deaf.auth, phone.access), false, 'without a feed the logout is not heard yet: Redis carried it');
        assert.equal(refuses(second.auth, laptop.access), false, 'other sessions stay valid');

        // logout-all ends the laptop too, again through Redis alone.
        const all = await first.app.inject({ method: 'POST', url: '/auth/logout-all/', headers: { authorization: `Bearer ${laptop.access}` } });
        assert.equal(all.statusCode, 200, all.body);
        assert.ok(await within(2000, () => refuses(second.auth, laptop.access)));
      } finally {
        await deaf.close();
        await second.close();
        await first.close();
        if (otherStore !== store) await otherStore.close();
        await store.drop();
      }
    });

    it('after Redis goes away and comes back, the instance reloads and refuses what was revoked meanwhile', async (t) => {
      const redis = new PrivateRedis();
      await redis.start();
      const store = await openTestStore(name);
      const otherStore = await sameDatabase(name, store);
      const env = { REDIS_URL: redis.url, REDIS_PREFIX: 'lk-test-outage' };
      // The first instance publishes with a client the test holds, to know when it is back.
      const publisher = new Redis(redis.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      publisher.on('error', () => {});
      await publisher.connect();
      const first = await instance(store, { REDIS_PREFIX: env.REDIS_PREFIX }, publisher);
      const startedAt = Date.now();
      const second = await instance(otherStore, { ...env, REVOCATION_LISTEN: 'false' });
      try {
        const h = { app: first.app, auth: first.auth } as unknown as Harness;
        const { username } = await createUser(h);
        const [before, during, afterwards] = [await login(h, username), await login(h, username), await login(h, username)];

        await logout(first.app, before.refresh);
        assert.ok(await within(2000, () => refuses(second.auth, before.access)), 'Redis carries revocations before the outage');

        await redis.kill();
        await sleep(200);
        await logout(first.app, during.refresh);
        await sleep(500);
        // The reconciliation timer (every 30 s from start) would also catch it; this only holds before it runs.
        if (Date.now() - startedAt < 25_000) {
          assert.equal(refuses(second.auth, during.access), false, 'nothing carried the logout while Redis was away');
        } else {
          t.diagnostic('too slow to check that the outage hid the logout (the reconciliation may have run)');
        }

        await redis.start();
        const back = performance.now();
        assert.ok(await within(15_000, () => refuses(second.auth, during.access)), 'caught up from the database after resubscribing');
        t.diagnostic(`caught up ${Math.round(performance.now() - back)} ms after Redis restarted`);
        assert.equal(refuses(second.auth, afterwards.access), false, 'sessions still open stay valid');

        assert.ok(await within(15_000, () => publisher.status === 'ready'), 'the publisher reconnects');
        await logout(first.app, afterwards.refresh);
        assert.ok(await within(2000, () => refuses(second.auth, afterwards.access)), 'Redis carries revocations again');
      } finally {
        await second.close();
        await first.close();
        await publisher.quit().catch(() => publisher.disconnect());
        if (otherStore !== store) await otherStore.close();
        await store.drop();
        await redis.kill();
      }
    });
  });
}

describe('revocations a CLI command makes go out on Redis too', { skip: process.env.DATABASE_URL ? false : 'needs DATABASE_URL (commands run directly on PostgreSQL)' }, () => {
  it('`invalidate-all-tokens` on PostgreSQL reaches an instance whose only channel is Redis within 2 s', async () => {
    // Commands use the database's default schema: a database of the test's own.
    const name = `lk_redis_cli_${process.pid}_${Date.now().toString(36)}`;
    const admin = async (statement: string) => {
      const store = await openStore({ databaseUrl: process.env.DATABASE_URL });
      try {
        await sql.raw(statement).execute(store.db);
      } finally {
        await store.close();
      }
    };
    await admin(`create database "${name}"`);
    const url = new URL(process.env.DATABASE_URL ?? '');
    url.pathname = `/${name}`;
    const env = { DATABASE_URL: url.toString(), REDIS_URL: SHARED_REDIS, REDIS_PREFIX: `lk-test-${randomBytes(4).toString('hex')}` };
    const store = await openStore({ databaseUrl: env.DATABASE_URL });
    let server: Instance | undefined;
    try {
      await migrateToLatest(store.db);
      server = await instance(store, { ...env, REVOCATION_LISTEN: 'false' });
      const h = { app: server.app, auth: server.auth } as unknown as Harness;
      const { username } = await createUser(h);
      const pair = await login(h, username);
      const auth = server.auth;
      assert.equal(refuses(auth, pair.access), false);
      const result = await perform(testConfig(env), 'invalidate-all-tokens', {});
      assert.equal(result.sessionsEnded, 1);
      assert.ok(await within(2000, () => refuses(auth, pair.access)), 'the command published the revocation');
    } finally {
      await server?.close();
      await store.close();
      await admin(`drop database if exists "${name}" with (force)`);
    }
  });
});
