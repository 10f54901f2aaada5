/**
 * latchkey/verify (SPEC §9) against a real Latchkey app: the plain function, the
 * Fastify plugin and the Express-style middleware; keys from the JWKS URL (over
 * real HTTP) or the shared secret; the server's claim checks.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { keyDirectory } from '../../src/tokens/keys.ts';
import { createVerifier, latchkeyMiddleware, latchkeyVerify, verifyToken, VerificationError, type VerifiedPrincipal } from '../../src/verify/index.ts';
import { Secret, TOTP } from 'otpauth';
import { PASSWORD, TEST_SIGNING_KEY, bearer, claimsOf, createAccount, createUser, harness, headerOf, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

const START = Date.parse('2026-11-22T10:00:00Z');
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function refusal(promise: Promise<unknown>): Promise<VerificationError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof VerificationError, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

for (const name of storeNames()) describe(`latchkey/verify with the shared secret on ${name}`, () => {
  const clock = manualClock(START);
  let h: Harness;
  before(async () => { h = await harness(name, { clock, env: { JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'api', LEEWAY: '5s', MFA_REQUIRED_ROLES: 'admin' } }); });
  after(() => h.close());
  const options = () => ({ secret: TEST_SIGNING_KEY, issuer: 'https://auth.example.com', audience: 'api', leeway: 5, clock });

  it('hands the principal to the caller', async () => {
    const account = await createAccount(h);
    const { username, id } = await createUser(h, { role: 'employe', accountId: account });
    const pair = await login(h, username);
    const principal = await verifyToken(pair.access, options());
    assert.deepEqual(principal, {
      user_id: id,
      role: 'employe',
      account_id: account,
      sid: claimsOf(pair.access).sid,
      password_reset_required: false,
      mfa_enrollment_required: false,
      amr: ['pwd'],
      aal: 'aal1',
      auth_time: Math.floor(clock.now() / 1000),
    });
  });

  it('exposes how the user got in: aal1 after a password, aal2 with the TOTP step-up, auth_time the step-up', async () => {
    const { username } = await createUser(h);
    const loginAt = clock.now();
    const pair = await login(h, username);
    const verifier = createVerifier(options());
    const before = await verifier.verify(pair.access);
    assert.deepEqual([before.amr, before.aal, before.auth_time], [['pwd'], 'aal1', Math.floor(loginAt / 1000)]);
    clock.advance(30_000);
    const started = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/', headers: bearer(pair.access), payload: { password: PASSWORD } });
    const code = TOTP.generate({ secret: Secret.fromBase32(started.json().secret as string), timestamp: clock.now() });
    const confirmed = await h.app.inject({ method: 'POST', url: '/auth/mfa/totp/confirm/', headers: bearer(pair.access), payload: { code } });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    const after = await verifier.verify(confirmed.json().access as string);
    assert.deepEqual([after.amr, after.aal, after.auth_time], [['pwd', 'otp', 'mfa'], 'aal2', Math.floor(clock.now() / 1000)]);
  });

  it('refuses a user still to enrol a required factor (MFA_REQUIRED_ROLES) unless allowRestricted', async () => {
    const admin = await createUser(h, { role: 'admin' });
    const pair = await login(h, admin.username);
    const refused = await refusal(createVerifier(options()).verify(pair.access));
    assert.deepEqual([refused.status, refused.body], [403, { detail: 'A second factor must be set up first.', code: 'mfa_enrollment_required' }]);
    const allowed = await createVerifier({ ...options(), allowRestricted: true }).verify(pair.access);
    assert.equal(allowed.mfa_enrollment_required, true);
  });

  it('applies the server’s checks: type, expiry with leeway, issuer, audience, forced reset', async () => {
    const { username } = await createUser(h);
    const pair = await login(h, username);
    const verifier = createVerifier(options());
    assert.equal((await refusal(verifier.verify(pair.refresh))).code, 'token_not_valid', 'a refresh token is not an access token');
    assert.equal((await refusal(createVerifier({ ...options(), issuer: 'https://other' }).verify(pair.access))).code, 'token_not_valid');
    assert.equal((await refusal(createVerifier({ ...options(), audience: 'other' }).verify(pair.access))).code, 'token_not_valid');
    const [header, payload, signature] = pair.access.split('.') as [string, string, string];
    const tampered = `${header}.${b64({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), user_id: 1 })}.${signature}`;
    assert.equal((await refusal(verifier.verify(tampered))).code, 'token_not_valid');
    clock.advance(15 * 60_000 + 4000);
    assert.equal((await verifier.verify(pair.access)).password_reset_required, false, 'inside the leeway');
    clock.advance(1000);
    const expired = await refusal(verifier.verify(pair.access));
    assert.equal(expired.status, 401);
    assert.deepEqual(expired.body, {
      detail: 'Given token not valid for any token type',
      code: 'token_not_valid',
      messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }],
    });

    const restricted = await createUser(h, { passwordNeedsReset: true });
    const limited = await login(h, restricted.username);
    const forced = await refusal(verifier.verify(limited.access));
    assert.deepEqual([forced.status, forced.body], [403, { detail: 'Password change required.', code: 'password_reset_required' }]);
    assert.equal((await createVerifier({ ...options(), allowRestricted: true }).verify(limited.access)).password_reset_required, true);
  });

  it('reads the Authorization header as DRF does', async () => {
    const verifier = createVerifier(options());
    assert.equal((await refusal(verifier.authenticate(undefined))).code, 'not_authenticated');
    assert.equal((await refusal(verifier.authenticate('Basic abc'))).code, 'not_authenticated');
    assert.equal((await refusal(verifier.authenticate('Bearer'))).code, 'bad_authorization_header');
    assert.equal((await refusal(verifier.authenticate('Bearer a b'))).code, 'bad_authorization_header');
  });

  it('refuses bad options at construction, not at the first request', () => {
    assert.throws(() => createVerifier({}), TypeError);
    assert.throws(() => createVerifier({ secret: 'x', jwksUrl: 'http://127.0.0.1/' }), TypeError);
    assert.throws(() => createVerifier({ secret: 'x', algorithms: ['RS256'] }), TypeError);
    assert.throws(() => createVerifier({ jwksUrl: 'http://127.0.0.1/', algorithms: ['HS256'] }), TypeError);
  });
});


describe('latchkey/verify with the JWKS URL', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'lk-verify-'));
  let h: Harness;
  let jwksUrl: string;
  before(async () => {
    keyDirectory(loadConfig({ DATA_DIR: dataDir, JWT_ALGORITHM: 'EdDSA' }), { now: () => Date.now() }).generate('EdDSA');
    h = await harness('pglite', { env: { JWT_ALGORITHM: 'EdDSA', DATA_DIR: dataDir } });
    const address = await h.app.listen({ host: '127.0.0.1', port: 0 });
    jwksUrl = `${address}/.well-known/jwks.json`;
  });
  after(async () => {
    await h.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('verifies with the published keys, and fetches again for a kid it has not seen (a rotation)', async () => {
    const verifier = createVerifier({ jwksUrl, jwksCache: { cooldownMs: 0 } });
    const { username, id } = await createUser(h);
    assert.equal((await verifier.verify((await login(h, username)).access)).user_id, id);
    h.auth.keyDirectory.rotate('EdDSA');
    const after = await login(h, username);
    assert.equal((await verifier.verify(after.access)).user_id, id);
  });

  it('refuses an HS256 token keyed with the published public key (algorithm confusion)', async () => {
    const verifier = createVerifier({ jwksUrl });
    const { username } = await createUser(h);
    const pair = await login(h, username);
    const { kid } = headerOf(pair.access) as { kid: string };
    const jwk = ((await (await fetch(jwksUrl)).json()) as { keys: Array<{ kid: string }> }).keys.find((k) => k.kid === kid);
    const pem = createPublicKey({ key: jwk as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${pair.access.split('.')[1]}`;
    const forged = `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
    assert.equal((await refusal(verifier.verify(forged))).code, 'token_not_valid');
  });

  it('answers 503 when the key server cannot be reached, not 401', async () => {
    const verifier = createVerifier({ jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json' });
    const { username } = await createUser(h);
    const error = await refusal(verifier.verify((await login(h, username)).access));
    assert.equal(error.status, 503);
    assert.equal(error.code, 'service_unavailable');
  });

  it('as a Fastify plugin: the principal on request.latchkey, Latchkey’s answers otherwise', async () => {
    const verifier = createVerifier({ jwksUrl });
    const app = Fastify();
    app.get('/public', async () => ({ ok: true }));
    await app.register(async (scope) => {
      await scope.register(latchkeyVerify, { verifier });
      scope.get('/orders', async (request) => request.latchkey);
    });
    try {
      const { username, id } = await createUser(h);
      const pair = await login(h, username);
      const ok = await app.inject({ method: 'GET', url: '/orders', headers: { authorization: `Bearer ${pair.access}` } });
      assert.equal(ok.statusCode, 200);
      assert.equal((ok.json() as VerifiedPrincipal).user_id, id);
      const none = await app.inject({ method: 'GET', url: '/orders' });
      assert.equal(none.statusCode, 401);
      assert.deepEqual(none.json(), { detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="api"');
      assert.equal((await app.inject({ method: 'GET', url: '/public' })).statusCode, 200, 'routes outside the scope are untouched');
    } finally {
      await app.close();
    }
  });

  it('as an Express-style middleware on a plain node:http server', async () => {
    const middleware = latchkeyMiddleware(createVerifier({ jwksUrl }));
    const server: Server = createServer((request, response) => {
      middleware(request, response, (error) => {
        if (error) throw error;
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify((request as { latchkey?: VerifiedPrincipal }).latchkey));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
      const { username, id } = await createUser(h);
      const pair = await login(h, username);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${pair.access}` } });
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as VerifiedPrincipal).user_id, id);
      const bad = await fetch(url, { headers: { authorization: `Bearer ${pair.access}x` } });
      assert.equal(bad.status, 401);
      assert.equal(((await bad.json()) as { code: string }).code, 'token_not_valid');
    } finally {
      server.close();
    }
  });
});
