/**
 * Faults, on a PostgreSQL cluster of the test's own (initdb in a temporary
 * directory, another loopback port: nothing else is disturbed). The database
 * stops under load and starts again: 503 service_unavailable with Retry-After
 * while it is down (token checks keep working, never a 500), and the same
 * server process recovers without a restart. And the server is killed
 * (SIGKILL) in the middle of a refresh storm, on PostgreSQL and on the
 * embedded database, and started again on the same data: see `refreshStorm`.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pgDriver from 'pg';
import { PASSWORD, freePort, login, post, run, startServer, tempDir, type Server } from '../support/cli.ts';

const SIGNING_KEY = 'e2e-faults-signing-key-0123456789abcdefgh';

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  for (const version of readdirSync(root).sort().reverse()) {
    const bin = join(root, version, 'bin');
    if (existsSync(join(bin, 'initdb'))) return bin;
  }
  return undefined;
}

const BIN = postgresBin();
const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root). */
function pg(tool: string, args: string[]): void {
  const command = join(BIN ?? '', tool);
  if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'ignore' });
  else execFileSync(command, args, { stdio: 'ignore' });
}

describe('the database stops under load and comes back', { skip: BIN ? false : 'no initdb under /usr/lib/postgresql' }, () => {
  const dir = tempDir('lk-faults-');
  const data = join(dir, 'pgdata');
  let pgPort: number;
  let port: number;
  let server: Server | undefined;
  const startPostgres = () => pg('pg_ctl', ['-D', data, '-o', `-p ${pgPort} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(dir, 'postgres.log'), '-w', 'start']);
  const stopPostgres = () => pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  // Throttling off: the load below is one client hammering the server, and what is under test is the outage.
  const env = () => ({ DATA_DIR: join(dir, 'latchkey'), PORT: String(port), SIGNING_KEY, THROTTLE: 'off', DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/postgres` });

  before(async () => {
    if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
    pgPort = await freePort();
    port = await freePort();
    pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    startPostgres();
    assert.equal((await run(['migrate'], { env: env(), cwd: dir })).status, 0);
    const created = await run(['create-user', '--username', 'ann', '--password-stdin'], { env: env(), input: PASSWORD, cwd: dir });
    assert.equal(created.status, 0, created.stderr);
    server = await startServer(env(), dir);
  });
  after(async () => {
    await server?.stop();
    try {
      stopPostgres();
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { ...init, signal: AbortSignal.timeout(20_000) });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as Record<string, unknown> };
  };

  it('503 with Retry-After while down (never a 500), token checks go on, recovery without a restart', async () => {
    const session = await login(port, 'ann');
    assert.equal(session.status, 200);
    const access = String(session.body.access);
    const me = () => call('/auth/me/', { headers: { authorization: `Bearer ${access}` } });
    const verify = () => call('/auth/verify/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: access }) });

    // Load while the database goes away: a bounded loop of reads and logins.
    let loading = true;
    const seen = new Map<number, number>();
    const load = (async () => {
      for (let i = 0; loading && i < 2000; i += 1) {
        const answers = await Promise.all([me(), login(port, 'ann', 'wrong password')]);
        for (const answer of answers) seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
      }
    })();
    await sleep(300);
    stopPostgres();
    await sleep(500);

    const down = await me();
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.code, 'service_unavailable');
    assert.equal(down.retryAfter, '1');
    assert.equal((await verify()).status, 200, 'an access token is checked without the database');
    const ready = await call('/readyz');
    assert.equal(ready.status, 503);

    startPostgres();
    let recovered = false;
    for (let i = 0; i < 150 && !recovered; i += 1) {
      recovered = (await me()).status === 200;
      if (!recovered) await sleep(200);
    }
    loading = false;
    await load;
    assert.ok(recovered, 'the same server answers again once the database is back');
    assert.equal((await login(port, 'ann')).status, 200);
    assert.deepEqual([...seen.keys()].filter((status) => ![200, 401, 503].includes(status)), [], `statuses seen: ${JSON.stringify([...seen])}`);
    assert.ok((seen.get(503) ?? 0) > 0, 'some requests met the outage');
  });
});

