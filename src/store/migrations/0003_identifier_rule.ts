import { sql, type Kysely } from 'kysely';

/**
 * A login identifier names one user: no username may equal another user's
 * email, nor an email another user's username (case-insensitively). The
 * application checks first (to answer with the field and spare a hash); this
 * trigger decides races. Each insert or change of a username or email takes a
 * transaction-scoped advisory lock on both lower-cased values, in a fixed
 * order, so two transactions writing the same identifier queue and the second
 * sees the first's row.
 *
 * Rows that already clash are not touched: the rule applies to writes from
 * now on, and `migrateToLatest` reports the clashing pairs it finds (see
 * UsersRepo.identifierClashes) for an administrator to settle.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function users_identifiers_distinct() returns trigger language plpgsql as $$
    declare
      username_key text := lower(new.username);
      email_key text := lower(new.email);
      check_username boolean := true;
      check_email boolean := true;
    begin
      -- An update checks only what it changes, so a clash found at migration can still be edited away.
      if tg_op = 'UPDATE' then
        check_username := username_key <> lower(old.username);
        check_email := email_key <> lower(old.email);
      end if;
      perform pg_advisory_xact_lock(hashtext('latchkey.identifier:' || least(username_key, coalesce(nullif(email_key, ''), username_key))));
      if email_key <> '' and email_key <> username_key then
        perform pg_advisory_xact_lock(hashtext('latchkey.identifier:' || greatest(username_key, email_key)));
      end if;
      if check_username and exists (select 1 from users where id <> new.id and email <> '' and lower(email) = username_key) then
        raise exception using errcode = 'unique_violation', constraint = 'users_username_not_an_email',
          message = 'duplicate key value violates unique constraint "users_username_not_an_email"';
      end if;
      if check_email and email_key <> '' and exists (select 1 from users where id <> new.id and lower(username) = email_key) then
        raise exception using errcode = 'unique_violation', constraint = 'users_email_not_a_username',
          message = 'duplicate key value violates unique constraint "users_email_not_a_username"';
      end if;
      return new;
    end $$`.execute(db);
  await sql`
    create trigger users_identifiers_distinct before insert or update of username, email on users
    for each row execute function users_identifiers_distinct()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger users_identifiers_distinct on users`.execute(db);
  await sql`drop function users_identifiers_distinct()`.execute(db);
}
