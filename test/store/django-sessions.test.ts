/**
 * SimpleJWT refresh tokens carried over as Latchkey sessions (django/import.ts,
 * store/repos/imports.ts, the legacy path of sessions/service.ts): what is imported
 * from the fixtures real SimpleJWT wrote, and those tokens used through the app.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Auth } from '../../src/auth.ts';
import type { Store } from '../../src/store/connect.ts';
import { mapDjangoToken, mappedBatches, sessionBatches } from '../../src/django/import.ts';
import { openDjangoSource } from '../../src/django/source.ts';
import { queryDatabase, scratchDatabase } from '../support/cli.ts';
import { bearer, claimsOf, harness, manualClock, storeNames, TOKEN_NOT_VALID, BLACKLISTED, credentialNotValid, tokenNotValid, type Harness } from '../support/harness.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/django/', import.meta.url));
const SITE_JSON = join(FIXTURES, 'site.json');
const USERS_JSON = join(FIXTURES, 'users.json');
const simplejwt = JSON.parse(readFileSync(join(FIXTURES, 'simplejwt.json'), 'utf8')) as {
  signing_key: string;
  tokens: Record<'live' | 'second' | 'staff' | 'blacklisted' | 'expired' | 'skipped_user' | 'access', string>;
};
const TOKENS = simplejwt.tokens;
const OUTSTANDING = (JSON.parse(readFileSync(SITE_JSON, 'utf8')) as Array<{ model: string; pk: number; fields: Record<string, unknown> }>)
  .filter((row) => row.model === 'token_blacklist.outstandingtoken')
  .map((row) => row.fields as { user: number; jti: string; created_at: string; expires_at: string });
const passwords = JSON.parse(readFileSync(join(FIXTURES, 'passwords.json'), 'utf8')) as Record<string, string>;
const ROLES = ['client', 'employe', 'admin'];
const GRACE_MS = 10_000;

/** A JWT signed with the Django key, header and payload exactly as given. */
function signed(header: object, payload: object): string {
  const input = [header, payload].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.');
  return `${input}.${createHmac('sha256', simplejwt.signing_key).update(input).digest('base64url')}`;
}

const jtiOf = (token: string) => claimsOf(token).jti as string;
const outstanding = (token: string) => {
  const row = OUTSTANDING.find((r) => r.jti === jtiOf(token));
  assert.ok(row, 'the token is in the dump');
  return row;
};

/** What the CLI does, in process: users batch by batch, then the tokens of the users imported or present. */
async function importSite(auth: Auth, location: string) {
  const source = await openDjangoSource(location);
  const totals = { total: source.tokens?.total, imported: 0, present: 0, users: [] as number[] };
  try {
    const accepted = new Set<number>();
    for await (const batch of mappedBatches(source, ROLES)) {
      const result = await auth.importUsers(batch.users);
      const refused = new Set(result.skipped.map((row) => row.id));
      for (const user of batch.users) if (!refused.has(user.id)) accepted.add(user.id);
    }
    if (source.tokens) {
      for await (const batch of sessionBatches(source.tokens, accepted, Date.now(), 2)) {
        const result = await auth.importSessions(batch);
        totals.imported += result.imported;
        totals.present += result.present;
        totals.users.push(...result.userIds);
      }
    }
  } finally {
    await source.close();
  }
  totals.users.sort((a, b) => a - b);
  return totals;
}

function sessionsWithTokens(store: Store) {
  return store.db
    .selectFrom('sessions')
    .innerJoin('refresh_tokens', 'refresh_tokens.session_id', 'sessions.id')
    .selectAll()
    .orderBy('sessions.user_id')
    .execute();
}

const sessionOf = (store: Store, token: string) =>
  store.db.selectFrom('refresh_tokens').innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id').selectAll('sessions').where('jti', '=', jtiOf(token)).executeTakeFirst();

