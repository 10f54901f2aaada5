/**
 * The admin API's domain: users, accounts (tenants) and the audit trail as
 * administrators see them. Every change is recorded in the audit trail with
 * the administrator who made it; never a password.
 */
import type { AuditDetail, AuditEventType, AuditLog } from '../audit/log.ts';
import type { Clock } from '../clock.ts';
import type { Language } from '../i18n/index.ts';
import type { RecoveryService } from '../recovery/service.ts';
import { AuthError, ConflictError, ValidationError } from '../errors.ts';
import type { ClientInfo, SessionService } from '../sessions/service.ts';
import type { AccountChanges, AccountRow, AccountsRepo } from '../store/repos/accounts.ts';
import type { MfaRepo } from '../store/repos/mfa.ts';
import type { AuditQuery } from '../store/repos/audit.ts';
import type { ListQuery } from '../store/repos/search.ts';
import { isUniqueViolation, type UserChanges, type UserRow, type UsersRepo } from '../store/repos/users.ts';
import { adminUser } from '../users/public.ts';
import type { UserService } from '../users/service.ts';
import type { Account, AdminUser, AuditEvent } from '../wire.ts';
import { checkSearch } from './search.ts';
import { accountView, auditEventView } from './views.ts';
import {
  changedFields, createdFields, EMAIL_TAKEN, isStoredId, missingPk, normalizeUserChanges, pick, throwIfAny,
  type AdminCreateUserInput,
} from './users.ts';

export type { AdminCreateUserInput } from './users.ts';

/** User fields that tokens carry: changing one ends the user's sessions. */
const CLAIM_FIELDS: readonly string[] = ['role', 'account_id'];

export interface AdminDeps {
  users: UsersRepo;
  accounts: AccountsRepo;
  audit: AuditLog;
  /** Creates users: validation (passwords included) and hashing live there. */
  userService: UserService;
  /** Ends sessions, so the users' access tokens are refused at once. */
  sessions: SessionService;
  clock: Clock;
  roles: string[];
  /** Writes a change of address with what EMAIL_VERIFICATION asks (a link to the new one, a notice to the old). */
  addresses: Pick<RecoveryService, 'changeAddress'>;
  /** Which users have a second factor (`mfa_enabled`). */
  factors: Pick<MfaRepo, 'usersWithFactor'>;
}

/** The administrator acting, and from where: recorded with each change. */
export interface Actor {
  userId: number;
  sessionId: string;
  client: ClientInfo;
  /** The administrator's language: mails sent on their word are written in it (default English). */
  lang?: Language;
}

export interface Page<T> {
  count: number;
  rows: T[];
}

const ACCOUNT_NAME_TAKEN = ['An account with that name already exists.'];

export class Admin {
  readonly #users: UsersRepo;
  readonly #accounts: AccountsRepo;
  readonly #audit: AuditLog;
  readonly #userService: UserService;
  readonly #sessions: SessionService;
  readonly #clock: Clock;
  readonly #roles: string[];
  readonly #addresses: AdminDeps['addresses'];
  readonly #factors: Pick<MfaRepo, 'usersWithFactor'>;

  constructor(deps: AdminDeps) {
    this.#users = deps.users;
    this.#accounts = deps.accounts;
    this.#audit = deps.audit;
    this.#userService = deps.userService;
    this.#sessions = deps.sessions;
    this.#clock = deps.clock;
    this.#roles = deps.roles;
    this.#addresses = deps.addresses;
    this.#factors = deps.factors;
  }

  /**
   * The caller, if an active administrator (`is_staff` or role `admin`), read from
   * the database so a demotion takes effect at once; else `permission_denied`.
   * @example const admin = await auth.admin.authorize(principal);
   */
  async authorize(principal: { userId: number }): Promise<{ role: string }> {
    const user = await this.#users.findById(principal.userId);
    if (!user) throw new AuthError('user_not_found', 'user gone');
    if (!user.is_active) throw new AuthError('user_inactive', 'user inactive');
    if (!user.is_staff && user.role !== 'admin') throw new AuthError('permission_denied', 'not an administrator');
    return { role: user.role };
  }

  // Users

