/**
 * The user cache behind GET /auth/me/ and refresh: any change to a user —
 * through this instance, another instance, or SQL typed by hand — shows on
 * the next /auth/me/ (the users trigger's notification, migration 0004); while
 * the notification feed is lost, the cache is not used; a read racing a change
 * never stores the old row; the cache holds at most USER_CACHE_SIZE rows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import type { Auth } from '../../src/auth.ts';
import { createAuth } from '../../src/create-auth.ts';
import type { RevocationSink } from '../../src/sessions/sync.ts';
import { openStore, type Store } from '../../src/store/connect.ts';
import type { UserRow } from '../../src/store/repos/users.ts';
import { UserCache } from '../../src/users/cache.ts';
import { bearer, createUser, harness, login, openTestStore, storeNames, testConfig, testPasswords, type Harness } from '../support/harness.ts';

/** Polls until `check` holds, at most `ms` (PostgreSQL delivers notifications on another connection, a moment after the commit). */
async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<boolean> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return check();
}

async function currentSchema(store: Store): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
  return rows[0]!.schema;
}

describe('UserCache', () => {
  const row = (id: number, firstName: string) => ({ id, first_name: firstName }) as UserRow;

  it('a read under way while its user changes does not store the old row', async () => {
    const cache = new UserCache({ max: 10, usable: () => true });
    let finish!: (value: UserRow) => void;
    const pending = cache.get(1, () => new Promise<UserRow>((resolve) => { finish = resolve; }));
    cache.invalidate([1]);
    finish(row(1, 'old'));
    assert.equal((await pending)?.first_name, 'old', 'the read itself answers what it read');
    let loads = 0;
    const next = await cache.get(1, async () => { loads += 1; return row(1, 'new'); });
    assert.equal(next?.first_name, 'new');
    assert.equal(loads, 1, 'the old row was not stored');
    assert.equal((await cache.get(1, async () => row(1, 'never read')))?.first_name, 'new', 'the new row was');
  });

  it('is not used while the feed is not followed, and stores nothing then', async () => {
    let usable = false;
    const cache = new UserCache({ max: 10, usable: () => usable });
    let loads = 0;
    const load = async () => { loads += 1; return row(1, `v${loads}`); };
    await cache.get(1, load);
    await cache.get(1, load);
    assert.equal(loads, 2);
    assert.equal(cache.stats().size, 0);
    assert.equal(cache.stats().bypassed, 2);
    usable = true;
    await cache.get(1, load);
    await cache.get(1, load);
    assert.equal(loads, 3);
    assert.deepEqual([cache.stats().hits, cache.stats().size], [1, 1]);
  });

  it('holds at most `max` rows, and none with max 0', async () => {
    const cache = new UserCache({ max: 3, usable: () => true });
    for (let id = 1; id <= 10; id += 1) await cache.get(id, async (key) => row(key, 'x'));
    assert.equal(cache.stats().size, 3);
    const off = new UserCache({ max: 0, usable: () => true });
    await off.get(1, async () => row(1, 'x'));
    assert.equal(off.stats().size, 0);
  });

  it('never caches a missing user', async () => {
    const cache = new UserCache({ max: 3, usable: () => true });
    assert.equal(await cache.get(1, async () => undefined), undefined);
    assert.equal((await cache.get(1, async () => row(1, 'now here')))?.first_name, 'now here');
  });
});

