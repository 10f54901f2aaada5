import type { Command } from 'commander';
import { loadConfig } from '../../config.ts';
import { blacklistedBatches, mappedBatches, sessionBatches, type ImportTotals, type SessionTotals } from '../../django/import.ts';
import { openDjangoSource } from '../../django/source.ts';
import { EXIT_STATUS_HELP } from '../errors.ts';
import { withRuntime } from '../runtime.ts';

/** Skipped rows listed one per line; the rest are counted. */
const SKIPPED_LISTED = 50;

const HELP = `
Sources:
  users.json        the output of \`python manage.py dumpdata auth.user > users.json\`
                    (other models in the file are ignored; do not use
                    --natural-primary: the ids are needed)
  postgres://…      the Django site's own PostgreSQL database, read-only: its
                    auth_user table is read in id order

Each user keeps its Django id (tokens SimpleJWT issued carry it), username,
email, names, flags, dates and password hash: pbkdf2_sha256, argon2 and
bcrypt_sha256 (and bcrypt) hashes work as they are and become argon2id at the
user's next login. Superusers become staff with the role admin (if ROLES has
it); everyone else gets the first of ROLES. Users with Django's unusable
password are imported but cannot log in with a password.

Skipped, and listed with the reason: a hash format Latchkey cannot check (md5,
sha1, …), a malformed row, a username Django's own validator would refuse, an
id, username or email (case-insensitively) that another user has already.

Sessions: when the site runs SimpleJWT's blacklist app
(rest_framework_simplejwt.token_blacklist), every outstanding refresh token
that is not blacklisted, not expired and whose user is imported becomes a
Latchkey session, so nobody is logged out: dump those tables into the same
file (\`dumpdata auth.user token_blacklist > site.json\`), or give the database
URL. Set SIGNING_KEY to the site's SIMPLE_JWT signing key. The token strings
themselves are never stored.

Running it again is safe: users already imported (same id and username) are
left as they are, passwords changed since included; only new rows are added.

Environment: DATABASE_URL or DATA_DIR say where Latchkey's users go, as for
every command; with a server running on DATA_DIR, the server imports them.

A run that skips rows still exits 0; a source that cannot be read (no such
file, not JSON, database unreachable) exits 1.
${EXIT_STATUS_HELP}`;

/** `latchkey import-django-users <source>`: users from a Django site, passwords included. */
export function importDjangoUsersCommand(program: Command): void {
  program
    .command('import-django-users')
    .description('import Django auth_user rows, password hashes kept')
    .argument('<source>', 'a `dumpdata auth.user` JSON file, or the postgres:// URL of the Django database')
    .addHelpText('after', HELP)
    .action(async (location: string) => {
      const config = loadConfig(process.env);
      // A source that cannot be read fails here, in one line, before anything is written.
      const source = await openDjangoSource(location);
      const totals: ImportTotals = { read: 0, imported: 0, present: 0, unusable: 0, skipped: [] };
      const sessions: SessionTotals = { total: source.tokens?.total ?? 0, imported: 0, present: 0, skipped: 0, users: 0 };
      const progress = process.stderr.isTTY ? new Progress(source.total) : undefined;
      try {
        await withRuntime(config, 'import-django-users', async (run) => {
          // Django users imported or already present: only their tokens become sessions.
          const accepted = new Set<number>();
          for await (const batch of mappedBatches(source, config.roles)) {
            if (batch.users.length > 0) {
              const result = await run('import-django-users', { users: batch.users });
              totals.imported += result.imported;
              totals.present += result.present;
              totals.unusable += result.unusable;
              totals.skipped.push(...result.skipped);
              const refused = new Set(result.skipped.map((row) => row.id));
              for (const user of batch.users) if (!refused.has(user.id)) accepted.add(user.id);
            }
            totals.read += batch.read;
            totals.skipped.push(...batch.skipped);
            progress?.show(totals);
          }
          if (!source.tokens) return;
          const users = new Set<number>();
          for await (const batch of sessionBatches(source.tokens, accepted, Date.now())) {
            const result = await run('import-django-sessions', { sessions: batch });
            sessions.imported += result.imported;
            sessions.present += result.present;
            for (const id of result.userIds) users.add(id);
          }
          sessions.users = users.size;
          sessions.skipped = sessions.total - sessions.imported - sessions.present;
          // Blacklisted tokens are remembered so that ACCEPT_SIMPLEJWT_TOKENS never exchanges one.
          for await (const batch of blacklistedBatches(source.tokens, Date.now())) await run('import-django-blacklist', { tokens: batch });
        });
      } finally {
        progress?.clear();
        await source.close();
      }
      for (const line of summary(source.label, totals)) console.log(line);
      const tokens = sessionSummary(source.label, source.tokens ? sessions : undefined, /^postgres(ql)?:\/\//i.test(location));
      if (tokens) console.log(tokens);
    });
}

/** The report: counts, then the skipped rows in id order with their reasons. */
function summary(label: string, totals: ImportTotals): string[] {
  const lines = [
    `Read ${totals.read} ${plural(totals.read, 'user')} from ${label}.`,
    `Imported ${totals.imported}, already present ${totals.present}, skipped ${totals.skipped.length}.`,
  ];
  if (totals.unusable > 0) {
    lines.push(`${totals.unusable} imported ${plural(totals.unusable, 'user has', 'users have')} no usable password (set_unusable_password in Django) and cannot log in with one.`);
  }
  const skipped = [...totals.skipped].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  for (const row of skipped.slice(0, SKIPPED_LISTED)) {
    lines.push(`  skipped ${row.id === null ? 'a row' : `id ${row.id}`}${row.username === null ? '' : ` (${JSON.stringify(row.username)})`}: ${row.reason}`);
  }
  if (skipped.length > SKIPPED_LISTED) lines.push(`  … and ${skipped.length - SKIPPED_LISTED} more skipped`);
  return lines;
}

/**
 * The sessions line: what became of SimpleJWT's outstanding tokens. A database without
 * the blacklist app's tables is said so; a dump file may simply not include them.
 */
function sessionSummary(label: string, totals: SessionTotals | undefined, database: boolean): string | undefined {
  if (!totals) {
    return database ? `No SimpleJWT token tables (token_blacklist) in ${label}: no sessions imported; users log in again.` : undefined;
  }
  const present = totals.present > 0 ? `, already present ${totals.present}` : '';
  return (
    `Imported ${totals.imported} ${plural(totals.imported, 'session')} (refresh tokens) for ${totals.users} ${plural(totals.users, 'user')}${present}; ` +
    `skipped ${totals.skipped} (blacklisted, expired or user not imported).`
  );
}

function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}

/** One status line on the terminal, rewritten in place, at most ten times a second. */
class Progress {
  readonly #total: number;
  #shown = 0;

  constructor(total: number) {
    this.#total = total;
  }

  show(totals: ImportTotals): void {
    const now = Date.now();
    if (now - this.#shown < 100 && totals.read < this.#total) return;
    this.#shown = now;
    process.stderr.write(`\r\x1b[Kread ${totals.read}/${this.#total} · imported ${totals.imported} · already present ${totals.present} · skipped ${totals.skipped.length}`);
  }

  clear(): void {
    process.stderr.write('\r\x1b[K');
  }
}
