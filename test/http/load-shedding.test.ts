/**
 * Load shedding (SPEC §5): password hashing runs through a gate with bounded
 * concurrency and a bounded queue; past it a login gets 503
 * service_unavailable with Retry-After at once, a request whose client has
 * gone costs no hash, and the event loop keeps answering other requests.
 */
import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { OverloadedError } from '../../src/errors.ts';
import { ClientGoneError, HashGate } from '../../src/limits/hashing.ts';
import { loadConfig } from '../../src/config.ts';
import { Passwords } from '../../src/users/passwords.ts';
import { TEST_SIGNING_KEY, createUser, harness, storeNames, type Harness } from '../support/harness.ts';

describe('the hashing gate', () => {
  it('runs at most `concurrency` at once, queues `queue` more, refuses the next at once', async () => {
    const gate = new HashGate({ concurrency: 1, queue: 2 });
    let release: () => void = () => {};
    const blocker = new Promise<void>((resolve) => (release = resolve));
    let running = 0;
    let most = 0;
    const work = async () => {
      running += 1;
      most = Math.max(most, running);
      await blocker;
      running -= 1;
      return 'done';
    };
    const accepted = [gate.run(work), gate.run(work), gate.run(work)];
    await assert.rejects(gate.run(work), (error) => error instanceof OverloadedError && error.retryAfter === 1 && error.code === 'service_unavailable');
    assert.deepEqual({ ...gate.stats() }, { running: 1, waiting: 2, run: 1, shed: 1, abandoned: 0 });
    release();
    assert.deepEqual(await Promise.all(accepted), ['done', 'done', 'done']);
    assert.equal(most, 1);
  });

  it('skips the work of a client that has gone, before or while it waited', async () => {
    const gate = new HashGate({ concurrency: 1, queue: 10 });
    let ran = 0;
    let release: () => void = () => {};
    const blocker = new Promise<void>((resolve) => (release = resolve));
    const first = gate.run(async () => {
      ran += 1;
      await blocker;
    });
    let gone = false;
    const waiting = gate.run(async () => void (ran += 1), () => gone);
    await assert.rejects(gate.run(async () => void (ran += 1), () => true), ClientGoneError);
    gone = true;
    release();
    await first;
    await assert.rejects(waiting, ClientGoneError);
    assert.equal(ran, 1);
    assert.equal(gate.stats().abandoned, 2);
  });

  it('defaults leave the event loop a core: every core but one hashes, 16 wait per slot; both configurable', () => {
    const config = loadConfig({ SIGNING_KEY: TEST_SIGNING_KEY });
    assert.ok(config.passwordHashConcurrency >= 1);
    assert.equal(config.passwordHashQueue, 16 * config.passwordHashConcurrency);
    const set = loadConfig({ SIGNING_KEY: TEST_SIGNING_KEY, PASSWORD_HASH_CONCURRENCY: '3', PASSWORD_HASH_QUEUE: '7' });
    assert.deepEqual([set.passwordHashConcurrency, set.passwordHashQueue], [3, 7]);
    assert.throws(() => loadConfig({ SIGNING_KEY: TEST_SIGNING_KEY, PASSWORD_HASH_QUEUE: '-1' }), /PASSWORD_HASH_QUEUE/);
  });
});

for (const name of storeNames()) describe(`a login storm over real HTTP (${name})`, () => {
  let h: Harness;
  let port: number;
  before(async () => {
    // Production-cost hashes: the queue must fill as it does under a real storm.
    h = await harness(name, { env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '4' }, passwords: new Passwords() });
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  after(() => h.close());

  const url = (path: string) => `http://127.0.0.1:${port}${path}`;

  it('40 concurrent bad logins: each 401 or an immediate 503 with Retry-After; /healthz stays fast', async () => {
    const u = await createUser(h);
    const storm = Array.from({ length: 40 }, () =>
      fetch(url('/auth/login/'), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u.username, password: 'wrong' }),
        signal: AbortSignal.timeout(30_000),
      }).then(async (response) => ({ status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() })),
    );
    await sleep(20);
    const started = performance.now();
    const health = await fetch(url('/healthz'), { signal: AbortSignal.timeout(10_000) });
    const healthMs = performance.now() - started;
    const answers = await Promise.all(storm);
    assert.equal(health.status, 200);
    const statuses = new Set(answers.map((a) => a.status));
    assert.deepEqual([...statuses].filter((s) => s !== 401 && s !== 503), [], 'only 401 and 503');
    const shed = answers.filter((a) => a.status === 503);
    // Requests arrive over time and the queue drains meanwhile: at most 1 running + 4 queued at any moment.
    assert.ok(shed.length >= 10, `${shed.length} shed`);
    for (const answer of shed) {
      assert.equal(answer.retryAfter, '1');
      assert.deepEqual(answer.body, { detail: 'Service temporarily unavailable, try again later.', code: 'service_unavailable' });
    }
    console.log(`# /healthz during a storm of 40 logins: ${healthMs.toFixed(1)} ms; ${shed.length} shed`);
    // A sanity bound only (client and server share this process and a busy machine); bench/login-storm.ts measures.
    assert.ok(healthMs < 5000, `/healthz took ${healthMs.toFixed(0)} ms`);
    const metrics = await (await fetch(url('/metrics'))).text();
    assert.match(metrics, /latchkey_password_hashes_total\{outcome="shed"\} [1-9]/);
  });

  it('logins whose clients hang up while queued cost no hash', async () => {
    const u = await createUser(h);
    const before = h.auth.hashStats();
    const body = JSON.stringify({ username: u.username, password: 'wrong' });
    const sockets = Array.from({ length: 5 }, () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`POST /auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      return socket;
    });
    // Hang up once every login has reached the gate (started or waiting), bounded.
    const reached = () => h.auth.hashStats().run - before.run + h.auth.hashStats().waiting;
    for (let i = 0; i < 400 && reached() < 5; i += 1) await sleep(5);
    for (const socket of sockets) socket.destroy();
    // Bounded wait for the gate to drain.
    for (let i = 0; i < 200 && (h.auth.hashStats().running > 0 || h.auth.hashStats().waiting > 0); i += 1) await sleep(25);
    const stats = h.auth.hashStats();
    const ran = stats.run - before.run;
    const abandoned = stats.abandoned - before.abandoned;
    assert.equal(ran + abandoned, 5, JSON.stringify(stats));
    assert.ok(abandoned >= 2, `only ${abandoned} of 5 abandoned logins skipped their hash`);
  });
});
