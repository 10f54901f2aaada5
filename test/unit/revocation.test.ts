import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { RevocationList } from '../../src/sessions/revocation.ts';
import { RevocationSync, type RevocationSink } from '../../src/sessions/sync.ts';
import { keyId, loadOrCreateDevKey } from '../../src/tokens/keys.ts';

describe('RevocationList', () => {
  it('refuses a revoked session until no access token of it can still be unexpired, then forgets it', () => {
    const clock = manualClock(1_000_000);
    const list = new RevocationList(clock, 60_000);
    list.add(['a', 'b'], clock.now());
    assert.equal(list.isRevoked('a'), true);
    assert.equal(list.isRevoked('c'), false);
    clock.advance(59_999);
    list.prune();
    assert.equal(list.isRevoked('a'), true, 'kept while a token could still be valid');
    clock.advance(1);
    list.prune();
    assert.equal(list.isRevoked('a'), false);
    assert.equal(list.size, 0);
  });

  it('keeps the later of two revocations of one session', () => {
    const clock = manualClock(0);
    const list = new RevocationList(clock, 10_000);
    list.add(['s'], 5_000);
    list.add(['s'], 1_000);
    clock.set(14_999);
    list.prune();
    assert.equal(list.isRevoked('s'), true);
  });

  it('reports its horizon: the oldest revocation still worth loading', () => {
    const clock = manualClock(100_000);
    assert.equal(new RevocationList(clock, 30_000).horizon, 70_000);
  });

  it('tells local listeners every revocation this process makes, even one a feed announced first', () => {
    const clock = manualClock(0);
    const list = new RevocationList(clock, 10_000);
    const heard: string[][] = [];
    const stop = list.onLocal((ids) => heard.push([...ids]));
    list.add(['a'], 0, 'feed');
    list.add(['a', 'b'], 0, 'local');
    stop();
    list.add(['c'], 0, 'local');
    assert.deepEqual(heard, [['a', 'b']]);
  });
});

describe('RevocationSync staleness', () => {
  async function started(feedNames: string[]) {
    const clock = manualClock(1_000_000);
    const sinks = new Map<string, RevocationSink>();
    let reloads = 0;
    const sync = new RevocationSync(new RevocationList(clock, 60_000), {
      feeds: feedNames.map((name) => ({ name, start: async (sink: RevocationSink) => { sinks.set(name, sink); } })),
      loadRevokedSince: async () => {
        reloads += 1;
        return [];
      },
      reconcileEveryMs: 3_600_000,
      clock,
    });
    await sync.start();
    return { clock, sync, sinks, reloads: () => reloads };
  }

  it('is fresh while at least one feed is connected; stale from the loss of the last one', async () => {
    const { clock, sync, sinks } = await started(['postgres-notify', 'redis']);
    try {
      sinks.get('redis')?.lost?.();
      clock.advance(300_000);
      assert.equal(sync.staleFor(), 0, 'NOTIFY still connected');
      sinks.get('postgres-notify')?.lost?.();
      clock.advance(5_000);
      assert.equal(sync.staleFor(), 5_000, 'counted from the last loss, not the first');
      sinks.get('redis')?.resync();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(sync.staleFor(), 0, 'a feed back and caught up');
    } finally {
      await sync.stop();
    }
  });

  it('with no feed at all, counts from the last reload from the database', async () => {
    const { clock, sync } = await started([]);
    try {
      clock.advance(7_000);
      assert.equal(sync.staleFor(), 7_000);
      await sync.reload();
      assert.equal(sync.staleFor(), 0);
    } finally {
      await sync.stop();
    }
  });

  it('a feed that comes back during the first reload is caught up again after it', async () => {
    const clock = manualClock(1_000_000);
    let sink: RevocationSink | undefined;
    let reloads = 0;
    const sync = new RevocationSync(new RevocationList(clock, 60_000), {
      feeds: [{ name: 'redis', start: async (s) => { sink = s; s.lost?.(); } }],
      loadRevokedSince: async () => {
        reloads += 1;
        // The feed reconnects while the first reload is running.
        if (reloads === 1) sink?.resync();
        return [];
      },
      reconcileEveryMs: 3_600_000,
      clock,
    });
    try {
      await sync.start();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reloads, 2);
      assert.equal(sync.staleFor(), 0);
    } finally {
      await sync.stop();
    }
  });
});

describe('development signing key', () => {
  it('is generated once, owner-only, and read back on the next start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lk-key-'));
    try {
      const first = loadOrCreateDevKey(dir);
      assert.ok(Buffer.byteLength(first) >= 32);
      assert.equal(statSync(join(dir, 'signing.key')).mode & 0o777, 0o600);
      assert.equal(loadOrCreateDevKey(dir), first);
      assert.equal(readFileSync(join(dir, 'signing.key'), 'utf8').trim(), first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('replaces a key file too short to be safe', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lk-key-'));
    try {
      writeFileSync(join(dir, 'signing.key'), 'short\n');
      assert.notEqual(loadOrCreateDevKey(dir), 'short');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('derives a kid that is stable for a key and differs between keys', () => {
    assert.equal(keyId('k'.repeat(40)), keyId('k'.repeat(40)));
    assert.notEqual(keyId('k'.repeat(40)), keyId('j'.repeat(40)));
    assert.match(keyId('k'.repeat(40)), /^[A-Za-z0-9_-]{16}$/);
  });
});
