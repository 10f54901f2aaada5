import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { ConfigError } from './errors.ts';

/**
 * One typed configuration object, parsed from the environment and passed in.
 * Never a module global: tests build many apps with different settings.
 */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  databaseUrl: string | undefined;
  production: boolean;
  /** Undefined in development until the data directory supplies a generated key. */
  signingKey: string | undefined;
  /** The algorithm new tokens are signed with (HS* with SIGNING_KEY; RS256, ES256, EdDSA with a key file). */
  jwtAlgorithm: JwtAlgorithm;
  /** JWT_PRIVATE_KEY_FILE: the first signs, the others (previous keys) only verify. Empty: the key directory. */
  jwtPrivateKeyFiles: string[];
  /** The bearer token of `GET /auth/revocations/`; unset: the feed is off (404). */
  revocationFeedToken: string | undefined;
  /** How long revocations may go unheard (feed lost, database away) before every access token is refused; 0 = never. */
  revocationMaxStaleness: number;
  /** Lifetimes and windows in milliseconds. */
  accessTokenLifetime: number;
  refreshTokenLifetime: number;
  rotateRefreshTokens: boolean;
  refreshReuseGrace: number;
  leeway: number;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  userIdClaim: string;
  authBasePath: string;
  /** PATH_ALIASES: extra paths for named routes, in order; checked against the routes when the plugin registers. */
  pathAliases: PathAlias[];
  /** Honour access and refresh tokens the replaced SimpleJWT service issued (no `sid`), for the cut-over window. */
  acceptSimplejwtTokens: boolean;
  loginResponse: 'full' | 'minimal';
  registrationEnabled: boolean;
  roles: string[];
  bodyLimit: number;
  logLevel: string;
  /** `auto`: pretty lines on a terminal, JSON lines otherwise. */
  logFormat: 'auto' | 'pretty' | 'json';
  /** Rate-limit counters and revocation fan-out shared by every instance; unset = process memory. */
  redisUrl: string | undefined;
  /** Prefix of every key and pub/sub channel Latchkey uses in Redis (two deployments on one Redis set different ones). */
  redisPrefix: string;
  /** Follow revocations with PostgreSQL LISTEN/NOTIFY (off behind PgBouncer in transaction mode, where LISTEN hears nothing). */
  revocationListen: boolean;
  /** Fastify's `trustProxy`: whom to believe about the client's address in `X-Forwarded-For`. */
  trustProxy: boolean | number | string[];
  /** SPEC §5's limits; undefined with THROTTLE=off. */
  throttle: ThrottleConfig | undefined;
  /** Password hashes running at once, and waiting; past both, 503 (load shedding). */
  passwordHashConcurrency: number;
  passwordHashQueue: number;
  /** Users rows kept in memory for GET /auth/me/ and refresh (an LRU); 0 = none. */
  userCacheSize: number;
  /** Cookie mode (SPEC §4): tokens in httpOnly cookies, CSRF header on unsafe cookie requests. */
  authCookies: boolean;
  cookieSecure: boolean;
  cookieSameSite: 'Lax' | 'Strict' | 'None';
  cookieDomain: string | undefined;
  /** In cookie mode, still put the token strings in JSON bodies. */
  cookieBodyTokens: boolean;
  /** Exact origins allowed to call the API from a browser (CORS), credentials included. */
  corsOrigins: string[];
  /** Base of absolute URLs in responses (`https://auth.example.com`), without a trailing slash. */
  publicUrl: string | undefined;
  /** The issuer authenticator apps show beside a TOTP code (SPEC §12). */
  mfaIssuer: string;
  /** How long the second step of a login may wait (ms). */
  mfaTokenLifetime: number;
  /** Seals TOTP secrets at rest (HKDF → AES-256-GCM); unset: derived from SIGNING_KEY. */
  mfaEncryptionKey: string | undefined;
  /** Passkeys (SPEC §12): the relying party's id (a domain), the name authenticators show, the origins ceremonies may come from. */
  webauthnRpId: string;
  webauthnRpName: string;
  webauthnOrigins: string[];
  /** Roles whose users must have a second factor (restricted tokens until enrolment; admin routes at aal2), or `all`. */
  mfaRequiredRoles: string[] | 'all';
  /** How long a remembered device skips the second step (ms); 0: never remembered. */
  mfaRememberDevice: number;
  /** Mail (SPEC §11): how it leaves, with Django's EMAIL_* settings. */
  mail: MailConfig;
  /** Where mailed links point: FRONTEND_URL + PASSWORD_RESET_CONFIRM_URL / ACTIVATION_URL (djoser's names). */
  frontendUrl: string | undefined;
  passwordResetConfirmUrl: string;
  activationUrl: string;
  emailVerification: 'none' | 'optional' | 'mandatory';
  /** Milliseconds. */
  passwordResetTokenLifetime: number;
  emailVerificationTokenLifetime: number;
  /** The replaced Django site's SECRET_KEY: its mailed reset links keep working (Django's PasswordResetTokenGenerator). */
  djangoSecretKey: string | undefined;
  /** Django's PASSWORD_RESET_TIMEOUT, in milliseconds. */
  djangoPasswordResetTimeout: number;
}

