/**
 * The data-directory lock. PGlite is single-process, so exactly one process
 * (a server, or a one-shot command) may open an embedded data directory. The
 * lock file says who holds it and, for a server, where its control socket is.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'latchkey.lock';

/** The lock file's content. */
export interface LockHolder {
  pid: number;
  /** The holder's control socket: set by `serve`, null for a one-shot command. */
  socket: string | null;
  command: string;
  /** Tells two holders with the same pid apart (a container restarted as pid 1). */
  nonce: string;
}

export interface DataDirLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

export type LockAttempt = { acquired: true; lock: DataDirLock } | { acquired: false; holder: LockHolder };

/** Nonces of the locks this process holds, so its own pid in a lock file is not mistaken for a stale one. */
const held = new Set<string>();

/**
 * Takes the lock on `dir` if it is free or stale (its pid is dead); otherwise says who holds it.
 * @example const attempt = tryLock('/srv/latchkey', { socket: null, command: 'migrate' });
 */
export function tryLock(dir: string, claim: { socket: string | null; command: string }): LockAttempt {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const mine: LockHolder = { pid: process.pid, socket: claim.socket, command: claim.command, nonce: randomBytes(8).toString('hex') };
    if (create(path, mine)) return { acquired: true, lock: new Lock(path, mine) };
    const raw = readRaw(path);
    if (raw === undefined) continue; // released meanwhile: try again
    const holder = parse(raw);
    if (holder && isLive(holder)) return { acquired: false, holder };
    removeStale(path, raw);
  }
  throw new Error(`could not take ${path}: it keeps changing`);
}

/**
 * Creates the lock atomically with its content: a fully written temporary file
 * is hard-linked into place, so no reader ever sees a half-written lock.
 */
function create(path: string, holder: LockHolder): boolean {
  const temporary = `${path}.${holder.pid}.${holder.nonce}`;
  writeFileSync(temporary, JSON.stringify(holder), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(temporary);
  }
}

/**
 * Moves a stale lock aside and deletes it. Moving first makes the check safe:
 * if what was moved is no longer the stale lock we read, someone took the lock
 * in between, and it is linked back.
 */
function removeStale(path: string, staleRaw: string): void {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    if (readRaw(aside) !== staleRaw) linkSync(aside, path);
  } catch {
    // Someone else holds the lock by now; theirs stands.
  } finally {
    unlinkSync(aside);
  }
}

function readRaw(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Unparsable content counts as stale: a lock is never half-written (see create). */
function parse(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder>;
    if (typeof value.pid !== 'number' || typeof value.nonce !== 'string') return undefined;
    return { pid: value.pid, socket: typeof value.socket === 'string' ? value.socket : null, command: String(value.command ?? ''), nonce: value.nonce };
  } catch {
    return undefined;
  }
}

function isLive(holder: LockHolder): boolean {
  if (holder.pid === process.pid) return held.has(holder.nonce);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

class Lock implements DataDirLock {
  readonly path: string;
  readonly holder: LockHolder;
  readonly #content: string;
  // A process that exits without releasing (process.exit, a fatal error) still cleans up.
  readonly #onExit = () => this.release();

  constructor(path: string, holder: LockHolder) {
    this.path = path;
    this.holder = holder;
    this.#content = JSON.stringify(holder);
    held.add(holder.nonce);
    process.on('exit', this.#onExit);
  }

  release(): void {
    if (!held.delete(this.holder.nonce)) return;
    process.off('exit', this.#onExit);
    try {
      if (readRaw(this.path) === this.#content) unlinkSync(this.path);
    } catch {
      // Already gone.
    }
  }
}
