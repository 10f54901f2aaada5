/**
 * Reset links mailed by the replaced Django site keep working (SPEC §11, "From
 * Django"): with DJANGO_SECRET_KEY, confirm accepts tokens made by Django's
 * own PasswordResetTokenGenerator (real Django, Debian's python3-django, run by
 * test/fixtures/django/reset_token.py) for an imported user — sha256 and the
 * legacy sha1 — within PASSWORD_RESET_TIMEOUT, and only until the password changes.
 */
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { encodeUid } from '../../src/recovery/tokens.ts';
import { createUser, harness, storeNames, type Harness } from '../support/harness.ts';

const SECRET = 'django-insecure-the-old-site-secret-key';
const SCRIPT = fileURLToPath(new URL('../fixtures/django/reset_token.py', import.meta.url));
// A Django pbkdf2 hash as an imported user keeps it (any text: the token only digests it).
const DJANGO_HASH = 'pbkdf2_sha256$260000$Q6tyzAgZh5Bp$yO5hj2Kkq1Bs0JBTF1pQX6gn6e2N4kS9ioFwcx9S6Gk=';
const LAST_LOGIN = new Date('2026-10-30T08:15:42.654Z');

function djangoTokens(user: { id: number; email: string }, ageSeconds = 0): { sha256: string; sha1: string } {
  const spec = { id: user.id, password: DJANGO_HASH, last_login: LAST_LOGIN.toISOString(), email: user.email, secret_key: SECRET, age_seconds: ageSeconds };
  const result = spawnSync('/usr/bin/python3', [SCRIPT], { input: JSON.stringify(spec), encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) {
    if (process.env.CI) throw new Error(`python3-django is needed (apt-get install -y python3-django): ${result.stderr}`);
    throw new Error(result.stderr || 'python3 failed');
  }
  return JSON.parse(result.stdout) as { sha256: string; sha1: string };
}

for (const name of storeNames()) {
  describe(`reset links from the old Django site (${name})`, () => {
    let h: Harness;
    before(async () => {
      h = await harness(name, { env: { DJANGO_SECRET_KEY: SECRET, PASSWORD_RESET_TIMEOUT: '3d' } });
    });
    after(() => h.close());

    /** A user as import-django-users leaves it: Django's hash and last login kept. */
    async function imported() {
      const u = await createUser(h);
      await h.store.db.updateTable('users').set({ password: DJANGO_HASH, last_login: LAST_LOGIN }).where('id', '=', u.id).execute();
      return u;
    }
    const post = (url: string, payload: Record<string, unknown>) => h.app.inject({ method: 'POST', url, payload });

    it('sha256 and legacy sha1 tokens validate; one resets the password, and then neither works', async () => {
      const u = await imported();
      const { sha256, sha1 } = djangoTokens(u);
      const uid = encodeUid(u.id);
      for (const token of [sha256, sha1]) {
        const valid = await post('/auth/password-reset/validate/', { uid, token });
        assert.deepEqual([valid.statusCode, valid.json()], [200, {}], token);
      }
      const confirm = await post('/auth/users/reset_password_confirm/', { uid, token: sha1, new_password: 'a brand new passphrase 42' });
      assert.equal(confirm.statusCode, 204, confirm.body);
      const event = await h.store.db.selectFrom('audit_events').select('detail').where('user_id', '=', u.id).where('type', '=', 'password_reset_completed').executeTakeFirst();
      assert.equal(event?.detail.link, 'django');
      for (const token of [sha256, sha1]) {
        const spent = await post('/auth/password-reset/confirm/', { uid, token, new_password: 'yet another passphrase 42' });
        assert.deepEqual([spent.statusCode, spent.json()], [400, { token: ['Invalid token for given user.'] }]);
      }
      assert.equal((await post('/auth/login/', { username: u.username, password: 'a brand new passphrase 42' })).statusCode, 200);
    });

    it('past PASSWORD_RESET_TIMEOUT, for another user, or after a login (last_login changed): refused', async () => {
      const u = await imported();
      const other = await imported();
      const uid = encodeUid(u.id);
      const old = djangoTokens(u, 3 * 86_400 + 60);
      const expired = await post('/auth/password-reset/validate/', { uid, token: old.sha256 });
      assert.deepEqual(expired.json(), { token: ['Invalid token for given user.'] });
      const fresh = djangoTokens(u);
      const wrongUser = await post('/auth/password-reset/validate/', { uid: encodeUid(other.id), token: fresh.sha256 });
      assert.equal(wrongUser.statusCode, 400);
      await h.store.db.updateTable('users').set({ last_login: new Date() }).where('id', '=', u.id).execute();
      const afterLogin = await post('/auth/password-reset/validate/', { uid, token: fresh.sha256 });
      assert.equal(afterLogin.statusCode, 400);
    });
  });

  describe(`without DJANGO_SECRET_KEY (${name})`, () => {
    it("Django's tokens are not accepted", async () => {
      const h = await harness(name);
      try {
        const u = await createUser(h);
        await h.store.db.updateTable('users').set({ password: DJANGO_HASH, last_login: LAST_LOGIN }).where('id', '=', u.id).execute();
        const { sha256 } = djangoTokens(u);
        const response = await h.app.inject({ method: 'POST', url: '/auth/password-reset/validate/', payload: { uid: encodeUid(u.id), token: sha256 } });
        assert.deepEqual([response.statusCode, response.json()], [400, { token: ['Invalid token for given user.'] }]);
      } finally {
        await h.close();
      }
    });
  });
}
