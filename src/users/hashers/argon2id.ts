import { hash, verify } from '@node-rs/argon2';

/**
 * OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). @node-rs/argon2 runs
 * each hash on libuv's thread pool, so the event loop keeps serving requests.
 */
const PARAMS = { algorithm: 2 /* Algorithm.Argon2id, a const enum */, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** argon2id's work factors: memory in KiB, passes, lanes. */
export interface Argon2idCost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** The cost new hashes get unless a caller says otherwise (tests pass a cheap one). */
export const ARGON2ID_COST: Readonly<Argon2idCost> = { memoryCost: PARAMS.memoryCost, timeCost: PARAMS.timeCost, parallelism: PARAMS.parallelism };

export const PREFIX = '$argon2id$';

/** @example const encoded = await hashArgon2id('s3cret!'); // '$argon2id$v=19$m=19456,t=2,p=1$…' */
export function hashArgon2id(password: string, cost: Argon2idCost = ARGON2ID_COST): Promise<string> {
  return hash(password, { algorithm: PARAMS.algorithm, memoryCost: cost.memoryCost, timeCost: cost.timeCost, parallelism: cost.parallelism });
}

export async function verifyArgon2id(encoded: string, password: string): Promise<boolean> {
  try {
    return await verify(encoded, password);
  } catch {
    return false;
  }
}

/** True when the hash was made with other parameters than `cost` (today's by default). */
export function argon2idNeedsRehash(encoded: string, cost: Argon2idCost = ARGON2ID_COST): boolean {
  return !encoded.startsWith(`${PREFIX}v=19$m=${cost.memoryCost},t=${cost.timeCost},p=${cost.parallelism}$`);
}
