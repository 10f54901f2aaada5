import type { Clock } from '../clock.ts';
import type { RevocationList } from './revocation.ts';

/** What a feed tells: sessions revoked elsewhere, and "I may have missed some". */
export interface RevocationSink {
  /** These sessions were revoked (at `revokedAtMs`, or now). */
  revoked(sessionIds: readonly string[], revokedAtMs?: number): void;
  /** The feed (re)connected: anything sent meanwhile may have been missed, so reload from the database. */
  resync(): void;
  /** The feed lost its connection: until it resyncs, revocations may be missed (see `staleFor`). */
  lost?(): void;
  /**
   * These users' rows changed (`'all'`: any may have): the users trigger's
   * `{"users": [ids]}` on the same channel. Optional: a feed that carries only
   * revocations leaves it out.
   */
  usersChanged?(userIds: readonly number[] | 'all'): void;
}

/**
 * A source of revocations made by other instances or processes. Each feed is
 * one more entry in the list `createAuth` hands to RevocationSync; nothing in
 * the token check changes when one is added.
 */
export interface RevocationFeed {
  /** For logs: `postgres-notify`, `redis`, … */
  readonly name: string;
  /** Starts delivering to `sink`; resolves once subscribed. */
  start(sink: RevocationSink): Promise<void>;
  /** Stops delivering. Optional: a feed that lives on the store's connection ends with it. */
  stop?(): Promise<void> | void;
}

export interface RevocationSyncOptions {
  feeds: readonly RevocationFeed[];
  /** Every revocation at or after `since`: the database, the truth under every feed. */
  loadRevokedSince(since: Date): Promise<Array<{ id: string; revoked_at: Date }>>;
  /** Full reconciliation from the database, a safety net under the feeds. */
  reconcileEveryMs: number;
  clock: Clock;
  onError?: (error: unknown) => void;
  /**
   * Hears users whose rows changed, and `'all'` whenever something may have
   * been missed: a feed (re)connecting, and each reconciliation (the user
   * cache empties itself then).
   */
  usersChanged?: (userIds: readonly number[] | 'all') => void;
}

/**
 * Keeps a RevocationList current across instances. The instance that revokes
 * adds to its own list at once (SessionService); the others hear it from the
 * feeds, reload everything recent whenever a feed (re)connects, and reconcile
 * on a timer in case a message was lost.
 */
export class RevocationSync {
  readonly #list: RevocationList;
  readonly #options: RevocationSyncOptions;
  #timer: NodeJS.Timeout | undefined;
  /** Feeds whose connection is lost, by name, and since when. */
  readonly #lost = new Map<string, number>();
  #reloadedAt = 0;
  #running = false;

  constructor(list: RevocationList, options: RevocationSyncOptions) {
    this.#list = list;
    this.#options = options;
  }

  /** Subscribes every feed, then loads recent revocations; resolves once no revocation can be missed. */
  async start(): Promise<void> {
    let started = false;
    // Feeds that (re)connected while the first reload below was running: it may have begun before them.
    const early = new Set<RevocationFeed>();
    const resync = (feed: RevocationFeed) => {
      this.reload().then(() => this.#lost.delete(feed.name), (error) => this.#options.onError?.(error));
    };
    const sinkFor = (feed: RevocationFeed): RevocationSink => ({
      revoked: (ids, at) => this.#list.add(ids, at ?? this.#options.clock.now(), 'feed'),
      usersChanged: (ids) => this.#options.usersChanged?.(ids),
      resync: () => {
        // Changes to users may have gone unheard while the feed was away.
        this.#options.usersChanged?.('all');
        if (started) resync(feed);
        else if (this.#lost.has(feed.name)) early.add(feed);
      },
      lost: () => {
        if (!this.#lost.has(feed.name)) this.#lost.set(feed.name, this.#options.clock.now());
      },
    });
    for (const feed of this.#options.feeds) await feed.start(sinkFor(feed));
    await this.reload();
    started = true;
    this.#running = true;
    for (const feed of early) resync(feed);
    this.#timer = setInterval(() => {
      this.#list.prune();
      this.#options.usersChanged?.('all');
      this.reload().catch((error) => this.#options.onError?.(error));
    }, this.#options.reconcileEveryMs);
    this.#timer.unref();
  }

  /** Re-reads every revocation that could still refuse a token. */
  async reload(): Promise<void> {
    const startedAt = this.#options.clock.now();
    const rows = await this.#options.loadRevokedSince(new Date(this.#list.horizon));
    for (const row of rows) this.#list.add([row.id], row.revoked_at.getTime(), 'feed');
    this.#reloadedAt = startedAt;
  }

  /**
   * How long revocations may have been missed: 0 while at least one feed is
   * connected; else the time since the last of them was lost or, if later,
   * since the last reload from the database (which catches up everything).
   *
   * One connected feed is enough because every revocation is announced on
   * every feed (NOTIFY in the revoking transaction, Redis right after it): an
   * instance cut off from the database but still on Redis goes on hearing the
   * others, and one whose Redis is away still hears NOTIFY and reloads every
   * `reconcileEveryMs`. What a single path can miss (a publish made while the
   * publisher's Redis was away) the periodic reload catches up. With no feed
   * at all, freshness is the last successful reload's.
   */
  staleFor(): number {
    if (this.#options.feeds.some((feed) => !this.#lost.has(feed.name))) return 0;
    const lostAt = this.#lost.size > 0 ? Math.max(...this.#lost.values()) : 0;
    const since = Math.max(lostAt, this.#reloadedAt);
    return Math.max(0, this.#options.clock.now() - since);
  }

  /**
   * True while every feed is connected and has been since its last reload:
   * nothing can have been missed. The user cache is used only then.
   */
  following(): boolean {
    return this.#running && this.#lost.size === 0;
  }

  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const feed of this.#options.feeds) await feed.stop?.();
  }
}
