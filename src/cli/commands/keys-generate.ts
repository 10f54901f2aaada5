import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { generatePrivateKey, kidOf } from '../../tokens/key-directory.ts';
import { CliError, EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';
import { algorithmOption, chosenAlgorithm, describeKey } from './keys.ts';

const HELP = `
Creates the first signing key of an algorithm in DATA_DIR/keys/ (refused when
one exists: use \`latchkey keys rotate\`). With --out, writes a new PKCS#8 PEM
private key to that file instead (mode 0600, never overwriting), for
JWT_PRIVATE_KEY_FILE. Prints the key's kid, never the key.

Examples:
  JWT_ALGORITHM=ES256 latchkey keys generate
  latchkey keys generate --algorithm EdDSA --out /etc/latchkey/signing.pem
${EXIT_STATUS_HELP}`;

/** `latchkey keys generate [--algorithm] [--out file]`. */
export function keysGenerateCommand(keys: Command): void {
  keys
    .command('generate')
    .description('create the first signing key (or a PEM file with --out)')
    .addOption(algorithmOption())
    .option('--out <file>', 'write a PEM private key to this file instead of the key directory')
    .addHelpText('after', HELP)
    .action(async (flags: { algorithm?: string; out?: string }) => {
      const config = loadConfig(process.env);
      const algorithm = chosenAlgorithm(flags.algorithm, config);
      if (flags.out !== undefined) {
        const key = generatePrivateKey(algorithm);
        try {
          writeFileSync(flags.out, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
        } catch (error) {
          throw new CliError(`cannot write ${flags.out} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
        console.log(`Wrote an ${algorithm} private key to ${flags.out} (kid ${kidOf(key)}). Set JWT_PRIVATE_KEY_FILE=${flags.out} and JWT_ALGORITHM=${algorithm}.`);
        return;
      }
      const key = await perform(config, 'keys-generate', { algorithm });
      console.log(`Generated: ${describeKey(key)}`);
    });
}
