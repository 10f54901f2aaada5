import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP, UsageError } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Ends every session of every user, at once: each access token is refused from
the next request on, by every running server, and no refresh token works any
more. Everyone must log in again. Use it after a leak of the signing key or of
the database.

Without --confirm nothing happens and the command exits with status 2.

Environment:
  DATABASE_URL      PostgreSQL (servers on it learn of it through LISTEN/NOTIFY);
                    unset = the embedded database in DATA_DIR, where a running
                    server applies it itself
${EXIT_STATUS_HELP}`;

/** `latchkey invalidate-all-tokens --confirm`: the emergency "log everyone out". */
export function invalidateAllTokensCommand(program: Command): void {
  program
    .command('invalidate-all-tokens')
    .description('log every user out now (requires --confirm)')
    .option('--confirm', 'really end every session')
    .addHelpText('after', HELP)
    .action(async (flags: { confirm?: boolean }) => {
      if (!flags.confirm) throw new UsageError('refusing to log every user out without --confirm; nothing was changed');
      const { sessionsEnded } = await perform(loadConfig(process.env), 'invalidate-all-tokens', {});
      console.log(`All tokens invalidated: ${sessionsEnded} session(s) ended. Every user must log in again.`);
    });
}
