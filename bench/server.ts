/**
 * The server side of `npm run bench` (bench/run.ts forks it; never run by hand).
 * One process: a bare Fastify instance (`GET /bare` and `POST /bare` → {}) and the Latchkey app,
 * both on 127.0.0.1, port 0, THROTTLE=off, logger off.
 *
 *   BENCH_STORE       pglite | postgres
 *   BENCH_SCHEMA      PostgreSQL schema (shared by the instances of one run)
 *   BENCH_OWNER       1: this instance migrates the schema and drops it at the end
 *   BENCH_SRC         the source tree to run (default ../src; a "before" tree extracted from git)
 *   DATABASE_URL      for postgres
 *
 * Messages from the parent: `cpu` (answers the process's CPU time), `ceiling`
 * (argon2id verifications per second through a hashing gate like the
 * server's, for 3 s, no HTTP), `loop-start` and `loop` (the event loop's delay
 * in between, ms), `stop`.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const HOST = '127.0.0.1';
export const SIGNING_KEY = 'bench-signing-key-0123456789-abcdefghijklmnopqrs';
export const USERNAME = 'bench';
export const PASSWORD = 'correct horse battery staple';

export type ServerMessage =
  | { type: 'ready'; store: string; barePort: number; appPort: number; hashConcurrency: number; hashQueue: number }
  | { type: 'cpu'; micros: number }
  | { type: 'ceiling'; perSecond: number }
  | { type: 'loop'; p50: number; p99: number; max: number }
  | { type: 'failed'; message: string };
export type ParentMessage = { type: 'cpu' } | { type: 'ceiling' } | { type: 'loop-start' } | { type: 'loop' } | { type: 'stop' };

async function serve(): Promise<void> {
  const send = (message: ServerMessage) => process.send?.(message);
  const src = process.env.BENCH_SRC ? pathToFileURL(`${process.env.BENCH_SRC.replace(/\/$/, '')}/`).href : new URL('../src/', import.meta.url).href;
  const { default: Fastify } = await import('fastify');
  const { sql } = await import('kysely');
  const { createAuth } = await import(`${src}create-auth.ts`);
  const { loadConfig } = await import(`${src}config.ts`);
  const { buildApp } = await import(`${src}http/app.ts`);
  const { openStore } = await import(`${src}store/connect.ts`);
  const { migrateToLatest } = await import(`${src}store/migrate.ts`);

  const postgres = process.env.BENCH_STORE === 'postgres';
  const schema = process.env.BENCH_SCHEMA;
  const owner = process.env.BENCH_OWNER === '1';
  const store = postgres ? await openStore({ databaseUrl: process.env.DATABASE_URL, schema }) : await openStore({ dataDir: 'memory://' });
  const closers: Array<() => Promise<unknown>> = [];
  let auth: { start(): Promise<void>; stop(): Promise<void>; createUser(input: object): Promise<unknown> } | undefined;
  const shutdown = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await auth?.stop().catch(() => {});
    if (owner && postgres && schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db).catch(() => {});
    await store.close().catch(() => {});
  };

  let config: { passwordHashConcurrency: number; passwordHashQueue: number };
  try {
    if (owner || !postgres) await migrateToLatest(store.db);
    config = loadConfig({ SIGNING_KEY, LOG_LEVEL: 'silent', THROTTLE: 'off' });
    const started = createAuth(config, { store });
    auth = started;
    await started.start();
    const app = await buildApp({ auth: started });
    closers.push(() => app.close());
    if (owner || !postgres) await started.createUser({ username: USERNAME, email: `${USERNAME}@example.com`, password: PASSWORD });

    const bare = Fastify({ logger: false });
    bare.get('/bare', async () => ({}));
    // The same with a JSON body read and parsed, as POST /auth/verify/ gets one.
    bare.post('/bare', async () => ({}));
    closers.push(() => bare.close());
    await app.listen({ host: HOST, port: 0 });
    await bare.listen({ host: HOST, port: 0 });
    const portOf = (address: unknown) => (address as { port: number }).port;
    send({
      type: 'ready',
      store: store.kind,
      barePort: portOf(bare.server.address()),
      appPort: portOf(app.server.address()),
      hashConcurrency: config.passwordHashConcurrency,
      hashQueue: config.passwordHashQueue,
    });
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    await shutdown();
    process.exit(1);
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await shutdown();
    process.exit(code);
  };
  let loop: IntervalHistogram | undefined;
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'loop-start') {
      loop?.disable();
      loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      send({ type: 'loop', p50: 0, p99: 0, max: 0 });
    } else if (message.type === 'loop') {
      loop?.disable();
      const ms = (ns: number | undefined) => (ns ?? 0) / 1e6;
      send({ type: 'loop', p50: ms(loop?.percentile(50)), p99: ms(loop?.percentile(99)), max: ms(loop?.max) });
    } else if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
    } else if (message.type === 'ceiling') {
      ceiling(src, config.passwordHashConcurrency).then(
        (perSecond) => send({ type: 'ceiling', perSecond }),
        (error: unknown) => send({ type: 'failed', message: String(error) }),
      );
    } else if (message.type === 'stop') void stop(0);
  });
  process.on('disconnect', () => void stop(0));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(1));
}

/** argon2id verifications per second with `concurrency` at once, for 3 s: what logins can reach at best. */
async function ceiling(src: string, concurrency: number): Promise<number> {
  const { HashGate } = await import(`${src}limits/hashing.ts`);
  const { hashArgon2id, verifyArgon2id } = await import(`${src}users/hashers/argon2id.ts`);
  const gate = new HashGate({ concurrency, queue: 1_000_000 });
  const encoded = await hashArgon2id(PASSWORD);
  let done = 0;
  const until = performance.now() + 3000;
  await Promise.all(
    Array.from({ length: concurrency * 2 }, async () => {
      while (performance.now() < until) {
        await gate.run(() => verifyArgon2id(encoded, 'wrong'));
        done += 1;
      }
    }),
  );
  return done / 3;
}

if (process.argv.includes('--serve')) await serve();
