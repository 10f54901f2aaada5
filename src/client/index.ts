/**
 * `latchkey/client`: what a browser or another Node program needs to talk to a
 * Latchkey server. No runtime dependency and no `node:` import (a lint rule
 * keeps it so): it uses the platform's `fetch`, and shares the request and
 * response types with the server through src/wire.ts.
 *
 * @example
 * const client = new LatchkeyClient({ baseUrl: 'https://auth.example.com', storage: localStorageStorage(), onSessionExpired: () => goToLogin() });
 * await client.login('ann', 'password');
 * const res = await client.fetch('/auth/me/');
 */
import type { ErrorCode, LoginResponse, MfaStatus, MinimalLoginResponse, PublicUser, RefreshResponse, SessionInfo, TotpConfirmation, TotpEnrollment } from '../wire.ts';
import { LatchkeyError, readError } from './errors.ts';
import { memoryStorage, type StoredTokens, type TokenStorage } from './storage.ts';

export * from '../wire.ts';
export { LatchkeyError, MfaRequiredError } from './errors.ts';
export { localStorageStorage, memoryStorage, type StoredTokens, type TokenStorage } from './storage.ts';
export { axiosInterceptor, type AxiosLike, type AxiosLikeConfig } from './axios.ts';

export interface LatchkeyClientOptions {
  /** Where Latchkey answers, e.g. `https://auth.example.com` (or `https://app.example.com/identity` when mounted under a prefix). */
  baseUrl: string;
  /** Header mode's token store (default: memory). Unused in cookie mode, where the browser keeps the tokens. */
  storage?: TokenStorage;
  /** `header` (default): `Authorization: Bearer`; `cookie`: the server's httpOnly cookies (AUTH_COOKIES=true), with the CSRF header. */
  mode?: 'header' | 'cookie';
  /** Called once when a refresh fails: the session is over, storage has been cleared. */
  onSessionExpired?: () => void;
  /** The server's AUTH_BASE_PATH (default `/auth`). */
  authBasePath?: string;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof globalThis.fetch;
  /** Cookie mode: where the CSRF token comes from (default: the `csrf_token` cookie in `document.cookie`). */
  csrfToken?: () => string | undefined;
}

/** What `login` resolves to: the server's body (in cookie mode without the token strings). */
export type LoginResult = Partial<LoginResponse> & Partial<MinimalLoginResponse>;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * A Latchkey session from the client's side: log in, call APIs with the token
 * attached, refresh on a 401 once for all concurrent callers, log out.
 */
export class LatchkeyClient {
  readonly #baseUrl: string;
  readonly #authPath: string;
  readonly #storage: TokenStorage;
  readonly #mode: 'header' | 'cookie';
  readonly #onSessionExpired: (() => void) | undefined;
  readonly #fetch: typeof globalThis.fetch;
  readonly #csrfToken: () => string | undefined;
  /** The refresh in flight, shared by every caller that meets a 401 meanwhile. */
  #refreshing: Promise<RefreshResponse> | null = null;
  /** Bumped by each successful refresh or login, so a 401 for an older token retries without refreshing again. */
  #generation = 0;

  constructor(options: LatchkeyClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#authPath = (options.authBasePath ?? '/auth').replace(/\/+$/, '');
    this.#storage = options.storage ?? memoryStorage();
    this.#mode = options.mode ?? 'header';
    this.#onSessionExpired = options.onSessionExpired;
    const platformFetch = options.fetch ?? globalThis.fetch;
    this.#fetch = (input, init) => platformFetch(input, init);
    this.#csrfToken = options.csrfToken ?? csrfFromDocumentCookie;
  }

