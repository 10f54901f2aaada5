/**
 * `latchkey reset-mfa <user> --confirm` as an operator runs it (SPEC §7, §12):
 * refused without --confirm; with a server running on the same data (over the
 * control socket on the embedded database) the user's access token is refused
 * at once; with no server the command does it and mails the notice itself; on
 * PostgreSQL too. The notice reaches a real SMTP server.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { PASSWORD, PROCESS_TIMEOUT_MS, freePort, login, oneErrorLine, post, run, scratchDatabase, startServer, tempDir, type Server } from '../support/cli.ts';
import { startSmtp, type Inbox } from '../support/smtp.ts';

const SIGNING_KEY = 'e2e-reset-mfa-signing-key-0123456789abcdef';
const REMOVED = 'A second factor was removed from your account';

const modes = [
  { name: 'embedded', postgres: false },
  ...(process.env.DATABASE_URL ? [{ name: 'PostgreSQL', postgres: true }] : []),
];

for (const mode of modes) {
  describe(`reset-mfa (${mode.name})`, () => {
    const cwd = tempDir('lk-reset-mfa-');
    let port: number;
    let inbox: Inbox;
    let server: Server | undefined;
    let database: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
    const env = () => ({
      DATA_DIR: join(cwd, 'data'),
      PORT: String(port),
      SIGNING_KEY,
      EMAIL_BACKEND: 'smtp',
      EMAIL_HOST: '127.0.0.1',
      EMAIL_PORT: String(inbox.port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...(database ? { DATABASE_URL: database.url } : {}),
    });
    const me = (access: string) => fetch(`http://127.0.0.1:${port}/auth/me/`, { headers: { authorization: `Bearer ${access}` }, signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS) });

    /** Enrols TOTP over HTTP; returns the aal2 access token of the enrolling session. */
    async function enrol(username: string): Promise<string> {
      const first = await login(port, username);
      assert.equal(first.status, 200);
      const started = await fetch(`http://127.0.0.1:${port}/auth/mfa/totp/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${first.body.access as string}` },
        body: JSON.stringify({ password: PASSWORD }),
        signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
      });
      assert.equal(started.status, 201);
      const { secret } = (await started.json()) as { secret: string };
      const code = TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() });
      const confirmed = await fetch(`http://127.0.0.1:${port}/auth/mfa/totp/confirm/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${first.body.access as string}` },
        body: JSON.stringify({ code }),
        signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
      });
      assert.equal(confirmed.status, 200);
      assert.equal((await login(port, username)).body.code, 'mfa_required');
      return ((await confirmed.json()) as { access: string }).access;
    }

    before(async () => {
      port = await freePort();
      inbox = await startSmtp();
      if (mode.postgres) {
        database = await scratchDatabase('lk_reset_mfa');
        assert.equal((await run(['migrate'], { env: env(), cwd })).status, 0);
      }
      for (const name of ['ann', 'bob']) {
        const created = await run(['create-user', '--username', name, '--email', `${name}@example.com`, '--password-stdin'], { env: env(), input: PASSWORD, cwd });
        assert.equal(created.status, 0, created.stderr);
      }
    });
    after(async () => {
      await server?.stop();
      await database?.drop();
      await inbox.stop();
    });

    it('with a server running: refused without --confirm; then the factor goes, the access token is refused at once, the user is mailed', async () => {
      server = await startServer(env(), cwd);
      const access = await enrol('ann');
      await enrol('bob');

      const refused = await run(['reset-mfa', 'ann'], { env: env(), cwd });
      assert.equal(refused.status, 2);
      assert.equal(oneErrorLine(refused), 'error: refusing to remove the second factors of "ann" without --confirm; nothing was changed');
      assert.equal((await login(port, 'ann')).body.code, 'mfa_required', 'nothing changed');
      assert.equal((await me(access)).status, 200);

      const result = await run(['reset-mfa', 'ann@example.com', '--confirm'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^ann \(id \d+\): second factor removed \(totp, recovery_code\); 1 session\(s\) ended\.$/m);
      // The running server learnt of it with no delay (its own revocation list, or NOTIFY on PostgreSQL).
      assert.equal((await me(access)).status, 401);
      const again = await login(port, 'ann');
      assert.equal(again.status, 200, JSON.stringify(again.body));
      const mail = await inbox.waitFor((m) => m.subject === REMOVED && (m.text ?? '').includes('Hello ann,'));
      assert.match(mail.text ?? '', /An operator reset your second factor/);
      assert.ok((mail.text ?? '').includes(`http://127.0.0.1:${port}/account/forgot-password/`));

      const unknown = await run(['reset-mfa', 'nobody', '--confirm'], { env: env(), cwd });
      assert.equal(unknown.status, 1);
      assert.equal(oneErrorLine(unknown), 'error: no user named "nobody"');
      assert.equal((await run(['reset-mfa', '--confirm'], { env: env(), cwd })).status, 2);
      assert.match((await run(['reset-mfa', '--help'], { env: env(), cwd })).stdout, /--confirm/);
    });

    it('with no server running, the command resets by id and mails the notice itself', async () => {
      assert.equal(await server?.stop(), 0);
      server = undefined;
      const before = inbox.messages.length;
      const bob = await run(['reset-mfa', 'bob', '--confirm'], { env: env(), cwd });
      assert.equal(bob.status, 0, bob.stderr);
      const id = /\(id (\d+)\)/.exec(bob.stdout)?.[1];
      assert.ok(id);
      await inbox.waitFor((m) => inbox.messages.indexOf(m) >= before && m.subject === REMOVED && (m.text ?? '').includes('Hello bob,'));
      const byId = await run(['reset-mfa', id, '--confirm'], { env: env(), cwd });
      assert.equal(byId.status, 0, byId.stderr);
      assert.equal(byId.stdout.trim(), `bob (id ${id}): had no second factor; 0 session(s) ended.`);
      server = await startServer(env(), cwd);
      assert.equal((await post(port, '/auth/login/', { username: 'bob', password: PASSWORD })).status, 200);
    });
  });
}
