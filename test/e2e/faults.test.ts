/**
 * Faults, on a PostgreSQL cluster of the test's own (initdb in a temporary
 * directory, another loopback port: nothing else is disturbed). The database
 * stops under load and starts again: 503 service_unavailable with Retry-After
 * while it is down (token checks keep working, never a 500), and the same
 * server process recovers without a restart.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, freePort, login, run, startServer, tempDir, type Server } from '../support/cli.ts';

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
