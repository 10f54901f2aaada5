import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { COLUMNS } from '../../src/store/schema.ts';
import { migrateToLatest, pendingMigrations } from '../../src/store/migrate.ts';
import { openTestStore, storeNames } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`migrations on ${name}`, () => {
    it('produce exactly the tables and columns the schema types declare (drift fails here)', async () => {
      const store = await openTestStore(name, { fresh: true });
      try {
        const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(store.db);
        const tables = await store.db.introspection.getTables();
        const actual = Object.fromEntries(
          tables.filter((t) => t.schema === rows[0]?.schema && !t.name.startsWith('kysely_')).map((t) => [t.name, t.columns.map((c) => c.name).sort()]),
        );
        const expected = Object.fromEntries(Object.entries(COLUMNS).map(([table, cols]) => [table, Object.keys(cols).sort()]));
        assert.deepEqual(actual, expected);
      } finally {
        await store.drop();
      }
    });

    it('are idempotent: a second run applies nothing and nothing is pending', async () => {
      const store = await openTestStore(name, { fresh: true });
      try {
        assert.deepEqual(await migrateToLatest(store.db), { applied: [] });
        assert.deepEqual(await pendingMigrations(store.db), []);
      } finally {
        await store.drop();
      }
    });
  });
}
