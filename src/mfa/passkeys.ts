/**
 * Passkeys (WebAuthn, SPEC §12) through @simplewebauthn/server, the only file
 * that calls it: registration, a login with a discoverable credential, and a
 * passkey as the second step after the password. Challenges are database rows
 * (five minutes, used once, bound to their purpose), never cookies; what must
 * be spent once (the signature counter, the mfa_token) is spent by `within`
 * callbacks in the transaction that opens the session.
 */
import { randomBytes } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { v7 as uuidv7 } from 'uuid';
import type { Clock } from '../clock.ts';
import type { Config } from '../config.ts';
import { AuthError, MfaError } from '../errors.ts';
import type { AuthContext, Within } from '../sessions/service.ts';
import { PasskeysRepo, type ChallengeBinding, type ChallengePurpose, type PasskeyRow } from '../store/repos/passkeys.ts';
import type { UserRow } from '../store/repos/users.ts';
import type { MfaService } from './service.ts';

/** A ceremony's challenge lives this long. */
export const CHALLENGE_MS = 5 * 60_000;
/** What the browser is given to wait for the authenticator (the challenge row outlives it). */
const CEREMONY_TIMEOUT_MS = 120_000;
export const MAX_PASSKEY_NAME = 64;

type PasskeySettings = Pick<Config, 'webauthnRpId' | 'webauthnRpName' | 'webauthnOrigins'>;

/** Why a ceremony failed, for the audit trail (the client only ever sees `webauthn_failed`). */
export type PasskeyFailure = 'challenge' | 'unknown_credential' | 'assertion' | 'counter_regression' | 'user_verification';

/** `webauthn_failed`, with the reason and the passkey concerned for the audit trail (never sent). */
export class PasskeyError extends AuthError {
  readonly reason: PasskeyFailure;
  readonly userId: number | undefined;
  readonly passkeyId: string | undefined;
  constructor(reason: PasskeyFailure, passkey?: PasskeyRow, detail?: string) {
    super('webauthn_failed', detail ?? reason);
    this.name = 'PasskeyError';
    this.reason = reason;
    this.userId = passkey?.user_id;
    this.passkeyId = passkey?.id;
  }
}

/** A failed passkey as the second step: the wire's MfaError (attempts left, or the lock) with the passkey's reason. */
export class PasskeyStepError extends MfaError {
  readonly failure: PasskeyFailure;
  readonly passkeyId: string | undefined;
  constructor(wire: MfaError, cause: PasskeyError) {
    super(wire.code, { ...wire.extra }, wire.retryAfter, wire.userId);
    this.name = 'PasskeyStepError';
    this.failure = cause.reason;
    this.passkeyId = cause.passkeyId;
  }
}

/** A verified assertion: whose passkey, the context it gives a session, and `within` that records its use. */
export interface PasskeyAssertion {
  passkey: PasskeyRow;
  /** `hwk` (a device-bound key) or `swk` (a synced passkey), RFC 8176. */
  key: 'hwk' | 'swk';
  within: Within;
}

export class PasskeyService {
  readonly #repo: PasskeysRepo;
  readonly #mfa: MfaService;
  readonly #clock: Clock;
  readonly #settings: PasskeySettings;

  constructor(deps: { repo: PasskeysRepo; mfa: MfaService; clock: Clock; settings: PasskeySettings }) {
    this.#repo = deps.repo;
    this.#mfa = deps.mfa;
    this.#clock = deps.clock;
    this.#settings = deps.settings;
  }

  list(userId: number): Promise<PasskeyRow[]> {
    return this.#repo.list(userId);
  }

  findOwn(userId: number, id: string): Promise<PasskeyRow | undefined> {
    return this.#repo.findOwn(userId, id);
  }

  rename(userId: number, id: string, name: string): Promise<PasskeyRow | undefined> {
    return this.#repo.rename(userId, id, name);
  }

