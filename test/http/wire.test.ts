/**
 * The wire: routes and aliases, body parsing, DRF error shapes, the 401
 * challenge, and forged or broken tokens. Runs on every store.
 */
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse as Response } from 'fastify';
import { keyId } from '../../src/tokens/keys.ts';
import {
  TEST_SIGNING_KEY,
  bearer,
  claimsOf,
  createUser,
  harness,
  headerOf,
  login,
  manualClock,
  storeNames,
  type Harness,
  TOKEN_NOT_VALID,
  NO_USER_ID,
  WRONG_TYPE,
  credentialNotValid,
  tokenNotValid,
  NOT_AUTHENTICATED,
  NO_ACTIVE_ACCOUNT,
  NOT_FOUND,
} from '../support/harness.ts';

const REQUIRED = 'This field is required.';
const BLANK = 'This field may not be blank.';
const NULL = 'This field may not be null.';
const NOT_STRING = 'Not a valid string.';
const CHALLENGE = 'Bearer realm="api"';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';

function send(h: Harness, method: Method, url: string, payload?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return h.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
}

/** A raw body with an explicit content type. */
function raw(h: Harness, url: string, body: string, contentType: string, headers: Record<string, string> = {}): Promise<Response> {
  return h.app.inject({ method: 'POST', url, payload: body, headers: { 'content-type': contentType, ...headers } });
}

function assert401(response: Response, body: Record<string, unknown>): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.deepEqual(response.json(), body);
  assert.equal(response.headers['www-authenticate'], CHALLENGE);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs any header and payload with HMAC, exactly as given: for forging tokens. */
