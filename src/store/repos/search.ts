import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Database } from '../schema.ts';

/** A page of a searchable list. */
export interface ListQuery {
  search?: string;
  offset: number;
  limit: number;
}

/**
 * DRF's SearchFilter: the search is split on spaces and commas, and every term
 * must appear, case-insensitively, in at least one of the columns. No terms: all rows.
 */
export function matchesAllTerms<T extends keyof Database>(
  eb: ExpressionBuilder<Database, T>,
  columns: readonly string[],
  search: string | undefined,
): Expression<SqlBool> {
  // NUL characters are dropped as DRF does (PostgreSQL cannot take them in text).
  const terms = (search ?? '').replaceAll('\u0000', '').split(/[\s,]+/).filter(Boolean);
  return eb.and(
    terms.map((term) => eb.or(columns.map((column) => eb(sql`strpos(lower(${sql.ref(column)}), lower(${term}))`, '>', 0)))),
  );
}