  /** Deletes one of the user's passkeys; the sessions it opened are returned for ending (read before the row goes). */
  async delete(userId: number, id: string): Promise<{ deleted: boolean; sessions: string[] }> {
    return this.#repo.transaction(async (repo) => {
      const sessions = await repo.sessionsOpenedBy(id);
      const deleted = await repo.delete(userId, id);
      return { deleted, sessions: deleted ? sessions : [] };
    });
  }

  /** Registration options for a signed-in user: a resident key with user verification, none of theirs again. */
  async registrationOptions(user: UserRow): Promise<{ challengeId: string; options: Record<string, unknown> }> {
    const existing = await this.#repo.list(user.id);
    const handle = existing[0]?.user_handle ?? randomBytes(32).toString('base64url');
    const options = await generateRegistrationOptions({
      rpName: this.#settings.webauthnRpName,
      rpID: this.#settings.webauthnRpId,
      userName: user.email || user.username,
      userDisplayName: user.username,
      userID: Buffer.from(handle, 'base64url'),
      timeout: CEREMONY_TIMEOUT_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((row) => ({ id: row.credential_id, transports: row.transports as AuthenticatorTransportFuture[] })),
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
    });
    const challengeId = await this.#challenge('register', options.challenge, { userId: user.id, userHandle: handle });
    return { challengeId, options: { ...options } };
  }

  /**
   * Verifies a registration and stores the passkey. The challenge must be this
   * user's registration challenge; user verification is required, since a
   * passkey counts as a second factor.
   */
  async register(user: UserRow, challengeId: string, credential: unknown, name: string): Promise<PasskeyRow> {
    const now = this.#clock.now();
    const { challenge: expected, userHandle } = await this.#takeRow(challengeId, 'register', { userId: user.id });
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response: credential as RegistrationResponseJSON,
        expectedChallenge: expected,
        expectedOrigin: this.#settings.webauthnOrigins,
        expectedRPID: this.#settings.webauthnRpId,
        requireUserVerification: true,
      });
    } catch (error) {
      throw new PasskeyError('assertion', undefined, (error as Error).message);
    }
    if (!verification.verified) throw new PasskeyError('assertion');
    const info = verification.registrationInfo;
    if (await this.#repo.findByCredential(info.credential.id)) throw new PasskeyError('assertion', undefined, 'credential already registered');
    const id = uuidv7();
    await this.#repo.transaction(async (repo) => {
      await repo.ensureMfaRow(user.id, new Date(now));
      await repo.insert({
        id,
        userId: user.id,
        credentialId: info.credential.id,
        publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
        counter: info.credential.counter,
        transports: (info.credential.transports ?? []).filter((t) => typeof t === 'string').slice(0, 8),
        deviceType: info.credentialDeviceType,
        backedUp: info.credentialBackedUp,
        userHandle: userHandle ?? randomBytes(32).toString('base64url'),
        name: name.slice(0, MAX_PASSKEY_NAME),
        createdAt: new Date(now),
      });
    });
    return (await this.#repo.findOwn(user.id, id))!;
  }

  /** Options for a login with a discoverable passkey: no credential list, so the browser can offer them (autofill). */
  async loginOptions(): Promise<{ challengeId: string; options: Record<string, unknown> }> {
    const options = await generateAuthenticationOptions({ rpID: this.#settings.webauthnRpId, userVerification: 'required', timeout: CEREMONY_TIMEOUT_MS });
    const challengeId = await this.#challenge('login', options.challenge, {});
    return { challengeId, options: { ...options } };
  }

  /** A login with a passkey alone: the assertion verified against a login challenge; the user is the passkey's. */
  async login(challengeId: string, credential: unknown): Promise<PasskeyAssertion> {
    const expected = await this.#take(challengeId, 'login', {});
    return this.#verify(expected, credential);
  }

  /** Options for the second step of a login: the user's passkeys, bound to the mfa_token. */
  async mfaOptions(mfaToken: string): Promise<{ challengeId: string; options: Record<string, unknown> }> {
    const { user, tokenHash } = await this.#mfa.pending(mfaToken);
    const passkeys = await this.#repo.list(user.id);
    if (passkeys.length === 0) throw new PasskeyError('unknown_credential');
    const options = await generateAuthenticationOptions({
      rpID: this.#settings.webauthnRpId,
      userVerification: 'required',
      timeout: CEREMONY_TIMEOUT_MS,
      allowCredentials: passkeys.map((row) => ({ id: row.credential_id, transports: row.transports as AuthenticatorTransportFuture[] })),
    });
    const challengeId = await this.#challenge('mfa', options.challenge, { mfaTokenHash: tokenHash });
    return { challengeId, options: { ...options } };
  }

  /**
   * The second step of a login with a passkey. A failed assertion counts as a
   * wrong code (against the mfa_token and the user's lock); `within` spends the
   * token and records the passkey's use in the session's transaction.
   */
  async verifySecondStep(mfaToken: string, challengeId: string, credential: unknown): Promise<PasskeyAssertion & { user: UserRow }> {
    const pending = await this.#mfa.pending(mfaToken);
    let assertion: PasskeyAssertion;
    try {
      const expected = await this.#take(challengeId, 'mfa', { mfaTokenHash: pending.tokenHash });
      assertion = await this.#verify(expected, credential);
      if (assertion.passkey.user_id !== pending.user.id) throw new PasskeyError('unknown_credential');
    } catch (error) {
      if (!(error instanceof PasskeyError)) throw error;
      // Counted as a wrong code (attempts_left, the lock), with why it failed kept for the audit trail.
      try {
        await pending.fail('webauthn_failed');
      } catch (failure) {
        if (failure instanceof MfaError) throw new PasskeyStepError(failure, error);
        throw failure;
      }
      throw error;
    }
    return {
      ...assertion,
      user: pending.user,
      within: async (tx) => {
        await pending.spend(tx);
        await assertion.within(tx);
      },
    };
  }

  /** The authentication context a passkey gives a session (RFC 8176), with user verification: aal2. */
  context(assertion: PasskeyAssertion, afterPassword: boolean): AuthContext {
    const amr = afterPassword ? ['pwd', assertion.key, 'user', 'mfa'] : [assertion.key, 'user', 'mfa'];
    return { amr, aal: 'aal2', authTime: this.#clock.now(), passkeyId: assertion.passkey.id };
  }

  /** Deletes expired challenges. */
  purge(now: Date): Promise<number> {
    return this.#repo.purgeChallenges(now);
  }

  async #challenge(purpose: ChallengePurpose, challenge: string, binding: ChallengeBinding & { userHandle?: string }): Promise<string> {
    const now = this.#clock.now();
    const id = uuidv7();
    await this.#repo.insertChallenge({ id, purpose, challenge, createdAt: new Date(now), expiresAt: new Date(now + CHALLENGE_MS), ...binding });
    return id;
  }

  /** Spends a challenge: unknown, expired, used, or of another purpose or binding → webauthn_failed, nothing spent. */
  async #takeRow(challengeId: string, purpose: ChallengePurpose, binding: ChallengeBinding): Promise<{ challenge: string; userHandle: string | null }> {
    const row = await this.#repo.takeChallenge(challengeId, purpose, binding, new Date(this.#clock.now()));
    if (row === undefined) throw new PasskeyError('challenge');
    return row;
  }

  async #take(challengeId: string, purpose: ChallengePurpose, binding: ChallengeBinding): Promise<string> {
    return (await this.#takeRow(challengeId, purpose, binding)).challenge;
  }

  /** Verifies an assertion against the stored passkey it names; a counter that did not move forward is refused. */
  async #verify(expectedChallenge: string, credential: unknown): Promise<PasskeyAssertion> {
    const response = credential as AuthenticationResponseJSON;
    const passkey = typeof response.id === 'string' ? await this.#repo.findByCredential(response.id) : undefined;
    if (!passkey) throw new PasskeyError('unknown_credential');
    const handle = response.response?.userHandle;
    if (handle !== undefined && handle !== null && handle !== '' && handle !== passkey.user_handle) throw new PasskeyError('assertion', passkey, 'user handle mismatch');
    const stored = Number(passkey.counter);
    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: this.#settings.webauthnOrigins,
        expectedRPID: this.#settings.webauthnRpId,
        // The counter is judged below, after the signature, so a regression is told apart (and audited).
        credential: { id: passkey.credential_id, publicKey: Buffer.from(passkey.public_key, 'base64url'), counter: 0, transports: passkey.transports as AuthenticatorTransportFuture[] },
        requireUserVerification: true,
      });
    } catch (error) {
      throw new PasskeyError('assertion', passkey, (error as Error).message);
    }
    if (!verification.verified) throw new PasskeyError('assertion', passkey);
    if (!verification.authenticationInfo.userVerified) throw new PasskeyError('user_verification', passkey);
    const counter = verification.authenticationInfo.newCounter;
    if ((counter > 0 || stored > 0) && counter <= stored) throw new PasskeyError('counter_regression', passkey, `counter ${counter} after ${stored}`);
    const now = this.#clock.now();
    const { credentialDeviceType, credentialBackedUp } = verification.authenticationInfo;
    return {
      passkey,
      key: credentialDeviceType === 'multiDevice' || credentialBackedUp ? 'swk' : 'hwk',
      within: async (tx) => {
        const repo = tx.bind((db) => new PasskeysRepo(db));
        // Another request with the same or a later counter won: a replayed or cloned assertion.
        if (!(await repo.recordUse(passkey.id, counter, new Date(now)))) throw new PasskeyError('counter_regression', passkey, 'counter raced');
      },
    };
  }

}