describe('mapping a SimpleJWT outstanding token', () => {
  const NOW = Date.parse('2030-01-01T00:00:00Z');
  const row = (fields: Record<string, unknown>) => ({ pk: 1, fields: { user: 7, jti: 'c'.repeat(32), created_at: '2026-01-02T03:04:05.678Z', expires_at: '2031-01-01T00:00:00Z', ...fields } });

  it('keeps jti, user, creation and expiry (a datetime without a zone is UTC)', () => {
    assert.deepEqual(mapDjangoToken(row({ expires_at: '2031-01-01 00:00:00' }), NOW, new Set([7])), {
      jti: 'c'.repeat(32),
      userId: 7,
      createdAt: '2026-01-02T03:04:05.678Z',
      expiresAt: '2031-01-01T00:00:00.000Z',
    });
  });

  it('no created_at (a token blacklist() recorded): the import is its start', () => {
    assert.equal(mapDjangoToken(row({ created_at: null }), NOW, new Set([7]))?.createdAt, '2030-01-01T00:00:00.000Z');
  });

  it('leaves out expired tokens, tokens of users not imported or deleted, and malformed rows', () => {
    const users = new Set([7]);
    assert.equal(mapDjangoToken(row({ expires_at: '2030-01-01T00:00:00Z' }), NOW, users), undefined);
    assert.equal(mapDjangoToken(row({ user: 8 }), NOW, users), undefined);
    assert.equal(mapDjangoToken(row({ user: null }), NOW, users), undefined);
    assert.equal(mapDjangoToken(row({ jti: '' }), NOW, users), undefined);
    assert.equal(mapDjangoToken(row({ jti: 'x'.repeat(256) }), NOW, users), undefined);
    assert.equal(mapDjangoToken(row({ expires_at: 'never' }), NOW, users), undefined);
    assert.equal(mapDjangoToken({ pk: 1 }, NOW, users), undefined);
  });

  it('a dump without token_blacklist models has no token source; with them, blacklisted tokens are left out', async () => {
    assert.equal((await openDjangoSource(USERS_JSON)).tokens, undefined);
    const tokens = (await openDjangoSource(SITE_JSON)).tokens;
    assert.ok(tokens);
    assert.equal(tokens.total, 6);
    const rows = [];
    for await (const page of tokens.pages(4)) rows.push(...page);
    assert.deepEqual(rows.map((r) => (r.fields as { jti: string }).jti).sort(), OUTSTANDING.map((r) => r.jti).filter((jti) => jti !== jtiOf(TOKENS.blacklisted)).sort());
  });
});

