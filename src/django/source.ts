/**
 * Where Django users are read from: a `manage.py dumpdata auth.user` JSON file,
 * or the `auth_user` table of the Django site's PostgreSQL database; and, when
 * the site runs SimpleJWT's blacklist app, its outstanding refresh tokens.
 */
import { readFile } from 'node:fs/promises';
import { DjangoUsersReader } from '../store/repos/django-users.ts';

/** One row as the source has it, not yet checked: `{pk, fields}` as dumpdata writes it. */
export interface DjangoRow {
  pk?: unknown;
  fields?: unknown;
}

export interface DjangoSource {
  /** What is read, for messages: the file path, or the URL without its password. */
  readonly label: string;
  /** How many user rows there are. */
  readonly total: number;
  /** The rows in pages of up to `pageSize`, in the source's order (id order for PostgreSQL). */
  pages(pageSize: number): AsyncIterable<DjangoRow[]>;
  /** SimpleJWT's outstanding refresh tokens; undefined when the source has no token tables. */
  readonly tokens: DjangoTokenSource | undefined;
  close(): Promise<void>;
}

export interface DjangoTokenSource {
  /** Every outstanding token, blacklisted ones included. */
  readonly total: number;
  /** The tokens that are not blacklisted, as `{pk, fields}` rows of `token_blacklist.outstandingtoken`. */
  pages(pageSize: number): AsyncIterable<DjangoRow[]>;
  /** The blacklisted ones, in the same shape: never to be exchanged under ACCEPT_SIMPLEJWT_TOKENS. */
  blacklisted(pageSize: number): AsyncIterable<DjangoRow[]>;
}

/** The source cannot be read at all (missing file, not JSON, database unreachable): one line says why. */
export class DjangoSourceError extends Error {
  override readonly name = 'DjangoSourceError';
}

/**
 * Opens a dumpdata JSON file, or a Django PostgreSQL database given as a `postgres://` URL.
 * @example const source = await openDjangoSource('users.json'); // or 'postgres://django@db.internal/site'
 */
export async function openDjangoSource(location: string): Promise<DjangoSource> {
  return /^postgres(ql)?:\/\//i.test(location) ? openDatabase(location) : openDumpFile(location);
}

async function openDumpFile(path: string): Promise<DjangoSource> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DjangoSourceError(`cannot read ${path}: ${fileProblem(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DjangoSourceError(`${path} is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new DjangoSourceError(`${path} is not a dumpdata file: expected a JSON array of objects`);
  // dumpdata may hold other models too (`dumpdata auth`): only users are imported.
  const rows = parsed.filter((entry): entry is DjangoRow => isObject(entry) && entry.model === 'auth.user');
  return {
    label: path,
    total: rows.length,
    pages: (pageSize) => slices(rows, pageSize),
    tokens: dumpedTokens(parsed),
    close: async () => {},
  };
}

/** `dumpdata token_blacklist`'s models in the same file, if the operator dumped them. */
function dumpedTokens(entries: unknown[]): DjangoTokenSource | undefined {
  const ofModel = (model: string) => entries.filter((entry): entry is DjangoRow & { model: string } => isObject(entry) && entry.model === model);
  const outstanding = ofModel('token_blacklist.outstandingtoken');
  const blacklisted = ofModel('token_blacklist.blacklistedtoken');
  if (outstanding.length === 0 && blacklisted.length === 0) return undefined;
  const gone = new Set(blacklisted.map((row) => (isObject(row.fields) ? row.fields.token : undefined)));
  const live = outstanding.filter((row) => !gone.has(row.pk));
  const dead = outstanding.filter((row) => gone.has(row.pk));
  return { total: outstanding.length, pages: (pageSize) => slices(live, pageSize), blacklisted: (pageSize) => slices(dead, pageSize) };
}

async function* slices<T>(rows: T[], pageSize: number): AsyncGenerator<T[]> {
  for (let start = 0; start < rows.length; start += pageSize) yield rows.slice(start, start + pageSize);
}

async function openDatabase(url: string): Promise<DjangoSource> {
  const label = redact(url);
  let reader: DjangoUsersReader;
  try {
    reader = await DjangoUsersReader.connect(url);
  } catch (error) {
    throw new DjangoSourceError(`cannot connect to ${label}: ${(error as Error).message}`);
  }
  try {
    if (!(await reader.hasTable())) throw new DjangoSourceError(`${label} has no auth_user table: is it the Django site's database?`);
    const total = await reader.count();
    const tokens: DjangoTokenSource | undefined = (await reader.hasTokenTables())
      ? {
          total: await reader.countTokens(),
          pages: (pageSize) => keyset(label, 'token_blacklist_outstandingtoken', (after) => reader.tokenPage(after, pageSize)),
          blacklisted: (pageSize) => keyset(label, 'token_blacklist_blacklistedtoken', (after) => reader.tokenPage(after, pageSize, true)),
        }
      : undefined;
    return {
      label,
      total,
      pages: (pageSize) => keyset(label, 'auth_user', (after) => reader.page(after, pageSize)),
      tokens,
      close: () => reader.close(),
    };
  } catch (error) {
    await reader.close();
    if (error instanceof DjangoSourceError) throw error;
    throw new DjangoSourceError(`cannot read auth_user from ${label}: ${(error as Error).message}`);
  }
}

/** Pages read in id order until one comes back empty. */
async function* keyset<T extends { pk: number }>(label: string, table: string, page: (afterId: number) => Promise<T[]>): AsyncGenerator<T[]> {
  let after = 0;
  for (;;) {
    const rows = await page(after).catch((error: unknown) => {
      throw new DjangoSourceError(`reading ${table} from ${label} failed: ${(error as Error).message}`);
    });
    if (rows.length === 0) return;
    yield rows;
    after = rows[rows.length - 1]?.pk ?? after;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The URL as it may be printed: without its password. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the database URL';
  }
}

function fileProblem(error: unknown): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return (error as Error).message;
  }
}
