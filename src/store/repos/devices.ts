import type { Kysely, Selectable } from 'kysely';
import type { Database, MfaRememberedDevicesTable } from '../schema.ts';

export type RememberedDeviceRow = Selectable<MfaRememberedDevicesTable>;

/** All SQL about remembered devices (MFA_REMEMBER_DEVICE_DAYS). */
export class RememberedDevicesRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(row: RememberedDeviceRow): Promise<void> {
    await this.#db.insertInto('mfa_remembered_devices').values(row).execute();
  }

  /** The unexpired device whose token hashes to `tokenHash`. */
  async findByHash(tokenHash: string, now: Date): Promise<RememberedDeviceRow | undefined> {
    return this.#db.selectFrom('mfa_remembered_devices').selectAll().where('token_hash', '=', tokenHash).where('expires_at', '>', now).executeTakeFirst();
  }

  async touch(id: string, now: Date): Promise<void> {
    await this.#db.updateTable('mfa_remembered_devices').set({ last_used_at: now }).where('id', '=', id).execute();
  }

  /** The user's unexpired devices, newest first. */
  async list(userId: number, now: Date): Promise<RememberedDeviceRow[]> {
    return this.#db
      .selectFrom('mfa_remembered_devices')
      .selectAll()
      .where('user_id', '=', userId)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  /** Forgets one of the user's devices: false when it is not theirs or not there. */
  async delete(userId: number, id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('mfa_remembered_devices').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  /** Forgets every device of the user; says how many were. */
  async deleteAll(userId: number): Promise<number> {
    const result = await this.#db.deleteFrom('mfa_remembered_devices').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** Deletes devices past their expiry (flush-expired-tokens). */
  async purge(now: Date): Promise<number> {
    const result = await this.#db.deleteFrom('mfa_remembered_devices').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