  /** @example const { count, rows } = await admin.listUsers({ search: 'ada', offset: 0, limit: 20 }); */
  async listUsers(query: ListQuery): Promise<Page<AdminUser>> {
    checkSearch(query.search);
    const { count, rows } = await this.#users.list(query);
    return { count, rows: await this.#views(rows) };
  }

  async getUser(id: number): Promise<AdminUser> {
    return this.#view(await this.#userRow(id));
  }

  /** Users as the admin API shows them, with `mfa_enabled` read in one query for the lot. */
  async #views(rows: UserRow[]): Promise<AdminUser[]> {
    const withFactor = await this.#factors.usersWithFactor(rows.map((row) => row.id));
    return rows.map((row) => adminUser(row, withFactor.has(row.id)));
  }

  async #view(row: UserRow): Promise<AdminUser> {
    return (await this.#views([row]))[0]!;
  }

  async #userRow(id: number): Promise<UserRow> {
    const user = isStoredId(id) ? await this.#users.findById(id) : undefined;
    if (!user) throw new AuthError('not_found', 'no such user');
    return user;
  }

  /** Creates a user through UserService (Django's password validation included); the account must exist. */
  async createUser(input: AdminCreateUserInput, actor: Actor): Promise<AdminUser> {
    if (input.accountId != null) await this.#requireAccount(input.accountId);
    // One insert with every field: never a moment where the user exists without its flags.
    const user = await this.#userService.create(input);
    await this.#record(actor, 'user_created', user.id, { fields: createdFields(input) });
    return adminUser(user, false);
  }

  /**
   * Changes a user. Deactivating ends all their sessions at once; forcing a
   * password reset is recorded as `password_reset_forced`; a new address is
   * verified as EMAIL_VERIFICATION says (SPEC §11), in the same transaction.
   */
  async updateUser(id: number, requested: UserChanges, actor: Actor): Promise<AdminUser> {
    const user = await this.#userRow(id);
    const { changes, problems } = normalizeUserChanges(requested, this.#roles);
    if (!problems.email && changes.email && (await this.#users.emailTaken(changes.email, id))) problems.email = EMAIL_TAKEN;
    if (changes.account_id != null && !(await this.#accountExists(changes.account_id))) problems.account_id = missingPk(changes.account_id);
    throwIfAny(problems);

    const fields = changedFields(user, changes);
    if (fields.length === 0) return this.#view(user);
    let updated: UserRow | undefined;
    try {
      const write = (users: UsersRepo) => users.update(id, pick(changes, fields));
      updated = fields.includes('email') ? await this.#addresses.changeAddress(id, write, actor.lang ?? 'en', actor.client) : await write(this.#users);
    } catch (error) {
      if (isUniqueViolation(error) === 'email') throw new ConflictError({ email: EMAIL_TAKEN });
      throw error;
    }
    if (!updated) throw new AuthError('not_found', 'user gone');
    await this.#record(actor, 'user_updated', id, { fields });
    if (fields.includes('is_active') && !updated.is_active) {
      const ended = await this.#sessions.revoke({ userId: id }, 'user_deactivated');
      await this.#record(actor, 'user_deactivated', id, { sessions_ended: ended.length });
    }
    const forcedReset = fields.includes('password_needs_reset') && updated.password_needs_reset;
    if (forcedReset) {
      // Logged out at once: the next login gets restricted tokens until the password is changed.
      const ended = await this.#sessions.revoke({ userId: id }, 'password_reset_forced');
      await this.#record(actor, 'password_reset_forced', id, { sessions_ended: ended.length });
    } else if (updated.is_active && fields.some((field) => CLAIM_FIELDS.includes(field))) {
      // Tokens carry role and account_id; services trusting them must not act on stale ones.
      await this.#sessions.revoke({ userId: id }, 'claims_changed');
    }
    return this.#view(updated);
  }

  /** DELETE: sets `is_active` false and ends the user's sessions; nothing is erased. Idempotent. */
  async deactivateUser(id: number, actor: Actor): Promise<void> {
    const user = await this.#userRow(id);
    if (!user.is_active) return;
    await this.#users.update(id, { is_active: false });
    const ended = await this.#sessions.revoke({ userId: id }, 'user_deactivated');
    await this.#record(actor, 'user_deactivated', id, { sessions_ended: ended.length });
  }

  /** Logs a user out everywhere; returns how many sessions were ended. */
  async endUserSessions(id: number, actor: Actor): Promise<number> {
    await this.getUser(id);
    const ended = await this.#sessions.revoke({ userId: id }, 'admin_logout');
    await this.#record(actor, 'user_sessions_ended', id, { sessions_ended: ended.length });
    return ended.length;
  }

  // Accounts

  async listAccounts(query: ListQuery): Promise<Page<Account>> {
    checkSearch(query.search);
    const { count, rows } = await this.#accounts.list(query);
    return { count, rows: rows.map(accountView) };
  }

  async getAccount(id: number): Promise<Account> {
    return accountView(await this.#accountRow(id));
  }

  async #accountRow(id: number): Promise<AccountRow> {
    const account = isStoredId(id) ? await this.#accounts.findById(id) : undefined;
    if (!account) throw new AuthError('not_found', 'no such account');
    return account;
  }

  /** @example const account = await admin.createAccount({ name: 'Acme' }, actor); */
  async createAccount(input: { name: string }, actor: Actor): Promise<Account> {
    const name = await this.#checkAccountName(input.name);
    const account = await this.#accountWrite(() => this.#accounts.insert({ name, createdAt: new Date(this.#clock.now()) }));
    await this.#record(actor, 'account_created', null, { account_id: account.id });
    return accountView(account);
  }

  /** Renames, deactivates or reactivates an account; deactivating ends every session of its users. */
  async updateAccount(id: number, requested: AccountChanges, actor: Actor): Promise<Account> {
    const account = await this.#accountRow(id);
    const changes: AccountChanges = { ...requested };
    if (requested.name !== undefined) changes.name = await this.#checkAccountName(requested.name, id);
    const fields = (Object.keys(changes) as Array<keyof AccountChanges>).filter((f) => changes[f] !== undefined && changes[f] !== account[f]);
    if (fields.length === 0) return accountView(account);
    const updated = await this.#accountWrite(() => this.#accounts.update(id, Object.fromEntries(fields.map((f) => [f, changes[f]]))));
    if (!updated) throw new AuthError('not_found', 'account gone');
    await this.#record(actor, 'account_updated', null, { account_id: id, fields });
    if (fields.includes('is_active') && !updated.is_active) await this.#endAccountSessions(id, actor);
    return accountView(updated);
  }

  /** DELETE: sets `is_active` false and ends every session of the account's users. Idempotent. */
  async deactivateAccount(id: number, actor: Actor): Promise<void> {
    const account = await this.#accountRow(id);
    if (!account.is_active) return;
    await this.#accounts.update(id, { is_active: false });
    await this.#endAccountSessions(id, actor);
  }

  // Audit trail

  /** Newest first. @example await admin.listAuditEvents({ userId: 7, type: 'login_failed', offset: 0, limit: 20 }); */
  async listAuditEvents(query: AuditQuery): Promise<Page<AuditEvent>> {
    // An id no user can have matches nothing (and must not reach an integer column).
    if (query.userId !== undefined && !isStoredId(query.userId)) return { count: 0, rows: [] };
    const { count, rows } = await this.#audit.list(query);
    return { count, rows: rows.map(auditEventView) };
  }

  async #endAccountSessions(accountId: number, actor: Actor): Promise<void> {
    const ended = await this.#sessions.revoke({ accountId }, 'account_deactivated');
    await this.#record(actor, 'account_deactivated', null, { account_id: accountId, sessions_ended: ended.length });
  }

  /** The trimmed name, or a field error when blank or taken by another account. */
  async #checkAccountName(raw: string, exceptId?: number): Promise<string> {
    const name = raw.trim();
    if (!name) throw new ValidationError({ name: ['This field may not be blank.'] });
    if (await this.#accounts.nameTaken(name, exceptId)) throw new ConflictError({ name: ACCOUNT_NAME_TAKEN });
    return name;
  }

  /** A write that the unique name index may still refuse (two admins racing). */
  async #accountWrite<T>(write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError({ name: ACCOUNT_NAME_TAKEN });
      throw error;
    }
  }

  async #accountExists(id: number): Promise<boolean> {
    return isStoredId(id) && (await this.#accounts.findById(id)) !== undefined;
  }

  async #requireAccount(id: number): Promise<void> {
    if (!(await this.#accountExists(id))) throw new ValidationError({ account_id: missingPk(id) });
  }

  #record(actor: Actor, type: AuditEventType, userId: number | null, detail: AuditDetail): Promise<void> {
    return this.#audit.record({
      type,
      outcome: 'success',
      userId,
      sessionId: actor.sessionId,
      client: actor.client,
      detail: { by: actor.userId, ...detail },
    });
  }
}
