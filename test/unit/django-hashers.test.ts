/**
 * Django's password formats (users/hashers/django-*.ts, users/passwords.ts)
 * against hashes made by real Django 3.2: test/fixtures/django/users.json,
 * written by scripts/django-fixtures/generate.py.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MAX_ARGON2 } from '../../src/users/hashers/django-argon2.ts';
import { MAX_BCRYPT_COST } from '../../src/users/hashers/django-bcrypt.ts';
import { MAX_PBKDF2_ITERATIONS } from '../../src/users/hashers/django-pbkdf2.ts';
import { describeHash, Passwords } from '../../src/users/passwords.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/django/${name}`, import.meta.url), 'utf8')) as unknown;
const dump = fixture('users.json') as Array<{ model: string; pk: number; fields: { username: string; password: string } }>;
const passwords = fixture('passwords.json') as Record<string, string>;
const hashOf = (username: string): string => {
  const row = dump.find((r) => r.fields.username === username);
  assert.ok(row, `fixture user ${username}`);
  return row.fields.password;
};

const passwordsService = new Passwords();
const verify = (encoded: string, password: string) => passwordsService.verify(encoded, password);
const REFUSED = { ok: false, needsRehash: false };

/** Every fixture user whose hash Latchkey checks, with Django's name for its format. */
const SUPPORTED: Record<string, string> = {
  pbkdf2_user: 'pbkdf2_sha256',
  old_pbkdf2_user: 'pbkdf2_sha256',
  argon2_user: 'argon2',
  argon2i_user: 'argon2',
  bcrypt_user: 'bcrypt_sha256',
  plain_bcrypt_user: 'bcrypt',
  root: 'pbkdf2_sha256',
  staff_member: 'pbkdf2_sha256',
  inactive_user: 'pbkdf2_sha256',
  CaseTwin: 'pbkdf2_sha256',
  casetwin: 'pbkdf2_sha256',
  shared_email_a: 'pbkdf2_sha256',
  shared_email_b: 'pbkdf2_sha256',
  'john smith': 'pbkdf2_sha256',
  'zoë.ørsted': 'argon2',
  no_email: 'pbkdf2_sha256',
};

/** Replaces the `index`-th `$`-separated part of a hash. */
function withPart(encoded: string, index: number, value: string): string {
  const parts = encoded.split('$');
  parts[index] = value;
  return parts.join('$');
}

/** One character of the digest, near its end, changed to another valid one. */
function tamper(encoded: string): string {
  const at = encoded.length - 5;
  return encoded.slice(0, at) + (encoded[at] === 'A' ? 'B' : 'A') + encoded.slice(at + 1);
}

describe('Django hashes made by Django', () => {
  it('the fixture holds the users and formats these tests expect', () => {
    const formats = Object.fromEntries(dump.map((row) => [row.fields.username, describeHash(row.fields.password).algorithm]));
    assert.deepEqual(formats, { ...SUPPORTED, no_password: 'unusable', md5_user: 'md5' });
  });

  for (const [username, algorithm] of Object.entries(SUPPORTED)) {
    it(`${algorithm}: ${username} verifies with its password and asks to be rehashed; a wrong one does not`, async () => {
      const encoded = hashOf(username);
      assert.deepEqual(describeHash(encoded), { algorithm, supported: true, usable: true });
      assert.deepEqual(await verify(encoded, passwords[username] ?? ''), { ok: true, needsRehash: true });
      assert.deepEqual(await verify(encoded, `${passwords[username]}!`), REFUSED);
      assert.deepEqual(await verify(encoded, ''), REFUSED);
    });
  }

  it('pbkdf2_sha256 reads the iteration count from the hash (100000 and 260000 both verify)', () => {
    assert.match(hashOf('old_pbkdf2_user'), /^pbkdf2_sha256\$100000\$/);
    assert.match(hashOf('pbkdf2_user'), /^pbkdf2_sha256\$260000\$/);
  });

  it('argon2 covers both argon2id (Django 3.2) and the older argon2i with its own parameters', () => {
    assert.match(hashOf('argon2_user'), /^argon2\$argon2id\$v=19\$m=102400,t=2,p=8\$/);
    assert.match(hashOf('argon2i_user'), /^argon2\$argon2i\$v=19\$m=512,t=2,p=2\$/);
  });

  it('bcrypt_sha256 hashes the whole password: its first 72 bytes alone do not verify, plain bcrypt truncates', async () => {
    const long = passwords.bcrypt_user ?? '';
    assert.ok(Buffer.byteLength(long) > 72);
    assert.deepEqual(await verify(hashOf('bcrypt_user'), long.slice(0, 72)), REFUSED);
    assert.deepEqual(await verify(hashOf('plain_bcrypt_user'), `${passwords.plain_bcrypt_user}\0`), REFUSED);
  });

  it('non-ASCII passwords are UTF-8, as Django encodes them', async () => {
    assert.deepEqual(await verify(hashOf('pbkdf2_user'), 'pbkdf2 pässwörd ✓'), { ok: true, needsRehash: true });
    assert.deepEqual(await verify(hashOf('pbkdf2_user'), 'pbkdf2 pässwörd ✓'.normalize('NFD')), REFUSED);
    assert.deepEqual(await verify(hashOf('zoë.ørsted'), 'ünïcödé pässwörd'), { ok: true, needsRehash: true });
  });
});