for (const name of storeNames()) {
  describe(`SimpleJWT sessions carried over on ${name}`, () => {
    const clock = manualClock(Date.now());
    let h: Harness;
    before(async () => { h = await harness(name, { clock, env: { SIGNING_KEY: simplejwt.signing_key, REFRESH_REUSE_GRACE: `${GRACE_MS / 1000}s` } }); });
    after(() => h.close());

    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload: payload as object, headers });
    const me = (access: string) => h.app.inject({ method: 'GET', url: '/auth/me/', headers: bearer(access) });

    it('imports one session per live token of an imported user, with its jti, creation and expiry', async () => {
      assert.deepEqual(await importSite(h.auth, SITE_JSON), { total: 6, imported: 3, present: 0, users: [1, 3, 7] });
      // Recorded in the audit trail, counts only.
      const audit = await h.store.db.selectFrom('audit_events').select(['type', 'outcome', 'detail']).where('type', '=', 'sessions_imported').execute();
      assert.deepEqual(audit, [{ type: 'sessions_imported', outcome: 'success', detail: { imported: 2, already_present: 0, users: 2 } }, { type: 'sessions_imported', outcome: 'success', detail: { imported: 1, already_present: 0, users: 1 } }]);
      const rows = await sessionsWithTokens(h.store);
      assert.deepEqual(rows.map((r) => [r.user_id, r.jti]), [[1, jtiOf(TOKENS.live)], [3, jtiOf(TOKENS.second)], [7, jtiOf(TOKENS.staff)]]);
      for (const row of rows) {
        const django = OUTSTANDING.find((r) => r.jti === row.jti);
        assert.ok(django);
        assert.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        assert.equal(row.created_at.toISOString(), django.created_at);
        assert.equal(row.last_used_at.toISOString(), django.created_at);
        assert.equal(row.issued_at.toISOString(), django.created_at);
        assert.equal(row.expires_at.toISOString(), new Date(django.expires_at).toISOString());
        assert.deepEqual([row.revoked_at, row.ip, row.user_agent, row.spent_at, row.successor_jti], [null, null, null, null, null]);
        assert.match(row.access_jti, /^[0-9a-f]{32}$/);
        // All a SimpleJWT token says of how its user got in: a password, when it was issued.
        const context = await h.store.db.selectFrom('sessions').select(['amr', 'aal', 'auth_time']).where('id', '=', row.id).executeTakeFirstOrThrow();
        assert.deepEqual(context, { amr: ['pwd'], aal: 'aal1', auth_time: new Date(django.created_at) });
      }
      // The token strings themselves are stored nowhere.
      const stored = JSON.stringify(rows);
      for (const token of Object.values(TOKENS)) assert.ok(!stored.includes(token.split('.')[2] ?? token));
    });

    it('blacklisted, expired and skipped-user tokens have no session', async () => {
      for (const token of [TOKENS.blacklisted, TOKENS.expired, TOKENS.skipped_user]) assert.equal(await sessionOf(h.store, token), undefined);
      assert.equal(outstanding(TOKENS.skipped_user).user, 17);
    });

    it('a re-run creates nothing: every live token is already present', async () => {
      const before = await sessionsWithTokens(h.store);
      assert.deepEqual(await importSite(h.auth, SITE_JSON), { total: 6, imported: 0, present: 3, users: [] });
      assert.deepEqual(await sessionsWithTokens(h.store), before);
    });

    it("one of Latchkey's own refresh tokens re-signed without its sid is refused: only imported rows take legacy tokens", async () => {
      const login = await post('/auth/login/', { username: 'argon2_user', password: passwords.argon2_user });
      assert.equal(login.statusCode, 200, login.body);
      const { refresh } = login.json() as { refresh: string };
      // JSON leaves an undefined sid out.
      const stripped = signed({ typ: 'JWT', alg: 'HS256' }, { ...claimsOf(refresh), sid: undefined });
      for (const [url, payload] of [['/auth/refresh/', { refresh: stripped }], ['/auth/verify/', { token: stripped }], ['/auth/logout/', { refresh: stripped }]] as const) {
        const response = await post(url, payload);
        assert.equal(response.statusCode, 401, `${url}: ${response.body}`);
        assert.deepEqual(response.json(), TOKEN_NOT_VALID);
      }
      assert.equal((await post('/auth/verify/', { token: refresh })).statusCode, 200);
    });

    it("a legacy token whose imported session is another user's is refused", async () => {
      const staff = await sessionOf(h.store, TOKENS.staff);
      assert.ok(staff);
      const verify = () => post('/auth/verify/', { token: TOKENS.staff });
      assert.equal((await verify()).statusCode, 200);
      await h.store.db.updateTable('sessions').set({ user_id: 3 }).where('id', '=', staff.id).execute();
      const response = await verify();
      assert.equal(response.statusCode, 401);
      assert.deepEqual(response.json(), TOKEN_NOT_VALID);
      assert.equal((await post('/auth/refresh/', { refresh: TOKENS.staff })).statusCode, 401);
      await h.store.db.updateTable('sessions').set({ user_id: 7 }).where('id', '=', staff.id).execute();
      assert.equal((await verify()).statusCode, 200);
    });

    it('the live Django refresh token is exchanged for a Latchkey pair of the imported session', async () => {
      const session = await sessionOf(h.store, TOKENS.live);
      assert.ok(session);
      const response = await post('/auth/refresh/', { refresh: TOKENS.live });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json() as { access: string; refresh: string };
      assert.deepEqual(Object.keys(body).sort(), ['access', 'access_expires_at', 'refresh', 'refresh_expires_at']);
      const issued = OUTSTANDING.find((r) => r.jti === jtiOf(TOKENS.live));
      assert.ok(issued);
      for (const token of [body.access, body.refresh]) {
        assert.equal(claimsOf(token).sid, session.id);
        assert.equal(claimsOf(token).user_id, 1);
        // SPEC §12: every token says how the session got in; for an imported one, a password when SimpleJWT issued it.
        assert.deepEqual(claimsOf(token).amr, ['pwd']);
        assert.equal(claimsOf(token).aal, 'aal1');
        assert.equal(claimsOf(token).auth_time, Math.floor(Date.parse(issued.created_at) / 1000));
      }
      const user = await me(body.access);
      assert.equal(user.statusCode, 200, user.body);
      assert.equal((user.json() as { id: number }).id, 1);

      // Inside the grace window: the same successor pair.
      clock.advance(GRACE_MS);
      const replay = await post('/auth/refresh/', { refresh: TOKENS.live });
      assert.equal(replay.statusCode, 200, replay.body);
      assert.deepEqual(replay.json(), response.json());

      // After it: reuse, the session is revoked and its new tokens stop working.
      clock.advance(1);
      const reuse = await post('/auth/refresh/', { refresh: TOKENS.live });
      assert.equal(reuse.statusCode, 401);
      assert.deepEqual(reuse.json(), tokenNotValid(BLACKLISTED));
      assert.equal((await h.store.db.selectFrom('sessions').select('revoked_reason').where('id', '=', session.id).executeTakeFirstOrThrow()).revoked_reason, 'reuse_detected');
      assert.equal((await me(body.access)).statusCode, 401);
      assert.equal((await post('/auth/refresh/', { refresh: body.refresh })).statusCode, 401);
    });

    it("a superuser's token refreshes into tokens with the role admin", async () => {
      const response = await post('/auth/refresh/', { refresh: TOKENS.staff });
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(claimsOf((response.json() as { access: string }).access).role, 'admin');
    });

    it('blacklisted, expired and skipped-user tokens are token_not_valid', async () => {
      for (const token of [TOKENS.blacklisted, TOKENS.expired, TOKENS.skipped_user]) {
        for (const [url, payload] of [['/auth/refresh/', { refresh: token }], ['/auth/verify/', { token }], ['/auth/logout/', { refresh: token }]] as const) {
          const response = await post(url, payload);
          assert.equal(response.statusCode, 401, `${url}: ${response.body}`);
          assert.deepEqual(response.json(), TOKEN_NOT_VALID);
        }
      }
    });

    it('a Django access token is refused: the client refreshes', async () => {
      const response = await me(TOKENS.access);
      assert.equal(response.statusCode, 401);
      assert.deepEqual(response.json(), credentialNotValid());
      assert.equal((await post('/auth/verify/', { token: TOKENS.access })).statusCode, 401);
    });

    it('verify accepts a live Django refresh token; logout with it ends that session', async () => {
      const verified = await post('/auth/verify/', { token: TOKENS.second });
      assert.equal(verified.statusCode, 200, verified.body);
      assert.deepEqual(verified.json(), {});
      const session = await sessionOf(h.store, TOKENS.second);
      assert.ok(session);
      const logout = await post('/auth/logout/', { refresh: TOKENS.second });
      assert.equal(logout.statusCode, 200, logout.body);
      assert.deepEqual(logout.json(), {});
      assert.equal((await h.store.db.selectFrom('sessions').select('revoked_reason').where('id', '=', session.id).executeTakeFirstOrThrow()).revoked_reason, 'logout');
      const verify = await post('/auth/verify/', { token: TOKENS.second });
      assert.deepEqual([verify.statusCode, verify.json()], [400, { non_field_errors: [BLACKLISTED] }]);
      const refresh = await post('/auth/refresh/', { refresh: TOKENS.second });
      assert.deepEqual([refresh.statusCode, refresh.json()], [401, tokenNotValid(BLACKLISTED)]);
    });
  });
}

