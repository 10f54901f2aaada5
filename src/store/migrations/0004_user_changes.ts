import { sql, type Kysely } from 'kysely';

/**
 * Every change to a users row is announced on the store's notification
 * channel as `{"users": [ids]}`, in the transaction that makes it: the
 * instances drop those users from their cache of user rows (src/users/cache.ts)
 * when it commits. Being a trigger, it covers every writer alike: this
 * instance, another one, `latchkey` commands on PostgreSQL, and SQL typed by
 * hand. On PGlite the notification is delivered in-process before the writing
 * statement returns.
 *
 * The channel is the one `openStore` listens on: `latchkey_revocations` for
 * tables in `public` (and on PGlite), `latchkey_revocations_<schema>` for a
 * schema given to `openStore`. Statement-level, with transition tables, so a
 * bulk update sends a few messages of up to 500 ids (NOTIFY payloads are
 * capped at 8000 bytes) rather than one per row; identical payloads within a
 * transaction are folded by PostgreSQL. New rows need no message: a user not
 * yet cached is read from the database.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function users_changed_notify() returns trigger language plpgsql as $$
    declare
      channel text := 'latchkey_revocations' || case when tg_table_schema = 'public' then '' else '_' || tg_table_schema end;
      ids integer[];
    begin
      if tg_op = 'TRUNCATE' then
        perform pg_notify(channel, '{"all_users":true}');
        return null;
      end if;
      if tg_op = 'UPDATE' then
        select array_agg(distinct id) into ids from (select id from old_rows union select id from new_rows) changed;
      else
        select array_agg(distinct id) into ids from old_rows;
      end if;
      for i in 1 .. coalesce(array_length(ids, 1), 0) by 500 loop
        perform pg_notify(channel, json_build_object('users', ids[i:i + 499])::text);
      end loop;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger users_changed_update after update on users
    referencing old table as old_rows new table as new_rows
    for each statement execute function users_changed_notify()`.execute(db);
  await sql`
    create trigger users_changed_delete after delete on users
    referencing old table as old_rows
    for each statement execute function users_changed_notify()`.execute(db);
  await sql`create trigger users_changed_truncate after truncate on users for each statement execute function users_changed_notify()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger users_changed_truncate on users`.execute(db);
  await sql`drop trigger users_changed_delete on users`.execute(db);
  await sql`drop trigger users_changed_update on users`.execute(db);
  await sql`drop function users_changed_notify()`.execute(db);
}
