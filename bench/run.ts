/**
 * `npm run bench`: every figure of bench/RESULTS.md in one bounded run, on
 * 127.0.0.1 only, and the file rewritten with them.
 *
 *   npm run bench                                  # embedded PGlite, and PostgreSQL at DATABASE_URL
 *                                                  # (default postgres://postgres@127.0.0.1:5432/test; skipped if unreachable)
 *   BENCH_DURATION=8 BENCH_WARMUP=2 BENCH_CONNECTIONS=10 npm run bench
 *   BENCH_BEFORE=<git ref>|none                    # the "before" column for verify and me (default 3c22e1c)
 *   BENCH_WRITE=0                                  # print only, leave bench/RESULTS.md alone
 *   BENCH_REFRESH_CONNECTIONS=32 BENCH_REFRESH_SESSIONS=128 BENCH_STORM_ME_RATE=200
 *
 * For each store: a server process (bench/server.ts: a bare Fastify route and
 * the Latchkey app, THROTTLE=off) driven by autocannon from this process —
 * bare (GET and POST), verify, me, refresh with rotation (concurrent), login,
 * the reset-link request; then a login storm with /auth/me/ asked meanwhile. Then, on PostgreSQL, three server processes on
 * one schema: a logout on the first, and the time until both others refuse
 * the token. Then memory (bench/memory.ts) on each store. The whole run is
 * bounded by BENCH_DEADLINE seconds (default 900; on an idle machine it is
 * meant to end within 8 minutes, and prints how long it took): past the
 * deadline the children are killed and the run fails.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { PASSWORD, SIGNING_KEY, USERNAME, type ParentMessage, type ServerMessage } from './server.ts';

const HOST = '127.0.0.1';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const MEMORY = fileURLToPath(new URL('./memory.ts', import.meta.url));
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** The last commit before the speed work of issue 11 (user cache, one-statement rotation, lighter hooks). */
const DEFAULT_BEFORE = '3c22e1c';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

const DURATION = positiveInt('BENCH_DURATION', 8);
const WARMUP = positiveInt('BENCH_WARMUP', 2);
const CONNECTIONS = positiveInt('BENCH_CONNECTIONS', 10);
const LOGOUTS = positiveInt('BENCH_LOGOUTS', 200);
const DEADLINE_S = positiveInt('BENCH_DEADLINE', 900);
/** Refresh with rotation: connections, and the sessions whose tokens they take in turn. */
const REFRESH_CONNECTIONS = positiveInt('BENCH_REFRESH_CONNECTIONS', 32);
const REFRESH_SESSIONS = positiveInt('BENCH_REFRESH_SESSIONS', 4 * REFRESH_CONNECTIONS);
/** GET /auth/me/ during the login storm: requests per second, open loop (a user's latency, not a second flood). */
const STORM_ME_RATE = positiveInt('BENCH_STORM_ME_RATE', 200);

// ------------------------------------------------------------ processes

const children = new Set<ChildProcess>();

class Server {
  readonly ready: Promise<Extract<ServerMessage, { type: 'ready' }>>;
  readonly #child: ChildProcess;
  #waiting: Array<(message: ServerMessage) => void> = [];
  readonly #exited: Promise<void>;

