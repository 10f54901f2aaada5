/**
 * How long after a logout on a live Latchkey server another service, following
 * the revocation feed with latchkey/verify, refuses the logged-out token.
 * Starts `latchkey serve` (embedded PGlite, and PostgreSQL when DATABASE_URL is
 * set, on a scratch database), logs in and out N times (default 200), and
 * reports p50/p99/max of: logout request sent → refused, and logout answered →
 * refused. Only 127.0.0.1 is contacted; every loop is bounded.
 *
 *   node --import tsx bench/revocation-feed.ts [N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createVerifier, followRevocations, VerificationError } from '../src/verify/index.ts';

const N = Number(process.argv[2] ?? 200);
const BIN = fileURLToPath(new URL('../bin/latchkey.js', import.meta.url));
const FEED_TOKEN = 'bench-feed-token-at-least-32-bytes-long';
const SIGNING_KEY = 'bench-signing-key-that-is-at-least-32-bytes';
const PASSWORD = 'correct horse battery staple';
const POLL_LIMIT_MS = 5000;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

function cli(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const { DATABASE_URL: _inherited, ...parent } = process.env;
  return spawn(process.execPath, [BIN, ...args], { env: { ...parent, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function serve(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = cli(['serve'], env);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Latchkey listening on')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (status) => reject(new Error(`serve exited ${status}: ${output}`)));
  });
  return child;
}

async function post(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function measure(label: string, env: NodeJS.ProcessEnv): Promise<void> {
  const port = await freePort();
  const server = await serve({ ...env, PORT: String(port), SIGNING_KEY, REVOCATION_FEED_TOKEN: FEED_TOKEN, LOG_LEVEL: 'info', NODE_ENV: 'production' });
  const base = `http://127.0.0.1:${port}`;
  const follower = await followRevocations({ url: `${base}/auth/revocations/`, token: FEED_TOKEN });
  const verifier = createVerifier({ secret: SIGNING_KEY, revocations: follower });
  try {
    const registered = await post(base, '/auth/register/', { username: 'bench', email: 'bench@example.com', password: PASSWORD });
    if (registered.status !== 201) throw new Error(`register: ${registered.status}`);
    const fromSent: number[] = [];
    const fromAnswered: number[] = [];
    for (let i = 0; i < N; i += 1) {
      const pair = await post(base, '/auth/login/', { username: 'bench', password: PASSWORD });
      const access = pair.body.access as string;
      await verifier.verify(access);
      const sent = performance.now();
      const logout = await post(base, '/auth/logout/', { refresh: pair.body.refresh }, { authorization: `Bearer ${access}` });
      const answered = performance.now();
      if (logout.status !== 200) throw new Error(`logout: ${logout.status}`);
      for (;;) {
        try {
          await verifier.verify(access);
        } catch (error) {
          if (!(error instanceof VerificationError) || error.code !== 'token_not_valid') throw error;
          break;
        }
        if (performance.now() - sent > POLL_LIMIT_MS) throw new Error('token still accepted after 5 s');
        await new Promise((resolve) => setImmediate(resolve));
      }
      const refused = performance.now();
      fromSent.push(refused - sent);
      fromAnswered.push(refused - answered);
    }
    for (const [name, values] of [['logout sent → refused', fromSent], ['logout answered → refused', fromAnswered]] as const) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(`| ${label} | ${name} | ${N} | ${percentile(sorted, 50).toFixed(2)} | ${percentile(sorted, 99).toFixed(2)} | ${(sorted.at(-1) ?? NaN).toFixed(2)} |`);
    }
  } finally {
    follower.close();
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
}

console.log(`| store | delay | logouts | p50 ms | p99 ms | max ms |\n|---|---|--:|--:|--:|--:|`);
const dataDir = mkdtempSync(join(tmpdir(), 'lk-bench-feed-'));
try {
  await measure('PGlite', { DATA_DIR: dataDir });
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
if (process.env.DATABASE_URL) {
  const name = `lk_bench_feed_${process.pid}`;
  const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/${name}`;
  try {
    const migrate = cli(['migrate'], { DATABASE_URL: url.toString() });
    const [status] = (await once(migrate, 'exit')) as [number];
    if (status !== 0) throw new Error('migrate failed');
    await measure('PostgreSQL', { DATABASE_URL: url.toString(), DATA_DIR: mkdtempSync(join(tmpdir(), 'lk-bench-feed-pg-')) });
  } finally {
    await admin.query(`drop database ${name} with (force)`);
    await admin.end();
  }
}
