import { ARGON2ID_COST, argon2idNeedsRehash, hashArgon2id, PREFIX as ARGON2ID, verifyArgon2id, type Argon2idCost } from './hashers/argon2id.ts';
import { djangoAlgorithm, UNUSABLE_PREFIX, type DjangoHasher } from './hashers/django.ts';
import { djangoArgon2 } from './hashers/django-argon2.ts';
import { djangoBcrypt, djangoBcryptSha256 } from './hashers/django-bcrypt.ts';
import { djangoPbkdf2Sha256 } from './hashers/django-pbkdf2.ts';

export interface PasswordCheck {
  ok: boolean;
  /** The stored hash should be replaced by a fresh argon2id one. */
  needsRehash: boolean;
}

/** What a stored hash is, as the Django importer reports it. */
export interface HashDescription {
  /** `argon2id` for Latchkey's own; Django's name otherwise (`pbkdf2_sha256`, `md5`, …); `unusable` for `!…`. */
  algorithm: string;
  /** A password can be checked against it. */
  supported: boolean;
  /** False for Django's unusable passwords (`!…`, or an empty field): nobody can log in with a password. */
  usable: boolean;
  /** Why a usable hash is not supported. */
  reason?: string;
}

/** Django's formats that verify as stored and are upgraded to argon2id at the next login. */
const DJANGO_HASHERS = new Map<string, DjangoHasher>(
  [djangoPbkdf2Sha256, djangoArgon2, djangoBcryptSha256, djangoBcrypt].map((hasher) => [hasher.algorithm, hasher]),
);

/**
 * Names a stored hash's format and says whether Latchkey can check it.
 * @example describeHash('md5$salt$abc') // { algorithm: 'md5', supported: false, usable: true, reason: 'password hash format md5 is not supported' }
 */
export function describeHash(encoded: string): HashDescription {
  if (encoded === '' || encoded.startsWith(UNUSABLE_PREFIX)) return { algorithm: 'unusable', supported: false, usable: false };
  if (encoded.startsWith(ARGON2ID)) return { algorithm: 'argon2id', supported: true, usable: true };
  const algorithm = djangoAlgorithm(encoded);
  const hasher = DJANGO_HASHERS.get(algorithm);
  if (!hasher) return { algorithm, supported: false, usable: true, reason: `password hash format ${JSON.stringify(algorithm)} is not supported` };
  const problem = hasher.problem(encoded);
  return problem === undefined ? { algorithm, supported: true, usable: true } : { algorithm, supported: false, usable: true, reason: problem };
}

/**
 * Hashes and checks passwords. New hashes are argon2id; the format of a stored
 * hash picks its verifier: Latchkey's argon2id, or one of Django's formats.
 */
export class Passwords {
  #dummy: Promise<string> | undefined;
  readonly #cost: Argon2idCost;

  /** `argon2id` sets the cost of new hashes; the default is the production one (tests pass a cheap one). */
  constructor(options: { argon2id?: Argon2idCost } = {}) {
    this.#cost = options.argon2id ?? ARGON2ID_COST;
  }

  hash(password: string): Promise<string> {
    return hashArgon2id(password, this.#cost);
  }

  /** @example const { ok, needsRehash } = await passwords.verify(user.password, 'typed'); */
  async verify(encoded: string, password: string): Promise<PasswordCheck> {
    if (encoded.startsWith(ARGON2ID)) {
      const ok = await verifyArgon2id(encoded, password);
      return { ok, needsRehash: ok && argon2idNeedsRehash(encoded, this.#cost) };
    }
    const hasher = DJANGO_HASHERS.get(djangoAlgorithm(encoded));
    if (hasher) {
      const ok = await hasher.verify(encoded, password);
      return { ok, needsRehash: ok };
    }
    // Unusable or unknown: as long as a real check, so the answer does not tell such accounts apart.
    await this.verifyNobody(password);
    return { ok: false, needsRehash: false };
  }

  /**
   * Spends the time of a real check when there is no user to check against, so
   * response time does not tell whether a username exists.
   */
  async verifyNobody(password: string): Promise<void> {
    this.#dummy ??= hashArgon2id('latchkey: no such user', this.#cost);
    await verifyArgon2id(await this.#dummy, password);
  }
}
