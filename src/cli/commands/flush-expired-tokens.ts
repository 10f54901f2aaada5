import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Deletes sessions past their expiry, sessions revoked longer ago than an access
token lives (ACCESS_TOKEN_LIFETIME + LEEWAY), and refresh tokens past their
expiry. Spent refresh tokens that have not expired are kept: replaying one must
still be caught as reuse. Safe to run at any time, e.g. daily from cron.
${EXIT_STATUS_HELP}`;

/** `latchkey flush-expired-tokens`: purges what can no longer be used. */
export function flushExpiredTokensCommand(program: Command): void {
  program
    .command('flush-expired-tokens')
    .description('purge expired sessions and spent tokens')
    .addHelpText('after', HELP)
    .action(async () => {
      const { sessions, refreshTokens } = await perform(loadConfig(process.env), 'flush-expired-tokens', {});
      console.log(`Deleted ${sessions} session(s) and ${refreshTokens} refresh token(s).`);
    });
}
