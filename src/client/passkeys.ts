/**
 * Passkeys from the browser (SPEC §12): registration, the list, renaming and
 * removal, a login with a passkey (optionally offered from the username
 * field's autofill: conditional mediation), and a passkey as the second step
 * after the password. The WebAuthn JSON comes and goes as the platform reads
 * and writes it (`PublicKeyCredential.parseCreationOptionsFromJSON`,
 * `parseRequestOptionsFromJSON`, `credential.toJSON()`).
 *
 * @example
 * await client.passkeys.register('Laptop');
 * const body = await client.passkeys.login();
 */
import type { LoginResponse, MinimalLoginResponse, PasskeyCeremony, PasskeyInfo, PasskeyRegistration } from '../wire.ts';
import { LatchkeyError, readError } from './errors.ts';

type LoginBody = Partial<LoginResponse> & Partial<MinimalLoginResponse>;

/** What LatchkeyClient lends this module: its requests and what it does with a login's answer. */
export interface PasskeyTransport {
  authPath: string;
  /** A POST without the session's refresh-on-401 (logins, the second step). */
  post<T>(path: string, body: object): Promise<T>;
  /** `fetch` with the session attached (refreshes once on a 401). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A login's (or a raised session's) answer: store the tokens in header mode. */
  signedIn(body: LoginBody): void;
}

/** The static half of `PublicKeyCredential` this module needs (Chromium 129+, Firefox 119+, Safari 18.4+). */
interface PublicKeyCredentialStatics {
  parseCreationOptionsFromJSON(options: unknown): PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON(options: unknown): PublicKeyCredentialRequestOptions;
  isConditionalMediationAvailable?(): Promise<boolean>;
}

function platform(): { statics: PublicKeyCredentialStatics; credentials: CredentialsContainer } | undefined {
  const scope = globalThis as { PublicKeyCredential?: Partial<PublicKeyCredentialStatics>; navigator?: { credentials?: CredentialsContainer } };
  const statics = scope.PublicKeyCredential;
  const credentials = scope.navigator?.credentials;
  if (!statics?.parseCreationOptionsFromJSON || !statics.parseRequestOptionsFromJSON || !credentials) return undefined;
  return { statics: statics as PublicKeyCredentialStatics, credentials };
}

function required() {
  const found = platform();
  if (!found) throw new LatchkeyError(0, 'error', 'This browser cannot use passkeys.');
  return found;
}

/** The credential as JSON, as the server takes it. */
function toJSON(credential: Credential | null): unknown {
  if (!credential) throw new LatchkeyError(0, 'error', 'No passkey was chosen.');
  return (credential as PublicKeyCredential).toJSON();
}

export class Passkeys {
  readonly #io: PasskeyTransport;

  constructor(io: PasskeyTransport) {
    this.#io = io;
  }

  /** Whether this browser can create and use passkeys (the JSON parsers included). */
  static supported(): boolean {
    return platform() !== undefined;
  }

  /** Whether the browser can offer passkeys from a field's autofill (`autocomplete="username webauthn"`). */
  static async autofillAvailable(): Promise<boolean> {
    return (await platform()?.statics.isConditionalMediationAvailable?.()) ?? false;
  }

  /**
   * Creates a passkey for the signed-in user and stores it under `name`. When
   * it is the user's first factor the server raises this session (a fresh pair,
   * kept here in header mode) and ends the user's other sessions.
   */
  async register(name: string, options: { signal?: AbortSignal } = {}): Promise<PasskeyInfo> {
    const { statics, credentials } = required();
    const ceremony = await this.#authenticated<PasskeyCeremony>('POST', '/passkeys/register/options/', {});
    const created = await credentials.create({ publicKey: statics.parseCreationOptionsFromJSON(ceremony.options), ...(options.signal ? { signal: options.signal } : {}) });
    const body = await this.#authenticated<PasskeyRegistration>('POST', '/passkeys/register/', { challenge_id: ceremony.challenge_id, credential: toJSON(created), name });
    if (body.access !== undefined || body.user !== undefined) this.#io.signedIn(body);
    return body.passkey;
  }

  /** The signed-in user's passkeys, oldest first. */
  list(): Promise<PasskeyInfo[]> {
    return this.#authenticated<PasskeyInfo[]>('GET', '/passkeys/');
  }

  rename(id: string, name: string): Promise<PasskeyInfo> {
    return this.#authenticated<PasskeyInfo>('PATCH', `/passkeys/${encodeURIComponent(id)}/`, { name });
  }

  /** Removes a passkey: the sessions it opened end (this one too, if it did). */
  async remove(id: string): Promise<void> {
    await this.#authenticated<void>('DELETE', `/passkeys/${encodeURIComponent(id)}/`);
  }

  /**
   * Logs in with a passkey: the browser offers the user's passkeys for this
   * site. `conditional` waits for one to be picked from a field's autofill
   * (abort it with `signal` before starting another ceremony).
   */
  async login(options: { conditional?: boolean; signal?: AbortSignal } = {}): Promise<LoginBody> {
    const { statics, credentials } = required();
    const ceremony = await this.#io.post<PasskeyCeremony>(`${this.#io.authPath}/passkeys/login/options/`, {});
    const assertion = await credentials.get({
      publicKey: statics.parseRequestOptionsFromJSON(ceremony.options),
      ...(options.conditional ? { mediation: 'conditional' as CredentialMediationRequirement } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const body = await this.#io.post<LoginBody>(`${this.#io.authPath}/passkeys/login/`, { challenge_id: ceremony.challenge_id, credential: toJSON(assertion) });
    this.#io.signedIn(body);
    return body;
  }

  /** The second step of a login with a passkey, after `401 mfa_required` (its `mfa_token`). */
  async verifyMfa(mfaToken: string, options: { signal?: AbortSignal } = {}): Promise<LoginBody> {
    const { statics, credentials } = required();
    const ceremony = await this.#io.post<PasskeyCeremony>(`${this.#io.authPath}/mfa/webauthn/options/`, { mfa_token: mfaToken });
    const assertion = await credentials.get({ publicKey: statics.parseRequestOptionsFromJSON(ceremony.options), ...(options.signal ? { signal: options.signal } : {}) });
    const body = await this.#io.post<LoginBody>(`${this.#io.authPath}/mfa/verify/`, { mfa_token: mfaToken, challenge_id: ceremony.challenge_id, credential: toJSON(assertion) });
    this.#io.signedIn(body);
    return body;
  }

  async #authenticated<T>(method: string, path: string, body?: object): Promise<T> {
    const response = await this.#io.fetch(`${this.#io.authPath}${path}`, {
      method,
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw await readError(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}
