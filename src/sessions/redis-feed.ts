import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RevocationFeed, RevocationSink } from './sync.ts';

export interface RedisFeedOptions {
  /** The client revocations are published with (the throttle's); a duplicate of it subscribes. */
  client: Redis;
  /** The pub/sub channel every instance of one deployment shares (`revocationChannel`). */
  channel: string;
  onError?: (error: unknown) => void;
}

/** Ids per message: an `invalidate-all` of many sessions goes out in several. */
const IDS_PER_MESSAGE = 1000;

/**
 * The pub/sub channel of a deployment: `REDIS_PREFIX:revocations`, plus the
 * store's schema when it has one of its own (tests), as the NOTIFY channel does.
 * @example revocationChannel('latchkey', 'latchkey_revocations') // 'latchkey:revocations'
 */
export function revocationChannel(prefix: string, storeChannel: string): string {
  const schema = storeChannel.replace(/^latchkey_revocations_?/, '');
  return schema ? `${prefix}:revocations:${schema}` : `${prefix}:revocations`;
}

/** The two halves of the Redis fan-out: what this process revokes goes out, what the others revoke comes in. */
export interface RedisRevocations {
  /** Publishes revocations this process made (`RevocationList.onLocal`); needs no started feed, so one-shot commands publish too. */
  publish(sessionIds: readonly string[], revokedAtMs: number): void;
  /** The subscriber, one more entry in RevocationSync's feeds. */
  feed: RevocationFeed;
}

/**
 * Revocations fanned out through Redis pub/sub, a second path beside
 * PostgreSQL's NOTIFY (which PgBouncer in transaction mode cannot deliver).
 * Each revocation this process makes is published as
 * `{"sessions": [ids], "revoked_at": ISO time, "instance": id}`; each one
 * heard from another instance is applied. A dedicated subscriber connection
 * reconnects by itself (ioredis); every (re)subscription asks for a resync,
 * so what was published while it was away is read from the database.
 */
export function redisRevocations(options: RedisFeedOptions): RedisRevocations {
  const { client, channel, onError } = options;
  const instance = randomUUID();
  // Subscribed again by hand on each `ready`, so that the resync follows the subscription, never precedes it.
  const subscriber = client.duplicate({ lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false });
  let stopped = false;

  const publish = (ids: readonly string[], revokedAtMs: number) => {
    for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) {
      const message = JSON.stringify({ sessions: ids.slice(i, i + IDS_PER_MESSAGE), revoked_at: new Date(revokedAtMs).toISOString(), instance });
      // Not delivered while Redis is away: the others catch up from the database when they resubscribe.
      client.publish(channel, message).catch((error: unknown) => onError?.(error));
    }
  };

  const feed: RevocationFeed = {
    name: 'redis',
    async start(sink: RevocationSink) {
      let subscribed = false;
      let settle: () => void = () => {};
      const first = new Promise<void>((resolve) => (settle = resolve));
      subscriber.on('message', (from: string, message: string) => {
        if (from !== channel) return;
        const heard = parseMessage(message);
        if (heard && heard.sessions.length > 0 && heard.instance !== instance) sink.revoked(heard.sessions, heard.revokedAtMs);
      });
      subscriber.on('ready', () => {
        subscriber.subscribe(channel).then(
          () => {
            subscribed = true;
            sink.resync();
            settle();
          },
          // Usually the connection went away again (`close` follows, and the next `ready` tries again);
          // refused for another reason (an ACL), the feed stays lost and start() does not wait for ever.
          (error: unknown) => {
            sink.lost?.();
            settle();
            onError?.(error);
          },
        );
      });
      subscriber.on('close', () => {
        if (stopped) return;
        subscribed = false;
        sink.lost?.();
        settle();
      });
      subscriber.on('error', (error: unknown) => onError?.(error));
      // Unreachable at start: the feed counts as lost and ioredis keeps reconnecting.
      await subscriber.connect().catch((error: unknown) => {
        if (!subscribed) sink.lost?.();
        onError?.(error);
        settle();
      });
      await first;
    },
    async stop() {
      stopped = true;
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
  return { publish, feed };
}

/** A message's session ids and time; anything malformed is ignored. */
function parseMessage(message: string): { sessions: string[]; revokedAtMs: number | undefined; instance: unknown } | undefined {
  try {
    const parsed = JSON.parse(message) as { sessions?: unknown; revoked_at?: unknown; instance?: unknown };
    if (!Array.isArray(parsed.sessions)) return undefined;
    const sessions = parsed.sessions.filter((id): id is string => typeof id === 'string');
    const at = typeof parsed.revoked_at === 'string' ? Date.parse(parsed.revoked_at) : Number.NaN;
    return { sessions, revokedAtMs: Number.isFinite(at) ? at : undefined, instance: parsed.instance };
  } catch {
    return undefined;
  }
}