/** Django's EMAIL_* settings, under Django's names in the environment. */
export interface MailConfig {
  backend: 'console' | 'smtp';
  host: string;
  port: number;
  user: string;
  password: string;
  useTls: boolean;
  useSsl: boolean;
  /** Milliseconds a connection may take (EMAIL_TIMEOUT). */
  timeout: number;
  from: string;
  /** A directory whose templates replace the built-in ones, file by file. */
  templatesDir: string | undefined;
}

/** One PATH_ALIASES entry: `path` (no trailing slash) answers as the route `name` does. */
export interface PathAlias {
  name: string;
  path: string;
}

/** Throttling limits, each per window and per client IP unless said otherwise. */
export interface ThrottleConfig {
  /** Milliseconds. */
  window: number;
  /** Failed logins for one identifier from one IP that lock the pair out for the rest of the window. */
  loginFailures: number;
  loginFailuresPerIp: number;
  registrationsPerIp: number;
  refreshesPerIp: number;
  /** Password-reset (and verification) requests per IP per window: past it, 429. */
  passwordResetsPerIp: number;
  /** Requests per address per hour: past it, dropped silently. */
  passwordResetsPerAddress: number;
}

type Env = Record<string, string | undefined>;

/** SimpleJWT's HMAC algorithms, and the asymmetric ones Latchkey signs with from key files. */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

const DURATION = /^(\d+)\s*(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses `90s`, `15m`, `60m`, `7d`; a bare number is seconds.
 * @example parseDuration('15m', 'ACCESS_TOKEN_LIFETIME') // 900000
 */
export function parseDuration(value: string, variable: string): number {
  const match = DURATION.exec(value.trim());
  if (!match) throw new ConfigError(variable, `"${value}" is not a duration (use 90s, 15m, 12h, 7d)`);
  const unit = (match[2] ?? 's') as keyof typeof UNIT_MS;
  return Number(match[1]) * UNIT_MS[unit];
}

function parseBoolean(value: string, variable: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(variable, `"${value}" is not a boolean (true or false)`);
}

function parsePort(value: string, variable: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(variable, `"${value}" is not a port number`);
  return n;
}

function parseUrl(value: string, variable: string, protocols: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(variable, 'is not a URL');
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(variable, `must start with ${protocols.join(' or ')}//`);
  return value;
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string, variable: string): T => {
    const v = value.trim() as T;
    if (!choices.includes(v)) throw new ConfigError(variable, `"${value}" is not one of ${choices.join(', ')}`);
    return v;
  };
}

/** Minimum HS256 key length, as RFC 7518 §3.2 asks. */
export const MIN_SIGNING_KEY_BYTES = 32;

