/**
 * Turns "the database cannot be reached" into StoreUnavailableError (HTTP 503)
 * at the driver, so every repository and route gets it without a try/catch.
 */
import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import { StoreUnavailableError } from '../errors.ts';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now), 53300 (too many connections).
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53300)$/;
const UNAVAILABLE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/;

/** True when an error means the database is out of reach rather than the query being wrong. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return UNAVAILABLE_MESSAGE.test(error.message);
}

function translate(error: unknown): never {
  throw isUnavailable(error) ? new StoreUnavailableError(error) : error;
}

class GuardedConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection;
  constructor(inner: DatabaseConnection) {
    this.inner = inner;
  }
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.inner.executeQuery<R>(query).catch(translate);
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

const unwrap = (c: DatabaseConnection) => (c as GuardedConnection).inner;

class GuardedDriver implements Driver {
  readonly #inner: Driver;
  constructor(inner: Driver) {
    this.#inner = inner;
  }
  init() {
    return this.#inner.init().catch(translate);
  }
  async acquireConnection() {
    return new GuardedConnection(await this.#inner.acquireConnection().catch(translate));
  }
  beginTransaction(c: DatabaseConnection, settings: TransactionSettings) {
    return this.#inner.beginTransaction(unwrap(c), settings).catch(translate);
  }
  commitTransaction(c: DatabaseConnection) {
    return this.#inner.commitTransaction(unwrap(c)).catch(translate);
  }
  rollbackTransaction(c: DatabaseConnection) {
    return this.#inner.rollbackTransaction(unwrap(c)).catch(translate);
  }
  releaseConnection(c: DatabaseConnection) {
    return this.#inner.releaseConnection(unwrap(c));
  }
  destroy() {
    return this.#inner.destroy();
  }
}

/** Wraps a dialect so connection failures surface as StoreUnavailableError. */
export function guardUnavailable(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new GuardedDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}
