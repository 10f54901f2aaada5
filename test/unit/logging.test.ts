/**
 * The server's logger and start-up line: pretty or JSON by LOG_FORMAT and the
 * terminal, credentials redacted, and the settings that differ from the
 * defaults with secrets shown as `(set)`.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { changedSettings, createLogger, describeDatabase, listeningLine } from '../../src/logging.ts';

const KEY = 'a-signing-key-long-enough-for-hs256-0123456789';

function collector() {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
  return { stream, text: () => lines.join('') };
}

describe('changedSettings', () => {
  it('lists nothing for an empty environment, or one holding only defaults', () => {
    assert.deepEqual(changedSettings({}), []);
    assert.deepEqual(changedSettings({ PORT: '8000', LOG_LEVEL: 'info', ACCESS_TOKEN_LIFETIME: '900s', ROTATE_REFRESH_TOKENS: 'yes', HOST: '' }), []);
  });

  it('lists the settings that differ, by name, with their values', () => {
    assert.deepEqual(changedSettings({ REFRESH_TOKEN_LIFETIME: '30d', UNRELATED: 'x', ACCESS_TOKEN_LIFETIME: '5m', AUTH_BASE_PATH: '/api' }), [
      ['ACCESS_TOKEN_LIFETIME', '5m'],
      ['AUTH_BASE_PATH', '/api'],
      ['REFRESH_TOKEN_LIFETIME', '30d'],
    ]);
  });

  it('names NODE_ENV first when it is set', () => {
    assert.deepEqual(changedSettings({ NODE_ENV: 'production', SIGNING_KEY: KEY }), [['NODE_ENV', 'production'], ['SIGNING_KEY', '(set)']]);
  });

  it('shows secrets as (set): SIGNING_KEY, and the passwords inside a database URL', () => {
    const settings = changedSettings({
      SIGNING_KEY: KEY,
      DATABASE_URL: 'postgres://latchkey:hunter2@db.internal:5432/latchkey?sslmode=require&sslpassword=pw2',
    });
    assert.deepEqual(settings, [
      ['DATABASE_URL', 'postgres://latchkey:(set)@db.internal:5432/latchkey?sslmode=require&sslpassword=(set)'],
      ['SIGNING_KEY', '(set)'],
    ]);
    const text = JSON.stringify(settings);
    for (const secret of [KEY, 'hunter2', 'pw2']) assert.ok(!text.includes(secret), secret);
  });
});

describe('describeDatabase', () => {
  it('names the embedded data directory, or the PostgreSQL host and database without credentials', () => {
    assert.equal(describeDatabase({ databaseUrl: undefined, dataDir: './.latchkey' }), 'embedded database in ./.latchkey');
    assert.equal(describeDatabase({ databaseUrl: 'postgres://u:secret@db:5432/auth', dataDir: './.latchkey' }), 'PostgreSQL db:5432/auth');
  });
});

describe('listeningLine', () => {
  it('says where it listens, which database and the settings that differ', () => {
    const env = { ACCESS_TOKEN_LIFETIME: '5m', SIGNING_KEY: KEY };
    assert.equal(
      listeningLine('http://127.0.0.1:8000', loadConfig(env), env),
      'Latchkey listening on http://127.0.0.1:8000 · embedded database in ./.latchkey · settings: ACCESS_TOKEN_LIFETIME=5m, SIGNING_KEY=(set)',
    );
  });

  it('says "all defaults" when nothing is set, and quotes a value with spaces or commas', () => {
    assert.match(listeningLine('http://127.0.0.1:8000', loadConfig({}), {}), / · settings: all defaults$/);
    assert.match(listeningLine('http://127.0.0.1:8000', loadConfig({}), { ROLES: 'member,staff' }), /settings: ROLES="member,staff"$/);
  });
});

describe('createLogger', () => {
  const config = (env: Record<string, string>) => loadConfig({ SIGNING_KEY: KEY, ...env });

  it('writes JSON lines when not on a terminal (LOG_FORMAT=auto), with credentials redacted', async () => {
    const out = collector();
    const logger = createLogger(config({}), { stream: out.stream, isTTY: false });
    logger.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } } }, 'hello');
    await tick();
    const line = JSON.parse(out.text()) as { msg: string; level: number; req: { headers: { authorization: string } } };
    assert.equal(line.msg, 'hello');
    assert.equal(line.level, 30);
    assert.equal(line.req.headers.authorization, '[Redacted]');
  });

  it('writes one pretty line per entry on a terminal, and JSON there with LOG_FORMAT=json', async () => {
    const tty = collector();
    createLogger(config({ LOG_LEVEL: 'debug' }), { stream: tty.stream, isTTY: true }).debug({ route: '/x', req: { headers: { cookie: 'sid=1' } } }, 'pretty please');
    const forced = collector();
    createLogger(config({ LOG_FORMAT: 'json' }), { stream: forced.stream, isTTY: true }).info('as json');
    await tick();
    const text = stripVTControlCharacters(tty.text());
    assert.equal(text.split('\n').length, 2, `one line: ${JSON.stringify(text)}`);
    assert.match(text, /^\[\d\d:\d\d:\d\d\.\d{3}\] DEBUG: pretty please /);
    assert.ok(!text.includes('sid=1'), 'the cookie is redacted');
    assert.equal((JSON.parse(forced.text()) as { msg: string }).msg, 'as json');
  });

  it('writes pretty lines off a terminal with LOG_FORMAT=pretty, without colours', async () => {
    const out = collector();
    createLogger(config({ LOG_FORMAT: 'pretty' }), { stream: out.stream, isTTY: false }).warn('careful');
    await tick();
    assert.match(out.text(), /^\[[\d:.]+\] WARN: careful\n$/);
  });
});
