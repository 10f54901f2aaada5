import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, UserMfaTable } from '../schema.ts';

export type UserMfaRow = Selectable<UserMfaTable>;

/**
 * All SQL about second factors. Every check that must hold across instances
 * (a TOTP step used once, a recovery code used once, an mfa_token's attempts,
 * the failure lock) is one conditional statement, so PostgreSQL decides.
 */
export class MfaRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async find(userId: number): Promise<UserMfaRow | undefined> {
    return this.#db.selectFrom('user_mfa').selectAll().where('user_id', '=', userId).executeTakeFirst();
  }

  /** The user's row with the number of their passkeys, in one statement (a user with neither has no row). */
  async findWithPasskeys(userId: number): Promise<(UserMfaRow & { passkeys: number }) | undefined> {
    const row = await this.#db
      .selectFrom('user_mfa')
      .selectAll('user_mfa')
      .select((eb) => eb.selectFrom('passkeys').select((p) => p.fn.countAll<string>().as('n')).where('passkeys.user_id', '=', userId).as('passkeys'))
      .where('user_mfa.user_id', '=', userId)
      .executeTakeFirst();
    return row && { ...row, passkeys: Number(row.passkeys ?? 0) };
  }

  /**
   * Stores a pending TOTP secret (replacing an earlier pending one). Refused
   * (false) when the user already has a confirmed one.
   */
  async startTotp(userId: number, secret: string, expiresAt: Date, now: Date): Promise<boolean> {
    const row = await this.#db
      .insertInto('user_mfa')
      .values({ user_id: userId, totp_pending_secret: secret, totp_pending_expires_at: expiresAt, totp_secret: null, totp_confirmed_at: null, totp_last_used_at: null, locked_until: null, created_at: now })
      .onConflict((oc) =>
        oc.column('user_id').doUpdateSet({ totp_pending_secret: secret, totp_pending_expires_at: expiresAt }).where('user_mfa.totp_confirmed_at', 'is', null),
      )
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Makes the pending secret the user's factor, with `step` spent: only if it is
   * still the same pending secret, unexpired, and `step` is past the last one used.
   */
  async confirmTotp(userId: number, pendingSecret: string, step: number, drift: number, now: Date): Promise<boolean> {
    const row = await this.#db
      .updateTable('user_mfa')
      .set({
        totp_secret: pendingSecret,
        totp_pending_secret: null,
        totp_pending_expires_at: null,
        totp_confirmed_at: now,
        totp_last_used_at: now,
        totp_last_step: step,
        totp_drift: drift,
        failures: 0,
      })
      .where('user_id', '=', userId)
      .where('totp_confirmed_at', 'is', null)
      .where('totp_pending_secret', '=', pendingSecret)
      .where('totp_pending_expires_at', '>', now)
      .where('totp_last_step', '<', String(step))
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Spends a TOTP step: false when it (or a later one) was already accepted, here or on another instance. */
  async acceptStep(userId: number, step: number, drift: number, now: Date): Promise<boolean> {
    const row = await this.#db
      .updateTable('user_mfa')
      .set({ totp_last_step: step, totp_drift: drift, totp_last_used_at: now, failures: 0 })
      .where('user_id', '=', userId)
      .where('totp_confirmed_at', 'is not', null)
      .where('totp_last_step', '<', String(step))
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A success by another method (a recovery code) also ends the run of failures. */
  async clearFailures(userId: number): Promise<void> {
    await this.#db.updateTable('user_mfa').set({ failures: 0 }).where('user_id', '=', userId).execute();
  }

  /**
   * Counts one wrong code. The `lockAfter`-th in a row locks the factor until
   * `lockUntil` and starts the count again; returns the lock when this failure set it.
   */
  async recordFailure(userId: number, lockAfter: number, lockUntil: Date): Promise<Date | null> {
    const row = await this.#db
      .updateTable('user_mfa')
      .set((eb) => ({
        failures: sql<number>`case when ${eb.ref('failures')} + 1 >= ${lockAfter} then 0 else ${eb.ref('failures')} + 1 end`,
        locked_until: sql<Date | null>`case when ${eb.ref('failures')} + 1 >= ${lockAfter} then ${lockUntil}::timestamptz else ${eb.ref('locked_until')} end`,
      }))
      .where('user_id', '=', userId)
      .returning(['failures', 'locked_until'])
      .executeTakeFirst();
    return row && row.failures === 0 && row.locked_until !== null ? row.locked_until : null;
  }

  /** Runs `work` in one transaction with a repo bound to it. */
  transaction<T>(work: (repo: MfaRepo) => Promise<T>): Promise<T> {
    if (this.#db.isTransaction) return work(this);
    return this.#db.transaction().execute((tx) => work(new MfaRepo(tx)));
  }

  /** Another repository on this one's connection (inside its transaction). */
  bind<R>(make: (db: Kysely<Database>) => R): R {
    return make(this.#db);
  }

  /** Removes the user's TOTP factor, pending secret and recovery codes. */
  async removeTotp(userId: number): Promise<boolean> {
    await this.#db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    // A later enrolment's secret starts its own count of steps.
    const row = await this.#db
      .updateTable('user_mfa')
      .set({ totp_secret: null, totp_pending_secret: null, totp_pending_expires_at: null, totp_confirmed_at: null, totp_last_used_at: null, totp_last_step: -1, totp_drift: 0 })
      .where('user_id', '=', userId)
      .where('totp_confirmed_at', 'is not', null)
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Removes every second factor of the user and what hangs on them: the TOTP
   * secret (confirmed or pending), the recovery codes, the mfa_tokens of
   * logins waiting for their second step, the passkeys and their pending
   * challenges, the remembered devices, and the failure count and lock.
   * Returns the methods that were there (one place for an administrator's reset).
   */
  async removeAllFactors(userId: number): Promise<Array<'totp' | 'webauthn' | 'recovery_code'>> {
    const removed: Array<'totp' | 'webauthn' | 'recovery_code'> = [];
    const codes = await this.#db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
    await this.#db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    await this.#db.deleteFrom('mfa_tokens').where('user_id', '=', userId).execute();
    await this.#db.deleteFrom('webauthn_challenges').where('user_id', '=', userId).execute();
    await this.#db.deleteFrom('mfa_remembered_devices').where('user_id', '=', userId).execute();
    const passkeys = await this.#db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
    const row = await this.#db.deleteFrom('user_mfa').where('user_id', '=', userId).returning('totp_confirmed_at').executeTakeFirst();
    if (row?.totp_confirmed_at != null) removed.push('totp');
    if (Number(passkeys.numDeletedRows) > 0) removed.push('webauthn');
    if (Number(codes.numDeletedRows) > 0) removed.push('recovery_code');
    return removed;
  }

  /** Which of `userIds` have a confirmed second factor (the admin API's `mfa_enabled`). */
  async usersWithFactor(userIds: readonly number[]): Promise<Set<number>> {
    if (userIds.length === 0) return new Set();
    const rows = await this.#db
      .selectFrom('user_mfa')
      .select('user_id')
      .where('user_id', 'in', userIds)
      .where('totp_confirmed_at', 'is not', null)
      .union((db) => db.selectFrom('passkeys').select('user_id').where('user_id', 'in', userIds))
      .execute();
    return new Set(rows.map((row) => row.user_id));
  }

  /** Replaces the user's recovery codes with a new set. */
  async replaceRecoveryCodes(userId: number, codes: ReadonlyArray<{ lookup: string; hash: string }>, now: Date): Promise<void> {
    await this.#db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    if (codes.length === 0) return;
    await this.#db
      .insertInto('mfa_recovery_codes')
      .values(codes.map((code) => ({ user_id: userId, lookup: code.lookup, code_hash: code.hash, created_at: now, used_at: null })))
      .execute();
  }

  /** Unused recovery codes of the user with this lookup value (one, unless 60 random bits collided). */
  async findRecoveryCodes(userId: number, lookup: string): Promise<Array<{ id: string; code_hash: string }>> {
    return this.#db
      .selectFrom('mfa_recovery_codes')
      .select(['id', 'code_hash'])
      .where('user_id', '=', userId)
      .where('lookup', '=', lookup)
      .where('used_at', 'is', null)
      .execute();
  }

  /** Spends a recovery code: false when another request spent it first. */
  async useRecoveryCode(id: string, now: Date): Promise<boolean> {
    const row = await this.#db
      .updateTable('mfa_recovery_codes')
      .set({ used_at: now })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  async countRecoveryCodes(userId: number): Promise<number> {
    const row = await this.#db
      .selectFrom('mfa_recovery_codes')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async insertToken(tokenHash: string, userId: number, now: Date, expiresAt: Date): Promise<void> {
    await this.#db.insertInto('mfa_tokens').values({ token_hash: tokenHash, user_id: userId, created_at: now, expires_at: expiresAt, consumed_at: null }).execute();
  }

  /** A live mfa_token: unexpired, unspent, not burnt. */
  async findToken(tokenHash: string, now: Date): Promise<{ user_id: number; attempts: number } | undefined> {
    return this.#db
      .selectFrom('mfa_tokens')
      .select(['user_id', 'attempts'])
      .where('token_hash', '=', tokenHash)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
  }

  /** Counts a wrong code against the token; the `max`-th burns it. Returns the attempts left (0: burnt or gone). */
  async failToken(tokenHash: string, max: number, now: Date): Promise<number> {
    const row = await this.#db
      .updateTable('mfa_tokens')
      .set((eb) => ({
        attempts: sql<number>`${eb.ref('attempts')} + 1`,
        consumed_at: sql<Date | null>`case when ${eb.ref('attempts')} + 1 >= ${max} then ${now}::timestamptz else null end`,
      }))
      .where('token_hash', '=', tokenHash)
      .where('consumed_at', 'is', null)
      .returning('attempts')
      .executeTakeFirst();
    return row ? Math.max(0, max - row.attempts) : 0;
  }

  /** Spends the token: false when it was spent, burnt or expired meanwhile (another request won). */
  async consumeToken(tokenHash: string, now: Date): Promise<boolean> {
    const row = await this.#db
      .updateTable('mfa_tokens')
      .set({ consumed_at: now })
      .where('token_hash', '=', tokenHash)
      .where('consumed_at', 'is', null)
      .where('expires_at', '>', now)
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Deletes mfa_tokens past their expiry, spent or burnt (flush-expired-tokens): none can be used again. */
  async purgeTokens(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('mfa_tokens')
      .where((eb) => eb.or([eb('expires_at', '<=', now), eb('consumed_at', 'is not', null)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
