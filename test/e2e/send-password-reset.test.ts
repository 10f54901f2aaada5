/**
 * `latchkey send-password-reset <user>` as an administrator runs it: on the
 * embedded database with no server (the command sends the mail itself), with
 * a server running on the same data (the server does it, over the control
 * socket), and on PostgreSQL. The mail reaches a real SMTP server; its link
 * resets the password.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PASSWORD, PROCESS_TIMEOUT_MS, freePort, run, scratchDatabase, startServer, tempDir, type Server } from '../support/cli.ts';
import { linkIn, startSmtp, type Inbox } from '../support/smtp.ts';

const SIGNING_KEY = 'e2e-send-reset-signing-key-0123456789abcdef';

const modes = [
  { name: 'embedded', postgres: false },
  ...(process.env.DATABASE_URL ? [{ name: 'PostgreSQL', postgres: true }] : []),
];

for (const mode of modes) {
  describe(`send-password-reset (${mode.name})`, () => {
    const cwd = tempDir('lk-send-reset-');
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

    before(async () => {
      port = await freePort();
      inbox = await startSmtp();
      if (mode.postgres) {
        database = await scratchDatabase('lk_send_reset');
        assert.equal((await run(['migrate'], { env: env(), cwd })).status, 0);
      }
      const created = await run(['create-user', '--username', 'ann', '--email', 'ann@example.com', '--password-stdin'], { env: env(), input: PASSWORD, cwd });
      assert.equal(created.status, 0, created.stderr);
    });
    after(async () => {
      await server?.stop();
      await database?.drop();
      await inbox.stop();
    });

    it('with no server running, the command mails the link itself', async () => {
      const result = await run(['send-password-reset', 'ann'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^Password-reset link for ann \(id \d+\) mailed to ann@example\.com\.$/m);
      const mail = await inbox.waitFor((m) => m.subject === 'Reset your password');
      assert.match(linkIn(mail).url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/account/reset/`));
    });

    it('with a server running, the link it mails resets the password; unknown users and bad usage fail in one line', async () => {
      server = await startServer(env(), cwd);
      const before = inbox.messages.length;
      const result = await run(['send-password-reset', 'ann@example.com'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      const link = linkIn(await inbox.waitFor((m) => inbox.messages.indexOf(m) >= before && m.subject === 'Reset your password'));
      const confirm = await fetch(`http://127.0.0.1:${port}/auth/password-reset/confirm/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uid: link.uid, token: link.token, new_password: 'a brand new passphrase 42' }),
        signal: AbortSignal.timeout(PROCESS_TIMEOUT_MS),
      });
      assert.equal(confirm.status, 204);
      const unknown = await run(['send-password-reset', 'nobody'], { env: env(), cwd });
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /^error: no user named "nobody"\n$/);
      const usage = await run(['send-password-reset'], { env: env(), cwd });
      assert.equal(usage.status, 2);
    });
  });
}
