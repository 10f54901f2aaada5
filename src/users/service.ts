import type { Clock } from '../clock.ts';
import type { UserCache } from './cache.ts';
import { AuthError, ConflictError, ValidationError } from '../errors.ts';
import { isUniqueViolation, type UserRow, type UsersRepo } from '../store/repos/users.ts';
import { normalizeEmail, normalizeUsername } from './identifiers.ts';
import type { ClientGone, HashGate } from '../limits/hashing.ts';
import type { Passwords } from './passwords.ts';
import { validatePassword } from './validators.ts';

export interface CreateUserInput {
  username: string;
  email?: string;
  password: string;
  role?: string;
  isStaff?: boolean;
  isManager?: boolean;
  isActive?: boolean;
  accountId?: number | null;
  passwordNeedsReset?: boolean;
  firstName?: string;
  lastName?: string;
  /** Registration requires an email; create-user and the admin API do not. */
  emailRequired?: boolean;
}

export type LoginAttempt =
  | { ok: true; user: UserRow }
  | { ok: false; userId: number | null; reason: 'unknown_user' | 'bad_password' | 'user_inactive' };

/** What counts as an email address (shared with the admin API). */
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Django's UnicodeUsernameValidator: letters and digits of any script, and @ . + - _. */
export const USERNAME = /^[\p{L}\p{N}_.@+-]+$/u;

/** A password change must change the password (a forced reset above all). */
export const SAME_PASSWORD = 'The new password must be different from the old one.';

/** A re-entered password that is not the user's. */
export const WRONG_PASSWORD = 'Invalid password.';

/** Who the users are: authentication by password, creation, profile. */
export class UserService {
  readonly #repo: UsersRepo;
  readonly #passwords: Passwords;
  readonly #clock: Clock;
  readonly #roles: string[];
  readonly #gate: HashGate | undefined;
  readonly #cache: UserCache | undefined;

  /**
   * `gate` bounds how many password hashes run and wait at once (load shedding); without it, no bound.
   * `cache` serves `get` (see UserCache for what keeps it true); without it, every read is a query.
   */
  constructor(deps: { repo: UsersRepo; passwords: Passwords; clock: Clock; roles: string[]; gate?: HashGate; cache?: UserCache }) {
    this.#repo = deps.repo;
    this.#cache = deps.cache;
    this.#passwords = deps.passwords;
    this.#clock = deps.clock;
    this.#roles = deps.roles;
    this.#gate = deps.gate;
  }