for (const name of storeNames()) {
  describe(`user cache on ${name}`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name);
    });
    after(() => h.close());

    const me = async (auth: Harness, access: string) => {
      const response = await auth.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
      return { status: response.statusCode, body: response.json() as Record<string, unknown> };
    };

    it('serves /auth/me/ from memory once read', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      await me(h, access);
      const before = h.auth.userCacheStats()!;
      assert.equal((await me(h, access)).status, 200);
      assert.equal((await me(h, access)).status, 200);
      const now = h.auth.userCacheStats()!;
      assert.equal(now.hits - before.hits, 2);
      assert.equal(now.misses - before.misses, 0);
    });

    it('a change through this instance shows on the next request', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      await me(h, access);
      const patched = await h.app.inject({ method: 'PATCH', url: '/auth/me/', headers: bearer(access), payload: { first_name: 'Grace' } });
      assert.equal(patched.statusCode, 200);
      assert.equal((await me(h, access)).body.first_name, 'Grace');
      await h.auth.admin.updateUser(u.id, { last_name: 'Hopper' }, { userId: u.id, sessionId: 'none', client: { ip: null, userAgent: null } });
      assert.equal((await me(h, access)).body.last_name, 'Hopper');
    });

    it('a change made by SQL typed by hand shows on the next request (the trigger)', async () => {
      const u = await createUser(h);
      const { access } = await login(h, u.username);
      assert.equal((await me(h, access)).body.first_name, '');
      // Another connection, as psql or a `latchkey` command on PostgreSQL would be; on PGlite, the one session.
      if (name === 'postgres') {
        const client = new pg.Client({ connectionString: process.env.DATABASE_URL, options: `-c search_path=${await currentSchema(h.store)}` });
        await client.connect();
        try {
          await client.query(`update users set first_name = 'Typed' where id = $1`, [u.id]);
        } finally {
          await client.end();
        }
        assert.ok(await eventually(async () => (await me(h, access)).body.first_name === 'Typed'), 'the change showed');
      } else {
        await sql`update users set first_name = 'Typed' where id = ${u.id}`.execute(h.store.db);
        // In-process delivery: the very next request.
        assert.equal((await me(h, access)).body.first_name, 'Typed');
      }
      // A deactivation by hand: refused at once, and refresh too.
      const { refresh } = await login(h, u.username);
      await sql`update users set is_active = false where id = ${u.id}`.execute(h.store.db);
      assert.ok(await eventually(async () => (await me(h, access)).status === 401), 'the deactivated user is refused');
      const refreshed = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh } });
      assert.equal(refreshed.statusCode, 401, refreshed.body);
      // A user deleted by hand: gone.
      const v = await createUser(h);
      const second = await login(h, v.username);
      assert.equal((await me(h, second.access)).status, 200);
      await sql`delete from users where id = ${v.id}`.execute(h.store.db);
      assert.ok(await eventually(async () => (await me(h, second.access)).status === 401), 'the deleted user is refused');
    });

    it('while the feed is lost, the cache is not used; after it is back, nothing old is served', async () => {
      let sink: RevocationSink | undefined;
      const feed = { name: 'test-feed', start: async (s: RevocationSink) => { sink = s; } };
      const store = await openTestStore(name);
      const own = await harness(name, { store });
      // A second Auth on the same store, with one more feed the test can lose.
      const auth: Auth = createAuth(testConfig(), { store, feeds: [feed], passwords: testPasswords() });
      await auth.start();
      try {
        const u = await createUser(own);
        const { access } = await login(own, u.username);
        const principal = auth.authenticate(access);
        // A change nobody announces (triggers off for this transaction): the cache still holds the old row,
        // which is what the feed rule below is for.
        const unannounced = async (firstName: string) =>
          store.db.transaction().execute(async (tx) => {
            await sql`set local session_replication_role = replica`.execute(tx);
            await sql`update users set first_name = ${firstName} where id = ${u.id}`.execute(tx);
          });
        // The login's own notification (last_login) may reach this Auth late and empty the cache once
        // in between; such a round proves nothing and is tried again with a new name.
        let silent = '';
        let round = 0;
        const servedFromCache = await eventually(async () => {
          const cached = (await auth.me(principal)).first_name;
          silent = `Silent ${(round += 1)}`;
          await unannounced(silent);
          return (await auth.me(principal)).first_name === cached;
        });
        assert.ok(servedFromCache, 'served from the cache');

        sink!.lost!();
        assert.equal((await auth.me(principal)).first_name, silent, 'lost feed: read from the database');
        await unannounced('Again');
        assert.equal((await auth.me(principal)).first_name, 'Again', 'and nothing stored meanwhile');

        sink!.resync();
        const hits = auth.userCacheStats()!.hits;
        assert.ok(await eventually(async () => {
          assert.equal((await auth.me(principal)).first_name, 'Again');
          return auth.userCacheStats()!.hits > hits;
        }), 'the cache is used again once the feed is back');
      } finally {
        await auth.stop();
        await own.close();
        await store.drop();
      }
    });

    it('holds at most USER_CACHE_SIZE users', async () => {
      const small = await harness(name, { env: { USER_CACHE_SIZE: '2' } });
      try {
        for (let i = 0; i < 4; i += 1) {
          const u = await createUser(small);
          const { access } = await login(small, u.username);
          assert.equal((await me(small, access)).status, 200);
        }
        assert.equal(small.auth.userCacheStats()!.size, 2);
      } finally {
        await small.close();
      }
    });

    it('is off without the store\'s notifications (REVOCATION_LISTEN=false): every read goes to the database', async () => {
      const deaf = await harness(name, { env: { REVOCATION_LISTEN: 'false' } });
      try {
        const u = await createUser(deaf);
        const { access } = await login(deaf, u.username);
        assert.equal((await me(deaf, access)).status, 200);
        assert.equal((await me(deaf, access)).status, 200);
        const stats = deaf.auth.userCacheStats()!;
        assert.deepEqual([stats.size, stats.hits], [0, 0]);
      } finally {
        await deaf.close();
      }
    });

    if (name === 'postgres') {
      it('a change through another instance shows here (its own connections, as another process)', async () => {
        const otherStore = await openStore({ databaseUrl: process.env.DATABASE_URL, schema: await currentSchema(h.store) });
        const other = createAuth(testConfig(), { store: otherStore, passwords: testPasswords() });
        await other.start();
        try {
          const u = await createUser(h);
          const { access } = await login(h, u.username);
          assert.equal((await me(h, access)).body.first_name, '');
          await other.admin.updateUser(u.id, { first_name: 'Elsewhere', is_staff: true }, { userId: u.id, sessionId: 'none', client: { ip: null, userAgent: null } });
          assert.ok(await eventually(async () => (await me(h, access)).body.first_name === 'Elsewhere'), 'the other instance’s change showed');
          assert.equal((await me(h, access)).body.is_staff, true);
        } finally {
          await other.stop();
          await otherStore.close();
        }
      });
    }
  });
}