  /** Resolves a path against `baseUrl`; absolute URLs pass through. */
  url(path: string): string {
    return /^[a-z][a-z0-9+.-]*:/i.test(path) ? path : `${this.#baseUrl}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  /** The headers that authenticate a request of `method` now: the Bearer token, or (cookie mode, unsafe method) the CSRF header. */
  authHeaders(method = 'GET'): Record<string, string> {
    if (this.#mode === 'cookie') {
      const csrf = SAFE_METHODS.has(method.toUpperCase()) ? undefined : this.#csrfToken();
      return csrf ? { 'X-CSRF-Token': csrf } : {};
    }
    const access = this.#storage.get()?.access;
    return access ? { Authorization: `Bearer ${access}` } : {};
  }

  /** Counts logins and refreshes: a 401 for a request sent before the last one is retried without refreshing again. */
  get generation(): number {
    return this.#generation;
  }

  /** Whether requests go with cookies (cookie mode) — `credentials: 'include'`, axios's `withCredentials`. */
  get withCredentials(): boolean {
    return this.#mode === 'cookie';
  }

  /** Logs in with a username or an email. Header mode stores the tokens; cookie mode lets the browser keep the cookies. */
  async login(identifier: string, password: string): Promise<LoginResult> {
    const body = await this.#post<LoginResult>(`${this.#authPath}/login/`, { username: identifier, password });
    if (this.#mode === 'header') {
      if (!body.access) throw new LatchkeyError(0, 'error', 'The login answer carried no token: is the server in cookie mode?');
      this.#storage.set({ access: body.access, ...(body.refresh ? { refresh: body.refresh } : {}) });
    }
    this.#generation += 1;
    return body;
  }

  /**
   * Exchanges the refresh token for a new access token. Concurrent calls share one request.
   * A failure clears storage and calls `onSessionExpired`.
   */
  refresh(): Promise<RefreshResponse> {
    this.#refreshing ??= this.#refreshOnce().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #refreshOnce(): Promise<RefreshResponse> {
    try {
      const stored = this.#storage.get();
      if (this.#mode === 'header' && !stored?.refresh) throw new LatchkeyError(401, 'not_authenticated', 'No refresh token stored.');
      const body = await this.#post<RefreshResponse>(`${this.#authPath}/refresh/`, this.#mode === 'header' ? { refresh: stored?.refresh } : {});
      if (this.#mode === 'header') {
        const next: StoredTokens = { access: body.access, ...(body.refresh ?? stored?.refresh ? { refresh: body.refresh ?? stored?.refresh } : {}) };
        this.#storage.set(next);
      }
      this.#generation += 1;
      return body;
    } catch (error) {
      this.#expire();
      throw error;
    }
  }

  #expire(): void {
    this.#storage.set(null);
    this.#onSessionExpired?.();
  }

  /** Ends this session on the server and forgets the tokens, whatever the server answers. */
  async logout(): Promise<void> {
    const refresh = this.#storage.get()?.refresh;
    try {
      await this.#post(`${this.#authPath}/logout/`, this.#mode === 'header' && refresh ? { refresh } : {}, true);
    } finally {
      this.#storage.set(null);
    }
  }

  /** The signed-in user's profile. */
  async me(): Promise<PublicUser> {
    const response = await this.fetch(`${this.#authPath}/me/`);
    if (!response.ok) throw await readError(response);
    return (await response.json()) as PublicUser;
  }

  /**
   * `fetch` with the session attached. On a 401 it refreshes (once, shared with
   * every concurrent caller) and retries once; if the refresh fails the 401 is returned.
   */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const generation = this.#generation;
    const response = await this.#send(url, init);
    if (response.status !== 401) return response;
    if (generation === this.#generation) {
      try {
        await this.refresh();
      } catch {
        return response;
      }
    }
    return this.#send(url, init);
  }