  /** Runs a password hash or check through the gate, if any. */
  #hashing<T>(work: () => Promise<T>, gone: ClientGone | undefined): Promise<T> {
    return this.#gate ? this.#gate.run(work, gone) : work();
  }

  /**
   * Checks credentials. Unknown and inactive users cost one password check too,
   * so timing reveals nothing; a failure says why and whose, for the audit trail,
   * never for the caller. Nothing is written: see `recordLogin`.
   * @example const attempt = await users.attempt('alice@example.com', 'correct horse');
   */
  async attempt(identifier: string, password: string, gone?: ClientGone): Promise<LoginAttempt> {
    const user = await this.#repo.findByIdentifier(identifier);
    if (!user) {
      await this.#hashing(() => this.#passwords.verifyNobody(password), gone);
      return { ok: false, userId: null, reason: 'unknown_user' };
    }
    const check = await this.#hashing(() => this.#passwords.verify(user.password, password), gone);
    if (!check.ok) return { ok: false, userId: user.id, reason: 'bad_password' };
    if (!user.is_active) return { ok: false, userId: user.id, reason: 'user_inactive' };
    if (check.needsRehash) {
      // Best effort: a failed upgrade must not fail the login; the next login tries again.
      await this.#hashing(() => this.#passwords.hash(password), undefined).then((encoded) => this.#repo.updatePassword(user.id, encoded)).catch(() => {});
    }
    return { ok: true, user };
  }

  /**
   * Records a successful login (`last_login`), unless the user's account is
   * inactive: then nothing is written and the answer is undefined.
   */
  async recordLogin(user: UserRow): Promise<UserRow | undefined> {
    const at = new Date(this.#clock.now());
    return (await this.#repo.recordLoginIfAccountActive(user.id, at)) ? { ...user, last_login: at } : undefined;
  }

  /** True when the user's account (tenant), if any, is active. */
  async accountActive(user: UserRow): Promise<boolean> {
    if (user.account_id === null) return true;
    return (await this.#repo.accountStatus(user.account_id))?.is_active ?? false;
  }

  /**
   * Changes a password after checking the old one; lifts a forced reset.
   * Failures are DRF field errors under `old_password` or `new_password`
   * (the same password again is refused, and nothing changes).
   */
  async changePassword(user: UserRow, oldPassword: string, newPassword: string, gone?: ClientGone): Promise<void> {
    const check = await this.#hashing(() => this.#passwords.verify(user.password, oldPassword), gone);
    if (!check.ok) throw new ValidationError({ old_password: ['Your old password was entered incorrectly. Please enter it again.'] });
    // The old password was just proven, so the same text is the same password: no second hash needed.
    // Refused, or a forced reset could be "satisfied" without changing anything.
    if (newPassword === oldPassword) throw new ValidationError({ new_password: [SAME_PASSWORD] });
    const problems = validatePassword(newPassword, user);
    if (problems.length > 0) throw new ValidationError({ new_password: problems });
    await this.#repo.updatePassword(user.id, await this.#hashing(() => this.#passwords.hash(newPassword), gone), { clearReset: true });
  }

  /**
   * Re-checks a signed-in user's password (second-factor enrolment and removal);
   * a wrong one is a 400 under `password`.
   */
  async confirmPassword(user: UserRow, password: string, gone?: ClientGone): Promise<void> {
    const check = await this.#hashing(() => this.#passwords.verify(user.password, password), gone);
    if (!check.ok) throw new ValidationError({ password: [WRONG_PASSWORD] });
  }

  /** argon2id through the gate, for other secrets than passwords (recovery codes). */
  hashSecret(secret: string, gone?: ClientGone): Promise<string> {
    return this.#hashing(() => this.#passwords.hash(secret), gone);
  }

  async verifySecret(encoded: string, secret: string, gone?: ClientGone): Promise<boolean> {
    return (await this.#hashing(() => this.#passwords.verify(encoded, secret), gone)).ok;
  }

  /** A new argon2id hash of `password`, through the hashing gate (a password reset stores it). */
  hashPassword(password: string, gone?: ClientGone): Promise<string> {
    return this.#hashing(() => this.#passwords.hash(password), gone);
  }

  /** A user named by id, or by username or email (the CLI's and the admin API's "which user"), read from the database. */
  async lookup(who: number | string): Promise<UserRow | undefined> {
    if (typeof who === 'string') return this.#repo.findByIdentifier(who);
    // An id no row can have (past 32 bits, negative) matches nothing, and must not reach an integer column.
    return Number.isSafeInteger(who) && who >= 1 && who <= 2_147_483_647 ? this.#repo.findById(who) : undefined;
  }

  /** The user's row; from the user cache unless `fresh` (a password check reads the database). */
  async get(id: number, options: { fresh?: boolean } = {}): Promise<UserRow | undefined> {
    if (this.#cache === undefined || options.fresh) return this.#repo.findById(id);
    return this.#cache.get(id, (key) => this.#repo.findById(key));
  }

  /**
   * Creates a user; a taken username or email is a 400 under that field. The
   * username is NFKC-normalised and the email's domain lower-cased, as Django
   * does; a username equal to another user's email, or an email equal to
   * another's username, is taken too, so a login identifier names one user.
   */
  async create(input: CreateUserInput, gone?: ClientGone): Promise<UserRow> {
    const username = normalizeUsername(input.username.trim());
    const email = normalizeEmail(input.email ?? '');
    const role = input.role ?? this.#roles[0] ?? 'client';
    const problems: Record<string, string[]> = {};
    if (!username) problems.username = ['This field may not be blank.'];
    else if ([...username].length > 150 || !USERNAME.test(username)) {
      problems.username = ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'];
    }
    if (email && !EMAIL.test(email)) problems.email = ['Enter a valid email address.'];
    else if (!email && input.emailRequired) problems.email = ['This field may not be blank.'];
    if (!input.password) problems.password = ['This field may not be blank.'];
    else {
      const weak = validatePassword(input.password, { username, email, first_name: input.firstName ?? '', last_name: input.lastName ?? '' });
      if (weak.length > 0) problems.password = weak;
    }
    if (!this.#roles.includes(role)) problems.role = [`"${role}" is not a valid choice.`];
    if (input.accountId != null && !(await this.#repo.accountStatus(input.accountId))) {
      problems.account_id = [`Invalid pk "${input.accountId}" - object does not exist.`];
    }

    // Checked before hashing, to spare an argon2 run; the unique indexes and the
    // identifier trigger (migration 0003) still decide a race.
    const taken = await this.#repo.taken(username, email);
    const clashes = (['username', 'email'] as const).filter((field) => taken[field] && !problems[field]);
    if (clashes.length > 0 && Object.keys(problems).length === 0) throw conflict(...clashes);
    for (const field of clashes) problems[field] = conflictMessage(field);
    if (Object.keys(problems).length > 0) throw new ValidationError(problems);
    const passwordHash = await this.#hashing(() => this.#passwords.hash(input.password), gone);
    try {
      return await this.#repo.insert({
        username,
        email,
        passwordHash,
        role,
        isStaff: input.isStaff ?? false,
        isManager: input.isManager ?? false,
        isActive: input.isActive ?? true,
        accountId: input.accountId ?? null,
        passwordNeedsReset: input.passwordNeedsReset ?? false,
        firstName: input.firstName ?? '',
        lastName: input.lastName ?? '',
        dateJoined: new Date(this.#clock.now()),
      });
    } catch (error) {
      const field = isUniqueViolation(error);
      if (field) throw conflict(field);
      throw error;
    }
  }

  async updateNames(id: number, names: { first_name?: string; last_name?: string }): Promise<UserRow> {
    const row = await this.#repo.updateNames(id, names);
    if (!row) throw new AuthError('not_found', 'user gone');
    return row;
  }
}

function conflictMessage(field: 'username' | 'email'): string[] {
  return [`A user with that ${field} already exists.`];
}

function conflict(...fields: Array<'username' | 'email'>): ConflictError {
  return new ConflictError(Object.fromEntries(fields.map((field) => [field, conflictMessage(field)])));
}
