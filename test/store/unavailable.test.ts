import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import { buildApp } from '../../src/http/app.ts';
import type { App } from '../../src/http/types.ts';
import { openStore, type Store } from '../../src/store/connect.ts';
import { migrateToLatest } from '../../src/store/migrate.ts';
import { bearer, PASSWORD, storeNames, testConfig } from '../support/harness.ts';

/** A TCP proxy to PostgreSQL that the test can cut and restore, to play a database going away. */
class CuttableProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;
  constructor(readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    this.#server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  async cut(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

const databaseUrl = process.env.DATABASE_URL;

if (storeNames().includes('postgres') && databaseUrl) {
  describe('PostgreSQL going away and coming back', () => {
    const upstream = new URL(databaseUrl);
    const proxy = new CuttableProxy({ host: upstream.hostname, port: Number(upstream.port || 5432) });
    const schema = `lk_test_${randomBytes(6).toString('hex')}`;
    let store: Store;
    let auth: Auth;
    let app: App;

    before(async () => {
      await proxy.open();
      const viaProxy = new URL(databaseUrl);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      store = await openStore({ databaseUrl: viaProxy.toString(), schema, onError: () => {} });
      await migrateToLatest(store.db);
      auth = createAuth(testConfig(), { store, onError: () => {} });
      await auth.start();
      await auth.createUser({ username: 'outage', password: PASSWORD });
      app = await buildApp({ auth });
    });

    after(async () => {
      await app.close();
      await auth.stop();
      await store.close();
      await proxy.cut();
      const admin = await openStore({ databaseUrl });
      await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(admin.db);
      await admin.close();
    });

    const login = () => app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'outage', password: PASSWORD } });

    it('answers 503 service_unavailable while the database is away, keeps verifying tokens, and recovers', async () => {
      const before = await login();
      assert.equal(before.statusCode, 200);
      const { access, refresh } = before.json() as { access: string; refresh: string };
      const other = (await login()).json() as { access: string; refresh: string };

      await proxy.cut();
      const down = await login();
      assert.deepEqual([down.statusCode, down.json()], [503, { detail: 'Service temporarily unavailable, try again later.', code: 'service_unavailable' }]);
      const refreshDown = await app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.equal(refreshDown.statusCode, 503, 'a refresh is not lost as a 401: the client may retry it');
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.deepEqual([ready.statusCode, ready.json().code], [503, 'service_unavailable']);
      const verify = await app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: access } });
      assert.equal(verify.statusCode, 200, 'access tokens verify without the database');
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);

      // Meanwhile another instance, still connected, ends a session: this one misses the NOTIFY.
      const direct = await openStore({ databaseUrl, schema });
      const elsewhere = createAuth(testConfig(), { store: direct });
      await elsewhere.logout({ refreshToken: other.refresh });
      await direct.close();
      assert.doesNotThrow(() => auth.authenticate(other.access), 'not heard yet: the LISTEN connection is down');

      await proxy.open();
      // Reconnecting re-reads recent revocations; the retry backoff is bounded, and so is this loop (~10 s).
      let caughtUp = false;
      for (let attempt = 0; !caughtUp && attempt < 200; attempt++) {
        try {
          auth.authenticate(other.access);
          await new Promise((resolve) => setTimeout(resolve, 50));
        } catch {
          caughtUp = true;
        }
      }
      assert.ok(caughtUp, 'the revocation missed during the outage was caught up after reconnecting');
      const back = await login();
      assert.equal(back.statusCode, 200);
      const rotated = await app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.equal(rotated.statusCode, 200, 'the refresh token refused with 503 still works afterwards');
      const me = await app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      assert.equal(me.statusCode, 200);
    });
  });
}
