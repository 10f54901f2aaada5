/**
 * Where a command's operation runs. PostgreSQL is multi-process: connect
 * directly. Embedded PGlite is single-process: if a server holds the data
 * directory, send the operation over its control socket; otherwise take the
 * lock, open the database, run, close, release.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Auth } from '../auth.ts';
import type { Config } from '../config.ts';
import { openStore, type Store } from '../store/connect.ts';
import { migrateToLatest, pendingMigrations } from '../store/migrate.ts';
import { loadOrCreateDevKey } from '../tokens/keys.ts';
import { isNotListening, sendToServer } from './control.ts';
import { CliError } from './errors.ts';
import { tryLock, type DataDirLock, type LockHolder } from './lock.ts';
import { OPERATIONS, type InputOf, type OperationName, type OutputOf, type Runtime } from './operations.ts';

/** How long a command waits for another one-shot command, or a starting server, to let go. */
export const LOCK_WAIT_MS = 30_000;
const POLL_MS = 100;

/**
 * Runs a command's operation wherever it must run.
 * @example const { applied } = await perform(config, 'migrate', {});
 */
export async function perform<N extends OperationName>(config: Config, name: N, input: InputOf<N>): Promise<OutputOf<N>> {
  if (config.databaseUrl) return direct(config, name, input);
  const dir = ensureDataDir(config);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const attempt = await waitForLock(dir, { socket: null, command: name }, deadline);
    if (attempt.acquired) {
      try {
        return await direct(config, name, input);
      } finally {
        attempt.lock.release();
      }
    }
    try {
      return (await sendToServer(attempt.holder.socket, name, input)) as OutputOf<N>;
    } catch (error) {
      // The server is starting or just stopped; anything else is the operation's own answer.
      if (!isNotListening(error)) throw error;
      if (Date.now() > deadline) throw new CliError(`${unresponsive(attempt.holder)}; if no server is running, delete ${dir}/latchkey.lock`);
      await sleep(POLL_MS);
    }
  }
}

type ServerHeld = LockHolder & { socket: string };

/**
 * Takes the lock on `dir`, waiting while a one-shot command holds it; a server's
 * lock is returned at once (its holder has a socket).
 */
export async function waitForLock(
  dir: string,
  claim: { socket: string | null; command: string },
  deadline: number,
): Promise<{ acquired: true; lock: DataDirLock } | { acquired: false; holder: ServerHeld }> {
  for (;;) {
    const attempt = tryLock(dir, claim);
    if (attempt.acquired) return attempt;
    const { holder } = attempt;
    if (holder.socket !== null) return { acquired: false, holder: { ...holder, socket: holder.socket } };
    if (Date.now() > deadline) {
      throw new CliError(`another latchkey command (${holder.command}, pid ${holder.pid}) is using ${dir}; try again when it finishes`);
    }
    await sleep(POLL_MS);
  }
}

/** Creates the data directory (owner-only when new) and returns its absolute path. */
export function ensureDataDir(config: Config): string {
  const dir = resolve(config.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The config with a signing key: in development without SIGNING_KEY, the one generated into the data directory. */
export function withSigningKey(config: Config): Config {
  if (config.signingKey !== undefined) return config;
  return { ...config, signingKey: loadOrCreateDevKey(config.dataDir) };
}

/**
 * Brings the schema up to date where that is automatic (embedded) and refuses
 * where it is not (PostgreSQL, where `latchkey migrate` is a deliberate step).
 */
export async function prepareSchema(store: Store): Promise<string[]> {
  if (store.kind === 'pglite') return (await migrateToLatest(store.db)).applied;
  const pending = await pendingMigrations(store.db);
  if (pending.length > 0) {
    throw new CliError(`the database has ${pending.length} pending migration(s) (${pending.join(', ')}); run \`latchkey migrate\` first`);
  }
  return [];
}

/** Opens the database in this process and runs the operation. The caller holds the lock in embedded mode. */
async function direct<N extends OperationName>(config: Config, name: N, input: InputOf<N>): Promise<OutputOf<N>> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    if (OPERATIONS[name].schema === 'current') await prepareSchema(store);
    let auth: Auth | undefined;
    const runtime: Runtime = {
      store,
      // Built on first use, so `migrate` needs no signing key.
      get auth() {
        auth ??= new Auth({ config: withSigningKey(config), store });
        return auth;
      },
    };
    const run = OPERATIONS[name].run as (runtime: Runtime, input: InputOf<N>) => Promise<OutputOf<N>>;
    return await run(runtime, input);
  } finally {
    await store.close();
  }
}

function unresponsive(holder: LockHolder): string {
  return `a latchkey server (pid ${holder.pid}) holds the data directory but does not answer on ${holder.socket}`;
}
