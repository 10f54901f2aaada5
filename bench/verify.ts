/**
 * Throughput of token checks, against a bare Fastify route as the ceiling.
 *
 *   npm run bench                                   # embedded PGlite, in memory
 *   DATABASE_URL=postgres://… npm run bench         # PostgreSQL, in a throwaway schema
 *   BENCH_DURATION=10 BENCH_CONNECTIONS=10 npm run bench
 *
 * Two processes: this one forks itself as the server (`--serve`) and drives it
 * with autocannon from the parent, so load generator and server do not share
 * one event loop (they do share the machine's cores). Only 127.0.0.1 is used.
 *
 * Targets, each with a warm-up and then a measured run:
 *   bare   GET  /bare        a plain Fastify 5 instance in the server process, returning {}
 *   verify POST /auth/verify/ {"token": access}   (signature + in-memory revocation check)
 *   me     GET  /auth/me/     Authorization: Bearer access (token check + one users row read)
 *
 * Any non-2xx response, socket error, timeout or body other than the one checked
 * by hand before the run fails the bench (exit 1). Latencies are taken per response
 * at microsecond resolution; with a fixed number of connections they are mostly
 * queueing time (connections ÷ throughput).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, availableParallelism, loadavg } from 'node:os';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const HOST = '127.0.0.1';
const SIGNING_KEY = 'bench-signing-key-0123456789-abcdefghijklmnopqrs'; // 48 characters
const USERNAME = 'bench';
const PASSWORD = 'correct horse battery staple';

interface Ready {
  type: 'ready';
  store: 'pglite' | 'postgres';
  barePort: number;
  appPort: number;
  access: string;
}
interface CpuReport {
  type: 'cpu';
  micros: number;
}
type ServerMessage = Ready | CpuReport | { type: 'failed'; message: string };
type ParentMessage = { type: 'cpu' } | { type: 'stop' };

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

// ---------------------------------------------------------------- server side

async function serve(): Promise<void> {
  const send = (message: ServerMessage) => process.send?.(message);
  const { default: Fastify } = await import('fastify');
  const { sql } = await import('kysely');
  const { createAuth } = await import('../src/create-auth.ts');
  const { loadConfig } = await import('../src/config.ts');
  const { buildApp } = await import('../src/http/app.ts');
  const { openStore } = await import('../src/store/connect.ts');
  const { migrateToLatest } = await import('../src/store/migrate.ts');

  const databaseUrl = process.env.DATABASE_URL || undefined;
  const schema = databaseUrl ? `lk_bench_${randomBytes(6).toString('hex')}` : undefined;
  const store = databaseUrl ? await openStore({ databaseUrl, schema }) : await openStore({ dataDir: 'memory://' });
  const dropStore = async () => {
    if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(store.db);
    await store.close();
  };

  let auth: ReturnType<typeof createAuth> | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  const shutdown = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await auth?.stop();
    await dropStore().catch((error: unknown) => console.error('bench: could not clean up the store:', error));
  };

  try {
    await migrateToLatest(store.db);
    const config = loadConfig({ SIGNING_KEY, LOG_LEVEL: 'silent' });
    auth = createAuth(config, { store });
    await auth.start();
    const app = await buildApp({ auth });
    closers.push(() => app.close());
    await auth.createUser({ username: USERNAME, email: `${USERNAME}@example.com`, password: PASSWORD });
    const login = await app.inject({ method: 'POST', url: '/auth/login/', payload: { username: USERNAME, password: PASSWORD } });
    if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`);
    const { access } = login.json() as { access: string };

    const bare = Fastify({ logger: false });
    bare.get('/bare', async () => ({}));
    closers.push(() => bare.close());

    await app.listen({ host: HOST, port: 0 });
    await bare.listen({ host: HOST, port: 0 });
    const portOf = (address: ReturnType<typeof app.server.address>) => {
      if (address === null || typeof address === 'string') throw new Error('no TCP address');
      return address.port;
    };
    send({ type: 'ready', store: store.kind, barePort: portOf(bare.server.address()), appPort: portOf(app.server.address()), access });
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
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      send({ type: 'cpu', micros: user + system });
    } else if (message.type === 'stop') void stop(0);
  });
  // The parent went away without saying stop, or a signal came: clean up anyway (drops the schema).
  process.on('disconnect', () => void stop(0));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop(1));
}

// ---------------------------------------------------------------- load side

interface Target {
  name: string;
  port: number;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Checks one response by hand before loading it; every loaded response must then have the same body. */
  expect: (status: number, body: string) => boolean;
}

