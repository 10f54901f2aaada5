/**
 * Throttling (SPEC §5): failed logins per (identifier, IP) lock that pair out
 * for the rest of the window; one IP is also held to a number of failed
 * logins, registrations and refreshes per window. The counting is
 * rate-limiter-flexible's, in process memory or in Redis (shared by every
 * instance) behind the same interface; this file only says what is counted.
 */
import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ThrottledError } from '../errors.ts';

/** The limits, per window. */
export interface ThrottleSettings {
  /** Milliseconds; a counter starts at its first event and empties when the window ends. */
  window: number;
  /** Failed logins for one identifier from one IP before that pair is locked out. */
  loginFailures: number;
  loginFailuresPerIp: number;
  registrationsPerIp: number;
  refreshesPerIp: number;
  /** Password-reset and verification-mail requests from one IP per window (default 20). */
  passwordResetsPerIp?: number;
  /** Such requests for one address per hour (default 3); past it they are dropped silently. */
  passwordResetsPerAddress?: number;
}

/** The window of the per-address limit on reset mails: an hour, whatever THROTTLE_WINDOW says (SPEC §11). */
const ADDRESS_WINDOW_SECONDS = 3600;

/** Which limit a lockout hit: the audit trail and the metric name it. */
export type ThrottleLimit = 'login_pair' | 'login_ip' | 'registration_ip' | 'refresh_ip' | 'password_reset_ip';

/** A limit just reached: the caller records it (audit event `throttled`, metric). */
export interface Lockout {
  limit: ThrottleLimit;
  /** Seconds until the window ends. */
  retryAfter: number;
}

/** What the facade asks of a throttle; `noThrottle` answers every question with "go ahead". */
export interface Throttle {
  /** Throws ThrottledError while the pair or the IP is locked out of logging in; counts nothing. */
  checkLogin(identifier: string, ip: string | null): Promise<void>;
  /** Counts a failed login for the pair and the IP; says which limits it has just reached. */
  loginFailed(identifier: string, ip: string | null): Promise<Lockout[]>;
  /** Counts a registration attempt; throws ThrottledError past the limit (the first refusal is `lockout`). */
  registration(ip: string | null): Promise<void>;
  /** Counts a refresh; throws ThrottledError past the limit. */
  refresh(ip: string | null): Promise<void>;
  /** Counts a password-reset (or verification-mail) request; throws ThrottledError past the limit. */
  passwordReset(ip: string | null): Promise<void>;
  /** Counts a mail asked for `address`; false past the hourly limit (the caller drops it silently). */
  mailToAddress(address: string): Promise<boolean>;
}

/** THROTTLE=off: nothing is counted or refused. */
export const noThrottle: Throttle = {
  checkLogin: async () => {},
  loginFailed: async () => [],
  registration: async () => {},
  refresh: async () => {},
  passwordReset: async () => {},
  mailToAddress: async () => true,
};

/** Where counters live: `memory` (one process) or a Redis client (ioredis) shared by every instance. */
export type CounterStore = { kind: 'memory' } | { kind: 'redis'; client: unknown; prefix?: string };

/**
 * A throttle with the given limits, counting in memory or in Redis. With
 * Redis, a lost connection falls back to per-process counters (the
 * library's insurance limiter) rather than failing logins.
 * @example const throttle = createThrottle(settings, { kind: 'redis', client: new Redis(url) });
 */
export function createThrottle(settings: ThrottleSettings, store: CounterStore): Throttle {
  const duration = Math.max(1, Math.ceil(settings.window / 1000));
  const limiter = (name: ThrottleLimit | 'reset_address', points: number, seconds = duration): RateLimiterAbstract => {
    const options = { keyPrefix: `latchkey:throttle:${name}`, points, duration: seconds };
    if (store.kind === 'memory') return new RateLimiterMemory(options);
    return new RateLimiterRedis({
      ...options,
      keyPrefix: `${store.prefix ?? 'latchkey'}:throttle:${name}`,
      storeClient: store.client,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory(options),
    });
  };
  return new CountingThrottle({
    pair: limiter('login_pair', settings.loginFailures),
    loginIp: limiter('login_ip', settings.loginFailuresPerIp),
    registration: limiter('registration_ip', settings.registrationsPerIp),
    refresh: limiter('refresh_ip', settings.refreshesPerIp),
    passwordReset: limiter('password_reset_ip', settings.passwordResetsPerIp ?? 20),
    resetAddress: limiter('reset_address', settings.passwordResetsPerAddress ?? 3, ADDRESS_WINDOW_SECONDS),
  });
}

