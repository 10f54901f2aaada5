import { ValidationError } from '../errors.ts';

/** The longest `?search=` an admin list takes, in characters. */
export const MAX_SEARCH_LENGTH = 200;
/** The most terms (words split on spaces and commas) a search may hold; each one is a scan of the searched columns. */
export const MAX_SEARCH_TERMS = 10;

/**
 * Refuses a search too long or with too many terms, as a 400 under `search`:
 * each term costs a pass over every searched column, so an unbounded search
 * is a way to stall the database.
 * @example checkSearch('ada lovelace') // ok; checkSearch('a '.repeat(50)) throws
 */
export function checkSearch(search: string | undefined): void {
  if (search === undefined) return;
  const problems: string[] = [];
  if ([...search].length > MAX_SEARCH_LENGTH) problems.push(`Ensure this field has no more than ${MAX_SEARCH_LENGTH} characters.`);
  else if (search.split(/[\s,]+/).filter(Boolean).length > MAX_SEARCH_TERMS) problems.push(`Ensure this search has no more than ${MAX_SEARCH_TERMS} terms.`);
  if (problems.length > 0) throw new ValidationError({ search: problems });
}