interface Measured {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  serverCpu: number;
  clientCpu: number;
  /** CPU of local `postgres` processes meanwhile (PostgreSQL runs only); NaN where not measured. */
  postgresCpu: number;
  /** CPU used by everything else on the machine meanwhile; NaN where /proc/stat is unreadable. */
  otherCpu: number;
}

/** CPU time in µs of all local processes named `postgres` (Linux /proc), or undefined elsewhere. */
function postgresMicros(): number | undefined {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' '); // fields from 3 (state) on
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    }
    return (ticks * 1e6) / 100;
  } catch {
    return undefined;
  }
}

/** Busy CPU time of the whole machine in µs (Linux /proc/stat), or undefined elsewhere. */
function machineBusyMicros(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

class Server {
  readonly #child: ChildProcess;
  #waiting: Array<(message: ServerMessage) => void> = [];
  #exited: Promise<number | null>;

  constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (message: ServerMessage) => this.#waiting.shift()?.(message));
    this.#exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    this.#exited.then(() => {
      for (const waiter of this.#waiting.splice(0)) waiter({ type: 'failed', message: 'server process exited' });
    });
  }

  next(timeoutMs: number): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }

  async cpuMicros(): Promise<number> {
    this.#child.send({ type: 'cpu' } satisfies ParentMessage);
    const message = await this.next(5000);
    if (message.type !== 'cpu') throw new Error(`unexpected message from server: ${JSON.stringify(message)}`);
    return message.micros;
  }

  /** Asks the server to close and clean up; kills it if it does not within the timeout. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ type: 'stop' } satisfies ParentMessage);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.#child.kill('SIGKILL');
  }
}

interface Run {
  result: autocannon.Result;
  /** Latency percentiles in ms with microsecond resolution (autocannon's own histogram counts whole ms). */
  p50: number;
  p99: number;
}

/** One autocannon run; throws unless every response was a 2xx with the expected body. */
function load(target: Target, expectBody: string, seconds: number, connections: number): Promise<Run> {
  const micros = createHistogram();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://${HOST}:${target.port}${target.path}`,
        method: target.method,
        headers: target.headers,
        ...(target.body !== undefined ? { body: target.body } : {}),
        expectBody,
        connections,
        pipelining: 1,
        duration: seconds,
        timeout: 10,
      },
      (error, result) => {
        if (error) return reject(error);
        const bad = result.non2xx + result.errors + result.timeouts + result.mismatches;
        if (bad > 0 || result['2xx'] === 0) {
          return reject(
            new Error(
              `${target.name}: ${result.non2xx} non-2xx (4xx ${result['4xx']}, 5xx ${result['5xx']}), ${result.errors} errors, ` +
                `${result.timeouts} timeouts, ${result.mismatches} unexpected bodies, of ${result.requests.total} requests`,
            ),
          );
        }
        resolve({ result, p50: micros.percentile(50) / 1000, p99: micros.percentile(99) / 1000 });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, ms) => {
      if (statusCode >= 200 && statusCode < 300) micros.record(Math.max(1, Math.round(ms * 1000)));
    });
  });
}

