/**
 * Moving users from a Django site: each `auth_user` row becomes a Latchkey user
 * with the same id (SimpleJWT tokens already carry it) and the same password
 * hash (checked as Django would, upgraded to argon2id at the next login), or is
 * skipped with a reason. SimpleJWT refresh tokens still outstanding become
 * sessions, so their holders stay logged in. Re-running imports only what is not there yet.
 */
import { v7 as uuidv7 } from 'uuid';
import type { DjangoUserFields } from '../store/repos/django-users.ts';
import type { ExistingUser, ImportedUser, ImportsRepo, NameKeys } from '../store/repos/imports.ts';
import { newJti } from '../tokens/claims.ts';
import type { DjangoRow, DjangoSource, DjangoTokenSource } from './source.ts';
import { describeHash } from '../users/passwords.ts';

/** A mapped row, ready to insert. Plain JSON: batches cross the control socket. */
export interface ImportUser {
  id: number;
  username: string;
  email: string;
  /** Django's encoded hash, kept as it is. */
  password: string;
  firstName: string;
  lastName: string;
  role: string;
  isStaff: boolean;
  isActive: boolean;
  /** ISO 8601. */
  lastLogin: string | null;
  dateJoined: string;
}

/** A row left out, and why. `id` and `username` are null when the row has none usable. */
export interface SkippedRow {
  id: number | null;
  username: string | null;
  reason: string;
}

/** What one batch did. `unusable` counts imported users whose password cannot be used (Django's `!…`). */
export interface BatchResult {
  imported: number;
  present: number;
  unusable: number;
  skipped: SkippedRow[];
}

/** What a whole import did: every batch's results added up, and the source rows read. */
export interface ImportTotals extends BatchResult {
  read: number;
}

/** Rows mapped from the source: users to send in one operation, and the rows already skipped. */
export interface MappedBatch {
  /** Source rows this batch accounts for (users + skipped). */
  read: number;
  users: ImportUser[];
  skipped: SkippedRow[];
}

/** Django's UnicodeUsernameValidator (`^[\w.@+-]+\Z`, Python's Unicode `\w`) and max_length. */
const USERNAME = /^[\p{L}\p{N}_.@+-]{1,150}$/u;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;
/** users.id is a PostgreSQL integer. */
const MAX_ID = 2 ** 31 - 1;

/**
 * One Django row as a Latchkey user, or the reason it cannot be one. A superuser
 * becomes staff with the role `admin` (when ROLES has it); everyone else gets the
 * default role (the first of `roles`).
 * @example mapDjangoRow({ pk: 7, fields: { username: 'ann', … } }, ['client', 'admin'])
 */
export function mapDjangoRow(row: DjangoRow, roles: readonly string[]): { user: ImportUser } | { skipped: SkippedRow } {
  const fields = isObject(row.fields) ? row.fields : undefined;
  const id = typeof row.pk === 'number' && Number.isInteger(row.pk) && row.pk >= 1 && row.pk <= MAX_ID ? row.pk : null;
  const username = typeof fields?.username === 'string' ? fields.username : null;
  const skip = (reason: string) => ({ skipped: { id, username, reason } });

  if (row.pk === undefined || row.pk === null) return skip('malformed row: no pk (was it dumped with --natural-primary?)');
  if (id === null) return skip(`malformed row: pk ${JSON.stringify(row.pk)} is not a whole number from 1 to ${MAX_ID}`);
  if (!fields) return skip('malformed row: no fields');
  const wrong = wrongFields(fields);
  if (wrong.length > 0) return skip(`malformed row: ${wrong.join(', ')}`);
  const f = fields as unknown as DjangoFields; // every field checked just above

  if (!USERNAME.test(f.username)) return skip(`username ${JSON.stringify(f.username)} is not valid: up to 150 letters, digits and @/./+/-/_`);
  if (f.email !== '' && !EMAIL.test(f.email)) return skip(`email ${JSON.stringify(f.email)} is not a valid address`);
  const hash = describeHash(f.password);
  if (hash.usable && !hash.supported) return skip(hash.reason ?? `password hash format ${hash.algorithm} is not supported`);

  const defaultRole = roles[0] ?? 'client';
  return {
    user: {
      id,
      username: f.username,
      email: f.email,
      password: f.password,
      firstName: f.first_name,
      lastName: f.last_name,
      role: f.is_superuser && roles.includes('admin') ? 'admin' : defaultRole,
      isStaff: f.is_staff || f.is_superuser,
      isActive: f.is_active,
      lastLogin: f.last_login === null ? null : utc(f.last_login),
      dateJoined: utc(f.date_joined),
    },
  };
}

