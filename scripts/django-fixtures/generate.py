#!/usr/bin/python3
"""Generates Latchkey's Django import fixtures with real Django (see README.md).

Writes, under test/fixtures/django/:
  users.json      `dumpdata auth.user` of users made in an in-memory SQLite database
  site.json       `dumpdata auth.user token_blacklist`: the same users and SimpleJWT's token tables
  auth_user.sql   `pg_dump` of the same users and token tables in a scratch PostgreSQL database
  passwords.json  username -> plain password, so tests know what to type
  simplejwt.json  the SIMPLE_JWT signing key and the tokens issued, by name, for tests to present

Every hash is made by Django's own hashers; nothing here writes a hash by hand.
"""
import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import django
from django.conf import settings

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'django'))
PG = {'host': os.environ.get('PGHOST', '127.0.0.1'), 'port': os.environ.get('PGPORT', '5432'), 'user': os.environ.get('PGUSER', 'postgres')}
SCRATCH_DB = 'lk_django_fixture'
SIGNING_KEY = 'django-fixture-simplejwt-signing-key-for-latchkey-tests'

settings.configure(
    INSTALLED_APPS=[
        'django.contrib.auth',
        'django.contrib.contenttypes',
        'rest_framework_simplejwt',
        'rest_framework_simplejwt.token_blacklist',
    ],
    # A century: the committed refresh tokens must not expire.
    SECRET_KEY=SIGNING_KEY,
    SIMPLE_JWT={'SIGNING_KEY': SIGNING_KEY, 'REFRESH_TOKEN_LIFETIME': timedelta(days=36525)},
    DATABASES={
        'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'},
        'pg': {'ENGINE': 'django.db.backends.postgresql', 'NAME': SCRATCH_DB, 'HOST': PG['host'], 'PORT': PG['port'], 'USER': PG['user']},
    },
    # The first is the default; the others are picked per user below.
    PASSWORD_HASHERS=[
        'django.contrib.auth.hashers.PBKDF2PasswordHasher',
        'django.contrib.auth.hashers.Argon2PasswordHasher',
        'django.contrib.auth.hashers.BCryptSHA256PasswordHasher',
        'django.contrib.auth.hashers.BCryptPasswordHasher',
        'django.contrib.auth.hashers.MD5PasswordHasher',
    ],
    USE_TZ=True,
)
django.setup()

from argon2 import low_level  # noqa: E402
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher, make_password  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken  # noqa: E402
from rest_framework_simplejwt.settings import api_settings  # noqa: E402
from rest_framework_simplejwt.tokens import RefreshToken  # noqa: E402


class LegacyArgon2iHasher(Argon2PasswordHasher):
    """Django 1.10-2.x stored argon2i with these parameters: argon2$argon2i$v=19$m=512,t=2,p=2$…"""
    time_cost = 2
    memory_cost = 512
    parallelism = 2

    def params(self):
        params = super().params()
        params.type = low_level.Type.I
        return params


class OldPBKDF2Hasher(PBKDF2PasswordHasher):
    """Django 2.0's iteration count: the count is read from the hash, not assumed."""
    iterations = 100000


JOINED = datetime(2021, 3, 4, 5, 6, 7, 123456, tzinfo=timezone.utc)
LAST_LOGIN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

# (username, password, hasher, extra fields). None as the password: set_unusable_password().
USERS = [
    ('pbkdf2_user', 'pbkdf2 pässwörd ✓', 'pbkdf2_sha256', {'email': 'pbkdf2@example.com', 'first_name': 'Pat', 'last_name': 'Kdf'}),
    ('old_pbkdf2_user', 'older iterations', OldPBKDF2Hasher(), {'email': 'old-pbkdf2@example.com'}),
    ('argon2_user', 'argon2 horse staple', 'argon2', {'email': 'argon2@example.com', 'last_login': LAST_LOGIN}),
    ('argon2i_user', 'argon2i legacy', LegacyArgon2iHasher(), {'email': 'argon2i@example.com'}),
    # Over 72 bytes: bcrypt_sha256 hashes the whole of it, where plain bcrypt would truncate.
    ('bcrypt_user', 'bcrypt-sha256 ' + 'x' * 80, 'bcrypt_sha256', {'email': 'bcrypt@example.com'}),
    ('plain_bcrypt_user', 'plain bcrypt', 'bcrypt', {'email': 'plain-bcrypt@example.com'}),
    ('root', 'superuser secret', 'pbkdf2_sha256', {'email': 'root@example.com', 'is_superuser': True, 'is_staff': True}),
    ('staff_member', 'staff secret', 'pbkdf2_sha256', {'email': 'staff@example.com', 'is_staff': True}),
    ('inactive_user', 'inactive secret', 'pbkdf2_sha256', {'email': 'inactive@example.com', 'is_active': False}),
    ('no_password', None, None, {'email': 'social@example.com'}),
    ('CaseTwin', 'case twin upper', 'pbkdf2_sha256', {'email': 'twin-upper@example.com'}),
    ('casetwin', 'case twin lower', 'pbkdf2_sha256', {'email': 'twin-lower@example.com'}),
    ('shared_email_a', 'shared email a', 'pbkdf2_sha256', {'email': 'Shared@Example.com'}),
    ('shared_email_b', 'shared email b', 'pbkdf2_sha256', {'email': 'shared@example.com'}),
    # create_user() does not run the username validator; a form would have refused the space.
    ('john smith', 'has a space', 'pbkdf2_sha256', {'email': 'john.smith@example.com'}),
    ('zoë.ørsted', 'ünïcödé pässwörd', 'argon2', {'email': 'zoe@example.com', 'first_name': 'Zoë', 'last_name': 'Ørsted-Łukasiewicz'}),
    ('md5_user', 'md5 is unsupported', 'md5', {'email': 'md5@example.com'}),
    ('no_email', 'no email at all', 'pbkdf2_sha256', {}),
]


