/**
 * `latchkey send-password-reset <user>` as an administrator runs it: on the
 * embedded database with no server (the command sends the mail itself), with
 * a server running on the same data (the server does it, over the control
 * socket), and on PostgreSQL. The mail reaches a real SMTP server; its link
 * resets the password.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { CLI_MODES, PASSWORD, PROCESS_TIMEOUT_MS, cliProject, run, startServer } from '../support/cli.ts';
import { linkIn, mailEnv, startSmtp, type Inbox } from '../support/smtp.ts';

const SIGNING_KEY = 'e2e-send-reset-signing-key-0123456789abcdef';

for (const mode of CLI_MODES) {
  describe(`send-password-reset (${mode.name})`, () => {
    let inbox: Inbox;
    const project = cliProject(mode, { prefix: 'lk_send_reset', signingKey: SIGNING_KEY, extra: (port) => mailEnv(inbox, { PUBLIC_URL: `http://127.0.0.1:${port}` }) });
    const { cwd, env } = project;

    before(async () => {
      inbox = await startSmtp();
      await project.setUp();
      const created = await run(['create-user', '--username', 'ann', '--email', 'ann@example.com', '--password-stdin'], { env: env(), input: PASSWORD, cwd });
      assert.equal(created.status, 0, created.stderr);
    });
    after(async () => {
      await project.tearDown();
      await inbox.stop();
    });

    it('with no server running, the command mails the link itself', async () => {
      const result = await run(['send-password-reset', 'ann'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^Password-reset link for ann \(id \d+\) mailed to ann@example\.com\.$/m);
      const mail = await inbox.waitFor((m) => m.subject === 'Reset your password');
      assert.match(linkIn(mail).url, new RegExp(`^http://127\\.0\\.0\\.1:${project.port}/account/reset/`));
    });

    it('with a server running, the link it mails resets the password; unknown users and bad usage fail in one line', async () => {
      project.server = await startServer(env(), cwd);
      const before = inbox.messages.length;
      const result = await run(['send-password-reset', 'ann@example.com'], { env: env(), cwd });
      assert.equal(result.status, 0, result.stderr);
      const link = linkIn(await inbox.waitFor((m) => inbox.messages.indexOf(m) >= before && m.subject === 'Reset your password'));
      const confirm = await fetch(`http://127.0.0.1:${project.port}/auth/password-reset/confirm/`, {
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
