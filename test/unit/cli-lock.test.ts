/** The data-directory lock: one holder at a time, stale locks retaken, never someone else's removed. */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LOCK_FILE, tryLock, type DataDirLock } from '../../src/cli/lock.ts';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lk-lock-'));
  dirs.push(dir);
  return dir;
}

function take(dir: string, socket: string | null = null): DataDirLock {
  const attempt = tryLock(dir, { socket, command: 'test' });
  assert.ok(attempt.acquired, 'expected to take the lock');
  return attempt.lock;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  assert.ok(child.pid !== undefined);
  return child.pid;
}

describe('data-directory lock', () => {
  it('records the holder and refuses a second taker while held', () => {
    const dir = freshDir();
    const lock = take(dir, '/tmp/x.sock');
    const content = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as Record<string, unknown>;
    assert.equal(content.pid, process.pid);
    assert.equal(content.socket, '/tmp/x.sock');

    const second = tryLock(dir, { socket: null, command: 'test' });
    assert.equal(second.acquired, false);
    assert.ok(!second.acquired && second.holder.nonce === lock.holder.nonce);
    assert.ok(!second.acquired && second.holder.socket === '/tmp/x.sock');
    lock.release();
  });

  it('release removes the file, is idempotent, and frees the lock', () => {
    const dir = freshDir();
    const lock = take(dir);
    lock.release();
    lock.release();
    assert.equal(existsSync(join(dir, LOCK_FILE)), false);
    take(dir).release();
  });

  it('retakes a stale lock whose process is dead', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: await deadPid(), socket: '/gone.sock', command: 'serve', nonce: 'old' }));
    const lock = take(dir);
    assert.equal(lock.holder.pid, process.pid);
    lock.release();
  });

  it('retakes a lock naming this pid that this process does not hold (a restarted container)', () => {
    const dir = freshDir();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, socket: null, command: 'serve', nonce: 'previous-life' }));
    take(dir).release();
  });

  it('retakes an unreadable lock', () => {
    const dir = freshDir();
    writeFileSync(join(dir, LOCK_FILE), '{not json');
    take(dir).release();
  });

  it('respects a lock held by another live process', () => {
    const dir = freshDir();
    // The parent of this test process is alive for as long as the test runs.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, socket: null, command: 'serve', nonce: 'theirs' }));
    const attempt = tryLock(dir, { socket: null, command: 'test' });
    assert.equal(attempt.acquired, false);
  });

  it('release leaves alone a lock file that is no longer its own', () => {
    const dir = freshDir();
    const lock = take(dir);
    const theirs = JSON.stringify({ pid: process.ppid, socket: null, command: 'serve', nonce: 'theirs' });
    writeFileSync(join(dir, LOCK_FILE), theirs);
    lock.release();
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), theirs);
  });
});
