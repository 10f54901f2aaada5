/**
 * Throttling (SPEC §5): failed logins per (identifier, IP) lock the pair out,
 * even for the right password, while other identifiers from that IP and the
 * same identifier from elsewhere still work; per-IP limits on failed logins,
 * registrations and refreshes; THROTTLE=off; TRUST_PROXY; the audit event and
 * the metric; counters in Redis shared by two throttles.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config.ts';
import { ThrottledError } from '../../src/errors.ts';
import { createThrottle } from '../../src/limits/throttle.ts';
import { PASSWORD, NO_ACTIVE_ACCOUNT, TEST_SIGNING_KEY, createUser, harness, login, storeNames, uniqueName, type Harness } from '../support/harness.ts';

const THROTTLED = /^Request was throttled\. Expected available in (\d+) seconds?\.$/;

for (const name of storeNames()) {
  describe(`throttling with SPEC's defaults (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { THROTTLE: 'on' } });
    });
    after(() => h.close());

    const attempt = (username: string, password: string, remoteAddress = '127.0.0.1', headers: Record<string, string> = {}) =>
      h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password }, remoteAddress, headers });

    it('five failures lock the (identifier, IP) pair: 429 with Retry-After even with the right password', async () => {
      const victim = await createUser(h);
      const bystander = await createUser(h);
      for (let i = 0; i < 5; i += 1) {
        const failed = await attempt(i % 2 ? victim.username.toUpperCase() : victim.email, 'wrong password');
        assert.equal(failed.statusCode, 401, `failure ${i + 1}`);
        assert.deepEqual(failed.json(), NO_ACTIVE_ACCOUNT);
      }
      // Username and email are two identifiers: the pair counted is the one typed (case-insensitively).
      const locked = await attempt(victim.email.toUpperCase(), 'wrong password');
      assert.equal(locked.statusCode, 401, 'the email was tried three times only');
      for (let i = 0; i < 2; i += 1) await attempt(victim.email, 'wrong password');
      const refused = await attempt(victim.email, PASSWORD);
      assert.equal(refused.statusCode, 429, refused.body);
      assert.equal(refused.json().code, 'throttled');
      const match = THROTTLED.exec(refused.json().detail);
      assert.ok(match, refused.json().detail);
      assert.equal(refused.headers['retry-after'], match[1]);
      const wait = Number(match[1]);
      assert.ok(wait > 890 && wait <= 900, `wait ${wait}`);
      assert.deepEqual(Object.keys(refused.json()).sort(), ['code', 'detail']);
      const fr = await attempt(victim.email, PASSWORD, '127.0.0.1', { 'accept-language': 'fr' });
      assert.match(fr.json().detail, /^Requête ralentie\. Disponible de nouveau dans \d+\u00a0secondes\.$/);

      // Other identifiers from that IP, and the same identifier from another IP, still work.
      assert.equal((await attempt(bystander.username, PASSWORD)).statusCode, 200);
      assert.equal((await attempt(victim.email, PASSWORD, '10.1.2.3')).statusCode, 200);

      const events = await h.store.db.selectFrom('audit_events').selectAll().where('type', '=', 'throttled').execute();
      const mine = events.filter((event) => event.user_id === victim.id);
      assert.equal(mine.length, 1, 'one audit event per lockout, not per refusal');
      assert.deepEqual({ ...mine[0]?.detail as object, retry_after: 0 }, { limit: 'login_pair', retry_after: 0 });
      assert.equal(mine[0]?.ip, '127.0.0.1');
      const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /latchkey_throttle_lockouts_total\{limit="login_pair"\} [1-9]/);
    });

    it('successful logins are never counted', async () => {
      const u = await createUser(h);
      for (let i = 0; i < 12; i += 1) assert.equal((await attempt(u.username, PASSWORD)).statusCode, 200);
      for (let i = 0; i < 4; i += 1) assert.equal((await attempt(u.username, 'nope')).statusCode, 401);
      assert.equal((await attempt(u.username, PASSWORD)).statusCode, 200, 'four failures do not lock');
    });

    it('X-Forwarded-For is ignored with TRUST_PROXY off: the lockout holds whatever the header says', async () => {
      const u = await createUser(h);
      for (let i = 0; i < 5; i += 1) await attempt(u.username, 'nope', '127.0.0.1', { 'x-forwarded-for': `203.0.113.${i}` });
      const refused = await attempt(u.username, PASSWORD, '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
      assert.equal(refused.statusCode, 429);
    });
  });

  describe(`throttling: per-IP limits and settings (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, {
        env: { THROTTLE: 'on', THROTTLE_LOGIN_FAILURES_PER_IP: '4', THROTTLE_REGISTRATIONS_PER_IP: '2', THROTTLE_REFRESHES_PER_IP: '3' },
      });
    });
    after(() => h.close());

    it('failed logins per IP: past the limit every identifier from that IP waits, other IPs do not', async () => {
      const u = await createUser(h);
      for (let i = 0; i < 4; i += 1) {
        assert.equal((await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: uniqueName(), password: 'x' }, remoteAddress: '192.0.2.1' })).statusCode, 401);
      }
      const refused = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD }, remoteAddress: '192.0.2.1' });
      assert.equal(refused.statusCode, 429);
      const elsewhere = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD }, remoteAddress: '192.0.2.2' });
      assert.equal(elsewhere.statusCode, 200);
      const events = await h.store.db.selectFrom('audit_events').select(['detail', 'ip']).where('type', '=', 'throttled').execute();
      assert.ok(events.some((event) => (event.detail as { limit?: string }).limit === 'login_ip' && event.ip === '192.0.2.1'));
    });

    it('registrations per IP', async () => {
      const register = () =>
        h.app.inject({ method: 'POST', url: '/auth/register/', remoteAddress: '192.0.2.9', payload: { username: uniqueName(), email: `${uniqueName()}@example.com`, password: PASSWORD } });
      assert.equal((await register()).statusCode, 201);
      assert.equal((await register()).statusCode, 201);
      const refused = await register();
      assert.equal(refused.statusCode, 429, refused.body);
      assert.match(refused.json().detail, THROTTLED);
      assert.ok(Number(refused.headers['retry-after']) > 0);
      const count = await h.store.db.selectFrom('audit_events').select('id').where('type', '=', 'throttled').where('ip', '=', '192.0.2.9').execute();
      assert.equal(count.length, 1);
    });

    it('refreshes per IP', async () => {
      const u = await createUser(h);
      let { refresh } = await login(h, u.username);
      for (let i = 0; i < 3; i += 1) {
        const response = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh }, remoteAddress: '192.0.2.20' });
        assert.equal(response.statusCode, 200, response.body);
        refresh = response.json().refresh;
      }
      const refused = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh }, remoteAddress: '192.0.2.20' });
      assert.equal(refused.statusCode, 429);
      const elsewhere = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh }, remoteAddress: '192.0.2.21' });
      assert.equal(elsewhere.statusCode, 200, 'the refused refresh spent nothing');
    });
  });
}

describe('throttling: THROTTLE=off, TRUST_PROXY, the window', () => {
  it('THROTTLE=off counts nothing', async () => {
    const h = await harness('pglite', { env: { THROTTLE: 'off' } });
    try {
      const u = await createUser(h);
      for (let i = 0; i < 8; i += 1) await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: 'x' } });
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } })).statusCode, 200);
    } finally {
      await h.close();
    }
  });

  it('TRUST_PROXY with the proxy’s address or a hop count takes the client from X-Forwarded-For', async () => {
    for (const trust of ['127.0.0.1', '1', 'loopback,10.0.0.0/8']) {
      const h = await harness('pglite', { env: { THROTTLE: 'on', TRUST_PROXY: trust, THROTTLE_LOGIN_FAILURES: '2' } });
      try {
        const u = await createUser(h);
        const from = (ip: string, password: string) =>
          h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password }, headers: { 'x-forwarded-for': `198.51.100.99, ${ip}` } });
        await from('203.0.113.1', 'x');
        await from('203.0.113.1', 'x');
        assert.equal((await from('203.0.113.1', PASSWORD)).statusCode, 429, trust);
        assert.equal((await from('203.0.113.2', PASSWORD)).statusCode, 200, trust);
        const sessions = await h.store.db.selectFrom('sessions').select('ip').execute();
        assert.deepEqual(sessions.map((s) => s.ip), ['203.0.113.2'], trust);
      } finally {
        await h.close();
      }
    }
  });

  it('bad settings fail at start, naming the variable', () => {
    const load = (env: Record<string, string>) => () => loadConfig({ SIGNING_KEY: TEST_SIGNING_KEY, ...env });
    assert.throws(load({ TRUST_PROXY: 'proxy.example.com' }), /^ConfigError: TRUST_PROXY: /);
    assert.throws(load({ TRUST_PROXY: '10.0.0.0/40' }), /TRUST_PROXY/);
    assert.throws(load({ THROTTLE_LOGIN_FAILURES: '0' }), /THROTTLE_LOGIN_FAILURES/);
    assert.throws(load({ THROTTLE_REFRESHES_PER_IP: 'many' }), /THROTTLE_REFRESHES_PER_IP/);
    assert.throws(load({ THROTTLE: 'maybe' }), /THROTTLE:/);
    assert.throws(load({ THROTTLE_WINDOW: '500ms' }), /THROTTLE_WINDOW/);
    assert.throws(load({ REDIS_URL: 'http://localhost' }), /REDIS_URL/);
    const config = load({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16' })();
    assert.deepEqual(config.trustProxy, ['10.0.0.1', '192.168.0.0/16']);
    assert.deepEqual(load({})().throttle, { window: 900_000, loginFailures: 5, loginFailuresPerIp: 100, registrationsPerIp: 30, refreshesPerIp: 600, passwordResetsPerIp: 20, passwordResetsPerAddress: 3 });
    assert.equal(load({ THROTTLE: 'off' })().throttle, undefined);
  });

  it('a lockout lasts the rest of the window, then the pair may try again', async () => {
    const h = await harness('pglite', { env: { THROTTLE: 'on', THROTTLE_WINDOW: '1s', THROTTLE_LOGIN_FAILURES: '1' } });
    try {
      const u = await createUser(h);
      await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: 'x' } });
      const refused = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } });
      assert.equal(refused.statusCode, 429);
      assert.equal(refused.json().detail, 'Request was throttled. Expected available in 1 second.');
      await sleep(1100);
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username: u.username, password: PASSWORD } })).statusCode, 200);
    } finally {
      await h.close();
    }
  });
});

describe('throttling counters in Redis', () => {
  let redis: Redis;
  before(async () => {
    redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  after(() => redis.quit());

  it('two throttles on one Redis share a lockout (as two instances do)', async () => {
    const prefix = `latchkey-test-${randomBytes(4).toString('hex')}`;
    const settings = { window: 60_000, loginFailures: 3, loginFailuresPerIp: 100, registrationsPerIp: 30, refreshesPerIp: 600 };
    const a = createThrottle(settings, { kind: 'redis', client: redis, prefix });
    const b = createThrottle(settings, { kind: 'redis', client: redis, prefix });
    assert.deepEqual(await a.loginFailed('ann', '192.0.2.1'), []);
    assert.deepEqual(await b.loginFailed('ANN', '192.0.2.1'), []);
    const lockouts = await a.loginFailed('ann', '192.0.2.1');
    assert.deepEqual(lockouts.map((l) => l.limit), ['login_pair']);
    await assert.rejects(b.checkLogin('ann', '192.0.2.1'), (error) => error instanceof ThrottledError && error.retryAfter > 55);
    await b.checkLogin('bob', '192.0.2.1');
    await a.checkLogin('ann', '192.0.2.2');
    const keys = await redis.keys(`${prefix}:*`);
    assert.ok(keys.length >= 2);
    assert.ok(keys.every((key) => !key.includes('ann')), 'identifiers are hashed, not stored');
    await redis.del(...keys);
  });
});
