import type { Kysely, Selectable } from 'kysely';
import type { Database, RecoveryTokensTable } from '../schema.ts';

export type RecoveryTokenRow = Selectable<RecoveryTokensTable>;

export type RecoveryPurpose = 'password_reset' | 'email_verify';

/** All SQL about password-reset and email-verification tokens. */
export class RecoveryRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Stores a new token and deletes the user's others of the same purpose: only the newest lives. */
  async replace(token: { userId: number; purpose: RecoveryPurpose; hash: string; boundTo: string; at: Date; expiresAt: Date }): Promise<void> {
    await this.#db.deleteFrom('recovery_tokens').where('user_id', '=', token.userId).where('purpose', '=', token.purpose).execute();
    await this.#db
      .insertInto('recovery_tokens')
      .values({
        user_id: token.userId,
        purpose: token.purpose,
        token_hash: token.hash,
        bound_to: token.boundTo,
        created_at: token.at,
        expires_at: token.expiresAt,
      })
      .execute();
  }

  /** The token with this hash for this user and purpose, used or expired or not (the caller tells a stale link from a bad one). */
  async find(userId: number, purpose: RecoveryPurpose, hash: string): Promise<RecoveryTokenRow | undefined> {
    return this.#db
      .selectFrom('recovery_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('token_hash', '=', hash)
      .executeTakeFirst();
  }

  /** Marks the token used if it still is live; false when another request got there first. */
  async consume(id: string, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('recovery_tokens')
      .set({ used_at: now })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Deletes every token of the user for the purpose (a password change voids every reset link). */
  async deleteFor(userId: number, purpose: RecoveryPurpose): Promise<void> {
    await this.#db.deleteFrom('recovery_tokens').where('user_id', '=', userId).where('purpose', '=', purpose).execute();
  }

  /**
   * Deletes what no request can use (flush-expired-tokens): expired tokens,
   * and used reset tokens. A used verification token stays until it expires:
   * its link, followed again, is answered `stale_token` rather than "invalid".
   */
  async purge(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('recovery_tokens')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb.and([eb('used_at', 'is not', null), eb('purpose', '=', 'password_reset')])]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
