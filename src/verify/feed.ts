/**
 * Following Latchkey's revocation feed (`GET /auth/revocations/`, Server-Sent
 * Events) from another service, so a logout on Latchkey is refused there too.
 * Reconnects by itself and resumes from the last event heard (`Last-Event-ID`);
 * reports itself stale — and the verifier then refuses every token — when it
 * has heard nothing, not even a heartbeat, for longer than `maxStalenessMs`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import { systemClock, type Clock } from '../clock.ts';
import { RevocationList } from '../sessions/revocation.ts';
import type { RevocationView } from './verifier.ts';

export interface FollowRevocationsOptions {
  /** The feed: Latchkey's base URL + AUTH_BASE_PATH + `/revocations/`. */
  url: string | URL;
  /** REVOCATION_FEED_TOKEN. */
  token: string;
  /** Fail closed past this long without a word from the feed. Default 30 s (the server sends a heartbeat every 5 s). */
  maxStalenessMs?: number;
  /** How long a revoked session is remembered: at least ACCESS_TOKEN_LIFETIME + LEEWAY. Default 1 hour. */
  retentionMs?: number;
  /** Told of connection failures (the follower keeps retrying). */
  onError?: (error: unknown) => void;
  clock?: Clock;
}

/** The feed as the verifier consults it; `close()` stops following. */
export interface RevocationFollower extends RevocationView {
  close(): void;
}

/** Why the feed refused us: a wrong token or URL, which retrying will not fix. */
export class FeedRefusedError extends Error {
  override readonly name = 'FeedRefusedError';
}

/** A stream that has been silent this long is dropped and opened again. */
const SILENCE_BEFORE_RECONNECT_MS = 15_000;

/**
 * Connects, catches up, and resolves once the feed is current; rejects when
 * the server refuses the token (401, 403) or has no feed (404).
 * @example
 * const revocations = await followRevocations({ url: 'https://auth.example.com/auth/revocations/', token: process.env.REVOCATION_FEED_TOKEN! });
 * const verifier = createVerifier({ jwksUrl, revocations });
 */
export async function followRevocations(options: FollowRevocationsOptions): Promise<RevocationFollower> {
  const clock = options.clock ?? systemClock;
  const maxStaleness = options.maxStalenessMs ?? 30_000;
  const list = new RevocationList(clock, options.retentionMs ?? 3_600_000);
  let cursor: number | undefined;
  let heardAt = -Infinity;
  /** The last sign of life of the current connection attempt (the watchdog's clock is real time). */
  let activeAt = Date.now();
  let closed = false;
  let connection: AbortController | undefined;
  let settle: { ready(): void; fail(error: unknown): void } = { ready: () => {}, fail: () => {} };
  const ready = new Promise<void>((resolve, reject) => (settle = { ready: resolve, fail: reject }));

  const parser = createParser({
    onEvent(event) {
      heardAt = clock.now();
      activeAt = Date.now();
      if (event.event === 'ready') settle.ready();
      if (event.event !== 'revoked') return;
      const { sessions, revoked_at: at } = JSON.parse(event.data) as { sessions: string[]; revoked_at: string };
      list.add(sessions, Date.parse(at), 'feed');
      const id = Number(event.id);
      if (Number.isSafeInteger(id)) cursor = Math.max(cursor ?? 0, id);
    },
  });

  const watchdog = setInterval(() => {
    list.prune();
    if (Date.now() - activeAt > SILENCE_BEFORE_RECONNECT_MS) connection?.abort();
  }, 1000);
  watchdog.unref();

  const run = async () => {
    let failures = 0;
    while (!closed) {
      connection = new AbortController();
      activeAt = Date.now();
      try {
        const response = await fetch(options.url, {
          headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream', ...(cursor !== undefined ? { 'last-event-id': String(cursor) } : {}) },
          signal: connection.signal,
        });
        if ([401, 403, 404].includes(response.status)) throw new FeedRefusedError(`the revocation feed answered ${response.status}`);
        if (response.status !== 200 || !response.body) throw new Error(`the revocation feed answered ${response.status}`);
        parser.reset();
        failures = 0;
        const decoder = new TextDecoder();
        for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch (error) {
        if (closed) return;
        if (error instanceof FeedRefusedError) settle.fail(error);
        if (!(error instanceof Error && error.name === 'AbortError')) options.onError?.(error);
      }
      failures += 1;
      await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6))).catch(() => {});
    }
  };
  void run();

  const follower: RevocationFollower = {
    isRevoked: (sessionId) => list.isRevoked(sessionId),
    isStale: () => clock.now() - heardAt > maxStaleness,
    close() {
      closed = true;
      clearInterval(watchdog);
      connection?.abort();
    },
  };
  try {
    await ready;
  } catch (error) {
    follower.close();
    throw error;
  }
  return follower;
}
