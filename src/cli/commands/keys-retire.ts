import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Deletes a key that no longer signs: tokens it signed are refused from now on
(their users log in again). The current key cannot be retired; rotate first.
${EXIT_STATUS_HELP}`;

/** `latchkey keys retire <kid>`. */
export function keysRetireCommand(keys: Command): void {
  keys
    .command('retire')
    .description('delete a previous key; its tokens are refused from now on')
    .argument('<kid>', 'the key id, as `latchkey keys list` shows it')
    .addHelpText('after', HELP)
    .action(async (kid: string) => {
      const key = await perform(loadConfig(process.env), 'keys-retire', { kid });
      console.log(`Retired ${key.kid} (${key.alg}); tokens it signed are refused from now on.`);
    });
}
