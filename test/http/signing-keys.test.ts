/**
 * Signing keys (SPEC §2): HS256/384/512 from SIGNING_KEY, RS256/ES256/EdDSA from
 * the key directory or JWT_PRIVATE_KEY_FILE; every token's kid selects its key;
 * JWKS; rotation without logouts; retirement; algorithm confusion; the
 * grace-window replay with every algorithm.
 */
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify } from 'jose';
import { createAuth } from '../../src/create-auth.ts';
import { ConfigError } from '../../src/errors.ts';
import { loadConfig } from '../../src/config.ts';
import { generatePrivateKey, jwkThumbprint, keyDirectoryPath, kidOf } from '../../src/tokens/key-directory.ts';
import { keyDirectory } from '../../src/tokens/keys.ts';
import { systemClock } from '../../src/clock.ts';
import {
  bearer, createUser, harness, headerOf, login, manualClock, openTestStore, storeNames, TOKEN_NOT_VALID, type Harness,
} from '../support/harness.ts';

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA'] as const;
const START = Date.parse('2026-11-22T10:00:00Z');

const me = (h: Harness, access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });
const refresh = (h: Harness, token: string) => h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: token } });
const jwks = (h: Harness) => h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });

function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'lk-keys-'));
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('key ids', () => {
  it('are RFC 7638 thumbprints, as jose computes them', async () => {
    for (const alg of ASYMMETRIC) {
      const key = generatePrivateKey(alg);
      const jwk = createPublicKey(key).export({ format: 'jwk' });
      assert.equal(jwkThumbprint(jwk), await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0]));
      assert.equal(kidOf(key), jwkThumbprint(jwk));
    }
  });
});

