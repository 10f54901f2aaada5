import type { Clock } from '../clock.ts';

export type RevocationListener = (sessionIds: readonly string[], revokedAtMs: number, origin: 'local' | 'feed') => void;

/**
 * The sessions whose access tokens must be refused, held in memory so that a
 * token check costs a Map lookup and no database round trip.
 *
 * An entry is needed only while an access token of that session can still be
 * unexpired: `retention` (the access lifetime plus leeway) after the revocation.
 * Entries are dropped after that, so the map holds at most one access lifetime
 * of revocations.
 */
export class RevocationList {
  readonly #clock: Clock;
  readonly #retention: number;
  readonly #revoked = new Map<string, number>();
  readonly #listeners = new Set<RevocationListener>();
  readonly #localListeners = new Set<(sessionIds: readonly string[], revokedAtMs: number) => void>();

  constructor(clock: Clock, retentionMs: number) {
    this.#clock = clock;
    this.#retention = retentionMs;
  }

  /** The oldest revocation still worth knowing about. */
  get horizon(): number {
    return this.#clock.now() - this.#retention;
  }

  /**
   * `origin`: `local` when this process revoked them, `feed` when another told it.
   * Listeners hear the ids that were not known yet.
   * @example revocations.add(['0190…'], Date.now())
   */
  add(sessionIds: Iterable<string>, revokedAtMs: number, origin: 'local' | 'feed' = 'local'): void {
    const forgetAt = revokedAtMs + this.#retention;
    const ids = [...sessionIds];
    const added: string[] = [];
    for (const id of ids) {
      const known = this.#revoked.get(id);
      if (known === undefined) added.push(id);
      if ((known ?? 0) < forgetAt) this.#revoked.set(id, forgetAt);
    }
    if (added.length > 0) for (const listener of this.#listeners) listener(added, revokedAtMs, origin);
    if (origin === 'local' && ids.length > 0) for (const listener of this.#localListeners) listener(ids, revokedAtMs);
  }

  /**
   * Hears every revocation this process makes, known or not: the database's
   * own notification may have added the ids before the revoking call returned,
   * and a feed that publishes (Redis) must publish them all the same.
   */
  onLocal(listener: (sessionIds: readonly string[], revokedAtMs: number) => void): () => void {
    this.#localListeners.add(listener);
    return () => this.#localListeners.delete(listener);
  }

  /** Hears every revocation new to this list (the revocation feed's stream); returns the unsubscribe. */
  subscribe(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  isRevoked(sessionId: string): boolean {
    return this.#revoked.has(sessionId);
  }

  get size(): number {
    return this.#revoked.size;
  }

  /** Forgets revocations older than any token they could still refuse. */
  prune(): void {
    const now = this.#clock.now();
    for (const [id, forgetAt] of this.#revoked) if (forgetAt <= now) this.#revoked.delete(id);
  }
}
