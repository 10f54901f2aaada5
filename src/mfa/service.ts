/**
 * The second factor (SPEC §12): TOTP enrolment and checks, recovery codes,
 * the mfa_tokens of logins waiting for their second step, and the failure
 * lock. What must be spent once (a TOTP step, a recovery code, an mfa_token)
 * is spent by `within` callbacks that run in the transaction that opens or
 * raises the session, so a replay fails on every instance sharing the database.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { AuthError, MfaError } from '../errors.ts';
import type { Language } from '../i18n/index.ts';
import type { ClientGone } from '../limits/hashing.ts';
import type { Mailer } from '../mail/outbox.ts';
import type { Within } from '../sessions/service.ts';
import { RememberedDevicesRepo, type RememberedDeviceRow } from '../store/repos/devices.ts';
import { MfaRepo, type UserMfaRow } from '../store/repos/mfa.ts';
import { OutboxRepo } from '../store/repos/outbox.ts';
import type { UserRow } from '../store/repos/users.ts';
import { hashOpaqueToken, newOpaqueToken } from '../tokens/opaque.ts';
import type { UserService } from '../users/service.ts';
import type { MfaMethod } from '../wire.ts';
import { base32, canonicalRecoveryCode, learntDrift, matchTotp, newRecoveryCode, newTotpSecret, otpauthUrl, RECOVERY_CODE_COUNT } from './codes.ts';
import { MfaKeys } from './crypto.ts';
import { noticeValues, type FactorChange, type FactorMethod } from './notices.ts';

export type { FactorActor, FactorChange, FactorMethod } from './notices.ts';

/** A pending TOTP secret waits this long for its first code. */
export const PENDING_TOTP_MS = 10 * 60_000;
/** Wrong codes that burn one mfa_token. */
export const TOKEN_ATTEMPTS = 5;
/** Wrong codes in a row (any tokens) that lock the user's second factor, and for how long. */
export const LOCK_AFTER = 10;
export const LOCK_MS = 15 * 60_000;

type MfaSettings = Pick<Config, 'mfaIssuer' | 'mfaTokenLifetime' | 'mfaEncryptionKey' | 'signingKey' | 'publicUrl' | 'host' | 'port'>
  & Partial<Pick<Config, 'mfaRequiredRoles' | 'mfaRememberDevice'>>;

/** Where the factor mails send a user who did not make the change: Latchkey's own "forgot password" page. */
const FORGOT_PASSWORD_PATH = '/account/forgot-password/';

/** The second step's proof: a TOTP code or a recovery code. */
export type MfaProof = { code: string } | { recoveryCode: string };

export interface MfaState {
  /** Any factor: TOTP confirmed or a passkey. */
  enabled: boolean;
  totp: boolean;
  passkeys: number;
  lockedUntil: Date | null;
  row: UserMfaRow | undefined;
}

export class MfaService {
  readonly #repo: MfaRepo;
  readonly #devices: RememberedDevicesRepo;
  readonly #users: UserService;
  readonly #clock: Clock;
  readonly #settings: MfaSettings;
  readonly #mailer: Mailer;
  #keys: MfaKeys | undefined;

  constructor(deps: { repo: MfaRepo; devices: RememberedDevicesRepo; users: UserService; clock: Clock; settings: MfaSettings; mailer: Mailer }) {
    this.#repo = deps.repo;
    this.#devices = deps.devices;
    this.#users = deps.users;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
    this.#mailer = deps.mailer;
  }

  /** The sealing keys: MFA_ENCRYPTION_KEY, else SIGNING_KEY (read late: development fills it from the data directory). */
  #sealing(): MfaKeys {
    if (this.#keys) return this.#keys;
    const secret = this.#settings.mfaEncryptionKey ?? this.#settings.signingKey;
    if (secret === undefined) throw new AuthError('service_unavailable', 'MFA_ENCRYPTION_KEY is not set (and there is no SIGNING_KEY to derive it from)');
    this.#keys = new MfaKeys(secret);
    return this.#keys;
  }

  /** Whether the user has a confirmed factor (TOTP, passkeys), and until when it is locked. One primary-key read. */
  async state(userId: number): Promise<MfaState> {
    const row = await this.#repo.findWithPasskeys(userId);
    const totp = row?.totp_confirmed_at != null;
    const passkeys = row?.passkeys ?? 0;
    return { enabled: totp || passkeys > 0, totp, passkeys, lockedUntil: row?.locked_until ?? null, row };
  }

