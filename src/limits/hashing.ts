/**
 * Load shedding for password hashing (SPEC §5). argon2id is the one costly
 * thing a request can make the server do; unbounded, a storm of logins fills
 * every core and the event loop stops answering anyone. Hashes run through
 * one gate: at most `concurrency` at once (by default one fewer than the
 * cores, so the event loop keeps one; PASSWORD_HASH_CONCURRENCY), at most
 * `queue` waiting (PASSWORD_HASH_QUEUE); past that a
 * request is refused at once with 503 and `Retry-After`, and a request whose
 * client has gone by the time its turn comes costs no hash. The queueing is
 * p-limit's; this file only decides what to refuse.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { AuthError, OverloadedError } from '../errors.ts';

export interface HashGateSettings {
  /** Hashes running at once. */
  concurrency: number;
  /** Hashes waiting for a turn; one more is refused. */
  queue: number;
}

/** What the gate did, for /metrics and tests. */
export interface HashGateStats {
  running: number;
  waiting: number;
  /** Hashes run to completion or failure. */
  run: number;
  /** Refused because the queue was full (503). */
  shed: number;
  /** Skipped because the client had gone before its turn. */
  abandoned: number;
}

/**
 * The error a hash never started for, because its request was abandoned. It
 * answers 503 to nobody; the metric counts it with the shed ones.
 */
export class ClientGoneError extends AuthError {
  constructor() {
    super('service_unavailable', 'the client went away before its password was checked');
    this.name = 'ClientGoneError';
  }
}

/** True once the request's client has gone (its socket closed): its password need not be checked. */
export type ClientGone = () => boolean;

/**
 * Bounded concurrency and a bounded queue in front of password hashing.
 * @example const ok = await gate.run(() => verify(hash, password), () => socket.destroyed);
 */
export class HashGate {
  readonly #limit: LimitFunction;
  readonly #queue: number;
  #run = 0;
  #shed = 0;
  #abandoned = 0;

  constructor(settings: HashGateSettings) {
    this.#limit = pLimit(settings.concurrency);
    this.#queue = settings.queue;
  }

  /**
   * Runs `work` when a slot is free. Throws OverloadedError at once when the
   * queue is full, ClientGoneError (without running `work`) when the client
   * has gone by the time the slot comes.
   */
  run<T>(work: () => Promise<T>, gone?: ClientGone): Promise<T> {
    if (gone?.()) {
      this.#abandoned += 1;
      return Promise.reject(new ClientGoneError());
    }
    if (this.#limit.activeCount >= this.#limit.concurrency && this.#limit.pendingCount >= this.#queue) {
      this.#shed += 1;
      return Promise.reject(new OverloadedError(1));
    }
    return this.#limit(async () => {
      if (gone?.()) {
        this.#abandoned += 1;
        throw new ClientGoneError();
      }
      this.#run += 1;
      return work();
    });
  }

  /**
   * Refuses at once (OverloadedError) when no hash could start or wait now, so
   * a request that would only be shed later costs no body parsing and no
   * database read. Counted as shed.
   */
  admit(): void {
    if (this.#limit.activeCount >= this.#limit.concurrency && this.#limit.pendingCount >= this.#queue) {
      this.#shed += 1;
      throw new OverloadedError(1);
    }
  }

  stats(): HashGateStats {
    return { running: this.#limit.activeCount, waiting: this.#limit.pendingCount, run: this.#run, shed: this.#shed, abandoned: this.#abandoned };
  }
}