function signRaw(header: unknown, payload: unknown, secret = TEST_SIGNING_KEY, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

const REAL_KID = keyId(TEST_SIGNING_KEY);
const HS256 = { alg: 'HS256', typ: 'JWT', kid: REAL_KID };

for (const name of storeNames()) {
  describe(`wire (${name})`, () => {
    let h: Harness;
    let user: { username: string; id: number };
    before(async () => {
      h = await harness(name);
      user = await createUser(h);
    });
    after(() => h.close());

    describe('routes and aliases', () => {
      const loginPaths = ['/auth/login', '/auth/token', '/api/token'];
      const refreshPaths = ['/auth/refresh', '/auth/token/refresh', '/api/token/refresh'];
      const verifyPaths = ['/auth/verify', '/auth/token/verify', '/api/token/verify'];
      const withAndWithoutSlash = (paths: string[]) => paths.flatMap((p) => [p, `${p}/`]);

      for (const url of withAndWithoutSlash(loginPaths)) {
        it(`POST ${url} logs in`, async () => {
          const response = await send(h, 'POST', url, { username: user.username, password: 'correct horse battery staple' });
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json();
          assert.equal(claimsOf(body.access).token_type, 'access');
          assert.equal(claimsOf(body.refresh).token_type, 'refresh');
        });
      }

      for (const url of withAndWithoutSlash(refreshPaths)) {
        it(`POST ${url} refreshes`, async () => {
          const { refresh } = await login(h, user.username);
          const response = await send(h, 'POST', url, { refresh });
          assert.equal(response.statusCode, 200, response.body);
          assert.deepEqual(Object.keys(response.json()).sort(), ['access', 'access_expires_at', 'refresh', 'refresh_expires_at']);
        });
      }

      for (const url of withAndWithoutSlash(verifyPaths)) {
        it(`POST ${url} verifies`, async () => {
          const { access } = await login(h, user.username);
          const response = await send(h, 'POST', url, { token: access });
          assert.equal(response.statusCode, 200, response.body);
          assert.deepEqual(response.json(), {});
        });
      }

      for (const url of withAndWithoutSlash(['/auth/logout', '/auth/token/blacklist'])) {
        it(`POST ${url} answers (400 without a token, 200 {} with one)`, async () => {
          const missing = await send(h, 'POST', url, {});
          assert.equal(missing.statusCode, 400);
          assert.deepEqual(missing.json(), { refresh: [REQUIRED] });
          const { refresh } = await login(h, user.username);
          const ok = await send(h, 'POST', url, { refresh });
          assert.equal(ok.statusCode, 200, ok.body);
          assert.deepEqual(ok.json(), {});
        });
      }

      for (const [method, url] of [
        ['POST', '/auth/logout-all'],
        ['GET', '/auth/sessions'],
        ['DELETE', '/auth/sessions/0190f0c8-0000-7000-8000-000000000000'],
        ['GET', '/auth/me'],
        ['PATCH', '/auth/me'],
      ] as const) {
        for (const path of [url, `${url}/`]) {
          it(`${method} ${path} exists and wants credentials`, async () => {
            assert401(await send(h, method, path, method === 'GET' || method === 'DELETE' ? undefined : {}), NOT_AUTHENTICATED);
          });
        }
      }

      for (const url of ['/auth/me', '/auth/me/']) {
        it(`GET ${url} answers with a token`, async () => {
          const { access } = await login(h, user.username);
          const response = await send(h, 'GET', url, undefined, bearer(access));
          assert.equal(response.statusCode, 200, response.body);
          assert.equal(response.json().username, user.username);
        });
      }

      for (const url of ['/auth/sessions', '/auth/sessions/']) {
        it(`GET ${url} answers with a token`, async () => {
          const { access } = await login(h, user.username);
          const response = await send(h, 'GET', url, undefined, bearer(access));
          assert.equal(response.statusCode, 200, response.body);
          assert.ok(Array.isArray(response.json()));
        });
      }

      for (const url of ['/healthz', '/healthz/']) {
        it(`GET ${url} → 200 {"status":"ok"}`, async () => {
          const response = await send(h, 'GET', url);
          assert.equal(response.statusCode, 200);
          assert.deepEqual(response.json(), { status: 'ok' });
        });
      }

      for (const url of ['/readyz', '/readyz/']) {
        it(`GET ${url} → 200 {"status":"ready"}`, async () => {
          const response = await send(h, 'GET', url);
          assert.equal(response.statusCode, 200);
          assert.deepEqual(response.json(), { status: 'ready' });
        });
      }

      it('GET /docs/openapi.json describes the API, login included', async () => {
        const response = await send(h, 'GET', '/docs/openapi.json');
        assert.equal(response.statusCode, 200);
        const doc = response.json();
        assert.equal(typeof doc.openapi, 'string');
        assert.match(doc.openapi, /^3\./);
        const paths = Object.keys(doc.paths).map((p) => p.replace(/\/$/, ''));
        for (const path of [
          '/auth/login', '/auth/refresh', '/auth/verify', '/auth/logout', '/auth/me', '/auth/register', '/auth/change-password',
          '/admin/users', '/admin/users/{id}', '/admin/users/{id}/logout', '/admin/accounts', '/admin/accounts/{id}',
          '/admin/audit-events', '/admin/invalidate-all-tokens',
        ]) {
          assert.ok(paths.includes(path), `${path} in paths: ${paths.join(', ')}`);
        }
        assert.ok(doc.paths[Object.keys(doc.paths).find((p) => p.replace(/\/$/, '') === '/auth/login') ?? ''].post);
      });

      for (const [method, url] of [
        ['GET', '/nope'],
        ['GET', '/auth/nope/'],
        ['POST', '/auth/nope/'],
        ['GET', '/'],
        ['POST', '/auth/token/nope/'],
      ] as const) {
        it(`${method} ${url} → 404 {"detail":"Not found.","code":"not_found"}`, async () => {
          const response = await send(h, method, url, method === 'POST' ? {} : undefined);
          assert.equal(response.statusCode, 404);
          assert.deepEqual(response.json(), NOT_FOUND);
        });
      }
    });

    describe('wrong method on a known path', () => {
      for (const [method, url, allow] of [
        ['GET', '/auth/login/', 'POST, OPTIONS'],
        ['GET', '/api/token/refresh', 'POST, OPTIONS'],
        ['POST', '/healthz', 'GET, HEAD, OPTIONS'],
      ] as const) {
        it(`${method} ${url} → 405 with Allow: ${allow}, as DRF answers`, async () => {
          const response = await send(h, method, url, method === 'GET' ? undefined : {});
          assert.equal(response.statusCode, 405);
          assert.equal(response.headers.allow, allow);
          assert.deepEqual(response.json(), { detail: `Method "${method}" not allowed.`, code: 'method_not_allowed' });
        });
      }
    });

    describe('bodies', () => {
      it('JSON body logs in', async () => {
        const response = await raw(h, '/auth/login/', JSON.stringify({ username: user.username, password: 'correct horse battery staple' }), 'application/json');
        assert.equal(response.statusCode, 200, response.body);
      });

      it('JSON body with a charset logs in', async () => {
        const response = await raw(
          h,
          '/auth/login/',
          JSON.stringify({ username: user.username, password: 'correct horse battery staple' }),
          'application/json; charset=utf-8',
        );
        assert.equal(response.statusCode, 200, response.body);
      });

      it('form body (application/x-www-form-urlencoded) logs in, refreshes and verifies', async () => {
        const form = new URLSearchParams({ username: user.username, password: 'correct horse battery staple' }).toString();
        const logged = await raw(h, '/auth/login/', form, 'application/x-www-form-urlencoded');
        assert.equal(logged.statusCode, 200, logged.body);
        const { refresh, access } = logged.json();
        const refreshed = await raw(h, '/auth/refresh/', new URLSearchParams({ refresh }).toString(), 'application/x-www-form-urlencoded');
        assert.equal(refreshed.statusCode, 200, refreshed.body);
        const verified = await raw(h, '/auth/verify/', new URLSearchParams({ token: access }).toString(), 'application/x-www-form-urlencoded');
        assert.equal(verified.statusCode, 200, verified.body);
        assert.deepEqual(verified.json(), {});
      });

      it('form body with missing fields → per-field required lists', async () => {
        const response = await raw(h, '/auth/login/', '', 'application/x-www-form-urlencoded');
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { username: [REQUIRED], password: [REQUIRED] });
      });

      for (const body of ['{"username":', '{username: "a"}', "{'a': 1}", '{"a":1,}', 'nope', '{"a":"\\x"}']) {
        it(`malformed JSON ${JSON.stringify(body)} → 400 parse_error`, async () => {
          const response = await raw(h, '/auth/login/', body, 'application/json');
          assert.equal(response.statusCode, 400);
          const json = response.json();
          assert.deepEqual(Object.keys(json).sort(), ['code', 'detail']);
          assert.equal(json.code, 'parse_error');
          assert.ok(json.detail.startsWith('JSON parse error - '), json.detail);
        });
      }

      it('text/plain → 415 with DRF’s exact body', async () => {
        const response = await raw(h, '/auth/login/', 'username=a', 'text/plain');
        assert.equal(response.statusCode, 415);
        assert.equal(response.body, '{"detail":"Unsupported media type \\"text/plain\\" in request.","code":"unsupported_media_type"}');
      });

      it('application/xml → 415 naming the type', async () => {
        const response = await raw(h, '/auth/login/', '<a/>', 'application/xml');
        assert.equal(response.statusCode, 415);
        assert.deepEqual(response.json(), { detail: 'Unsupported media type "application/xml" in request.', code: 'unsupported_media_type' });
      });

      it('an empty JSON body reads as {} (fields required)', async () => {
        const response = await raw(h, '/auth/login/', '', 'application/json');
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { username: [REQUIRED], password: [REQUIRED] });
      });

      it('no body at all reads as {} (fields required)', async () => {
        const response = await send(h, 'POST', '/auth/login/');
        assert.equal(response.statusCode, 400);
        assert.deepEqual(response.json(), { username: [REQUIRED], password: [REQUIRED] });
      });

    });

    describe('field errors (DRF per-field lists)', () => {
      const cases: Array<[string, string, unknown, Record<string, string[]>]> = [
        ['login: both missing', '/auth/login/', {}, { username: [REQUIRED], password: [REQUIRED] }],
        ['login: password missing', '/auth/login/', { username: 'a' }, { password: [REQUIRED] }],
        ['login: username missing', '/auth/login/', { password: 'a' }, { username: [REQUIRED] }],
        ['login: blank', '/auth/login/', { username: '', password: '' }, { username: [BLANK], password: [BLANK] }],
        ['login: whitespace username is blank', '/auth/login/', { username: '   ', password: 'x' }, { username: [BLANK] }],
        ['login: booleans', '/auth/login/', { username: true, password: false }, { username: [NOT_STRING], password: [NOT_STRING] }],
        ['login: objects', '/auth/login/', { username: {}, password: { a: 1 } }, { username: [NOT_STRING], password: [NOT_STRING] }],
        ['login: arrays', '/auth/login/', { username: ['a'], password: [] }, { username: [NOT_STRING], password: [NOT_STRING] }],
        ['login: nulls', '/auth/login/', { username: null, password: null }, { username: [NULL], password: [NULL] }],
        ['login: mixed', '/auth/login/', { username: null, password: '' }, { username: [NULL], password: [BLANK] }],
        ['refresh: missing', '/auth/refresh/', {}, { refresh: [REQUIRED] }],
        ['refresh: blank', '/auth/refresh/', { refresh: '' }, { refresh: [BLANK] }],
        ['refresh: boolean', '/auth/refresh/', { refresh: true }, { refresh: [NOT_STRING] }],
        ['refresh: object', '/auth/refresh/', { refresh: {} }, { refresh: [NOT_STRING] }],
        ['refresh: array', '/auth/refresh/', { refresh: ['x'] }, { refresh: [NOT_STRING] }],
        ['refresh: null', '/auth/refresh/', { refresh: null }, { refresh: [NULL] }],
        ['verify: missing', '/auth/verify/', {}, { token: [REQUIRED] }],
        ['verify: blank', '/auth/verify/', { token: '' }, { token: [BLANK] }],
        ['verify: boolean', '/auth/verify/', { token: false }, { token: [NOT_STRING] }],
        ['verify: object', '/auth/verify/', { token: { a: 'b' } }, { token: [NOT_STRING] }],
        ['verify: array', '/auth/verify/', { token: [] }, { token: [NOT_STRING] }],
        ['verify: null', '/auth/verify/', { token: null }, { token: [NULL] }],
        ['logout: none of refresh, refresh_token, Bearer', '/auth/logout/', {}, { refresh: [REQUIRED] }],
        ['logout: empty strings', '/auth/logout/', { refresh: '', refresh_token: '' }, { refresh: [REQUIRED] }],
      ];
      for (const [title, url, body, expected] of cases) {
        it(`${title} → 400 ${JSON.stringify(expected)}`, async () => {
          const response = await send(h, 'POST', url, body);
          assert.equal(response.statusCode, 400, response.body);
          assert.deepEqual(response.json(), expected);
        });
      }

      for (const url of ['/auth/login/', '/auth/refresh/', '/auth/verify/']) {
        it(`${url}: a JSON array body → 400 non_field_errors`, async () => {
          const response = await raw(h, url, '[1, 2]', 'application/json');
          assert.equal(response.statusCode, 400);
          assert.deepEqual(response.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
        });
      }

      // DRF's CharField refuses NUL characters (ProhibitNullCharactersValidator); PostgreSQL cannot store them.
      it('login: a NUL character in username → 400 {"username": ["Null characters are not allowed."]}, not 500', async () => {
        const response = await send(h, 'POST', '/auth/login/', { username: 'a\u0000b', password: 'x' });
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(response.json(), { username: ['Null characters are not allowed.'] });
      });

      it('login: a NUL character in an email identifier → 400 with a field list, not 500', async () => {
        const response = await send(h, 'POST', '/auth/login/', { email: 'a\u0000b@example.com', password: 'x' });
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(Object.values(response.json()), [['Null characters are not allowed.']]);
      });

      it('login: a NUL character in a form-encoded username → 400, not 500', async () => {
        const response = await raw(h, '/auth/login/', 'username=a%00b&password=x', 'application/x-www-form-urlencoded');
        assert.equal(response.statusCode, 400, response.body);
        assert.deepEqual(response.json(), { username: ['Null characters are not allowed.'] });
      });

      it('unknown fields are ignored', async () => {
        const response = await send(h, 'POST', '/auth/login/', { username: user.username, password: 'correct horse battery staple', extra: 1 });
        assert.equal(response.statusCode, 200, response.body);
      });
    });

    describe('authentication header and 401s', () => {
      it('no_active_account carries the challenge', async () => {
        assert401(await send(h, 'POST', '/auth/login/', { username: user.username, password: 'wrong' }), NO_ACTIVE_ACCOUNT);
      });

      it('not_authenticated carries the challenge', async () => {
        assert401(await send(h, 'GET', '/auth/me/'), NOT_AUTHENTICATED);
      });

      it('token_not_valid carries the challenge, in SimpleJWT’s authenticated-route shape', async () => {
        assert401(await send(h, 'GET', '/auth/me/', undefined, bearer('garbage')), credentialNotValid());
      });

      it('"Authorization: Bearer" without a token → 401 bad_authorization_header', async () => {
        const response = await send(h, 'GET', '/auth/me/', undefined, { authorization: 'Bearer' });
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().code, 'bad_authorization_header');
        assert.equal(response.headers['www-authenticate'], CHALLENGE);
      });

      it('"Authorization: Bearer a b" → 401 bad_authorization_header', async () => {
        const response = await send(h, 'GET', '/auth/me/', undefined, { authorization: 'Bearer a b' });
        assert.equal(response.statusCode, 401);
        assert.equal(response.json().code, 'bad_authorization_header');
        assert.equal(response.headers['www-authenticate'], CHALLENGE);
      });

      for (const authorization of ['Basic dXNlcjpwYXNz', 'Token abc', 'JWT abc', 'bearer-ish', '']) {
        it(`"Authorization: ${authorization}" is no credentials → 401 not_authenticated`, async () => {
          assert401(await send(h, 'GET', '/auth/me/', undefined, { authorization }), NOT_AUTHENTICATED);
        });
      }

      it('logout with a bad refresh token → 401 token_not_valid', async () => {
        assert401(await send(h, 'POST', '/auth/logout/', { refresh: 'garbage' }), TOKEN_NOT_VALID);
      });

      it('logout with a bad Bearer token and no body → 401 token_not_valid', async () => {
        assert401(await send(h, 'POST', '/auth/logout/', {}, bearer('garbage')), credentialNotValid());
      });

      it('logout with an access token as refresh → 401 token_not_valid "Token has wrong type"', async () => {
        const { access } = await login(h, user.username);
        assert401(await send(h, 'POST', '/auth/logout/', { refresh: access }), tokenNotValid(WRONG_TYPE));
      });
    });

    describe('forged and broken tokens', () => {
      let access: string;
      let refresh: string;
      before(async () => {
        ({ access, refresh } = await login(h, user.username));
      });

      const OTHER_KEY = 'another-signing-key-that-is-32-bytes-or-more';
      /** Each forgery is made from a genuine token `t` (and `other`, a genuine token of the other type). */
      type Forge = (t: string, other: string) => string;
      const payloadOf = (t: string) => t.split('.')[1] ?? '';
      const forged: Array<[string, Forge]> = [
        ['alg none with an empty signature', (t) => `${b64({ alg: 'none', typ: 'JWT' })}.${payloadOf(t)}.`],
        ['alg none keeping the kid', (t) => `${b64({ alg: 'none', typ: 'JWT', kid: REAL_KID })}.${payloadOf(t)}.`],
        ['alg "None"', (t) => `${b64({ alg: 'None', typ: 'JWT', kid: REAL_KID })}.${payloadOf(t)}.`],
        ['no alg at all', (t) => signRaw({ typ: 'JWT', kid: REAL_KID }, claimsOf(t))],
        [
          'tampered payload (user_id changed, signature kept)',
          (t) => {
            const [header, , signature] = t.split('.');
            return `${header}.${b64({ ...claimsOf(t), user_id: user.id + 1000 })}.${signature}`;
          },
        ],
        [
          'tampered payload (exp pushed out, signature kept)',
          (t) => {
            const [header, , signature] = t.split('.');
            const claims = claimsOf(t);
            return `${header}.${b64({ ...claims, exp: (claims.exp as number) + 3600 })}.${signature}`;
          },
        ],
        ['signed with another key (its own kid)', (t) => signRaw({ ...HS256, kid: keyId(OTHER_KEY) }, claimsOf(t), OTHER_KEY)],
        ['signed with another key (our kid)', (t) => signRaw(HS256, claimsOf(t), OTHER_KEY)],
        ['signed with another key (no kid)', (t) => signRaw({ alg: 'HS256', typ: 'JWT' }, claimsOf(t), OTHER_KEY)],
        ['HS512 header signed with our key', (t) => signRaw({ ...HS256, alg: 'HS512' }, claimsOf(t), TEST_SIGNING_KEY, 'sha512')],
        ['HS384 header signed with our key', (t) => signRaw({ ...HS256, alg: 'HS384' }, claimsOf(t), TEST_SIGNING_KEY, 'sha384')],
        ['RS256 header with an HMAC signature', (t) => signRaw({ ...HS256, alg: 'RS256' }, claimsOf(t))],
        ['unknown kid', (t) => signRaw({ ...HS256, kid: 'nope' }, claimsOf(t))],
        ['kid of the wrong type', (t) => signRaw({ ...HS256, kid: 42 }, claimsOf(t))],
        ['signature stripped', (t) => `${t.split('.').slice(0, 2).join('.')}.`],
        ['signature truncated', (t) => t.slice(0, -4)],
        ['signature of another token', (t, other) => `${t.split('.').slice(0, 2).join('.')}.${other.split('.')[2]}`],
        ['token_type missing', (t) => signRaw(HS256, { ...claimsOf(t), token_type: undefined })],
        ['token_type "id"', (t) => signRaw(HS256, { ...claimsOf(t), token_type: 'id' })],
        ['user_id missing', (t) => signRaw(HS256, { ...claimsOf(t), user_id: undefined })],
        ['exp a string', (t) => signRaw(HS256, { ...claimsOf(t), exp: String(claimsOf(t).exp) })],
        ['exp missing', (t) => signRaw(HS256, { ...claimsOf(t), exp: undefined })],
        ['sid missing', (t) => signRaw(HS256, { ...claimsOf(t), sid: undefined })],
        ['payload an array', (t) => signRaw(HS256, [claimsOf(t)])],
        ['payload a JSON string', () => signRaw(HS256, '"hello"')],
        ['payload not JSON', () => signRaw(HS256, 'not json')],
        ['header not JSON', (t) => `${b64('not json')}.${t.split('.').slice(1).join('.')}`],
        ['header an array', (t) => `${b64(['HS256'])}.${t.split('.').slice(1).join('.')}`],
        ['over 8 KiB, correctly signed', (t) => signRaw(HS256, { ...claimsOf(t), padding: 'x'.repeat(9000) })],
        ['non-base64 segments', () => '!!!.@@@.###'],
        ['non-base64 payload', (t) => `${t.split('.')[0]}.%%%%.${t.split('.')[2]}`],
        ['base64 with padding', (t) => `${t.split('.')[0]}==.${t.split('.').slice(1).join('.')}`],
        ['standard base64 alphabet', (t) => `${t.split('.').slice(0, 2).join('.')}.+/+/${t.split('.')[2]?.slice(4)}`],
        ['two segments', (t) => t.split('.').slice(0, 2).join('.')],
        ['four segments', (t) => `${t}.${t.split('.')[2]}`],
        ['empty segments', () => '..'],
        ['garbage', () => 'garbage'],
        ['dots only', () => '.....'],
        ['"null"', () => 'null'],
        ['eyJ prefixes', () => 'eyJ.eyJ.eyJ'],
        ['JWE-shaped (five segments)', () => 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aaaa.bbbb.cccc'],
      ];

      /** SimpleJWT's REASON for the forgeries it names otherwise than "Token is invalid or expired". */
      const reasons: Record<string, string> = {
        'token_type missing': WRONG_TYPE,
        'token_type "id"': WRONG_TYPE,
        'exp missing': "Token has no 'exp' claim",
      };
      for (const [title, forge] of forged) {
        const reason = reasons[title] ?? 'Token is invalid or expired';
        const noUserId = title === 'user_id missing';
        it(`GET /auth/me/ with ${title} → 401 token_not_valid "${noUserId ? NO_USER_ID.detail : reason}"`, async () => {
          const token = forge(access, refresh);
          if (title.startsWith('over 8 KiB')) assert.ok(token.length > 8192);
          assert401(await send(h, 'GET', '/auth/me/', undefined, bearer(token)), noUserId ? NO_USER_ID : credentialNotValid(reason));
        });
        it(`POST /auth/verify/ with ${title} (from an access token) → 401 token_not_valid`, async () => {
          assert401(await send(h, 'POST', '/auth/verify/', { token: forge(access, refresh) }), noUserId ? NO_USER_ID : tokenNotValid(reason));
        });
        it(`POST /auth/refresh/ with ${title} (from a refresh token) → 401 token_not_valid`, async () => {
          assert401(await send(h, 'POST', '/auth/refresh/', { refresh: forge(refresh, access) }), noUserId ? NO_USER_ID : tokenNotValid(reason));
        });
      }

      it('a user_id of digits names the same user, as Django casts it: me, verify and refresh work', async () => {
        const me = await send(h, 'GET', '/auth/me/', undefined, bearer(signRaw(HS256, { ...claimsOf(access), user_id: String(user.id) })));
        assert.deepEqual([me.statusCode, me.json().id], [200, user.id]);
        assert.equal((await send(h, 'POST', '/auth/verify/', { token: signRaw(HS256, { ...claimsOf(access), user_id: String(user.id) }) })).statusCode, 200);
      });

      it('a user_id that names nobody (a word, a fraction, a list, an unknown id) → 401 user_not_found, never 500', async () => {
        const USER_NOT_FOUND = { detail: 'User not found', code: 'user_not_found' };
        for (const userId of ['ann', 1.5, [user.id], -3, '12a', 987654321]) {
          const token = signRaw(HS256, { ...claimsOf(access), user_id: userId });
          assert401(await send(h, 'GET', '/auth/me/', undefined, bearer(token)), USER_NOT_FOUND);
          if (userId !== 987654321) assert401(await send(h, 'POST', '/auth/verify/', { token }), USER_NOT_FOUND);
        }
      });

      it('nbf or iat in the future → 401 "Token is invalid or expired"; nbf in the past passes', async () => {
        const now = Math.floor(Date.now() / 1000);
        for (const claim of ['nbf', 'iat']) {
          const token = signRaw(HS256, { ...claimsOf(access), [claim]: now + 120 });
          assert401(await send(h, 'GET', '/auth/me/', undefined, bearer(token)), credentialNotValid());
          assert401(await send(h, 'POST', '/auth/verify/', { token }), TOKEN_NOT_VALID);
        }
        assert.equal((await send(h, 'GET', '/auth/me/', undefined, bearer(signRaw(HS256, { ...claimsOf(access), nbf: now - 5 })))).statusCode, 200);
      });

      it('a token without jti → "Token has no id", in a body and from the header', async () => {
        assert401(await send(h, 'POST', '/auth/verify/', { token: signRaw(HS256, { ...claimsOf(access), jti: undefined }) }), tokenNotValid('Token has no id'));
        assert401(await send(h, 'GET', '/auth/me/', undefined, bearer(signRaw(HS256, { ...claimsOf(access), jti: undefined }))), credentialNotValid('Token has no id'));
      });

      it('the genuine tokens still work (the forgeries were refused on merit)', async () => {
        const me = await send(h, 'GET', '/auth/me/', undefined, bearer(access));
        assert.equal(me.statusCode, 200, me.body);
        const verifiedAccess = await send(h, 'POST', '/auth/verify/', { token: access });
        assert.equal(verifiedAccess.statusCode, 200, verifiedAccess.body);
        const verifiedRefresh = await send(h, 'POST', '/auth/verify/', { token: refresh });
        assert.equal(verifiedRefresh.statusCode, 200, verifiedRefresh.body);
      });

      it('an access token used as a refresh token on /auth/refresh/ → 401 "Token has wrong type"', async () => {
        assert401(await send(h, 'POST', '/auth/refresh/', { refresh: access }), tokenNotValid(WRONG_TYPE));
      });

      it('a refresh token used as an access token on /auth/me/ → 401, messages "Token has wrong type"', async () => {
        assert401(await send(h, 'GET', '/auth/me/', undefined, bearer(refresh)), credentialNotValid(WRONG_TYPE));
      });

      it('a refresh token used as an access token on PATCH /auth/me/ and /auth/logout-all/ → 401 "Token has wrong type"', async () => {
        assert401(await send(h, 'PATCH', '/auth/me/', { first_name: 'x' }, bearer(refresh)), credentialNotValid(WRONG_TYPE));
        assert401(await send(h, 'POST', '/auth/logout-all/', {}, bearer(refresh)), credentialNotValid(WRONG_TYPE));
      });

      it('the genuine access token carries HS256, typ JWT and our kid', () => {
        assert.deepEqual(headerOf(access), HS256);
      });

      it('a NUL character in a token field is refused as DRF refuses it: 400, never 500', async () => {
        const response = await send(h, 'POST', '/auth/verify/', { token: '\u0000.\u0000.\u0000' });
        assert.deepEqual([response.statusCode, response.json()], [400, { token: ['Null characters are not allowed.'] }]);
      });

      it('unicode, control characters and huge strings as tokens → 401, never 500', async () => {
        for (const token of ['ü.ü.ü', '\u0001.\u001f.\u007f', '𝔘.𝔘.𝔘', 'a'.repeat(9000), `${'a'.repeat(3000)}.${'b'.repeat(3000)}.${'c'.repeat(3000)}`]) {
          assert401(await send(h, 'POST', '/auth/verify/', { token }), TOKEN_NOT_VALID);
          assert401(await send(h, 'POST', '/auth/refresh/', { refresh: token }), TOKEN_NOT_VALID);
        }
      });
    });

    describe('no bad input is a 500', () => {
      const deep = (n: number) => `{"username":${'['.repeat(n)}${']'.repeat(n)},"password":"x"}`;
      const nasty: Array<[string, string]> = [
        ['application/json', '{'],
        ['application/json', '}'],
        ['application/json', '[]'],
        ['application/json', '[{"username":"a","password":"b"}]'],
        ['application/json', 'null'],
        ['application/json', 'true'],
        ['application/json', '0'],
        ['application/json', '-1e999'],
        ['application/json', '"string"'],
        ['application/json', '{"__proto__":{"isAdmin":true}}'],
        ['application/json', '{"constructor":{"prototype":{"isAdmin":true}}}'],
        ['application/json', '{"username":{"$gt":""},"password":{"$ne":null}}'],
        ['application/json', '{"username":"\' OR 1=1 --","password":"\' OR \'1\'=\'1"}'],
        ['application/json', '{"username":"a\\u0000b","password":"\\u0000"}'],
        ['application/json', '{"username":"\\ud800","password":"\\udfff"}'],
        ['application/json', '{"first_name":"a\\u0000b","last_name":"\\u0000"}'],
        ['application/json', '{"first_name":"\\ud800","last_name":"\\udfff"}'],
        ['application/json', '{"refresh":"\\ud800.\\ud800.\\ud800","token":"\\u0000.\\u0000.\\u0000"}'],
        ['application/json', `{"username":"${'x'.repeat(30000)}","password":"${'y'.repeat(30000)}"}`],
        ['application/json', deep(20000)],
        ['application/json', '{"username":1e400,"password":-0}'],
        ['application/json', '{"username":"a","password":"b","username":"c"}'],
        ['application/json', '\uFEFF{"username":"a","password":"b"}'],
        ['application/json', '   '],
        ['application/json', '{"refresh":"a.b.c","refresh_token":1,"first_name":[],"last_name":{}}'],
        ['application/json; charset=utf-16', '{"username":"a","password":"b"}'],
        ['application/json; charset=latin1', '{"username":"a","password":"b"}'],
        ['application/json;;;', '{}'],
        ['application/vnd.api+json', '{}'],
        ['application/x-www-form-urlencoded', 'username=a&username=b&password=c'],
        ['application/x-www-form-urlencoded', 'username[]=a&password[x]=b'],
        ['application/x-www-form-urlencoded', '%E0%A4%A&%%%=%%%'],
        ['application/x-www-form-urlencoded', '=&=&&&=='],
        ['application/x-www-form-urlencoded', '__proto__[x]=1&constructor[prototype][y]=2'],
        ['application/x-www-form-urlencoded', 'refresh=a.b.c&token=..&refresh_token=%00'],
        ['application/x-www-form-urlencoded', '{"username":"a","password":"b"}'],
        ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="username"\r\n\r\na\r\n--x--'],
        ['text/plain', 'hello'],
        ['text/html', '<script>'],
        ['application/octet-stream', '\u0000\u0001\u0002'],
        ['', '{"username":"a","password":"b"}'],
        ['garbage', 'x'],
        ['*/*', '{}'],
      ];
      const targets: Array<[Method, string]> = [
        ['POST', '/auth/login/'],
        ['POST', '/auth/refresh/'],
        ['POST', '/auth/verify/'],
        ['POST', '/auth/logout/'],
        ['POST', '/auth/logout-all/'],
        ['POST', '/auth/token/blacklist/'],
        ['PATCH', '/auth/me/'],
      ];
      for (const [method, url] of targets) {
        for (const withToken of [false, true]) {
          it(`${method} ${url}${withToken ? ' (with a Bearer token)' : ''}: every nasty body < 500`, async () => {
            let token = withToken ? (await login(h, user.username)).access : undefined;
            const failures: string[] = [];
            for (const [contentType, body] of nasty) {
              const headers: Record<string, string> = token ? bearer(token) : {};
              if (contentType) headers['content-type'] = contentType;
              const response = await h.app.inject({ method, url, payload: body, headers });
              const what = `${contentType} ${JSON.stringify(body.slice(0, 80))} → ${response.statusCode} ${response.body.slice(0, 200)}`;
              if (response.statusCode >= 500 || response.statusCode < 200) failures.push(what);
              else if (response.statusCode >= 400 && !isJson(response.body)) failures.push(`not JSON: ${what}`);
              // A body that logged the session out leaves the token dead: take a fresh one.
              if (token && url.includes('logout') && response.statusCode === 200) token = (await login(h, user.username)).access;
            }
            assert.deepEqual(failures, []);
          });
        }
      }

      it('the user survived every nasty body (still logs in, not escalated)', async () => {
        const response = await send(h, 'POST', '/auth/login/', { username: user.username, password: 'correct horse battery staple' });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().user.is_staff, false);
      });
    });
  });

  describe(`wire (${name}): BODY_LIMIT=1024`, () => {
    let small: Harness;
    before(async () => {
      small = await harness(name, { env: { BODY_LIMIT: '1024' } });
    });
    after(() => small.close());

    it('a JSON body over BODY_LIMIT → 413 payload_too_large', async () => {
      const response = await send(small, 'POST', '/auth/login/', { username: 'x'.repeat(2000), password: 'y' });
      assert.equal(response.statusCode, 413);
      assert.deepEqual(response.json(), { detail: 'Request body is too large.', code: 'payload_too_large' });
    });

    it('a form body over BODY_LIMIT → 413 payload_too_large', async () => {
      const response = await raw(small, '/auth/login/', `username=${'x'.repeat(2000)}&password=y`, 'application/x-www-form-urlencoded');
      assert.equal(response.statusCode, 413);
      assert.equal(response.json().code, 'payload_too_large');
    });

    it('a body under BODY_LIMIT is read', async () => {
      const response = await send(small, 'POST', '/auth/login/', { username: 'x'.repeat(500), password: 'y' });
      assert401(response, NO_ACTIVE_ACCOUNT);
    });
  });

  describe(`wire (${name}): expiry`, () => {
    let timed: Harness;
    let clock: ReturnType<typeof manualClock>;
    before(async () => {
      clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
      timed = await harness(name, { env: { ACCESS_TOKEN_LIFETIME: '60s', REFRESH_TOKEN_LIFETIME: '120s' }, clock });
    });
    after(() => timed.close());

    it('an access token past ACCESS_TOKEN_LIFETIME → 401 token_not_valid on /auth/me/ and /auth/verify/', async () => {
      const u = await createUser(timed);
      const { access } = await login(timed, u.username);
      assert.equal((await send(timed, 'GET', '/auth/me/', undefined, bearer(access))).statusCode, 200);
      clock.advance(59_999);
      assert.equal((await send(timed, 'GET', '/auth/me/', undefined, bearer(access))).statusCode, 200);
      clock.advance(1);
      assert401(await send(timed, 'GET', '/auth/me/', undefined, bearer(access)), credentialNotValid());
      assert401(await send(timed, 'POST', '/auth/verify/', { token: access }), TOKEN_NOT_VALID);
    });

    it('a refresh token past REFRESH_TOKEN_LIFETIME → 401 token_not_valid', async () => {
      const u = await createUser(timed);
      const { refresh } = await login(timed, u.username);
      clock.advance(121_000);
      assert401(await send(timed, 'POST', '/auth/refresh/', { refresh }), TOKEN_NOT_VALID);
      assert401(await send(timed, 'POST', '/auth/verify/', { token: refresh }), TOKEN_NOT_VALID);
    });
  });

  describe(`wire (${name}): AUTH_BASE_PATH`, () => {
    let moved: Harness;
    let movedUser: { username: string };
    before(async () => {
      moved = await harness(name, { env: { AUTH_BASE_PATH: '/api/v2' } });
      movedUser = await createUser(moved);
    });
    after(() => moved.close());

    const credentials = () => ({ username: movedUser.username, password: 'correct horse battery staple' });

    for (const url of ['/api/v2/login/', '/api/v2/login', '/api/v2/token/', '/api/token/']) {
      it(`POST ${url} logs in under /api/v2`, async () => {
        const response = await send(moved, 'POST', url, credentials());
        assert.equal(response.statusCode, 200, response.body);
      });
    }

    it('refresh, verify, me and logout move too', async () => {
      const { access, refresh } = (await send(moved, 'POST', '/api/v2/login/', credentials())).json();
      assert.equal((await send(moved, 'POST', '/api/v2/verify/', { token: access })).statusCode, 200);
      assert.equal((await send(moved, 'POST', '/api/v2/token/verify/', { token: access })).statusCode, 200);
      assert.equal((await send(moved, 'GET', '/api/v2/me/', undefined, bearer(access))).statusCode, 200);
      assert.equal((await send(moved, 'GET', '/api/v2/sessions/', undefined, bearer(access))).statusCode, 200);
      assert.equal((await send(moved, 'POST', '/api/v2/refresh/', { refresh })).statusCode, 200);
      assert.deepEqual((await send(moved, 'POST', '/api/v2/logout/', {})).json(), { refresh: [REQUIRED] });
      assert.deepEqual((await send(moved, 'POST', '/api/v2/token/blacklist/', {})).json(), { refresh: [REQUIRED] });
      assert401(await send(moved, 'POST', '/api/v2/logout-all/', {}), NOT_AUTHENTICATED);
    });

    for (const [method, url] of [
      ['POST', '/auth/login/'],
      ['POST', '/auth/token/'],
      ['POST', '/auth/refresh/'],
      ['POST', '/auth/verify/'],
      ['POST', '/auth/logout/'],
      ['GET', '/auth/me/'],
      ['GET', '/auth/sessions/'],
    ] as const) {
      it(`${method} ${url} is gone → 404`, async () => {
        const response = await send(moved, method, url, method === 'POST' ? credentials() : undefined);
        assert.equal(response.statusCode, 404);
        assert.deepEqual(response.json(), NOT_FOUND);
      });
    }

  });

  describe(`wire (${name}): AUTH_BASE_PATH=/api`, () => {
    it('builds although {base}/token/ and /api/token/ are then the same path, and logs in there', async () => {
      // Opened inside the test and closed before the next suite: never two PostgreSQL harnesses at once.
      const api = await harness(name, { env: { AUTH_BASE_PATH: '/api' } });
      try {
        const u = await createUser(api);
        const response = await send(api, 'POST', '/api/token/', { username: u.username, password: 'correct horse battery staple' });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal((await send(api, 'POST', '/api/login/', { username: u.username, password: 'correct horse battery staple' })).statusCode, 200);
      } finally {
        await api.close();
      }
    });
  });
}
