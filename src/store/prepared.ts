/**
 * Named prepared statements for the hottest queries on PostgreSQL. A repo
 * opts a statement in by starting its text with `PREPARED` (a comment, so
 * PGlite and psql read it as plain SQL); pg then parses and plans it once per
 * connection and only binds and executes it afterwards. Opt-in rather than
 * every repeated text: Kysely builds `in (…)` lists of every length, and a
 * statement prepared before a migration could outlive the columns it read.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

/** The marker a statement's text starts with to be prepared. */
export const PREPARED = '/* prepared */ ';

const names = new Map<string, string>();

/** The statement's name: stable for one text (the name is per connection on the server). */
function nameOf(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `lk_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/** A pg Client that runs marked statements as named prepared statements; every other call is pg's own. */
export class PreparingClient extends pg.Client {
  // Kysely calls query(text, values); any other form goes to pg untouched.
  override query(...args: unknown[]): never {
    const [text, values] = args;
    if (args.length === 2 && typeof text === 'string' && text.startsWith(PREPARED) && Array.isArray(values)) {
      return super.query({ name: nameOf(text), text, values }) as never;
    }
    return (super.query as (...rest: unknown[]) => never)(...args);
  }
}
