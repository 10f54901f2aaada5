import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { manualClock } from '../../src/clock.ts';
import { RevocationList } from '../../src/sessions/revocation.ts';
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