  #send(url: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.authHeaders(init.method ?? 'GET'))) if (!headers.has(name)) headers.set(name, value);
    return this.#fetch(this.url(url), { ...init, headers, ...(this.#mode === 'cookie' ? { credentials: 'include' as const } : {}) });
  }

  /**
   * Asks for a password-reset mail (SPEC §11); resolves the same whether the address is known or not.
   * @example await client.requestPasswordReset('ann@example.com');
   */
  async requestPasswordReset(email: string): Promise<void> {
    await this.#post(`${this.#authPath}/password-reset/`, { email });
  }

  /** Checks a reset link's `uid` and `token` without using them; rejects with the server's 400. */
  async validatePasswordReset(uid: string, token: string): Promise<void> {
    await this.#post(`${this.#authPath}/password-reset/validate/`, { uid, token });
  }

  /** Sets a new password from a reset link; every session of the user ends (sign in again afterwards). */
  async confirmPasswordReset(uid: string, token: string, newPassword: string, retyped?: string): Promise<void> {
    await this.#post(`${this.#authPath}/password-reset/confirm/`, { uid, token, new_password: newPassword, ...(retyped !== undefined ? { re_new_password: retyped } : {}) });
  }

  /** Confirms an email address from the mailed link. */
  async verifyEmail(uid: string, token: string): Promise<void> {
    await this.#post(`${this.#authPath}/verify-email/`, { uid, token });
  }

  /**
   * The second step of a login that threw `MfaRequiredError` (SPEC §12): a TOTP code or a
   * recovery code with its `mfaToken`. Resolves to the login body and keeps the tokens as `login` does.
   * @example
   * try { await client.login('ann', password); }
   * catch (e) { if (e instanceof MfaRequiredError) await client.verifyMfa({ mfaToken: e.mfaToken, code: '123456' }); else throw e; }
   */
  async verifyMfa(proof: { mfaToken: string; code: string } | { mfaToken: string; recoveryCode: string }): Promise<LoginResult> {
    const body = await this.#post<LoginResult>(`${this.#authPath}/mfa/verify/`,
      'code' in proof ? { mfa_token: proof.mfaToken, code: proof.code } : { mfa_token: proof.mfaToken, recovery_code: proof.recoveryCode });
    this.#keep(body);
    return body;
  }

  /** The caller's second factors: TOTP, passkeys, recovery codes left. */
  mfaStatus(): Promise<MfaStatus> {
    return this.#call<MfaStatus>('GET', `${this.#authPath}/mfa/`);
  }

  /** Starts TOTP enrolment behind the password: a pending secret and its `otpauth://` URL, for ten minutes. */
  startTotp(password: string): Promise<TotpEnrollment> {
    return this.#call<TotpEnrollment>('POST', `${this.#authPath}/mfa/totp/`, { password });
  }

  /**
   * Confirms enrolment with the app's first code. The server ends the other sessions and gives
   * this one a fresh pair at aal2, kept here; resolves to the ten recovery codes, shown once.
   */
  async confirmTotp(code: string): Promise<string[]> {
    const body = await this.#call<TotpConfirmation>('POST', `${this.#authPath}/mfa/totp/confirm/`, { code });
    this.#keep(body);
    return body.recovery_codes;
  }

  /** Removes TOTP with a current code; the recovery codes go too and the other sessions end. */
  async disableTotp(code: string): Promise<void> {
    await this.#call('DELETE', `${this.#authPath}/mfa/totp/`, { code });
  }

  /** Replaces the recovery codes (a current TOTP code required); resolves to the new ten. */
  async regenerateRecoveryCodes(code: string): Promise<string[]> {
    return (await this.#call<{ recovery_codes: string[] }>('POST', `${this.#authPath}/mfa/recovery-codes/`, { code })).recovery_codes;
  }

  /** The devices the caller is signed in on; `current` marks this one. */
  sessions(): Promise<SessionInfo[]> {
    return this.#call<SessionInfo[]>('GET', `${this.#authPath}/sessions/`);
  }

  /** Ends one of the caller's sessions (its refresh token stops working). */
  async endSession(id: string): Promise<void> {
    await this.#call('DELETE', `${this.#authPath}/sessions/${encodeURIComponent(id)}/`);
  }

  /** Ends every session of the caller, this one included, and forgets the tokens; resolves to how many ended. */
  async logoutAll(): Promise<number> {
    try {
      return (await this.#call<{ sessions_ended: number }>('POST', `${this.#authPath}/logout-all/`)).sessions_ended;
    } finally {
      this.#storage.set(null);
    }
  }

  /** Keeps the tokens of a login-shaped body (header mode; in cookie mode the browser has them). */
  #keep(body: LoginResult): void {
    if (this.#mode === 'header' && body.access) this.#storage.set({ access: body.access, ...(body.refresh ? { refresh: body.refresh } : {}) });
    this.#generation += 1;
  }

  /** An authenticated JSON call through `fetch` (so a stale access token is refreshed once); rejects with the server's error. */
  async #call<T = void>(method: string, path: string, body?: object): Promise<T> {
    const response = await this.fetch(path, {
      method,
      headers: { Accept: 'application/json', ...(body ? { 'Content-Type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!response.ok) throw await readError(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }

  async #post<T>(path: string, body: object, authenticated = false): Promise<T> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json', ...(authenticated ? this.authHeaders('POST') : {}) };
    if (this.#mode === 'cookie') Object.assign(headers, this.authHeaders('POST'));
    const response = await this.#fetch(this.url(path), {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      ...(this.#mode === 'cookie' ? { credentials: 'include' as const } : {}),
    });
    if (!response.ok) throw await readError(response);
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
}

/** The `csrf_token` cookie the server set, read from `document.cookie` (undefined outside a browser). */
function csrfFromDocumentCookie(): string | undefined {
  const doc = (globalThis as { document?: { cookie?: string } }).document;
  for (const pair of (doc?.cookie ?? '').split(';')) {
    const [name, ...rest] = pair.trim().split('=');
    if (name === 'csrf_token') return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

export type { ErrorCode };