  constructor(env: Record<string, string>) {
    // stdout ignored: the console mail backend prints every reset mail there (the reset-request rows).
    this.#child = fork(SERVER, ['--serve'], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    children.add(this.#child);
    this.#child.on('message', (message: ServerMessage) => this.#waiting.shift()?.(message));
    this.#exited = new Promise((resolve) => this.#child.on('exit', () => {
      children.delete(this.#child);
      for (const waiter of this.#waiting.splice(0)) waiter({ type: 'failed', message: 'server process exited' });
      resolve();
    }));
    this.ready = this.#next(120_000).then((message) => {
      if (message.type !== 'ready') throw new Error(`server failed to start: ${JSON.stringify(message)}`);
      return message;
    });
  }

  #next(timeoutMs: number): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.#waiting.push((message) => {
        clearTimeout(timer);
        resolve(message);
      });
    });
  }

  async ask<T extends ServerMessage['type']>(type: ParentMessage['type'], expect: T, timeoutMs = 10_000): Promise<Extract<ServerMessage, { type: T }>> {
    const answer = this.#next(timeoutMs);
    this.#child.send({ type } as ParentMessage);
    const message = await answer;
    if (message.type !== expect) throw new Error(`unexpected message from server: ${JSON.stringify(message)}`);
    return message as Extract<ServerMessage, { type: T }>;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    if (this.#child.connected) this.#child.send({ type: 'stop' } satisfies ParentMessage);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 15_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

// ------------------------------------------------------------ CPU accounting (Linux /proc; NaN elsewhere)

function machineBusyMicros(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1e6) / 100;
  } catch {
    return NaN;
  }
}

function postgresMicros(): number {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return (ticks * 1e6) / 100;
  } catch {
    return NaN;
  }
}

// ------------------------------------------------------------ HTTP helpers

async function call(port: number, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`http://${HOST}:${port}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function loginPair(port: number): Promise<{ access: string; refresh: string }> {
  const answer = await call(port, 'POST', '/auth/login/', { username: USERNAME, password: PASSWORD });
  if (answer.status !== 200) throw new Error(`login: ${answer.status} ${answer.text}`);
  const body = answer.json();
  return { access: String(body.access), refresh: String(body.refresh) };
}

interface Row {
  store: string;
  target: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** CPU of everything but the server, autocannon and postgres during the run, as a share of one core. */
  otherCpu: number;
  /** The server process's CPU time per answered request, µs: what a route costs, whatever else the machine does. */
  cpuPerRequest: number;
  note?: string;
}

type Request = autocannon.Request;

/** One autocannon run; every response must be a 2xx (and, with `expectBody`, exactly that body). */
function cannon(options: { port: number; method?: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string; expectBody?: string; requests?: Request[]; connections: number; seconds: number; overallRate?: number }): Promise<{ result: autocannon.Result; p50: number; p99: number }> {
  const micros = createHistogram();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://${HOST}:${options.port}${options.path}`,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.expectBody !== undefined ? { expectBody: options.expectBody } : {}),
        ...(options.requests ? { requests: options.requests } : {}),
        connections: options.connections,
        ...(options.overallRate !== undefined ? { overallRate: options.overallRate } : {}),
        pipelining: 1,
        duration: options.seconds,
        timeout: 10,
      },
      (error, result) => {
        if (error) return reject(error);
        const bad = result.non2xx + result.errors + result.timeouts + result.mismatches;
        if (bad > 0 || result['2xx'] === 0) {
          return reject(new Error(`${options.path}: ${result.non2xx} non-2xx (4xx ${result['4xx']}, 5xx ${result['5xx']}), ${result.errors} errors, ${result.timeouts} timeouts, ${result.mismatches} unexpected bodies of ${result.requests.total}`));
        }
        resolve({ result, p50: micros.percentile(50) / 1000, p99: micros.percentile(99) / 1000 });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) micros.record(Math.max(1, Math.round(ms * 1000)));
    });
  });
}

/** Warm-up, then a measured run with the machine's other CPU use beside it. */
async function measure(store: string, target: string, run: (seconds: number) => Promise<{ result: autocannon.Result; p50: number; p99: number }>, server: Server, prepare?: () => Promise<void>): Promise<Row> {
  await prepare?.();
  // A warm-up that got no answer in time (a login on a busy machine) is no failure: the measured run judges.
  await run(WARMUP).catch(() => {});
  await prepare?.();
  const serverBefore = (await server.ask('cpu', 'cpu')).micros;
  const clientBefore = process.cpuUsage();
  const machineBefore = machineBusyMicros();
  const postgresBefore = postgresMicros();
  const { result, p50, p99 } = await run(DURATION);
  const postgres = postgresMicros() - postgresBefore;
  const machine = machineBusyMicros() - machineBefore;
  const client = process.cpuUsage(clientBefore);
  const serverCpu = (await server.ask('cpu', 'cpu')).micros - serverBefore;
  const row: Row = {
    store,
    target,
    rps: result['2xx'] / result.duration,
    p50,
    p99,
    requests: result['2xx'],
    otherCpu: (machine - serverCpu - client.user - client.system - (Number.isNaN(postgres) ? 0 : postgres)) / (result.duration * 1e6),
    cpuPerRequest: serverCpu / result.requests.total,
  };
  console.log(`  ${store} ${target}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, server ${row.cpuPerRequest.toFixed(0)} µs/request (other CPU ${(row.otherCpu * 100).toFixed(0)} %)`);
  return row;
}

