/**
 * Django's four default password validators (django/contrib/auth/password_validation.py),
 * ported to give the same verdicts and the same English messages, in the order of
 * Django's default AUTH_PASSWORD_VALIDATORS.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

/** The user attributes a password must not resemble (Django's DEFAULT_USER_ATTRIBUTES). */
export interface PasswordUser {
  username?: string;
  email?: string;
  first_name?: string;
  last_name?: string;
}

export const MIN_PASSWORD_LENGTH = 8;
const MAX_SIMILARITY = 0.7;

/** Django's User field verbose names, which the similarity message quotes. */
const VERBOSE_NAMES = {
  username: 'username',
  first_name: 'first name',
  last_name: 'last name',
  email: 'email address',
} as const satisfies Record<keyof PasswordUser, string>;

/**
 * Every rule the password breaks, as Django's messages; `[]` when it passes.
 * @example validatePassword('12345678', { username: 'alice' }) // ['This password is too common.', 'This password is entirely numeric.']
 */
export function validatePassword(password: string, user: PasswordUser = {}): string[] {
  return [similarity(password, user), minimumLength(password), common(password), numeric(password)].filter(
    (message): message is string => message !== undefined,
  );
}

function minimumLength(password: string, minLength = MIN_PASSWORD_LENGTH): string | undefined {
  if (codePoints(password).length >= minLength) return undefined;
  return `This password is too short. It must contain at least ${minLength} character${minLength === 1 ? '' : 's'}.`;
}

// Python's \W on str: anything but a letter, a number or "_".
const NON_WORD = /[^\p{L}\p{N}_]+/u;

function similarity(password: string, user: PasswordUser): string | undefined {
  const lowered = password.toLowerCase();
  for (const attribute of Object.keys(VERBOSE_NAMES) as Array<keyof PasswordUser>) {
    const value = user[attribute];
    if (!value || typeof value !== 'string') continue;
    const valueLower = value.toLowerCase();
    for (const part of [...valueLower.split(NON_WORD), valueLower]) {
      if (exceedsMaximumLengthRatio(lowered, part)) continue;
      if (quickRatio(lowered, part) >= MAX_SIMILARITY) return `The password is too similar to the ${VERBOSE_NAMES[attribute]}.`;
    }
  }
  return undefined;
}

/** Django's shortcut: a value far shorter than the password cannot reach the ratio. */
function exceedsMaximumLengthRatio(password: string, value: string): boolean {
  const passwordLength = codePoints(password).length;
  const valueLength = codePoints(value).length;
  return passwordLength >= 10 * valueLength && valueLength < (MAX_SIMILARITY / 2) * passwordLength;
}

/**
 * Python's `difflib.SequenceMatcher(a=a, b=b).quick_ratio()`: an upper bound on the
 * similarity from character counts alone, by code point as Python counts them.
 * @example quickRatio('abcd', 'bcde') // 0.75
 */
export function quickRatio(a: string, b: string): number {
  const left = codePoints(a);
  const right = codePoints(b);
  const available = new Map<string, number>();
  for (const char of right) available.set(char, (available.get(char) ?? 0) + 1);
  let matches = 0;
  for (const char of left) {
    const count = available.get(char) ?? 0;
    available.set(char, count - 1);
    if (count > 0) matches += 1;
  }
  const length = left.length + right.length;
  return length === 0 ? 1 : (2 * matches) / length;
}

let commonList: ReadonlySet<string> | undefined;

/**
 * Django's list of common passwords (19 727, lowercased, as Django 3.2.25 ships it), read once on first use.
 * @example commonPasswords().has('iloveyou') // true
 */
export function commonPasswords(): ReadonlySet<string> {
  if (!commonList) {
    const text = gunzipSync(readFileSync(new URL('./data/common-passwords.txt.gz', import.meta.url))).toString('utf8');
    commonList = new Set(text.split(/\r\n|\r|\n/).map(pythonStrip));
  }
  return commonList;
}

function common(password: string): string | undefined {
  return commonPasswords().has(pythonStrip(password.toLowerCase())) ? 'This password is too common.' : undefined;
}

// Python's str.isdigit(): decimal digits plus the other Numeric_Type=Digit characters
// (superscripts, subscripts, circled digits…), listed as Python's unicodedata has them.
const DIGITS =
  /^[\p{Nd}\u00B2\u00B3\u00B9\u1369-\u1371\u19DA\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247C\u2488-\u2490\u24EA\u24F5-\u24FD\u24FF\u2776-\u277E\u2780-\u2788\u278A-\u2792\u{10A40}-\u{10A43}\u{10E60}-\u{10E68}\u{11052}-\u{1105A}\u{1F100}-\u{1F10A}]+$/u;

function numeric(password: string): string | undefined {
  return DIGITS.test(password) ? 'This password is entirely numeric.' : undefined;
}

// Python's str.strip(): its whitespace differs from JavaScript's trim() (\x1c-\x1f, \x85; no \ufeff).
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

function pythonStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}

function codePoints(text: string): string[] {
  return [...text];
}
