/**
 * Where a command's operation runs. PostgreSQL is multi-process: connect
 * directly. Embedded PGlite is single-process: if a server holds the data
 * directory, send the operation over its control socket; otherwise take the
 * lock, open the database, run, close, release. `withRuntime` keeps one of
 * these open for a series of operations (an import sent in batches).
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Auth } from '../auth.ts';
import { createAuth } from '../create-auth.ts';
import type { Config } from '../config.ts';
import { openStore, type Store } from '../store/connect.ts';
import { migrateToLatest, pendingMigrations, type MigrationReport } from '../store/migrate.ts';
import { systemClock } from '../clock.ts';
import type { AsymmetricAlgorithm } from '../tokens/codec.ts';
import { keyDirectory, loadOrCreateDevKey } from '../tokens/keys.ts';
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
  return withRuntime(config, name, (run) => run(name, input));
}

/** Runs one operation; `withRuntime` hands it to its callback. */
export type RunOperation = <N extends OperationName>(name: N, input: InputOf<N>) => Promise<OutputOf<N>>;

/**
 * Runs several operations in a row on one open database (or one running
 * server): the lock is taken, the database opened and the schema checked once,
 * not per operation. `command` names the holder in the lock file.
 * @example await withRuntime(config, 'import-django-users', async (run) => { for (const users of batches) await run('import-django-users', { users }); });
 */
export async function withRuntime<T>(config: Config, command: string, work: (run: RunOperation) => Promise<T>): Promise<T> {
  const target = config.databaseUrl ? new Direct(config) : new Embedded(config, ensureDataDir(config), command);
  try {
    return await work((name, input) => target.run(name, input));
  } finally {
    await target.close();
  }
}

interface Target {
  run<N extends OperationName>(name: N, input: InputOf<N>): Promise<OutputOf<N>>;
  close(): Promise<void>;
}

/**
 * The database opened in this process on first use, kept open until close().
 * In embedded mode the caller holds the lock.
 */
class Direct implements Target {
  readonly #config: Config;
  #store: Promise<Store> | undefined;
  #runtime: Runtime | undefined;
  #prepared = false;
  #redis: Redis | undefined;

  constructor(config: Config) {
    this.#config = config;
  }

  async run<N extends OperationName>(name: N, input: InputOf<N>): Promise<OutputOf<N>> {
    const runtime = await this.#open();
    if (OPERATIONS[name].schema === 'current' && !this.#prepared) {
      await prepareSchema(runtime.store);
      this.#prepared = true;
    }
    const run = OPERATIONS[name].run as (runtime: Runtime, input: InputOf<N>) => Promise<OutputOf<N>>;
    return run(runtime, input);
  }

  async #open(): Promise<Runtime> {
    if (this.#runtime) return this.#runtime;
    this.#store ??= openStore({ databaseUrl: this.#config.databaseUrl, dataDir: this.#config.dataDir });
    const store = await this.#store;
    const config = this.#config;
    let auth: Auth | undefined;
    // With REDIS_URL, what a command revokes is published as a server's revocations are (the Redis fan-out).
    const redisOf = () => (config.redisUrl ? { redis: (this.#redis ??= oneShotRedis(config.redisUrl)) } : {});
    this.#runtime = {
      store,
      keys: keyDirectory(config, systemClock),
      // Built on first use, so `migrate` needs no signing key.
      get auth() {
        auth ??= createAuth(withSigningKey(config), { store, ...redisOf() });
        return auth;
      },
    };
    return this.#runtime;
  }

  async close(): Promise<void> {
    const store = await this.#store?.catch(() => undefined);
    await store?.close();
    const redis = this.#redis;
    if (!redis) return;
    // QUIT goes after whatever was published; bounded, for a Redis that is away.
    if (redis.status !== 'wait') await Promise.race([redis.quit().catch(() => {}), sleep(3000)]);
    redis.disconnect();
  }
}

/**
 * A Redis client for one command: it connects on its first command (a publish)
 * and gives up after a few attempts, so an unreachable Redis delays a command
 * by seconds, not for ever (instances then catch up from the database).
 */
function oneShotRedis(url: string): Redis {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: (times) => (times > 2 ? null : 200) });
  redis.on('error', () => {});
  return redis;
}

/**
 * Embedded PGlite: the running server's control socket when a server holds the
 * data directory, else the lock and a Direct target of our own.
 */
class Embedded implements Target {
  readonly #config: Config;
  readonly #dir: string;
  readonly #command: string;
  #lock: DataDirLock | undefined;
  #local: Direct | undefined;
  #server: ServerHeld | undefined;

  constructor(config: Config, dir: string, command: string) {
    this.#config = config;
    this.#dir = dir;
    this.#command = command;
  }

  async run<N extends OperationName>(name: N, input: InputOf<N>): Promise<OutputOf<N>> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      if (this.#local) return this.#local.run(name, input);
      if (!this.#server) {
        const attempt = await waitForLock(this.#dir, { socket: null, command: this.#command }, deadline);
        if (attempt.acquired) {
          this.#lock = attempt.lock;
          this.#local = new Direct(this.#config);
          continue;
        }
        this.#server = attempt.holder;
      }
      try {
        return (await sendToServer(this.#server.socket, name, input)) as OutputOf<N>;
      } catch (error) {
        // The server is starting or just stopped; anything else is the operation's own answer.
        if (!isNotListening(error)) throw error;
        if (Date.now() > deadline) throw new CliError(`${unresponsive(this.#server)}; if no server is running, delete ${this.#dir}/latchkey.lock`);
        this.#server = undefined;
        await sleep(POLL_MS);
      }
    }
  }

  async close(): Promise<void> {
    try {
      await this.#local?.close();
    } finally {
      this.#lock?.release();
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
  if (!config.jwtAlgorithm.startsWith('HS')) {
    // RS256, ES256, EdDSA: in development, a first key is generated into the key directory.
    if (!config.production && config.jwtPrivateKeyFiles.length === 0) {
      const directory = keyDirectory(config, systemClock);
      if (!directory.list().some((key) => key.alg === config.jwtAlgorithm)) directory.generate(config.jwtAlgorithm as AsymmetricAlgorithm);
    }
    return config;
  }
  if (config.signingKey !== undefined) return config;
  return { ...config, signingKey: loadOrCreateDevKey(config.dataDir) };
}

/**
 * Brings the schema up to date where that is automatic (embedded) and refuses
 * where it is not (PostgreSQL, where `latchkey migrate` is a deliberate step).
 */
export async function prepareSchema(store: Store): Promise<MigrationReport> {
  if (store.kind === 'pglite') return migrateToLatest(store.db);
  const pending = await pendingMigrations(store.db);
  if (pending.length > 0) {
    throw new CliError(`the database has ${pending.length} pending migration(s) (${pending.join(', ')}); run \`latchkey migrate\` first`);
  }
  return { applied: [] };
}

function unresponsive(holder: LockHolder): string {
  return `a latchkey server (pid ${holder.pid}) holds the data directory but does not answer on ${holder.socket}`;
}
