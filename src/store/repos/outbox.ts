import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, MailOutboxTable } from '../schema.ts';

export type OutboxRow = Selectable<MailOutboxTable>;

export interface NewMail {
  kind: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  at: Date;
}

/** All SQL about the mail outbox. */
export class OutboxRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(mail: NewMail): Promise<void> {
    await this.#db
      .insertInto('mail_outbox')
      .values({
        kind: mail.kind,
        to_address: mail.to,
        subject: mail.subject,
        text_body: mail.text,
        html_body: mail.html,
        created_at: mail.at,
        send_after: mail.at,
      })
      .execute();
  }

  /**
   * Claims up to `limit` messages that are due and not claimed by another
   * sender (or whose claim has lapsed), until `lockUntil`. `skip locked`
   * keeps two instances from claiming the same message.
   */
  async claimDue(now: Date, lockUntil: Date, limit: number): Promise<OutboxRow[]> {
    const { rows } = await sql<OutboxRow>`
      update mail_outbox set locked_until = ${lockUntil}
      where id in (
        select id from mail_outbox
        where sent_at is null and failed_at is null and send_after <= ${now}
          and (locked_until is null or locked_until <= ${now})
        order by send_after, id
        limit ${limit}
        for update skip locked)
      returning *`.execute(this.#db);
    return rows;
  }

  /** Delivered: the bodies, which may carry links, are blanked. */
  async markSent(id: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('mail_outbox')
      .set({ sent_at: at, locked_until: null, text_body: '', html_body: '', last_error: null, attempts: sql`attempts + 1` })
      .where('id', '=', id)
      .execute();
  }

  /** A failed attempt: tried again after `retryAt`, or given up on (`failed_at`, bodies blanked) when it is undefined. */
  async markFailed(id: string, error: string, at: Date, retryAt: Date | undefined): Promise<void> {
    await this.#db
      .updateTable('mail_outbox')
      .set({
        attempts: sql`attempts + 1`,
        last_error: error.slice(0, 1000),
        locked_until: null,
        ...(retryAt ? { send_after: retryAt } : { failed_at: at, text_body: '', html_body: '' }),
      })
      .where('id', '=', id)
      .execute();
  }

  /** The earliest time a message is due, if any waits. */
  async nextDue(): Promise<Date | undefined> {
    const row = await this.#db
      .selectFrom('mail_outbox')
      .select((eb) => eb.fn.min('send_after').as('due'))
      .where('sent_at', 'is', null)
      .where('failed_at', 'is', null)
      .executeTakeFirst();
    return row?.due ? new Date(row.due) : undefined;
  }

  /** Deletes messages delivered, or given up on, before `before` (flush-expired-tokens); waiting ones stay. */
  async purgeDone(before: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('mail_outbox')
      .where((eb) => eb.or([eb('sent_at', '<', before), eb('failed_at', '<', before)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Messages, newest first (tests and the CLI look at what was queued). */
  async recent(limit: number): Promise<OutboxRow[]> {
    return this.#db.selectFrom('mail_outbox').selectAll().orderBy('id', 'desc').limit(limit).execute();
  }
}
