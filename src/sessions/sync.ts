import type { Clock } from '../clock.ts';
import type { Store } from '../store/connect.ts';
import type { SessionsRepo } from '../store/repos/sessions.ts';
import type { RevocationList } from './revocation.ts';

export interface RevocationSyncOptions {
  /** Full reconciliation from the database, a safety net under notifications. */
  reconcileEveryMs: number;
  onError?: (error: unknown) => void;
}

/**
 * Keeps a RevocationList current across instances. The instance that revokes
 * adds to its own list at once; the others hear it through NOTIFY on the
 * store's channel (PostgreSQL, or PGlite in-process), reload everything recent
 * whenever listening (re)starts, and reconcile on a timer in case a
 * notification was lost. A further source (Redis pub/sub) would call `apply`.
 */
export class RevocationSync {
  readonly #list: RevocationList;
  readonly #store: Store;
  readonly #repo: SessionsRepo;
  readonly #clock: Clock;
  readonly #options: RevocationSyncOptions;
  #timer: NodeJS.Timeout | undefined;

  constructor(list: RevocationList, store: Store, repo: SessionsRepo, clock: Clock, options: RevocationSyncOptions) {
    this.#list = list;
    this.#store = store;
    this.#repo = repo;
    this.#clock = clock;
    this.#options = options;
  }

  /** Subscribes, then loads recent revocations; resolves once no revocation can be missed. */
  async start(): Promise<void> {
    let started = false;
    await this.#store.listen({
      onPayload: (payload) => this.apply(payload),
      // After a reconnect, catch up on what was said while nobody listened.
      onListening: () => {
        if (started) this.reload().catch((error) => this.#options.onError?.(error));
      },
    });
    await this.reload();
    started = true;
    this.#timer = setInterval(() => {
      this.#list.prune();
      this.reload().catch((error) => this.#options.onError?.(error));
    }, this.#options.reconcileEveryMs);
    this.#timer.unref();
  }

  /** Applies one notification payload: `{"sessions": [ids]}`. Malformed payloads are ignored. */
  apply(payload: string): void {
    try {
      const parsed = JSON.parse(payload) as { sessions?: unknown };
      if (Array.isArray(parsed.sessions)) {
        this.#list.add(parsed.sessions.filter((id): id is string => typeof id === 'string'), this.#clock.now());
      }
    } catch {
      // Not ours to act on.
    }
  }

  /** Re-reads every revocation that could still refuse a token. */
  async reload(): Promise<void> {
    const rows = await this.#repo.revokedSince(new Date(this.#list.horizon));
    for (const row of rows) this.#list.add([row.id], row.revoked_at.getTime());
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
