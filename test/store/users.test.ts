import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConflictError } from '../../src/errors.ts';
import { harness, PASSWORD, storeNames, type Harness } from '../support/harness.ts';

for (const name of storeNames()) {
  describe(`creating users on ${name}`, () => {
    let h: Harness;
    before(async () => { h = await harness(name); });
    after(() => h.close());

    it('refuses a username or email taken in another case, naming every clashing field', async () => {
      await h.auth.createUser({ username: 'Clash', email: 'clash@example.com', password: PASSWORD });
      await assert.rejects(h.auth.createUser({ username: 'clash', email: 'other@example.com', password: PASSWORD }), (error) => {
        assert.ok(error instanceof ConflictError);
        assert.deepEqual(error.fields, { username: ['A user with that username already exists.'] });
        return true;
      });
      await assert.rejects(h.auth.createUser({ username: 'CLASH', email: 'CLASH@example.com', password: PASSWORD }), (error) => {
        assert.ok(error instanceof ConflictError);
        assert.deepEqual(error.fields, {
          username: ['A user with that username already exists.'],
          email: ['A user with that email already exists.'],
        });
        return true;
      });
    });

    it('lets two users go without an email (an empty email is none, not a clash)', async () => {
      await h.auth.createUser({ username: 'noemail1', password: PASSWORD });
      await assert.doesNotReject(h.auth.createUser({ username: 'noemail2', password: PASSWORD }));
    });

    it('lets only one of two concurrent creations of one name through, the other as a field error', async () => {
      const results = await Promise.allSettled([
        h.auth.createUser({ username: 'racer', password: PASSWORD }),
        h.auth.createUser({ username: 'RACER', password: PASSWORD }),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const refused = results.find((r) => r.status === 'rejected');
      assert.ok(refused?.status === 'rejected' && refused.reason instanceof ConflictError);
      assert.deepEqual(refused.reason.fields, { username: ['A user with that username already exists.'] });
    });
  });
}