/** The environment variables Latchkey reads, their defaults and parsers: the one settings table. */
export const DEFAULTS = {
  HOST: { default: '127.0.0.1', parse: (v: string) => v },
  PORT: { default: '8000', parse: parsePort },
  DATA_DIR: { default: './.latchkey', parse: (v: string) => v },
  DATABASE_URL: { default: undefined, parse: (v: string, k: string) => parseUrl(v, k, ['postgres:', 'postgresql:']) },
  SIGNING_KEY: { default: undefined, parse: (v: string) => v },
  JWT_ALGORITHM: { default: 'HS256', parse: oneOf(JWT_ALGORITHMS) },
  ACCESS_TOKEN_LIFETIME: { default: '15m', parse: parseDuration },
  REFRESH_TOKEN_LIFETIME: { default: '7d', parse: parseDuration },
  ROTATE_REFRESH_TOKENS: { default: 'true', parse: parseBoolean },
  REFRESH_REUSE_GRACE: { default: '10s', parse: parseDuration },
  LEEWAY: { default: '0s', parse: parseDuration },
  JWT_ISSUER: { default: undefined, parse: (v: string) => v },
  JWT_AUDIENCE: { default: undefined, parse: (v: string) => v },
  USER_ID_CLAIM: { default: 'user_id', parse: (v: string) => v },
  AUTH_BASE_PATH: { default: '/auth', parse: parseBasePath },
  PATH_ALIASES: { default: undefined, parse: parsePathAliases },
  ACCEPT_SIMPLEJWT_TOKENS: { default: 'false', parse: parseBoolean },
  LOGIN_RESPONSE: { default: 'full', parse: oneOf(['full', 'minimal'] as const) },
  REGISTRATION_ENABLED: { default: 'true', parse: parseBoolean },
  ROLES: { default: 'client,employe,admin', parse: parseRoles },
  BODY_LIMIT: { default: '65536', parse: parseBodyLimit },
  LOG_LEVEL: { default: 'info', parse: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) },
  LOG_FORMAT: { default: 'auto', parse: oneOf(['auto', 'pretty', 'json'] as const) },
  REDIS_URL: { default: undefined, parse: (v: string, k: string) => parseUrl(v, k, ['redis:', 'rediss:']) },
  TRUST_PROXY: { default: 'false', parse: parseTrustProxy },
  THROTTLE: { default: 'on', parse: parseBoolean },
  THROTTLE_WINDOW: { default: '15m', parse: parseDuration },
  THROTTLE_LOGIN_FAILURES: { default: '5', parse: parseLimit },
  THROTTLE_LOGIN_FAILURES_PER_IP: { default: '100', parse: parseLimit },
  THROTTLE_REGISTRATIONS_PER_IP: { default: '30', parse: parseLimit },
  THROTTLE_REFRESHES_PER_IP: { default: '600', parse: parseLimit },
  PASSWORD_HASH_CONCURRENCY: { default: 'auto', parse: autoOr(parseLimit) },
  PASSWORD_HASH_QUEUE: { default: 'auto', parse: autoOr(parseLimit) },
  USER_CACHE_SIZE: { default: '10000', parse: parseCount },
  JWT_PRIVATE_KEY_FILE: { default: undefined, parse: parsePathList },
  REVOCATION_FEED_TOKEN: { default: undefined, parse: parseFeedToken },
  REVOCATION_MAX_STALENESS: { default: '2m', parse: parseDuration },
  REVOCATION_LISTEN: { default: 'true', parse: parseBoolean },
  REDIS_PREFIX: { default: 'latchkey', parse: parseRedisPrefix },
  AUTH_COOKIES: { default: undefined, parse: parseBoolean },
  ENABLE_JWT_AUTH: { default: undefined, parse: parseBoolean },
  COOKIE_SECURE: { default: 'true', parse: parseBoolean },
  COOKIE_SAMESITE: { default: 'Lax', parse: parseSameSite },
  COOKIE_DOMAIN: { default: undefined, parse: parseCookieDomain },
  COOKIE_BODY_TOKENS: { default: 'false', parse: parseBoolean },
  CORS_ORIGINS: { default: undefined, parse: parseOrigins },
  PUBLIC_URL: { default: undefined, parse: parsePublicUrl },
  MFA_ISSUER: { default: 'Latchkey', parse: (v: string) => v },
  MFA_TOKEN_LIFETIME: { default: '5m', parse: parseDuration },
  MFA_ENCRYPTION_KEY: { default: undefined, parse: parseFeedToken },
  // Unset: PUBLIC_URL's host and origin (plus CORS_ORIGINS), else localhost and http://localhost:PORT for development.
  WEBAUTHN_RP_ID: { default: undefined, parse: parseRpId },
  WEBAUTHN_RP_NAME: { default: undefined, parse: (v: string) => v.trim() },
  WEBAUTHN_ORIGINS: { default: undefined, parse: parseOrigins },
  MFA_REQUIRED_ROLES: { default: undefined, parse: parseRequiredRoles },
  MFA_REMEMBER_DEVICE_DAYS: { default: '0', parse: parseDays },
  THROTTLE_PASSWORD_RESETS_PER_IP: { default: '20', parse: parseLimit },
  THROTTLE_PASSWORD_RESETS_PER_ADDRESS: { default: '3', parse: parseLimit },
  EMAIL_BACKEND: { default: 'console', parse: oneOf(['console', 'smtp'] as const) },
  EMAIL_HOST: { default: 'localhost', parse: (v: string) => v.trim() },
  EMAIL_PORT: { default: '25', parse: parsePort },
  EMAIL_HOST_USER: { default: '', parse: (v: string) => v },
  EMAIL_HOST_PASSWORD: { default: '', parse: (v: string) => v },
  EMAIL_USE_TLS: { default: 'false', parse: parseBoolean },
  EMAIL_USE_SSL: { default: 'false', parse: parseBoolean },
  EMAIL_TIMEOUT: { default: '30s', parse: parseDuration },
  DEFAULT_FROM_EMAIL: { default: 'webmaster@localhost', parse: (v: string) => v.trim() },
  EMAIL_TEMPLATES_DIR: { default: undefined, parse: (v: string) => v },
  FRONTEND_URL: { default: undefined, parse: parsePublicUrl },
  PASSWORD_RESET_CONFIRM_URL: { default: '/account/reset/{uid}/{token}', parse: parseLinkTemplate },
  ACTIVATION_URL: { default: '/account/verify-email/{uid}/{token}', parse: parseLinkTemplate },
  EMAIL_VERIFICATION: { default: 'none', parse: oneOf(['none', 'optional', 'mandatory'] as const) },
  PASSWORD_RESET_TOKEN_LIFETIME: { default: '1h', parse: parseDuration },
  EMAIL_VERIFICATION_TOKEN_LIFETIME: { default: '24h', parse: parseDuration },
  DJANGO_SECRET_KEY: { default: undefined, parse: (v: string) => v },
  PASSWORD_RESET_TIMEOUT: { default: '259200', parse: parseDuration },
} satisfies Record<string, { default: string | undefined; parse: (value: string, variable: string) => unknown }>;

