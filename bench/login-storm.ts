/**
 * Load shedding under a login storm (SPEC §5), THROTTLE=off.
 *
 *   node --import tsx bench/login-storm.ts          # embedded PGlite, in memory
 *   BENCH_DURATION=10 node --import tsx bench/login-storm.ts
 *
 * The server runs in a forked process (`--serve`); this process drives it
 * with autocannon, on 127.0.0.1 only, every run bounded in time or count.
 *
 * 1. ceiling   argon2id verifications per second through the server's own
 *              hashing gate, in the server process, with no HTTP at all
 * 2. logins    bad logins over HTTP, 16 connections: the login rate (401s) and
 *              how many were shed (503)
 * 3. storm     the same storm, 64 connections, while one more connection asks
 *              GET /auth/me/ back to back: its p50/p99 is what a signed-in user
 *              sees during an attack
 * 4. burst     300 bad logins at once, one connection each, while /healthz and
 *              /auth/verify/ are asked on new connections every 20 ms: the
 *              slowest login answer and the probes' latencies
 */
import { fork, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const HOST = '127.0.0.1';
const SIGNING_KEY = 'bench-signing-key-0123456789-abcdefghijklmnopqrs';
const PASSWORD = 'correct horse battery staple';
const DURATION = Number(process.env.BENCH_DURATION ?? 8);

interface Ready { type: 'ready'; port: number; access: string; ceiling: number; concurrency: number; queue: number }

async function serve(): Promise<void> {
  const { createAuth } = await import('../src/create-auth.ts');
  const { loadConfig } = await import('../src/config.ts');
  const { buildApp } = await import('../src/http/app.ts');
  const { openStore } = await import('../src/store/connect.ts');
  const { migrateToLatest } = await import('../src/store/migrate.ts');
  const { HashGate } = await import('../src/limits/hashing.ts');
  const { hashArgon2id, verifyArgon2id } = await import('../src/users/hashers/argon2id.ts');
  const store = await openStore({ dataDir: 'memory://' });
  await migrateToLatest(store.db);
  const config = loadConfig({ SIGNING_KEY, LOG_LEVEL: 'silent', THROTTLE: 'off' });
  const auth = createAuth(config, { store });
  await auth.start();
  const app = await buildApp({ auth });
  await auth.createUser({ username: 'bench', email: 'bench@example.com', password: PASSWORD });
  const login = await app.inject({ method: 'POST', url: '/auth/login/', payload: { username: 'bench', password: PASSWORD } });
  const { access } = login.json() as { access: string };

  // The hashing ceiling: the gate's concurrency, kept full for 3 s, nothing else.
  const gate = new HashGate({ concurrency: config.passwordHashConcurrency, queue: 1_000_000 });
  const encoded = await hashArgon2id(PASSWORD);
  let done = 0;
  const until = performance.now() + 3000;
  await Promise.all(Array.from({ length: config.passwordHashConcurrency * 2 }, async () => {
    while (performance.now() < until) {
      await gate.run(() => verifyArgon2id(encoded, 'wrong'));
      done += 1;
    }
  }));
  const ceiling = done / 3;

  await app.listen({ host: HOST, port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.send?.({ type: 'ready', port: address.port, access, ceiling, concurrency: config.passwordHashConcurrency, queue: config.passwordHashQueue } satisfies Ready);
  process.on('message', async () => {
    await app.close();
    await auth.stop();
    await store.close();
    process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
}

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

const badLogin = (port: number) => ({
  url: `http://${HOST}:${port}/auth/login/`,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'bench', password: 'wrong password' }),
  timeout: 30,
});

/** One request on a new connection; its latency in ms and status. */
function probe(port: number, method: 'GET' | 'POST', path: string, body?: string): Promise<{ ms: number; status: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({ host: HOST, port, method, path, agent: false, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0 }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'] });
  const ready = await new Promise<Ready>((resolve) => child.once('message', (m) => resolve(m as Ready)));
  const { port, access } = ready;
  try {
    console.log(`hashing gate: ${ready.concurrency} at once, ${ready.queue} queued; ceiling ${ready.ceiling.toFixed(1)} verifications/s`);

    const logins = await cannon({ ...badLogin(port), connections: 16, duration: DURATION });
    const loginRate = logins['4xx'] / DURATION;
    console.log(`logins (16 connections, ${DURATION}s): ${loginRate.toFixed(1)} 401/s (${((100 * loginRate) / ready.ceiling).toFixed(0)} % of the ceiling), ` +
      `${logins['5xx']} shed (503), ${logins.errors} errors, p99 ${logins.latency.p99} ms`);

    const storm = cannon({ ...badLogin(port), connections: 64, duration: DURATION });
    const me = cannon({ url: `http://${HOST}:${port}/auth/me/`, headers: { authorization: `Bearer ${access}` }, connections: 1, duration: DURATION - 1 });
    const [stormResult, meResult] = await Promise.all([storm, me]);
    const stormRate = stormResult['4xx'] / DURATION;
    console.log(`storm (64 connections): ${stormRate.toFixed(1)} 401/s (${((100 * stormRate) / ready.ceiling).toFixed(0)} % of the ceiling), ${(stormResult['5xx'] / DURATION).toFixed(0)} shed/s; ` +
      `meanwhile GET /auth/me/ on one connection: ${(meResult['2xx'] / (DURATION - 1)).toFixed(0)} req/s, p50 ${meResult.latency.p50} ms, p99 ${meResult.latency.p99} ms, non-2xx ${meResult.non2xx}`);

    const health: number[] = [];
    const verify: number[] = [];
    let probing = true;
    const probes = (async () => {
      for (let i = 0; probing && i < 1000; i += 1) {
        health.push((await probe(port, 'GET', '/healthz')).ms);
        verify.push((await probe(port, 'POST', '/auth/verify/', JSON.stringify({ token: access }))).ms);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const burst = await cannon({ ...badLogin(port), connections: 300, amount: 300 });
    probing = false;
    await probes;
    console.log(`burst of 300 logins at once: ${burst['4xx']} × 401, ${burst['5xx']} × 503, ${burst.errors} errors, ${burst.timeouts} timeouts, slowest ${burst.latency.max} ms; ` +
      `/healthz on new connections p50 ${percentile(health, 50).toFixed(1)} ms p99 ${percentile(health, 99).toFixed(1)} ms max ${Math.max(...health).toFixed(1)} ms; ` +
      `/auth/verify/ p50 ${percentile(verify, 50).toFixed(1)} ms p99 ${percentile(verify, 99).toFixed(1)} ms (${health.length} probes each)`);
  } finally {
    child.send('stop');
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