interface Limiters {
  pair: RateLimiterAbstract;
  loginIp: RateLimiterAbstract;
  registration: RateLimiterAbstract;
  refresh: RateLimiterAbstract;
  passwordReset: RateLimiterAbstract;
  resetAddress: RateLimiterAbstract;
}

class CountingThrottle implements Throttle {
  readonly #limiters: Limiters;
  constructor(limiters: Limiters) {
    this.#limiters = limiters;
  }

  async checkLogin(identifier: string, ip: string | null): Promise<void> {
    const [pair, byIp] = await Promise.all([this.#limiters.pair.get(pairKey(identifier, ip)), this.#limiters.loginIp.get(ipKey(ip))]);
    const waits = [exhausted(pair, this.#limiters.pair), exhausted(byIp, this.#limiters.loginIp)].filter((wait) => wait !== undefined);
    if (waits.length > 0) throw new ThrottledError(Math.max(...waits));
  }

  async loginFailed(identifier: string, ip: string | null): Promise<Lockout[]> {
    const [pair, byIp] = await Promise.all([
      this.#limiters.pair.penalty(pairKey(identifier, ip)),
      this.#limiters.loginIp.penalty(ipKey(ip)),
    ]);
    const lockouts: Lockout[] = [];
    // Exactly the failure that reaches the limit starts a lockout; later ones (racing) do not count again.
    if (pair.consumedPoints === this.#limiters.pair.points) lockouts.push({ limit: 'login_pair', retryAfter: seconds(pair) });
    if (byIp.consumedPoints === this.#limiters.loginIp.points) lockouts.push({ limit: 'login_ip', retryAfter: seconds(byIp) });
    return lockouts;
  }

  registration(ip: string | null): Promise<void> {
    return consume(this.#limiters.registration, ipKey(ip), 'registration_ip');
  }

  refresh(ip: string | null): Promise<void> {
    return consume(this.#limiters.refresh, ipKey(ip), 'refresh_ip');
  }

  passwordReset(ip: string | null): Promise<void> {
    return consume(this.#limiters.passwordReset, ipKey(ip), 'password_reset_ip');
  }

  async mailToAddress(address: string): Promise<boolean> {
    try {
      await this.#limiters.resetAddress.consume(createHash('sha256').update(address.trim().toLowerCase()).digest('base64url'));
      return true;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return false;
      throw rejection;
    }
  }
}

/** Takes one point; past the limit, ThrottledError (`lockout` set on the first refusal of a window). */
async function consume(limiter: RateLimiterAbstract, key: string, limit: ThrottleLimit): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (!(rejection instanceof RateLimiterRes)) throw rejection;
    const first = rejection.consumedPoints === limiter.points + 1;
    throw new ThrottledError(seconds(rejection), first ? limit : undefined);
  }
}

/** Seconds until the window ends when the counter is at its limit; undefined while there is room. */
function exhausted(state: RateLimiterRes | null, limiter: RateLimiterAbstract): number | undefined {
  if (!state || state.consumedPoints < limiter.points) return undefined;
  return seconds(state);
}

function seconds(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}

function ipKey(ip: string | null): string {
  return ip ?? 'unknown';
}

/**
 * The pair's key: the identifier as logins match it (case-insensitively, NFKC
 * as usernames are stored), hashed so that no identifier is kept in Redis and
 * a long one makes no long key.
 */
function pairKey(identifier: string, ip: string | null): string {
  const folded = identifier.trim().normalize('NFKC').toLowerCase();
  return createHash('sha256').update(`${ipKey(ip)}\u0000${folded}`).digest('base64url');
}
