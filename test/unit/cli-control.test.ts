/**
 * The control socket: operations run in the server's process, and domain
 * errors come back as the same classes so the CLI prints them the same way.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { controlSocketPath, isNotListening, sendToServer, startControlServer, type ControlServer } from '../../src/cli/control.ts';
import { CliError, UsageError } from '../../src/cli/errors.ts';
import { ConflictError, ValidationError } from '../../src/errors.ts';
import { PASSWORD, harness, uniqueName, type Harness } from '../support/harness.ts';

describe('control socket', () => {
  let h: Harness;
  let dir: string;
  let control: ControlServer;

  before(async () => {
    h = await harness('pglite');
    dir = mkdtempSync(join(tmpdir(), 'lk-control-'));
    control = await startControlServer(controlSocketPath(dir), { runtime: async () => ({ auth: h.auth, store: h.store, keys: h.auth.keyDirectory }) });
  });
  after(async () => {
    await control.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('listens on an owner-only socket in the data directory', () => {
    assert.equal(control.path, join(dir, 'control.sock'));
    assert.equal(statSync(control.path).mode & 0o777, 0o600);
  });

  it('runs create-user in the server process and returns id and username only', async () => {
    const username = uniqueName();
    const output = (await sendToServer(control.path, 'create-user', { username, password: 'secret-password' })) as Record<string, unknown>;
    assert.deepEqual(Object.keys(output).sort(), ['id', 'username']);
    assert.equal(output.username, username);
    assert.equal(typeof output.id, 'number');
  });

  it('returns a taken username as a ConflictError with its field', async () => {
    const username = uniqueName();
    await sendToServer(control.path, 'create-user', { username, password: PASSWORD });
    await assert.rejects(sendToServer(control.path, 'create-user', { username, password: PASSWORD }), (error: unknown) => {
      assert.ok(error instanceof ConflictError);
      assert.deepEqual(error.fields, { username: ['A user with that username already exists.'] });
      return true;
    });
  });

  it('returns invalid input as a ValidationError with every field', async () => {
    await assert.rejects(sendToServer(control.path, 'create-user', { username: 'a b', email: 'nope', password: 'x' }), (error: unknown) => {
      assert.ok(error instanceof ValidationError && !(error instanceof ConflictError));
      assert.deepEqual(Object.keys(error.fields).sort(), ['email', 'password', 'username']);
      return true;
    });
  });

  it('runs migrate, which finds nothing to apply on a migrated database', async () => {
    assert.deepEqual(await sendToServer(control.path, 'migrate', {}), { applied: [] });
  });

  it('refuses a command it does not know as a usage error', async () => {
    await assert.rejects(sendToServer(control.path, 'no-such' as never, {}), UsageError);
  });

  it('reports a server that failed to start as a failure', async () => {
    const path = join(dir, 'failing.sock');
    const failing = await startControlServer(path, { runtime: () => Promise.reject(new CliError('startup failed')) });
    try {
      await assert.rejects(sendToServer(path, 'migrate', {}), (error: unknown) => error instanceof CliError && error.message === 'startup failed');
    } finally {
      await failing.close();
    }
  });

  it('tells "nobody listening" apart from a failed operation', async () => {
    await assert.rejects(sendToServer(join(dir, 'absent.sock'), 'migrate', {}), (error: unknown) => isNotListening(error));
  });

  it('moves the socket under the temp directory when the data directory path is too long', () => {
    const long = join('/', 'x'.repeat(120));
    assert.ok(controlSocketPath(long).startsWith(tmpdir()));
    assert.equal(controlSocketPath(long), controlSocketPath(long));
  });
});
