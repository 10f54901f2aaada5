/**
 * The composition root: the one place where Latchkey's parts are built and
 * wired together. `Auth` and the services below it receive what they use;
 * none of them constructs a dependency of its own.
 */
import { Admin } from './admin/service.ts';
import { AuditLog, type AuditLogger } from './audit/log.ts';
import { Auth } from './auth.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { Redis } from 'ioredis';
import { HashGate } from './limits/hashing.ts';
import { Mailer, type SenderOptions } from './mail/outbox.ts';
import { MailTemplates } from './mail/templates.ts';
import { consoleTransport, smtpTransport, type MailLogger, type MailTransport } from './mail/transport.ts';
import { RecoveryService } from './recovery/service.ts';
import { createThrottle, noThrottle, type Throttle } from './limits/throttle.ts';
import { PasskeyService } from './mfa/passkeys.ts';
import { MfaService } from './mfa/service.ts';
import { storeNotifications } from './sessions/feeds.ts';
import { redisRevocations, revocationChannel } from './sessions/redis-feed.ts';
import { RevocationList } from './sessions/revocation.ts';
import { SessionService } from './sessions/service.ts';
import { RevocationSync, type RevocationFeed } from './sessions/sync.ts';
import type { Store } from './store/connect.ts';
import { AccountsRepo } from './store/repos/accounts.ts';
import { AuditRepo } from './store/repos/audit.ts';
import { RememberedDevicesRepo } from './store/repos/devices.ts';
import { ImportsRepo } from './store/repos/imports.ts';
import { MfaRepo } from './store/repos/mfa.ts';
import { PasskeysRepo } from './store/repos/passkeys.ts';
import { OutboxRepo } from './store/repos/outbox.ts';
import { RecoveryRepo } from './store/repos/recovery.ts';
import { SessionsRepo } from './store/repos/sessions.ts';
import { UsersRepo } from './store/repos/users.ts';
import { keyDirectory, KeyRing, loadKeySet } from './tokens/keys.ts';
import { TokenService } from './tokens/service.ts';
import { Passwords } from './users/passwords.ts';
import { UserCache } from './users/cache.ts';
import { tokenSubject } from './users/public.ts';
import { UserService } from './users/service.ts';

export interface AuthDeps {
  /** The database (`openStore`); the caller opens and closes it. */
  store: Store;
  /** The time; tests pass a manual clock. Default: the system clock. */
  clock?: Clock;
  /** Where audit events are also written as JSON lines (the server's pino logger). */
  auditLogger?: AuditLogger;
  /** Background failures: a lost LISTEN connection, a failed reconciliation, a lost audit row. */
  onError?: (error: unknown) => void;
  /**
   * Revocation feeds besides the store's own notifications (PostgreSQL NOTIFY,
   * or PGlite in-process; followed unless REVOCATION_LISTEN=false) and Redis
   * pub/sub (with a Redis client).
   */
  feeds?: readonly RevocationFeed[];
  /**
   * Password hashing and checking. Default: argon2id at Latchkey's cost, Django's
   * formats verified. Either way every hash goes through the hashing gate
   * (PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE).
   */
  passwords?: Passwords;
  /**
   * A Redis client (ioredis) for counters shared by every instance; the caller
   * keeps it. Without it, `REDIS_URL` makes `createAuth` open (and `stop` close)
   * its own; with neither, counters live in process memory.
   */
  redis?: Redis;
  /** Replaces the throttle the settings describe (tests). */
  throttle?: Throttle;
  /** Where EMAIL_BACKEND=console writes each mail (the server's pino logger); default: standard output. */
  mailLogger?: MailLogger;
  /** Replaces the transport EMAIL_BACKEND describes. */
  mailTransport?: MailTransport;
  /** The outbox sender's retry timing (tests make it quick). */
  mailSender?: Partial<SenderOptions>;
}

/** How often each instance re-reads recent revocations, in case a notification was lost. */
const RECONCILE_EVERY_MS = 30_000;

/**
 * Builds the facade and everything under it. Call `start()` on the result
 * before serving, `stop()` when done; the store stays the caller's.
 * @example
 * const config = loadConfig(process.env);
 * const auth = createAuth(config, { store: await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }) });
 * await auth.start();
 */
