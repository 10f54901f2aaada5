/**
 * Concurrent calls run as one statement: one round trip, one transaction and
 * one commit (on PostgreSQL, one WAL flush) for every call that came in while
 * the previous statements were running. A lone call is sent at the next turn
 * of the event loop, so it waits for nothing but the work already queued.
 */
import { StoreUnavailableError } from '../errors.ts';

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export interface BatchOptions<I, O> {
  /** Runs a batch; the answers in the items' order. */
  run: (items: I[]) => Promise<O[]>;
  /** Items with the same key are never in one batch, nor in two running at once: a later one waits for the next. */
  key: (item: I) => string;
  /** Statements running at once (each holds a connection). */
  concurrency: number;
  /** Items in one statement. */
  size: number;
}

export class Batcher<I, O> {
  readonly #options: BatchOptions<I, O>;
  #queue: Array<Pending<I, O>> = [];
  /** The keys of the batches running. */
  readonly #busy = new Set<string>();
  #running = 0;
  #scheduled = false;

  constructor(options: BatchOptions<I, O>) {
    this.#options = options;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#running >= this.#options.concurrency || this.#queue.length === 0) return;
    this.#scheduled = true;
    // After the loop's I/O: every request whose body arrived in this turn has queued its item by then.
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#running < this.#options.concurrency && this.#queue.length > 0) {
      const batch: Array<Pending<I, O>> = [];
      const keys: string[] = [];
      const waiting: Array<Pending<I, O>> = [];
      for (const pending of this.#queue) {
        const key = this.#options.key(pending.item);
        if (batch.length < this.#options.size && !this.#busy.has(key)) {
          this.#busy.add(key);
          keys.push(key);
          batch.push(pending);
        } else {
          waiting.push(pending);
        }
      }
      this.#queue = waiting;
      // Everything left waits for a key still running: its batch's end schedules the next.
      if (batch.length === 0) return;
      this.#running++;
      void this.#send(batch).finally(() => {
        for (const key of keys) this.#busy.delete(key);
        this.#running--;
        this.#schedule();
      });
    }
  }

  async #send(batch: Array<Pending<I, O>>): Promise<void> {
    let answers: O[];
    try {
      answers = await this.#options.run(batch.map((pending) => pending.item));
    } catch (error) {
      // One item's failure (or a deadlock with another transaction) must not fail the others: each goes alone.
      if (batch.length === 1 || error instanceof StoreUnavailableError) {
        for (const pending of batch) pending.reject(error);
      } else {
        await Promise.all(batch.map((pending) => this.#send([pending])));
      }
      return;
    }
    batch.forEach((pending, i) => pending.resolve(answers[i]!));
  }
}