def create_users(using):
    """Creates USERS in the given database, in order, so ids are 1..len(USERS)."""
    for username, password, hasher, extra in USERS:
        fields = dict(extra)
        superuser = fields.pop('is_superuser', False)
        user = User(username=username, date_joined=JOINED, is_superuser=superuser, **fields)
        if password is None:
            user.set_unusable_password()
        else:
            user.password = make_password(password, hasher=hasher)
        user.save(using=using)


EXPIRED_AT = datetime(2022, 1, 2, 3, 4, 5, tzinfo=timezone.utc)

# (name in simplejwt.json, username, what happens to it). Ids follow USERS: md5_user is skipped by the import.
TOKENS = [
    ('live', 'pbkdf2_user', 'outstanding'),
    ('second', 'argon2_user', 'outstanding'),
    ('staff', 'root', 'outstanding'),
    ('blacklisted', 'pbkdf2_user', 'blacklisted'),
    ('expired', 'bcrypt_user', 'expired'),
    ('skipped_user', 'md5_user', 'outstanding'),
]


def issue_tokens():
    """Issues TOKENS in the default database as SimpleJWT's views do; returns name -> token string."""
    issued = {}
    for name, username, state in TOKENS:
        user = User.objects.get(username=username)
        if state == 'expired':
            # for_user() with the clock turned back: issued and expired in 2022.
            token = RefreshToken()
            token[api_settings.USER_ID_CLAIM] = user.id
            token.set_iat(at_time=EXPIRED_AT - timedelta(days=1))
            token.set_exp(from_time=EXPIRED_AT, lifetime=timedelta(0))
            OutstandingToken.objects.create(user=user, jti=token['jti'], token=str(token), created_at=EXPIRED_AT - timedelta(days=1), expires_at=EXPIRED_AT)
        else:
            token = RefreshToken.for_user(user)
            if state == 'blacklisted':
                token.blacklist()
        issued[name] = str(token)
    issued['access'] = str(RefreshToken(issued['live']).access_token)
    return issued


def copy_tokens(using):
    """The default database's token tables, rows and ids as they are, into another database."""
    OutstandingToken.objects.using(using).bulk_create(OutstandingToken.objects.all())
    BlacklistedToken.objects.using(using).bulk_create(BlacklistedToken.objects.all())


def run(*args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def psql(statement):
    run('psql', '-h', PG['host'], '-p', PG['port'], '-U', PG['user'], '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', statement)


def main():
    os.makedirs(OUT, exist_ok=True)

    call_command('migrate', verbosity=0)
    create_users('default')
    dump = io.StringIO()
    call_command('dumpdata', 'auth.user', indent=2, stdout=dump)
    with open(os.path.join(OUT, 'users.json'), 'w', encoding='utf-8') as f:
        f.write(dump.getvalue() + '\n')
    tokens = issue_tokens()
    dump = io.StringIO()
    call_command('dumpdata', 'auth.user', 'token_blacklist', indent=2, stdout=dump)
    with open(os.path.join(OUT, 'site.json'), 'w', encoding='utf-8') as f:
        f.write(dump.getvalue() + '\n')

    psql(f'drop database if exists {SCRATCH_DB}')
    psql(f'create database {SCRATCH_DB}')
    try:
        call_command('migrate', database='pg', verbosity=0)
        create_users('pg')
        copy_tokens('pg')
        tables = ['-t', 'auth_user', '-t', 'token_blacklist_outstandingtoken', '-t', 'token_blacklist_blacklistedtoken']
        sql = run('pg_dump', '-h', PG['host'], '-p', PG['port'], '-U', PG['user'], '--no-owner', '--no-privileges', '--inserts', *tables, SCRATCH_DB)
        # Recent pg_dump brackets the dump in psql-only \restrict lines; without them any client can load it.
        sql = ''.join(line for line in sql.splitlines(keepends=True) if not line.startswith(('\\restrict ', '\\unrestrict ')))
    finally:
        from django.db import connections
        connections.close_all()
        psql(f'drop database if exists {SCRATCH_DB}')
    with open(os.path.join(OUT, 'auth_user.sql'), 'w', encoding='utf-8') as f:
        f.write(sql)

    passwords = {username: password for username, password, _, _ in USERS if password is not None}
    with open(os.path.join(OUT, 'passwords.json'), 'w', encoding='utf-8') as f:
        json.dump(passwords, f, indent=2, ensure_ascii=False)
        f.write('\n')
    with open(os.path.join(OUT, 'simplejwt.json'), 'w', encoding='utf-8') as f:
        json.dump({'signing_key': SIGNING_KEY, 'tokens': tokens}, f, indent=2)
        f.write('\n')
    print(f'wrote {len(USERS)} users and {len(tokens)} tokens to {OUT}', file=sys.stderr)


if __name__ == '__main__':
    main()
