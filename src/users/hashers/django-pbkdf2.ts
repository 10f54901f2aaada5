/** Django's `PBKDF2PasswordHasher`: `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes>`. */
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { safeEqual, type DjangoHasher } from './django.ts';

const derive = promisify(pbkdf2);

/**
 * Django 5.2 uses 1,000,000 iterations; ten times that (about 2 s on one libuv
 * thread) still admits every real Django site, while a crafted hash with
 * billions of iterations cannot tie up the thread pool.
 */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

interface Parts {
  iterations: number;
  salt: string;
}

function parse(encoded: string): Parts | string {
  const [algorithm, iterations, salt, hash, ...rest] = encoded.split('$');
  if (algorithm !== 'pbkdf2_sha256' || rest.length > 0 || !salt || !hash || !/^[1-9][0-9]*$/.test(iterations ?? '')) {
    return 'malformed pbkdf2_sha256 hash';
  }
  const count = Number(iterations);
  if (count > MAX_PBKDF2_ITERATIONS) return `pbkdf2_sha256 iteration count ${iterations} is over Latchkey's limit of ${MAX_PBKDF2_ITERATIONS}`;
  return { iterations: count, salt };
}

export const djangoPbkdf2Sha256: DjangoHasher = {
  algorithm: 'pbkdf2_sha256',
  problem(encoded) {
    const parts = parse(encoded);
    return typeof parts === 'string' ? parts : undefined;
  },
  // As Django does: encode the password again with the stored salt and count, compare the whole strings.
  async verify(encoded, password) {
    const parts = parse(encoded);
    if (typeof parts === 'string') return false;
    const key = await derive(Buffer.from(password, 'utf8'), Buffer.from(parts.salt, 'utf8'), parts.iterations, 32, 'sha256');
    return safeEqual(encoded, `pbkdf2_sha256$${parts.iterations}$${parts.salt}$${key.toString('base64')}`);
  },
};
