/**
 * What each CLI command does to the data, as one function per command. The
 * same function runs in the CLI process (direct) and inside a running server
 * (over the control socket), so there is never a second implementation.
 */
import type { Auth } from '../auth.ts';
import type { Store } from '../store/connect.ts';
import { migrateToLatest } from '../store/migrate.ts';
import type { ImportBlacklisted, ImportSession, ImportUser } from '../django/import.ts';
import type { CreateUserInput } from '../users/service.ts';
import type { AsymmetricAlgorithm } from '../tokens/codec.ts';
import type { KeyDirectory } from '../tokens/key-directory.ts';

/** What an operation may use. In a direct run `auth` is built on first use. */
export interface Runtime {
  readonly auth: Auth;
  readonly store: Store;
  /** The key directory; in a server, changes take effect in its key ring at once. */
  readonly keys: KeyDirectory;
}

interface Operation<I, O> {
  /** `current`: the schema must be migrated before running; `any`: the operation is the migration. */
  schema: 'current' | 'any';
  run(runtime: Runtime, input: I): Promise<O>;
}

const operation = <I, O>(op: Operation<I, O>) => op;

/** Every operation by command name. Inputs and outputs are plain JSON. */
export const OPERATIONS = {
  migrate: operation({
    schema: 'any',
    run: async ({ store }, _input: Record<string, never>) => migrateToLatest(store.db),
  }),
  'create-user': operation({
    schema: 'current',
    run: async ({ auth }, input: CreateUserInput) => {
      const user = await auth.createUser(input);
      return { id: user.id, username: user.username };
    },
  }),
  'invalidate-all-tokens': operation({
    schema: 'current',
    run: async ({ auth }, _input: Record<string, never>) => auth.invalidateAllTokens({ source: 'cli' }),
  }),
  'flush-expired-tokens': operation({
    schema: 'current',
    run: async ({ auth }, _input: Record<string, never>) => auth.flushExpiredTokens(),
  }),
  'import-django-users': operation({
    schema: 'current',
    run: async ({ auth }, input: { users: ImportUser[] }) => auth.importUsers(input.users),
  }),
  'import-django-sessions': operation({
    schema: 'current',
    run: async ({ auth }, input: { sessions: ImportSession[] }) => auth.importSessions(input.sessions),
  }),
  'send-password-reset': operation({
    schema: 'current',
    run: async ({ auth }, input: { user: string }) => {
      const who = /^\d+$/.test(input.user) ? Number(input.user) : input.user;
      const user = await auth.sendPasswordReset(who, { source: 'cli' });
      // A command exits right after: send now what can be sent (what cannot stays in the outbox for a server).
      await auth.drainMail(30_000);
      return user;
    },
  }),
  'reset-mfa': operation({
    schema: 'current',
    run: async ({ auth }, input: { user: string }) => {
      const who = /^\d+$/.test(input.user) ? Number(input.user) : input.user;
      const reset = await auth.resetMfa(who, { source: 'cli' });
      // The notice goes now if it can (what cannot stays in the outbox for a server).
      await auth.drainMail(30_000);
      return reset;
    },
  }),
  'import-django-blacklist': operation({
    schema: 'current',
    run: async ({ auth }, input: { tokens: ImportBlacklisted[] }) => auth.importBlacklisted(input.tokens),
  }),
  // Key files need no database: `any` skips the schema check.
  'keys-generate': operation({
    schema: 'any',
    run: async ({ keys }, input: { algorithm: AsymmetricAlgorithm }) => keys.generate(input.algorithm),
  }),
  'keys-rotate': operation({
    schema: 'any',
    run: async ({ keys }, input: { algorithm: AsymmetricAlgorithm }) => keys.rotate(input.algorithm),
  }),
  'keys-list': operation({
    schema: 'any',
    run: async ({ keys }, _input: Record<string, never>) => keys.list(),
  }),
  'keys-retire': operation({
    schema: 'any',
    run: async ({ keys }, input: { kid: string }) => keys.retire(input.kid),
  }),
};

export type OperationName = keyof typeof OPERATIONS;
export type InputOf<N extends OperationName> = Parameters<(typeof OPERATIONS)[N]['run']>[1];
export type OutputOf<N extends OperationName> = Awaited<ReturnType<(typeof OPERATIONS)[N]['run']>>;

export function isOperationName(name: unknown): name is OperationName {
  return typeof name === 'string' && Object.hasOwn(OPERATIONS, name);
}

/**
 * Runs an operation by name with untyped input, as the control socket receives it.
 * @example const output = await runOperation(runtime, 'create-user', { username: 'ann', password: '…' });
 */
export function runOperation(runtime: Runtime, name: OperationName, input: unknown): Promise<unknown> {
  const op = OPERATIONS[name] as Operation<unknown, unknown>;
  return op.run(runtime, input);
}
