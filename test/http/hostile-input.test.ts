/**
 * Hostile input, generated (fast-check): arbitrary bodies, content types,
 * headers, query strings and tokens thrown at every route. Never a 500,
 * always a DRF-shaped body, and a rejected request changes nothing in the
 * database. Second-factor codes get their own properties: wrong, short, long,
 * non-digit, unicode, reused and expired codes, and mfa_tokens that are expired,
 * forged or already spent by another client. Runs are bounded so the file stays
 * well under a minute.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import { PASSWORD, bearer, createUser, harness, login, manualClock, storeNames, type Harness } from '../support/harness.ts';

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
  { method: 'POST', url: '/admin/users/{id}/mfa/reset/' },
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
  { method: 'POST', url: '/auth/mfa/webauthn/options/' },
  { method: 'POST', url: '/auth/passkeys/register/options/' },
  { method: 'POST', url: '/auth/passkeys/register/' },
  { method: 'POST', url: '/auth/passkeys/login/options/' },
  { method: 'POST', url: '/auth/passkeys/login/' },
  { method: 'GET', url: '/auth/passkeys/' },
  { method: 'PATCH', url: '/auth/passkeys/{id}/' },
  { method: 'DELETE', url: '/auth/passkeys/{id}/' },
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

/** Hostile second-factor codes. `valid` are the codes an authenticator could show now (never generated). */
function hostileCode(valid: ReadonlySet<string>, known: { reused: string[]; expired: string[]; usedRecovery: string }) {
  const digits = (min: number, max: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));
  return fc.oneof(
    { weight: 3, arbitrary: digits(6, 6).filter((code) => !valid.has(code)) },
    digits(0, 5),
    digits(7, 80),
    fc.string({ maxLength: 70 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.constantFrom('１２３４５６', '١٢٣٤٥٦', '12\u00a0456', '123 456', '+12345', '-12345', '1e5', '0x1234', '\u0000\u0000', '123456\n', known.usedRecovery, known.usedRecovery.toLowerCase()),
    fc.constantFrom(...known.reused, ...known.expired),
    digits(6, 6).filter((code) => !valid.has(code)).map((code) => ` ${code} `),
  );
}

for (const name of storeNames()) {
  describe(`hostile second-factor codes, generated (${name})`, () => {
    const STEP_MS = 30_000;
    const clock = manualClock(Math.floor(Date.now() / STEP_MS) * STEP_MS + 5_000);
    const codeAt = (secret: string, at: number) => TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: at });
    let h: Harness;
    let other: Harness;
    let user: { id: number; username: string };
    let access: string;
    let tokens: { expired: string; spent: string };
    let valid: Set<string>;
    let known: { reused: string[]; expired: string[]; usedRecovery: string };

    const post = (app: Harness, url: string, payload: object, headers: Record<string, string> = {}) => app.app.inject({ method: 'POST', url, payload, headers });
    const challenge = async (app: Harness = h) => (await post(app, '/auth/login/', { username: user.username, password: PASSWORD })).json().mfa_token as string;

    before(async () => {
      h = await harness(name, { clock });
      // Another instance on the same database: the client that replays a spent mfa_token.
      other = await harness(name, { clock, store: h.store });
      user = await createUser(h);
      const first = await login(h, user.username);
      const secret = (await post(h, '/auth/mfa/totp/', { password: PASSWORD }, bearer(first.access))).json().secret as string;
      const confirmed = await post(h, '/auth/mfa/totp/confirm/', { code: codeAt(secret, clock.now()) }, bearer(first.access));
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const recoveryCodes = confirmed.json().recovery_codes as string[];
      clock.advance(STEP_MS);
      const expired = await challenge();
      clock.advance(6 * 60_000);
      // A success: its mfa_token and its code are spent.
      const spent = await challenge();
      const right = codeAt(secret, clock.now());
      const ok = await post(h, '/auth/mfa/verify/', { mfa_token: spent, code: right });
      assert.equal(ok.statusCode, 200, ok.body);
      access = ok.json().access as string;
      const recovered = await post(h, '/auth/mfa/verify/', { mfa_token: await challenge(), recovery_code: recoveryCodes[0]! });
      assert.equal(recovered.statusCode, 200, recovered.body);
      tokens = { expired, spent };
      // What an authenticator could show within the window (±1 step, and more for any drift): never generated as "wrong".
      valid = new Set([-3, -2, -1, 0, 1, 2, 3].map((k) => codeAt(secret, clock.now() + k * STEP_MS)));
      known = {
        reused: [right, codeAt(secret, clock.now() - STEP_MS)],
        expired: [codeAt(secret, clock.now() - 5 * STEP_MS), codeAt(secret, clock.now() - 12 * 60_000), codeAt(secret, clock.now() + 10 * STEP_MS)],
        usedRecovery: recoveryCodes[0]!,
      };
    });
    after(async () => {
      await other.close();
      await h.close();
    });

    /**
     * What a refused code must never change: users, sessions, factors, recovery
     * codes, the mfa_tokens that exist, the outbox. Left out: the counters a wrong
     * code must move (an mfa_token's attempts and burning, the user's failures and lock).
     */
    async function fingerprint(): Promise<string> {
      const { rows } = await sql<{ f: string }>`
        select concat_ws('/',
          (select md5(coalesce(string_agg(u::text, '|' order by u.id), '')) from users u),
          (select md5(coalesce(string_agg(s::text, '|' order by s.id), '')) from sessions s),
          (select md5(coalesce(string_agg(r::text, '|' order by r.jti), '')) from refresh_tokens r),
          (select md5(coalesce(string_agg(concat_ws(',', m.user_id, m.totp_secret, m.totp_pending_secret, m.totp_confirmed_at, m.totp_last_step, m.totp_drift, m.totp_last_used_at), '|' order by m.user_id), '')) from user_mfa m),
          (select md5(coalesce(string_agg(c::text, '|' order by c.id), '')) from mfa_recovery_codes c),
          (select md5(coalesce(string_agg(concat_ws(',', t.token_hash, t.user_id, t.expires_at), '|' order by t.token_hash), '')) from mfa_tokens t),
          (select count(*) from mail_outbox)) as f`.execute(h.store.db);
      return rows[0]?.f ?? '';
    }

    /** Each run starts unlocked, so the lock never hides what a code does. */
    const unlock = () => h.store.db.updateTable('user_mfa').set({ failures: 0, locked_until: null }).where('user_id', '=', user.id).execute();

    it('the second step: every hostile code or mfa_token is a DRF-shaped 4xx and logs nobody in', async () => {
      const statuses = new Map<string, number>();
      const request = fc.record({
        token: fc.oneof({ weight: 4, arbitrary: fc.constant('fresh') }, fc.constantFrom('expired', 'spent', 'forged')),
        proof: fc.oneof({ weight: 3, arbitrary: hostileCode(valid, known).map((code) => ({ code })) }, fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom(known.usedRecovery, 'AAAA-AAAA-AAAA', '')).map((recovery_code) => ({ recovery_code }))),
        elsewhere: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          await unlock();
          const mfaToken = r.token === 'fresh' ? await challenge() : r.token === 'forged' ? 'A'.repeat(43) : tokens[r.token];
          const before = await fingerprint();
          // "Elsewhere": another instance, another address and browser.
          const response = await post(r.elsewhere ? other : h, '/auth/mfa/verify/', { mfa_token: mfaToken, ...r.proof }, r.elsewhere ? { 'user-agent': 'Thief/1.0', 'x-forwarded-for': '203.0.113.9' } : {});
          const body = response.json();
          statuses.set(`${response.statusCode} ${body.code ?? Object.keys(body)[0]}`, (statuses.get(`${response.statusCode} ${body.code ?? Object.keys(body)[0]}`) ?? 0) + 1);
          assert.ok([400, 401, 429].includes(response.statusCode), `${JSON.stringify(r)} → ${response.statusCode} ${response.body}`);
          assert.ok(drfShaped(response.statusCode, body), response.body);
          if (r.token !== 'fresh') assert.equal(body.code, 'mfa_token_invalid', `${JSON.stringify(r)} → ${response.body}`);
          if (body.code === 'mfa_code_invalid') assert.equal(typeof body.attempts_left, 'number');
          assert.equal(await fingerprint(), before, `${JSON.stringify(r)} → ${response.statusCode} changed the database`);
        }),
        { numRuns: name === 'pglite' ? 120 : 60, seed: Number(process.env.FC_SEED ?? 20261202), endOnFailure: true },
      );
      console.log(`# answers: ${[...statuses].sort().map(([s, n]) => `${s}×${n}`).join(', ')}`);
      assert.ok(statuses.has('401 mfa_token_invalid') && [...statuses.keys()].some((k) => k.startsWith('400 mfa_code_invalid')) && statuses.has('400 mfa_code_reused'), 'each kind of refusal was seen');
    });

    it('signed-in code routes (remove TOTP, new recovery codes, confirm): every hostile code is a DRF-shaped 4xx and changes nothing', async () => {
      const routes = [
        { method: 'DELETE' as const, url: '/auth/mfa/totp/' },
        { method: 'POST' as const, url: '/auth/mfa/recovery-codes/' },
        { method: 'POST' as const, url: '/auth/mfa/totp/confirm/' },
      ];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), hostileCode(valid, known), async (route, code) => {
          await unlock();
          const before = await fingerprint();
          const response = await h.app.inject({ method: route.method, url: route.url, payload: { code }, headers: bearer(access) });
          assert.ok([400, 429].includes(response.statusCode), `${route.method} ${route.url} ${JSON.stringify(code)} → ${response.statusCode} ${response.body}`);
          assert.ok(drfShaped(response.statusCode, response.json()), response.body);
          assert.equal(await fingerprint(), before, `${route.method} ${route.url} ${JSON.stringify(code)} changed the database`);
        }),
        { numRuns: name === 'pglite' ? 90 : 45, seed: Number(process.env.FC_SEED ?? 20261202), endOnFailure: true },
      );
    });
  });
}
