/**
 * `latchkey`: the server as a library. Build the facade with `createAuth`,
 * mount the HTTP API in your own Fastify app with the `latchkey` plugin, or
 * run it alone with `buildApp`.
 *
 * @example
 * import Fastify from 'fastify';
 * import { createAuth, latchkey, loadConfig, migrateToLatest, openStore } from 'latchkey';
 *
 * const config = loadConfig(process.env);
 * const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
 * await migrateToLatest(store.db);
 * const auth = createAuth(config, { store });
 * await auth.start();
 * const app = Fastify();
 * await app.register(latchkey, { auth, prefix: '/identity' });
 * app.addHook('onClose', async () => { await auth.stop(); await store.close(); });
 */
export { createAuth, type AuthDeps } from './create-auth.ts';
export type { Auth, LoginResult, Principal, RegistrationInput } from './auth.ts';
export { latchkey, type LatchkeyPluginOptions } from './http/plugin.ts';
export { buildApp, type BuildAppOptions } from './http/app.ts';
export { handleClientError, handleFrameworkError } from './http/errors.ts';
export { DEFAULTS, loadConfig, type Config } from './config.ts';
export { openStore, type Store, type StoreOptions } from './store/connect.ts';
export { migrateToLatest, pendingMigrations } from './store/migrate.ts';
export { manualClock, systemClock, type Clock } from './clock.ts';
export type { RevocationFeed, RevocationSink } from './sessions/sync.ts';
export type { AuditLogger } from './audit/log.ts';
export { AuthError, ConfigError, ConflictError, StoreUnavailableError, ValidationError, type AuthErrorCode } from './errors.ts';
export * from './wire.ts';
