/**
 * `Accept-Language: fr` turns every error body French (codes unchanged), with
 * Content-Language and Vary; without it the English bodies are as before. Runs on every store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse as Response } from 'fastify';
import { NOT_AUTHENTICATED, NOT_FOUND, NO_ACTIVE_ACCOUNT, PASSWORD, credentialNotValid, bearer, createUser, harness, login, storeNames, type Harness } from '../support/harness.ts';

const FR = { 'accept-language': 'fr' };
const JSON_TYPE = { 'content-type': 'application/json' };

/** Status, exact body, and the headers that say the body is French. */
function assertFrench(response: Response, status: number, body: unknown): void {
  assert.equal(response.statusCode, status, response.body);
  assert.deepEqual(response.json(), body);
  assert.equal(response.headers['content-language'], 'fr');
  assert.equal(response.headers.vary, 'Accept-Language');
}

function assertEnglish(response: Response, status: number, body: unknown): void {
  assert.equal(response.statusCode, status, response.body);
  assert.deepEqual(response.json(), body);
  assert.equal(response.headers['content-language'], undefined);
  assert.equal(response.headers.vary, 'Accept-Language', 'the body depends on Accept-Language, so caches must know');
}

/** SimpleJWT's authenticated-route refusal, in French. */
const frenchRefusal = (message: string) => ({
  detail: "Le type de jeton fourni n'est pas valide",
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message }],
});

for (const name of storeNames()) {
  describe(`French error messages (${name})`, () => {
    let h: Harness;
    let username: string;
    before(async () => {
      h = await harness(name);
      ({ username } = await createUser(h));
    });
    after(() => h.close());

    const post = (url: string, payload: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload, headers: { ...JSON_TYPE, ...headers } });

    it('bad credentials → 401 "Identifiants invalides." with the same code and challenge', async () => {
      const response = await post('/auth/login/', JSON.stringify({ username, password: 'wrong password' }), FR);
      assertFrench(response, 401, { detail: 'Identifiants invalides.', code: 'no_active_account' });
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
    });

    it('a missing field → 400 {"password": ["Ce champ est obligatoire."]}', async () => {
      assertFrench(await post('/auth/login/', JSON.stringify({ username }), FR), 400, { password: ['Ce champ est obligatoire.'] });
    });

    it('every message of a schema failure, per field', async () => {
      assertFrench(await post('/auth/login/', JSON.stringify({ username: '', password: null }), FR), 400, {
        username: ['Ce champ ne peut être vide.'],
        password: ['Ce champ ne peut être nul.'],
      });
      assertFrench(await post('/auth/login/', '[1, 2]', FR), 400, { non_field_errors: ['Donnée non valide. Attendait un dictionnaire, a reçu list.'] });
    });

    it('field errors raised as ValidationError (NUL characters, logout without a token)', async () => {
      assertFrench(await post('/auth/login/', JSON.stringify({ username: 'a\u0000b', password: 'x' }), FR), 400, { username: ['Le caractère nul n’est pas autorisé.'] });
      assertFrench(await post('/auth/logout/', '{}', FR), 400, { refresh: ['Ce champ est obligatoire.'] });
    });

    it('a bad token → 401 in French, code token_not_valid', async () => {
      const response = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: { ...bearer('not.a.token'), ...FR } });
      assertFrench(response, 401, frenchRefusal('Le jeton est invalide ou expiré'));
      assert.equal(response.headers['www-authenticate'], 'Bearer realm="api"');
    });

    it('a revoked token → French 401, the reason “banni”', async () => {
      const { access } = await login(h, username);
      assert.equal((await h.app.inject({ method: 'POST', url: '/auth/logout-all/', headers: bearer(access) })).statusCode, 200);
      const response = await h.app.inject({ method: 'GET', url: '/auth/me/', headers: { ...bearer(access), ...FR } });
      assertFrench(response, 401, frenchRefusal('Le jeton a été banni'));
    });

    it('no credentials → 401 not_authenticated in French', async () => {
      assertFrench(await h.app.inject({ method: 'GET', url: '/auth/me/', headers: FR }), 401, {
        detail: "Informations d'authentification non fournies.",
        code: 'not_authenticated',
      });
    });

    it('malformed JSON → 400 parse_error in French', async () => {
      assertFrench(await post('/auth/login/', '{"username": ', FR), 400, {
        detail: "Erreur d'analyse JSON - Le corps de la requête n'est pas du JSON valide alors que son type de contenu est 'application/json'",
        code: 'parse_error',
      });
    });

    it('an unsupported content type → 415 naming it, in French', async () => {
      const response = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: 'username=a', headers: { 'content-type': 'text/plain', ...FR } });
      assertFrench(response, 415, { detail: 'Type de média «\u00a0text/plain\u00a0» non supporté.', code: 'unsupported_media_type' });
    });

    it('an unknown path → 404, a known path with another method → 405, in French', async () => {
      assertFrench(await h.app.inject({ method: 'GET', url: '/auth/nowhere/', headers: FR }), 404, { detail: 'Pas trouvé.', code: 'not_found' });
      const response = await h.app.inject({ method: 'DELETE', url: '/auth/login/', headers: FR });
      assertFrench(response, 405, { detail: 'Méthode «\u00a0DELETE\u00a0» non autorisée.', code: 'method_not_allowed' });
      assert.equal(response.headers.allow, 'POST, OPTIONS');
    });

    it('a regional or weighted French preference is French too', async () => {
      for (const header of ['fr-FR', 'fr-CA;q=0.9', 'de, fr;q=0.5']) {
        const response = await post('/auth/login/', JSON.stringify({ username }), { 'accept-language': header });
        assertFrench(response, 400, { password: ['Ce champ est obligatoire.'] });
      }
    });

    describe('without French asked for, the English bodies are unchanged', () => {
      for (const [label, headers] of [
        ['no header', {}],
        ['Accept-Language: en-US', { 'accept-language': 'en-US' }],
        ['English preferred over French', { 'accept-language': 'en;q=1, fr;q=0.5' }],
      ] as const) {
        it(label, async () => {
          assertEnglish(await post('/auth/login/', JSON.stringify({ username, password: 'wrong password' }), headers), 401, NO_ACTIVE_ACCOUNT);
          assertEnglish(await post('/auth/login/', JSON.stringify({ username }), headers), 400, { password: ['This field is required.'] });
          assertEnglish(await h.app.inject({ method: 'GET', url: '/auth/me/', headers: { ...bearer('not.a.token'), ...headers } }), 401, credentialNotValid());
          assertEnglish(await h.app.inject({ method: 'GET', url: '/auth/me/', headers }), 401, NOT_AUTHENTICATED);
          assertEnglish(await h.app.inject({ method: 'GET', url: '/auth/nowhere/', headers }), 404, NOT_FOUND);
          const parse = await post('/auth/login/', '{"username": ', headers);
          assertEnglish(parse, 400, {
            detail: "JSON parse error - Body is not valid JSON but content-type is set to 'application/json'",
            code: 'parse_error',
          });
          const media = await h.app.inject({ method: 'POST', url: '/auth/login/', payload: 'username=a', headers: { 'content-type': 'text/plain', ...headers } });
          assertEnglish(media, 415, { detail: 'Unsupported media type "text/plain" in request.', code: 'unsupported_media_type' });
        });
      }
    });

    it('a successful response is left alone', async () => {
      const response = await post('/auth/login/', JSON.stringify({ username, password: PASSWORD }), FR);
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['content-language'], undefined);
    });
  });
}
