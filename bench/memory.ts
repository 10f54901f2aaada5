/**
 * Memory with 100,000 live sessions and 10,000 recent revocations (forked by
 * bench/run.ts with --expose-gc, once per store; BENCH_STORE=pglite|postgres).
 *
 * 10,000 users with 10 sessions each (and a refresh token per session) are
 * written by SQL; 10,000 of the sessions were revoked within the last minute.
 * Then an Auth starts (loading the revocations into its list) and GET
 * /auth/me/'s read runs once for every user, filling the user cache to its
 * bound. RSS and V8 heap are read after a full GC at each step.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { createAuth } from '../src/create-auth.ts';
import { loadConfig } from '../src/config.ts';
import { openStore } from '../src/store/connect.ts';
import { migrateToLatest } from '../src/store/migrate.ts';
import { SIGNING_KEY } from './server.ts';

const USERS = 10_000;
const SESSIONS = 100_000;
const REVOKED = 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
function reading(): { rss: number; heap: number } {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss / 2 ** 20, heap: usage.heapUsed / 2 ** 20 };
}

const postgres = process.env.BENCH_STORE === 'postgres';
const schema = postgres ? `lk_bench_mem_${randomBytes(5).toString('hex')}` : undefined;
const store = postgres ? await openStore({ databaseUrl: process.env.DATABASE_URL, schema }) : await openStore({ dataDir: 'memory://' });
const steps: Array<[string, { rss: number; heap: number }, string]> = [];
try {
  await migrateToLatest(store.db);
  steps.push(['database open and migrated, empty', reading(), '']);

  const started = performance.now();
  // In batches: the identifier trigger takes two advisory locks per row, held to the end of the statement's transaction.
  for (let from = 1; from <= USERS; from += 500) {
    await sql`
      insert into users (id, username, email, password, role, date_joined)
      overriding system value
      select g, 'user' || g, 'user' || g || '@example.com', '!', 'client', now() from generate_series(${from}::int, ${Math.min(USERS, from + 499)}::int) g`.execute(store.db);
  }
  await sql`
    insert into sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, revoked_reason, user_agent, ip)
    select 's' || g, 1 + g % ${USERS}, now(), now(), now() + interval '1 day',
           case when g <= ${REVOKED} then now() - (g % 60) * interval '1 second' end,
           case when g <= ${REVOKED} then 'logout' end,
           'Mozilla/5.0 (bench)', '127.0.0.1'
    from generate_series(1, ${SESSIONS}) g`.execute(store.db);
  await sql`
    insert into refresh_tokens (jti, session_id, issued_at, expires_at, access_jti, access_expires_at)
    select 'r' || g, 's' || g, now(), now() + interval '1 day', 'a' || g, now() + interval '5 minutes' from generate_series(1, ${SESSIONS}) g`.execute(store.db);
  const written = ((performance.now() - started) / 1000).toFixed(1);
  steps.push([`${USERS.toLocaleString('en')} users, ${SESSIONS.toLocaleString('en')} sessions and refresh tokens written (${written} s)`, reading(), '']);

  const config = loadConfig({ SIGNING_KEY, LOG_LEVEL: 'silent', THROTTLE: 'off' });
  const auth = createAuth(config, { store });
  await auth.start();
  steps.push(['Auth started: recent revocations loaded', reading(), `${auth.revokedSessionCount().toLocaleString('en')} sessions in the revocation list`]);

  for (let id = 1; id <= USERS; id += 1) await auth.me({ userId: id, sessionId: '', role: null, accountId: null, restricted: false, enrollmentRequired: false, amr: null, aal: 'aal1', authTime: null });
  const cache = auth.userCacheStats();
  steps.push([`every user's profile read once (GET /auth/me/'s read)`, reading(), `${(cache?.size ?? 0).toLocaleString('en')} rows in the user cache (USER_CACHE_SIZE ${config.userCacheSize})`]);
  await auth.stop();
} finally {
  if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db).catch(() => {});
  await store.close();
}

const base = steps[0]![1];
const lines = [
  `| step | RSS MiB | V8 heap used MiB | Δ RSS from empty | |`,
  `|---|--:|--:|--:|---|`,
  ...steps.map(([step, r, note]) => `| ${step} | ${r.rss.toFixed(1)} | ${r.heap.toFixed(1)} | ${(r.rss - base.rss).toFixed(1)} | ${note} |`),
  '',
  postgres
    ? 'On PostgreSQL the rows live in the server\'s processes: the sessions cost the Node process nothing; what grows is the revocation list (one Map entry per session revoked within one access-token lifetime) and the user cache (at most USER_CACHE_SIZE rows).'
    : 'On the embedded database the rows live in this process too (PGlite\'s WASM memory, which grows with the data and does not shrink), so RSS includes the database\'s pages; the V8 heap shows what Latchkey itself holds: the revocation list and the user cache.',
];
for (const line of lines) console.log(`  ${line}`);
process.send?.({ store: postgres ? 'PostgreSQL' : 'embedded (PGlite)', lines });
process.exit(0);
