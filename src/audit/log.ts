import type { Clock } from '../clock.ts';
import type { AuditDetail, AuditEventType } from '../wire.ts';
import type { AuditEventRow, AuditQuery, AuditRepo, NewAuditEvent } from '../store/repos/audit.ts';

export { AUDIT_EVENT_TYPES, type AuditDetail, type AuditEventType } from '../wire.ts';

export interface AuditEvent {
  type: AuditEventType;
  outcome: 'success' | 'failure';
  userId?: number | null;
  sessionId?: string | null;
  client?: { ip: string | null; userAgent: string | null };
  detail?: AuditDetail;
}

/** Where each event is also written as one JSON line (pino's `info`). */
export interface AuditLogger {
  info(object: object, message: string): void;
}

/**
 * Records authentication events: a row in the database and a JSON log line.
 * Writing is best effort: a failed insert is reported to `onError` and never
 * fails the request it describes.
 */
export class AuditLog {
  readonly #repo: AuditRepo;
  readonly #clock: Clock;
  readonly #logger: AuditLogger | undefined;
  readonly #onError: (error: unknown) => void;

  constructor(deps: { repo: AuditRepo; clock: Clock; logger?: AuditLogger; onError?: (error: unknown) => void }) {
    this.#repo = deps.repo;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#onError = deps.onError ?? (() => {});
  }

  /** @example await audit.record({ type: 'logout', outcome: 'success', userId: 7, sessionId, client }); */
  async record(event: AuditEvent): Promise<void> {
    const row = this.row(event);
    this.logged(row);
    try {
      await this.#repo.insert(row);
    } catch (error) {
      this.#onError(error);
    }
  }

  /**
   * Records an event as part of a transaction (`repo` is bound to it): the row
   * exists only if the transaction commits, and a failed insert fails it.
   */
  async recordIn(repo: AuditRepo, event: AuditEvent): Promise<void> {
    const row = this.row(event);
    await repo.insert(row);
    this.logged(row);
  }

  /**
   * The event's row, not yet written nor logged: for a caller that writes it
   * in its own statement (a refresh writes its rotation and its event in one),
   * then calls `logged` once it is written.
   */
  row(event: AuditEvent): NewAuditEvent {
    return {
      type: event.type,
      at: new Date(this.#clock.now()),
      userId: event.userId ?? null,
      sessionId: event.sessionId ?? null,
      ip: event.client?.ip ?? null,
      userAgent: event.client?.userAgent ?? null,
      outcome: event.outcome,
      detail: event.detail ?? {},
    };
  }

  /** Writes the event's JSON log line (the server's pino logger), if any. */
  logged(row: NewAuditEvent): void {
    this.#logger?.info(
      {
        audit: {
          type: row.type,
          at: row.at.toISOString(),
          user_id: row.userId,
          session_id: row.sessionId,
          ip: row.ip,
          user_agent: row.userAgent,
          outcome: row.outcome,
          detail: row.detail,
        },
      },
      `audit ${row.type}`,
    );
  }

  /** One page of the trail, newest first, and how many events match in all. */
  list(query: AuditQuery): Promise<{ count: number; rows: AuditEventRow[] }> {
    return this.#repo.list(query);
  }
}