// ------------------------------------------------------------ the parts

interface StoreSetup {
  label: string;
  env: Record<string, string>;
}

async function throughput(setup: StoreSetup, before: string | undefined): Promise<Row[]> {
  const server = new Server({ ...setup.env, BENCH_OWNER: '1' });
  const rows: Row[] = [];
  try {
    const ready = await server.ready;
    const { access } = await loginPair(ready.appPort);
    rows.push(await measure(setup.label, 'bare', (s) => cannon({ port: ready.barePort, path: '/bare', expectBody: '{}', connections: CONNECTIONS, seconds: s }), server));
    const barePost = await measure(setup.label, 'bare POST', (s) => verifyRun(ready.barePort, access, s, '/bare'), server);
    rows.push(barePost);
    const verify = await measure(setup.label, 'verify', (s) => verifyRun(ready.appPort, access, s), server);
    rows.push({ ...verify, note: `${((verify.rps / barePost.rps) * 100).toFixed(1)} % of bare POST (the same body read and parsed)` });
    // The server remembers tokens it has checked (4 096): this row sends each of 16 384 in turn, so none is remembered.
    const unseen = mintAccessTokens(access, 16_384).map((token) => JSON.stringify({ token }));
    const fresh = await measure(setup.label, 'verify (tokens not seen before)', (s) => verifyEachRun(ready.appPort, unseen, s), server);
    rows.push({ ...fresh, note: `${((fresh.rps / barePost.rps) * 100).toFixed(1)} % of bare POST; every signature checked` });
    const meBody = (await call(ready.appPort, 'GET', '/auth/me/', undefined, { authorization: `Bearer ${access}` })).text;
    rows.push(await measure(setup.label, 'me', (s) => meRun(ready.appPort, access, meBody, s), server));

    // Refresh with rotation, concurrently: REFRESH_SESSIONS sessions, REFRESH_CONNECTIONS at once. Every request
    // sends a token no request sent before (the successor an earlier answer gave), so every one rotates.
    let pool: string[] = [];
    const refill = async () => {
      pool = await loginPairs(ready.appPort, REFRESH_SESSIONS, ready.hashConcurrency + ready.hashQueue);
    };
    rows.push(await measure(setup.label, `refresh (rotation, ${REFRESH_CONNECTIONS} connections)`, (s) => cannon({
      port: ready.appPort,
      path: '/auth/refresh/',
      connections: REFRESH_CONNECTIONS,
      seconds: s,
      requests: [{
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // autocannon resets a connection's context after each sequence: a shared pool instead. Each
        // connection takes the oldest token, and its answer puts the successor at the back, so the
        // sessions take turns and the pool never runs dry.
        setupRequest: (request) => {
          const refresh = pool.shift();
          if (refresh === undefined) throw new Error('no refresh token left');
          return { ...request, body: JSON.stringify({ refresh }) };
        },
        onResponse: (status: number, body: string) => {
          if (status === 200) pool.push((JSON.parse(body) as { refresh: string }).refresh);
        },
      } as Request],
    }), server, refill));

    // Logins with the right password: argon2id at Latchkey's cost, as many connections as the gate has room for.
    const loginConnections = Math.min(8, ready.hashConcurrency + ready.hashQueue);
    rows.push(await measure(setup.label, `login (${loginConnections} connections)`, loginRun(ready.appPort, loginConnections), server));
    // Issue 14: asking for a reset link costs no hash; the answer (204) comes before the lookup and the mail.
    for (const [which, email] of [['known', `${USERNAME}@example.com`], ['unknown', 'nobody@example.com']] as const) {
      rows.push(await measure(setup.label, `reset request (${which} address)`, (s) => cannon({
        port: ready.appPort,
        method: 'POST',
        path: '/auth/password-reset/',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
        connections: CONNECTIONS,
        seconds: s,
      }), server));
    }
    rows.push(await storm(setup.label, server, ready.appPort, access, ready.hashConcurrency + ready.hashQueue));
  } finally {
    await server.stop();
  }

  if (before) {
    const old = new Server({ ...setup.env, BENCH_OWNER: '1', BENCH_SCHEMA: `${setup.env.BENCH_SCHEMA ?? ''}_before`, BENCH_SRC: join(before, 'src') });
    try {
      const ready = await old.ready;
      const { access } = await loginPair(ready.appPort);
      const meBody = (await call(ready.appPort, 'GET', '/auth/me/', undefined, { authorization: `Bearer ${access}` })).text;
      const bare = await measure(`${setup.label} (before)`, 'bare', (s) => cannon({ port: ready.barePort, path: '/bare', expectBody: '{}', connections: CONNECTIONS, seconds: s }), old);
      for (const [target, run] of [['verify', (s: number) => verifyRun(ready.appPort, access, s)], ['me', (s: number) => meRun(ready.appPort, access, meBody, s)]] as const) {
        const row = await measure(`${setup.label} (before)`, target, run, old);
        rows.push({ ...row, store: setup.label, target: `${target} (before)`, note: `${((row.rps / bare.rps) * 100).toFixed(1)} % of the bare route of its own run (${bare.rps.toFixed(0)} req/s)` });
      }
      // A login without a second factor must cost no more than before the second factor existed (issue 15).
      const loginNow = rows.find((r) => r.store === setup.label && r.target.startsWith('login'));
      if (loginNow) {
        const connections = Number(/\((\d+) connections\)/.exec(loginNow.target)?.[1] ?? 8);
        const row = await measure(`${setup.label} (before)`, 'login', loginRun(ready.appPort, connections), old);
        rows.push({ ...row, store: setup.label, target: `login (before)`, note: `this run's login above: ${((loginNow.rps / row.rps) * 100).toFixed(1)} % of this` });
      }
    } catch (error) {
      console.log(`  before: skipped (${error instanceof Error ? error.message : String(error)})`);
    } finally {
      await old.stop();
    }
  }
  return rows;
}

