/**
 * Keys fetched from a Latchkey server's `/.well-known/jwks.json`, for
 * latchkey/verify: jose's remote key set caches them and fetches again when a
 * token names a `kid` it does not know (a rotation), at most every few seconds.
 */
import { compactVerify, createRemoteJWKSet } from 'jose';
import { CodecError, MAX_TOKEN_BYTES, type AsymmetricAlgorithm, type CodecFailure, type Payload } from './codec.ts';

/** jose's errors that are the token's fault, and how the codec names them. */
const TOKEN_FAULTS: Record<string, CodecFailure> = {
  ERR_JWS_INVALID: 'malformed',
  ERR_JOSE_NOT_SUPPORTED: 'algorithm',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm',
  ERR_JWKS_NO_MATCHING_KEY: 'unknown_key',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'unknown_key',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature',
};

/** The key set could not be fetched: no token can be judged now. */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
  constructor(cause: unknown) {
    super('the JWKS could not be fetched', { cause });
  }
}

export interface RemoteKeyOptions {
  /** The algorithms accepted (default RS256, ES256, EdDSA); never an HMAC one, so a public key is never a secret. */
  algorithms?: readonly AsymmetricAlgorithm[];
  /** How long fetched keys are trusted without asking again. Default 10 minutes. */
  cacheMaxAgeMs?: number;
  /** The least time between two fetches, however many unknown kids arrive. Default 5 seconds. */
  cooldownMs?: number;
  /** Per fetch. Default 5 seconds. */
  timeoutMs?: number;
}

/** Verifies signatures against a remote JWKS; the payload's claims are the caller's to check. */
export interface RemoteKeys {
  decode(token: string): Promise<Payload>;
}

/**
 * @example const keys = remoteKeys('https://auth.example.com/.well-known/jwks.json'); const payload = await keys.decode(token);
 */
export function remoteKeys(url: string | URL, options: RemoteKeyOptions = {}): RemoteKeys {
  const jwks = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: options.cacheMaxAgeMs ?? 600_000,
    cooldownDuration: options.cooldownMs ?? 5_000,
    timeoutDuration: options.timeoutMs ?? 5_000,
  });
  const algorithms = [...(options.algorithms ?? ['RS256', 'ES256', 'EdDSA'])];
  return {
    async decode(token) {
      if (token.length > MAX_TOKEN_BYTES) throw new CodecError('too_large');
      let payload: Uint8Array;
      try {
        ({ payload } = await compactVerify(token, jwks, { algorithms }));
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        const reason = TOKEN_FAULTS[code];
        // Anything else (a timeout, a refused connection, a key server answering 500) is not the token's fault.
        if (!reason) throw new KeysUnavailableError(error);
        throw new CodecError(reason);
      }
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        throw new CodecError('malformed');
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CodecError('malformed');
      return value as Payload;
    },
  };
}
