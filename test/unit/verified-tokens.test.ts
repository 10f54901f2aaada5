/**
 * tokens/verified.ts: the cache of tokens whose signature was checked, as
 * TokenService uses it — a hit is only that exact string, the claims are
 * checked at every use, a change of keys empties it, and it stays bounded.
 */
import { createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenError } from '../../src/errors.ts';
import { hmacKeySet, type KeySet } from '../../src/tokens/keys.ts';
import { TokenService } from '../../src/tokens/service.ts';
import { VerifiedTokens } from '../../src/tokens/verified.ts';

const SECRET = 'unit-test-signing-key-at-least-32-bytes!!';
const OTHER_SECRET = 'another-unit-test-key-at-least-32-bytes!!';
const SETTINGS = { leeway: 0, jwtIssuer: undefined, jwtAudience: undefined, userIdClaim: 'user_id' };
const NOW = 1_999_999_200_000;

function claims(jti: string, exp = 2_000_000_000) {
  return { tokenType: 'access' as const, exp, iat: 1_999_999_100, jti, userId: 7, sid: 's1', role: null, accountId: null };
}

/** A key set whose keys can be swapped, as KeyRing does on a reload. */
function swappable(secret: string): KeySet & { swap(secret: string): void } {
  let keys = hmacKeySet(secret, 'HS256');
  return {
    get current() {
      return keys.current;
    },
    get all() {
      return keys.all;
    },
    swap(next: string) {
      keys = hmacKeySet(next, 'HS256');
    },
  };
}

const refusedAs = (reason: string) => (error: unknown) => error instanceof TokenError && error.reason === reason;

describe('verified tokens', () => {
  it('a token checked once is still refused once it has expired', () => {
    const tokens = new TokenService(hmacKeySet(SECRET, 'HS256'), SETTINGS);
    const { token } = tokens.sign(claims('a'.repeat(32), 1_999_999_300));
    assert.equal(tokens.verify(token, 'access', NOW).jti, 'a'.repeat(32));
    assert.throws(() => tokens.verify(token, 'access', 1_999_999_300_000), refusedAs('invalid'));
    assert.throws(() => tokens.verify(token, 'refresh', NOW), refusedAs('wrong_type'));
  });

  it('only the exact string hits: a token with its signature altered after a good check is refused', () => {
    const tokens = new TokenService(hmacKeySet(SECRET, 'HS256'), SETTINGS);
    const { token } = tokens.sign(claims('b'.repeat(32)));
    tokens.verify(token, 'access', NOW);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'AB' : 'AA'}`;
    assert.throws(() => tokens.verify(flipped, 'access', NOW), refusedAs('invalid'));
    // The same claims signed with another key: same header and payload, another signature.
    const input = `${header}.${payload}`;
    const forged = `${input}.${createHmac('sha256', OTHER_SECRET).update(input).digest('base64url')}`;
    assert.throws(() => tokens.verify(forged, 'access', NOW), refusedAs('invalid'));
  });

  it('a change of keys drops what was checked under the old ones', () => {
    const keys = swappable(SECRET);
    const tokens = new TokenService(keys, SETTINGS);
    const { token } = tokens.sign(claims('c'.repeat(32)));
    assert.equal(tokens.verify(token, 'access', NOW).userId, 7);
    keys.swap(OTHER_SECRET);
    assert.throws(() => tokens.verify(token, 'access', NOW), refusedAs('invalid'));
  });

  it('holds at most its size, the oldest out first, and nothing at size 0', () => {
    const keys = {};
    const cache = new VerifiedTokens(2);
    assert.equal(cache.get('t1', keys), undefined);
    cache.add('t1', keys, { n: 1 });
    cache.add('t2', keys, { n: 2 });
    cache.add('t3', keys, { n: 3 });
    assert.equal(cache.get('t1', keys), undefined);
    assert.deepEqual([cache.get('t2', keys), cache.get('t3', keys)], [{ n: 2 }, { n: 3 }]);
    assert.ok(Object.isFrozen(cache.get('t2', keys)));
    const none = new VerifiedTokens(0);
    none.get('t', keys);
    none.add('t', keys, { n: 1 });
    assert.equal(none.get('t', keys), undefined);
  });
});