/** `count` sessions, logged in `parallel` at a time (no more than the hashing gate admits); their refresh tokens. */
/** Logins of the bench user (no second factor) with the right password, on `connections` connections. */
function loginRun(port: number, connections: number): (seconds: number) => ReturnType<typeof cannon> {
  return (seconds) => cannon({
    port,
    method: 'POST',
    path: '/auth/login/',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USERNAME, password: PASSWORD }),
    connections,
    seconds,
  });
}

async function loginPairs(port: number, count: number, parallel: number): Promise<string[]> {
  const tokens: string[] = [];
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, async () => {
    while (tokens.length < count) tokens.push((await loginPair(port)).refresh);
  }));
  return tokens.slice(0, count);
}

function verifyRun(port: number, access: string, seconds: number, path = '/auth/verify/') {
  return cannon({ port, method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: access }), expectBody: '{}', connections: CONNECTIONS, seconds });
}

/** POST /auth/verify/ with the given bodies in turn, one per request. */
function verifyEachRun(port: number, bodies: string[], seconds: number) {
  let next = 0;
  return cannon({
    port,
    path: '/auth/verify/',
    connections: CONNECTIONS,
    seconds,
    // autocannon takes no expectBody beside requests; a refused token would be a 401 (non-2xx fails the run).
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }),
    } as Request],
  });
}

