import type { Config } from '../config.ts';
import { AuthError, TokenError } from '../errors.ts';
import { decode, encode, CodecError, type Payload } from './codec.ts';
import type { KeySet } from './keys.ts';
import type { TokenClaims, TokenType } from './claims.ts';
import { VerifiedTokens } from './verified.ts';

export interface IssuedToken {
  token: string;
  claims: TokenClaims;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

type TokenSettings = Pick<Config, 'leeway' | 'jwtIssuer' | 'jwtAudience' | 'userIdClaim'> & { emailVerification?: Config['emailVerification'] } & Partial<Pick<Config, 'acceptSimplejwtTokens'>>;

/**
 * Issues and verifies Latchkey's JWTs with SimpleJWT's claims. Knows nothing of
 * sessions or revocation: that is checked by the caller (see auth.ts).
 */
export class TokenService {
  readonly #keys: KeySet;
  readonly #settings: TokenSettings;
  readonly #verified: VerifiedTokens;

  constructor(keys: KeySet, settings: TokenSettings, verifiedCacheSize?: number) {
    this.#keys = keys;
    this.#settings = settings;
    this.#verified = new VerifiedTokens(verifiedCacheSize);
  }

  /**
   * Signs claims into a token. Signing the same claims again gives the same
   * string, which is how a refresh inside the reuse grace returns the same pair.
   * @example tokens.sign({ tokenType: 'access', exp, iat, jti, userId: 1, sid, role: null, accountId: null })
   */
  sign(claims: TokenClaims): IssuedToken {
    const { userIdClaim, jwtIssuer, jwtAudience } = this.#settings;
    // SimpleJWT's claim order first, then Latchkey's own.
    const payload: Payload = {
      token_type: claims.tokenType,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      [userIdClaim]: claims.userId,
      sid: claims.sid,
    };
    if (claims.role !== null) payload.role = claims.role;
    if (claims.accountId !== null) payload.account_id = claims.accountId;
    if (claims.passwordResetRequired) payload.password_reset_required = true;
    if (claims.mfaEnrollmentRequired) payload.mfa_enrollment_required = true;
    if (claims.amr !== undefined) payload.amr = claims.amr;
    if (claims.aal !== undefined) payload.aal = claims.aal;
    if (claims.authTime !== undefined) payload.auth_time = claims.authTime;
    if (claims.emailVerified !== undefined && (this.#settings.emailVerification ?? 'none') !== 'none') payload.email_verified = claims.emailVerified;
    if (jwtIssuer !== undefined) payload.iss = jwtIssuer;
    if (jwtAudience !== undefined) payload.aud = jwtAudience;
    return { token: encode(payload, this.#keys.current), claims, expiresAt: claims.exp * 1000 };
  }

  /**
   * Verifies signature, time claims (with LEEWAY), type, issuer and audience,
   * in PyJWT's and SimpleJWT's order, so the first failure is the one
   * SimpleJWT would name (a TokenError's `reason`).
   * @example const claims = tokens.verify(bearer, 'access', clock.now());
   */
  verify(token: string, expected: TokenType | 'any', nowMs: number): TokenClaims {
    const keys = this.#keys.all;
    let payload = this.#verified.get(token, keys);
    if (payload === undefined) {
      try {
        payload = decode(token, keys, this.#keys.current, this.#keys.refresh);
      } catch (error) {
        if (error instanceof CodecError) throw new TokenError('invalid', error.message);
        throw error;
      }
      // Only access tokens come back again and again; a refresh token is sent once (rotation) and
      // would only push them out. An unknown kid may have reloaded the keys: then this token waits.
      if (payload.token_type === 'access') this.#verified.add(token, keys, payload);
    }
    return this.check(payload, expected, nowMs);
  }

  /**
   * The claim checks of `verify` alone, for a payload whose signature was
   * checked elsewhere (latchkey/verify against a remote JWKS).
   */
  check(payload: Payload, expected: TokenType | 'any', nowMs: number): TokenClaims {
    return this.#readClaims(payload, expected, nowMs);
  }

  #readClaims(payload: Payload, expected: TokenType | 'any', nowMs: number): TokenClaims {
    const { userIdClaim, jwtIssuer, jwtAudience, leeway } = this.#settings;
    const { token_type: tokenType, exp, iat, nbf, jti, sid, role, account_id: accountId, password_reset_required: resetRequired, mfa_enrollment_required: enrollmentRequired, amr, aal, auth_time: authTime } = payload;
    // PyJWT, while decoding: exp passed, nbf or iat in the future (LEEWAY either way), issuer, audience.
    if (exp !== undefined && (!Number.isSafeInteger(exp) || (exp as number) * 1000 + leeway <= nowMs)) throw invalid('exp');
    if (!Number.isSafeInteger(iat) || (iat as number) * 1000 > nowMs + leeway) throw invalid('iat in the future');
    if (nbf !== undefined && (typeof nbf !== 'number' || !Number.isFinite(nbf) || nbf * 1000 > nowMs + leeway)) throw invalid('nbf');
    if (jwtIssuer !== undefined && payload.iss !== jwtIssuer) throw invalid('iss');
    if (jwtAudience !== undefined && !audienceMatches(payload.aud, jwtAudience)) throw invalid('aud');
    // SimpleJWT's Token.verify(): exp present, jti present, then the type.
    if (exp === undefined) throw new TokenError('no_exp');
    if (typeof jti !== 'string') throw new TokenError('no_id');
    if (tokenType !== 'access' && tokenType !== 'refresh') throw new TokenError('wrong_type');
    if (expected !== 'any' && tokenType !== expected) throw new TokenError('wrong_type');
    // SimpleJWT's own refresh tokens carry no sid; its access tokens without one are refused (the client
    // answers that 401 by refreshing) unless ACCEPT_SIMPLEJWT_TOKENS honours them (the caller checks cut-offs).
    const legacy = sid === undefined && (tokenType === 'refresh' || this.#settings.acceptSimplejwtTokens === true);
    if (typeof sid !== 'string' && !legacy) throw invalid('sid');
    if (role !== undefined && typeof role !== 'string') throw invalid('role');
    if (accountId !== undefined && !Number.isSafeInteger(accountId)) throw invalid('account_id');
    if (resetRequired !== undefined && resetRequired !== true) throw invalid('password_reset_required');
    if (enrollmentRequired !== undefined && enrollmentRequired !== true) throw invalid('mfa_enrollment_required');
    if (amr !== undefined && !(Array.isArray(amr) && amr.length <= 16 && amr.every((m) => typeof m === 'string'))) throw invalid('amr');
    if (aal !== undefined && typeof aal !== 'string') throw invalid('aal');
    if (authTime !== undefined && !Number.isSafeInteger(authTime)) throw invalid('auth_time');
    return {
      tokenType,
      exp: exp as number,
      iat: iat as number,
      jti,
      userId: readUserId(payload, userIdClaim),
      sid: legacy ? '' : (sid as string),
      role: (role as string | undefined) ?? null,
      accountId: (accountId as number | undefined) ?? null,
      ...(resetRequired === true ? { passwordResetRequired: true } : {}),
      ...(enrollmentRequired === true ? { mfaEnrollmentRequired: true } : {}),
      ...(amr !== undefined ? { amr: amr as string[] } : {}),
      ...(aal !== undefined ? { aal: aal as string } : {}),
      ...(authTime !== undefined ? { authTime: authTime as number } : {}),
      ...(legacy ? { legacy: true } : {}),
    };
  }
}

/**
 * The user id claim: a number, or a string of digits (Django casts it to the
 * same id). Missing is SimpleJWT's "no recognizable user identification";
 * anything else names no user.
 */
function readUserId(payload: Payload, claim: string): number {
  const value = payload[claim];
  if (value === undefined || value === null) throw new TokenError('no_user_id', 'no user id claim');
  if (Number.isSafeInteger(value) && (value as number) >= 0) return value as number;
  if (typeof value === 'string' && /^[0-9]{1,15}$/.test(value)) return Number(value);
  throw new AuthError('user_not_found', 'user id claim names no user');
}

/** For a TokenService that only checks claims (`check`): it has no key to sign or verify with. */
export const NO_LOCAL_KEYS: KeySet = {
  get current(): never {
    throw new Error('no local signing key: this TokenService only checks claims');
  },
  all: new Map(),
};

function audienceMatches(aud: unknown, expected: string): boolean {
  return aud === expected || (Array.isArray(aud) && aud.includes(expected));
}

function invalid(what: string): TokenError {
  return new TokenError('invalid', `token rejected: ${what}`);
}
