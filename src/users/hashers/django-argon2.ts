/**
 * Django's `Argon2PasswordHasher`: `argon2` followed by the PHC string argon2-cffi
 * wrote, `argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>` (before Django 3.2
 * `argon2$argon2i$…`). The PHC part is what @node-rs/argon2 verifies.
 */
import { parseOptions, verify } from '@node-rs/argon2';
import type { DjangoHasher } from './django.ts';

const PREFIX = 'argon2$';
/** Django's prefix, then argon2-cffi's PHC string, which names its variety first. */
const SHAPE = /^argon2\$argon2(id|i|d)\$[^$]/;

/**
 * Bounds on what one check may cost. Django's own parameters are m=102400
 * (100 MiB), t=2, p=8; these allow 2.5 times the memory and 8 times the passes.
 */
export const MAX_ARGON2 = { memoryKiB: 262_144, passes: 16, lanes: 64 } as const;

function problem(encoded: string): string | undefined {
  if (!SHAPE.test(encoded)) return 'malformed argon2 hash';
  let options;
  try {
    options = parseOptions(encoded.slice(PREFIX.length - 1));
  } catch {
    return 'malformed argon2 hash';
  }
  if (options.memoryCost > MAX_ARGON2.memoryKiB) return `argon2 memory cost ${options.memoryCost} KiB is over Latchkey's limit of ${MAX_ARGON2.memoryKiB}`;
  if (options.timeCost > MAX_ARGON2.passes) return `argon2 time cost ${options.timeCost} is over Latchkey's limit of ${MAX_ARGON2.passes}`;
  if (options.parallelism > MAX_ARGON2.lanes) return `argon2 parallelism ${options.parallelism} is over Latchkey's limit of ${MAX_ARGON2.lanes}`;
  return undefined;
}

export const djangoArgon2: DjangoHasher = {
  algorithm: 'argon2',
  problem,
  async verify(encoded, password) {
    if (problem(encoded) !== undefined) return false;
    try {
      return await verify(encoded.slice(PREFIX.length - 1), password);
    } catch {
      return false;
    }
  },
};
