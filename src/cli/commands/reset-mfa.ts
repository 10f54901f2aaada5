import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP, UsageError } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Removes every second factor of a user, as POST /admin/users/{id}/mfa/reset/
does: the authenticator app (TOTP), the recovery codes, a pending enrolment
and a lock after failed codes. Every session of the user ends at once, on
every running server, and the user is mailed. The user then signs in with the
password alone and may enrol again. USER is a username, an email address or a
user id. For a user who has lost their phone and their recovery codes.

Without --confirm nothing happens and the command exits with status 2.

Environment:
  DATABASE_URL, DATA_DIR
                    where the users are (a running embedded server does it itself)
  EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, … , DEFAULT_FROM_EMAIL
                    how the notice is mailed (\`latchkey serve --help\`)
  PUBLIC_URL        where the mail's "reset my password" link points
${EXIT_STATUS_HELP}`;

/** `latchkey reset-mfa <user> --confirm`: an operator removes a user's second factors. */
export function resetMfaCommand(program: Command): void {
  program
    .command('reset-mfa')
    .description("remove a user's second factors and end its sessions (requires --confirm)")
    .argument('<user>', 'username, email or id')
    .option('--confirm', "really remove the user's second factors")
    .addHelpText('after', HELP)
    .action(async (user: string, flags: { confirm?: boolean }) => {
      if (!flags.confirm) throw new UsageError(`refusing to remove the second factors of ${JSON.stringify(user)} without --confirm; nothing was changed`);
      const reset = await perform(loadConfig(process.env), 'reset-mfa', { user });
      const what = reset.methods.length > 0 ? `second factor removed (${reset.methods.join(', ')})` : 'had no second factor';
      console.log(`${reset.username} (id ${reset.id}): ${what}; ${reset.sessionsEnded} session(s) ended.`);
    });
}