function parseBasePath(value: string, variable: string): string {
  const v = value.trim().replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(v) || v === '') throw new ConfigError(variable, `"${value}" must be a path such as /auth`);
  return v;
}

/**
 * `login:/api/token/both/,refresh:/api/token/access/`: a route name and a path
 * each. Only the form is checked here; whether the name is a route and the path
 * is free is checked against the routes themselves (http/aliases.ts).
 */
function parsePathAliases(value: string, variable: string): PathAlias[] {
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigError(variable, 'names no alias (use name:/path/, comma-separated)');
  return entries.map((entry) => {
    const colon = entry.indexOf(':');
    const name = colon < 0 ? '' : entry.slice(0, colon).trim();
    const path = colon < 0 ? '' : entry.slice(colon + 1).trim();
    if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new ConfigError(variable, `"${entry}" is not name:/path/ (a route name such as login, then a path)`);
    const bare = path.replace(/\/+$/, '');
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(bare)) {
      throw new ConfigError(variable, `"${path}" in "${entry}" is not a path such as /api/token/both/ (letters, digits, . _ ~ - between single slashes)`);
    }
    return { name, path: bare };
  });
}

function parsePathList(value: string, variable: string): string[] {
  const paths = value.split(',').map((p) => p.trim()).filter(Boolean);
  if (paths.length === 0) throw new ConfigError(variable, 'must name a PEM file (a comma-separated list: the first signs, the others verify)');
  return paths;
}

