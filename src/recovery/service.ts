/**
 * Password reset by mail, in djoser's and dj-rest-auth's dialects (SPEC §11).
 * A request answers at once, known address or not: the lookup, the token and
 * the mail happen after the answer, so neither the body nor the time tells
 * whether the address exists. Confirm is one transaction: the token is
 * consumed, the new hash stored, every session revoked (and every instance
 * told), the event audited and the "password changed" mail queued.
 */
import type { AuditDetail, AuditEventType, AuditLog } from '../audit/log.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { checkDjangoResetToken, DJANGO_RESET_TOKEN } from '../django/reset-tokens.ts';
import { AuthError, ValidationError } from '../errors.ts';
import type { Language } from '../i18n/index.ts';
import type { ClientGone } from '../limits/hashing.ts';
import type { Throttle } from '../limits/throttle.ts';
import type { Mailer } from '../mail/outbox.ts';
import { describeLifetime, type MailKind } from '../mail/templates.ts';
import type { RevocationList } from '../sessions/revocation.ts';
import type { ClientInfo } from '../sessions/service.ts';
import type { AuditRepo } from '../store/repos/audit.ts';
import type { RememberedDevicesRepo } from '../store/repos/devices.ts';
import type { OutboxRepo } from '../store/repos/outbox.ts';
import type { RecoveryPurpose, RecoveryRepo, RecoveryTokenRow } from '../store/repos/recovery.ts';
import type { SessionsRepo } from '../store/repos/sessions.ts';
import type { UserRow, UsersRepo } from '../store/repos/users.ts';
import { EMAIL, type UserService } from '../users/service.ts';
import { validatePassword } from '../users/validators.ts';
import { hashOpaqueToken, newOpaqueToken, OPAQUE_TOKEN } from '../tokens/opaque.ts';
import { bindingOf, decodeUid, encodeUid } from './tokens.ts';

/** Which package's words a front end expects. */
export type Dialect = 'djoser' | 'dj-rest-auth';

/** The repositories of one transaction. */
export interface RecoveryUnit {
  users: UsersRepo;
  recovery: RecoveryRepo;
  sessions: SessionsRepo;
  audit: AuditRepo;
  outbox: OutboxRepo;
  devices: RememberedDevicesRepo;
}

export interface ResetConfirmation {
  uid: string;
  token: string;
  newPassword: string;
  /** djoser's `re_new_password` or dj-rest-auth's `new_password2`. */
  retyped?: string;
  dialect: Dialect;
  lang: Language;
}

/** djoser's messages (djoser/constants.py) and dj-rest-auth's (serializers.py, Django's SetPasswordForm). */
export const RESET_MESSAGES = {
  djoser: {
    uid: "Invalid user id or user doesn't exist.",
    token: 'Invalid token for given user.',
    mismatch: "The two password fields didn't match.",
  },
  'dj-rest-auth': {
    uid: 'Invalid value',
    token: 'Invalid value',
    mismatch: 'The two password fields didn’t match.',
  },
} as const;

/** What the recovery service is handed by the composition root. */
export interface RecoveryDeps {
  config: Config;
  clock: Clock;
  users: UsersRepo;
  recovery: RecoveryRepo;
  userService: UserService;
  mailer: Mailer;
  audit: AuditLog;
  throttle: Throttle;
  revocations: RevocationList;
  /** Runs `work` in one transaction, with repositories bound to it. */
  transaction: <T>(work: (unit: RecoveryUnit) => Promise<T>) => Promise<T>;
  onError?: (error: unknown) => void;
}

export class RecoveryService {
  readonly #deps: RecoveryDeps;
  readonly #pending = new Set<Promise<void>>();

  constructor(deps: RecoveryDeps) {
    this.#deps = deps;
  }

  /**
   * A reset link for `email`, if it names an active user with a usable
   * password. Past the IP limit: ThrottledError (429). Everything else happens
   * after this returns (see `settled`).
   * @example await recovery.requestReset('ann@example.com', 'en', client);
   */
  async requestReset(email: string, lang: Language, client: ClientInfo): Promise<void> {
    // Counted before the body is judged, as DRF throttles before its serializer runs.
    await this.#deps.throttle.passwordReset(client.ip);
    if (!EMAIL.test(email)) throw new ValidationError({ email: [INVALID_EMAIL] });
    this.#later(() => this.#mailResetLink(email, lang, client));
  }

