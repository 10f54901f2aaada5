import type { Clock } from '../clock.ts';
import { AuthError, ConflictError, ValidationError } from '../errors.ts';
import { isUniqueViolation, type UserRow, type UsersRepo } from '../store/repos/users.ts';
import type { Passwords } from './passwords.ts';

export interface CreateUserInput {
  username: string;
  email?: string;
  password: string;
  role?: string;
  isStaff?: boolean;
  accountId?: number | null;
  passwordNeedsReset?: boolean;
  firstName?: string;
  lastName?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const USERNAME = /^[\w.@+-]+$/;

/** Who the users are: authentication by password, creation, profile. */
export class UserService {
  readonly #repo: UsersRepo;
  readonly #passwords: Passwords;
  readonly #clock: Clock;
  readonly #roles: string[];

  constructor(deps: { repo: UsersRepo; passwords: Passwords; clock: Clock; roles: string[] }) {
    this.#repo = deps.repo;
    this.#passwords = deps.passwords;
    this.#clock = deps.clock;
    this.#roles = deps.roles;
  }

  /**
   * The active user with these credentials, or `no_active_account`. Unknown and
   * inactive users cost one password check too, so timing reveals nothing.
   * @example const user = await users.authenticate('alice@example.com', 'correct horse');
   */
  async authenticate(identifier: string, password: string): Promise<UserRow> {
    const user = await this.#repo.findByIdentifier(identifier);
    if (!user) {
      await this.#passwords.verifyNobody(password);
      throw new AuthError('no_active_account', 'no such user');
    }
    const check = await this.#passwords.verify(user.password, password);
    if (!check.ok || !user.is_active) throw new AuthError('no_active_account', 'bad password or inactive');
    if (check.needsRehash) {
      // Best effort: a failed upgrade must not fail the login; the next login tries again.
      await this.#passwords.hash(password).then((encoded) => this.#repo.updatePassword(user.id, encoded)).catch(() => {});
    }
    const at = new Date(this.#clock.now());
    await this.#repo.recordLogin(user.id, at);
    return { ...user, last_login: at };
  }

  async get(id: number): Promise<UserRow | undefined> {
    return this.#repo.findById(id);
  }

  /** Creates a user; a taken username or email is a 400 under that field. */
  async create(input: CreateUserInput): Promise<UserRow> {
    const username = input.username.trim();
    const email = (input.email ?? '').trim();
    const role = input.role ?? this.#roles[0] ?? 'client';
    const problems: Record<string, string[]> = {};
    if (!username) problems.username = ['This field may not be blank.'];
    else if (username.length > 150 || !USERNAME.test(username)) {
      problems.username = ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'];
    }
    if (email && !EMAIL.test(email)) problems.email = ['Enter a valid email address.'];
    if (!input.password) problems.password = ['This field may not be blank.'];
    if (!this.#roles.includes(role)) problems.role = [`"${role}" is not a valid choice.`];
    if (Object.keys(problems).length > 0) throw new ValidationError(problems);

    // Checked before hashing, to spare an argon2 run; the unique indexes still decide a race.
    const taken = await this.#repo.taken(username, email);
    const fields = (['username', 'email'] as const).filter((field) => taken[field]);
    if (fields.length > 0) throw conflict(...fields);
    const passwordHash = await this.#passwords.hash(input.password);
    try {
      return await this.#repo.insert({
        username,
        email,
        passwordHash,
        role,
        isStaff: input.isStaff ?? false,
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

function conflict(...fields: Array<'username' | 'email'>): ConflictError {
  return new ConflictError(Object.fromEntries(fields.map((field) => [field, [`A user with that ${field} already exists.`]])));
}
