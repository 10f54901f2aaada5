import type { Command } from 'commander';
import type { Auth } from '../../auth.ts';
import { createAuth } from '../../create-auth.ts';
import { loadConfig, type Config } from '../../config.ts';
import { buildApp } from '../../http/app.ts';
import type { App } from '../../http/types.ts';
import { createLogger, listeningLine } from '../../logging.ts';
import { openStore, type Store } from '../../store/connect.ts';
import { controlSocketPath, startControlServer, type ControlServer } from '../control.ts';
import { CliError, EXIT_STATUS_HELP } from '../errors.ts';
import type { DataDirLock } from '../lock.ts';
import type { Runtime } from '../operations.ts';
import { describeClash } from './migrate.ts';
import { ensureDataDir, LOCK_WAIT_MS, prepareSchema, waitForLock, withSigningKey } from '../runtime.ts';

const HELP = `
Environment:
  HOST, PORT        where to listen (default 127.0.0.1:8000)
  DATA_DIR          embedded database, generated dev signing key, lock and
                    control socket (default ./.latchkey)
  DATABASE_URL      PostgreSQL instead of the embedded database; run
                    \`latchkey migrate\` first, serve refuses pending migrations
  SIGNING_KEY       HS256/384/512 secret, at least 32 bytes; required when
                    NODE_ENV=production, generated into DATA_DIR otherwise
  JWT_ALGORITHM     HS256 (default), HS384, HS512, RS256, ES256 or EdDSA
  JWT_PRIVATE_KEY_FILE
                    PEM private key(s) for RS256/ES256/EdDSA, comma-separated:
                    the first signs, the others verify; unset = the key
                    directory DATA_DIR/keys/ (\`latchkey keys --help\`)
  ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME
                    15m and 7d by default (90s, 15m, 12h, 7d; a bare number is seconds)
  ROTATE_REFRESH_TOKENS, REFRESH_REUSE_GRACE
                    true and 10s by default
  LEEWAY, JWT_ISSUER, JWT_AUDIENCE, USER_ID_CLAIM
                    claims checks and names (0s, unset, unset, user_id)
  AUTH_BASE_PATH    route prefix (default /auth)
  PATH_ALIASES      extra paths for routes, name:/path/ comma-separated, e.g.
                    login:/api/token/both/,refresh:/api/token/access/ (names:
                    login, refresh, verify, logout, logout-all, sessions, me,
                    register, change-password); checked at start
  ACCEPT_SIMPLEJWT_TOKENS
                    cut-over from a Django SimpleJWT service signing with the
                    same SIGNING_KEY (default false): its access tokens work
                    until they expire (unless the user is logged out everywhere
                    or deactivated since), its refresh tokens are exchanged once
                    for a Latchkey session. Turn it off once the old site's
                    REFRESH_TOKEN_LIFETIME has passed since the cut-over: every
                    token it issued has expired by then
  LOGIN_RESPONSE    full (default) or minimal (SimpleJWT's {access, refresh})
  REGISTRATION_ENABLED
                    open sign-up (default true)
  ROLES             allowed roles, the first the default (client,employe,admin)
  BODY_LIMIT        largest request body in bytes (default 65536)
  LOG_LEVEL         fatal, error, warn, info (default), debug, trace, silent
  LOG_FORMAT        auto (default: pretty on a terminal, JSON otherwise), pretty, json
  NODE_ENV          production: SIGNING_KEY required, request lines only at debug
  REDIS_URL         redis://… : throttling counters shared by every instance
                    (unset = counted in this process's memory), and
                    revocations fanned out by pub/sub beside LISTEN/NOTIFY
  REDIS_PREFIX      prefix of Latchkey's Redis keys and channel (default
                    latchkey; revocations on REDIS_PREFIX:revocations)
  TRUST_PROXY       whom to believe about the client IP in X-Forwarded-For:
                    false (default: the socket's address), true, a hop count,
                    or proxy addresses/CIDR ranges, comma-separated
  THROTTLE          on (default) or off (no limits at all, for benchmarks)
  THROTTLE_WINDOW   the window every limit counts in (default 15m)
  THROTTLE_LOGIN_FAILURES
                    failed logins for one identifier from one IP that lock
                    the pair out for the rest of the window (default 5)
  THROTTLE_LOGIN_FAILURES_PER_IP
                    failed logins from one IP per window (default 100)
  THROTTLE_REGISTRATIONS_PER_IP
                    registrations from one IP per window (default 30)
  THROTTLE_REFRESHES_PER_IP
                    refreshes from one IP per window (default 600)
  PASSWORD_HASH_CONCURRENCY, PASSWORD_HASH_QUEUE
                    password hashes at once (default: every core but one)
                    and waiting (default 16 per slot); past both, a login
                    gets 503 with Retry-After at once
  USER_CACHE_SIZE   users rows kept in memory for GET /auth/me/ and refresh,
                    dropped on any change to the user (default 10000, 0 = off;
                    off too with REVOCATION_LISTEN=false, which it needs)
  AUTH_COOKIES (alias ENABLE_JWT_AUTH)
                    cookie mode: httpOnly access/refresh cookies and a CSRF
                    token cookie echoed in X-CSRF-Token (default false)
  COOKIE_SECURE, COOKIE_SAMESITE, COOKIE_DOMAIN, COOKIE_BODY_TOKENS
                    cookie attributes (true, Lax, unset) and whether token
                    strings stay in JSON bodies too (false); SameSite None
                    needs Secure
  CORS_ORIGINS      exact browser origins allowed to call the API, with
                    credentials, comma-separated (default none)
  PUBLIC_URL        base of absolute URLs in responses (paging links);
                    unset = only for localhost requests, else relative
  REVOCATION_FEED_TOKEN
                    bearer token (32+ bytes) for GET AUTH_BASE_PATH/revocations/,
                    the revocation stream other services follow (unset = off)
  REVOCATION_MAX_STALENESS
                    refuse access tokens (503) once every revocation feed
                    (LISTEN, Redis) has been lost this long with no reload
                    from the database since (default 2m, 0 = never)
  REVOCATION_LISTEN follow revocations with PostgreSQL LISTEN (default true;
                    false behind PgBouncer in transaction mode: set REDIS_URL)
  THROTTLE_PASSWORD_RESETS_PER_IP
                    password-reset and verification-mail requests from one IP
                    per window (default 20; past it, 429)
  THROTTLE_PASSWORD_RESETS_PER_ADDRESS
                    such requests for one address per hour (default 3; past
                    it, dropped silently: still 204)
  EMAIL_BACKEND     console (default: each mail, link included, in the log) or smtp
  EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD
                    the SMTP server, Django's names (localhost, 25, none)
  EMAIL_USE_TLS, EMAIL_USE_SSL
                    STARTTLS or implicit TLS (both false by default; not both)
  EMAIL_TIMEOUT     SMTP connection timeout (default 30s)
  DEFAULT_FROM_EMAIL
                    the From address (default webmaster@localhost)
  EMAIL_TEMPLATES_DIR
                    templates replacing the built-in ones, file by file:
                    KIND.LANG.subject.txt, KIND.LANG.txt, KIND.LANG.html
  FRONTEND_URL      base of mailed links (unset = Latchkey's own /account/
                    pages under PUBLIC_URL, or this server's HOST:PORT)
  PASSWORD_RESET_CONFIRM_URL, ACTIVATION_URL
                    link paths with {uid} and {token} (djoser's names;
                    /account/reset/{uid}/{token}, /account/verify-email/{uid}/{token})
  EMAIL_VERIFICATION
                    none (default), optional or mandatory (login refused
                    until the address is verified)
  PASSWORD_RESET_TOKEN_LIFETIME, EMAIL_VERIFICATION_TOKEN_LIFETIME
                    how long mailed links work (1h, 24h)
  DJANGO_SECRET_KEY, PASSWORD_RESET_TIMEOUT
                    the replaced Django site's SECRET_KEY: its reset links
                    keep working within PASSWORD_RESET_TIMEOUT (default 3 days)
  MFA_ISSUER        the issuer authenticator apps show for TOTP (default Latchkey)
  MFA_TOKEN_LIFETIME
                    how long a login's second step may wait (default 5m)
  MFA_ENCRYPTION_KEY
                    key (32+ bytes) sealing TOTP secrets at rest; unset =
                    derived from SIGNING_KEY (HKDF)
  WEBAUTHN_RP_ID    the passkeys' domain (default: PUBLIC_URL's host, else
                    localhost)
  WEBAUTHN_RP_NAME  the name authenticators show (default: MFA_ISSUER)
  WEBAUTHN_ORIGINS  comma-separated origins passkey ceremonies may come from
                    (default: PUBLIC_URL's origin and CORS_ORIGINS, else
                    http://localhost:PORT)
  MFA_REQUIRED_ROLES
                    roles (comma-separated, or all) whose users must enrol
                    a second factor: restricted tokens until then, admin
                    routes only at aal2 (default: none)
  MFA_REMEMBER_DEVICE_DAYS
                    days a device may skip the second step after
                    remember_device (aal1 only; default 0 = off)

In embedded mode the server holds DATA_DIR exclusively; other latchkey commands
run on the same data are sent to it over DATA_DIR/control.sock.
${EXIT_STATUS_HELP}`;

