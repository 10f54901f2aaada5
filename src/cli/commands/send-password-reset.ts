import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Mails a user a password-reset link, as POST /admin/users/{id}/password-reset/
does: the user chooses the new password; nobody else sees it. USER is a
username, an email address or a user id. The previous link of that user stops
working. The mail goes out through EMAIL_BACKEND (console: printed in the log
of the process that sends it); one that cannot be delivered now stays in the
outbox and a running server retries it.

Environment:
  DATABASE_URL, DATA_DIR
                    where the users are (a running embedded server does it itself)
  EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, … , DEFAULT_FROM_EMAIL
                    how mail is sent (\`latchkey serve --help\`)
  FRONTEND_URL, PASSWORD_RESET_CONFIRM_URL, PUBLIC_URL
                    where the link points
${EXIT_STATUS_HELP}`;

/** `latchkey send-password-reset <user>`: an administrator's "send reset link". */
export function sendPasswordResetCommand(program: Command): void {
  program
    .command('send-password-reset')
    .description('mail a user a password-reset link')
    .argument('<user>', 'username, email or id')
    .addHelpText('after', HELP)
    .action(async (user: string) => {
      const sent = await perform(loadConfig(process.env), 'send-password-reset', { user });
      console.log(`Password-reset link for ${sent.username} (id ${sent.id}) mailed to ${sent.email}.`);
    });
}
