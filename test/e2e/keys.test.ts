/**
 * `latchkey keys …` as users run it: against a data directory alone, and next
 * to a running embedded server that applies each change at once (control
 * socket); usage errors exit 2; no key material on any output.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PASSWORD, freePort, login, oneErrorLine, run, startServer, tempDir } from '../support/cli.ts';

const kidOf = (token: unknown) => (JSON.parse(Buffer.from(String(token).split('.')[0] ?? '', 'base64url').toString()) as { kid: string }).kid;

async function me(port: number, access: unknown): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/auth/me/`, { headers: { authorization: `Bearer ${String(access)}` } });
  return response.status;
}

describe('latchkey keys', () => {
  it('answers --help for the group and each command', async () => {
    const results = await Promise.all([['keys', '--help'], ['keys', 'generate', '--help'], ['keys', 'rotate', '--help'], ['keys', 'list', '--help'], ['keys', 'retire', '--help']].map((args) => run(args)));
    for (const result of results) assert.equal(result.status, 0, result.stderr);
    assert.match(results[0]?.stdout ?? '', /generate[\s\S]*rotate[\s\S]*list[\s\S]*retire/);
    assert.match(results[1]?.stdout ?? '', /--out/);
    assert.match((await run(['--help'])).stdout, /\n {2}keys /);
  });

  it('exits 2 with one line for bad usage', async () => {
    const dir = tempDir('lk-keys-usage-');
    const env = { DATA_DIR: dir };
    const results = await Promise.all([
      run(['keys', 'generate', '--algorithm', 'HS999'], { env }),
      run(['keys', 'retire'], { env }),
      run(['keys', 'generate'], { env }), // JWT_ALGORITHM is HS256: its key is SIGNING_KEY
      run(['keys', 'rotate'], { env: { ...env, JWT_ALGORITHM: 'ES256', JWT_PRIVATE_KEY_FILE: join(dir, 'k.pem') } }),
      run(['keys', 'frobnicate'], { env }),
    ]);
    for (const result of results) {
      assert.equal(result.status, 2, result.stderr);
      oneErrorLine(result);
    }
    assert.match(results[2]?.stderr ?? '', /SIGNING_KEY/);
  });

  it('generates a PEM file for JWT_PRIVATE_KEY_FILE, owner-only, never overwriting', async () => {
    const dir = tempDir('lk-keys-pem-');
    const out = join(dir, 'signing.pem');
    const first = await run(['keys', 'generate', '--algorithm', 'EdDSA', '--out', out], { env: { DATA_DIR: dir } });
    assert.equal(first.status, 0, first.stderr);
    assert.match(readFileSync(out, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.ok(!first.stdout.includes('PRIVATE KEY'));
    const again = await run(['keys', 'generate', '--algorithm', 'EdDSA', '--out', out], { env: { DATA_DIR: dir } });
    assert.equal(again.status, 1);
    assert.match(oneErrorLine(again), /EEXIST/);
  });

  it('rotates and retires keys of a running embedded server, which applies each change at once', async () => {
    const dir = tempDir('lk-keys-serve-');
    const port = await freePort();
    const env = { DATA_DIR: join(dir, 'data'), PORT: String(port), JWT_ALGORITHM: 'ES256' };
    const generated = await run(['keys', 'generate'], { env });
    assert.equal(generated.status, 0, generated.stderr);
    const firstKid = /Generated: (\S+)/.exec(generated.stdout)?.[1];
    assert.ok(firstKid);
    const server = await startServer(env, dir);
    try {
      assert.equal((await run(['create-user', '--username', 'ann', '--email', 'ann@example.com', '--password-stdin'], { env, input: PASSWORD })).status, 0);
      const before = await login(port, 'ann');
      assert.equal(kidOf(before.body.access), firstKid);

      const rotated = await run(['keys', 'rotate'], { env });
      assert.equal(rotated.status, 0, rotated.stderr);
      const newKid = /Signing with: (\S+)/.exec(rotated.stdout)?.[1];
      assert.ok(newKid && newKid !== firstKid);
      assert.match(rotated.stdout, new RegExp(`Still verifying: ${firstKid}`));
      const after = await login(port, 'ann');
      assert.equal(kidOf(after.body.access), newKid, 'the server signs with the new key at once');
      assert.equal(await me(port, before.body.access), 200, 'tokens of the previous key still verify');

      const jwks = (await (await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [firstKid, newKid].sort());

      const listed = await run(['keys', 'list', '--json'], { env });
      assert.equal(listed.status, 0, listed.stderr);
      assert.deepEqual((JSON.parse(listed.stdout) as Array<{ kid: string; status: string }>).map((k) => [k.kid, k.status]), [[firstKid, 'verifying'], [newKid, 'current']]);

      const refused = await run(['keys', 'retire', newKid], { env });
      assert.equal(refused.status, 1);
      assert.match(oneErrorLine(refused), /current signing key/);

      const retired = await run(['keys', 'retire', firstKid], { env });
      assert.equal(retired.status, 0, retired.stderr);
      assert.equal(await me(port, before.body.access), 401, 'a retired key verifies nothing, at once');
      assert.equal(await me(port, after.body.access), 200);
    } finally {
      await server.stop();
    }
    // No key material anywhere on the server's output or in file names.
    const files = readdirSync(join(dir, 'data', 'keys'));
    const secrets = files.map((file) => (JSON.parse(readFileSync(join(dir, 'data', 'keys', file), 'utf8')) as { jwk: { d: string } }).jwk.d);
    for (const secret of secrets) assert.ok(!server.output().includes(secret), 'the private key is never logged');
    for (const file of files) assert.equal(statSync(join(dir, 'data', 'keys', file)).mode & 0o777, 0o600);
  });
});