export function createAuth(config: Config, deps: AuthDeps): Auth {
  const { store } = deps;
  const clock = deps.clock ?? systemClock;
  const onError = deps.onError;
  const resources: Array<{ start(): Promise<void>; stop(): Promise<void> }> = [];

  let redis = deps.redis;
  if (!redis && config.redisUrl) {
    // Commands fail fast while disconnected (the throttle then counts in memory) instead of queueing.
    const owned = new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    owned.on('error', (error) => onError?.(error));
    resources.push({
      start: () => owned.connect().catch((error: unknown) => onError?.(error)),
      stop: async () => {
        await owned.quit().catch(() => owned.disconnect());
      },
    });
    redis = owned;
  }
  const throttle = deps.throttle
    ?? (config.throttle ? createThrottle(config.throttle, redis ? { kind: 'redis', client: redis, prefix: config.redisPrefix } : { kind: 'memory' }) : noThrottle);

  const hashGate = new HashGate({ concurrency: config.passwordHashConcurrency, queue: config.passwordHashQueue });
  // SIGNING_KEY, or key files; re-read when `latchkey keys …` changes the key directory.
  const keys = new KeyRing(() => loadKeySet(config, clock.now()), clock);
  const tokens = new TokenService(keys, config);
  // Used only while the feeds are followed (`sync` below); emptied by every change to a user it hears of.
  // Changes are heard only through the store's notifications: without them (REVOCATION_LISTEN=false), no cache.
  let following = () => false;
  const userCache = new UserCache({ max: config.revocationListen ? config.userCacheSize : 0, usable: () => following() });
  const usersRepo = new UsersRepo(store.db, { changed: (ids) => userCache.invalidate(ids) });
  const sessionsRepo = new SessionsRepo(store.db, store.channel);
  const users = new UserService({ repo: usersRepo, passwords: deps.passwords ?? new Passwords(), gate: hashGate, clock, roles: config.roles, cache: userCache });
  // No access token outlives its revocation by more than lifetime + leeway; one more second is a
  // margin for clocks that differ between instances.
  const revocations = new RevocationList(clock, config.accessTokenLifetime + config.leeway + 1000);
  const mailer = new Mailer({
    repo: new OutboxRepo(store.db),
    templates: new MailTemplates(config.mail.templatesDir),
    transport: deps.mailTransport ?? (config.mail.backend === 'smtp' ? smtpTransport(config.mail) : consoleTransport(config.mail.from, deps.mailLogger)),
    clock,
    ...(deps.mailSender ? { options: deps.mailSender } : {}),
    ...(onError ? { onError } : {}),
  });
  resources.push({ start: async () => mailer.start(), stop: () => mailer.stop() });
  const mfaRepo = new MfaRepo(store.db);
  const mfa = new MfaService({ repo: mfaRepo, devices: new RememberedDevicesRepo(store.db), users, clock, settings: config, mailer });
  const sessions = new SessionService({
    repo: sessionsRepo,
    tokens,
    revocations,
    clock,
    settings: config,
    loadSubject: async (id) => {
      const user = await users.get(id);
      if (!user) return undefined;
      // MFA_REQUIRED_ROLES: tokens stay restricted until the user has a factor (one read, only for such roles).
      const enrolment = (await mfa.enrollmentRequired(user)) ? { mfaEnrollmentRequired: true } : {};
      return { ...tokenSubject(user, await users.accountActive(user)), ...enrolment };
    },
  });
  const audit = new AuditLog({
    repo: new AuditRepo(store.db),
    clock,
    ...(deps.auditLogger ? { logger: deps.auditLogger } : {}),
    ...(onError ? { onError } : {}),
  });
  const recovery = new RecoveryService({
    config,
    clock,
    users: usersRepo,
    recovery: new RecoveryRepo(store.db),
    userService: users,
    mailer,
    audit,
    throttle,
    revocations,
    // Users changed in the transaction leave this instance's cache once it commits (the trigger's notification may come later).
    transaction: async (work) => {
      const changed: number[] = [];
      const result = await store.db.transaction().execute((tx) =>
        work({
          users: new UsersRepo(tx, { changed: (ids) => changed.push(...ids) }),
          recovery: new RecoveryRepo(tx),
          sessions: new SessionsRepo(tx, store.channel),
          audit: new AuditRepo(tx),
          outbox: new OutboxRepo(tx),
          devices: new RememberedDevicesRepo(tx),
        }),
      );
      userCache.invalidate(changed);
      return result;
    },
    ...(onError ? { onError } : {}),
  });
  const admin = new Admin({
    users: usersRepo,
    accounts: new AccountsRepo(store.db),
    audit,
    userService: users,
    sessions,
    clock,
    roles: config.roles,
    addresses: recovery,
    factors: mfaRepo,
  });
  const fanOut = redis ? redisRevocations({ client: redis, channel: revocationChannel(config.redisPrefix, store.channel), ...(onError ? { onError } : {}) }) : undefined;
  // Every revocation this process makes goes out on Redis too, whether or not it follows the feeds (a CLI command does not).
  if (fanOut) revocations.onLocal(fanOut.publish);
  const sync = new RevocationSync(revocations, {
    // Two fan-out paths: NOTIFY from the revoking transaction, and Redis pub/sub where PgBouncer cannot LISTEN.
    feeds: [
      ...(config.revocationListen ? [storeNotifications(store)] : []),
      ...(fanOut ? [fanOut.feed] : []),
      ...(deps.feeds ?? []),
    ],
    loadRevokedSince: (since) => sessionsRepo.revokedSince(since),
    loadCutoffsSince: (since) => sessionsRepo.cutoffsSince(since),
    reconcileEveryMs: RECONCILE_EVERY_MS,
    clock,
    ...(onError ? { onError } : {}),
    usersChanged: (ids) => userCache.invalidate(ids),
  });
  following = () => sync.following();
  return new Auth({
    config,
    clock,
    tokens,
    sessions,
    users,
    admin,
    audit,
    revocations,
    sync,
    imports: new ImportsRepo(store.db),
    keys,
    keyDirectory: keyDirectory(config, clock, () => keys.reload()),
    ping: () => store.ping(),
    ...(onError ? { onError } : {}),
    throttle,
    hashGate,
    userCache,
    resources,
    mfa,
    passkeys: new PasskeyService({ repo: new PasskeysRepo(store.db), mfa, clock, settings: config }),
    recovery,
    mailer,
  });
}
