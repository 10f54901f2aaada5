/**
 * The `latchkey` command line: one file per command under commands/, one place
 * that turns failures into a message on stderr and an exit status.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { createUserCommand } from './commands/create-user.ts';
import { flushExpiredTokensCommand } from './commands/flush-expired-tokens.ts';
import { importDjangoUsersCommand } from './commands/import-django-users.ts';
import { invalidateAllTokensCommand } from './commands/invalidate-all-tokens.ts';
import { keysCommand } from './commands/keys.ts';
import { migrateCommand } from './commands/migrate.ts';
import { resetMfaCommand } from './commands/reset-mfa.ts';
import { sendPasswordResetCommand } from './commands/send-password-reset.ts';
import { serveCommand } from './commands/serve.ts';
import { EXIT_STATUS_HELP, report, type ExitStatus } from './errors.ts';

const COMMANDS = [serveCommand, migrateCommand, createUserCommand, invalidateAllTokensCommand, flushExpiredTokensCommand, importDjangoUsersCommand, keysCommand, sendPasswordResetCommand, resetMfaCommand];

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The program with every command registered; it throws instead of exiting. */
export function buildProgram(): Command {
  const program = new Command('latchkey')
    .description('Self-hosted JWT authentication server speaking SimpleJWT’s wire format')
    .version(version)
    .exitOverride()
    // Commander puts "(Did you mean …?)" on a second line; errors stay on one.
    .configureOutput({ outputError: (message, write) => write(`${message.trimEnd().replace(/\s*\n\s*/g, ' ')}\n`) })
    .addHelpText('after', `\nSettings come from the environment and a .env file; see \`latchkey <command> --help\`.\n${EXIT_STATUS_HELP}`);
  for (const register of COMMANDS) register(program);
  return program;
}

/**
 * Runs the CLI and returns the exit status; prints errors, never throws.
 * @example process.exitCode = await main(process.argv);
 */
export async function main(argv: string[]): Promise<ExitStatus> {
  // `latchkey --help | head`: a reader that has gone away is no error of ours.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(0);
  });
  // The real environment wins over .env.
  loadDotenv({ quiet: true });
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    // Commander has printed its own message (or the help) already.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const { lines, status } = report(error);
    for (const line of lines) console.error(line);
    return status;
  }
}