/** `latchkey serve`: the HTTP server, until SIGINT or SIGTERM. */
export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('start the HTTP server (what `npm start` runs)')
    .addHelpText('after', HELP)
    .action(async () => {
      await serve(loadConfig(process.env));
    });
}

async function serve(config: Config): Promise<void> {
  const stop = stopSignal();
  // Until the app's logger exists, log plainly to stderr.
  let logError = (error: unknown, message: string) => console.error(`${message}: ${String(error)}`);
  let logInfo = (message: string) => console.error(message);
  let settle: { ready(runtime: Runtime): void; fail(error: unknown): void } = { ready: () => {}, fail: () => {} };
  const runtime = new Promise<Runtime>((ready, fail) => (settle = { ready, fail }));
  runtime.catch(() => {}); // a startup failure is reported once, below
  let lock: DataDirLock | undefined;
  let control: ControlServer | undefined;
  let store: Store | undefined;
  let auth: Auth | undefined;
  let app: App | undefined;
  try {
    const embedded = !config.databaseUrl;
    if (embedded) {
      const dir = ensureDataDir(config);
      const socket = controlSocketPath(dir);
      const attempt = await waitForLock(dir, { socket, command: 'serve' }, Date.now() + LOCK_WAIT_MS);
      if (!attempt.acquired) {
        throw new CliError(`a latchkey server is already running on ${dir} (pid ${attempt.holder.pid}); stop it before starting another`);
      }
      lock = attempt.lock;
      // Listen before opening the database, so commands sent meanwhile wait for startup instead of failing.
      control = await startControlServer(socket, {
        runtime: () => runtime,
        onCommand: (command) => logInfo(`running \`latchkey ${command}\` from the control socket`),
        onError: (error, command) => logError(error, `control command ${command} failed`),
      });
    }

    store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, onError: (error) => logError(error, 'database connection lost') });
    const { applied, identifierClashes = [] } = await prepareSchema(store);
    // One logger for requests and the audit trail's JSON lines.
    const logger = createLogger(config);
    auth = createAuth(withSigningKey(config), { store, auditLogger: logger, mailLogger: logger, onError: (error) => logError(error, 'background task failed') });
    await auth.start();
    const server = await buildApp({ auth, loggerInstance: logger });
    app = server;
    logError = (error, message) => server.log.error({ err: error }, message);
    logInfo = (message) => server.log.info(message);

    if (applied.length > 0) server.log.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
    for (const clash of identifierClashes) server.log.warn({ identifier_clash: clash }, describeClash(clash));
    if (config.signingKey === undefined && config.jwtAlgorithm.startsWith('HS')) server.log.warn(`signing with the development key in ${config.dataDir}; set SIGNING_KEY in production`);
    // Fastify logs a line per address it listens on: that line is Latchkey's start-up line.
    await server.listen({ host: config.host, port: config.port, listenTextResolver: (url) => listeningLine(url, config, process.env) });
    settle.ready({ auth, store, keys: auth.keyDirectory });

    await stop.requested;
    server.log.info('shutting down');
  } finally {
    // HTTP first, then commands (queued ones are refused, running ones finish), then the database.
    await inOrder([
      () => app?.close(),
      () => settle.fail(new CliError('the server is shutting down')),
      () => control?.close(),
      () => auth?.stop(),
      () => store?.close(),
      () => lock?.release(),
    ]);
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
function stopSignal() {
  let signals = 0;
  let request: () => void = () => {};
  const requested = new Promise<void>((resolve) => (request = resolve));
  const onSignal = () => {
    signals += 1;
    if (signals > 1) process.exit(1);
    request();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { requested };
}

/** Runs every step even if one fails, then throws the first failure. */
async function inOrder(steps: Array<() => unknown>): Promise<void> {
  let first: unknown;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}
