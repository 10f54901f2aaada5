/**
 * The emergency and maintenance commands as users run them:
 * `invalidate-all-tokens` (refuses without --confirm; with it, a running server
 * refuses every earlier token within a second) and `flush-expired-tokens`, on
 * the embedded database and on PostgreSQL.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, PROCESS_TIMEOUT_MS, freePort, login, oneErrorLine, run, scratchDatabase, startServer, tempDir, type Server } from '../support/cli.ts';

const SIGNING_KEY = 'e2e-emergency-signing-key-0123456789abcdef';

async function meStatus(port: number, access: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/auth/me/`, { headers: { authorization: `Bearer ${access}` }, signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS) });
  return response.status;
}

/** Polls until the token is refused, at most for `withinMs` (bounded: 20 ms steps). */
async function refusedWithin(port: number, access: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if ((await meStatus(port, access)) === 401) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const modes = [
  { name: 'embedded', postgres: false },
  ...(process.env.DATABASE_URL ? [{ name: 'PostgreSQL', postgres: true }] : []),
];

for (const mode of modes) {
  describe(`invalidate-all-tokens and flush-expired-tokens (${mode.name})`, () => {
    const cwd = tempDir('lk-emergency-');
    let port: number;
    let server: Server | undefined;
    let database: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
    const env = () => ({
      DATA_DIR: join(cwd, 'data'),
      PORT: String(port),
      SIGNING_KEY,
      ...(database ? { DATABASE_URL: database.url } : {}),
    });

    before(async () => {
      port = await freePort();
      if (mode.postgres) {
        database = await scratchDatabase('lk_emergency');
        assert.equal((await run(['migrate'], { env: env(), cwd })).status, 0);
      }
      for (const username of ['ann', 'bob']) {
        const created = await run(['create-user', '--username', username, '--password-stdin'], { env: env(), input: PASSWORD, cwd });
        assert.equal(created.status, 0, created.stderr);
      }
      server = await startServer(env(), cwd);
    });
    after(async () => {
      await server?.stop();
      await database?.drop();
    });

    it('without --confirm it refuses with exit 2 and changes nothing', async () => {
      const session = (await login(port, 'ann')).body as { access: string };
      const result = await run(['invalidate-all-tokens'], { env: env(), cwd });
      assert.equal(result.status, 2);
      assert.equal(oneErrorLine(result), 'error: refusing to log every user out without --confirm; nothing was changed');
      assert.equal(result.stdout, '');
      assert.equal(await meStatus(port, session.access), 200);
    });

    it('with --confirm the running server refuses every earlier token within a second; new logins work', async () => {
      const sessions = [(await login(port, 'ann')).body, (await login(port, 'bob')).body] as Array<{ access: string; refresh: string }>;
      for (const s of sessions) assert.equal(await meStatus(port, s.access), 200);
      const result = await run(['invalidate-all-tokens', '--confirm'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^All tokens invalidated: \d+ session\(s\) ended\. Every user must log in again\.\n$/);
      for (const s of sessions) assert.ok(await refusedWithin(port, s.access, 1000), 'refused within a second of the command returning');
      const refresh = await fetch(`http://127.0.0.1:${port}/auth/refresh/`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: sessions[0]!.refresh }), signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
      });
      assert.equal(refresh.status, 401);
      const fresh = (await login(port, 'ann')).body as { access: string };
      assert.equal(await meStatus(port, fresh.access), 200);
    });

    it('flush-expired-tokens reports what it deleted', async () => {
      const result = await run(['flush-expired-tokens'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      // Everything is recent: the revoked sessions must stay while their access tokens could live.
      assert.equal(result.stdout, 'Deleted 0 session(s), 0 refresh token(s), 0 reset or verification token(s), 0 mfa token(s) and 0 sent or failed mail(s).\n');
    });
  });
}

describe('emergency commands: usage', () => {
  it('answer --help', async () => {
    const [invalidate, flush] = await Promise.all([run(['invalidate-all-tokens', '--help']), run(['flush-expired-tokens', '--help'])]);
    assert.equal(invalidate.status, 0);
    assert.match(invalidate.stdout, /--confirm/);
    assert.equal(flush.status, 0);
    assert.match(flush.stdout, /reuse/);
  });
});
