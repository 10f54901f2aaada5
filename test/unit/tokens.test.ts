/**
 * tokens/codec.ts (compact JWS, HS256) and tokens/service.ts (claims, expiry,
 * type, issuer, audience), without a database.
 */
import { createHmac, createSecretKey } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Config } from '../../src/config.ts';
import { TokenError, type TokenFailure } from '../../src/errors.ts';
import { JTI_PATTERN, newJti, type TokenClaims } from '../../src/tokens/claims.ts';
import { CodecError, MAX_TOKEN_BYTES, decode, encode, type CodecFailure, type Payload, type VerificationKey } from '../../src/tokens/codec.ts';
import { hmacKeySet, keyId, type KeySet } from '../../src/tokens/keys.ts';
import { TokenService } from '../../src/tokens/service.ts';

type TokenSettings = Pick<Config, 'leeway' | 'jwtIssuer' | 'jwtAudience' | 'userIdClaim'>;

const SECRET = 'unit-test-signing-key-at-least-32-bytes!!';
const OTHER_SECRET = 'another-unit-test-key-at-least-32-bytes!!';
const keys: KeySet = hmacKeySet(SECRET, 'HS256');
const key = keys.current;

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs any header and payload exactly as given. */
function signRaw(header: unknown, payload: unknown, secret = SECRET, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

function rejects(reason: CodecFailure, fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CodecError, `expected CodecError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    return true;
  });
}

const PAYLOAD: Payload = { token_type: 'access', exp: 2_000_000_000, iat: 1_999_999_100, jti: 'a'.repeat(32), user_id: 7, sid: 's1' };

describe('codec', () => {
  it('encode → decode round-trips the payload', () => {
    const token = encode(PAYLOAD, key);
    assert.deepEqual(decode(token, keys.all, key), PAYLOAD);
  });

  it('round-trips unicode, nesting and numbers', () => {
    const payload = { ...PAYLOAD, name: 'Ōtsuka 😀', nested: { a: [1, 2, { b: null }] }, big: 2 ** 53 - 1, neg: -1.5 };
    assert.deepEqual(decode(encode(payload, key), keys.all, key), payload);
  });

  it('is deterministic: the same payload and key give the same token', () => {
    assert.equal(encode(PAYLOAD, key), encode({ ...PAYLOAD }, key));
  });

  it('another payload or key gives another token', () => {
    assert.notEqual(encode(PAYLOAD, key), encode({ ...PAYLOAD, user_id: 8 }, key));
    assert.notEqual(encode(PAYLOAD, key), encode(PAYLOAD, hmacKeySet(OTHER_SECRET, 'HS256').current));
  });

  it('is compact JWS: three base64url segments, header {alg HS256, typ JWT, kid}, HMAC-SHA256 signature', () => {
    const token = encode(PAYLOAD, key);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    assert.equal(token.split('.').length, 3);
    for (const segment of [header, payload, signature]) assert.match(segment, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'HS256', typ: 'JWT', kid: key.kid });
    assert.deepEqual(JSON.parse(Buffer.from(payload, 'base64url').toString()), PAYLOAD);
    assert.equal(signature, createHmac('sha256', SECRET).update(`${header}.${payload}`).digest('base64url'));
  });

  it('kid is derived from the secret: stable, 16 characters, and not the secret', () => {
    assert.equal(keyId(SECRET), keyId(SECRET));
    assert.notEqual(keyId(SECRET), keyId(OTHER_SECRET));
    assert.equal(key.kid.length, 16);
    assert.ok(!SECRET.includes(key.kid));
    assert.equal(hmacKeySet(SECRET, 'HS256').current.kid, key.kid);
  });

  it('a token without kid is tried against the current key (tokens from SimpleJWT carry none)', () => {
    const token = signRaw({ alg: 'HS256', typ: 'JWT' }, PAYLOAD);
    assert.deepEqual(decode(token, keys.all, key), PAYLOAD);
  });

  it('verifies with any key of the set, by kid', () => {
    const old: VerificationKey = hmacKeySet(OTHER_SECRET, 'HS256').current;
    const all = new Map([...keys.all, [old.kid, old]]);
    assert.deepEqual(decode(encode(PAYLOAD, old), all, key), PAYLOAD);
  });

  describe('rejections, each with its reason', () => {
    const token = encode(PAYLOAD, key);
    const [header, payload, signature] = token.split('.') as [string, string, string];

    it(`too_large: over ${MAX_TOKEN_BYTES} characters, even when correctly signed`, () => {
      const big = encode({ ...PAYLOAD, pad: 'x'.repeat(MAX_TOKEN_BYTES) }, key);
      assert.ok(big.length > MAX_TOKEN_BYTES);
      rejects('too_large', () => decode(big, keys.all, key));
      rejects('too_large', () => decode('a'.repeat(MAX_TOKEN_BYTES + 1), keys.all, key));
    });

    it('a token of exactly MAX_TOKEN_BYTES is read (only longer ones are refused unread)', () => {
      // base64url lengths skip some values, so vary a header field and the payload padding until one lands exactly.
      let exact: string | undefined;
      for (let k = 0; k < 4 && !exact; k += 1) {
        const header = { alg: 'HS256', typ: 'JWT', kid: key.kid, x: 'y'.repeat(k) };
        const base = signRaw(header, { ...PAYLOAD, pad: '' }).length;
        const guess = Math.floor(((MAX_TOKEN_BYTES - base) * 3) / 4);
        for (let n = guess - 4; n <= guess + 4 && !exact; n += 1) {
          const t = signRaw(header, { ...PAYLOAD, pad: 'x'.repeat(n) });
          if (t.length === MAX_TOKEN_BYTES) exact = t;
        }
      }
      assert.ok(exact, 'found a token of exactly the limit');
      assert.equal(decode(exact, keys.all, key).token_type, 'access');
      rejects('too_large', () => decode(`${exact}A`, keys.all, key));
    });

    for (const [title, bad] of [
      ['one segment', 'abc'],
      ['two segments', `${header}.${payload}`],
      ['four segments', `${token}.x`],
      ['empty string', ''],
      ['empty segments', '..'],
      ['non-base64 header', `!!!.${payload}.${signature}`],
      ['padded header', `${header}==.${payload}.${signature}`],
      ['header not JSON', `${b64('nope')}.${payload}.${signature}`],
      ['header a JSON array', `${b64([1])}.${payload}.${signature}`],
      ['header JSON null', `${b64('null')}.${payload}.${signature}`],
      ['header a JSON string', `${b64('"HS256"')}.${payload}.${signature}`],
      ['non-base64 signature', `${header}.${payload}.***`],
    ] as const) {
      it(`malformed: ${title}`, () => rejects('malformed', () => decode(bad, keys.all, key)));
    }

    it('signature: a non-base64 payload fails the signature check before it is ever parsed', () => {
      rejects('signature', () => decode(`${header}.@@@.${signature}`, keys.all, key));
    });

    it('malformed: a correctly signed payload that is not a JSON object', () => {
      rejects('malformed', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: key.kid }, [PAYLOAD]), keys.all, key));
      rejects('malformed', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: key.kid }, 'not json'), keys.all, key));
      rejects('malformed', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: key.kid }, '42'), keys.all, key));
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.@@@`;
      rejects('malformed', () => decode(`${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`, keys.all, key));
    });

    for (const alg of ['none', 'None', 'NONE', 'HS512', 'HS384', 'RS256', 'ES256', 'EdDSA', '', 'hs256']) {
      it(`algorithm: alg ${JSON.stringify(alg)}`, () => {
        rejects('algorithm', () => decode(`${b64({ alg, typ: 'JWT', kid: key.kid })}.${payload}.`, keys.all, key));
        rejects('algorithm', () => decode(signRaw({ alg, typ: 'JWT', kid: key.kid }, PAYLOAD), keys.all, key));
      });
    }

    it('algorithm: no alg at all', () => {
      rejects('algorithm', () => decode(signRaw({ typ: 'JWT', kid: key.kid }, PAYLOAD), keys.all, key));
    });

    it('algorithm: an HS512 signature made with the right key', () => {
      rejects('algorithm', () => decode(signRaw({ alg: 'HS512', typ: 'JWT', kid: key.kid }, PAYLOAD, SECRET, 'sha512'), keys.all, key));
    });

    it('unknown_key: a kid not in the set, or not a string', () => {
      rejects('unknown_key', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: 'nope' }, PAYLOAD), keys.all, key));
      rejects('unknown_key', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: 1 }, PAYLOAD), keys.all, key));
      rejects('unknown_key', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: null }, PAYLOAD), keys.all, key));
      rejects('unknown_key', () => decode(encode(PAYLOAD, hmacKeySet(OTHER_SECRET, 'HS256').current), keys.all, key));
    });

    it('signature: tampered payload, signature kept', () => {
      rejects('signature', () => decode(`${header}.${b64({ ...PAYLOAD, user_id: 8 })}.${signature}`, keys.all, key));
    });

    it('signature: tampered header, signature kept', () => {
      rejects('signature', () => decode(`${b64({ alg: 'HS256', typ: 'JWT', kid: key.kid, x: 1 })}.${payload}.${signature}`, keys.all, key));
    });

    it('signature: signed with another secret under our kid, or without a kid', () => {
      rejects('signature', () => decode(signRaw({ alg: 'HS256', typ: 'JWT', kid: key.kid }, PAYLOAD, OTHER_SECRET), keys.all, key));
      rejects('signature', () => decode(signRaw({ alg: 'HS256', typ: 'JWT' }, PAYLOAD, OTHER_SECRET), keys.all, key));
    });

    it('signature: empty, truncated, extended or flipped', () => {
      rejects('signature', () => decode(`${header}.${payload}.`, keys.all, key));
      rejects('signature', () => decode(`${header}.${payload}.${signature.slice(0, -2)}`, keys.all, key));
      rejects('signature', () => decode(`${header}.${payload}.${signature}AA`, keys.all, key));
      const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
      rejects('signature', () => decode(`${header}.${payload}.${flipped}`, keys.all, key));
    });

    it('a CodecError never carries the token or the secret in its message', () => {
      try {
        decode(`${header}.${b64({ ...PAYLOAD, user_id: 8 })}.${signature}`, keys.all, key);
        assert.fail('should throw');
      } catch (error) {
        assert.ok(error instanceof CodecError);
        assert.ok(!error.message.includes(signature));
        assert.ok(!error.message.includes(SECRET));
        assert.equal(error.name, 'CodecError');
      }
    });
  });
});

