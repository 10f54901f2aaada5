/**
 * Hostile input, generated (fast-check): arbitrary bodies, content types,
 * headers, query strings and tokens thrown at every route. Never a 500,
 * always a DRF-shaped body, and a rejected request changes nothing in the
 * database. Runs are bounded so the file stays well under a minute.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT' | 'OPTIONS';

/** Every route, with `{id}` for a path id. */
const ROUTES: Array<{ method: Method; url: string }> = [
  { method: 'POST', url: '/auth/login/' },
  { method: 'POST', url: '/auth/token/' },
  { method: 'POST', url: '/auth/refresh/' },
  { method: 'POST', url: '/auth/verify/' },
  { method: 'POST', url: '/auth/logout/' },
  { method: 'POST', url: '/auth/logout-all/' },
  { method: 'GET', url: '/auth/sessions/' },
  { method: 'DELETE', url: '/auth/sessions/{id}/' },
  { method: 'GET', url: '/auth/me/' },
  { method: 'PATCH', url: '/auth/me/' },
  { method: 'POST', url: '/auth/register/' },
  { method: 'POST', url: '/auth/change-password/' },
  { method: 'POST', url: '/admin/invalidate-all-tokens/' },
  { method: 'GET', url: '/admin/users/' },
  { method: 'POST', url: '/admin/users/' },
  { method: 'GET', url: '/admin/users/{id}/' },
  { method: 'PATCH', url: '/admin/users/{id}/' },
  { method: 'DELETE', url: '/admin/users/{id}/' },
  { method: 'POST', url: '/admin/users/{id}/logout/' },
  { method: 'GET', url: '/admin/accounts/' },
  { method: 'POST', url: '/admin/accounts/' },
  { method: 'GET', url: '/admin/accounts/{id}/' },
  { method: 'PATCH', url: '/admin/accounts/{id}/' },
  { method: 'DELETE', url: '/admin/accounts/{id}/' },
  { method: 'GET', url: '/admin/audit-events/' },
  { method: 'GET', url: '/healthz' },
  { method: 'GET', url: '/readyz' },
  { method: 'POST', url: '/auth/mfa/verify/' },
  { method: 'GET', url: '/auth/mfa/' },
  { method: 'POST', url: '/auth/mfa/totp/' },
  { method: 'DELETE', url: '/auth/mfa/totp/' },
  { method: 'POST', url: '/auth/mfa/totp/confirm/' },
  { method: 'POST', url: '/auth/mfa/recovery-codes/' },
  { method: 'DELETE', url: '/auth/mfa/devices/{id}/' },
];

const FIELDS = ['username', 'email', 'password', 'refresh', 'refresh_token', 'token', 'old_password', 'new_password', 'first_name', 'last_name', 'role', 'is_staff', 'is_active', 'account_id', 'name', 'password_needs_reset', 'mfa_token', 'code', 'recovery_code', 'device_token', 'remember_device'];

const scalar = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\u0000', 'ａlice', 'a@b.co', '1e400', '-1', '99999999999999999999', 'null', 'true'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), scalar, { maxKeys: 3 }));
const objectBody = fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 10 })), value, { maxKeys: 6 });
const jsonBody = fc.oneof({ weight: 4, arbitrary: objectBody }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
const contentType = fc.constantFrom(
  'application/json', 'application/json; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x',
  'text/plain', 'application/xml', 'application/json; charset=latin1', '', '*/*', 'application/jso\u006e;;;',
);
const queryString = fc.dictionary(fc.constantFrom('page', 'page_size', 'search', 'user_id', 'type', 'since', 'until', 'x'), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('last', '0', '-3', '1e9', '99999999999999999999', '2026-13-45T00:00:00Z')), { maxKeys: 4 });
const pathId = fc.oneof(fc.constantFrom('1', '2', '0', '-1', '99999999999', 'abc', '%20', '1'.repeat(40)), fc.nat({ max: 50 }).map(String));

