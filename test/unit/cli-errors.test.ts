/** What the CLI prints for each kind of failure, and its exit status. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { CliError, fromWire, report, toWire, UsageError } from '../../src/cli/errors.ts';
import { AuthError, ConfigError, ConflictError, StoreUnavailableError, ValidationError } from '../../src/errors.ts';

describe('cli error reporting', () => {
  it('prints one line per invalid field and exits 1', () => {
    const { lines, status } = report(new ValidationError({ username: ['Bad.'], email: ['Worse.', 'Still.'] }));
    assert.deepEqual(lines, ['error: username: Bad.', 'error: email: Worse. Still.']);
    assert.equal(status, 1);
  });

  it('exits 2 for usage and configuration errors, naming the variable', () => {
    assert.deepEqual(report(new UsageError('--username is required')), { lines: ['error: --username is required'], status: 2 });
    assert.deepEqual(report(new ConfigError('PORT', '"x" is not a port number')), { lines: ['error: PORT: "x" is not a port number'], status: 2 });
  });

  it('says the database is unreachable, with the cause, on one line', () => {
    const cause = new Error('connect ECONNREFUSED\n127.0.0.1:5999');
    assert.deepEqual(report(new StoreUnavailableError(cause)), { lines: ['error: cannot reach the database: connect ECONNREFUSED 127.0.0.1:5999'], status: 1 });
  });

  it('exits 130 when a prompt is cancelled', () => {
    const cancelled = Object.assign(new Error('User force closed the prompt'), { name: 'ExitPromptError' });
    assert.equal(report(cancelled).status, 130);
  });

  it('round-trips each kind across the wire as the same class', () => {
    const conflict = fromWire(toWire(new ConflictError({ username: ['Taken.'] })));
    assert.ok(conflict instanceof ConflictError);
    assert.deepEqual(conflict.fields, { username: ['Taken.'] });
    assert.ok(fromWire(toWire(new ValidationError({ email: ['Bad.'] }))) instanceof ValidationError);
    const auth = fromWire(toWire(new AuthError('not_found', 'no such session')));
    assert.ok(auth instanceof AuthError && auth.code === 'not_found');
    assert.ok(fromWire(toWire(new UsageError('x'))) instanceof UsageError);
    const failure = fromWire(toWire(new TypeError('boom')));
    assert.ok(failure instanceof CliError && failure.message === 'boom');
    assert.deepEqual(report(fromWire(toWire(new StoreUnavailableError(new Error('down'))))).lines, ['error: cannot reach the database: down']);
  });
});
