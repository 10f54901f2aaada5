import { type Kysely, type Selectable } from 'kysely';
import type { Database, PasskeysTable, WebauthnChallengesTable } from '../schema.ts';

export type PasskeyRow = Selectable<PasskeysTable>;
export type ChallengeRow = Selectable<WebauthnChallengesTable>;
export type ChallengePurpose = 'register' | 'login' | 'mfa';

export interface NewPasskey {
  id: string;
  userId: number;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  userHandle: string;
  name: string;
  createdAt: Date;
}

/** What a challenge is bound to: the user registering, or the login waiting for its second step. */
export interface ChallengeBinding {
  userId?: number;
  mfaTokenHash?: string;
}

/**
 * All SQL about passkeys and WebAuthn challenges. A challenge is spent and a
 * counter moved by one conditional statement each, so PostgreSQL decides
 * between two instances presenting the same assertion.
 */
export class PasskeysRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insertChallenge(row: { id: string; purpose: ChallengePurpose; challenge: string; userHandle?: string; createdAt: Date; expiresAt: Date } & ChallengeBinding): Promise<void> {
    await this.#db
      .insertInto('webauthn_challenges')
      .values({
        id: row.id,
        purpose: row.purpose,
        user_id: row.userId ?? null,
        mfa_token_hash: row.mfaTokenHash ?? null,
        challenge: row.challenge,
        user_handle: row.userHandle ?? null,
        created_at: row.createdAt,
        expires_at: row.expiresAt,
        used_at: null,
      })
      .execute();
  }

  /**
   * Spends a challenge of this purpose and binding: its value (and the user
   * handle a registration offered), or undefined
   * when it is unknown, expired, already used, or meant for something else
   * (which leaves it as it was).
   */
  async takeChallenge(id: string, purpose: ChallengePurpose, binding: ChallengeBinding, now: Date): Promise<{ challenge: string; userHandle: string | null } | undefined> {
    let query = this.#db
      .updateTable('webauthn_challenges')
      .set({ used_at: now })
      .where('id', '=', id)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now);
    if (binding.userId !== undefined) query = query.where('user_id', '=', binding.userId);
    if (binding.mfaTokenHash !== undefined) query = query.where('mfa_token_hash', '=', binding.mfaTokenHash);
    const row = await query.returning(['challenge', 'user_handle']).executeTakeFirst();
    return row && { challenge: row.challenge, userHandle: row.user_handle };
  }

  /** Deletes challenges past their expiry. */
  async purgeChallenges(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('webauthn_challenges').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async insert(passkey: NewPasskey): Promise<void> {
    await this.#db
      .insertInto('passkeys')
      .values({
        id: passkey.id,
        user_id: passkey.userId,
        credential_id: passkey.credentialId,
        public_key: passkey.publicKey,
        counter: passkey.counter,
        transports: JSON.stringify(passkey.transports),
        device_type: passkey.deviceType,
        backed_up: passkey.backedUp,
        user_handle: passkey.userHandle,
        name: passkey.name,
        created_at: passkey.createdAt,
        last_used_at: null,
      })
      .execute();
  }

  /** The user's passkeys, oldest first. */
  async list(userId: number): Promise<PasskeyRow[]> {
    return this.#db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  }

  async count(userId: number): Promise<number> {
    const row = await this.#db
      .selectFrom('passkeys')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async findByCredential(credentialId: string): Promise<PasskeyRow | undefined> {
    return this.#db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
  }

  /** One of the user's passkeys (another user's is as good as none). */
  async findOwn(userId: number, id: string): Promise<PasskeyRow | undefined> {
    return this.#db.selectFrom('passkeys').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  }

  async rename(userId: number, id: string, name: string): Promise<PasskeyRow | undefined> {
    return this.#db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
  }

  async delete(userId: number, id: string): Promise<boolean> {
    const row = await this.#db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).returning('id').executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Records a use: the new counter, only if it moved forward (or both are 0:
   * an authenticator that does not count). False: another request got there
   * first with this counter or a later one — a cloned or replayed assertion.
   */
  async recordUse(id: string, counter: number, now: Date): Promise<boolean> {
    const row = await this.#db
      .updateTable('passkeys')
      .set({ counter, last_used_at: now })
      .where('id', '=', id)
      .where((eb) => (counter === 0 ? eb('counter', '=', '0') : eb('counter', '<', String(counter))))
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Live sessions the passkey opened. */
  async sessionsOpenedBy(id: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('sessions').select('id').where('passkey_id', '=', id).where('revoked_at', 'is', null).execute();
    return rows.map((row) => row.id);
  }

  /**
   * Makes sure the user has a user_mfa row, where the second factor's failure
   * count and lock live (a user whose only factor is a passkey has no TOTP row).
   */
  async ensureMfaRow(userId: number, now: Date): Promise<void> {
    await this.#db
      .insertInto('user_mfa')
      .values({ user_id: userId, totp_secret: null, totp_pending_secret: null, totp_pending_expires_at: null, totp_confirmed_at: null, totp_last_used_at: null, locked_until: null, created_at: now })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
  }

  /** Another repository on this one's connection (inside its transaction). */
  bind<R>(make: (db: Kysely<Database>) => R): R {
    return make(this.#db);
  }

  /** Runs `work` in one transaction with a repo bound to it. */
  transaction<T>(work: (repo: PasskeysRepo) => Promise<T>): Promise<T> {
    if (this.#db.isTransaction) return work(this);
    return this.#db.transaction().execute((tx) => work(new PasskeysRepo(tx)));
  }
}

