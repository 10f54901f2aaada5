import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { IdentifierClash } from '../../store/repos/users.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Environment:
  DATABASE_URL      PostgreSQL to migrate; unset = the embedded database
  DATA_DIR          the embedded database (default ./.latchkey)

The embedded database is also migrated by \`latchkey serve\` at start; with a
server running on DATA_DIR the command is sent to it. Users whose names
already clash when a rule is added (0003: no username equal to another's
email, usernames NFKC-normalised) are listed as warnings and left unchanged.
${EXIT_STATUS_HELP}`;

/** `latchkey migrate`: applies pending database migrations. */
export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .addHelpText('after', HELP)
    .action(async () => {
      const { applied, identifierClashes = [] } = await perform(loadConfig(process.env), 'migrate', {});
      if (applied.length === 0) console.log('No migrations to apply.');
      for (const name of applied) console.log(`Applied ${name}`);
      for (const clash of identifierClashes) console.warn(`warning: ${describeClash(clash)}`);
    });
}

/**
 * One line for a pair of users that clashed before the identifier rule existed
 * (migration 0003): an administrator settles it by changing one of them.
 */
export function describeClash(clash: IdentifierClash): string {
  const what = clash.kind === 'username_is_email' ? "the first's username is the other's email" : 'their usernames are the same once NFKC-normalised';
  return `users ${clash.userId} (${JSON.stringify(clash.username)}) and ${clash.otherUserId} (${JSON.stringify(clash.otherUsername)}) clash: ${what}; both kept, change one`;
}