function parseRedisPrefix(value: string, variable: string): string {
  if (!/^[A-Za-z0-9._:-]{1,64}$/.test(value)) throw new ConfigError(variable, `"${value}" must be 1 to 64 letters, digits or . _ : -`);
  return value;
}

function parseFeedToken(value: string, variable: string): string {
  if (Buffer.byteLength(value) < MIN_SIGNING_KEY_BYTES) throw new ConfigError(variable, `must be at least ${MIN_SIGNING_KEY_BYTES} bytes`);
  return value;
}

/** Lax, Strict or None, in any case, written as cookies spell it. */
function parseSameSite(value: string, variable: string): 'Lax' | 'Strict' | 'None' {
  const spelled = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;
  const v = spelled[value.trim().toLowerCase() as keyof typeof spelled];
  if (!v) throw new ConfigError(variable, `"${value}" is not one of Lax, Strict, None`);
  return v;
}

function parseCookieDomain(value: string, variable: string): string {
  const v = value.trim();
  if (!/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(v)) throw new ConfigError(variable, `"${value}" is not a domain name`);
  return v;
}

/** Comma-separated origins, each exactly scheme://host[:port] as a browser sends it in `Origin`. */
function parseOrigins(value: string, variable: string): string[] {
  const origins = value.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(variable, `"${origin}" is not an origin such as https://app.example.com`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(variable, `"${origin}" is not an origin such as https://app.example.com (scheme, host and port only)`);
    }
  }
  return origins;
}

/** A WebAuthn relying party id: a bare domain name (no scheme, port or IP address). */
function parseRpId(value: string, variable: string): string {
  const v = value.trim().toLowerCase();
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(v) || isIP(v) !== 0) throw new ConfigError(variable, `"${value}" is not a domain name such as example.com`);
  return v;
}

/**
 * The passkey relying party. Unset, it is the server's own: PUBLIC_URL's host
 * and origin (and the CORS origins, the front ends that call it), else
 * localhost and http://localhost:PORT, which browsers treat as secure for development.
 */
function relyingParty(env: Env): Pick<Config, 'webauthnRpId' | 'webauthnRpName' | 'webauthnOrigins'> {
  const publicUrl = read(env, 'PUBLIC_URL');
  const rpId = read(env, 'WEBAUTHN_RP_ID') ?? (publicUrl ? new URL(publicUrl).hostname : 'localhost');
  const ownOrigins = publicUrl ? [new URL(publicUrl).origin, ...(read(env, 'CORS_ORIGINS') ?? [])] : [`http://localhost:${required(read(env, 'PORT'))}`];
  return {
    webauthnRpId: rpId,
    webauthnRpName: read(env, 'WEBAUTHN_RP_NAME') || required(read(env, 'MFA_ISSUER')),
    webauthnOrigins: read(env, 'WEBAUTHN_ORIGINS') ?? [...new Set(ownOrigins)],
  };
}

function parsePublicUrl(value: string, variable: string): string {
  const url = parseUrl(value.trim(), variable, ['http:', 'https:']);
  const parsed = new URL(url);
  if (parsed.search || parsed.hash) throw new ConfigError(variable, 'must not carry a query or a fragment');
  return url.replace(/\/+$/, '');
}

/** A link path or URL with `{uid}` and `{token}` (djoser's PASSWORD_RESET_CONFIRM_URL, ACTIVATION_URL). */
function parseLinkTemplate(value: string, variable: string): string {
  const v = value.trim();
  if (!v.includes('{uid}') || !v.includes('{token}')) throw new ConfigError(variable, 'must contain {uid} and {token}');
  return v;
}

function parseRoles(value: string, variable: string): string[] {
  const roles = value.split(',').map((r) => r.trim()).filter(Boolean);
  if (roles.length === 0) throw new ConfigError(variable, 'must name at least one role');
  return roles;
}

