/**
 * The outbox and its sender. A request only adds a row (in its own
 * transaction, when it has one); a background loop claims due rows, sends
 * them, and retries failures with exponential backoff. A message survives a
 * restart, and several instances share the outbox without sending a message
 * twice (rows are claimed with `skip locked`).
 */
import type { Clock } from '../clock.ts';
import type { Language } from '../i18n/index.ts';
import type { OutboxRepo, OutboxRow } from '../store/repos/outbox.ts';
import type { MailKind, MailTemplates, MailValues } from './templates.ts';
import type { MailTransport } from './transport.ts';

export interface SenderOptions {
  /** First retry after this long; each next one waits twice as long, up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Attempts before a message is given up on (recorded as failed, bodies blanked). */
  maxAttempts: number;
  /** How often the outbox is looked at besides when this process adds to it. */
  pollMs: number;
  /** How long a claimed message is left to its sender before another may try it. */
  claimMs: number;
}

export const DEFAULT_SENDER: SenderOptions = { backoffMs: 5_000, maxBackoffMs: 15 * 60_000, maxAttempts: 12, pollMs: 5_000, claimMs: 120_000 };

/**
 * How long a delivered or abandoned message stays in the outbox (bodies
 * blanked) before flush-expired-tokens deletes it: a week to see what was
 * sent to whom, and why a message failed.
 */
export const OUTBOX_RETENTION_MS = 7 * 86_400_000;

/** One batch at most per pass; a pass repeats while batches come back full. */
const BATCH = 20;

export class Mailer {
  readonly #repo: OutboxRepo;
  readonly #templates: MailTemplates;
  readonly #transport: MailTransport;
  readonly #clock: Clock;
  readonly #options: SenderOptions;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #woken: Promise<void> | undefined;
  #started = false;

  constructor(deps: { repo: OutboxRepo; templates: MailTemplates; transport: MailTransport; clock: Clock; options?: Partial<SenderOptions>; onError?: (error: unknown) => void }) {
    this.#repo = deps.repo;
    this.#templates = deps.templates;
    this.#transport = deps.transport;
    this.#clock = deps.clock;
    this.#options = { ...DEFAULT_SENDER, ...deps.options };
    this.#onError = deps.onError ?? (() => {});
  }

  /**
   * Adds a rendered message to the outbox, through `repo` when given (a
   * transaction's, so the mail exists only if the transaction commits).
   * Call `wake()` after the commit.
   * @example await mailer.queue({ kind: 'password_reset', to, lang: 'fr', values: { username, link, lifetime } }, tx.outbox);
   */
  async queue(mail: { kind: MailKind; to: string; lang: Language; values: MailValues }, repo: OutboxRepo = this.#repo): Promise<void> {
    const rendered = this.#templates.render(mail.kind, mail.lang, mail.values);
    await repo.insert({ kind: mail.kind, to: mail.to, ...rendered, at: new Date(this.#clock.now()) });
  }

  /** Deletes the messages done with for longer than OUTBOX_RETENTION_MS; returns how many. */
  purge(now: Date): Promise<number> {
    return this.#repo.purgeDone(new Date(now.getTime() - OUTBOX_RETENTION_MS));
  }

  /** Sends what is due soon, without waiting for the next poll. */
  wake(): void {
    if (!this.#started) return;
    this.#woken = new Promise((resolve) => setImmediate(() => void this.#pass().then(resolve)));
  }

  /** Resolves when no pass is running or about to (tests, and `Auth.settled`). */
  async idle(): Promise<void> {
    await this.#woken;
    await this.#running;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    const tick = () => {
      this.#timer = setTimeout(() => {
        void this.#pass().finally(() => {
          if (this.#started) tick();
        });
      }, this.#options.pollMs);
      this.#timer.unref();
    };
    tick();
    this.wake();
  }

  async stop(): Promise<void> {
    this.#started = false;
    clearTimeout(this.#timer);
    await this.#running;
    this.#transport.close();
  }

  /**
   * Sends every message due now (a command that exits right after queueing
   * calls this). Bounded by `deadlineMs`; what is left stays in the outbox.
   */
  async drain(deadlineMs = 30_000): Promise<void> {
    const end = Date.now() + deadlineMs;
    do {
      await this.#pass();
    } while (this.#again && Date.now() < end);
  }

  /** One pass over the outbox; passes never overlap in one process. */
  #pass(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          const now = this.#clock.now();
          const rows = await this.#repo.claimDue(new Date(now), new Date(now + this.#options.claimMs), BATCH);
          for (const row of rows) await this.#deliver(row);
          if (rows.length === BATCH) this.#again = true;
        } while (this.#again && this.#started);
      } catch (error) {
        this.#onError(error);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  async #deliver(row: OutboxRow): Promise<void> {
    try {
      await this.#transport.send({ to: row.to_address, subject: row.subject, text: row.text_body, html: row.html_body });
      await this.#repo.markSent(row.id, new Date(this.#clock.now()));
    } catch (error) {
      const attempts = row.attempts + 1;
      const now = this.#clock.now();
      const wait = Math.min(this.#options.maxBackoffMs, this.#options.backoffMs * 2 ** (attempts - 1));
      const retryAt = attempts >= this.#options.maxAttempts ? undefined : new Date(now + wait);
      await this.#repo.markFailed(row.id, error instanceof Error ? error.message : String(error), new Date(now), retryAt).catch(this.#onError);
      this.#onError(new MailDeliveryError(row, attempts, retryAt, error));
    }
  }
}

/** A failed delivery, reported to `onError`: never the message's body (it may carry a link). */
export class MailDeliveryError extends Error {
  constructor(row: OutboxRow, attempts: number, retryAt: Date | undefined, cause: unknown) {
    super(
      `mail ${row.id} (${row.kind}) not delivered, attempt ${attempts}: ${cause instanceof Error ? cause.message : String(cause)}; `
        + (retryAt ? `retry at ${retryAt.toISOString()}` : 'given up'),
    );
    this.name = 'MailDeliveryError';
    this.cause = cause;
  }
}