/** A row's fields once checked: `date_joined` is always there. */
type DjangoFields = Omit<DjangoUserFields, 'date_joined'> & { date_joined: string };

const FIELD_TYPES: Record<keyof DjangoFields, 'string' | 'boolean' | 'datetime' | 'datetime?'> = {
  username: 'string',
  email: 'string',
  password: 'string',
  first_name: 'string',
  last_name: 'string',
  is_active: 'boolean',
  is_staff: 'boolean',
  is_superuser: 'boolean',
  last_login: 'datetime?',
  date_joined: 'datetime',
};

/** Each field missing or of the wrong type, described. */
function wrongFields(fields: Record<string, unknown>): string[] {
  const wrong: string[] = [];
  for (const [name, type] of Object.entries(FIELD_TYPES)) {
    const value = fields[name];
    const ok =
      type === 'datetime' ? isDatetime(value)
      : type === 'datetime?' ? value === null || isDatetime(value)
      : typeof value === type;
    if (!ok) wrong.push(value === undefined ? `no ${name}` : `${name} is not a ${type === 'datetime?' ? 'datetime or null' : type}`);
  }
  return wrong;
}

function isDatetime(value: unknown): value is string {
  return typeof value === 'string' && DATETIME.test(value) && !Number.isNaN(Date.parse(utc(value)));
}