/**
 * `count` access tokens like `access` (same header, key and claims) but each with its own jti,
 * signed here with the bench's SIGNING_KEY (HS256): valid tokens the server has never seen.
 */
function mintAccessTokens(access: string, count: number): string[] {
  const [header, payload] = access.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return Array.from({ length: count }, () => {
    const input = `${header}.${Buffer.from(JSON.stringify({ ...claims, jti: randomBytes(16).toString('hex') })).toString('base64url')}`;
    return `${input}.${createHmac('sha256', SIGNING_KEY).update(input).digest('base64url')}`;
  });
}

function meRun(port: number, access: string, body: string, seconds: number) {
  return cannon({ port, path: '/auth/me/', headers: { authorization: `Bearer ${access}` }, expectBody: body, connections: CONNECTIONS, seconds });
}

/**
 * Bad logins on as many connections as the hashing gate holds (its slots and its queue: the hashing never
 * idles and nothing is shed), while GET /auth/me/ is asked STORM_ME_RATE times a second: what a signed-in
 * user sees while logins run as fast as the hashing allows.
 */
async function storm(label: string, server: Server, port: number, access: string, connections: number): Promise<Row> {
  const ceiling = (await server.ask('ceiling', 'ceiling', 20_000)).perSecond;
  const options = (connections: number, seconds: number): autocannon.Options => ({
    url: `http://${HOST}:${port}/auth/login/`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: USERNAME, password: 'wrong password' }),
    connections,
    duration: seconds,
    timeout: 30,
  });
  await server.ask('loop-start', 'loop');
  const stormRun = new Promise<autocannon.Result>((resolve, reject) => autocannon(options(connections, DURATION), (e, r) => (e ? reject(e) : resolve(r))));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const me = await cannon({ port, path: '/auth/me/', headers: { authorization: `Bearer ${access}` }, connections: 1, overallRate: STORM_ME_RATE, seconds: DURATION - 1 });
  const stormResult = await stormRun;
  const loop = await server.ask('loop', 'loop');
  const logins = stormResult['4xx'] / stormResult.duration;
  const share = (100 * logins) / ceiling;
  const row: Row = {
    store: label,
    target: '/auth/me/ during a login storm',
    rps: me.result['2xx'] / me.result.duration,
    p50: me.p50,
    p99: me.p99,
    requests: me.result['2xx'],
    otherCpu: NaN,
    cpuPerRequest: NaN,
    note: `storm (${connections} connections): ${logins.toFixed(1)} logins/s answered 401 = ${share.toFixed(0)} % of the hashing ceiling (${ceiling.toFixed(1)}/s), ${(stormResult['5xx'] / stormResult.duration).toFixed(0)}/s shed (503), ${stormResult.errors} errors; event-loop delay p50 ${loop.p50.toFixed(1)} ms, p99 ${loop.p99.toFixed(1)} ms, max ${loop.max.toFixed(1)} ms`,
  };
  console.log(`  ${label} storm: me p50 ${me.p50.toFixed(2)} ms p99 ${me.p99.toFixed(2)} ms; ${row.note}`);
  return row;
}

interface Propagation {
  fromSent: number[];
  fromAnswered: number[];
}

