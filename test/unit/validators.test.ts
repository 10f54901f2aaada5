import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commonPasswords, quickRatio, validatePassword, type PasswordUser } from '../../src/users/validators.ts';

const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.';
const TOO_COMMON = 'This password is too common.';
const NUMERIC = 'This password is entirely numeric.';

/**
 * [password, user, messages], each as Django 3.2's own validate_password answered
 * with its four default validators in their default order (computed once, written here).
 */
const DJANGO_VERDICTS: Array<[string, PasswordUser, string[]]> = [
  ['short', {}, ['This password is too short. It must contain at least 8 characters.']],
  ['1234567', {}, ['This password is too short. It must contain at least 8 characters.', 'This password is too common.', 'This password is entirely numeric.']],
  ['12345678', {}, ['This password is too common.', 'This password is entirely numeric.']],
  ['password', {}, ['This password is too common.']],
  ['PassWord ', {}, ['This password is too common.']],
  ['98765432109876', {}, ['This password is entirely numeric.']],
  ['Tr0ub4dor&3xyz', {}, []],
  ['²³¹²³¹²³¹', {}, ['This password is entirely numeric.']],
  ['١٢٣٤٥٦٧٨٩٠١٢', {}, ['This password is entirely numeric.']],
  ['😀😀😀😀', {}, ['This password is too short. It must contain at least 8 characters.']],
  ['😀😀😀😀😀😀😀😀', {}, []],
  ['alice1234', { username: 'alice' }, ['The password is too similar to the username.']],
  ['aliceinwonderland', { username: 'alice' }, []],
  ['wonderalice', { username: 'alice' }, []],
  ['xq7!alice', { username: 'alice' }, ['The password is too similar to the username.']],
  ['ecila-xyz', { username: 'alice' }, ['The password is too similar to the username.']],
  ['janedoe12', { username: 'someone', email: 'jane.doe@example.com' }, []],
  ['example.com', { username: 'someone', email: 'jane.doe@example.com' }, ['The password is too similar to the email address.']],
  ['exampleco', { username: 'someone', email: 'jane.doe@example.com' }, ['The password is too similar to the email address.']],
  ['JANE.DOE@EXAMPLE.COM', { username: 'someone', email: 'jane.doe@example.com' }, ['The password is too similar to the email address.']],
  ['Montgomery1', { username: 'u1', first_name: 'Montgomery', last_name: 'Burns' }, ['The password is too similar to the first name.']],
  ['burnsie99', { username: 'u1', first_name: 'Montgomery', last_name: 'Burns' }, ['The password is too similar to the last name.']],
  ['Smithers!', { username: 'u1', first_name: 'Montgomery', last_name: 'Burns' }, []],
  ['jdoe', { username: 'jdoe' }, ['The password is too similar to the username.', 'This password is too short. It must contain at least 8 characters.']],
  ['123', { username: '123' }, ['The password is too similar to the username.', 'This password is too short. It must contain at least 8 characters.', 'This password is too common.', 'This password is entirely numeric.']],
  ['', { username: 'x' }, ['This password is too short. It must contain at least 8 characters.']],
  ['', { username: 'x!' }, ['The password is too similar to the username.', 'This password is too short. It must contain at least 8 characters.']],
  ['a', { username: 'a' }, ['The password is too similar to the username.', 'This password is too short. It must contain at least 8 characters.', 'This password is too common.']],
  ['correct horse battery staple', { username: 'alice', email: 'alice@example.com' }, []],
  ['müllermüller', { username: 'Müller' }, []],
  ['ΣΊΣΥΦΟΣ2024', { username: 'σίσυφος' }, ['The password is too similar to the username.']],
  ['bob_the_builder', { username: 'bob_the_builder99' }, ['The password is too similar to the username.']],
  ['xyzbuilder', { username: 'bob_the_builder' }, []],
  ['granite-ocelot', { username: 'granite' }, []],
  ['moon1', { username: 'ŁŁŁŁŁŁŁŁŁŁmoon' }, ['This password is too short. It must contain at least 8 characters.']],
  ['\u001fpassword\u001f', {}, ['This password is too common.']],
  ['\ufeffpassword', {}, []],
  ['iloveyou', { username: 'iloveyou' }, ['The password is too similar to the username.', 'This password is too common.']],
];

