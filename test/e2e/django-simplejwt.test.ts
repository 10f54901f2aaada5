/**
 * The Python side (SPEC §2, issue "a drop-in for the Python side"): a Django
 * service using SimpleJWT's JWTStatelessUserAuthentication with Latchkey's
 * algorithm and key accepts Latchkey's access tokens and refuses expired or
 * tampered ones. Uses Debian's python3-django, python3-djangorestframework and
 * python3-djangorestframework-simplejwt, installed here when missing (under
 * CI=true a missing package fails the run with the apt-get line to run).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { PASSWORD, TEST_SIGNING_KEY, bearer, createUser, harness, login, manualClock, type Harness } from '../support/harness.ts';

const PYTHON = '/usr/bin/python3';
const PACKAGES = ['python3-django', 'python3-djangorestframework', 'python3-djangorestframework-simplejwt'];
const SCRIPT = fileURLToPath(new URL('../fixtures/django/simplejwt_check.py', import.meta.url));

function ensurePackages(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import django, rest_framework, rest_framework_simplejwt'], { encoding: 'utf8' });
  if (probe.status === 0) return;
  if (process.env.CI) throw new Error(`Django/SimpleJWT missing: run \`apt-get install -y ${PACKAGES.join(' ')}\``);
  execFileSync('apt-get', ['install', '-y', '-qq', ...PACKAGES], { stdio: 'ignore', timeout: 300_000 });
}

type Verdict = { ok: boolean; user_id?: number; role?: string; aal?: string; code?: string; aal2_view: number };

function django(algorithm: string, tokens: string[]): Verdict[] {
  const output = execFileSync(PYTHON, [SCRIPT, TEST_SIGNING_KEY, algorithm], { input: `${tokens.join('\n')}\n`, encoding: 'utf8', timeout: 60_000 });
  return output.trim().split('\n').map((line) => JSON.parse(line) as Verdict);
}

for (const algorithm of ['HS256', 'HS512']) {
  describe(`a Django service with SimpleJWT (${algorithm}) and Latchkey's tokens`, () => {
    let h: Harness;
    let old: Harness;
    before(async () => {
      ensurePackages();
      h = await harness('pglite', { env: { JWT_ALGORITHM: algorithm } });
      // Tokens issued two hours ago: expired for the Django side's real clock.
      old = await harness('pglite', { env: { JWT_ALGORITHM: algorithm }, clock: manualClock(Date.now() - 2 * 3_600_000) });
    });
    after(async () => {
      await h?.close();
      await old?.close();
    });

    it('accepts an access token and reads its user id and claims; refuses expired, tampered and refresh tokens', async () => {
      const { username, id } = await createUser(h, { role: 'employe' });
      const pair = await login(h, username);
      const expired = await login(old, (await createUser(old)).username);
      const [header, payload, signature] = pair.access.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, user_id: id + 1 })).toString('base64url')}.${signature}`;
      const verdicts = django(algorithm, [pair.access, expired.access, tampered, pair.refresh]);
      // A password login: aal1, so the view that requires aal2 says 403.
      assert.deepEqual(verdicts[0], { ok: true, user_id: id, role: 'employe', aal: 'aal1', aal2_view: 403 });
      for (const verdict of verdicts.slice(1)) assert.deepEqual(verdict, { ok: false, code: 'token_not_valid', aal2_view: 401 });
    });

    it("a DRF permission gates on Latchkey's aal claim: aal1 → 403, aal2 after TOTP enrolment and at a later login → 200", async () => {
      const { username, id } = await createUser(h, { role: 'employe' });
      const pair = await login(h, username);
      const started = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/', headers: bearer(pair.access), payload: { password: PASSWORD } });
      assert.equal(started.statusCode, 201, started.body);
      const secret = Secret.fromBase32(started.json().secret as string);
      const confirmed = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm/', headers: bearer(pair.access), payload: { code: TOTP.generate({ secret }) } });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      // A later login, its second step with the next code (each code is accepted once).
      const challenged = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: { username, password: PASSWORD } });
      assert.equal(challenged.statusCode, 401, challenged.body);
      const next = TOTP.generate({ secret, timestamp: Date.now() + 30_000 });
      const verified = await h.app.inject({ method: 'POST', url: '/auth/mfa/verify/', payload: { mfa_token: challenged.json().mfa_token, code: next } });
      assert.equal(verified.statusCode, 200, verified.body);
      const verdicts = django(algorithm, [pair.access, confirmed.json().access, verified.json().access]);
      // The password login's token (stateless authentication: no revocation check on the Django side).
      assert.deepEqual(verdicts[0], { ok: true, user_id: id, role: 'employe', aal: 'aal1', aal2_view: 403 });
      assert.deepEqual(verdicts[1], { ok: true, user_id: id, role: 'employe', aal: 'aal2', aal2_view: 200 });
      assert.deepEqual(verdicts[2], { ok: true, user_id: id, role: 'employe', aal: 'aal2', aal2_view: 200 });
    });
  });
}
