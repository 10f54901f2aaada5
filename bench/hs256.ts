/**
 * The micro-measurement behind HS256 on node:crypto (see src/tokens/codec.ts):
 * 20,000 verifications of one HS256 token with jose's jwtVerify against
 * createHmac + timingSafeEqual, in µs per verification.
 *
 *   npm install --no-save jose && node --import tsx bench/hs256.ts && npm install
 *
 * jose is not a dependency of Latchkey: without it this prints why and exits 0.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decode, type VerificationKey } from '../src/tokens/codec.ts';
import { hmacKeySet } from '../src/tokens/keys.ts';

const N = 20_000;
const WARMUP = 2_000;
const ROUNDS = 5;
const IN_FLIGHT = 64;
const SECRET = 'bench-signing-key-0123456789-abcdefghijklmnopqrs';

/** The part of jose this file uses, typed loosely so typecheck passes without jose installed. */
interface JoseLike {
  jwtVerify(token: string, key: Uint8Array | KeyObject, options: { algorithms: string[] }): Promise<{ payload: Record<string, unknown> }>;
}

async function loadJose(): Promise<JoseLike | undefined> {
  const specifier = 'jose';
  try {
    return (await import(specifier)) as unknown as JoseLike;
  } catch {
    return undefined;
  }
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A Latchkey-shaped access token, signed here so nothing but node:crypto is needed to make it. */
function makeToken(key: VerificationKey & { secret: KeyObject }): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'HS256', typ: 'JWT', kid: key.kid };
  const payload = { token_type: 'access', exp: now + 3600, iat: now, jti: 'a'.repeat(32), user_id: 1, sid: '0190c0de-0000-7000-8000-000000000000' };
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${createHmac('sha256', key.secret).update(input).digest('base64url')}`;
}

/** Verification as codec.ts does it, reduced to its core: HMAC, constant-time compare, parse, exp. */
function verifyWithNodeCrypto(token: string, secret: KeyObject): Record<string, unknown> {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) throw new Error('malformed');
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const actual = Buffer.from(signature, 'base64url');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new Error('bad signature');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) throw new Error('expired');
  return claims;
}

/**
 * Median over rounds of the mean µs per operation. `inFlight` > 1 runs that many
 * operations at once (Promise.all per batch): jose's HMAC goes through WebCrypto,
 * which completes on libuv's thread pool, so one-at-a-time mostly measures the
 * thread hop, while a server has many requests in flight.
 */
async function time(name: string, op: () => unknown, inFlight = 1): Promise<{ name: string; micros: number }> {
  const run = async (count: number) => {
    for (let done = 0; done < count; done += inFlight) {
      if (inFlight === 1) await op();
      else await Promise.all(Array.from({ length: Math.min(inFlight, count - done) }, op));
    }
  };
  await run(WARMUP);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    await run(N);
    rounds.push(((performance.now() - start) * 1000) / N);
  }
  rounds.sort((a, b) => a - b);
  return { name, micros: rounds[Math.floor(ROUNDS / 2)] ?? NaN };
}

async function main(): Promise<void> {
  const jose = await loadJose();
  if (!jose) {
    console.log('bench/hs256.ts: skipped — jose is not installed (it is not a Latchkey dependency).');
    console.log('To run it: npm install --no-save jose && node --import tsx bench/hs256.ts && npm install');
    return;
  }
  const keys = hmacKeySet(SECRET, 'HS256');
  const token = makeToken(keys.current as VerificationKey & { secret: KeyObject });
  const raw = new TextEncoder().encode(SECRET);
  const keyObject = createSecretKey(Buffer.from(SECRET));

  // Every contender must accept the token before it is timed.
  const subject = (claims: Record<string, unknown>) => claims.sid;
  const want = subject(verifyWithNodeCrypto(token, keyObject));
  const checks = [
    subject((await jose.jwtVerify(token, raw, { algorithms: ['HS256'] })).payload),
    subject((await jose.jwtVerify(token, keyObject, { algorithms: ['HS256'] })).payload),
    subject(decode(token, keys.all, keys.current)),
  ];
  if (checks.some((value) => value !== want)) throw new Error('a verifier disagreed about the token');

  const joseVersion = await import('node:module').then(({ createRequire }) => {
    try {
      return (createRequire(import.meta.url)('jose/package.json') as { version: string }).version;
    } catch {
      return 'unknown';
    }
  });
  console.log(`node ${process.version}, jose ${joseVersion}; ${N} verifications × ${ROUNDS} rounds (median), after ${WARMUP} warm-up`);

  const results = [
    await time('jose jwtVerify, secret as Uint8Array', () => jose.jwtVerify(token, raw, { algorithms: ['HS256'] })),
    await time('jose jwtVerify, secret as KeyObject', () => jose.jwtVerify(token, keyObject, { algorithms: ['HS256'] })),
    await time(`jose jwtVerify, Uint8Array, ${IN_FLIGHT} in flight`, () => jose.jwtVerify(token, raw, { algorithms: ['HS256'] }), IN_FLIGHT),
    await time('node:crypto createHmac + timingSafeEqual', () => verifyWithNodeCrypto(token, keyObject)),
    await time("Latchkey's codec decode() (same, plus checks)", () => decode(token, keys.all, keys.current)),
  ];
  const fastest = Math.min(...results.map((r) => r.micros));
  const width = Math.max(...results.map((r) => r.name.length));
  console.log(`| ${'verifier'.padEnd(width)} |  µs/op | × fastest |`);
  console.log(`|-${'-'.repeat(width)}-|-------:|----------:|`);
  for (const r of results) console.log(`| ${r.name.padEnd(width)} | ${r.micros.toFixed(2).padStart(6)} | ${(r.micros / fastest).toFixed(1).padStart(9)} |`);
}

await main();