/** MFA_REQUIRED_ROLES: `all`, or roles, comma-separated (empty: none). */
function parseRequiredRoles(value: string): string[] | 'all' {
  if (value.trim() === 'all') return 'all';
  return value.split(',').map((r) => r.trim()).filter(Boolean);
}

/** MFA_REMEMBER_DEVICE_DAYS: a whole number of days, at most ten years (0: off). */
function parseDays(value: string, variable: string): number {
  const n = parseCount(value, variable);
  if (n > 3650) throw new ConfigError(variable, `"${value}" is more than 3650 days`);
  return n;
}

/** `auto` (undefined: the caller picks from the machine) or the parser's value. */
function autoOr<T>(parse: (value: string, variable: string) => T) {
  return (value: string, variable: string): T | 'auto' => (value.trim() === 'auto' ? 'auto' : parse(value, variable));
}

function parseCount(value: string, variable: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new ConfigError(variable, `"${value}" is not a whole number`);
  return n;
}

function parseLimit(value: string, variable: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(variable, `"${value}" is not a whole number of at least 1`);
  return n;
}

/**
 * Fastify's `trustProxy`: `false` (the socket's address, X-Forwarded-For ignored),
 * `true` (the left-most address: only behind a proxy that overwrites the header),
 * a hop count, or the proxies' addresses and CIDR ranges, comma-separated.
 */
function parseTrustProxy(value: string, variable: string): boolean | number | string[] {
  const v = value.trim().toLowerCase();
  if (['false', 'off', 'no', '0'].includes(v)) return false;
  if (['true', 'on', 'yes'].includes(v)) return true;
  if (/^\d+$/.test(v)) return Number(v);
  const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const named = ['loopback', 'linklocal', 'uniquelocal'].includes(entry);
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits);
    if (!named && (family === 0 || !prefixOk || extra !== undefined)) {
      throw new ConfigError(variable, `"${entry}" is not true, false, a hop count, or a proxy address or CIDR range`);
    }
  }
  if (entries.length === 0) throw new ConfigError(variable, 'names no proxy');
  return entries;
}

function parseBodyLimit(value: string, variable: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1024) throw new ConfigError(variable, 'must be a whole number of bytes, at least 1024');
  return n;
}

/**
 * Hashing slots: by default every core but one, so the event loop keeps a core
 * under a login storm; the queue: by default 16 waiting per slot.
 */
function hashing(concurrency: number | 'auto' | undefined, queue: number | 'auto' | undefined) {
  const slots = typeof concurrency === 'number' ? concurrency : Math.max(1, availableParallelism() - 1);
  return { passwordHashConcurrency: slots, passwordHashQueue: typeof queue === 'number' ? queue : 16 * slots };
}

type Key = keyof typeof DEFAULTS;

function read<K extends Key>(env: Env, key: K): ReturnType<(typeof DEFAULTS)[K]['parse']> | undefined {
  const spec = DEFAULTS[key];
  const raw = env[key] !== undefined && env[key] !== '' ? env[key] : spec.default;
  if (raw === undefined) return undefined;
  return spec.parse(raw, key) as ReturnType<(typeof DEFAULTS)[K]['parse']>;
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('a DEFAULTS entry with a default parsed to undefined');
  return value;
}