describe('hashes that are refused', () => {
  it("Django's unusable password (!…) and an empty field never verify", async () => {
    const unusable = hashOf('no_password');
    assert.match(unusable, /^!.{40}$/);
    assert.deepEqual(describeHash(unusable), { algorithm: 'unusable', supported: false, usable: false });
    assert.deepEqual(describeHash(''), { algorithm: 'unusable', supported: false, usable: false });
    assert.deepEqual(await verify(unusable, ''), REFUSED);
    assert.deepEqual(await verify(unusable, unusable), REFUSED);
    assert.deepEqual(await verify(unusable.slice(1), unusable.slice(1)), REFUSED);
    assert.deepEqual(await verify('', ''), REFUSED);
  });

  it('an unsupported format (md5) is named and refused, even with the right password', async () => {
    const md5 = hashOf('md5_user');
    assert.deepEqual(describeHash(md5), { algorithm: 'md5', supported: false, usable: true, reason: 'password hash format "md5" is not supported' });
    assert.deepEqual(await verify(md5, passwords.md5_user ?? ''), REFUSED);
    assert.equal(describeHash('5f4dcc3b5aa765d61d8327deb882cf99').algorithm, 'unsalted_md5');
    assert.equal(describeHash('sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8').algorithm, 'unsalted_sha1');
  });

  it('a tampered hash, salt or work factor does not verify', async () => {
    const cases: Array<[string, string]> = [
      ['pbkdf2_user', tamper(hashOf('pbkdf2_user'))],
      ['pbkdf2_user', withPart(hashOf('pbkdf2_user'), 1, '260001')],
      ['pbkdf2_user', withPart(hashOf('pbkdf2_user'), 2, `${hashOf('pbkdf2_user').split('$')[2]}x`)],
      ['pbkdf2_user', `${hashOf('pbkdf2_user')}$extra`],
      ['pbkdf2_user', withPart(hashOf('pbkdf2_user'), 1, '0260000')],
      ['argon2_user', tamper(hashOf('argon2_user'))],
      ['argon2_user', hashOf('argon2_user').replace('t=2', 't=3')],
      ['argon2_user', `argon2$${hashOf('argon2_user').slice('argon2'.length)}`],
      ['bcrypt_user', tamper(hashOf('bcrypt_user'))],
      ['bcrypt_user', hashOf('bcrypt_user').replace('$12$', '$11$')],
      ['bcrypt_user', `${hashOf('bcrypt_user')}x`],
      ['plain_bcrypt_user', tamper(hashOf('plain_bcrypt_user'))],
      // The same bcrypt hash under the other Django name: the password is prepared differently.
      ['plain_bcrypt_user', hashOf('plain_bcrypt_user').replace(/^bcrypt\$/, 'bcrypt_sha256$')],
    ];
    for (const [username, encoded] of cases) {
      assert.deepEqual(await verify(encoded, passwords[username] ?? ''), REFUSED, encoded);
    }
  });

  it('a malformed hash of a known format is refused and described as malformed', async () => {
    for (const encoded of ['pbkdf2_sha256$', 'pbkdf2_sha256$abc$salt$hash', 'argon2$argon2id$garbage', 'bcrypt_sha256$$2b$12$short', 'bcrypt$']) {
      const description = describeHash(encoded);
      assert.equal(description.supported, false, encoded);
      assert.match(description.reason ?? '', /^malformed /, encoded);
      assert.deepEqual(await verify(encoded, 'anything'), REFUSED, encoded);
    }
  });
});

