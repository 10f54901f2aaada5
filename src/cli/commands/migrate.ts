import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { perform } from '../runtime.ts';

const HELP = `
Environment:
  DATABASE_URL      PostgreSQL to migrate; unset = the embedded database
  DATA_DIR          the embedded database (default ./.latchkey)

The embedded database is also migrated by \`latchkey serve\` at start; with a
server running on DATA_DIR the command is sent to it.
${EXIT_STATUS_HELP}`;

/** `latchkey migrate`: applies pending database migrations. */
export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations')
    .addHelpText('after', HELP)
    .action(async () => {
      const { applied } = await perform(loadConfig(process.env), 'migrate', {});
      if (applied.length === 0) console.log('No migrations to apply.');
      for (const name of applied) console.log(`Applied ${name}`);
    });
}
