/**
 * Batcher: calls made in one turn of the event loop go out together, one per
 * key, no more statements at once than allowed; a batch that fails is retried
 * one item at a time, so only the item at fault fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Batcher } from '../../src/store/batch.ts';
import { StoreUnavailableError } from '../../src/errors.ts';

interface Item { key: string; value: number }

function recorder(options: { concurrency?: number; size?: number; fail?: (items: Item[]) => Error | undefined } = {}) {
  const batches: number[][] = [];
  let running = 0;
  let most = 0;
  const batcher = new Batcher<Item, number>({
    key: (item) => item.key,
    concurrency: options.concurrency ?? 2,
    size: options.size ?? 100,
    run: async (items) => {
      batches.push(items.map((item) => item.value));
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running--;
      const error = options.fail?.(items);
      if (error) throw error;
      return items.map((item) => item.value * 10);
    },
  });
  return { batcher, batches, most: () => most };
}

describe('Batcher', () => {
  it('sends the calls of one turn together and answers each in its order', async () => {
    const { batcher, batches } = recorder();
    const answers = await Promise.all([1, 2, 3].map((value) => batcher.submit({ key: `k${value}`, value })));
    assert.deepEqual(answers, [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  it('puts a second call with the same key in a later batch, sent once the first has ended', async () => {
    const { batcher, batches, most } = recorder();
    const answers = await Promise.all([batcher.submit({ key: 'a', value: 1 }), batcher.submit({ key: 'a', value: 2 }), batcher.submit({ key: 'b', value: 3 })]);
    assert.deepEqual(answers, [10, 20, 30]);
    assert.deepEqual(batches, [[1, 3], [2]]);
    assert.equal(most(), 1, 'the two batches of key a never ran at once');
  });

  it('runs no more batches at once than allowed, and no more items in one than its size', async () => {
    const { batcher, batches, most } = recorder({ concurrency: 2, size: 2 });
    await Promise.all(Array.from({ length: 9 }, (_, i) => batcher.submit({ key: `k${i}`, value: i })));
    assert.equal(most(), 2);
    assert.deepEqual(batches.flat().sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(batches.every((batch) => batch.length <= 2));
  });

  it('retries a failed batch item by item: only the item at fault fails', async () => {
    const { batcher, batches } = recorder({ fail: (items) => (items.some((item) => item.value === 2) ? new Error('bad row') : undefined) });
    const settled = await Promise.allSettled([1, 2, 3].map((value) => batcher.submit({ key: `k${value}`, value })));
    assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)), [10, 'bad row', 30]);
    assert.deepEqual(batches, [[1, 2, 3], [1], [2], [3]]);
  });

  it('fails the whole batch at once when the database is out of reach', async () => {
    const { batcher, batches } = recorder({ fail: () => new StoreUnavailableError(new Error('ECONNREFUSED')) });
    const settled = await Promise.allSettled([1, 2].map((value) => batcher.submit({ key: `k${value}`, value })));
    assert.ok(settled.every((s) => s.status === 'rejected' && s.reason instanceof StoreUnavailableError));
    assert.deepEqual(batches, [[1, 2]]);
  });
});
