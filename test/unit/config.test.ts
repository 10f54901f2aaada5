/**
 * loadConfig: SPEC §10's defaults, duration parsing, and one-line errors that
 * name the bad variable.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULTS, MIN_SIGNING_KEY_BYTES, loadConfig, parseDuration } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

const KEY = 'k'.repeat(MIN_SIGNING_KEY_BYTES);

/** Asserts that loading `env` throws a one-line ConfigError naming `variable`. */
function refuses(env: Record<string, string | undefined>, variable: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.variable, variable);
      assert.ok(error.message.includes(variable), error.message);
      assert.ok(!error.message.includes('\n'), 'one line');
      return true;
    },
  );
}

describe('loadConfig defaults (SPEC §10)', () => {
  const config = loadConfig({});

  it('HOST 127.0.0.1, PORT 8000, DATA_DIR ./.latchkey', () => {
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8000);
    assert.equal(config.dataDir, './.latchkey');
  });

  it('no DATABASE_URL (embedded PGlite)', () => {
    assert.equal(config.databaseUrl, undefined);
  });

  it('SIGNING_KEY unset in development (generated later), JWT_ALGORITHM HS256', () => {
    assert.equal(config.signingKey, undefined);
    assert.equal(config.production, false);
    assert.equal(config.jwtAlgorithm, 'HS256');
  });

  it('ACCESS_TOKEN_LIFETIME 15m, REFRESH_TOKEN_LIFETIME 7d (in ms)', () => {
    assert.equal(config.accessTokenLifetime, 15 * 60_000);
    assert.equal(config.refreshTokenLifetime, 7 * 86_400_000);
  });

  it('ROTATE_REFRESH_TOKENS true, REFRESH_REUSE_GRACE 10s', () => {
    assert.equal(config.rotateRefreshTokens, true);
    assert.equal(config.refreshReuseGrace, 10_000);
  });

  it('LEEWAY 0s, no JWT_ISSUER or JWT_AUDIENCE, USER_ID_CLAIM user_id', () => {
    assert.equal(config.leeway, 0);
    assert.equal(config.jwtIssuer, undefined);
    assert.equal(config.jwtAudience, undefined);
    assert.equal(config.userIdClaim, 'user_id');
  });

  it('AUTH_BASE_PATH /auth, LOGIN_RESPONSE full', () => {
    assert.equal(config.authBasePath, '/auth');
    assert.equal(config.loginResponse, 'full');
  });

  it('ROLES client,employe,admin (the first is the default role)', () => {
    assert.deepEqual(config.roles, ['client', 'employe', 'admin']);
  });

  it('LOG_LEVEL info, LOG_FORMAT auto', () => {
    assert.equal(config.logLevel, 'info');
    assert.equal(config.logFormat, 'auto');
  });

  it('a body limit is set (request bodies are capped)', () => {
    assert.ok(Number.isInteger(config.bodyLimit) && config.bodyLimit > 0);
  });

  it('empty values mean the default', () => {
    const fromEmpty = loadConfig({ PORT: '', ACCESS_TOKEN_LIFETIME: '', AUTH_BASE_PATH: '', ROTATE_REFRESH_TOKENS: '' });
    assert.equal(fromEmpty.port, 8000);
    assert.equal(fromEmpty.accessTokenLifetime, 900_000);
    assert.equal(fromEmpty.authBasePath, '/auth');
    assert.equal(fromEmpty.rotateRefreshTokens, true);
  });

  it('is not a global: two configs from two environments live side by side', () => {
    const a = loadConfig({ PORT: '1' });
    const b = loadConfig({ PORT: '2' });
    assert.equal(a.port, 1);
    assert.equal(b.port, 2);
    assert.equal(loadConfig({}).port, 8000);
  });

  it('the DEFAULTS table covers every variable of SPEC §10 that loadConfig reads', () => {
    for (const variable of [
      'HOST', 'PORT', 'DATA_DIR', 'DATABASE_URL', 'SIGNING_KEY', 'JWT_ALGORITHM', 'ACCESS_TOKEN_LIFETIME',
      'REFRESH_TOKEN_LIFETIME', 'ROTATE_REFRESH_TOKENS', 'REFRESH_REUSE_GRACE', 'LEEWAY', 'JWT_ISSUER', 'JWT_AUDIENCE',
      'USER_ID_CLAIM', 'AUTH_BASE_PATH', 'LOGIN_RESPONSE', 'ROLES', 'LOG_LEVEL', 'LOG_FORMAT',
    ]) {
      assert.ok(variable in DEFAULTS, variable);
    }
  });
});

