import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMAIN_ERRORS, FIELD_MESSAGES, HTTP_ERRORS, NO_TOKEN_TYPE, TOKEN_REASONS, fieldErrors } from '../../src/http/errors.ts';
import { FR } from '../../src/i18n/fr.ts';
import { negotiateLanguage, translate, translateFields } from '../../src/i18n/index.ts';
import { validatePassword } from '../../src/users/validators.ts';

/** Every message the validators can produce, each verbose name included. */
function validatorMessages(): string[] {
  const inputs: Array<Parameters<typeof validatePassword>> = [
    ['123', { username: '123' }],
    ['ada.lovelace1', { email: 'ada.lovelace@example.com' }],
    ['Augusta!!', { first_name: 'Augusta' }],
    ['Lovelace!!', { last_name: 'Lovelace' }],
  ];
  return [...new Set(inputs.flatMap((input) => validatePassword(...input)))];
}

/** Messages fieldErrors() builds beyond FIELD_MESSAGES, from the schema failures that produce them. */
function schemaMessages(): string[] {
  const fields = fieldErrors([
    { keyword: 'type', instancePath: '', params: {}, data: [1] },
    { keyword: 'maxLength', instancePath: '/username', params: { limit: 150 } },
    { keyword: 'format', instancePath: '/email', params: {} },
  ]);
  return Object.values(fields).flat();
}

/** Field messages raised in code (users, routes), as the wire carries them. */
const CODE_MESSAGES = [
  'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
  'Enter a valid email address.',
  'A user with that username already exists.',
  'A user with that email already exists.',
  '"manager" is not a valid choice.',
  'Your old password was entered incorrectly. Please enter it again.',
  'Invalid page.',
  'A valid integer is required.',
  'Must be a valid boolean.',
  'Ensure this value is greater than or equal to 1.',
  'Ensure this value is less than or equal to 100.',
  'Request was throttled. Expected available in 900 seconds.',
  'Null characters are not allowed.',
  'Enter a valid date/time.',
  'A user with that id does not exist.',
  'Unsupported media type "text/plain" in request.',
  'Method "DELETE" not allowed.',
  'JSON parse error - Unexpected token',
  'Invalid pk "42" - object does not exist.',
  'Select a valid choice. nope is not one of the available choices.',
  'An account with that name already exists.',
  'No data provided',
  'Multipart form parse error - Unexpected end of multipart data',
  'The new password must be different from the old one.',
  'Ensure this search has no more than 10 terms.',
];

describe('the French catalog', () => {
  const english = [
    ...Object.values(DOMAIN_ERRORS).map((wire) => wire.detail),
    ...Object.values(HTTP_ERRORS).map((wire) => wire.detail),
    ...Object.values(TOKEN_REASONS),
    NO_TOKEN_TYPE,
    ...Object.values(FIELD_MESSAGES),
    ...validatorMessages(),
    ...schemaMessages(),
    ...CODE_MESSAGES,
  ];

  it('covers the error tables and the validators (a new code without French fails here)', () => {
    assert.ok(english.length >= 40, `collected ${english.length} messages`);
    assert.equal(validatorMessages().length, 7); // four similarity messages, short, common, numeric
    for (const message of english) {
      const french = translate(message, 'fr');
      assert.notEqual(french, message, `no French for ${JSON.stringify(message)}`);
    }
  });

  it('uses SPEC’s own wording for bad credentials and a missing field', () => {
    assert.equal(translate(DOMAIN_ERRORS.no_active_account.detail, 'fr'), 'Identifiants invalides.');
    assert.equal(translate(FIELD_MESSAGES.required, 'fr'), 'Ce champ est obligatoire.');
  });

  it('keeps every placeholder of a template in its French', () => {
    const names = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
    for (const [source, target] of Object.entries(FR)) assert.deepEqual(names(target), names(source), source);
  });

  it('fills the values into templates', () => {
    assert.equal(translate('Ensure this field has no more than 150 characters.', 'fr'), 'Assurez-vous que ce champ comporte au plus 150\u00a0caractères.');
    assert.equal(translate('Unsupported media type "text/plain" in request.', 'fr'), 'Type de média «\u00a0text/plain\u00a0» non supporté.');
    assert.equal(translate('JSON parse error - Unexpected token } at 3', 'fr'), "Erreur d'analyse JSON - Unexpected token } at 3");
    assert.equal(translate('Method "PUT" not allowed.', 'fr'), 'Méthode «\u00a0PUT\u00a0» non autorisée.');
    assert.equal(translate('"$& {x}" is not a valid choice.', 'fr'), "«\u00a0$& {x}\u00a0» n'est pas un choix valide.");
    assert.equal(translate('Request was throttled. Expected available in 42 seconds.', 'fr'), 'Requête ralentie. Disponible de nouveau dans 42\u00a0secondes.');
    assert.equal(translate('Request was throttled. Expected available in 1 second.', 'fr'), 'Requête ralentie. Disponible de nouveau dans 1\u00a0seconde.');
    assert.equal(translate('Invalid data. Expected a dictionary, but got list.', 'fr'), 'Donnée non valide. Attendait un dictionnaire, a reçu list.');
    assert.equal(
      translate('This password is too short. It must contain at least 8 characters.', 'fr'),
      'Ce mot de passe est trop court. Il doit contenir au minimum 8 caractères.',
    );
  });

  it('translates Django’s verbose names inside the similarity message, and only known ones', () => {
    assert.equal(translate('The password is too similar to the email address.', 'fr'), 'Le mot de passe est trop semblable au champ «\u00a0adresse électronique\u00a0».');
    assert.equal(translate('The password is too similar to the username.', 'fr'), 'Le mot de passe est trop semblable au champ «\u00a0nom d’utilisateur\u00a0».');
    assert.equal(translate('The password is too similar to the first name.', 'fr'), 'Le mot de passe est trop semblable au champ «\u00a0prénom\u00a0».');
    assert.equal(translate('The password is too similar to the constructor.', 'fr'), 'Le mot de passe est trop semblable au champ «\u00a0constructor\u00a0».');
  });

  it('passes unknown messages through, and English untouched', () => {
    assert.equal(translate('Something nobody wrote down.', 'fr'), 'Something nobody wrote down.');
    assert.equal(translate('toString', 'fr'), 'toString');
    assert.equal(translate(FIELD_MESSAGES.required, 'en'), FIELD_MESSAGES.required);
  });

  it('translates every message of a field-error body', () => {
    assert.deepEqual(translateFields({ password: ['This password is too common.', 'This password is entirely numeric.'], email: ['Enter a valid email address.'] }, 'fr'), {
      password: ['Ce mot de passe est trop courant.', 'Ce mot de passe est entièrement numérique.'],
      email: ['Saisissez une adresse e-mail valide.'],
    });
  });
});

describe('negotiateLanguage', () => {
  const cases: Array<[string | undefined, 'en' | 'fr']> = [
    ['fr', 'fr'],
    ['fr-FR', 'fr'],
    ['FR-fr', 'fr'],
    ['fr-CA;q=0.9', 'fr'],
    ['en;q=1, fr;q=0.5', 'en'],
    ['de, fr;q=0.5', 'fr'],
    ['fr;q=0.4, en-GB;q=0.8', 'en'],
    ['fr;q=0', 'en'],
    ['*', 'en'],
    ['garbage', 'en'],
    [';;;,,', 'en'],
    ['', 'en'],
    [undefined, 'en'],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${expected}`, () => assert.equal(negotiateLanguage(header), expected));
  }
});
