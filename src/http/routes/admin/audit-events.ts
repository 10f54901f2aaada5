import { Type } from '@sinclair/typebox';
import { ValidationError } from '../../../errors.ts';
import { AUDIT_EVENT_TYPES } from '../../../wire.ts';
import { paginate, pageQuery, QueryText, requireAdmin } from '../../admin.ts';
import type { App, RouteContext } from '../../types.ts';

const AuditQuery = Type.Object({
  ...pageQuery,
  user_id: QueryText('Only events about this user'),
  type: QueryText(`Only events of this type: ${AUDIT_EVENT_TYPES.join(', ')}`),
  since: QueryText('ISO 8601; events at or after'),
  until: QueryText('ISO 8601; events at or before'),
});

/** GET /admin/audit-events/: the audit trail, newest first, filtered by `user_id`, `type`, `since`, `until`. */
export function adminAuditRoutes(app: App, { auth }: RouteContext): void {
  app.get('/admin/audit-events', {
    schema: { querystring: AuditQuery, tags: ['admin'], summary: 'The audit trail, newest first' },
    onRequest: requireAdmin(auth),
    handler: (request, reply) => {
      const filters = auditFilters(request.query);
      return paginate(request, reply, (page) => auth.admin.listAuditEvents({ ...filters, ...page }));
    },
  });
}

/** The filters, parsed; every bad one is reported under its name. An empty value is no filter, as django-filter reads it. */
function auditFilters(query: { user_id?: string; type?: string; since?: string; until?: string }) {
  const problems: Record<string, string[]> = {};
  const filters: { userId?: number; type?: string; since?: Date; until?: Date } = {};
  if (query.user_id) {
    if (/^\s*[+-]?\d+\s*$/.test(query.user_id)) filters.userId = Number(query.user_id);
    else problems.user_id = ['A valid integer is required.'];
  }
  if (query.type) {
    if ((AUDIT_EVENT_TYPES as readonly string[]).includes(query.type)) filters.type = query.type;
    else problems.type = [`Select a valid choice. ${query.type} is not one of the available choices.`];
  }
  for (const bound of ['since', 'until'] as const) {
    const value = query[bound];
    if (!value) continue;
    const at = parseDateTime(value);
    if (at) filters[bound] = at;
    else problems[bound] = ['Enter a valid date/time.'];
  }
  if (Object.keys(problems).length > 0) throw new ValidationError(problems);
  return filters;
}

// Django's parse_datetime, plus a bare date (midnight). A time without an offset is UTC.
// A space before the offset is read as `+`: an unencoded `+` in a query string arrives as a space.
const DATE_TIME =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,6})\d{0,6})?)?\s*(Z|[+\- ]\d{2}(?::?\d{2})?)?)?$/i;

/** The instant an ISO 8601 date/time names, or undefined when it names none (31 February, 25:00…). */
function parseDateTime(text: string): Date | undefined {
  const match = DATE_TIME.exec(text.trim());
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0)) as number[];
  const millis = Math.floor(Number(`0.${match[7] ?? '0'}`) * 1000);
  const at = new Date(0);
  at.setUTCFullYear(year!, month! - 1, day!);
  at.setUTCHours(hour, minute, second, millis);
  const valid = at.getUTCFullYear() === year && at.getUTCMonth() === month! - 1 && at.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!valid || year! < 1) return undefined;
  const zone = match[8];
  if (!zone || zone.toUpperCase() === 'Z') return at;
  const sign = zone[0] === '-' ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const [hours, minutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2) || 0)];
  if (hours > 23 || minutes > 59) return undefined;
  return new Date(at.getTime() - sign * (hours * 60 + minutes) * 60_000);
}
