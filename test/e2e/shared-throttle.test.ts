/**
 * Two `latchkey serve` processes on one PostgreSQL database and one Redis
 * share their throttling counters: failures spread over both lock the pair
 * out on both, while other identifiers still log in (SPEC §5).
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, freePort, login, run, scratchDatabase, startServer, tempDir, type Server } from '../support/cli.ts';

const SIGNING_KEY = 'e2e-throttle-signing-key-0123456789abcdef';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('two servers sharing Redis share a lockout', { skip: process.env.DATABASE_URL ? false : 'PostgreSQL only (DATABASE_URL unset)' }, () => {
  const cwd = tempDir('lk-throttle-');
  const servers: Server[] = [];
  const ports: number[] = [];
  let database: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  // Names no other run uses: the counters live in a Redis other runs may share.
  const ann = `ann_${randomBytes(4).toString('hex')}`;
  const bob = `bob_${randomBytes(4).toString('hex')}`;
  const env = (port: number) => ({
    DATA_DIR: join(cwd, `data-${port}`),
    PORT: String(port),
    SIGNING_KEY,
    REDIS_URL,
    // Only the pair's limit is under test; the per-IP one is out of reach of other runs on this Redis.
    THROTTLE_LOGIN_FAILURES_PER_IP: '1000000',
    ...(database ? { DATABASE_URL: database.url } : {}),
  });

  before(async () => {
    ports.push(await freePort(), await freePort());
    database = await scratchDatabase('lk_throttle');
    assert.equal((await run(['migrate'], { env: env(ports[0]!), cwd })).status, 0);
    for (const username of [ann, bob]) {
      const created = await run(['create-user', '--username', username, '--password-stdin'], { env: env(ports[0]!), input: PASSWORD, cwd });
      assert.equal(created.status, 0, created.stderr);
    }
    servers.push(...(await Promise.all(ports.map((port) => startServer(env(port), cwd)))));
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await database?.drop();
  });

  it('three failures on one server and two on the other lock the pair on both; bob still logs in', async () => {
    const [a, b] = ports as [number, number];
    for (const port of [a, b, a, b, a]) assert.equal((await login(port, ann, 'wrong password')).status, 401);
    for (const port of [a, b]) {
      const refused = await login(port, ann);
      assert.equal(refused.status, 429, `server on ${port}: ${JSON.stringify(refused.body)}`);
      assert.equal(refused.body.code, 'throttled');
      assert.equal((await login(port, bob)).status, 200);
    }
  });
});