describe('work-factor bounds: a crafted hash cannot tie up the server', () => {
  const pbkdf2 = hashOf('pbkdf2_user');

  it(`pbkdf2_sha256 accepts up to ${MAX_PBKDF2_ITERATIONS} iterations and refuses more without computing`, { timeout: 10_000 }, async () => {
    assert.equal(describeHash(withPart(pbkdf2, 1, String(MAX_PBKDF2_ITERATIONS))).supported, true);
    const over = withPart(pbkdf2, 1, String(MAX_PBKDF2_ITERATIONS + 1));
    assert.deepEqual(describeHash(over), {
      algorithm: 'pbkdf2_sha256',
      supported: false,
      usable: true,
      reason: `pbkdf2_sha256 iteration count ${MAX_PBKDF2_ITERATIONS + 1} is over Latchkey's limit of ${MAX_PBKDF2_ITERATIONS}`,
    });
    // Computed, a billion iterations would take minutes; the timeout above fails the test if it were.
    assert.deepEqual(await verify(withPart(pbkdf2, 1, '1000000000'), passwords.pbkdf2_user ?? ''), REFUSED);
  });

  it('argon2 refuses more memory, passes or lanes than the bounds', { timeout: 10_000 }, async () => {
    const argon2 = hashOf('argon2_user');
    const over = [
      [argon2.replace('m=102400', `m=${MAX_ARGON2.memoryKiB + 1}`), `argon2 memory cost ${MAX_ARGON2.memoryKiB + 1} KiB is over Latchkey's limit of ${MAX_ARGON2.memoryKiB}`],
      [argon2.replace('t=2', `t=${MAX_ARGON2.passes + 1}`), `argon2 time cost ${MAX_ARGON2.passes + 1} is over Latchkey's limit of ${MAX_ARGON2.passes}`],
      [argon2.replace('p=8', `p=${MAX_ARGON2.lanes + 1}`), `argon2 parallelism ${MAX_ARGON2.lanes + 1} is over Latchkey's limit of ${MAX_ARGON2.lanes}`],
    ] as const;
    for (const [encoded, reason] of over) {
      assert.deepEqual(describeHash(encoded), { algorithm: 'argon2', supported: false, usable: true, reason });
      assert.deepEqual(await verify(encoded, passwords.argon2_user ?? ''), REFUSED);
    }
    assert.equal(describeHash(argon2.replace('m=102400', `m=${MAX_ARGON2.memoryKiB}`)).supported, true);
  });

  it(`bcrypt refuses a cost above ${MAX_BCRYPT_COST}`, { timeout: 10_000 }, async () => {
    const encoded = hashOf('bcrypt_user').replace('$12$', '$31$');
    assert.deepEqual(describeHash(encoded), {
      algorithm: 'bcrypt_sha256',
      supported: false,
      usable: true,
      reason: `bcrypt_sha256 cost 31 is over Latchkey's limit of ${MAX_BCRYPT_COST}`,
    });
    assert.deepEqual(await verify(encoded, passwords.bcrypt_user ?? ''), REFUSED);
    assert.equal(describeHash(hashOf('bcrypt_user').replace('$12$', `$${MAX_BCRYPT_COST}$`)).supported, true);
  });
});

describe("Latchkey's own hashes", () => {
  it('new hashes are argon2id, verify without a rehash, and are described as argon2id', async () => {
    const encoded = await passwordsService.hash('fresh password');
    assert.match(encoded, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.deepEqual(describeHash(encoded), { algorithm: 'argon2id', supported: true, usable: true });
    assert.deepEqual(await verify(encoded, 'fresh password'), { ok: true, needsRehash: false });
    assert.deepEqual(await verify(encoded, 'other password'), REFUSED);
  });
});