/** Three instances on one PostgreSQL schema: log out on the first, poll the other two until both refuse. */
async function propagation(setup: StoreSetup): Promise<Propagation> {
  const first = new Server({ ...setup.env, BENCH_OWNER: '1' });
  const others: Server[] = [];
  try {
    const a = await first.ready;
    others.push(new Server({ ...setup.env, BENCH_OWNER: '0' }), new Server({ ...setup.env, BENCH_OWNER: '0' }));
    const ports = (await Promise.all(others.map((s) => s.ready))).map((r) => r.appPort);
    const fromSent: number[] = [];
    const fromAnswered: number[] = [];
    const verify = (port: number, token: string) => call(port, 'POST', '/auth/verify/', { token });
    for (let i = 0; i < LOGOUTS; i += 1) {
      const pair = await loginPair(a.appPort);
      for (const port of ports) {
        const known = await verify(port, pair.access);
        if (known.status !== 200) throw new Error(`instance on ${port} refused a live token: ${known.status}`);
      }
      const sent = performance.now();
      const logout = await call(a.appPort, 'POST', '/auth/logout/', { refresh: pair.refresh }, { authorization: `Bearer ${pair.access}` });
      const answered = performance.now();
      if (logout.status !== 200) throw new Error(`logout: ${logout.status} ${logout.text}`);
      const pending = new Set(ports);
      while (pending.size > 0) {
        for (const port of [...pending]) if ((await verify(port, pair.access)).status === 401) pending.delete(port);
        if (performance.now() - sent > 5000) throw new Error('a logged-out token was still accepted after 5 s');
      }
      const refused = performance.now();
      fromSent.push(refused - sent);
      fromAnswered.push(refused - answered);
    }
    console.log(`  propagation: ${LOGOUTS} logouts, answered → refused by both others p50 ${percentile(fromAnswered, 50).toFixed(2)} ms p99 ${percentile(fromAnswered, 99).toFixed(2)} ms`);
    return { fromSent, fromAnswered };
  } finally {
    for (const other of others) await other.stop();
    await first.stop();
  }
}

interface MemoryReport {
  store: string;
  lines: string[];
}

