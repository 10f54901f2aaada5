import { ValidationError } from '../errors.ts';
import type { UserChanges, UserRow } from '../store/repos/users.ts';
import { normalizeEmail } from '../users/identifiers.ts';
import { EMAIL } from '../users/service.ts';

/** What `Admin.createUser` takes: a new user as `UserService.create` takes it, plus two flags it leaves at their defaults. */
export interface AdminCreateUserInput {
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
}

/** The largest id an integer column holds: anything above is no row, not a database error. */
const MAX_ID = 2_147_483_647;

export function isStoredId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1 && id <= MAX_ID;
}

/** DRF's PrimaryKeyRelatedField message for an id that names no row. */
export function missingPk(id: number): string[] {
  return [`Invalid pk "${id}" - object does not exist.`];
}

export const EMAIL_TAKEN = ['A user with that email already exists.'];

/** The changes with the email trimmed and its domain lower-cased (Django's normalize_email); format and role checked (uniqueness and account are the caller's). */
export function normalizeUserChanges(changes: UserChanges, roles: readonly string[]): { changes: UserChanges; problems: Record<string, string[]> } {
  const normalized: UserChanges = { ...changes, ...(changes.email !== undefined ? { email: normalizeEmail(changes.email) } : {}) };
  const problems: Record<string, string[]> = {};
  if (normalized.email && !EMAIL.test(normalized.email)) problems.email = ['Enter a valid email address.'];
  if (normalized.role !== undefined && !roles.includes(normalized.role)) problems.role = [`"${normalized.role}" is not a valid choice.`];
  return { changes: normalized, problems };
}

/** The fields whose value would differ from the row's, in the order given. */
export function changedFields(row: UserRow, changes: UserChanges): Array<keyof UserChanges> {
  return (Object.keys(changes) as Array<keyof UserChanges>).filter((field) => changes[field] !== undefined && changes[field] !== row[field]);
}

/** Only the named fields of `changes`. */
export function pick(changes: UserChanges, fields: ReadonlyArray<keyof UserChanges>): UserChanges {
  return Object.fromEntries(fields.map((field) => [field, changes[field]])) as UserChanges;
}

/** The wire names of the fields an admin set when creating a user (never the password itself). */
export function createdFields(input: AdminCreateUserInput): string[] {
  const names: Record<Exclude<keyof AdminCreateUserInput, 'password'>, string> = {
    username: 'username',
    email: 'email',
    role: 'role',
    isStaff: 'is_staff',
    isManager: 'is_manager',
    isActive: 'is_active',
    accountId: 'account_id',
    passwordNeedsReset: 'password_needs_reset',
    firstName: 'first_name',
    lastName: 'last_name',
  };
  return (Object.keys(names) as Array<keyof typeof names>).filter((key) => input[key] !== undefined).map((key) => names[key]);
}

export function throwIfAny(problems: Record<string, string[]>): void {
  if (Object.keys(problems).length > 0) throw new ValidationError(problems);
}
