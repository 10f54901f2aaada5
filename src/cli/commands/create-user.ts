import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../../config.ts';
import type { CreateUserInput } from '../../users/service.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { askNewPassword, askText, canPrompt, readStdin, required } from '../input.ts';
import { perform } from '../runtime.ts';

interface Flags {
  username?: string;
  email?: string;
  password?: string;
  passwordStdin?: boolean;
  role?: string;
  admin?: boolean;
  account?: number;
  passwordNeedsReset?: boolean;
}

const HELP = `
Missing --username or password are prompted for on a terminal (and then an
email too); without a terminal they are an error. Prefer --password-stdin to
--password, which other users can see in the process list:
  printf '%s' "$PASSWORD" | latchkey create-user --username ann --password-stdin

Environment:
  ROLES             allowed roles; the first is the default (client,employe,admin)
  DATABASE_URL      PostgreSQL (migrated first with \`latchkey migrate\`); unset =
                    the embedded database in DATA_DIR (default ./.latchkey)

With a server running on DATA_DIR the user is created by that server.
${EXIT_STATUS_HELP}`;

/** `latchkey create-user`: creates a user from flags or prompts. */
export function createUserCommand(program: Command): void {
  program
    .command('create-user')
    .description('create a user (flags or prompts; --admin for staff)')
    .option('--username <name>', 'login name')
    .option('--email <address>', 'email address (optional, also a login name)')
    .addOption(new Option('--password <password>', 'password (visible to other users; prefer --password-stdin)').conflicts('passwordStdin'))
    .option('--password-stdin', 'read the password from stdin (one trailing newline is dropped)')
    .option('--role <role>', 'role, one of ROLES (default: the first)')
    .option('--admin', 'make the user staff (is_staff)')
    .option('--account <id>', 'account id the user belongs to', parseAccountId)
    .option('--password-needs-reset', 'ask the user to change the password after logging in')
    .addHelpText('after', HELP)
    .action(async (flags: Flags) => {
      const config = loadConfig(process.env);
      const user = await perform(config, 'create-user', await gather(flags));
      console.log(`Created user "${user.username}" (id ${user.id}).`);
    });
}

async function gather(flags: Flags): Promise<CreateUserInput> {
  const secret = flags.passwordStdin ? await readStdin() : flags.password;
  // stdin carried the password, so it cannot answer prompts too.
  const interactive = canPrompt() && !flags.passwordStdin;
  // Email is optional: asked for only when the user is being prompted anyway.
  const prompting = interactive && (flags.username === undefined || secret === undefined);
  const username = await required(flags.username, '--username', interactive, () => askText('Username'));
  const email = flags.email ?? (prompting ? await askText('Email', { optional: true }) : undefined);
  const password = await required(secret, '--password or --password-stdin', interactive, askNewPassword);
  return {
    username,
    password,
    ...(email !== undefined ? { email } : {}),
    ...(flags.role !== undefined ? { role: flags.role } : {}),
    ...(flags.admin ? { isStaff: true } : {}),
    ...(flags.account !== undefined ? { accountId: flags.account } : {}),
    ...(flags.passwordNeedsReset ? { passwordNeedsReset: true } : {}),
  };
}

function parseAccountId(value: string): number {
  const id = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(id) || id < 1) throw new InvalidArgumentError('must be a positive whole number');
  return id;
}
