import { LRUCache } from 'lru-cache';
import type { UserRow } from '../store/repos/users.ts';

export interface UserCacheStats {
  hits: number;
  misses: number;
  /** Reads sent to the database because the feed was not followed (lost, or not yet started). */
  bypassed: number;
  /** Entries dropped because their user changed (or everything was dropped, counted once). */
  invalidations: number;
  size: number;
}

/**
 * Users rows by id, for the reads on every request (GET /auth/me/, refresh):
 * a bounded LRU (USER_CACHE_SIZE entries, least recently used dropped first).
 *
 * Correct only while changes are heard: every UPDATE, DELETE or TRUNCATE on
 * users notifies `{"users": [ids]}` on the store's channel (a trigger,
 * migration 0004), which RevocationSync hands to `invalidate`; this instance
 * also invalidates right after its own writes (UsersRepo). While the feed is
 * not followed (`usable()` false: lost, or before the first load), every read
 * goes to the database and nothing is stored; when it comes back, everything is
 * dropped, since changes may have been missed meanwhile.
 *
 * A read that was under way while its user changed must not store the old row:
 * each invalidation bumps `#epoch`, and a read stores its row only if the epoch
 * is the one it started with.
 */
export class UserCache {
  readonly #rows: LRUCache<number, UserRow> | undefined;
  readonly #usable: () => boolean;
  #epoch = 0;
  readonly #stats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0 };

  /** `max` 0 turns the cache off (every read goes to the database). */
  constructor(options: { max: number; usable: () => boolean }) {
    this.#rows = options.max > 0 ? new LRUCache<number, UserRow>({ max: options.max }) : undefined;
    this.#usable = options.usable;
  }

  /**
   * The user's row, from the cache or from `load`; a missing user is never cached.
   * @example const row = await cache.get(42, (id) => repo.findById(id));
   */
  async get(id: number, load: (id: number) => Promise<UserRow | undefined>): Promise<UserRow | undefined> {
    const rows = this.#rows;
    if (rows === undefined) return load(id);
    if (!this.#usable()) {
      this.#stats.bypassed += 1;
      return load(id);
    }
    const cached = rows.get(id);
    if (cached !== undefined) {
      this.#stats.hits += 1;
      return cached;
    }
    this.#stats.misses += 1;
    const epoch = this.#epoch;
    const row = await load(id);
    if (row !== undefined && epoch === this.#epoch && this.#usable()) rows.set(id, row);
    return row;
  }

  /** Drops these users (or all): their rows changed, here or elsewhere. */
  invalidate(ids: readonly number[] | 'all'): void {
    this.#epoch += 1;
    const rows = this.#rows;
    if (rows === undefined) return;
    if (ids === 'all') {
      if (rows.size > 0) this.#stats.invalidations += 1;
      rows.clear();
      return;
    }
    for (const id of ids) if (rows.delete(id)) this.#stats.invalidations += 1;
  }

  stats(): UserCacheStats {
    return { ...this.#stats, size: this.#rows?.size ?? 0 };
  }
}
