import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP, UsageError } from '../errors.ts';
import { perform } from '../runtime.ts';
import { algorithmOption, chosenAlgorithm, describeKey } from './keys.ts';

const HELP = `
Adds a new key to DATA_DIR/keys/ that signs every token from now on. Tokens
signed by the previous keys keep verifying, and refreshing, until they expire
(nobody is logged out); retire a key with \`latchkey keys retire <kid>\` to
refuse its tokens sooner, e.g. after a leak.
${EXIT_STATUS_HELP}`;

/** `latchkey keys rotate [--algorithm]`. */
export function keysRotateCommand(keys: Command): void {
  keys
    .command('rotate')
    .description('add a new signing key; previous keys keep verifying')
    .addOption(algorithmOption())
    .addHelpText('after', HELP)
    .action(async (flags: { algorithm?: string }) => {
      const config = loadConfig(process.env);
      const algorithm = chosenAlgorithm(flags.algorithm, config);
      if (config.jwtPrivateKeyFiles.length > 0) {
        throw new UsageError('the signing key comes from JWT_PRIVATE_KEY_FILE: put a new file first in that list and keep the old one after a comma');
      }
      const { current, previous } = await perform(config, 'keys-rotate', { algorithm });
      console.log(`Signing with: ${describeKey(current)}`);
      for (const key of previous) console.log(`Still verifying: ${describeKey(key)}`);
    });
}
