/**
 * Running the real CLI in tests: `node bin/latchkey.js` processes on temporary
 * directories, servers started and stopped, HTTP on 127.0.0.1, and scratch
 * PostgreSQL databases. Every process and wait is bounded.
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULTS } from '../../src/config.ts';

export const BIN = fileURLToPath(new URL('../../bin/latchkey.js', import.meta.url));

// bin/latchkey.js runs the compiled dist/: refuse to test a build older than the
// sources (`npm test` builds first; a test file run alone needs `npm run build`).
{
  const src = fileURLToPath(new URL('../../src/', import.meta.url));
  const built = statSync(fileURLToPath(new URL('../../dist/.tsbuildinfo', import.meta.url)), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const stale = readdirSync(src, { recursive: true, encoding: 'utf8' }).find((file) => file.endsWith('.ts') && statSync(join(src, file)).mtimeMs > built);
  if (stale !== undefined) throw new Error(`dist/ is older than src/${stale}: run \`npm run build\` (npm test does it first)`);
}
/** Upper bound for any one process to finish or a server to come up; never asserted on. Generous: test files run in parallel, and a loaded machine is slow. */
export const PROCESS_TIMEOUT_MS = 120_000;
export const PASSWORD = 'correct horse battery staple';

const children = new Set<ChildProcess>();
const dirs: string[] = [];
after(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The parent's environment without any Latchkey setting, plus `env`. */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [...Object.keys(DEFAULTS), 'NODE_ENV']) delete clean[key];
  return { ...clean, LOG_LEVEL: 'info', ...env };
}

export function spawnCli(args: string[], env: Record<string, string>, cwd: string): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: childEnv(env), stdio: 'pipe', timeout: PROCESS_TIMEOUT_MS });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one command to completion; stdin gets `input`, or nothing (never a terminal). */
export async function run(args: string[], options: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<Result> {
  const child = spawnCli(args, options.env ?? {}, options.cwd ?? tempDir('lk-cwd-'));
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin?.end(options.input ?? '');
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

export interface Server {
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit status. */
  stop(): Promise<number | null>;
  /** SIGKILL: no cleanup at all. */
  kill(): Promise<void>;
}

/** Starts `serve` and resolves once it logs that it listens; rejects if it exits first. */
export async function startServer(env: Record<string, string>, cwd: string): Promise<Server> {
  const child = spawnCli(['serve'], env, cwd);
  let output = '';
  const exited = once(child, 'exit') as Promise<[number | null]>;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Latchkey listening on')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    exited.then(([status]) => reject(new Error(`serve exited with ${status} before listening:\n${output}`)));
  });
  return {
    child,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      const [status] = await exited;
      return status;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A port nothing listens on right now, found by letting the OS pick one. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

export async function post(port: number, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export const login = (port: number, username: string, password = PASSWORD) => post(port, '/auth/login/', { username, password });

export function oneErrorLine(result: Result): string {
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${result.stderr}`);
  assert.match(lines[0] ?? '', /^error: /);
  return lines[0] ?? '';
}

/** Runs SQL (one statement, or a script of several) on the database at `url`, e.g. a scratch database's. */
export async function queryDatabase(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Runs one statement on the DATABASE_URL database (create or drop a scratch database). */
export function adminQuery(statement: string): Promise<void> {
  return queryDatabase(process.env.DATABASE_URL ?? '', statement);
}

/** A new, empty PostgreSQL database next to DATABASE_URL's; returns its URL and a drop function. */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  await adminQuery(`create database "${name}"`);
  const url = new URL(process.env.DATABASE_URL ?? '');
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => adminQuery(`drop database if exists "${name}" with (force)`) };
}

export interface CliMode {
  name: string;
  postgres: boolean;
}

/** Where end-to-end tests run the CLI: the embedded database, and PostgreSQL when DATABASE_URL is set. */
export const CLI_MODES: readonly CliMode[] = [
  { name: 'embedded', postgres: false },
  ...(process.env.DATABASE_URL ? [{ name: 'PostgreSQL', postgres: true }] : []),
];

/** One project's directory, port and database, as an administrator would have them. */
export interface CliProject {
  readonly cwd: string;
  readonly port: number;
  /** A server the test started, stopped by `tearDown`. */
  server: Server | undefined;
  /** The settings every command and server of the project runs with. */
  env(): Record<string, string>;
  /** Picks a free port; on PostgreSQL, creates and migrates a scratch database. Call in `before`. */
  setUp(): Promise<void>;
  /** Stops the server, if any, and drops the scratch database. Call in `after`. */
  tearDown(): Promise<void>;
}

/**
 * A project for the CLI in `mode`: DATA_DIR in a temporary directory, PORT,
 * SIGNING_KEY, DATABASE_URL on PostgreSQL, plus what `extra` adds (given the port).
 * @example const project = cliProject(mode, { prefix: 'lk_emergency', signingKey }); before(() => project.setUp()); after(() => project.tearDown());
 */
export function cliProject(mode: CliMode, options: { prefix: string; signingKey: string; extra?: (port: number) => Record<string, string> }): CliProject {
  const cwd = tempDir(`${options.prefix}-`);
  let port = 0;
  let database: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  const project: CliProject = {
    cwd,
    get port() {
      return port;
    },
    server: undefined,
    env: () => ({
      DATA_DIR: join(cwd, 'data'),
      PORT: String(port),
      SIGNING_KEY: options.signingKey,
      ...options.extra?.(port),
      ...(database ? { DATABASE_URL: database.url } : {}),
    }),
    async setUp() {
      port = await freePort();
      if (!mode.postgres) return;
      database = await scratchDatabase(options.prefix);
      const migrated = await run(['migrate'], { env: project.env(), cwd });
      assert.equal(migrated.status, 0, migrated.stderr);
    },
    async tearDown() {
      await project.server?.stop();
      await database?.drop();
    },
  };
  return project;
}
