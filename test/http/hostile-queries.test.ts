/**
 * Queries that cannot be made to fail: page numbers past the last page or too
 * large for the database are DRF's 404 "Invalid page.", and a search is capped
 * in length and terms (400 under `search`) and stays fast on a large table.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { bearer, createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

const INVALID_PAGE = { detail: 'Invalid page.', code: 'not_found' };

for (const name of storeNames()) {
  describe(`hostile admin queries (${name})`, () => {
    let h: Harness;
    let access: string;
    before(async () => {
      h = await harness(name);
      const admin = await createUser(h, { isStaff: true });
      access = (await login(h, admin.username)).access;
      // A table of 3,000 users, written directly: the search must stay fast on it.
      await sql`
        insert into users (username, email, password, role, date_joined)
        select 'seed' || n, 'seed' || n || '@example.com', '!', 'client', now() from generate_series(1, 3000) as n
      `.execute(h.store.db);
    });
    after(() => h.close());

    const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers: { ...bearer(access), ...headers } });

    it('page numbers past the last or beyond any integer column are 404 Invalid page, never 500', async () => {
      for (const list of ['/admin/users/', '/admin/accounts/', '/admin/audit-events/']) {
        for (const page of ['99999999999999999999', '9007199254740993', '2147483648', '1'.repeat(400), '500000', '-1', '0', 'x', '1e3']) {
          const response = await get(`${list}?page=${page}`);
          assert.equal(response.statusCode, 404, `${list} page=${page}: ${response.body}`);
          assert.deepEqual(response.json(), INVALID_PAGE, `${list} page=${page}`);
        }
        const huge = await get(`${list}?page=99999999999999999999&page_size=99999999999999999999`);
        assert.deepEqual([huge.statusCode, huge.json()], [404, INVALID_PAGE]);
      }
    });

    it('a search over 200 characters or 10 terms is 400 under search, in French too', async () => {
      for (const list of ['/admin/users/', '/admin/accounts/']) {
        const long = await get(`${list}?search=${'a'.repeat(201)}`);
        assert.equal(long.statusCode, 400, long.body);
        assert.deepEqual(long.json(), { search: ['Ensure this field has no more than 200 characters.'] });
        const many = await get(`${list}?search=${encodeURIComponent(Array.from({ length: 11 }, (_, i) => `t${i}`).join(' '))}`);
        assert.equal(many.statusCode, 400, many.body);
        assert.deepEqual(many.json(), { search: ['Ensure this search has no more than 10 terms.'] });
        const fr = await get(`${list}?search=${encodeURIComponent('a,'.repeat(11))}`, { 'accept-language': 'fr' });
        assert.deepEqual(fr.json(), { search: ['Assurez-vous que cette recherche comporte au plus 10\u00a0termes.'] });
      }
      const thousands = await get(`/admin/users/?search=${encodeURIComponent('x '.repeat(6000))}`);
      assert.equal(thousands.statusCode, 400);
    });

    it('ten terms and 200 characters are still answered, quickly, on 3,000 users', async () => {
      const terms = Array.from({ length: 10 }, (_, i) => `seed${i}`.padEnd(19, 'q')).join(' ');
      assert.equal(terms.length <= 200, true);
      const started = performance.now();
      const response = await get(`/admin/users/?search=${encodeURIComponent(terms)}`);
      const elapsed = performance.now() - started;
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.json().count, 0);
      const matching = await get(`/admin/users/?search=${encodeURIComponent('seed29 example.com seed2 2 9 s e d com @')}`);
      assert.equal(matching.statusCode, 200);
      assert.equal(matching.json().count, 111, 'seed29, seed290…seed299, seed2900…seed2999');
      console.log(`# ten-term search on 3,000 users (${name}): ${elapsed.toFixed(0)} ms`);
      // Measured, not a benchmark: a generous bound that an unbounded search (seconds) would break.
      assert.ok(elapsed < 3000, `search took ${elapsed.toFixed(0)} ms`);
    });
  });
}
