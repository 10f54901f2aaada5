import { bearerToken } from '../authenticate.ts';
import { sendError } from '../errors.ts';
import type { App, RouteContext } from '../types.ts';

/** A heartbeat this often lets a follower tell a quiet feed from a lost one. */
export const FEED_HEARTBEAT_MS = 5000;

/**
 * GET /auth/revocations/: the revocation feed, as Server-Sent Events, for
 * services that verify tokens themselves (latchkey/verify). Authenticated by
 * `Authorization: Bearer <REVOCATION_FEED_TOKEN>`; off (404) without that
 * setting. Each `revoked` event's `id` is its time in milliseconds: a client
 * that reconnects with `Last-Event-ID` (or `?since=`) first gets what it missed.
 */
export function revocationsRoute(app: App, { auth, config }: RouteContext): void {
  const streams = new Set<() => void>();
  // Streams never end by themselves: end them before the server waits for its connections.
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.get(`${config.authBasePath}/revocations/`, { schema: { tags: ['tokens'], summary: 'Revocation feed (Server-Sent Events)', hide: config.revocationFeedToken === undefined } }, async (request, reply) => {
    if (config.revocationFeedToken === undefined) return sendError(reply, 'not_found');
    const token = bearerToken(request);
    if (token === undefined) return sendError(reply, 'not_authenticated');
    if (!auth.revocationFeedAllowed(token)) return sendError(reply, 'permission_denied');
    const query = request.query as { since?: string };
    const cursor = Number(request.headers['last-event-id'] ?? query.since);
    const since = Number.isSafeInteger(cursor) && cursor > 0 ? cursor : undefined;

    const raw = reply.raw;
    let open = true;
    const send = (ids: readonly string[], at: number) => {
      if (open) raw.write(`id: ${at}\nevent: revoked\ndata: ${JSON.stringify({ sessions: ids, revoked_at: new Date(at).toISOString() })}\n\n`);
    };
    // Subscribed before the catch-up is read, so nothing falls between them (a repeat is harmless).
    const pending: Array<[readonly string[], number]> = [];
    let live = false;
    const feed = auth.followRevocations(since, (ids, at) => (live ? send(ids, at) : pending.push([ids, at])));
    let backlog: Array<{ id: string; revoked_at: Date }>;
    try {
      backlog = await feed.backlog;
    } catch (error) {
      feed.stop();
      throw error;
    }
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    raw.write(`retry: 1000\n\n`);
    const byTime = new Map<number, string[]>();
    for (const row of backlog) byTime.set(row.revoked_at.getTime(), [...(byTime.get(row.revoked_at.getTime()) ?? []), row.id]);
    for (const [at, ids] of [...byTime].sort(([a], [b]) => a - b)) {
      for (let i = 0; i < ids.length; i += 500) send(ids.slice(i, i + 500), at);
    }
    for (const [ids, at] of pending) send(ids, at);
    live = true;
    raw.write(`event: ready\ndata: {}\n\n`);
    const heartbeat = setInterval(() => raw.write(`event: heartbeat\ndata: {}\n\n`), FEED_HEARTBEAT_MS);
    const end = () => raw.end();
    streams.add(end);
    raw.once('close', () => {
      open = false;
      clearInterval(heartbeat);
      feed.stop();
      streams.delete(end);
    });
  });
}