describe('durations', () => {
  const cases: Array<[string, number]> = [
    ['90s', 90_000],
    ['15m', 900_000],
    ['60m', 3_600_000],
    ['12h', 43_200_000],
    ['7d', 604_800_000],
    ['1d', 86_400_000],
    ['0s', 0],
    ['90', 90_000],
    ['1', 1_000],
    [' 15m ', 900_000],
  ];
  for (const [text, ms] of cases) {
    it(`${JSON.stringify(text)} = ${ms} ms`, () => {
      assert.equal(parseDuration(text, 'X'), ms);
    });
  }

  it('every duration variable reads them: ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, REFRESH_REUSE_GRACE, LEEWAY', () => {
    const config = loadConfig({ ACCESS_TOKEN_LIFETIME: '90s', REFRESH_TOKEN_LIFETIME: '60m', REFRESH_REUSE_GRACE: '30', LEEWAY: '5s' });
    assert.equal(config.accessTokenLifetime, 90_000);
    assert.equal(config.refreshTokenLifetime, 3_600_000);
    assert.equal(config.refreshReuseGrace, 30_000);
    assert.equal(config.leeway, 5_000);
  });

  it('a bare number is seconds: ACCESS_TOKEN_LIFETIME=300', () => {
    assert.equal(loadConfig({ ACCESS_TOKEN_LIFETIME: '300' }).accessTokenLifetime, 300_000);
  });

  for (const bad of ['soon', '', '15 minutes', '-5s', '1.5h', '5w', 'm', '15M', 's15', '1e3']) {
    it(`${JSON.stringify(bad)} is not a duration → ConfigError naming the variable`, () => {
      assert.throws(() => parseDuration(bad, 'LEEWAY'), (error: unknown) => error instanceof ConfigError && error.variable === 'LEEWAY');
    });
  }
});

describe('booleans', () => {
  for (const [text, value] of [['true', true], ['false', false], ['1', true], ['0', false], ['TRUE', true], ['off', false], ['on', true]] as const) {
    it(`ROTATE_REFRESH_TOKENS=${text} → ${value}`, () => {
      assert.equal(loadConfig({ ROTATE_REFRESH_TOKENS: text }).rotateRefreshTokens, value);
    });
  }
});

describe('other values', () => {
  it('PORT, AUTH_BASE_PATH (trailing slash dropped), LOGIN_RESPONSE, ROLES, USER_ID_CLAIM, JWT_ISSUER, JWT_AUDIENCE', () => {
    const config = loadConfig({
      PORT: '9000', AUTH_BASE_PATH: '/api/v2/', LOGIN_RESPONSE: 'minimal', ROLES: ' member , staff ', USER_ID_CLAIM: 'uid',
      JWT_ISSUER: 'https://auth.example.com', JWT_AUDIENCE: 'api',
    });
    assert.equal(config.port, 9000);
    assert.equal(config.authBasePath, '/api/v2');
    assert.equal(config.loginResponse, 'minimal');
    assert.deepEqual(config.roles, ['member', 'staff']);
    assert.equal(config.userIdClaim, 'uid');
    assert.equal(config.jwtIssuer, 'https://auth.example.com');
    assert.equal(config.jwtAudience, 'api');
  });

  it('DATABASE_URL takes postgres:// and postgresql://', () => {
    assert.equal(loadConfig({ DATABASE_URL: 'postgres://u@h:5432/db' }).databaseUrl, 'postgres://u@h:5432/db');
    assert.equal(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).databaseUrl, 'postgresql://u@h/db');
  });

  it('REDIS_PREFIX (default latchkey) and REVOCATION_LISTEN (default true)', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.redisPrefix, 'latchkey');
    assert.equal(defaults.revocationListen, true);
    const set = loadConfig({ REDIS_PREFIX: 'shop:eu-1', REVOCATION_LISTEN: 'false' });
    assert.equal(set.redisPrefix, 'shop:eu-1');
    assert.equal(set.revocationListen, false);
  });

  it('LOG_FORMAT takes auto, pretty and json', () => {
    for (const format of ['auto', 'pretty', 'json'] as const) assert.equal(loadConfig({ LOG_FORMAT: format }).logFormat, format);
    assert.equal(loadConfig({ LOG_FORMAT: ' json ' }).logFormat, 'json');
  });

  it(`a SIGNING_KEY of ${MIN_SIGNING_KEY_BYTES} bytes is enough`, () => {
    assert.equal(loadConfig({ SIGNING_KEY: KEY }).signingKey, KEY);
  });

  it('NODE_ENV=production with a long SIGNING_KEY starts', () => {
    const config = loadConfig({ NODE_ENV: 'production', SIGNING_KEY: KEY });
    assert.equal(config.production, true);
    assert.equal(config.signingKey, KEY);
  });
});