/** A datetime without a zone (Django with USE_TZ=False) is taken as UTC; the result is ISO 8601 in UTC. */
function utc(value: string): string {
  const iso = value.replace(' ', 'T');
  return new Date(/(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? iso : `${iso}Z`).toISOString();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Limits on one batch: users per transaction, and their JSON size (the control socket takes 1 MiB). */
export interface BatchLimits {
  rows: number;
  bytes: number;
}

export const BATCH_LIMITS: Readonly<BatchLimits> = { rows: 500, bytes: 512 * 1024 };

/**
 * Reads the source and maps its rows, in batches small enough for one transaction
 * and one control-socket request.
 * @example for await (const batch of mappedBatches(source, config.roles)) await run('import-django-users', { users: batch.users });
 */
export async function* mappedBatches(source: DjangoSource, roles: readonly string[], limits: BatchLimits = BATCH_LIMITS): AsyncGenerator<MappedBatch> {
  let batch: MappedBatch = { read: 0, users: [], skipped: [] };
  let bytes = 0;
  for await (const page of source.pages(limits.rows)) {
    for (const row of page) {
      const mapped = mapDjangoRow(row, roles);
      if ('user' in mapped) {
        const size = Buffer.byteLength(JSON.stringify(mapped.user));
        if (batch.users.length >= limits.rows || (batch.users.length > 0 && bytes + size > limits.bytes)) {
          yield batch;
          batch = { read: 0, users: [], skipped: [] };
          bytes = 0;
        }
        batch.users.push(mapped.user);
        bytes += size;
      } else {
        batch.skipped.push(mapped.skipped);
      }
      batch.read += 1;
    }
  }
  if (batch.read > 0) yield batch;
}

/**
 * Imports one batch in one transaction. A row whose id already belongs to a user
 * with the same username is "present" and left as it is (that user may have
 * logged in, upgrading the hash, or changed password since). A row whose id, or
 * username or email (case-insensitively), belongs to another user is skipped.
 * @example const result = await importDjangoBatch(new ImportsRepo(store.db), users);
 */
export async function importDjangoBatch(repo: ImportsRepo, users: readonly ImportUser[]): Promise<BatchResult> {
  return repo.transaction(async (tx) => {
    const result: BatchResult = { imported: 0, present: 0, unusable: 0, skipped: [] };
    const keys = await tx.keys(users);
    const holders = new Holders(await tx.clashing(users));
    const accepted: ImportUser[] = [];
    users.forEach((user, index) => {
      // The database's lower-casing, as its unique indexes compare names.
      const key = keys[index] ?? { username: user.username.toLowerCase(), email: user.email.toLowerCase() };
      const verdict = holders.verdict(user, key);
      if (verdict === 'new') {
        accepted.push(user);
        holders.add({ id: user.id, username: user.username, email: user.email, usernameKey: key.username, emailKey: key.email });
      } else if (verdict === 'present') {
        result.present += 1;
      } else {
        result.skipped.push({ id: user.id, username: user.username, reason: verdict.skip });
      }
    });

    const inserted = new Set(await tx.insert(accepted.map(toImported)));
    for (const user of accepted) {
      if (inserted.has(user.id)) {
        result.imported += 1;
        if (!describeHash(user.password).usable) result.unusable += 1;
      } else {
        result.skipped.push({ id: user.id, username: user.username, reason: 'clashed with a user created during the import' });
      }
    }
    if (inserted.size > 0) await tx.advanceIds(Math.max(...inserted));
    return result;
  });
}

/** Who holds each id, username and email: the database's users, then the rows accepted so far. */
class Holders {
  readonly #byId = new Map<number, ExistingUser>();
  readonly #byUsername = new Map<string, ExistingUser>();
  readonly #byEmail = new Map<string, ExistingUser>();

  constructor(existing: readonly ExistingUser[]) {
    for (const user of existing) this.add(user);
  }

  add(user: ExistingUser): void {
    this.#byId.set(user.id, user);
    this.#byUsername.set(user.usernameKey, user);
    if (user.email !== '') this.#byEmail.set(user.emailKey, user);
  }

  verdict(user: ImportUser, key: NameKeys): 'new' | 'present' | { skip: string } {
    const holder = this.#byId.get(user.id);
    if (holder) return holder.usernameKey === key.username ? 'present' : { skip: `id ${user.id} belongs to another user, ${describe(holder)}` };
    const username = this.#byUsername.get(key.username);
    if (username) return { skip: `username is taken (case-insensitively) by ${describe(username)}` };
    // A login identifier must name one user: a username may not be another's email, nor the reverse.
    const usernameAsEmail = this.#byEmail.get(key.username);
    if (usernameAsEmail) return { skip: `username is the email of ${describe(usernameAsEmail)}` };
    const email = user.email === '' ? undefined : this.#byEmail.get(key.email);
    if (email) return { skip: `email ${JSON.stringify(user.email)} is taken (case-insensitively) by ${describe(email)}` };
    const emailAsUsername = user.email === '' ? undefined : this.#byUsername.get(key.email);
    if (emailAsUsername) return { skip: `email ${JSON.stringify(user.email)} is the username of ${describe(emailAsUsername)}` };
    return 'new';
  }
}

function describe(user: ExistingUser): string {
  return `user ${user.id} (${JSON.stringify(user.username)})`;
}

function toImported(user: ImportUser): ImportedUser {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    passwordHash: user.password,
    firstName: user.firstName,
    lastName: user.lastName,
    role: user.role,
    isStaff: user.isStaff,
    isActive: user.isActive,
    lastLogin: user.lastLogin === null ? null : new Date(user.lastLogin),
    dateJoined: new Date(user.dateJoined),
  };
}

/** An outstanding SimpleJWT refresh token to carry over as a session. Plain JSON, as ImportUser. */
export interface ImportSession {
  jti: string;
  userId: number;
  /** ISO 8601. */
  createdAt: string;
  expiresAt: string;
}

/** What one batch of tokens did: sessions created, tokens already there, and the users given sessions. A token whose user was deleted meanwhile is neither. */
export interface SessionBatchResult {
  imported: number;
  present: number;
  userIds: number[];
}

/** Every token batch added up. `skipped`: outstanding tokens neither imported nor present (blacklisted, expired, user not imported). */
export interface SessionTotals {
  total: number;
  imported: number;
  present: number;
  skipped: number;
  users: number;
}

/** Tokens per batch: about 130 bytes of JSON each. */
export const SESSION_BATCH_ROWS = 1000;

/** Longest jti the blacklist app stores (`CharField(max_length=255)`). */
const MAX_JTI = 255;

/**
 * One not-blacklisted `token_blacklist.outstandingtoken` row as a session to import, or
 * undefined when it is expired at `nowMs`, malformed, or belongs to no user in `userIds`
 * (the Django users imported or already present).
 * @example mapDjangoToken({ pk: 1, fields: { user: 7, jti, created_at, expires_at } }, Date.now(), new Set([7]))
 */
export function mapDjangoToken(row: DjangoRow, nowMs: number, userIds: ReadonlySet<number>): ImportSession | undefined {
  if (!isObject(row.fields)) return undefined;
  const { user, jti, created_at: createdAt, expires_at: expiresAt } = row.fields;
  if (typeof user !== 'number' || !userIds.has(user)) return undefined;
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) return undefined;
  if (!isDatetime(expiresAt) || Date.parse(utc(expiresAt)) <= nowMs) return undefined;
  // Tokens blacklisted without ever being recorded as issued have no created_at: the import is their start.
  const created = isDatetime(createdAt) ? utc(createdAt) : new Date(nowMs).toISOString();
  return { jti, userId: user, createdAt: created, expiresAt: utc(expiresAt) };
}