/** One request by hand before the load: the answer every loaded request must then repeat byte for byte. */
async function check(target: Target): Promise<string> {
  const response = await fetch(`http://${HOST}:${target.port}${target.path}`, {
    method: target.method,
    headers: target.headers,
    ...(target.body !== undefined ? { body: target.body } : {}),
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (!target.expect(response.status, body)) throw new Error(`${target.name}: unexpected answer ${response.status} ${body}`);
  return body;
}

function pad(cells: string[], widths: number[]): string {
  return `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
}

function table(rows: Measured[], withPostgres: boolean): string {
  const bareRps = rows.find((row) => row.name === 'bare')?.rps ?? NaN;
  const percent = (share: number) => (Number.isNaN(share) ? 'n/a' : `${(Math.max(0, share) * 100).toFixed(0)} %`);
  const header = ['target', 'req/s (mean)', 'p50 ms', 'p99 ms', 'vs bare', 'requests', 'server CPU', 'autocannon CPU'];
  if (withPostgres) header.push('postgres CPU');
  header.push('other CPU');
  const body = rows.map((row) => [
    row.name,
    row.rps.toFixed(0),
    row.p50.toFixed(2),
    row.p99.toFixed(2),
    `${((row.rps / bareRps) * 100).toFixed(1)} %`,
    String(row.requests),
    percent(row.serverCpu),
    percent(row.clientCpu),
    ...(withPostgres ? [percent(row.postgresCpu)] : []),
    percent(row.otherCpu),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [pad(header, widths), rule, ...body.map((cells) => pad(cells, widths))].join('\n');
}

async function main(): Promise<void> {
  const duration = positiveInt('BENCH_DURATION', 10);
  const warmup = positiveInt('BENCH_WARMUP', 2);
  const connections = positiveInt('BENCH_CONNECTIONS', 10);
  const cpu = cpus();

  console.log(`node ${process.version} on ${process.platform}/${process.arch}`);
  console.log(`cpu: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} (available parallelism ${availableParallelism()})`);
  console.log(`autocannon: ${connections} connections, pipelining 1, warm-up ${warmup} s + measured ${duration} s per target, host ${HOST}`);
  console.log('setup: server in a forked child process, autocannon in this one');
  console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  // Everything together must end: setup, three targets, shutdown.
  const budgetMs = 120_000 + 3 * (warmup + duration) * 1000 * 1.5;
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const server = new Server(child);
  const deadline = setTimeout(() => {
    console.error(`bench: gave up after ${budgetMs / 1000} s`);
    server.kill();
    process.exit(1);
  }, budgetMs);
  deadline.unref();

  try {
    const ready = await server.next(90_000);
    if (ready.type === 'failed') throw new Error(`server failed to start:\n${ready.message}`);
    if (ready.type !== 'ready') throw new Error(`unexpected message from server: ${JSON.stringify(ready)}`);
    console.log(`store: ${ready.store}${ready.store === 'postgres' ? ' (throwaway schema lk_bench_…)' : ' (PGlite, memory://)'}\n`);

    const targets: Target[] = [
      { name: 'bare', port: ready.barePort, method: 'GET', path: '/bare', headers: {}, expect: (s, b) => s === 200 && b === '{}' },
      {
        name: 'verify',
        port: ready.appPort,
        method: 'POST',
        path: '/auth/verify/',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: ready.access }),
        expect: (s, b) => s === 200 && b === '{}',
      },
      {
        name: 'me',
        port: ready.appPort,
        method: 'GET',
        path: '/auth/me/',
        headers: { authorization: `Bearer ${ready.access}` },
        expect: (s, b) => s === 200 && (JSON.parse(b) as { username?: string }).username === USERNAME,
      },
    ];

    const withPostgres = ready.store === 'postgres';
    const rows: Measured[] = [];
    for (const target of targets) {
      const expectBody = await check(target);
      await load(target, expectBody, warmup, connections);
      const cpuBefore = await server.cpuMicros();
      const clientBefore = process.cpuUsage();
      const machineBefore = machineBusyMicros();
      const postgresBefore = withPostgres ? postgresMicros() : undefined;
      const { result, p50, p99 } = await load(target, expectBody, duration, connections);
      const postgresAfter = withPostgres ? postgresMicros() : undefined;
      const machineAfter = machineBusyMicros();
      const client = process.cpuUsage(clientBefore);
      const postgres = postgresBefore === undefined || postgresAfter === undefined ? NaN : postgresAfter - postgresBefore;
      const cpuAfter = await server.cpuMicros();
      const row: Measured = {
        name: target.name,
        rps: result.requests.mean,
        p50,
        p99,
        requests: result['2xx'],
        serverCpu: (cpuAfter - cpuBefore) / (result.duration * 1e6),
        clientCpu: (client.user + client.system) / (result.duration * 1e6),
        postgresCpu: postgres / (result.duration * 1e6),
        otherCpu:
          machineBefore === undefined || machineAfter === undefined
            ? NaN
            : (machineAfter - machineBefore - (cpuAfter - cpuBefore) - (client.user + client.system) - (Number.isNaN(postgres) ? 0 : postgres)) /
              (result.duration * 1e6),
      };
      rows.push(row);
      console.log(`${target.name}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms, ${row.requests} × 2xx, 0 non-2xx, 0 errors`);
    }

    console.log(`\n${table(rows, withPostgres)}`);
    console.log('\nCPU columns: CPU time during the measured run as a share of one core — the server process, this');
    console.log(`autocannon process,${withPostgres ? ' local postgres processes,' : ''} and everything else on the machine (other CPU: ~0 % when quiet).`);
    console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await server.stop();
    clearTimeout(deadline);
  }
}

if (process.argv.includes('--serve')) {
  await serve();
} else {
  try {
    await main();
  } catch (error) {
    console.error('bench failed:', error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
