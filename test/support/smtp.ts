/**
 * A real SMTP server in the test process (smtp-server on 127.0.0.1), keeping
 * every message it accepts, parsed (mailparser). It can be stopped and started
 * again on the same port, as a mail server that goes away for a while.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { LightMyRequestResponse } from 'fastify';
import type { Clock } from '../../src/clock.ts';
import type { Passwords } from '../../src/users/passwords.ts';
import { harness, type Harness, type StoreName } from './harness.ts';

export interface Inbox {
  port: number;
  messages: ParsedMail[];
  /** False between `stop()` and `start()`. */
  readonly listening: boolean;
  /** The first message (in arrival order) that satisfies `match`, waiting up to `timeoutMs`. */
  waitFor(match: (mail: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startSmtp(): Promise<Inbox> {
  const messages: ParsedMail[] = [];
  const waiters = new Set<() => void>();
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, _session, callback) {
        simpleParser(stream)
          .then((mail) => {
            messages.push(mail);
            for (const wake of waiters) wake();
            callback();
          })
          .catch((error: Error) => callback(error));
      },
    });
  let server = make();
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  const port = await listen(0);
  let listening = true;
  return {
    port,
    messages,
    get listening() {
      return listening;
    },
    async waitFor(match, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching mail within ${timeoutMs} ms (${messages.length} received)`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            waiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    async stop() {
      if (!listening) return;
      listening = false;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async start() {
      server = make();
      await listen(port);
      listening = true;
    },
  };
}

/** The `{uid}` and `{token}` of the first link to `path` in a mail's text. */
export function linkIn(mail: ParsedMail, path = '/account/reset/'): { url: string; uid: string; token: string } {
  const text = mail.text ?? '';
  const at = text.indexOf(path);
  if (at < 0) throw new Error(`no ${path} link in: ${text}`);
  const start = text.lastIndexOf('http', at);
  const url = text.slice(start).split(/\s/)[0] ?? '';
  const [uid = '', token = ''] = url.slice(url.indexOf(path) + path.length).split('/');
  return { url, uid, token };
}

/** Settings that send mail to `inbox`, with links under a fixed PUBLIC_URL. */
export function mailEnv(inbox: Inbox, extra: Record<string, string> = {}): Record<string, string> {
  return { EMAIL_BACKEND: 'smtp', EMAIL_HOST: '127.0.0.1', EMAIL_PORT: String(inbox.port), PUBLIC_URL: 'https://id.example.test', ...extra };
}

/** Sender timing for tests: retries within a fraction of a second, so a stopped server costs little. */
export const QUICK_SENDER = { backoffMs: 100, maxBackoffMs: 400, pollMs: 100 };

/** The first recipient of a delivered message. */
export function addressOf(mail: ParsedMail): string | undefined {
  return (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address;
}

export interface MailHarness extends Harness {
  inbox: Inbox;
  /** A POST through `inject`. */
  post(url: string, payload: Record<string, unknown>, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

/**
 * An in-process SMTP server and an app on `name` whose mail goes to it
 * (`mailEnv` plus `env`), sending with QUICK_SENDER; `close()` ends both.
 * @example const h = await mailHarness(name, { env: { EMAIL_VERIFICATION: 'optional' } });
 */
export async function mailHarness(name: StoreName, options: { env?: Record<string, string>; passwords?: Passwords; clock?: Clock } = {}): Promise<MailHarness> {
  const inbox = await startSmtp();
  const h = await harness(name, {
    env: mailEnv(inbox, options.env),
    deps: { mailSender: QUICK_SENDER },
    ...(options.passwords ? { passwords: options.passwords } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const closeApp = h.close;
  return Object.assign(h, {
    inbox,
    post: (url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload, headers }),
    async close() {
      await closeApp();
      await inbox.stop();
    },
  });
}