/** A request body as bytes: JSON, form, or raw garbage, whatever the content type says. */
function encode(body: unknown, type: string, raw: string | undefined): string {
  if (raw !== undefined) return raw;
  if (type.startsWith('application/x-www-form-urlencoded') && body && typeof body === 'object' && !Array.isArray(body)) {
    return new URLSearchParams(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString();
  }
  return JSON.stringify(body) ?? '';
}

/** DRF's shapes: `{detail, code}` (+ `messages`), or `{field: [messages]}`. */
function drfShaped(status: number, body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const record = body as Record<string, unknown>;
  if (typeof record.detail === 'string' && typeof record.code === 'string') return true;
  return Object.keys(record).length > 0 && Object.values(record).every((v) => Array.isArray(v) && v.every((m) => typeof m === 'string')) && status === 400;
}

for (const name of storeNames()) {
  describe(`hostile input, generated (${name})`, () => {
    let h: Harness;
    let tokens: string[];
    /** A signed-in administrator and user; made again when a generated request logged them out or demoted them. */
    async function freshTokens(): Promise<void> {
      const admin = await createUser(h, { isStaff: true });
      const user = await createUser(h);
      const a = await login(h, admin.username);
      const u = await login(h, user.username);
      tokens = [a.access, u.access, a.refresh, `${a.access.slice(0, -3)}abc`];
    }
    async function stillValid(): Promise<boolean> {
      try {
        const principal = h.auth.authenticate(tokens[0] ?? '');
        await h.auth.admin.authorize(principal);
        h.auth.authenticate(tokens[1] ?? '');
        return true;
      } catch {
        return false;
      }
    }
    before(async () => {
      // Remembered devices on, so `device_token` and `remember_device` are read, not ignored.
      h = await harness(name, { env: { MFA_REMEMBER_DEVICE_DAYS: '30' } });
      await freshTokens();
    });
    after(() => h.close());

    /** Everything but the audit trail (a refused login is recorded there, as it should be). */
    async function fingerprint(): Promise<string> {
      const { rows } = await sql<{ f: string }>`
        select concat_ws('/',
          (select md5(coalesce(string_agg(u::text, '|' order by u.id), '')) from users u),
          (select md5(coalesce(string_agg(s::text, '|' order by s.id), '')) from sessions s),
          (select md5(coalesce(string_agg(r::text, '|' order by r.jti), '')) from refresh_tokens r),
          (select md5(coalesce(string_agg(a::text, '|' order by a.id), '')) from accounts a),
          (select md5(coalesce(string_agg(m::text, '|' order by m.user_id), '')) from user_mfa m),
          (select md5(coalesce(string_agg(c::text, '|' order by c.id), '')) from mfa_recovery_codes c),
          (select md5(coalesce(string_agg(t::text, '|' order by t.token_hash), '')) from mfa_tokens t),
          (select md5(coalesce(string_agg(d::text, '|' order by d.id), '')) from mfa_remembered_devices d)) as f`.execute(h.store.db);
      return rows[0]?.f ?? '';
    }

    it('every route: never a 500, always DRF-shaped errors, and a refused request changes nothing', async () => {
      const request = fc.record({
        route: fc.constantFrom(...ROUTES),
        method: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom<Method>('PUT', 'OPTIONS', 'DELETE', 'GET') }),
        id: pathId,
        body: jsonBody,
        raw: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', '{"a":', '[1,', 'null', '"x"', '%%%', 'a=1&a=2&a')) }),
        type: fc.oneof({ weight: 3, arbitrary: fc.constant('application/json') }, { weight: 2, arbitrary: contentType }),
        query: queryString,
        // Mostly a valid administrator's or user's token, so authenticated routes read their bodies too.
        auth: fc.option(
          fc.oneof(
            { weight: 4, arbitrary: fc.constant(0) },
            { weight: 2, arbitrary: fc.constant(1) },
            { weight: 1, arbitrary: fc.constantFrom(2, 3) },
          ).map((i) => `Bearer ${tokens[i]}`)
            .chain((valid) => fc.oneof({ weight: 4, arbitrary: fc.constant(valid) }, fc.string({ maxLength: 40 }), fc.constantFrom('Bearer', 'Bearer a b', 'Basic x', 'bearer x'))),
          { freq: 4 },
        ),
        language: fc.option(fc.constantFrom('fr', 'fr-CA;q=0.9, en;q=0.1', '*', 'xx', ';;;'), { freq: 2 }),
      });
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          if (!(await stillValid())) await freshTokens();
          const before = await fingerprint();
          const url = `${r.route.url.replace('{id}', r.id)}${Object.keys(r.query).length ? `?${new URLSearchParams(r.query)}` : ''}`;
          const method = r.method ?? r.route.method;
          const hasBody = method !== 'GET' && method !== 'OPTIONS';
          const response = await h.app.inject({
            method,
            url,
            headers: {
              ...(hasBody && r.type ? { 'content-type': r.type } : {}),
              ...(r.auth ? { authorization: r.auth } : {}),
              ...(r.language ? { 'accept-language': r.language } : {}),
            },
            ...(hasBody ? { payload: encode(r.body, r.type, r.raw ?? undefined) } : {}),
          });
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          assert.ok(response.statusCode < 500 || response.statusCode === 503, `${method} ${url}: ${response.statusCode} ${response.body}`);
          if (response.statusCode >= 400) {
            assert.ok(drfShaped(response.statusCode, response.json()), `${method} ${url}: ${response.statusCode} ${response.body}`);
            if (response.statusCode !== 401 || !/^\/auth\/(refresh|logout)/.test(url)) {
              assert.equal(await fingerprint(), before, `${method} ${url} → ${response.statusCode} changed the database`);
            }
          }
        }),
        { numRuns: name === 'pglite' ? 300 : 150, seed: Number(process.env.FC_SEED ?? 20261202), endOnFailure: true },
      );
      console.log(`# statuses seen: ${[...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    });
  });
}
