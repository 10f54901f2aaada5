import { argon2idNeedsRehash, hashArgon2id, PREFIX as ARGON2ID, verifyArgon2id } from './hashers/argon2id.ts';

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash should be replaced by a fresh argon2id one. */
  needsRehash: boolean;
}

/**
 * Hashes and checks passwords. New hashes are argon2id; the format of a stored
 * hash picks its verifier, which is where Django's formats plug in.
 */
export class Passwords {
  #dummy: Promise<string> | undefined;

  hash(password: string): Promise<string> {
    return hashArgon2id(password);
  }

  /** @example const { ok } = await passwords.verify(user.password, 'typed'); */
  async verify(encoded: string, password: string): Promise<PasswordCheck> {
    if (encoded.startsWith(ARGON2ID)) {
      const ok = await verifyArgon2id(encoded, password);
      return { ok, needsRehash: ok && argon2idNeedsRehash(encoded) };
    }
    return { ok: false, needsRehash: false };
  }

  /**
   * Spends the time of a real check when there is no user to check against, so
   * response time does not tell whether a username exists.
   */
  async verifyNobody(password: string): Promise<void> {
    this.#dummy ??= hashArgon2id('latchkey: no such user');
    await verifyArgon2id(await this.#dummy, password);
  }
}
