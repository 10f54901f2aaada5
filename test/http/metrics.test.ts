import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`GET /metrics on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name); });
    after(() => h.close());

    it('exposes request latencies by route and status, and the revocation list’s size, in Prometheus format', async () => {
      const { username } = await createUser(h);
      const tokens = await login(h, username);
      await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: 'wrong password' } });
      await h.app.inject({ method: 'GET', url: '/no/such/path' });
      await h.app.inject({ method: 'POST', url: '/auth/logout/', payload: { refresh: tokens.refresh } });

      const response = await h.app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      const text = response.body;
      assert.match(text, /latchkey_http_request_duration_seconds_count\{method="POST",route="\/auth\/login",status="200"\} 1\n/);
      assert.match(text, /latchkey_http_request_duration_seconds_count\{method="POST",route="\/auth\/login",status="401"\} 1\n/);
      assert.match(text, /latchkey_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1\n/);
      assert.match(text, /^latchkey_revoked_sessions 1$/m);
      assert.match(text, /^latchkey_process_cpu_seconds_total /m);
      assert.ok(!text.includes(tokens.access) && !text.includes(username), 'no token or username in metrics');
    });
  });
}
