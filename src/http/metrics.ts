/**
 * GET /metrics in Prometheus' text format: per-route request counts and
 * latencies, the revocation list's size, and the process's own metrics. Each
 * app has its own registry, so tests can build many apps in one process.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Auth } from '../auth.ts';
import type { App } from './types.ts';

/** Registers the request hook and the `/metrics` route. */
export function metrics(app: App, auth: Auth): void {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' });
  const duration = new Histogram({
    name: 'latchkey_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  new Gauge({
    name: 'latchkey_revoked_sessions',
    help: 'Sessions held in the in-memory revocation list (revoked within one access-token lifetime)',
    registers: [registry],
    collect() {
      this.set(auth.revokedSessionCount());
    },
  });

  // Lockouts this instance started (audit event `throttled`), by limit; counted by the facade, read here.
  const reported = new Map<string, number>();
  new Counter({
    name: 'latchkey_throttle_lockouts_total',
    help: 'Throttling lockouts started (a pair or an IP reaching its limit), by limit',
    labelNames: ['limit'] as const,
    registers: [registry],
    collect() {
      for (const [limit, count] of auth.throttleLockouts()) {
        const delta = count - (reported.get(limit) ?? 0);
        if (delta > 0) this.inc({ limit }, delta);
        reported.set(limit, count);
      }
    },
  });

  // Load shedding: the password-hashing gate.
  new Gauge({
    name: 'latchkey_password_hashes_in_flight',
    help: 'Password hashes running and waiting for a slot',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = auth.hashStats();
      this.set({ state: 'running' }, stats.running);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  const hashes = { run: 0, shed: 0, abandoned: 0 };
  new Counter({
    name: 'latchkey_password_hashes_total',
    help: 'Password hashes by outcome: run, shed (queue full, 503) or abandoned (client gone, no hash)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      const stats = auth.hashStats();
      for (const outcome of ['run', 'shed', 'abandoned'] as const) {
        if (stats[outcome] > hashes[outcome]) this.inc({ outcome }, stats[outcome] - hashes[outcome]);
        hashes[outcome] = stats[outcome];
      }
    },
  });

  // The user cache (GET /auth/me/, refresh): lookups by outcome, and its size.
  const lookups = { hits: 0, misses: 0, bypassed: 0 };
  new Counter({
    name: 'latchkey_user_cache_lookups_total',
    help: 'User cache lookups by outcome: hit, miss, or bypassed (revocation feed not followed: read from the database)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect() {
      const stats = auth.userCacheStats();
      if (!stats) return;
      for (const [outcome, key] of [['hit', 'hits'], ['miss', 'misses'], ['bypassed', 'bypassed']] as const) {
        if (stats[key] > lookups[key]) this.inc({ outcome }, stats[key] - lookups[key]);
        lookups[key] = stats[key];
      }
    },
  });
  new Gauge({
    name: 'latchkey_user_cache_entries',
    help: 'Users rows held in the user cache (at most USER_CACHE_SIZE)',
    registers: [registry],
    collect() {
      this.set(auth.userCacheStats()?.size ?? 0);
    },
  });

  // One labelled child per method, route and status, found once: observing through it skips
  // prom-client's label hashing on every request.
  const series = new Map<string, { observe(value: number): void }>();
  app.addHook('onResponse', (request, reply, done) => {
    // Unmatched URLs share one label, so scanners cannot blow up the series count.
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let child = series.get(key);
    if (child === undefined) {
      child = duration.labels({ method: request.method, route, status: String(reply.statusCode) });
      series.set(key, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
