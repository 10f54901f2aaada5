/**
 * The outbox and its sender (SPEC §11, mail): a queued message reaches a real
 * SMTP server (smtp-server, in this process) in text and HTML; when the server
 * is away the message waits in the outbox and is retried with backoff; it
 * survives a restart of Latchkey; the console backend puts it in the log;
 * templates come in English and French and can be replaced from a directory.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAuth } from '../../src/create-auth.ts';
import { Mailer } from '../../src/mail/outbox.ts';
import { describeLifetime, MailTemplates } from '../../src/mail/templates.ts';
import { consoleTransport, smtpTransport } from '../../src/mail/transport.ts';
import { OutboxRepo } from '../../src/store/repos/outbox.ts';
import { systemClock } from '../../src/clock.ts';
import { openTestStore, storeNames, testConfig, testPasswords } from '../support/harness.ts';
import { startSmtp, type Inbox } from '../support/smtp.ts';

const QUICK = { backoffMs: 100, maxBackoffMs: 400, pollMs: 100, maxAttempts: 50 };

describe('mail templates', () => {
  it('English and French, text and HTML; values are escaped in HTML and kept on one line in the subject', () => {
    const templates = new MailTemplates(undefined);
    const en = templates.render('password_reset', 'en', { username: 'ann<b>', link: 'https://x.test/account/reset/MQ/t', lifetime: describeLifetime(3_600_000, 'en') });
    assert.equal(en.subject, 'Reset your password');
    assert.match(en.text, /Hello ann<b>,/);
    assert.match(en.text, /https:\/\/x\.test\/account\/reset\/MQ\/t/);
    assert.match(en.text, /within 60 minutes/);
    assert.match(en.html, /Hello ann&lt;b&gt;,/);
    assert.match(en.html, /href="https:\/\/x\.test\/account\/reset\/MQ\/t"/);
    const fr = templates.render('password_reset', 'fr', { username: 'ann', link: 'L', lifetime: describeLifetime(86_400_000, 'fr') });
    assert.equal(fr.subject, 'Réinitialisez votre mot de passe');
    assert.match(fr.text, /Bonjour ann,/);
    assert.match(fr.text, /1\u00a0jour/);
    assert.equal(templates.render('email_verify', 'fr', { username: 'a', email: 'a@x.test', link: 'L', lifetime: '24 heures' }).subject, 'Confirmez votre adresse électronique');
    assert.equal(templates.render('password_changed', 'en', { username: 'a' }).subject, 'Your password was changed');
  });

  it('a directory replaces templates file by file; a missing directory fails at construction', () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-templates-'));
    writeFileSync(join(dir, 'password_reset.en.subject.txt'), 'Acme: new password for {{username}}\n');
    writeFileSync(join(dir, 'password_reset.en.html'), '<p>Acme {{ link }}</p>');
    const templates = new MailTemplates(dir);
    const mail = templates.render('password_reset', 'en', { username: 'ann', link: 'https://acme.test/r?a=1&b=2', lifetime: '1h' });
    assert.equal(mail.subject, 'Acme: new password for ann');
    assert.equal(mail.html, '<p>Acme https://acme.test/r?a=1&amp;b=2</p>');
    assert.match(mail.text, /^Hello ann,/, 'the text body is still the built-in one');
    assert.equal(templates.render('password_reset', 'fr', { username: 'a', link: 'L', lifetime: 'x' }).subject, 'Réinitialisez votre mot de passe');
    assert.throws(() => new MailTemplates(join(dir, 'nope')), /EMAIL_TEMPLATES_DIR/);
  });

  it('the console backend writes the message, link included, to the log', async () => {
    const lines: Array<{ object: object; message: string }> = [];
    const transport = consoleTransport('noreply@x.test', { info: (object, message) => lines.push({ object, message }) });
    await transport.send({ to: 'ann@x.test', subject: 'S', text: 'open https://x.test/account/reset/MQ/tok', html: '<p>h</p>' });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.message, /mail to ann@x\.test: S/);
    assert.match(lines[0]!.message, /https:\/\/x\.test\/account\/reset\/MQ\/tok/);
  });
});

for (const name of storeNames()) {
  describe(`mail outbox (${name})`, () => {
    let inbox: Inbox;
    before(async () => {
      inbox = await startSmtp();
    });
    after(() => inbox.stop());

    const config = () => testConfig({ EMAIL_BACKEND: 'smtp', EMAIL_HOST: '127.0.0.1', EMAIL_PORT: String(inbox.port), DEFAULT_FROM_EMAIL: 'Latchkey <noreply@latchkey.test>' });

    it('a queued message is delivered over SMTP in text and HTML, and its bodies are blanked in the outbox', async () => {
      const store = await openTestStore(name);
      const repo = new OutboxRepo(store.db);
      const mailer = new Mailer({ repo, templates: new MailTemplates(undefined), transport: smtpTransport(config().mail), clock: systemClock, options: QUICK });
      try {
        mailer.start();
        await mailer.queue({ kind: 'password_reset', to: 'ann@example.com', lang: 'en', values: { username: 'ann', link: 'http://l.test/account/reset/MQ/abc', lifetime: '60 minutes' } });
        mailer.wake();
        const mail = await inbox.waitFor((m) => m.subject === 'Reset your password' && (m.text ?? '').includes('/MQ/abc'));
        assert.equal(mail.from?.value[0]?.address, 'noreply@latchkey.test');
        assert.equal((Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address, 'ann@example.com');
        assert.match(String(mail.html), /href="http:\/\/l\.test\/account\/reset\/MQ\/abc"/);
        await waitUntil(async () => (await repo.recent(1))[0]?.sent_at != null);
        const [row] = await repo.recent(1);
        assert.equal(row?.text_body, '');
        assert.equal(row?.html_body, '');
        assert.equal(row?.attempts, 1);
      } finally {
        await mailer.stop();
        await store.drop();
      }
    });

    it('with the SMTP server away, the message waits and is retried; it survives a restart of Latchkey and arrives once the server is back', async () => {
      const store = await openTestStore(name);
      const errors: unknown[] = [];
      const first = createAuth(config(), { store, passwords: testPasswords(), mailSender: QUICK, onError: (e) => errors.push(e) });
      await inbox.stop();
      try {
        await first.start();
        const repo = new OutboxRepo(store.db);
        await new Mailer({ repo, templates: new MailTemplates(undefined), transport: smtpTransport(config().mail), clock: systemClock }).queue({
          kind: 'password_changed', to: 'bob@example.com', lang: 'fr', values: { username: 'bob' },
        });
        await waitUntil(async () => ((await repo.recent(1))[0]?.attempts ?? 0) >= 2);
        const [waiting] = await repo.recent(1);
        assert.equal(waiting?.sent_at, null);
        assert.ok(waiting?.last_error, 'the failure is recorded');
        assert.ok(errors.some((e) => e instanceof Error && e.name === 'MailDeliveryError' && !e.message.includes('Bonjour')), 'reported, without the body');
        await first.stop();
        // Latchkey restarts while the server is still away; then the server comes back.
        const second = createAuth(config(), { store, passwords: testPasswords(), mailSender: QUICK });
        await second.start();
        await inbox.start();
        try {
          const mail = await inbox.waitFor((m) => m.subject === 'Votre mot de passe a été modifié');
          assert.match(mail.text ?? '', /Bonjour bob,/);
          await waitUntil(async () => (await repo.recent(1))[0]?.sent_at != null);
        } finally {
          await second.stop();
        }
      } finally {
        if (!inbox.listening) await inbox.start();
        await store.drop();
      }
    });
  });
}

/** Polls `check` every 20 ms for at most 10 s. */
async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
