import type { Store } from '../store/connect.ts';
import type { RevocationFeed } from './sync.ts';

/**
 * Revocations announced by `pg_notify` on the store's channel: a dedicated
 * LISTEN connection on PostgreSQL (it reconnects with backoff and then asks
 * for a resync), in-process delivery on PGlite. The same channel carries the
 * users trigger's `{"users": [ids]}` (migration 0004), for the user cache.
 */
export function storeNotifications(store: Pick<Store, 'listen'>): RevocationFeed {
  return {
    name: 'postgres-notify',
    start: (sink) =>
      store.listen({
        onPayload: (payload) => {
          const ids = sessionIdsOf(payload);
          if (ids.length > 0) sink.revoked(ids);
          const users = userIdsOf(payload);
          if (users === 'all' || users.length > 0) sink.usersChanged?.(users);
        },
        onListening: () => sink.resync(),
        onLost: () => sink.lost?.(),
      }),
  };
}

/** The ids in a notification payload, `{"sessions": [ids]}`; anything malformed names none. */
export function sessionIdsOf(payload: string): string[] {
  try {
    const parsed = JSON.parse(payload) as { sessions?: unknown };
    return Array.isArray(parsed.sessions) ? parsed.sessions.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * The users a payload says changed: `{"users": [ids]}`, or `'all'` for
 * `{"all_users": true}` (the table was truncated). Keys are optional and
 * additive: a payload may carry sessions and users, or neither.
 */
export function userIdsOf(payload: string): number[] | 'all' {
  try {
    const parsed = JSON.parse(payload) as { users?: unknown; all_users?: unknown };
    if (parsed.all_users === true) return 'all';
    return Array.isArray(parsed.users) ? parsed.users.filter((id): id is number => Number.isInteger(id)) : [];
  } catch {
    return [];
  }
}