  /** True when MFA_REQUIRED_ROLES names this role (or is `all`): such users need a factor, and admin routes aal2. */
  roleRequiresFactor(role: string | null): boolean {
    const roles = this.#settings.mfaRequiredRoles ?? [];
    return roles === 'all' || (role !== null && roles.includes(role));
  }

  /**
   * True when the user must enrol a factor before anything else (restricted tokens). Reads the
   * user's factor only for a role that needs one, unless `known` already says.
   */
  async enrollmentRequired(user: Pick<UserRow, 'id' | 'role'>, known?: MfaState): Promise<boolean> {
    if (!this.roleRequiresFactor(user.role)) return false;
    return !(known ?? (await this.state(user.id))).enabled;
  }

  /** The methods a user with a factor may use for the second step (recovery codes come with TOTP). */
  methods(state: MfaState): MfaMethod[] {
    return [...(state.totp ? ['totp' as const] : []), ...(state.passkeys > 0 ? ['webauthn' as const] : []), ...(state.totp ? ['recovery_code' as const] : [])];
  }

  /** Seconds left on a lock, or undefined when the factor is not locked. */
  lockedFor(state: MfaState): number | undefined {
    const now = this.#clock.now();
    if (!state.lockedUntil || state.lockedUntil.getTime() <= now) return undefined;
    return Math.max(1, Math.ceil((state.lockedUntil.getTime() - now) / 1000));
  }

