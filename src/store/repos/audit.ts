import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuditEventsTable, Database } from '../schema.ts';

export type AuditEventRow = Selectable<AuditEventsTable>;

export interface NewAuditEvent {
  type: string;
  at: Date;
  userId: number | null;
  sessionId: string | null;
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  detail: Record<string, unknown>;
}

export interface AuditQuery {
  userId?: number;
  type?: string;
  /** Inclusive bounds on `at`. */
  since?: Date;
  until?: Date;
  offset: number;
  limit: number;
}

/** All SQL about the audit trail. Rows are only ever added. */
export class AuditRepo {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async insert(event: NewAuditEvent): Promise<void> {
    await this.#db
      .insertInto('audit_events')
      .values({
        type: event.type,
        at: event.at,
        user_id: event.userId,
        session_id: event.sessionId,
        ip: event.ip,
        user_agent: event.userAgent,
        outcome: event.outcome,
        detail: JSON.stringify(event.detail),
      })
      .execute();
  }

  /** One page of matching events, newest first, and how many match in all. */
  async list(query: AuditQuery): Promise<{ count: number; rows: AuditEventRow[] }> {
    let filtered = this.#db.selectFrom('audit_events');
    if (query.userId !== undefined) filtered = filtered.where('user_id', '=', query.userId);
    if (query.type !== undefined) filtered = filtered.where('type', '=', query.type);
    if (query.since !== undefined) filtered = filtered.where('at', '>=', query.since);
    if (query.until !== undefined) filtered = filtered.where('at', '<=', query.until);
    const [total, rows] = await Promise.all([
      filtered.select(sql<string>`count(*)`.as('count')).executeTakeFirstOrThrow(),
      filtered.selectAll().orderBy('at', 'desc').orderBy('id', 'desc').offset(query.offset).limit(query.limit).execute(),
    ]);
    return { count: Number(total.count), rows };
  }
}