/**
 * Parses and validates the environment. Throws ConfigError naming the first bad variable.
 * @example const config = loadConfig({ ...process.env, PORT: '9000' });
 */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const signingKey = read(env, 'SIGNING_KEY');
  if (signingKey !== undefined && Buffer.byteLength(signingKey) < MIN_SIGNING_KEY_BYTES) {
    throw new ConfigError('SIGNING_KEY', `must be at least ${MIN_SIGNING_KEY_BYTES} bytes for HS256`);
  }
  const jwtAlgorithm = required(read(env, 'JWT_ALGORITHM'));
  // Asymmetric keys are checked when they are read (createAuth): a key file, or the key directory.
  if (production && signingKey === undefined && jwtAlgorithm.startsWith('HS')) {
    throw new ConfigError('SIGNING_KEY', 'is required when NODE_ENV=production');
  }
  const config: Config = {
    host: required(read(env, 'HOST')),
    port: required(read(env, 'PORT')),
    dataDir: required(read(env, 'DATA_DIR')),
    databaseUrl: read(env, 'DATABASE_URL'),
    production,
    signingKey,
    jwtAlgorithm,
    jwtPrivateKeyFiles: read(env, 'JWT_PRIVATE_KEY_FILE') ?? [],
    revocationFeedToken: read(env, 'REVOCATION_FEED_TOKEN'),
    revocationMaxStaleness: required(read(env, 'REVOCATION_MAX_STALENESS')),
    accessTokenLifetime: required(read(env, 'ACCESS_TOKEN_LIFETIME')),
    refreshTokenLifetime: required(read(env, 'REFRESH_TOKEN_LIFETIME')),
    rotateRefreshTokens: required(read(env, 'ROTATE_REFRESH_TOKENS')),
    refreshReuseGrace: required(read(env, 'REFRESH_REUSE_GRACE')),
    leeway: required(read(env, 'LEEWAY')),
    jwtIssuer: read(env, 'JWT_ISSUER'),
    jwtAudience: read(env, 'JWT_AUDIENCE'),
    userIdClaim: required(read(env, 'USER_ID_CLAIM')),
    authBasePath: required(read(env, 'AUTH_BASE_PATH')),
    pathAliases: read(env, 'PATH_ALIASES') ?? [],
    acceptSimplejwtTokens: required(read(env, 'ACCEPT_SIMPLEJWT_TOKENS')),
    loginResponse: required(read(env, 'LOGIN_RESPONSE')),
    registrationEnabled: required(read(env, 'REGISTRATION_ENABLED')),
    roles: required(read(env, 'ROLES')),
    bodyLimit: required(read(env, 'BODY_LIMIT')),
    logLevel: required(read(env, 'LOG_LEVEL')),
    logFormat: required(read(env, 'LOG_FORMAT')),
    redisUrl: read(env, 'REDIS_URL'),
    redisPrefix: required(read(env, 'REDIS_PREFIX')),
    revocationListen: required(read(env, 'REVOCATION_LISTEN')),
    trustProxy: required(read(env, 'TRUST_PROXY')),
    throttle: required(read(env, 'THROTTLE'))
      ? {
          window: required(read(env, 'THROTTLE_WINDOW')),
          loginFailures: required(read(env, 'THROTTLE_LOGIN_FAILURES')),
          loginFailuresPerIp: required(read(env, 'THROTTLE_LOGIN_FAILURES_PER_IP')),
          registrationsPerIp: required(read(env, 'THROTTLE_REGISTRATIONS_PER_IP')),
          refreshesPerIp: required(read(env, 'THROTTLE_REFRESHES_PER_IP')),
          passwordResetsPerIp: required(read(env, 'THROTTLE_PASSWORD_RESETS_PER_IP')),
          passwordResetsPerAddress: required(read(env, 'THROTTLE_PASSWORD_RESETS_PER_ADDRESS')),
        }
      : undefined,
    ...hashing(read(env, 'PASSWORD_HASH_CONCURRENCY'), read(env, 'PASSWORD_HASH_QUEUE')),
    userCacheSize: required(read(env, 'USER_CACHE_SIZE')),
    // ENABLE_JWT_AUTH is the name the replaced Django site used; AUTH_COOKIES wins when both are set.
    authCookies: read(env, 'AUTH_COOKIES') ?? read(env, 'ENABLE_JWT_AUTH') ?? false,
    cookieSecure: required(read(env, 'COOKIE_SECURE')),
    cookieSameSite: required(read(env, 'COOKIE_SAMESITE')),
    cookieDomain: read(env, 'COOKIE_DOMAIN'),
    cookieBodyTokens: required(read(env, 'COOKIE_BODY_TOKENS')),
    corsOrigins: read(env, 'CORS_ORIGINS') ?? [],
    publicUrl: read(env, 'PUBLIC_URL'),
    mfaIssuer: required(read(env, 'MFA_ISSUER')),
    mfaTokenLifetime: required(read(env, 'MFA_TOKEN_LIFETIME')),
    mfaEncryptionKey: read(env, 'MFA_ENCRYPTION_KEY'),
    ...relyingParty(env),
    mfaRequiredRoles: read(env, 'MFA_REQUIRED_ROLES') ?? [],
    mfaRememberDevice: required(read(env, 'MFA_REMEMBER_DEVICE_DAYS')) * 86_400_000,
    mail: {
      backend: required(read(env, 'EMAIL_BACKEND')),
      host: required(read(env, 'EMAIL_HOST')),
      port: required(read(env, 'EMAIL_PORT')),
      user: required(read(env, 'EMAIL_HOST_USER')),
      password: required(read(env, 'EMAIL_HOST_PASSWORD')),
      useTls: required(read(env, 'EMAIL_USE_TLS')),
      useSsl: required(read(env, 'EMAIL_USE_SSL')),
      timeout: required(read(env, 'EMAIL_TIMEOUT')),
      from: required(read(env, 'DEFAULT_FROM_EMAIL')),
      templatesDir: read(env, 'EMAIL_TEMPLATES_DIR'),
    },
    frontendUrl: read(env, 'FRONTEND_URL'),
    passwordResetConfirmUrl: required(read(env, 'PASSWORD_RESET_CONFIRM_URL')),
    activationUrl: required(read(env, 'ACTIVATION_URL')),
    emailVerification: required(read(env, 'EMAIL_VERIFICATION')),
    passwordResetTokenLifetime: required(read(env, 'PASSWORD_RESET_TOKEN_LIFETIME')),
    emailVerificationTokenLifetime: required(read(env, 'EMAIL_VERIFICATION_TOKEN_LIFETIME')),
    djangoSecretKey: read(env, 'DJANGO_SECRET_KEY'),
    djangoPasswordResetTimeout: required(read(env, 'PASSWORD_RESET_TIMEOUT')),
  };
  // Django refuses both too: implicit TLS (SSL) and STARTTLS (TLS) exclude each other.
  if (config.mail.useTls && config.mail.useSsl) throw new ConfigError('EMAIL_USE_SSL', 'cannot be true with EMAIL_USE_TLS (choose one)');
  // Mailed links are never built from a Host header: production must say where they point.
  if (production && config.mail.backend === 'smtp' && !config.frontendUrl && !config.publicUrl) {
    throw new ConfigError('PUBLIC_URL', 'is required with EMAIL_BACKEND=smtp when NODE_ENV=production and FRONTEND_URL is unset (mailed links)');
  }
  if (config.throttle && config.throttle.window < 1000) throw new ConfigError('THROTTLE_WINDOW', 'must be at least 1s');
  // Browsers drop a SameSite=None cookie that is not Secure.
  if (config.cookieSameSite === 'None' && !config.cookieSecure) {
    throw new ConfigError('COOKIE_SAMESITE', 'None requires COOKIE_SECURE=true (browsers refuse SameSite=None cookies without Secure)');
  }
  const unknownRole = config.mfaRequiredRoles === 'all' ? undefined : config.mfaRequiredRoles.find((role) => !config.roles.includes(role));
  if (unknownRole !== undefined) throw new ConfigError('MFA_REQUIRED_ROLES', `"${unknownRole}" is not one of ROLES (${config.roles.join(', ')})`);
  if (config.mfaTokenLifetime < 1000) throw new ConfigError('MFA_TOKEN_LIFETIME', 'must be at least 1s');
  if (config.accessTokenLifetime < 1000) throw new ConfigError('ACCESS_TOKEN_LIFETIME', 'must be at least 1s');
  if (config.refreshTokenLifetime < config.accessTokenLifetime) {
    throw new ConfigError('REFRESH_TOKEN_LIFETIME', 'must not be shorter than ACCESS_TOKEN_LIFETIME');
  }
  return config;
}
