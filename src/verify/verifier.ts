/**
 * The verifier behind latchkey/verify: the server's own claim checks
 * (TokenService.check), keys from a JWKS URL or a shared secret, and, when
 * given, the revocations followed from the server's feed.
 */
import { systemClock, type Clock } from '../clock.ts';
import { AuthError } from '../errors.ts';
import { CodecError, HMAC_ALGORITHMS, type AsymmetricAlgorithm, type HmacAlgorithm } from '../tokens/codec.ts';
import { hmacKeySet } from '../tokens/keys.ts';
import { KeysUnavailableError, remoteKeys, type RemoteKeys } from '../tokens/remote.ts';
import { NO_LOCAL_KEYS, TokenService } from '../tokens/service.ts';
import type { TokenClaims } from '../tokens/claims.ts';

/** Who a verified access token speaks for, as the route receives it. */
export interface VerifiedPrincipal {
  user_id: number;
  role: string | null;
  account_id: number | null;
  /** The session (device) the token belongs to. */
  sid: string;
  /** The user must change their password first (forced reset); refused unless `allowRestricted`. */
  password_reset_required: boolean;
  /** The user's role needs a second factor it has not set up (MFA_REQUIRED_ROLES); refused unless `allowRestricted`. */
  mfa_enrollment_required: boolean;
  /**
   * How the user got in (SPEC §12): RFC 8176 methods (`pwd`, `otp`, `mfa`, …), `aal2`
   * after a second factor, else `aal1`, and the time of the login (seconds since the
   * epoch). Every Latchkey token carries them; null only on tokens issued before they were.
   * @example if (principal.aal !== 'aal2') reply.code(403).send({ detail: '…', code: 'insufficient_aal' });
   */
  amr: string[] | null;
  aal: string;
  auth_time: number | null;
}

/** What the verifier knows of revocations: see `followRevocations` (the server's feed). */
export interface RevocationView {
  isRevoked(sessionId: string): boolean;
  /** True when the feed has been lost for longer than its staleness bound: every token is refused. */
  isStale(): boolean;
}

export interface VerifierOptions {
  /** Latchkey's `/.well-known/jwks.json` (RS256, ES256, EdDSA). Either this or `secret`. */
  jwksUrl?: string | URL;
  /** The shared SIGNING_KEY (HS256, HS384, HS512). Anyone holding it can mint tokens: prefer a JWKS. */
  secret?: string;
  /** The accepted algorithms: JWT_ALGORITHM. Default HS256 with `secret`, RS256/ES256/EdDSA with `jwksUrl`. */
  algorithms?: ReadonlyArray<HmacAlgorithm | AsymmetricAlgorithm>;
  /** JWT_ISSUER / JWT_AUDIENCE: when set, required. */
  issuer?: string;
  audience?: string;
  /** LEEWAY, in seconds. Default 0. */
  leeway?: number;
  /** USER_ID_CLAIM. Default `user_id`. */
  userIdClaim?: string;
  /**
   * Accept tokens of users under a forced password reset or still to enrol a required second factor.
   * Default false (403 password_reset_required, 403 mfa_enrollment_required).
   */
  allowRestricted?: boolean;
  /** Revocations from the server's feed (`followRevocations`); without it, a logged-out token works until it expires. */
  revocations?: RevocationView;
  /** JWKS caching: how long keys are trusted (default 10 minutes) and the least time between fetches on unknown kids (default 5 s). */
  jwksCache?: { maxAgeMs?: number; cooldownMs?: number };
  clock?: Clock;
}

export type VerificationErrorCode =
  | 'not_authenticated'
  | 'bad_authorization_header'
  | 'token_not_valid'
  | 'password_reset_required'
  | 'mfa_enrollment_required'
  | 'service_unavailable';

/** Why a request was refused, with the status and DRF body Latchkey itself would answer. */
export class VerificationError extends Error {
  override readonly name = 'VerificationError';
  readonly code: VerificationErrorCode;
  readonly status: 401 | 403 | 503;
  readonly body: Record<string, unknown>;

  constructor(code: VerificationErrorCode, reason?: string) {
    super(reason ?? code);
    this.code = code;
    const answer = ANSWERS[code];
    this.status = answer.status;
    this.body =
      code === 'token_not_valid'
        ? { ...answer.body, messages: [{ token_class: 'AccessToken', token_type: 'access', message: reason === 'revoked' ? 'Token is blacklisted' : 'Token is invalid or expired' }] }
        : answer.body;
  }

  /** Headers to send with the body: `WWW-Authenticate` on a 401, `Retry-After` on a 503. */
  get headers(): Record<string, string> {
    if (this.status === 401) return { 'www-authenticate': 'Bearer realm="api"' };
    if (this.status === 503) return { 'retry-after': '5' };
    return {};
  }
}

