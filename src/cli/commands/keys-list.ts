import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';
import { describeKey } from './keys.ts';

const HELP = `
Lists the keys of DATA_DIR/keys/, oldest first: kid, algorithm, creation, and
status — current (signs), verifying (until when), or expired (no token it
signed can still be valid; safe to retire). --json prints the same as JSON.
${EXIT_STATUS_HELP}`;

/** `latchkey keys list [--json]`. */
export function keysListCommand(keys: Command): void {
  keys
    .command('list')
    .description('list the signing keys and their status')
    .option('--json', 'print JSON')
    .addHelpText('after', HELP)
    .action(async (flags: { json?: boolean }) => {
      const list = await perform(loadConfig(process.env), 'keys-list', {});
      if (flags.json) console.log(JSON.stringify(list, null, 2));
      else if (list.length === 0) console.log('No keys in the key directory.');
      else for (const key of list) console.log(describeKey(key));
    });
}
