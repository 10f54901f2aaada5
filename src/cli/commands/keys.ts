/**
 * `latchkey keys …`: the asymmetric signing keys of the key directory
 * (DATA_DIR/keys/). One file per subcommand; this one groups them and holds
 * what they share.
 */
import { Option, type Command } from 'commander';
import type { Config } from '../../config.ts';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from '../../tokens/codec.ts';
import type { KeyInfo } from '../../tokens/key-directory.ts';
import { EXIT_STATUS_HELP, UsageError } from '../errors.ts';
import { keysGenerateCommand } from './keys-generate.ts';
import { keysListCommand } from './keys-list.ts';
import { keysRetireCommand } from './keys-retire.ts';
import { keysRotateCommand } from './keys-rotate.ts';

const HELP = `
RS256, ES256 and EdDSA keys live in DATA_DIR/keys/, one file per key (mode
0600). The newest key of JWT_ALGORITHM signs new tokens; older ones keep
verifying until every token they signed has expired (REFRESH_TOKEN_LIFETIME +
LEEWAY after they were replaced), or until they are retired. A running server
with the embedded database applies a change at once; servers on PostgreSQL
re-read the directory within 30 seconds, and at once when a token names a key
they do not know yet. HS256/384/512 sign with SIGNING_KEY instead.

Public keys are served at /.well-known/jwks.json. A key given by
JWT_PRIVATE_KEY_FILE is not in the directory: rotate it by putting the new file
first in that list and keeping the old one after a comma.
${EXIT_STATUS_HELP}`;

/** `latchkey keys generate|rotate|list|retire`. */
export function keysCommand(program: Command): void {
  const keys = program.command('keys').description('manage asymmetric signing keys (generate, rotate, list, retire)').addHelpText('after', HELP);
  for (const register of [keysGenerateCommand, keysRotateCommand, keysListCommand, keysRetireCommand]) register(keys);
}

/** `--algorithm`, defaulting to JWT_ALGORITHM. */
export function algorithmOption(): Option {
  return new Option('--algorithm <alg>', 'RS256, ES256 or EdDSA (default: JWT_ALGORITHM)').choices(ASYMMETRIC_ALGORITHMS);
}

/** The algorithm asked for, or JWT_ALGORITHM; an HMAC one is a usage error. */
export function chosenAlgorithm(flag: string | undefined, config: Config): AsymmetricAlgorithm {
  const algorithm = flag ?? config.jwtAlgorithm;
  if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new UsageError(`JWT_ALGORITHM is ${algorithm}, which signs with SIGNING_KEY; pass --algorithm RS256, ES256 or EdDSA`);
  }
  return algorithm as AsymmetricAlgorithm;
}

/** A key as one line: kid, algorithm, creation, status. */
export function describeKey(key: KeyInfo): string {
  const until = key.verifies_until ? ` until ${key.verifies_until}` : '';
  return `${key.kid}  ${key.alg.padEnd(5)}  created ${key.created_at}  ${key.status}${until}`;
}