/** [a, b, difflib.SequenceMatcher(a=a, b=b).quick_ratio()] from Python. */
const PYTHON_QUICK_RATIOS: Array<[string, string, number]> = [
  ['abcd', 'bcde', 0.75],
  ['', '', 1],
  ['alice', 'alicia', 0.7272727272727273],
  ['password', 'drowssap', 1],
  ['aab', 'abb', 0.6666666666666666],
  ['hello world', 'world', 0.625],
  ['é', 'e', 0],
  ['😀😀a', '😀b', 0.4],
];

describe('validatePassword (Django\u2019s default validators)', () => {
  it('gives each validator\u2019s exact message', () => {
    assert.deepEqual(validatePassword('Xk9#', {}), [TOO_SHORT]);
    assert.deepEqual(validatePassword('sunshine', {}), [TOO_COMMON]);
    assert.deepEqual(validatePassword('80417395261', {}), [NUMERIC]);
    assert.deepEqual(validatePassword('granite99', { username: 'granite' }), ['The password is too similar to the username.']);
    assert.deepEqual(validatePassword('q.ocelot@zoo.example', { email: 'ocelot@zoo.example' }), ['The password is too similar to the email address.']);
    assert.deepEqual(validatePassword('Ophelia!!', { first_name: 'Ophelia' }), ['The password is too similar to the first name.']);
    assert.deepEqual(validatePassword('Vandermeer', { last_name: 'van der Meer' }), ['The password is too similar to the last name.']);
  });

  it('reports every failure in Django\u2019s order: similarity, length, common, numeric', () => {
    assert.deepEqual(validatePassword('123', { username: '123' }), ['The password is too similar to the username.', TOO_SHORT, TOO_COMMON, NUMERIC]);
  });

  it('a clean password yields no message', () => {
    assert.deepEqual(validatePassword('correct horse battery staple', { username: 'alice', email: 'alice@example.com', first_name: 'Alice', last_name: 'Liddell' }), []);
    assert.deepEqual(validatePassword('Tr0ub4dor&3xyz'), []);
  });

  it('agrees with Django on every recorded case', () => {
    for (const [password, user, expected] of DJANGO_VERDICTS) {
      assert.deepEqual(validatePassword(password, user), expected, `${JSON.stringify(password)} with ${JSON.stringify(user)}`);
    }
  });

  it('ignores empty or missing attributes', () => {
    assert.deepEqual(validatePassword('zebra-crossing-42', { username: '', email: '', first_name: '', last_name: '' }), []);
  });
});

describe('quickRatio (difflib.SequenceMatcher.quick_ratio)', () => {
  it('equals Python\u2019s value, counting code points', () => {
    for (const [a, b, expected] of PYTHON_QUICK_RATIOS) assert.equal(quickRatio(a, b), expected, `${a} / ${b}`);
  });
});

describe('the common password list', () => {
  it('is Django\u2019s full list, not a sample', () => {
    const list = commonPasswords();
    assert.ok(list.size >= 19_000, `only ${list.size} entries`);
    assert.ok(list.has('password') && list.has('iloveyou') && list.has('chobits'));
    assert.ok(!list.has(''), 'a blank line must not make the empty password common');
    assert.equal(commonPasswords(), list, 'loaded once');
  });

  it('matches lowercased and stripped of Python\u2019s whitespace, as Django does', () => {
    assert.deepEqual(validatePassword('  PassWord\t'), [TOO_COMMON]);
    assert.deepEqual(validatePassword('\u001fpassword\u0085'), [TOO_COMMON]);
    assert.deepEqual(validatePassword('\ufeffpassword'), []);
  });
});