describe('claims', () => {
  it('newJti is 32 lowercase hex characters, as SimpleJWT’s uuid4().hex', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i += 1) {
      const jti = newJti();
      assert.match(jti, /^[0-9a-f]{32}$/);
      assert.match(jti, JTI_PATTERN);
      assert.equal(jti[12], '4', 'a version-4 uuid');
      seen.add(jti);
    }
    assert.equal(seen.size, 200);
  });
});

describe('TokenService', () => {
  const settings: TokenSettings = { leeway: 0, jwtIssuer: undefined, jwtAudience: undefined, userIdClaim: 'user_id' };
  const service = (overrides: Partial<TokenSettings> = {}) => new TokenService(keys, { ...settings, ...overrides });
  const NOW = 1_900_000_000_000; // ms, on a whole second
  const claims = (overrides: Partial<TokenClaims> = {}): TokenClaims => ({
    tokenType: 'access',
    iat: NOW / 1000,
    exp: NOW / 1000 + 300,
    jti: newJti(),
    userId: 42,
    sid: '0190f0c8-0000-7000-8000-000000000001',
    role: 'client',
    accountId: null,
    ...overrides,
  });

  /** A refused token: `token_not_valid`, and SimpleJWT's reason when one is given. */
  function invalid(fn: () => unknown, reason?: TokenFailure): void {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof TokenError, `expected TokenError, got ${String(error)}`);
      assert.equal(error.code, 'token_not_valid');
      if (reason !== undefined) assert.equal(error.reason, reason);
      return true;
    });
  }

  it('sign → verify round-trips the claims', () => {
    const c = claims();
    const issued = service().sign(c);
    assert.deepEqual(issued.claims, c);
    assert.equal(issued.expiresAt, c.exp * 1000);
    assert.deepEqual(service().verify(issued.token, 'access', NOW), c);
  });

  it('round-trips role and account_id, and null for both when absent', () => {
    const withBoth = claims({ role: 'admin', accountId: 9 });
    assert.deepEqual(service().verify(service().sign(withBoth).token, 'access', NOW), withBoth);
    const without = claims({ role: null, accountId: null });
    assert.deepEqual(service().verify(service().sign(without).token, 'access', NOW), without);
  });

  it('is deterministic: signing the same claims again gives the same token', () => {
    const c = claims();
    assert.equal(service().sign(c).token, service().sign({ ...c }).token);
  });

  it('writes SimpleJWT’s claim names, in SimpleJWT’s order, and omits null role/account_id', () => {
    const c = claims({ role: null });
    const payload = decode(service().sign(c).token, keys.all, key);
    assert.deepEqual(Object.keys(payload), ['token_type', 'exp', 'iat', 'jti', 'user_id', 'sid']);
    assert.deepEqual(payload, { token_type: 'access', exp: c.exp, iat: c.iat, jti: c.jti, user_id: 42, sid: c.sid });
  });

  it('writes role and account_id when set', () => {
    const payload = decode(service().sign(claims({ role: 'admin', accountId: 3 })).token, keys.all, key);
    assert.equal(payload.role, 'admin');
    assert.equal(payload.account_id, 3);
  });

  it('USER_ID_CLAIM renames the user claim both ways', () => {
    const renamed = service({ userIdClaim: 'uid' });
    const token = renamed.sign(claims()).token;
    const payload = decode(token, keys.all, key);
    assert.equal(payload.uid, 42);
    assert.ok(!('user_id' in payload));
    assert.equal(renamed.verify(token, 'access', NOW).userId, 42);
    invalid(() => service().verify(token, 'access', NOW));
  });

  describe('token type', () => {
    it('access is accepted as access and as any', () => {
      const token = service().sign(claims()).token;
      assert.equal(service().verify(token, 'access', NOW).tokenType, 'access');
      assert.equal(service().verify(token, 'any', NOW).tokenType, 'access');
    });

    it('refresh is accepted as refresh and as any', () => {
      const token = service().sign(claims({ tokenType: 'refresh' })).token;
      assert.equal(service().verify(token, 'refresh', NOW).tokenType, 'refresh');
      assert.equal(service().verify(token, 'any', NOW).tokenType, 'refresh');
    });

    it('an access token is never a refresh token, nor the reverse', () => {
      invalid(() => service().verify(service().sign(claims()).token, 'refresh', NOW));
      invalid(() => service().verify(service().sign(claims({ tokenType: 'refresh' })).token, 'access', NOW));
    });
  });

  describe('expiry and LEEWAY, at the exact boundary', () => {
    const c = claims();
    const expMs = c.exp * 1000;

    it('valid 1 ms before exp, refused at exp (PyJWT: exp <= now is expired)', () => {
      const token = service().sign(c).token;
      assert.equal(service().verify(token, 'access', expMs - 1).jti, c.jti);
      invalid(() => service().verify(token, 'access', expMs));
      invalid(() => service().verify(token, 'access', expMs + 1));
    });

    it('LEEWAY=5s: valid until exp + 5s - 1 ms, refused at exp + 5s', () => {
      const lenient = service({ leeway: 5000 });
      const token = lenient.sign(c).token;
      assert.equal(lenient.verify(token, 'access', expMs).jti, c.jti);
      assert.equal(lenient.verify(token, 'access', expMs + 4999).jti, c.jti);
      invalid(() => lenient.verify(token, 'access', expMs + 5000));
    });
  });

  describe('issuer and audience', () => {
    const strict = service({ jwtIssuer: 'https://auth.example.com', jwtAudience: 'api' });

    it('are written when configured and then required', () => {
      const token = strict.sign(claims()).token;
      const payload = decode(token, keys.all, key);
      assert.equal(payload.iss, 'https://auth.example.com');
      assert.equal(payload.aud, 'api');
      assert.equal(strict.verify(token, 'access', NOW).userId, 42);
    });

    it('a token without iss/aud is refused where they are configured', () => {
      invalid(() => strict.verify(service().sign(claims()).token, 'access', NOW));
    });

    it('a wrong iss or aud is refused', () => {
      invalid(() => strict.verify(service({ jwtIssuer: 'https://evil.example.com', jwtAudience: 'api' }).sign(claims()).token, 'access', NOW));
      invalid(() => strict.verify(service({ jwtIssuer: 'https://auth.example.com', jwtAudience: 'other' }).sign(claims()).token, 'access', NOW));
    });

    it('an aud array containing ours is accepted (RFC 7519 §4.1.3)', () => {
      const token = encode({ ...decode(service().sign(claims()).token, keys.all, key), iss: 'https://auth.example.com', aud: ['x', 'api'] }, key);
      assert.equal(strict.verify(token, 'access', NOW).userId, 42);
    });

    it('without JWT_ISSUER/JWT_AUDIENCE, tokens carrying them are still accepted', () => {
      assert.equal(service().verify(strict.sign(claims()).token, 'access', NOW).userId, 42);
    });
  });

  describe('malformed claims (correctly signed) are token_not_valid, with SimpleJWT’s reason', () => {
    const base = (): Payload => decode(service().sign(claims()).token, keys.all, key);
    const cases: Array<[string, (p: Payload) => Payload, TokenFailure]> = [
      ['token_type missing', ({ token_type: _, ...p }) => p, 'wrong_type'],
      ['token_type unknown', (p) => ({ ...p, token_type: 'id' }), 'wrong_type'],
      ['exp missing', ({ exp: _, ...p }) => p, 'no_exp'],
      ['exp a string', (p) => ({ ...p, exp: String(p.exp) }), 'invalid'],
      ['exp a float', (p) => ({ ...p, exp: (p.exp as number) + 0.5 }), 'invalid'],
      ['iat missing', ({ iat: _, ...p }) => p, 'invalid'],
      ['jti missing', ({ jti: _, ...p }) => p, 'no_id'],
      ['jti a number', (p) => ({ ...p, jti: 1 }), 'no_id'],
      ['sid missing on an access token', ({ sid: _, ...p }) => p, 'invalid'],
      ['sid a number', (p) => ({ ...p, sid: 1 }), 'invalid'],
      ['user_id missing', ({ user_id: _, ...p }) => p, 'no_user_id'],
      ['role a number', (p) => ({ ...p, role: 1 }), 'invalid'],
      ['account_id a string', (p) => ({ ...p, account_id: '3' }), 'invalid'],
    ];
    for (const [title, change, reason] of cases) {
      it(`${title} → ${reason}`, () => invalid(() => service().verify(encode(change(base()), key), 'any', NOW), reason));
    }

    it('a wrong type is SimpleJWT’s "wrong_type"', () => {
      invalid(() => service().verify(service().sign(claims()).token, 'refresh', NOW), 'wrong_type');
    });

    it('a user_id of digits names the same user as the number, as Django casts it', () => {
      assert.equal(service().verify(encode({ ...base(), user_id: '42' }, key), 'any', NOW).userId, 42);
      assert.equal(service().verify(encode({ ...base(), user_id: '0042' }, key), 'any', NOW).userId, 42);
    });

    it('nbf or iat in the future beyond LEEWAY is refused, as PyJWT refuses it; within LEEWAY it passes', () => {
      const seconds = NOW / 1000;
      invalid(() => service().verify(encode({ ...base(), nbf: seconds + 1 }, key), 'any', NOW), 'invalid');
      invalid(() => service().verify(encode({ ...base(), iat: seconds + 1 }, key), 'any', NOW), 'invalid');
      invalid(() => service().verify(encode({ ...base(), nbf: 'soon' }, key), 'any', NOW), 'invalid');
      assert.equal(service().verify(encode({ ...base(), nbf: seconds }, key), 'any', NOW).userId, 42);
      const lenient = service({ leeway: 30_000 });
      assert.equal(lenient.verify(encode({ ...base(), nbf: seconds + 30, iat: seconds + 30 }, key), 'any', NOW).userId, 42);
      invalid(() => lenient.verify(encode({ ...base(), nbf: seconds + 31 }, key), 'any', NOW), 'invalid');
      invalid(() => lenient.verify(encode({ ...base(), iat: seconds + 31 }, key), 'any', NOW), 'invalid');
    });

    for (const [title, userId] of [['a float', 4.2], ['unsafe', 2 ** 60], ['negative', -1], ['a word', 'ann'], ['a list', [42]], ['a digit string too long', '9'.repeat(20)]] as const) {
      it(`user_id ${title} names no user: user_not_found`, () => {
        assert.throws(() => service().verify(encode({ ...base(), user_id: userId }, key), 'any', NOW), { code: 'user_not_found' });
      });
    }

    it('codec failures surface as token_not_valid too', () => {
      invalid(() => service().verify('garbage', 'any', NOW));
      invalid(() => service().verify('a'.repeat(MAX_TOKEN_BYTES + 1), 'any', NOW));
      invalid(() => service().verify(encode(base(), hmacKeySet(OTHER_SECRET, 'HS256').current), 'any', NOW));
      invalid(() => service().verify(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(base())}.`, 'any', NOW));
    });
  });

  describe("SimpleJWT's own tokens: no sid, no kid", () => {
    /** A token as SimpleJWT signs it with Latchkey's key: header without kid, payload without sid. */
    const django = (tokenType: 'access' | 'refresh', extra: Payload = {}) =>
      signRaw({ typ: 'JWT', alg: 'HS256' }, { token_type: tokenType, exp: NOW / 1000 + 300, iat: NOW / 1000, jti: 'b'.repeat(32), user_id: 9, ...extra });

    it('a refresh token verifies as legacy, with an empty sid, as refresh and as any', () => {
      const expected: TokenClaims = { tokenType: 'refresh', exp: NOW / 1000 + 300, iat: NOW / 1000, jti: 'b'.repeat(32), userId: 9, sid: '', role: null, accountId: null, legacy: true };
      assert.deepEqual(service().verify(django('refresh'), 'refresh', NOW), expected);
      assert.deepEqual(service().verify(django('refresh'), 'any', NOW), expected);
    });

    it('an access token is refused', () => {
      invalid(() => service().verify(django('access'), 'access', NOW));
      invalid(() => service().verify(django('access'), 'any', NOW));
    });

    it('Latchkey refresh tokens are never legacy; a legacy one is still checked for expiry, signature and a string sid', () => {
      const ours = service().verify(service().sign(claims({ tokenType: 'refresh' })).token, 'refresh', NOW);
      assert.equal(ours.legacy, undefined);
      invalid(() => service().verify(django('refresh', { exp: NOW / 1000 }), 'refresh', NOW));
      invalid(() => service().verify(django('refresh', { sid: null }), 'refresh', NOW));
      const forged = signRaw({ typ: 'JWT', alg: 'HS256' }, { token_type: 'refresh', exp: NOW / 1000 + 300, iat: NOW / 1000, jti: 'b'.repeat(32), user_id: 9 }, OTHER_SECRET);
      invalid(() => service().verify(forged, 'refresh', NOW));
    });
  });

  it('verification uses the secret it was built with (createSecretKey), not the kid alone', () => {
    const forgedKey: VerificationKey = { kid: key.kid, algorithm: 'HS256', secret: createSecretKey(Buffer.from(OTHER_SECRET)) };
    invalid(() => service().verify(encode(decode(service().sign(claims()).token, keys.all, key), forgedKey), 'any', NOW));
  });
});