  /** An opaque mfa_token for the second step (tokens/opaque.ts). */
  async issueToken(userId: number): Promise<{ token: string; expiresAt: Date }> {
    const now = this.#clock.now();
    const { token, hash } = newOpaqueToken();
    const expiresAt = new Date(now + this.#settings.mfaTokenLifetime);
    await this.#repo.insertToken(hash, userId, new Date(now), expiresAt);
    return { token, expiresAt };
  }

  /** Starts TOTP enrolment behind the password: a pending secret for ten minutes. */
  async beginTotp(user: UserRow, password: string, gone?: ClientGone): Promise<{ secret: string; otpauthUrl: string; expiresAt: Date }> {
    await this.#users.confirmPassword(user, password, gone);
    const now = this.#clock.now();
    const secret = newTotpSecret();
    const expiresAt = new Date(now + PENDING_TOTP_MS);
    const started = await this.#repo.startTotp(user.id, this.#sealing().seal(secret, String(user.id)), expiresAt, new Date(now));
    if (!started) throw new AuthError('mfa_already_enabled');
    return { secret: base32(secret), otpauthUrl: otpauthUrl(secret, this.#settings.mfaIssuer, user.email || user.username), expiresAt };
  }

  /**
   * Checks the first code of a pending secret and makes the recovery codes;
   * `within` (run in the session's transaction) confirms the factor with the
   * code's step spent and stores the codes' hashes.
   */
  async prepareConfirm(user: UserRow, code: string, gone?: ClientGone): Promise<{ within: Within; recoveryCodes: string[] }> {
    const now = this.#clock.now();
    const row = await this.#repo.find(user.id);
    if (row?.totp_confirmed_at != null) throw new AuthError('mfa_already_enabled');
    if (!row?.totp_pending_secret || !row.totp_pending_expires_at || row.totp_pending_expires_at.getTime() <= now) throw new AuthError('mfa_not_pending');
    const pending = row.totp_pending_secret;
    const step = matchTotp(this.#sealing().open(pending, String(user.id)), code, now, 0);
    if (step === undefined) throw new MfaError('mfa_code_invalid');
    if (step <= Number(row.totp_last_step)) throw new MfaError('mfa_code_reused');
    const { codes, stored } = await this.#newRecoveryCodes(user.id, gone);
    const within: Within = async (tx) => {
      const repo = tx.bind((db) => new MfaRepo(db));
      if (!(await repo.confirmTotp(user.id, pending, step, learntDrift(step, now), new Date(now)))) throw new MfaError('mfa_code_reused');
      await repo.replaceRecoveryCodes(user.id, stored, new Date(now));
      // Any factor change voids the remembered devices (SPEC §12).
      await tx.bind((db) => new RememberedDevicesRepo(db)).deleteAll(user.id);
    };
    return { within, recoveryCodes: codes };
  }

  /**
   * The second step of a login. Checks the mfa_token, the lock and the proof;
   * a wrong code counts against the token and the user (throws mfa_code_invalid,
   * mfa_code_reused or mfa_locked). On success `within` spends the token and the
   * code in the transaction that opens the session.
   */
  async verifyLogin(mfaToken: string, proof: MfaProof, gone?: ClientGone): Promise<{ user: UserRow; within: Within; method: 'totp' | 'recovery_code' }> {
    const now = this.#clock.now();
    const { user, tokenHash, row } = await this.#waiting(mfaToken, now);
    const spendToken = async (repo: MfaRepo) => {
      if (!(await repo.consumeToken(tokenHash, new Date(now)))) throw new MfaError('mfa_token_invalid', {}, undefined, user.id);
    };
    if ('code' in proof) {
      const step = /^[0-9]{6}$/.test(proof.code) && row.totp_secret ? matchTotp(this.#sealing().open(row.totp_secret, String(user.id)), proof.code, now, row.totp_drift) : undefined;
      if (step === undefined) return this.#failed(tokenHash, user.id, 'mfa_code_invalid');
      if (step <= Number(row.totp_last_step)) return this.#failed(tokenHash, user.id, 'mfa_code_reused');
      const within: Within = async (tx) => {
        const repo = tx.bind((db) => new MfaRepo(db));
        await spendToken(repo);
        if (!(await repo.acceptStep(user.id, step, learntDrift(step, now), new Date(now)))) throw new MfaError('mfa_code_reused', {}, undefined, user.id);
      };
      return { user, within, method: 'totp' };
    }
    const id = await this.#findRecoveryCode(user.id, proof.recoveryCode, gone);
    if (id === undefined) return this.#failed(tokenHash, user.id, 'mfa_code_invalid');
    const within: Within = async (tx) => {
      const repo = tx.bind((db) => new MfaRepo(db));
      await spendToken(repo);
      if (!(await repo.useRecoveryCode(id, new Date(now)))) throw new MfaError('mfa_code_reused', {}, undefined, user.id);
      await repo.clearFailures(user.id);
    };
    return { user, within, method: 'recovery_code' };
  }

  /** Checks a current TOTP code of a signed-in user (removal); its step is spent by `within`. */
  async checkCurrentCode(user: UserRow, code: string): Promise<Within> {
    const now = this.#clock.now();
    const state = await this.state(user.id);
    if (!state.enabled || !state.row?.totp_secret) throw new AuthError('not_found', 'no second factor');
    const locked = this.lockedFor(state);
    if (locked !== undefined) throw new MfaError('mfa_locked', {}, locked);
    const row = state.row;
    const step = /^[0-9]{6}$/.test(code) ? matchTotp(this.#sealing().open(row.totp_secret!, String(user.id)), code, now, row.totp_drift) : undefined;
    if (step === undefined || step <= Number(row.totp_last_step)) {
      const lock = await this.#repo.recordFailure(user.id, LOCK_AFTER, new Date(now + LOCK_MS));
      if (lock) throw new MfaError('mfa_locked', {}, Math.ceil(LOCK_MS / 1000));
      throw new MfaError(step === undefined ? 'mfa_code_invalid' : 'mfa_code_reused');
    }
    return async (tx) => {
      const repo = tx.bind((db) => new MfaRepo(db));
      if (!(await repo.acceptStep(user.id, step, learntDrift(step, now), new Date(now)))) throw new MfaError('mfa_code_reused');
    };
  }

  /**
   * Removes the TOTP factor, its recovery codes and the remembered devices, with `within` (a
   * current code's step spent) in the same transaction, and `after` (the mail) once it is removed.
   */
  async removeTotp(userId: number, within: Within, after?: Within): Promise<boolean> {
    return this.#repo.transaction(async (repo) => {
      await within(repo);
      const removed = await repo.removeTotp(userId);
      if (removed) await repo.bind((db) => new RememberedDevicesRepo(db)).deleteAll(userId);
      if (removed && after) await after(repo);
      return removed;
    });
  }

  /**
   * Remembers the device that just passed the second step (MFA_REMEMBER_DEVICE_DAYS): an opaque
   * token of 256 random bits, stored as its sha256. Undefined when remembering is off.
   */
  async rememberDevice(userId: number, userAgent: string | null): Promise<{ token: string; expiresAt: Date } | undefined> {
    const lifetime = this.#settings.mfaRememberDevice ?? 0;
    if (lifetime <= 0) return undefined;
    const now = this.#clock.now();
    const { token, hash } = newOpaqueToken();
    const expiresAt = new Date(now + lifetime);
    await this.#devices.insert({
      id: uuidv7(),
      user_id: userId,
      token_hash: hash,
      user_agent: userAgent === null ? null : userAgent.slice(0, 512),
      created_at: new Date(now),
      last_used_at: null,
      expires_at: expiresAt,
    });
    return { token, expiresAt };
  }

  /**
   * True when `token` is an unexpired remembered device of this user. Any token presented costs
   * the same one lookup, whoever it belongs to; a bad or foreign one just means the second step.
   */
  async recognizeDevice(token: string | undefined, userId: number): Promise<boolean> {
    if (token === undefined || token === '' || (this.#settings.mfaRememberDevice ?? 0) <= 0) return false;
    const now = new Date(this.#clock.now());
    const device = await this.#devices.findByHash(hashOpaqueToken(token), now);
    if (device?.user_id !== userId) return false;
    await this.#devices.touch(device.id, now);
    return true;
  }

  /** The user's remembered devices (unexpired). */
  devices(userId: number): Promise<RememberedDeviceRow[]> {
    return this.#devices.list(userId, new Date(this.#clock.now()));
  }

  /** Forgets one of the user's devices: false when it is not theirs. */
  forgetDevice(userId: number, id: string): Promise<boolean> {
    return this.#devices.delete(userId, id);
  }

  /** Forgets every device of the user (logout-all, an administrator's reset); says how many. */
  forgetDevices(userId: number): Promise<number> {
    return this.#devices.deleteAll(userId);
  }

  /** A new set of recovery codes replaces the old, with `within` (a current code's step spent) in the same transaction. */
  async regenerateRecoveryCodes(userId: number, within: Within, gone?: ClientGone): Promise<string[]> {
    const { codes, stored } = await this.#newRecoveryCodes(userId, gone);
    await this.#repo.transaction(async (repo) => {
      await within(repo);
      await repo.replaceRecoveryCodes(userId, stored, new Date(this.#clock.now()));
    });
    return codes;
  }

  /**
   * Removes every second factor of the user and what hangs on them (pending
   * enrolment, recovery codes, waiting mfa_tokens, the lock; see
   * MfaRepo.removeAllFactors, where passkeys and remembered devices go too), with
   * the "factor removed" mail queued in the same transaction when something was
   * removed. Returns the methods removed; the caller ends the sessions.
   */
  async removeAllFactors(user: UserRow, by: 'admin' | 'operator', lang: Language): Promise<FactorMethod[]> {
    const at = new Date(this.#clock.now());
    const removed = await this.#repo.transaction(async (repo) => {
      const methods = await repo.removeAllFactors(user.id);
      if (methods.length > 0) await this.factorNotice(user, { change: 'removed', methods, by, at }, lang)(repo);
      return methods;
    });
    if (removed.length > 0) this.mailQueued();
    return removed;
  }

  /**
   * The mail telling a user a second factor was added or removed, as a `within`
   * callback: it queues the message in the transaction that makes the change, so
   * the mail exists exactly when the change does. Call `mailQueued()` after the
   * commit. Nothing is queued for a user without an address.
   * @example const notice = mfa.factorNotice(user, { change: 'added', methods: ['webauthn'], by: 'user', at: new Date() }, 'en');
   */
  factorNotice(user: Pick<UserRow, 'email' | 'username'>, change: FactorChange, lang: Language): Within {
    return async (tx) => {
      if (user.email === '') return;
      const values = noticeValues(user.username, change, lang, this.#forgotPasswordUrl());
      await this.#mailer.queue({ kind: change.change === 'added' ? 'mfa_factor_added' : 'mfa_factor_removed', to: user.email, lang, values }, tx.bind((db) => new OutboxRepo(db)));
    };
  }

  /**
   * A factor changed outside this service's own transactions (a passkey added or
   * removed): the remembered devices are forgotten and the user is mailed, in one
   * transaction of their own. Returns how many devices were forgotten.
   */
  async factorChanged(user: Pick<UserRow, 'id' | 'email' | 'username'>, change: FactorChange, lang: Language): Promise<number> {
    const forgotten = await this.#repo.transaction(async (repo) => {
      const devices = await repo.bind((db) => new RememberedDevicesRepo(db)).deleteAll(user.id);
      await this.factorNotice(user, change, lang)(repo);
      return devices;
    });
    this.mailQueued();
    return forgotten;
  }

  /** Sends the mails queued by `factorNotice` now rather than at the next poll (after their transaction committed). */
  mailQueued(): void {
    this.#mailer.wake();
  }

  /** PUBLIC_URL, else this server's address (never a Host header). */
  #forgotPasswordUrl(): string {
    const { publicUrl, host, port } = this.#settings;
    const base = publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return `${base.replace(/\/+$/, '')}${FORGOT_PASSWORD_PATH}`;
  }

  async recoveryCodesRemaining(userId: number): Promise<number> {
    return this.#repo.countRecoveryCodes(userId);
  }

  /**
   * A login waiting for its second step, for a proof checked elsewhere (a
   * passkey): the mfa_token checked as verifyLogin checks it; `spend` spends the token in the
   * session's transaction, `fail` counts a wrong proof as a wrong code.
   */
  async pending(mfaToken: string): Promise<{ user: UserRow; tokenHash: string; state: MfaState; spend: Within; fail: (code: 'webauthn_failed') => Promise<never> }> {
    const now = this.#clock.now();
    const { user, tokenHash, state } = await this.#waiting(mfaToken, now);
    const spend: Within = async (tx) => {
      const repo = tx.bind((db) => new MfaRepo(db));
      if (!(await repo.consumeToken(tokenHash, new Date(now)))) throw new MfaError('mfa_token_invalid', {}, undefined, user.id);
      await repo.clearFailures(user.id);
    };
    return { user, tokenHash, state, spend, fail: (code) => this.#failed(tokenHash, user.id, code) };
  }

  /** The login an mfa_token waits for: the token live, the user with a factor, not locked, active. */
  async #waiting(mfaToken: string, now: number): Promise<{ user: UserRow; tokenHash: string; state: MfaState; row: UserMfaRow }> {
    const tokenHash = hashOpaqueToken(mfaToken);
    const token = await this.#repo.findToken(tokenHash, new Date(now));
    if (!token) throw new MfaError('mfa_token_invalid');
    const state = await this.state(token.user_id);
    if (!state.enabled || !state.row) throw new MfaError('mfa_token_invalid');
    const locked = this.lockedFor(state);
    if (locked !== undefined) throw new MfaError('mfa_locked', {}, locked, token.user_id);
    const user = await this.#users.get(token.user_id);
    if (!user?.is_active) throw new AuthError('no_active_account', 'user inactive or gone');
    return { user, tokenHash, state, row: state.row };
  }

  /** Deletes mfa_tokens that are expired or spent, and expired remembered devices. */
  async purge(now: Date): Promise<number> {
    return (await this.#repo.purgeTokens(now)) + (await this.#devices.purge(now));
  }

  async #newRecoveryCodes(userId: number, gone?: ClientGone): Promise<{ codes: string[]; stored: Array<{ lookup: string; hash: string }> }> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    const stored = [];
    for (const code of codes) stored.push({ lookup: this.#sealing().lookup(userId, code), hash: await this.#users.hashSecret(code, gone) });
    return { codes, stored };
  }

  /** The id of the unused recovery code `input` is, checked against its argon2id hash; undefined if none. */
  async #findRecoveryCode(userId: number, input: string, gone?: ClientGone): Promise<string | undefined> {
    const code = canonicalRecoveryCode(input);
    if (code === undefined) return undefined;
    for (const row of await this.#repo.findRecoveryCodes(userId, this.#sealing().lookup(userId, code))) {
      if (await this.#users.verifySecret(row.code_hash, code, gone)) return row.id;
    }
    return undefined;
  }

  /** A wrong code: one attempt off the token, one failure for the user; the tenth in a row locks. */
  async #failed(tokenHash: string, userId: number, code: 'mfa_code_invalid' | 'mfa_code_reused' | 'webauthn_failed'): Promise<never> {
    const now = this.#clock.now();
    const attemptsLeft = await this.#repo.failToken(tokenHash, TOKEN_ATTEMPTS, new Date(now));
    const lock = await this.#repo.recordFailure(userId, LOCK_AFTER, new Date(now + LOCK_MS));
    if (lock) throw new MfaError('mfa_locked', {}, Math.ceil(LOCK_MS / 1000), userId);
    throw new MfaError(code, { attempts_left: attemptsLeft }, undefined, userId);
  }
}