const ANSWERS: Record<VerificationErrorCode, { status: 401 | 403 | 503; body: Record<string, unknown> }> = {
  not_authenticated: { status: 401, body: { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' } },
  bad_authorization_header: { status: 401, body: { detail: 'Authorization header must contain two space-delimited values', code: 'bad_authorization_header' } },
  token_not_valid: { status: 401, body: { detail: 'Given token not valid for any token type', code: 'token_not_valid' } },
  password_reset_required: { status: 403, body: { detail: 'Password change required.', code: 'password_reset_required' } },
  mfa_enrollment_required: { status: 403, body: { detail: 'A second factor must be set up first.', code: 'mfa_enrollment_required' } },
  service_unavailable: { status: 503, body: { detail: 'Service temporarily unavailable, try again later.', code: 'service_unavailable' } },
};

/**
 * Checks Latchkey access tokens in another service.
 * @example
 * const verifier = createVerifier({ jwksUrl: 'https://auth.example.com/.well-known/jwks.json', audience: 'api' });
 * const principal = await verifier.verify(token); // { user_id, role, account_id, sid, … }
 */
export class Verifier {
  readonly #tokens: TokenService;
  readonly #remote: RemoteKeys | undefined;
  readonly #options: VerifierOptions;
  readonly #clock: Clock;

  constructor(options: VerifierOptions) {
    if ((options.jwksUrl === undefined) === (options.secret === undefined)) throw new TypeError('latchkey/verify: give exactly one of jwksUrl or secret');
    const settings = {
      leeway: (options.leeway ?? 0) * 1000,
      jwtIssuer: options.issuer,
      jwtAudience: options.audience,
      userIdClaim: options.userIdClaim ?? 'user_id',
    };
    if (options.secret !== undefined) {
      const algorithms = options.algorithms ?? ['HS256'];
      const [algorithm, ...others] = algorithms;
      if (!algorithm || others.length > 0 || !(HMAC_ALGORITHMS as readonly string[]).includes(algorithm)) {
        throw new TypeError('latchkey/verify: a secret verifies one HMAC algorithm (HS256, HS384 or HS512)');
      }
      this.#tokens = new TokenService(hmacKeySet(options.secret, algorithm as HmacAlgorithm), settings);
    } else {
      const algorithms = (options.algorithms ?? ['RS256', 'ES256', 'EdDSA']) as AsymmetricAlgorithm[];
      if (algorithms.some((alg) => (HMAC_ALGORITHMS as readonly string[]).includes(alg))) {
        throw new TypeError('latchkey/verify: a JWKS holds public keys; HMAC algorithms need `secret`');
      }
      this.#tokens = new TokenService(NO_LOCAL_KEYS, settings);
      this.#remote = remoteKeys(options.jwksUrl as string | URL, {
        algorithms,
        ...(options.jwksCache?.maxAgeMs !== undefined ? { cacheMaxAgeMs: options.jwksCache.maxAgeMs } : {}),
        ...(options.jwksCache?.cooldownMs !== undefined ? { cooldownMs: options.jwksCache.cooldownMs } : {}),
      });
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Verifies an access token and returns its principal; throws VerificationError. */
  async verify(token: string): Promise<VerifiedPrincipal> {
    const revocations = this.#options.revocations;
    if (revocations?.isStale()) throw new VerificationError('service_unavailable', 'revocation feed lost');
    const claims = await this.#claims(token);
    if (revocations?.isRevoked(claims.sid)) throw new VerificationError('token_not_valid', 'revoked');
    if (claims.passwordResetRequired && !this.#options.allowRestricted) throw new VerificationError('password_reset_required');
    if (claims.mfaEnrollmentRequired && !this.#options.allowRestricted) throw new VerificationError('mfa_enrollment_required');
    return {
      user_id: claims.userId,
      role: claims.role,
      account_id: claims.accountId,
      sid: claims.sid,
      password_reset_required: claims.passwordResetRequired === true,
      mfa_enrollment_required: claims.mfaEnrollmentRequired === true,
      amr: claims.amr ?? null,
      aal: claims.aal ?? 'aal1',
      auth_time: claims.authTime ?? null,
    };
  }

  /**
   * Reads `Authorization: Bearer <token>` as DRF does, then verifies.
   * @example const principal = await verifier.authenticate(request.headers.authorization);
   */
  async authenticate(authorization: string | undefined): Promise<VerifiedPrincipal> {
    if (authorization === undefined || authorization === '') throw new VerificationError('not_authenticated');
    const parts = authorization.split(' ').filter(Boolean);
    if (parts[0]?.toLowerCase() !== 'bearer') throw new VerificationError('not_authenticated');
    if (parts.length !== 2) throw new VerificationError('bad_authorization_header');
    return this.verify(parts[1] as string);
  }

  async #claims(token: string): Promise<TokenClaims> {
    const now = this.#clock.now();
    try {
      if (!this.#remote) return this.#tokens.verify(token, 'access', now);
      return this.#tokens.check(await this.#remote.decode(token), 'access', now);
    } catch (error) {
      if (error instanceof AuthError || error instanceof CodecError) throw new VerificationError('token_not_valid', error.message);
      if (error instanceof KeysUnavailableError) throw new VerificationError('service_unavailable', error.message);
      throw error;
    }
  }
}

/** @example const verifier = createVerifier({ secret: process.env.SIGNING_KEY }); */
export function createVerifier(options: VerifierOptions): Verifier {
  return new Verifier(options);
}

/**
 * One-off verification with a verifier, or with options (a JWKS URL then fetches on every call: keep a Verifier instead).
 * @example const principal = await verifyToken(token, verifier);
 */
export function verifyToken(token: string, verifier: Verifier | VerifierOptions): Promise<VerifiedPrincipal> {
  return (verifier instanceof Verifier ? verifier : new Verifier(verifier)).verify(token);
}
