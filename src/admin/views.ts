import type { AccountRow } from '../store/repos/accounts.ts';
import type { AuditEventRow } from '../store/repos/audit.ts';
import { isoSeconds } from '../users/public.ts';
import type { Account, AuditEvent } from '../wire.ts';

/** An account (tenant) as the admin API shows it. */
export function accountView(row: AccountRow): Account {
  return { id: row.id, name: row.name, is_active: row.is_active, created_at: isoSeconds(row.created_at) };
}

/** One audit event as the admin API shows it. */
export function auditEventView(row: AuditEventRow): AuditEvent {
  return {
    id: Number(row.id),
    type: row.type as AuditEvent['type'],
    at: isoSeconds(row.at),
    user_id: row.user_id,
    session_id: row.session_id,
    ip: row.ip,
    user_agent: row.user_agent,
    outcome: row.outcome as AuditEvent['outcome'],
    detail: row.detail as AuditEvent['detail'],
  };
}
