/**
 * What every admin route shares: the admin check, the acting administrator,
 * ids in paths, and DRF's PageNumberPagination.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor, Auth, Page } from '../auth.ts';
import type { Paged } from '../wire.ts';
import { AuthError } from '../errors.ts';
import { negotiateLanguage } from '../i18n/index.ts';
import { authenticate, authenticating, clientInfo, principal } from './authenticate.ts';
import { sendError } from './errors.ts';
import { publicOrigin } from './urls.ts';

/**
 * An onRequest hook (before the body is read, as DRF checks permissions first): 401 without a valid token,
 * 403 `permission_denied` unless an active administrator, 403 `insufficient_aal` below aal2 when MFA_REQUIRED_ROLES names its role.
 */
export function requireAdmin(auth: Auth) {
  const authenticated = authenticate(auth);
  return authenticating(async (request: FastifyRequest): Promise<void> => {
    await authenticated(request);
    await auth.authorizeAdmin(principal(request));
  });
}

// DRF's BooleanField spellings.
const TRUE = new Set(['true', 'True', 'TRUE', 't', 'T', 'yes', 'Yes', 'YES', 'y', 'Y', 'on', 'On', 'ON', '1']);
const FALSE = new Set(['false', 'False', 'FALSE', 'f', 'F', 'no', 'No', 'NO', 'n', 'N', 'off', 'Off', 'OFF', '0']);

/**
 * A pre-validation hook for form bodies, which carry only text: booleans and
 * integers are read from DRF's spellings ("false", "0", "" for a null id) before
 * the schema checks them. A JSON body keeps its types and is left alone.
 */
export function formTypes(fields: { booleans: readonly string[]; nullableIds?: readonly string[] }) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return;
    const body = request.body as Record<string, unknown>;
    for (const field of fields.booleans) {
      const value = body[field];
      if (typeof value === 'string' && (TRUE.has(value) || FALSE.has(value))) body[field] = TRUE.has(value);
    }
    for (const field of fields.nullableIds ?? []) {
      const value = body[field];
      if (value === '' || value === 'null') body[field] = null;
      else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) body[field] = Number(value);
    }
  };
}

/** The administrator behind an admin request, for the audit trail. */
export function actor(request: FastifyRequest): Actor {
  const caller = principal(request);
  return { userId: caller.userId, sessionId: caller.sessionId, client: clientInfo(request), lang: negotiateLanguage(request.headers['accept-language']) };
}

/** A nullable integer id in a body: `null` clears it; a string or a fraction is "A valid integer is required.". */
export const NullableId = Type.Unsafe<number | null>({ type: ['integer', 'null'] });

export const IdParams = Type.Object({ id: Type.String() });

/** An id from the path; anything but digits is 404, as Django's `<int:pk>` route would be. */
export function pathId(raw: string): number {
  if (!/^\d+$/.test(raw)) throw new AuthError('not_found', 'not an id');
  return Number(raw);
}

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
/** More rows than any Latchkey table can hold (ids are 32-bit): a page starting beyond is past the last. */
const MAX_OFFSET = 2_147_483_647;

/** An optional query parameter, read as text (the handler parses it, as DRF's filters do). */
export const QueryText = (description: string) => Type.Optional(Type.String({ description }));

export const pageQuery = {
  page: QueryText('Page number (from 1), or `last`'),
  page_size: QueryText(`Results per page (default ${DEFAULT_PAGE_SIZE}, at most ${MAX_PAGE_SIZE})`),
};

export const SearchQuery = Type.Object({ ...pageQuery, search: QueryText('Terms (split on spaces and commas) that must all appear') });

/** Python's int() on a query value. */
function integer(value: string | undefined): number | undefined {
  return value !== undefined && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : undefined;
}

/**
 * One page of a list, as DRF's PageNumberPagination renders it: `page_size`
 * falls back to 20 when not a positive integer and is capped at 100; a page
 * that is not a number, below 1 or past the last answers 404 "Invalid page.".
 * @example handler: (request, reply) => paginate(request, reply, (w) => auth.admin.listUsers({ ...w }))
 */
export async function paginate<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  load: (window: { offset: number; limit: number }) => Promise<Page<T>>,
): Promise<Paged<T> | FastifyReply> {
  const query = request.query as { page?: string; page_size?: string };
  const requested = integer(query.page_size);
  const size = requested !== undefined && requested > 0 ? Math.min(requested, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
  const raw = query.page === undefined || query.page === '' ? '1' : query.page;
  let page = raw === 'last' ? undefined : integer(raw);
  if (raw !== 'last' && (page === undefined || page < 1)) return invalidPage(reply);
  // Past any table's last page, and too large for the database's OFFSET: no query needed.
  if (page !== undefined && (page - 1) * size > MAX_OFFSET) return invalidPage(reply);

  if (page === undefined) {
    const { count } = await load({ offset: 0, limit: 0 });
    page = lastPage(count, size);
  }
  const { count, rows } = await load({ offset: (page - 1) * size, limit: size });
  const last = lastPage(count, size);
  if (page > last) return invalidPage(reply);
  return {
    count,
    next: page < last ? pageUrl(request, page + 1) : null,
    previous: page > 1 ? pageUrl(request, page - 1) : null,
    results: rows,
  };
}

/** Django's Paginator: an empty list still has page 1. */
function lastPage(count: number, size: number): number {
  return Math.max(1, Math.ceil(count / size));
}

function invalidPage(reply: FastifyReply): FastifyReply {
  return sendError(reply, 'not_found', 'Invalid page.');
}

/** The request's URL with `page` replaced (dropped for page 1), other parameters kept, sorted as DRF writes them. */
function pageUrl(request: FastifyRequest, page: number): string {
  const [path, search = ''] = request.url.split(/\?(.*)/s, 2) as [string, string?];
  const params = new URLSearchParams(search);
  if (page === 1) params.delete('page');
  else params.set('page', String(page));
  params.sort();
  const query = params.toString();
  return `${publicOrigin(request)}${path}${query ? `?${query}` : ''}`;
}
