/**
 * The emergency and maintenance commands as users run them:
 * `invalidate-all-tokens` (refuses without --confirm; with it, a running server
 * refuses every earlier token within a second) and `flush-expired-tokens`, on
 * the embedded database and on PostgreSQL.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { CLI_MODES, PASSWORD, PROCESS_TIMEOUT_MS, cliProject, login, oneErrorLine, run, startServer } from '../support/cli.ts';

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

for (const mode of CLI_MODES) {
  describe(`invalidate-all-tokens and flush-expired-tokens (${mode.name})`, () => {
    const project = cliProject(mode, { prefix: 'lk_emergency', signingKey: SIGNING_KEY });
    const { cwd, env } = project;

    before(async () => {
      await project.setUp();
      for (const username of ['ann', 'bob']) {
        const created = await run(['create-user', '--username', username, '--password-stdin'], { env: env(), input: PASSWORD, cwd });
        assert.equal(created.status, 0, created.stderr);
      }
      project.server = await startServer(env(), cwd);
    });
    after(() => project.tearDown());

    it('without --confirm it refuses with exit 2 and changes nothing', async () => {
      const session = (await login(project.port, 'ann')).body as { access: string };
      const result = await run(['invalidate-all-tokens'], { env: env(), cwd });
      assert.equal(result.status, 2);
      assert.equal(oneErrorLine(result), 'error: refusing to log every user out without --confirm; nothing was changed');
      assert.equal(result.stdout, '');
      assert.equal(await meStatus(project.port, session.access), 200);
    });

    it('with --confirm the running server refuses every earlier token within a second; new logins work', async () => {
      const sessions = [(await login(project.port, 'ann')).body, (await login(project.port, 'bob')).body] as Array<{ access: string; refresh: string }>;
      for (const s of sessions) assert.equal(await meStatus(project.port, s.access), 200);
      const result = await run(['invalidate-all-tokens', '--confirm'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^All tokens invalidated: \d+ session\(s\) ended\. Every user must log in again\.\n$/);
      for (const s of sessions) assert.ok(await refusedWithin(project.port, s.access, 1000), 'refused within a second of the command returning');
      const refresh = await fetch(`http://127.0.0.1:${project.port}/auth/refresh/`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: sessions[0]!.refresh }), signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
      });
      assert.equal(refresh.status, 401);
      const fresh = (await login(project.port, 'ann')).body as { access: string };
      assert.equal(await meStatus(project.port, fresh.access), 200);
    });

    it('flush-expired-tokens reports what it deleted', async () => {
      const result = await run(['flush-expired-tokens'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      // Everything is recent: the revoked sessions must stay while their access tokens could live.
      assert.equal(result.stdout, 'Deleted 0 session(s), 0 refresh token(s), 0 reset or verification token(s), 0 mfa token(s) or remembered device(s), 0 passkey challenge(s) and 0 sent or failed mail(s).\n');
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