function memory(store: 'pglite' | 'postgres', env: Record<string, string>): Promise<MemoryReport> {
  return new Promise((resolve, reject) => {
    const child = fork(MEMORY, [], { execArgv: ['--import', 'tsx', '--expose-gc'], env: { ...process.env, ...env, BENCH_STORE: store }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    let report: MemoryReport | undefined;
    child.on('message', (message: MemoryReport) => { report = message; });
    child.on('exit', (code) => {
      children.delete(child);
      if (code === 0 && report) resolve(report);
      else reject(new Error(`memory bench on ${store} exited ${code}`));
    });
  });
}

// ------------------------------------------------------------ report

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

function markdownTable(header: string[], rows: string[][]): string {
  const align = header.map((h, i) => (i < 2 || h === 'note' || h === '' ? '---' : '--:'));
  return [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

function throughputTable(rows: Row[]): string {
  const bareOf = (store: string) => rows.find((r) => r.store === store && r.target === 'bare')?.rps ?? NaN;
  return markdownTable(
    ['store', 'target', 'req/s', 'p50 ms', 'p99 ms', 'vs bare', 'server µs/req', 'other CPU', 'note'],
    rows.map((r) => [
      r.store,
      r.target,
      r.rps.toFixed(0),
      r.p50.toFixed(2),
      r.p99.toFixed(2),
      // Login is bound by argon2id, not by the HTTP path: a ratio to the bare route would mean nothing.
      r.target.endsWith('(before)') || r.target.includes('storm') || r.target.startsWith('login') ? '' : `${((r.rps / bareOf(r.store)) * 100).toFixed(1)} %`,
      Number.isNaN(r.cpuPerRequest) ? '' : r.cpuPerRequest.toFixed(0),
      Number.isNaN(r.otherCpu) ? '' : `${Math.max(0, r.otherCpu * 100).toFixed(0)} %`,
      r.note ?? '',
    ]),
  );
}

function describeMachine(postgresVersion: string | undefined): string[] {
  const cpu = cpus();
  const version = (name: string) => {
    try {
      return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  };
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  return [
    `- **CPU:** ${cpu[0]?.model ?? 'unknown'} × ${cpu.length} (available parallelism ${availableParallelism()}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform}/${process.arch}`,
    `- **Software:** Node ${process.version}, Fastify ${version('fastify')}, PGlite ${version('@electric-sql/pglite')}, ${postgresVersion ?? 'no PostgreSQL'}, autocannon ${version('autocannon')}`,
    `- **Source:** commit \`${commit}\``,
  ];
}

async function postgresUrl(): Promise<{ url: string; version: string } | undefined> {
  const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>(`select current_setting('server_version') as v`);
    return { url, version: `PostgreSQL ${rows[0]?.v ?? '?'} (same machine)` };
  } catch (error) {
    console.log(`PostgreSQL at ${url} unreachable (${error instanceof Error ? error.message : String(error)}): PostgreSQL parts skipped`);
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The source tree at BENCH_BEFORE, extracted from git beside node_modules; undefined when off or not possible. */
function extractBefore(): { dir: string; ref: string } | undefined {
  const ref = process.env.BENCH_BEFORE ?? DEFAULT_BEFORE;
  if (ref === '' || ref === 'none') return undefined;
  try {
    const dir = mkdtempSync(join(tmpdir(), 'lk-bench-before-'));
    const archive = execFileSync('git', ['archive', ref, 'src', 'package.json'], { cwd: ROOT, maxBuffer: 64 * 2 ** 20 });
    execFileSync('tar', ['-x', '-C', dir], { input: archive });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    return { dir, ref };
  } catch (error) {
    console.log(`before (${ref}): not available (${error instanceof Error ? error.message.split('\n')[0] : String(error)}), skipped`);
    return undefined;
  }
}

/** What the "before" rows are, or why there are none. */
function beforeText(ref: string | undefined, measured: boolean): string {
  if (ref === undefined) return 'No "before" rows (BENCH_BEFORE=none or git unavailable).';
  if (!measured) return `No "before" rows: the source at \`${ref}\` did not start beside today's node_modules (it imports a package since removed; the console shows why).`;
  return `Rows marked (before) ran the source at \`${ref}\` (before the user cache, the one-statement rotation and the lighter hooks), extracted by git, with their own bare route measured in that run; the note gives their ratio to it.`;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const load0 = loadavg();
  console.log(`bench: ${CONNECTIONS} connections, warm-up ${WARMUP} s + ${DURATION} s per target, deadline ${DEADLINE_S} s; load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  const postgres = await postgresUrl();
  const before = extractBefore();
  const stores: StoreSetup[] = [{ label: 'embedded', env: { BENCH_STORE: 'pglite' } }];
  if (postgres) stores.push({ label: 'PostgreSQL', env: { BENCH_STORE: 'postgres', DATABASE_URL: postgres.url, BENCH_SCHEMA: `lk_bench_${randomBytes(5).toString('hex')}` } });

  const rows: Row[] = [];
  let spread: Propagation | undefined;
  const memories: MemoryReport[] = [];
  try {
    for (const store of stores) {
      console.log(`\n${store.label}:`);
      rows.push(...(await throughput(store, before?.dir)));
    }
    if (postgres) {
      console.log('\nrevocation propagation, three instances on PostgreSQL:');
      spread = await propagation({ label: 'PostgreSQL', env: { BENCH_STORE: 'postgres', DATABASE_URL: postgres.url, BENCH_SCHEMA: `lk_bench_${randomBytes(5).toString('hex')}` } });
    }
    console.log('\nmemory:');
    memories.push(await memory('pglite', {}));
    if (postgres) memories.push(await memory('postgres', { DATABASE_URL: postgres.url }));
  } finally {
    if (before) rmSync(before.dir, { recursive: true, force: true });
  }
  const load1 = loadavg();
  const finishedAt = new Date();

  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (bench/run.ts), ${startedAt.toISOString().slice(0, 16).replace('T', ' ')}–${finishedAt.toISOString().slice(11, 16)} UTC. Each run replaces this file; git keeps the history.`,
    '',
    ...describeMachine(postgres?.version),
    `- **Load average:** ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${load1.map((l) => l.toFixed(2)).join(' ')} after. "other CPU" is what the rest of the machine used during each measured run (server, autocannon and postgres excluded), as a share of one core: near 0 % on a quiet machine.`,
    `- **Load:** autocannon in the parent process, the server in a child (bench/server.ts), both on 127.0.0.1; ${CONNECTIONS} connections, pipelining 1, ${WARMUP} s warm-up then ${DURATION} s measured per target; THROTTLE=off; every response must be a 2xx (and for bare, verify and me exactly the body checked first) or the run fails. Latency percentiles are per response, at µs resolution; closed-loop, so mostly queueing (connections ÷ throughput).`,
    '',
    '## Throughput, each figure against the bare route of the same run',
    '',
    `"bare" is \`GET /bare\` → \`{}\` on a plain Fastify instance in the same server process, "bare POST" the same route posted verify's body (so it reads and parses one); the note on verify gives its ratio to bare POST. verify is \`POST /auth/verify/\` with an access token (no database), me is \`GET /auth/me/\`; refresh posts, on ${REFRESH_CONNECTIONS} connections at once, refresh tokens of ${REFRESH_SESSIONS} sessions taken in turn, each token sent once (the successor an earlier answer gave), so every request rotates; login posts the right password (argon2id at Latchkey's cost, bound by the hashing gate, so no ratio); the reset requests post \`POST /auth/password-reset/\` with the bench user's address and with an unknown one (204 either way; the lookup and the mail come after the answer, and cost no hash); the storm row is \`GET /auth/me/\` asked ${STORM_ME_RATE} times a second while bad logins arrive on as many connections as the hashing gate holds (its slots and its queue, so the hashing never idles), its note the storm's login rate against the hashing ceiling (argon2id checks per second through the same gate in the server, no HTTP; issue 9's target: p99 under 20 ms at no less than 60 % of the ceiling). "server µs/req" is the server process's CPU time over the measured run divided by the requests answered: a route's cost, which a busy machine changes much less than its req/s. ${beforeText(before?.ref, rows.some((row) => row.target.endsWith('(before)')))}`,
    '',
    throughputTable(rows),
    '',
    '## Revocation propagation across three instances',
    '',
    spread
      ? [
          `Three server processes on one PostgreSQL schema; ${LOGOUTS} times: log in on the first, check the token is accepted by the other two, log out on the first, then ask the other two \`POST /auth/verify/\` back to back until both refuse it.`,
          '',
          markdownTable(['delay', 'measured', 'logouts', 'p50 ms', 'p99 ms', 'max ms'], [
            ['logout answered → refused by both others', 'feed alone', String(LOGOUTS), percentile(spread.fromAnswered, 50).toFixed(2), percentile(spread.fromAnswered, 99).toFixed(2), Math.max(...spread.fromAnswered).toFixed(2)],
            ['logout sent → refused by both others', 'with the logout request', String(LOGOUTS), percentile(spread.fromSent, 50).toFixed(2), percentile(spread.fromSent, 99).toFixed(2), Math.max(...spread.fromSent).toFixed(2)],
          ]),
          '',
          'The embedded database belongs to one process, so there is no three-instance figure for it; its other processes (commands) go through the control socket to the same instance.',
        ].join('\n')
      : 'Skipped: no PostgreSQL.',
    '',
    '## Memory',
    '',
    ...memories.flatMap((m) => [`### ${m.store}`, '', ...m.lines, '']),
    '## Other benchmarks',
    '',
    '`bench/hs256.ts` (why node:crypto and not jose for HS256), `bench/login-storm.ts` (the 300-logins burst of SPEC §5) and `bench/revocation-feed.ts` (latchkey/verify following the feed) are run by hand; see the comment at the top of each.',
    '',
  ];
  const text = lines.join('\n');
  console.log(`\n${text}`);
  if (process.env.BENCH_WRITE !== '0') {
    writeFileSync(join(ROOT, 'bench', 'RESULTS.md'), text);
    console.log('written to bench/RESULTS.md');
  }
  console.log(`bench: done in ${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s`);
}

const deadline = setTimeout(() => {
  console.error(`bench: gave up after ${DEADLINE_S} s`);
  for (const child of children) child.kill('SIGKILL');
  process.exit(1);
}, DEADLINE_S * 1000);
deadline.unref();
try {
  await main();
} catch (error) {
  console.error('bench failed:', error instanceof Error ? (error.stack ?? error.message) : error);
  for (const child of children) child.kill('SIGTERM');
  process.exitCode = 1;
}
clearTimeout(deadline);