// --- SIGKILL in the middle of a refresh storm --------------------------------

/** REFRESH_REUSE_GRACE for the storm: short, so that the checks can step past it. */
const GRACE_MS = 1000;
const CHAINS = 30;
/** Chains 0–9 stop by themselves before the kill, 10–12 log out mid-storm, the rest run into the kill. */
const QUIET = 10;
const LOGGED_OUT = 3;

interface Chain {
  index: number;
  /** Refresh tokens in the order the client received them: each but the last was spent by a refresh the client saw succeed. */
  refresh: string[];
  access: string[];
  /** The chain stopped by itself: its last token was never sent. */
  quiet: boolean;
  /** Its session was logged out, and the client saw the 200. */
  loggedOut: boolean;
  /** The request that failed at the client when the server died; `sent` is false when it never reached it (refused). */
  lost?: { token: string; sent: boolean };
  /** A status the storm must never see (anything but 200 before the kill). */
  unexpected?: string;
}

type Answer = { status: number; body: Record<string, unknown> };

/** One request of the storm: a JSON answer, or the network error's code when the client saw none. */
async function attempt(port: number, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer | { error: string }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return { error: cause?.code ?? String(error) };
  }
}

async function me(port: number, access: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/auth/me/`, { headers: { authorization: `Bearer ${access}` }, signal: AbortSignal.timeout(20_000) });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Runs the storm on a started server, kills it with SIGKILL mid-storm,
 * restarts it on the same data and checks what the refresh transaction
 * guarantees (src/sessions/service.ts: marking the token spent, inserting its
 * successor and touching the session commit together, and the answer is sent
 * after the commit):
 * - a token the client received and never sent is unspent: it refreshes once
 *   (200), and again after the grace → 401 (reuse detected);
 * - every token whose refresh the client saw succeed is spent → 401;
 * - a token in flight at the kill is either unspent (refreshes once, as above)
 *   or spent with its successor stored (→ 401 after the grace) — never both;
 * - sessions logged out before the kill stay refused.
 */
async function refreshStorm(
  t: { diagnostic(message: string): void },
  options: { port: number; server: Server; restart(): Promise<Server>; sql?: (statement: string) => Promise<number> },
): Promise<Server> {
  const { port } = options;
  const loginOk = async (username: string) => {
    const answer = await login(port, username);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { access: String(answer.body.access), refresh: String(answer.body.refresh) };
  };

  // Sessions ended before the storm: by logout, and by logout-all.
  const revoked: Array<{ access: string; refresh: string }> = [];
  for (let i = 0; i < 2; i += 1) {
    const pair = await loginOk('cy');
    assert.equal((await post(port, '/auth/logout/', { refresh: pair.refresh })).status, 200);
    revoked.push(pair);
  }
  const all = [await loginOk('dee'), await loginOk('dee')];
  const ended = await attempt(port, '/auth/logout-all/', {}, { authorization: `Bearer ${all[0]!.access}` });
  assert.ok('status' in ended && ended.status === 200, JSON.stringify(ended));
  revoked.push(...all);

  const chains: Chain[] = [];
  for (let index = 0; index < CHAINS; index += 1) {
    const pair = await loginOk('ann');
    chains.push({ index, refresh: [pair.refresh], access: [pair.access], quiet: false, loggedOut: false });
  }

  let killed = false;
  let successes = 0;
  const deadline = Date.now() + 60_000;
  const runChain = async (chain: Chain) => {
    const stopAfter = chain.index < QUIET ? 1 + (chain.index % 5) * 2 : chain.index < QUIET + LOGGED_OUT ? 3 : Number.POSITIVE_INFINITY;
    for (let n = 0; n < 2000 && Date.now() < deadline; n += 1) {
      if (n === stopAfter) {
        if (chain.index < QUIET) {
          chain.quiet = true;
          return;
        }
        const out = await attempt(port, '/auth/logout/', {}, { authorization: `Bearer ${chain.access.at(-1)}` });
        if ('status' in out && out.status !== 200) chain.unexpected = `logout ${out.status} ${JSON.stringify(out.body)}`;
        chain.loggedOut = 'status' in out && out.status === 200;
        return;
      }
      const token = chain.refresh.at(-1)!;
      const answer = await attempt(port, '/auth/refresh/', { refresh: token });
      if ('error' in answer) {
        if (!killed) chain.unexpected = `network error before the kill: ${answer.error}`;
        chain.lost = { token, sent: answer.error !== 'ECONNREFUSED' };
        return;
      }
      if (answer.status !== 200) {
        chain.unexpected = `refresh ${answer.status} ${JSON.stringify(answer.body)}`;
        return;
      }
      chain.refresh.push(String(answer.body.refresh));
      chain.access.push(String(answer.body.access));
      successes += 1;
    }
  };
  const storm = Promise.all(chains.map(runChain));
  // The kill: once the quiet chains have stopped, the logouts are done and the storm is well under way.
  const settled = () => chains.slice(0, QUIET + LOGGED_OUT).every((chain) => chain.quiet || chain.loggedOut || chain.unexpected !== undefined);
  for (let i = 0; i < 3000 && !(settled() && successes >= 200); i += 1) await sleep(10);
  killed = true;
  const killedAt = Date.now();
  await options.server.kill();
  await storm;
  t.diagnostic(`${successes} refreshes seen to succeed before the SIGKILL`);
  assert.deepEqual(chains.filter((chain) => chain.unexpected).map((chain) => `${chain.index}: ${chain.unexpected}`), []);
  assert.equal(chains.filter((chain) => chain.quiet).length, QUIET);
  assert.equal(chains.filter((chain) => chain.loggedOut).length, LOGGED_OUT);
  const running = chains.filter((chain) => !chain.quiet && !chain.loggedOut);
  assert.ok(running.every((chain) => chain.lost), 'every running chain met the kill');

  const server = await options.restart();
  await sleep(Math.max(0, killedAt + GRACE_MS + 500 - Date.now()));
  const verifyAccess = async (token: string) => (await post(port, '/auth/verify/', { token })).status;
  /** `/auth/verify/` on a refresh token reads the database and changes nothing: 200 usable, or SimpleJWT's 400 "Token is blacklisted" (spent or revoked). */
  const state = async (token: string): Promise<'usable' | 'blacklisted'> => {
    const answer = await post(port, '/auth/verify/', { token });
    if (answer.status === 200) return 'usable';
    assert.deepEqual([answer.status, answer.body], [400, { non_field_errors: ['Token is blacklisted'] }]);
    return 'blacklisted';
  };
  const refresh = (token: string) => post(port, '/auth/refresh/', { refresh: token });

  // No revoked session comes back.
  for (const pair of [...revoked, ...chains.filter((chain) => chain.loggedOut).map((chain) => ({ access: chain.access.at(-1)!, refresh: chain.refresh.at(-1)! }))]) {
    assert.equal(await me(port, pair.access), 401, 'a logged-out session stays out after the restart');
    assert.equal(await verifyAccess(pair.access), 401);
    assert.equal(await state(pair.refresh), 'blacklisted');
    assert.equal((await refresh(pair.refresh)).status, 401);
  }
  // No spent token works again (verify reads the database and revokes nothing).
  for (const chain of chains) {
    for (const token of chain.refresh.slice(0, -1)) assert.equal(await state(token), 'blacklisted', `chain ${chain.index}: a spent refresh token`);
  }
  // The in-flight refreshes were all-or-nothing: no token is spent without its successor stored.
  if (options.sql) {
    const orphans = await options.sql(
      'select count(*) as n from refresh_tokens t where t.spent_at is not null and not exists (select 1 from refresh_tokens s where s.jti = t.successor_jti)',
    );
    assert.equal(orphans, 0, 'a spent token always has its successor');
  }

  // Each last token: unspent for sure when never sent, else either unspent or spent (verify says which).
  const last = chains.filter((chain) => !chain.loggedOut).map((chain) => ({ chain, token: chain.refresh.at(-1)!, sentAtKill: chain.lost?.sent === true }));
  const unspent: typeof last = [];
  for (const entry of last) {
    const status = await state(entry.token);
    if (!entry.sentAtKill) assert.equal(status, 'usable', `chain ${entry.chain.index}: a token never sent is unspent`);
    if (status === 'usable') unspent.push(entry);
    else {
      const again = await refresh(entry.token);
      assert.equal(again.status, 401, `chain ${entry.chain.index}: a token spent by the refresh in flight does not refresh again after the grace`);
    }
  }
  t.diagnostic(`in flight at the kill: ${last.filter((e) => e.sentAtKill).length}; of those, ${last.filter((e) => e.sentAtKill && !unspent.includes(e)).length} spent (their refresh committed), the rest unspent`);

  // Usable exactly once: 200 now, 401 (reuse) once the grace has passed.
  const successors: string[] = [];
  for (const entry of unspent) {
    const first = await refresh(entry.token);
    assert.equal(first.status, 200, `chain ${entry.chain.index}: ${JSON.stringify(first.body)}`);
    successors.push(String(first.body.access));
  }
  await sleep(GRACE_MS + 300);
  for (const entry of unspent) {
    const second = await refresh(entry.token);
    assert.equal(second.status, 401, `chain ${entry.chain.index}: used a second time after the grace`);
    assert.equal(second.body.code, 'token_not_valid');
  }
  // Reuse detection ended those sessions: the pairs just issued are refused too.
  for (const access of successors) assert.equal(await me(port, access), 401);
  return server;
}

describe('SIGKILL in the middle of a refresh storm, on PostgreSQL', { skip: BIN ? false : 'no initdb under /usr/lib/postgresql' }, () => {
  const dir = tempDir('lk-storm-pg-');
  const data = join(dir, 'pgdata');
  let pgPort = 0;
  let server: Server | undefined;

  after(async () => {
    await server?.stop();
    try {
      pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // never started
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('every refresh seen to succeed is usable once, no spent token works again, no revoked session comes back', async (t) => {
    if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString().trim()), Number(execFileSync('id', ['-g', 'postgres']).toString().trim()));
    pgPort = await freePort();
    const port = await freePort();
    pg('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    // fsync stays on: the crash is the server's, but the database is asked to keep what it committed.
    pg('pg_ctl', ['-D', data, '-o', `-p ${pgPort} -k ${dir} -c listen_addresses=127.0.0.1`, '-l', join(dir, 'postgres.log'), '-w', 'start']);
    const url = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
    const env = { DATA_DIR: join(dir, 'latchkey'), PORT: String(port), SIGNING_KEY, THROTTLE: 'off', REFRESH_REUSE_GRACE: `${GRACE_MS / 1000}s`, DATABASE_URL: url };
    assert.equal((await run(['migrate'], { env, cwd: dir })).status, 0);
    for (const username of ['ann', 'cy', 'dee']) {
      const created = await run(['create-user', '--username', username, '--password-stdin'], { env, input: PASSWORD, cwd: dir });
      assert.equal(created.status, 0, created.stderr);
    }
    server = await startServer(env, dir);
    server = await refreshStorm(t, {
      port,
      server,
      restart: () => startServer(env, dir),
      sql: async (statement) => {
        let count = -1;
        const client = new pgDriver.Client({ connectionString: url });
        await client.connect();
        try {
          count = Number((await client.query<{ n: string }>(statement)).rows[0]?.n);
        } finally {
          await client.end();
        }
        return count;
      },
    });
  });
});

describe('SIGKILL in the middle of a refresh storm, on the embedded database', () => {
  const dir = tempDir('lk-storm-pglite-');
  let server: Server | undefined;
  after(async () => {
    await server?.stop();
  });

  it('every refresh seen to succeed is usable once, no spent token works again, no revoked session comes back', async (t) => {
    const port = await freePort();
    const env = { DATA_DIR: join(dir, 'latchkey'), PORT: String(port), SIGNING_KEY, THROTTLE: 'off', REFRESH_REUSE_GRACE: `${GRACE_MS / 1000}s` };
    for (const username of ['ann', 'cy', 'dee']) {
      const created = await run(['create-user', '--username', username, '--password-stdin'], { env, input: PASSWORD, cwd: dir });
      assert.equal(created.status, 0, created.stderr);
    }
    server = await startServer(env, dir);
    server = await refreshStorm(t, { port, server, restart: () => startServer(env, dir) });
  });
});
