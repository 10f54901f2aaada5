import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { PGliteDialect } from './dialects/pglite.ts';
import { PreparingClient } from './prepared.ts';
import { guardUnavailable } from './unavailable.ts';
import type { Database } from './schema.ts';

export type StoreKind = 'pglite' | 'postgres';

/** Something to tell about database notifications: each payload, and every (re)connection. */
export interface NotificationHandler {
  onPayload(payload: string): void;
  /** Called once listening has (re)started: anything sent meanwhile may have been missed. */
  onListening(): void;
  /** Called when the listening connection is lost (it reconnects by itself). */
  onLost?(): void;
}

export interface Store {
  readonly kind: StoreKind;
  readonly db: Kysely<Database>;
  /** The NOTIFY channel this store's instances share (schema-scoped, so test schemas do not cross). */
  readonly channel: string;
  /** Runs `select 1`; throws StoreUnavailableError when the database is out of reach. */
  ping(): Promise<void>;
  /** LISTEN on the store's channel until close(). */
  listen(handler: NotificationHandler): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** PostgreSQL URL; unset means embedded PGlite. */
  databaseUrl?: string | undefined;
  /** Latchkey's data directory (the database lives in its `pgdata/`), or `memory://` for tests. */
  dataDir?: string;
  /** PostgreSQL schema to use instead of `public` (tests give each suite its own). */
  schema?: string;
  /** Called when a background connection fails; the store keeps retrying. */
  onError?: (error: Error) => void;
  /** With `memory://`: start from this image of a database (`PGlite.dumpDataDir()`); tests clone one migrated database. */
  loadDataDir?: Blob;
}

const CHANNEL_PREFIX = 'latchkey_revocations';

/**
 * Opens the embedded database or PostgreSQL behind the same Kysely interface.
 * @example const store = await openStore({ databaseUrl: process.env.DATABASE_URL, dataDir: '.latchkey' });
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options) : openPGlite(options.dataDir ?? 'memory://', options.loadDataDir);
}

async function openPGlite(dataDir: string, loadDataDir?: Blob): Promise<Store> {
  // The database gets a folder of its own beside the dev key, lock and control socket.
  const pglite =
    dataDir === 'memory://' ? await PGlite.create(loadDataDir ? { loadDataDir } : {}) : await PGlite.create(join(dataDir, 'pgdata'));
  const db = new Kysely<Database>({ dialect: guardUnavailable(new PGliteDialect(pglite)) });
  const unlisten: Array<() => Promise<void>> = [];
  return {
    kind: 'pglite',
    db,
    channel: CHANNEL_PREFIX,
    ping: async () => { await sql`select 1`.execute(db); },
    async listen(handler) {
      unlisten.push(await pglite.listen(CHANNEL_PREFIX, (payload) => handler.onPayload(payload)));
      handler.onListening();
    },
    async close() {
      for (const stop of unlisten) await stop().catch(() => {});
      await db.destroy();
    },
  };
}

async function openPostgres(url: string, options: StoreOptions): Promise<Store> {
  const schema = options.schema;
  const connection: pg.ClientConfig = {
    connectionString: url,
    connectionTimeoutMillis: 5000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  };
  const pool = new pg.Pool({ ...connection, max: 10, idleTimeoutMillis: 30_000, Client: PreparingClient });
  // An idle client losing its server must not crash the process; the next query reconnects.
  pool.on('error', (error) => options.onError?.(error));
  // A checked-out client has no pool listener; its query promise carries the failure instead.
  pool.on('connect', (client) => client.on('error', () => {}));
  if (schema) {
    const client = await pool.connect();
    try {
      await client.query(`create schema if not exists "${schema.replaceAll('"', '')}"`);
    } finally {
      client.release();
    }
  }
  const db = new Kysely<Database>({ dialect: guardUnavailable(new PostgresDialect({ pool })) });
  const channel = schema ? `${CHANNEL_PREFIX}_${schema}` : CHANNEL_PREFIX;
  const listener = new Listener(connection, channel, options.onError);
  return {
    kind: 'postgres',
    db,
    channel,
    ping: async () => { await sql`select 1`.execute(db); },
    listen: (handler) => listener.start(handler),
    async close() {
      await listener.stop();
      await db.destroy();
    },
  };
}

/**
 * One dedicated LISTEN connection per store, shared by every handler, that
 * reconnects with backoff for as long as the store is open.
 */
class Listener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #onError: ((error: Error) => void) | undefined;
  readonly #handlers = new Set<NotificationHandler>();
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(config: pg.ClientConfig, channel: string, onError?: (error: Error) => void) {
    this.#config = config;
    this.#channel = channel;
    this.#onError = onError;
  }

  /** Resolves once listening, so the caller knows no later notification is missed. */
  async start(handler: NotificationHandler): Promise<void> {
    this.#handlers.add(handler);
    if (this.#client) {
      handler.onListening();
      return;
    }
    this.#connecting ??= this.#connect(0).finally(() => { this.#connecting = undefined; });
    await this.#connecting;
  }

  async #connect(attempt: number): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client(this.#config);
    client.on('notification', (message) => {
      if (message.channel !== this.#channel || message.payload === undefined) return;
      for (const handler of this.#handlers) handler.onPayload(message.payload);
    });
    client.on('error', (error) => this.#lost(client, error, 0));
    try {
      await client.connect();
      await client.query(`listen "${this.#channel}"`);
    } catch (error) {
      this.#lost(client, error as Error, attempt);
      if (attempt === 0) throw error;
      return;
    }
    if (this.#stopped) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    for (const handler of this.#handlers) handler.onListening();
  }

  #lost(client: pg.Client, error: Error, attempt: number): void {
    client.removeAllListeners('error');
    client.on('error', () => {});
    client.end().catch(() => {});
    if (this.#client === client) this.#client = undefined;
    if (this.#stopped) return;
    for (const handler of this.#handlers) handler.onLost?.();
    this.#onError?.(error);
    if (this.#retry || attempt === 0 && this.#handlers.size === 0) return;
    const delay = Math.min(5000, 250 * 2 ** attempt);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect(attempt + 1).catch(() => {});
    }, delay);
    this.#retry.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await this.#connecting?.catch(() => {});
    await client?.end().catch(() => {});
  }
}
