import { hash, verify } from '@node-rs/argon2';

/**
 * OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). @node-rs/argon2 runs
 * each hash on libuv's thread pool, so the event loop keeps serving requests.
 */
const PARAMS = { algorithm: 2 /* Algorithm.Argon2id, a const enum */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PREFIX = '$argon2id$';

/** @example const encoded = await hashArgon2id('s3cret!'); // '$argon2id$v=19$m=19456,t=2,p=1$…' */
export function hashArgon2id(password: string): Promise<string> {
  return hash(password, PARAMS);
}

export async function verifyArgon2id(encoded: string, password: string): Promise<boolean> {
  try {
    return await verify(encoded, password);
  } catch {
    return false;
  }
}

/** True when the hash was made with weaker parameters than today's. */
export function argon2idNeedsRehash(encoded: string): boolean {
  return !encoded.startsWith(`${PREFIX}v=19$m=${PARAMS.memoryCost},t=${PARAMS.timeCost},p=${PARAMS.parallelism}$`);
}