const postgresOnly = storeNames().includes('postgres') ? false : 'DATABASE_URL is not set';

describe("SimpleJWT sessions from the Django site's PostgreSQL database", { skip: postgresOnly }, () => {
  let django: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let h: Harness;

  before(async () => {
    django = await scratchDatabase('lk_django');
    await queryDatabase(django.url, readFileSync(join(FIXTURES, 'auth_user.sql'), 'utf8'));
    h = await harness('postgres', { env: { SIGNING_KEY: simplejwt.signing_key } });
  });
  after(async () => {
    await h?.close();
    await django?.drop();
  });

  it('imports the same sessions as the dump file; a re-run from the file finds them present', async () => {
    assert.deepEqual(await importSite(h.auth, django?.url ?? ''), { total: 6, imported: 3, present: 0, users: [1, 3, 7] });
    assert.deepEqual((await sessionsWithTokens(h.store)).map((r) => [r.user_id, r.jti, r.expires_at.toISOString()]), [
      [1, jtiOf(TOKENS.live), new Date(outstanding(TOKENS.live).expires_at).toISOString()],
      [3, jtiOf(TOKENS.second), new Date(outstanding(TOKENS.second).expires_at).toISOString()],
      [7, jtiOf(TOKENS.staff), new Date(outstanding(TOKENS.staff).expires_at).toISOString()],
    ]);
    assert.deepEqual(await importSite(h.auth, SITE_JSON), { total: 6, imported: 0, present: 3, users: [] });
  });

  it('the live Django refresh token refreshes; the blacklisted one is token_not_valid', async () => {
    const response = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: TOKENS.live } });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(claimsOf((response.json() as { refresh: string }).refresh).sid, (await sessionOf(h.store, TOKENS.live))?.id);
    const blacklisted = await h.app.inject({ method: 'POST', url: '/auth/refresh/', payload: { refresh: TOKENS.blacklisted } });
    assert.equal(blacklisted.statusCode, 401);
    assert.deepEqual(blacklisted.json(), TOKEN_NOT_VALID);
  });

  it('a database without the blacklist app tables has no token source', async () => {
    await queryDatabase(django?.url ?? '', 'drop table token_blacklist_blacklistedtoken');
    const source = await openDjangoSource(django?.url ?? '');
    try {
      assert.equal(source.tokens, undefined);
    } finally {
      await source.close();
    }
  });
});
