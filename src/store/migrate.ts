import { Migrator, type Kysely, type Migration, type MigrationResult } from 'kysely';
import * as initial from './migrations/0001_initial.ts';

/** Append-only and numbered. A new migration is a new file and a new line here. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': initial,
};

export interface MigrationReport {
  applied: string[];
}

/**
 * Applies every pending migration; the same set for PGlite and PostgreSQL.
 * @example const { applied } = await migrateToLatest(db);
 */
export async function migrateToLatest(db: Kysely<unknown>): Promise<MigrationReport> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return { applied: (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName) };
}

/** Names of migrations not yet applied. */
export async function pendingMigrations(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } });
  const all = await migrator.getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}
