/**
 * Django's bcrypt hashers: `bcrypt_sha256$$2b$12$…` runs bcrypt over the hex
 * SHA-256 of the password (so long passwords are not truncated at 72 bytes);
 * `bcrypt$$2b$12$…` runs it over the password itself.
 */
import { createHash } from 'node:crypto';
import { verify } from '@node-rs/bcrypt';
import type { DjangoHasher } from './django.ts';

/** Django uses cost 12; each step doubles the work, so 16 is sixteen times that (a few seconds). */
export const MAX_BCRYPT_COST = 16;

/** A whole bcrypt hash, as the Python bcrypt package Django calls writes and reads it. */
const BCRYPT = /^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$/;

function bcryptHasher(algorithm: string, prepare: (password: string) => Buffer): DjangoHasher {
  const prefix = `${algorithm}$`;
  const problem = (encoded: string): string | undefined => {
    const data = encoded.slice(prefix.length);
    if (!encoded.startsWith(prefix) || !BCRYPT.test(data)) return `malformed ${algorithm} hash`;
    // `$2b$12$…`: the regex has checked the shape, so the cost is the two digits after the version.
    const cost = Number(data.slice(4, 6));
    if (cost > MAX_BCRYPT_COST) return `${algorithm} cost ${cost} is over Latchkey's limit of ${MAX_BCRYPT_COST}`;
    return undefined;
  };
  return {
    algorithm,
    problem,
    async verify(encoded, password) {
      if (problem(encoded) !== undefined) return false;
      const input = prepare(password);
      // Python's bcrypt refuses NUL bytes (Django fails the check); Rust's would stop reading at one.
      if (input.includes(0)) return false;
      try {
        return await verify(input, encoded.slice(prefix.length));
      } catch {
        return false;
      }
    },
  };
}

export const djangoBcryptSha256 = bcryptHasher('bcrypt_sha256', (password) =>
  Buffer.from(createHash('sha256').update(password, 'utf8').digest('hex'), 'ascii'),
);

export const djangoBcrypt = bcryptHasher('bcrypt', (password) => Buffer.from(password, 'utf8'));
