import { Migrator, sql, type Kysely, type Migration, type MigrationResult } from 'kysely';
import * as initial from './migrations/0001_initial.ts';
import * as accountsAudit from './migrations/0002_accounts_audit.ts';
import * as identifierRule from './migrations/0003_identifier_rule.ts';
import * as userChanges from './migrations/0004_user_changes.ts';
import * as mailRecovery from './migrations/0005_mail_recovery.ts';
import * as simplejwtCutover from './migrations/0006_simplejwt_cutover.ts';
import * as mfa from './migrations/0007_mfa.ts';
import * as passkeys from './migrations/0008_passkeys.ts';
import * as rememberedDevices from './migrations/0009_remembered_devices.ts';
import * as refreshTokenRoom from './migrations/0010_refresh_token_room.ts';
import { UsersRepo, type IdentifierClash } from './repos/users.ts';

/** Append-only and numbered. A new migration is a new file and a new line here. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
  '0002_accounts_audit': accountsAudit,
  '0003_identifier_rule': identifierRule,
  '0004_user_changes': userChanges,
  '0005_mail_recovery': mailRecovery,
  '0006_simplejwt_cutover': simplejwtCutover,
  '0007_mfa': mfa,
  '0008_passkeys': passkeys,
  '0009_remembered_devices': rememberedDevices,
  '0010_refresh_token_room': refreshTokenRoom,
};

export interface MigrationReport {
  applied: string[];
  /**
   * Present when this run added the identifier rule (0003) to a database that
   * already broke it: the users whose names would now be refused. Nothing is
   * changed; `latchkey migrate` prints them and `serve` logs them.
   */
  identifierClashes?: IdentifierClash[];
}

// Kysely's `any` here lets callers pass a Kysely<Database> without a cast.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyKysely = Kysely<any>;

/**
 * Kysely looks for its bookkeeping tables in every schema unless told which;
 * pinning it to the connection's own schema keeps several schemas (one per
 * test suite, or several apps in one database) from seeing each other's.
 */
async function migrator(db: AnyKysely, migrations: Record<string, Migration> = MIGRATIONS): Promise<Migrator> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema ?? 'public';
  return new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema: schema });
}

/**
 * Applies the migrations up to and including `last`, as the release that ended
 * there did: upgrade tests start from such a database.
 * @example await migrateThrough(store.db, '0001_initial');
 */
export async function migrateThrough(db: AnyKysely, last: string): Promise<void> {
  const names = Object.keys(MIGRATIONS);
  if (!names.includes(last)) throw new Error(`no migration named ${last}`);
  const through = Object.fromEntries(names.slice(0, names.indexOf(last) + 1).map((name) => [name, MIGRATIONS[name]!]));
  await pastDroppedSchemas(async () => {
    const outcome = await (await migrator(db, through)).migrateToLatest();
    if (outcome.error) throw outcome.error;
  });
}

/**
 * Applies every pending migration; the same set for PGlite and PostgreSQL.
 * @example const { applied } = await migrateToLatest(store.db);
 */
export async function migrateToLatest(db: AnyKysely): Promise<MigrationReport> {
  const { results } = await pastDroppedSchemas(async () => {
    const outcome = await (await migrator(db)).migrateToLatest();
    if (outcome.error) throw outcome.error;
    return outcome;
  });
  const applied = (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName);
  if (!applied.includes('0003_identifier_rule')) return { applied };
  const identifierClashes = await new UsersRepo(db).identifierClashes();
  return identifierClashes.length > 0 ? { applied, identifierClashes } : { applied };
}

/** Names of migrations not yet applied. */
export async function pendingMigrations(db: AnyKysely): Promise<string[]> {
  const all = await pastDroppedSchemas(async () => (await migrator(db)).getMigrations());
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/**
 * Kysely's introspector checks `has_schema_privilege` on every schema of the
 * database; a schema dropped by someone else during that scan (another app, or
 * another test suite sharing the database) fails it with 3F000 although nothing
 * of ours is wrong. Such a failure is retried; nothing has been applied by then,
 * since the scan comes before the migration lock.
 */
async function pastDroppedSchemas<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if ((error as { code?: unknown }).code !== '3F000' || attempt >= attempts) throw error;
    }
  }
}