describe('bad values throw a ConfigError naming the variable', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['PORT=abc', { PORT: 'abc' }, 'PORT'],
    ['PORT=70000', { PORT: '70000' }, 'PORT'],
    ['PORT=-1', { PORT: '-1' }, 'PORT'],
    ['PORT=80.5', { PORT: '80.5' }, 'PORT'],
    ['ACCESS_TOKEN_LIFETIME=soon', { ACCESS_TOKEN_LIFETIME: 'soon' }, 'ACCESS_TOKEN_LIFETIME'],
    ['ACCESS_TOKEN_LIFETIME=0s', { ACCESS_TOKEN_LIFETIME: '0s' }, 'ACCESS_TOKEN_LIFETIME'],
    ['REFRESH_TOKEN_LIFETIME=forever', { REFRESH_TOKEN_LIFETIME: 'forever' }, 'REFRESH_TOKEN_LIFETIME'],
    ['REFRESH_TOKEN_LIFETIME shorter than ACCESS_TOKEN_LIFETIME', { ACCESS_TOKEN_LIFETIME: '1h', REFRESH_TOKEN_LIFETIME: '30m' }, 'REFRESH_TOKEN_LIFETIME'],
    ['REFRESH_REUSE_GRACE=later', { REFRESH_REUSE_GRACE: 'later' }, 'REFRESH_REUSE_GRACE'],
    ['LEEWAY=a bit', { LEEWAY: 'a bit' }, 'LEEWAY'],
    ['ROTATE_REFRESH_TOKENS=maybe', { ROTATE_REFRESH_TOKENS: 'maybe' }, 'ROTATE_REFRESH_TOKENS'],
    ['DATABASE_URL=mysql://x', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    ['DATABASE_URL=not a url', { DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    ['SIGNING_KEY too short', { SIGNING_KEY: 'short' }, 'SIGNING_KEY'],
    [`SIGNING_KEY of ${MIN_SIGNING_KEY_BYTES - 1} bytes`, { SIGNING_KEY: 'k'.repeat(MIN_SIGNING_KEY_BYTES - 1) }, 'SIGNING_KEY'],
    ['JWT_ALGORITHM=none', { JWT_ALGORITHM: 'none' }, 'JWT_ALGORITHM'],
    ['JWT_ALGORITHM=RS512', { JWT_ALGORITHM: 'RS512' }, 'JWT_ALGORITHM'],
    ['LOGIN_RESPONSE=short', { LOGIN_RESPONSE: 'short' }, 'LOGIN_RESPONSE'],
    ['AUTH_BASE_PATH=auth (no leading slash)', { AUTH_BASE_PATH: 'auth' }, 'AUTH_BASE_PATH'],
    ['AUTH_BASE_PATH=/ (empty once trimmed)', { AUTH_BASE_PATH: '/' }, 'AUTH_BASE_PATH'],
    ['ROLES=,', { ROLES: ',' }, 'ROLES'],
    ['LOG_LEVEL=loud', { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    ['LOG_FORMAT=text', { LOG_FORMAT: 'text' }, 'LOG_FORMAT'],
    ['LOG_FORMAT=JSON (case matters, as LOG_LEVEL)', { LOG_FORMAT: 'JSON' }, 'LOG_FORMAT'],
    ['REDIS_PREFIX with a space', { REDIS_PREFIX: 'my app' }, 'REDIS_PREFIX'],
    ['REVOCATION_LISTEN=sometimes', { REVOCATION_LISTEN: 'sometimes' }, 'REVOCATION_LISTEN'],
  ];
  for (const [title, env, variable] of cases) {
    it(`${title} → ConfigError(${variable})`, () => refuses(env, variable));
  }

  it('NODE_ENV=production without SIGNING_KEY → ConfigError(SIGNING_KEY)', () => {
    refuses({ NODE_ENV: 'production' }, 'SIGNING_KEY');
  });

  it('NODE_ENV=production with a short SIGNING_KEY → ConfigError(SIGNING_KEY)', () => {
    refuses({ NODE_ENV: 'production', SIGNING_KEY: 'short' }, 'SIGNING_KEY');
  });

  it('a multi-byte SIGNING_KEY is measured in bytes', () => {
    // 11 three-byte characters: 33 bytes, 11 characters.
    assert.equal(loadConfig({ SIGNING_KEY: '€'.repeat(11) }).signingKey, '€'.repeat(11));
  });

  it('the error message names the variable first, on one line', () => {
    try {
      loadConfig({ PORT: 'abc' });
      assert.fail('should throw');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.name, 'ConfigError');
      assert.match(error.message, /^PORT: /);
    }
  });
});