  /** Resolves once every request's background work (lookup, token, outbox row) is done. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** An administrator mails a user a link: 404 for no such user, 400 when the user has no address. */
  async adminReset(who: number | string, by: { userId: number; client: ClientInfo } | { source: 'cli' }, lang: Language = 'en'): Promise<{ id: number; username: string; email: string }> {
    const user = typeof who === 'number' ? await this.#deps.users.findById(who) : await this.#deps.users.findByIdentifier(who);
    if (!user) throw new AuthError('not_found', typeof who === 'number' ? 'no such user' : `no user named ${JSON.stringify(who)}`);
    if (user.email === '') throw new ValidationError({ email: [NO_ADDRESS] });
    await this.#issueReset(user, lang, 'userId' in by ? { via: 'admin', by: by.userId } : { via: 'cli' }, 'userId' in by ? by.client : undefined);
    return { id: user.id, username: user.username, email: user.email };
  }

  /** Checks a link without using it (djoser's validate route): throws the dialect's 400. */
  async validateReset(uid: string, token: string, dialect: Dialect): Promise<void> {
    await this.#check(uid, token, dialect);
  }

  /**
   * Sets a new password from a link. Checks in djoser's order (the password's
   * own rules, the retyped copy, the uid, the token; then the rule that needs
   * the user) or dj-rest-auth's (uid, token, then the password), hashes
   * outside the transaction, and commits everything at once.
   */
  async confirmReset(input: ResetConfirmation, client: ClientInfo): Promise<void> {
    const { dialect } = input;
    const messages = RESET_MESSAGES[dialect];
    const passwordField = dialect === 'djoser' ? 'new_password' : 'new_password2';
    if (dialect === 'djoser') {
      const problems = validatePassword(input.newPassword);
      if (problems.length > 0) throw new ValidationError({ new_password: problems });
      if (input.retyped !== undefined && input.retyped !== input.newPassword) throw new ValidationError({ non_field_errors: [messages.mismatch] });
    }
    const { user, token } = await this.#check(input.uid, input.token, dialect);
    if (dialect === 'dj-rest-auth' && input.retyped !== input.newPassword) throw new ValidationError({ new_password2: [messages.mismatch] });
    // Only now, with the link proven: a message about the username must not answer a guessed uid.
    const problems = validatePassword(input.newPassword, user);
    if (problems.length > 0) throw new ValidationError({ [passwordField]: problems });

    const hash = await this.#deps.userService.hashPassword(input.newPassword, client.gone as ClientGone | undefined);
    const now = this.#deps.clock.now();
    const revoked = await this.#deps.transaction(async (unit) => {
      const current = await unit.users.lockById(user.id);
      // A confirm that raced this one and won has changed the password: this link is spent.
      if (!current || current.password !== user.password) throw new ValidationError({ token: [messages.token] });
      if (token && !(await unit.recovery.consume(token.id, new Date(now)))) throw new ValidationError({ token: [messages.token] });
      await unit.users.updatePassword(user.id, hash, { clearReset: true });
      await unit.recovery.deleteFor(user.id, 'password_reset');
      const ids = await unit.sessions.revoke({ userId: user.id }, 'password_reset', new Date(now));
      // A remembered device skipped the second step on the strength of the old password (SPEC §12).
      const devices = await unit.devices.deleteAll(user.id);
      await this.#deps.audit.recordIn(unit.audit, {
        type: 'password_reset_completed',
        outcome: 'success',
        userId: user.id,
        client,
        detail: { sessions_ended: ids.length, remembered_devices_forgotten: devices, forced_reset_cleared: user.password_needs_reset, link: token ? 'latchkey' : 'django' },
      });
      if (user.email !== '') {
        await this.#deps.mailer.queue({ kind: 'password_changed', to: user.email, lang: input.lang, values: { username: user.username } }, unit.outbox);
      }
      return ids;
    });
    this.#deps.revocations.add(revoked, now);
    this.#deps.mailer.wake();
  }

  /**
   * The user a uid names and the live token, or the dialect's 400. A Django
   * link (with DJANGO_SECRET_KEY) has no row: `token` is then undefined.
   */
  async #check(uid: string, token: string, dialect: Dialect): Promise<{ user: UserRow; token: RecoveryTokenRow | undefined }> {
    const messages = RESET_MESSAGES[dialect];
    const id = decodeUid(uid);
    const user = id === undefined ? undefined : await this.#deps.users.findById(id);
    if (!user) throw new ValidationError({ uid: [messages.uid] });
    const now = this.#deps.clock.now();
    if (OPAQUE_TOKEN.test(token)) {
      const row = await this.#deps.recovery.find(user.id, 'password_reset', hashOpaqueToken(token));
      if (row && isLive(row, now) && row.bound_to === bindingOf(user.password)) return { user, token: row };
    } else if (this.#deps.config.djangoSecretKey !== undefined && DJANGO_RESET_TOKEN.test(token)) {
      const djangoUser = { id: user.id, password: user.password, lastLogin: user.last_login, email: user.email };
      const options = { secretKey: this.#deps.config.djangoSecretKey, timeoutMs: this.#deps.config.djangoPasswordResetTimeout, now };
      if (checkDjangoResetToken(djangoUser, token, options)) return { user, token: undefined };
    }
    throw new ValidationError({ token: [messages.token] });
  }

  /**
   * Starts verifying a user's address (registration, or a changed address,
   * under EMAIL_VERIFICATION): the address counts as unverified until the
   * mailed link is followed.
   */
  async startVerification(userId: number, lang: Language, client?: ClientInfo): Promise<void> {
    const user = await this.#deps.users.findById(userId);
    if (!user || user.email === '') return;
    await this.#deps.transaction(async (unit) => {
      await unit.users.setEmailVerified(user.id, false);
      await this.#issueVerification(unit, user, lang, client, { reason: 'registration' });
    });
    this.#deps.mailer.wake();
  }

  /**
   * Writes a change of a user's address (`write`: an administrator's edit)
   * and, under EMAIL_VERIFICATION, in the same transaction: the new address
   * counts as unverified and is mailed a link, and the old one is told
   * it no longer receives the account's mail. The notice carries no link: an
   * old mailbox (perhaps the reason for the change) cannot undo it. A change
   * of letter case only is the same mailbox, and changes nothing more.
   * @example const updated = await recovery.changeAddress(id, (users) => users.update(id, { email }), 'fr', client);
   */
  async changeAddress(userId: number, write: (users: UsersRepo) => Promise<UserRow | undefined>, lang: Language, client?: ClientInfo): Promise<UserRow | undefined> {
    const verifying = this.#deps.config.emailVerification !== 'none';
    const updated = await this.#deps.transaction(async (unit) => {
      // Locked first: the notice goes to the address this write replaces, whatever another wrote before it.
      const old = (await unit.users.lockById(userId))?.email;
      const after = await write(unit.users);
      if (old === undefined) return after;
      if (!after || !verifying || addressBinding(after.email) === addressBinding(old)) return after;
      if (old !== '') await this.#deps.mailer.queue({ kind: 'email_changed', to: old, lang, values: { username: after.username } }, unit.outbox);
      // Without an address there is nothing to prove, and nothing to refuse a login for.
      if (after.email === '') return after;
      await unit.users.setEmailVerified(after.id, false);
      await this.#issueVerification(unit, after, lang, client, { reason: 'email_changed' });
      return { ...after, email_verified: false };
    });
    this.#deps.mailer.wake();
    return updated;
  }

  /** Mails a new verification link (djoser's resend_activation): answers the same whatever the address. */
  async resendVerification(email: string, lang: Language, client: ClientInfo): Promise<void> {
    await this.#deps.throttle.passwordReset(client.ip);
    if (!EMAIL.test(email)) throw new ValidationError({ email: [INVALID_EMAIL] });
    this.#later(async () => {
      const user = await this.#deps.users.findByEmail(email);
      if (!user || !user.is_active || user.email_verified || this.#deps.config.emailVerification === 'none') return;
      if (!(await this.#deps.throttle.mailToAddress(user.email))) return;
      await this.#deps.transaction((unit) => this.#issueVerification(unit, user, lang, client, { reason: 'resend' }));
      this.#deps.mailer.wake();
    });
  }

  /**
   * Follows a verification link: 400 for a bad uid or token (djoser's words),
   * 403 `stale_token` when the address is verified already.
   */
  async verifyEmail(uid: string, token: string, client: ClientInfo): Promise<void> {
    const messages = RESET_MESSAGES.djoser;
    const id = decodeUid(uid);
    const user = id === undefined ? undefined : await this.#deps.users.findById(id);
    if (!user) throw new ValidationError({ uid: [messages.uid] });
    const now = this.#deps.clock.now();
    // A reset token is never a verification token: rows are looked up by purpose.
    const row = OPAQUE_TOKEN.test(token) ? await this.#deps.recovery.find(user.id, 'email_verify', hashOpaqueToken(token)) : undefined;
    // Bound to the address it was mailed to: a link sent to an earlier address proves nothing of this one.
    if (!row || row.bound_to !== addressBinding(user.email)) throw new ValidationError({ token: [messages.token] });
    if (user.email_verified) throw new AuthError('stale_token', 'address already verified');
    if (!isLive(row, now)) throw new ValidationError({ token: [messages.token] });
    await this.#deps.transaction(async (unit) => {
      if (!(await unit.recovery.consume(row.id, new Date(now)))) throw new AuthError('stale_token', 'verified meanwhile');
      await unit.users.setEmailVerified(user.id, true);
      await this.#deps.audit.recordIn(unit.audit, { type: 'email_verified', outcome: 'success', userId: user.id, client });
    });
  }

  /** A new verification link for the user's address, in `unit`; call `mailer.wake()` after the commit. */
  #issueVerification(unit: RecoveryUnit, user: UserRow, lang: Language, client: ClientInfo | undefined, detail: AuditDetail): Promise<void> {
    const { config } = this.#deps;
    const kind = { purpose: 'email_verify', boundTo: addressBinding(user.email), lifetimeMs: config.emailVerificationTokenLifetime, url: config.activationUrl, event: 'email_verification_sent' } as const;
    return this.#issueLink(unit, user, kind, lang, client, detail);
  }

  /**
   * A new token of one purpose (the user's previous one of that purpose dies),
   * the mail that carries its link, and the audit event, all in `unit`.
   */
  async #issueLink(unit: RecoveryUnit, user: UserRow, kind: LinkKind, lang: Language, client: ClientInfo | undefined, detail: AuditDetail): Promise<void> {
    const now = this.#deps.clock.now();
    const { token, hash } = newOpaqueToken();
    await unit.recovery.replace({ userId: user.id, purpose: kind.purpose, hash, boundTo: kind.boundTo, at: new Date(now), expiresAt: new Date(now + kind.lifetimeMs) });
    const values = { username: user.username, email: user.email, link: this.#link(kind.url, user.id, token), lifetime: describeLifetime(kind.lifetimeMs, lang) };
    await this.#deps.mailer.queue({ kind: kind.purpose, to: user.email, lang, values }, unit.outbox);
    await this.#deps.audit.recordIn(unit.audit, { type: kind.event, outcome: 'success', userId: user.id, ...(client ? { client } : {}), detail });
  }

  /** The background half of a request: silent whatever happens (no such user, over the hourly limit). */
  async #mailResetLink(email: string, lang: Language, client: ClientInfo): Promise<void> {
    const user = await this.#deps.users.findByEmail(email);
    // As Django's PasswordResetForm: only active users with a usable password.
    if (!user || !user.is_active || user.password === '' || user.password.startsWith('!')) return;
    if (!(await this.#deps.throttle.mailToAddress(user.email))) {
      await this.#deps.audit.record({ type: 'password_reset_requested', outcome: 'failure', userId: user.id, client, detail: { dropped: 'address_limit' } });
      return;
    }
    await this.#issueReset(user, lang, { via: 'request' }, client);
  }

  /** A new reset link (bound to the password hash: any password change voids it), its mail and the event, in one transaction. */
  async #issueReset(user: UserRow, lang: Language, detail: AuditDetail, client: ClientInfo | undefined): Promise<void> {
    const { config } = this.#deps;
    const kind = { purpose: 'password_reset', boundTo: bindingOf(user.password), lifetimeMs: config.passwordResetTokenLifetime, url: config.passwordResetConfirmUrl, event: 'password_reset_requested' } as const;
    await this.#deps.transaction((unit) => this.#issueLink(unit, user, kind, lang, client, detail));
    this.#deps.mailer.wake();
  }

  /**
   * A mailed link: FRONTEND_URL + the route's template (PASSWORD_RESET_CONFIRM_URL,
   * ACTIVATION_URL), else Latchkey's own page under PUBLIC_URL (or this server's address) — never a Host header.
   */
  #link(template: string, userId: number, token: string): string {
    const { config } = this.#deps;
    const path = template.replace('{uid}', encodeUid(userId)).replace('{token}', token);
    if (/^https?:\/\//.test(path)) return path;
    const base = config.frontendUrl ?? config.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
    return `${base}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  /** Deletes the tokens no link can use any more (see RecoveryRepo.purge); returns how many. */
  purge(now: Date): Promise<number> {
    return this.#deps.recovery.purge(now);
  }

  /** Runs `work` once the current answer is on its way (on PGlite a query would otherwise hold it up). */
  #later(work: () => Promise<void>): void {
    const task = new Promise<void>((resolve) => setImmediate(resolve)).then(work).catch((error: unknown) => this.#deps.onError?.(error));
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
  }
}

/** What differs between a reset link and a verification link. */
interface LinkKind {
  /** Also the mail's template. */
  purpose: RecoveryPurpose & MailKind;
  boundTo: string;
  lifetimeMs: number;
  /** PASSWORD_RESET_CONFIRM_URL or ACTIVATION_URL. */
  url: string;
  event: AuditEventType;
}

/** Unused and unexpired at `now`. */
function isLive(row: RecoveryTokenRow, now: number): boolean {
  return row.used_at === null && row.expires_at.getTime() > now;
}

/** What a verification token is bound to: the address, whatever its letter case (one mailbox). */
function addressBinding(email: string): string {
  return bindingOf(email.toLowerCase());
}

/** Django's EmailField message. */
const INVALID_EMAIL = 'Enter a valid email address.';

/** An administrator asked to mail a user who has no address. */
export const NO_ADDRESS = 'This user has no email address.';