for (const name of storeNames()) {
  for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
    describe(`${alg} with SIGNING_KEY on ${name}`, () => {
      let h: Harness;
      before(async () => { h = await harness(name, { env: { JWT_ALGORITHM: alg } }); });
      after(() => h.close());

      it('signs with that algorithm, verifies, refreshes, and publishes no key', async () => {
        const { username } = await createUser(h);
        const pair = await login(h, username);
        assert.equal(headerOf(pair.access).alg, alg);
        assert.equal(typeof headerOf(pair.access).kid, 'string');
        assert.equal((await me(h, pair.access)).statusCode, 200);
        assert.equal((await refresh(h, pair.refresh)).statusCode, 200);
        const keys = await jwks(h);
        assert.equal(keys.statusCode, 200);
        assert.deepEqual(keys.json(), { keys: [] });
      });

      it('refuses an HS256 token when HS384/512 is configured, and the reverse', async () => {
        const { username } = await createUser(h);
        const pair = await login(h, username);
        const [header, payload] = pair.access.split('.') as [string, string];
        const other = alg === 'HS256' ? 'HS512' : 'HS256';
        const forgedHeader = b64({ ...headerOf(pair.access), alg: other });
        const hash = other === 'HS256' ? 'sha256' : 'sha512';
        const signature = createHmac(hash, 'test-signing-key-that-is-at-least-32-bytes-long').update(`${forgedHeader}.${payload}`).digest('base64url');
        assert.equal((await me(h, `${forgedHeader}.${payload}.${signature}`)).statusCode, 401);
        assert.ok(header);
      });
    });
  }

  for (const alg of ASYMMETRIC) {
    describe(`${alg} from the key directory on ${name}`, () => {
      const clock = manualClock(START);
      const dataDir = tempDataDir();
      let h: Harness;
      before(async () => {
        const config = loadConfig({ DATA_DIR: dataDir, JWT_ALGORITHM: alg });
        keyDirectory(config, clock).generate(alg);
        h = await harness(name, { env: { JWT_ALGORITHM: alg, DATA_DIR: dataDir }, clock });
      });
      after(async () => {
        await h.close();
        rmSync(dataDir, { recursive: true, force: true });
      });

      it('signs with the key, names it by kid, and publishes it at /.well-known/jwks.json', async () => {
        const { username } = await createUser(h);
        const pair = await login(h, username);
        const [key] = h.auth.keyDirectory.list();
        assert.deepEqual(headerOf(pair.access), { alg, typ: 'JWT', kid: key?.kid });
        assert.equal((await me(h, pair.access)).statusCode, 200);
        const response = await jwks(h);
        assert.equal(response.statusCode, 200);
        assert.equal(response.headers['cache-control'], 'public, max-age=300, stale-if-error=86400');
        const body = response.json() as { keys: Array<Record<string, unknown>> };
        assert.equal(body.keys.length, 1);
        assert.equal(body.keys[0]?.kid, key?.kid);
        assert.equal(body.keys[0]?.alg, alg);
        assert.equal(body.keys[0]?.use, 'sig');
        assert.equal(body.keys[0]?.d, undefined, 'no private part');
        // Any JOSE library verifies Latchkey's tokens with the published set.
        const { payload } = await jwtVerify(pair.access, createLocalJWKSet(body as Parameters<typeof createLocalJWKSet>[0]), { algorithms: [alg], currentDate: new Date(clock.now()) });
        assert.equal(payload.token_type, 'access');
      });

      it('gives the same successor pair to a spent refresh token inside the grace window (the same strings)', async () => {
        const { username } = await createUser(h);
        const pair = await login(h, username);
        const a = await refresh(h, pair.refresh);
        clock.advance(5_000);
        const b = await refresh(h, pair.refresh);
        assert.equal(a.statusCode, 200);
        assert.equal(b.body, a.body);
      });

      it('after a rotation: new tokens use the new key; old ones verify and refresh until the key is retired', async () => {
        const { username } = await createUser(h);
        const before = await login(h, username);
        const oldKid = headerOf(before.access).kid;
        const { current } = h.auth.keyDirectory.rotate(alg);
        assert.notEqual(current.kid, oldKid);
        const afterRotation = await login(h, username);
        assert.equal(headerOf(afterRotation.access).kid, current.kid);
        assert.equal((await me(h, before.access)).statusCode, 200, 'the old access token still verifies');
        const kids = ((await jwks(h)).json() as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort();
        assert.deepEqual(kids, [oldKid, current.kid].sort());
        const refreshed = await refresh(h, before.refresh);
        assert.equal(refreshed.statusCode, 200, 'the old refresh token still refreshes');
        assert.equal(headerOf(refreshed.json().access).kid, current.kid, 'into tokens of the new key');

        const other = await login(h, username);
        // A token of the old key, made before the rotation, for the retirement below.
        assert.equal(headerOf(other.access).kid, current.kid);
        h.auth.keyDirectory.retire(oldKid as string);
        const refused = await me(h, before.access);
        assert.equal(refused.statusCode, 401, 'a retired key verifies nothing');
        assert.equal(refused.json().code, 'token_not_valid');
        const kidsAfter = ((await jwks(h)).json() as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
        assert.deepEqual(kidsAfter, [current.kid]);
      });

      it('refuses to retire the current key', () => {
        const current = h.auth.keyDirectory.list().find((k) => k.status === 'current');
        assert.throws(() => h.auth.keyDirectory.retire(current?.kid ?? ''), /current signing key/);
      });

      it('stops verifying a replaced key once every token it signed has expired', async () => {
        const { username } = await createUser(h);
        const old = await login(h, username);
        const oldKid = headerOf(old.access).kid as string;
        h.auth.keyDirectory.rotate(alg);
        assert.equal(h.auth.keyDirectory.list().find((k) => k.kid === oldKid)?.status, 'verifying');
        clock.advance(7 * 86_400_000 + 1000);
        assert.equal(h.auth.keyDirectory.list().find((k) => k.kid === oldKid)?.status, 'expired');
        const refused = await refresh(h, old.refresh);
        assert.equal(refused.statusCode, 401);
        h.auth.keyDirectory.rotate(alg); // re-reads the keys now rather than on the 30-second timer
        assert.ok(!((await jwks(h)).json() as { keys: Array<{ kid: string }> }).keys.some((k) => k.kid === oldKid));
      });

      it('refuses an HS256 token keyed with the published public key (algorithm confusion)', async () => {
        const { username } = await createUser(h);
        const pair = await login(h, username);
        const { kid } = headerOf(pair.access) as { kid: string };
        const published = ((await jwks(h)).json() as { keys: Array<Record<string, string>> }).keys.find((k) => k.kid === kid);
        const pem = createPublicKey({ key: published as never, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
        const payload = pair.access.split('.')[1] as string;
        for (const header of [{ alg: 'HS256', typ: 'JWT', kid }, { alg: 'HS256', typ: 'JWT' }]) {
          for (const secret of [pem, JSON.stringify(published)]) {
            const input = `${b64(header)}.${payload}`;
            const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
            const response = await me(h, forged);
            assert.equal(response.statusCode, 401, JSON.stringify(header));
            const verify = await h.app.inject({ method: 'POST', url: '/auth/verify/', payload: { token: forged } });
            assert.deepEqual([verify.statusCode, verify.json()], [401, TOKEN_NOT_VALID]);
          }
        }
        const none = `${b64({ alg: 'none', typ: 'JWT', kid })}.${payload}.`;
        assert.equal((await me(h, none)).statusCode, 401);
      });

      it('writes key files owner-only, and never logs or lists key material', () => {
        const dir = keyDirectoryPath(dataDir);
        for (const file of readdirSync(dir)) {
          assert.match(file, /^[A-Za-z0-9_-]{43}\.json$/);
        }
        const listed = JSON.stringify(h.auth.keyDirectory.list());
        assert.ok(!listed.includes('"d"') && !listed.includes('"jwk"'));
      });
    });
  }

  describe(`JWT_PRIVATE_KEY_FILE on ${name}`, () => {
    const dataDir = tempDataDir();
    const files = ['ES256', 'ES256'].map((alg, i) => {
      const path = join(dataDir, `key${i}.pem`);
      writeFileSync(path, generatePrivateKey(alg as 'ES256').export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
      return path;
    });
    after(() => rmSync(dataDir, { recursive: true, force: true }));

    it('signs with the first file; after the files swap places, old tokens still verify', async () => {
      const store = await openTestStore(name);
      try {
        const first = await harness(name, { env: { JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY_FILE: files[0] as string, DATA_DIR: dataDir }, store });
        const { username } = await createUser(first);
        const old = await login(first, username);
        assert.equal(headerOf(old.access).kid, kidOf(createPrivateKey(readFileSync(files[0] as string))));
        await first.app.close();
        await first.auth.stop();
        const second = await harness(name, { env: { JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY_FILE: `${files[1]},${files[0]}`, DATA_DIR: dataDir }, store });
        assert.equal((await me(second, old.access)).statusCode, 200);
        assert.equal((await refresh(second, old.refresh)).statusCode, 200);
        const fresh = await login(second, username);
        assert.equal(headerOf(fresh.access).kid, kidOf(createPrivateKey(readFileSync(files[1] as string))));
        assert.equal(((await jwks(second)).json() as { keys: unknown[] }).keys.length, 2);
        await second.app.close();
        await second.auth.stop();
      } finally {
        await store.drop();
      }
    });
  });
}

describe('key configuration', () => {
  it('refuses to start an asymmetric algorithm without a key, naming JWT_PRIVATE_KEY_FILE', async () => {
    const dataDir = tempDataDir();
    const store = await openTestStore('pglite');
    try {
      const config = loadConfig({ NODE_ENV: 'production', JWT_ALGORITHM: 'EdDSA', DATA_DIR: dataDir });
      assert.throws(() => createAuth(config, { store }), (error: unknown) => error instanceof ConfigError && error.variable === 'JWT_PRIVATE_KEY_FILE');
    } finally {
      await store.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a key file of another algorithm, an unreadable file, or a non-key, without printing the content', () => {
    const dataDir = tempDataDir();
    try {
      const rsa = join(dataDir, 'rsa.pem');
      writeFileSync(rsa, generatePrivateKey('RS256').export({ format: 'pem', type: 'pkcs8' }));
      const junk = join(dataDir, 'junk.pem');
      writeFileSync(junk, 'not-a-key-SECRET-CONTENT');
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ JWT_PRIVATE_KEY_FILE: rsa }, /holds a RS256 key, but JWT_ALGORITHM is ES256/],
        [{ JWT_PRIVATE_KEY_FILE: join(dataDir, 'missing.pem') }, /cannot read .*missing\.pem \(ENOENT\)/],
        [{ JWT_PRIVATE_KEY_FILE: junk }, /not a PEM private key/],
      ];
      for (const [env, message] of cases) {
        const config = loadConfig({ JWT_ALGORITHM: 'ES256', DATA_DIR: dataDir, ...env });
        assert.throws(() => createAuth(config, { store: {} as never }), (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.variable, 'JWT_PRIVATE_KEY_FILE');
          assert.match(error.message, message);
          assert.ok(!error.message.includes('SECRET-CONTENT') && !error.message.includes('PRIVATE KEY'));
          return true;
        });
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('still requires SIGNING_KEY in production with HS256', () => {
    assert.throws(() => loadConfig({ NODE_ENV: 'production' }), (error: unknown) => error instanceof ConfigError && error.variable === 'SIGNING_KEY');
    assert.ok(systemClock);
  });
});
