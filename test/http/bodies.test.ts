/**
 * Request bodies read as DRF reads them (SPEC §3): multipart fields, CharField
 * trimming and number-to-string, a JSON `null` or non-object body. Every store.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse as Response } from 'fastify';
import { NO_ACTIVE_ACCOUNT, PASSWORD, bearer, createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

const BOUNDARY = 'latchkeyboundary';
const MULTIPART = { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` };
const field = (name: string, value: string) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const file = (name: string, content: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"; filename="${name}.txt"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`;
const form = (...parts: string[]) => `${parts.join('')}--${BOUNDARY}--\r\n`;

for (const name of storeNames()) {
  describe(`request bodies as DRF reads them (${name})`, () => {
    let h: Harness;
    let user: { username: string; id: number };
    before(async () => {
      h = await harness(name, { env: { BODY_LIMIT: '4096' } });
      user = await createUser(h);
    });
    after(() => h.close());

    const post = (url: string, payload: string, headers: Record<string, string>): Promise<Response> => h.app.inject({ method: 'POST', url, payload, headers });
    const json = (url: string, body: unknown, headers: Record<string, string> = {}) => post(url, JSON.stringify(body), { 'content-type': 'application/json', ...headers });

    describe('multipart/form-data', () => {
      it('logs in with multipart fields', async () => {
        const response = await post('/auth/login/', form(field('username', user.username), field('password', PASSWORD)), MULTIPART);
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().user.id, user.id);
      });

      it('refresh and verify take multipart too', async () => {
        const { refresh } = await login(h, user.username);
        assert.deepEqual((await post('/auth/verify/', form(field('token', refresh)), MULTIPART)).json(), {});
        assert.equal((await post('/auth/refresh/', form(field('refresh', refresh)), MULTIPART)).statusCode, 200);
      });

      it('PATCH /auth/me/ takes multipart', async () => {
        const { access } = await login(h, user.username);
        const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', payload: form(field('first_name', ' Ada ')), headers: { ...MULTIPART, ...bearer(access) } });
        assert.deepEqual([response.statusCode, response.json().first_name], [200, 'Ada']);
      });

      it('a file part → 400 naming the field, never read as text', async () => {
        const response = await post('/auth/login/', form(field('username', user.username), file('password', PASSWORD)), MULTIPART);
        assert.deepEqual([response.statusCode, response.json()], [400, { password: ['Not a valid string.'] }]);
      });

      it('an empty multipart body reads as an empty form: fields required', async () => {
        const response = await post('/auth/login/', form(), MULTIPART);
        assert.deepEqual([response.statusCode, response.json()], [400, { username: ['This field is required.'], password: ['This field is required.'] }]);
      });

      it('a broken multipart body → 400 parse_error, never 500', async () => {
        for (const body of [`--${BOUNDARY}\r\nbroken`, `--${BOUNDARY}\r\nContent-Disposition: nonsense\r\n\r\nx\r\n--${BOUNDARY}--\r\n`]) {
          const response = await post('/auth/login/', body, MULTIPART);
          assert.ok(response.statusCode === 400, `${response.statusCode} ${response.body}`);
        }
        const noBoundary = await post('/auth/login/', form(field('username', 'a')), { 'content-type': 'multipart/form-data' });
        assert.ok(noBoundary.statusCode >= 400 && noBoundary.statusCode < 500, `${noBoundary.statusCode} ${noBoundary.body}`);
      });

      it('a multipart body over BODY_LIMIT → 413, as any other body', async () => {
        const big = await post('/auth/login/', form(field('username', 'a'.repeat(5000)), field('password', 'x')), MULTIPART);
        assert.deepEqual([big.statusCode, big.json()], [413, { detail: 'Request body is too large.', code: 'payload_too_large' }]);
        const bigJson = await json('/auth/login/', { username: 'a'.repeat(5000), password: 'x' });
        assert.equal(bigJson.statusCode, 413);
      });

      it('a chunked multipart body (no Content-Length) over BODY_LIMIT → 413: its fields are counted', async () => {
        const body = form(field('username', 'a'.repeat(2500)), field('password', 'b'.repeat(2500)));
        const response = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: Readable.from([body]), headers: MULTIPART });
        assert.deepEqual([response.statusCode, response.json()], [413, { detail: 'Request body is too large.', code: 'payload_too_large' }]);
      });

      it('more fields or files than a form may hold → 413, never 500', async () => {
        const fields = form(...Array.from({ length: 101 }, (_, i) => field(`f${i}`, 'x')));
        const files = form(...Array.from({ length: 11 }, (_, i) => file(`f${i}`, 'x')));
        for (const body of [fields, files]) {
          const response = await post('/auth/login/', body, MULTIPART);
          assert.deepEqual([response.statusCode, response.json().code], [413, 'payload_too_large']);
        }
      });
    });

    describe("string fields follow DRF's CharField", () => {
      it('surrounding whitespace is trimmed, the password too: " ann " / " pw " logs in', async () => {
        const response = await json('/auth/login/', { username: ` ${user.username} `, password: `\t${PASSWORD} ` });
        assert.equal(response.statusCode, 200, response.body);
        const formBody = await post('/auth/login/', `username=%20${user.username}%20&password=${encodeURIComponent(` ${PASSWORD}\n`)}`, {
          'content-type': 'application/x-www-form-urlencoded',
        });
        assert.equal(formBody.statusCode, 200, formBody.body);
      });

      it('a number is its decimal string: {"username": 123} is the ordinary 401', async () => {
        const response = await json('/auth/login/', { username: 123, password: 456 });
        assert.deepEqual([response.statusCode, response.json()], [401, NO_ACTIVE_ACCOUNT]);
      });

      it('a number as a name is stored as its string', async () => {
        const { access } = await login(h, user.username);
        const response = await h.app.inject({ method: 'PATCH', url: '/auth/me/', payload: { first_name: 42, last_name: '  Lovelace ' }, headers: bearer(access) });
        assert.deepEqual([response.statusCode, response.json().first_name, response.json().last_name], [200, '42', 'Lovelace']);
      });

      it('booleans, lists and objects stay "Not a valid string."; null is "may not be null"; whitespace only is blank', async () => {
        const wrong = await json('/auth/login/', { username: true, password: ['x'], email: { a: 1 } });
        assert.deepEqual([wrong.statusCode, wrong.json()], [400, { username: ['Not a valid string.'], password: ['Not a valid string.'], email: ['Not a valid string.'] }]);
        const nulls = await json('/auth/login/', { username: null, password: '   ' });
        assert.deepEqual([nulls.statusCode, nulls.json()], [400, { username: ['This field may not be null.'], password: ['This field may not be blank.'] }]);
      });
    });

    describe('the body as a whole', () => {
      it('a JSON body of null → 400 {"non_field_errors": ["No data provided"]}', async () => {
        for (const url of ['/auth/login/', '/auth/refresh/', '/auth/verify/', '/auth/logout/']) {
          const response = await post(url, 'null', { 'content-type': 'application/json' });
          assert.deepEqual([response.statusCode, response.json()], [400, { non_field_errors: ['No data provided'] }], url);
        }
      });

      it('a JSON body of another type names it as Python does: list, str, int, float, bool', async () => {
        for (const [body, type] of [['[]', 'list'], ['"x"', 'str'], ['7', 'int'], ['1.5', 'float'], ['true', 'bool']]) {
          const response = await post('/auth/login/', body!, { 'content-type': 'application/json' });
          assert.deepEqual([response.statusCode, response.json()], [400, { non_field_errors: [`Invalid data. Expected a dictionary, but got ${type}.`] }], body);
        }
      });

      it('an empty body is an empty form: fields required', async () => {
        const response = await post('/auth/verify/', '', { 'content-type': 'application/json' });
        assert.deepEqual([response.statusCode, response.json()], [400, { token: ['This field is required.'] }]);
      });

      it('a form field given twice is its last value, as Django\'s QueryDict gives it', async () => {
        const other = await createUser(h);
        const payload = new URLSearchParams([['username', other.username], ['username', user.username], ['password', PASSWORD]]).toString();
        const response = await post('/auth/login/', payload, { 'content-type': 'application/x-www-form-urlencoded' });
        assert.equal(response.statusCode, 200, response.body);
        assert.equal(response.json().user.id, user.id);
      });

      it('French: "No data provided" translated', async () => {
        const response = await post('/auth/login/', 'null', { 'content-type': 'application/json', 'accept-language': 'fr' });
        assert.deepEqual([response.statusCode, response.json()], [400, { non_field_errors: ['Aucune donnée fournie'] }]);
      });
    });
  });
}
