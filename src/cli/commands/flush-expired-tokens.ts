import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Deletes sessions past their expiry, sessions revoked longer ago than an access
token lives (ACCESS_TOKEN_LIFETIME + LEEWAY), and refresh tokens past their
expiry. Spent refresh tokens that have not expired are kept: replaying one must
still be caught as reuse. Also deletes reset and verification tokens that
expired, and reset tokens that were used (a used verification token stays until
it expires, so its link still answers "already verified"); mfa_tokens that
expired or were spent, remembered devices and passkey challenges that
expired; and mails sent or given up on more than 7 days ago
(mails still waiting to be sent always stay). Says how many rows it deleted
from each table. Safe to run at any time, e.g. daily from cron.
${EXIT_STATUS_HELP}`;

/** `latchkey flush-expired-tokens`: purges what can no longer be used. */
export function flushExpiredTokensCommand(program: Command): void {
  program
    .command('flush-expired-tokens')
    .description('purge expired sessions and spent tokens')
    .addHelpText('after', HELP)
    .action(async () => {
      const deleted = await perform(loadConfig(process.env), 'flush-expired-tokens', {});
      console.log(
        `Deleted ${deleted.sessions} session(s), ${deleted.refreshTokens} refresh token(s), ${deleted.recoveryTokens} reset or verification token(s), `
          + `${deleted.mfaTokens} mfa token(s) or remembered device(s), ${deleted.webauthnChallenges} passkey challenge(s) and ${deleted.mails} sent or failed mail(s).`,
      );
    });
}