/**
 * Reads the source's tokens and maps them, leaving out those `mapDjangoToken` refuses,
 * in batches for one transaction and one control-socket request each.
 */
export async function* sessionBatches(
  tokens: DjangoTokenSource,
  userIds: ReadonlySet<number>,
  nowMs: number,
  rows: number = SESSION_BATCH_ROWS,
): AsyncGenerator<ImportSession[]> {
  let batch: ImportSession[] = [];
  for await (const page of tokens.pages(rows)) {
    for (const row of page) {
      const session = mapDjangoToken(row, nowMs, userIds);
      if (!session) continue;
      batch.push(session);
      if (batch.length >= rows) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}

/**
 * Imports one batch of tokens in one transaction: one session per token (a fresh
 * uuidv7 id, as SessionService.open makes), with that token as its refresh token.
 * A jti already there is left as it is, so a re-run creates nothing.
 * @example const result = await importDjangoSessions(new ImportsRepo(store.db), sessions);
 */
export async function importDjangoSessions(repo: ImportsRepo, sessions: readonly ImportSession[]): Promise<SessionBatchResult> {
  return repo.transaction(async (tx) => {
    const present = new Set(await tx.presentJtis(sessions.map((s) => s.jti)));
    const users = new Set(await tx.existingUserIds([...new Set(sessions.map((s) => s.userId))]));
    const fresh = new Map<string, ImportSession>();
    for (const session of sessions) if (!present.has(session.jti) && users.has(session.userId)) fresh.set(session.jti, session);
    await tx.insertSessions(
      [...fresh.values()].map((session) => ({
        id: uuidv7(),
        userId: session.userId,
        createdAt: new Date(session.createdAt),
        expiresAt: new Date(session.expiresAt),
        jti: session.jti,
        accessJti: newJti(),
      })),
    );
    return {
      imported: fresh.size,
      present: sessions.filter((s) => present.has(s.jti)).length,
      userIds: [...new Set([...fresh.values()].map((s) => s.userId))],
    };
  });
}

/** A blacklisted SimpleJWT refresh token: never to be exchanged (ACCEPT_SIMPLEJWT_TOKENS). Plain JSON. */
export interface ImportBlacklisted {
  jti: string;
  /** ISO 8601. */
  expiresAt: string;
}

/**
 * The blacklisted tokens still unexpired at `nowMs`, in batches: whoever holds one
 * must not get a session for it when the cut-over switch is on.
 */
export async function* blacklistedBatches(tokens: DjangoTokenSource, nowMs: number): AsyncGenerator<ImportBlacklisted[]> {
  let batch: ImportBlacklisted[] = [];
  for await (const page of tokens.blacklisted(SESSION_BATCH_ROWS)) {
    for (const row of page) {
      if (!isObject(row.fields)) continue;
      const { jti, expires_at: expiresAt } = row.fields;
      if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) continue;
      if (!isDatetime(expiresAt) || Date.parse(utc(expiresAt)) <= nowMs) continue;
      batch.push({ jti, expiresAt: utc(expiresAt) });
      if (batch.length >= SESSION_BATCH_ROWS) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
}
