/**
 * Records SimpleJWT's answers to the request set (requests.json) into
 * golden/simplejwt.json. Run by record.sh, which installs the Debian packages
 * first: it creates the users in a fresh sqlite database, starts the Django
 * project under gunicorn on 127.0.0.1, sends each step over real HTTP, and
 * stops gunicorn.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_SIGNING_KEY } from '../support/harness.ts';
import { GOLDEN_PATH, encodeStep, loadRequestSet, normalise, resolveTemplates, type Golden, type RawAnswer } from './conformance.ts';

const PYTHON = '/usr/bin/python3';
const PROJECT = fileURLToPath(new URL('project/', import.meta.url));

/** A loopback port nothing listens on now (or CONFORMANCE_PORT). */
async function freePort(): Promise<number> {
  if (process.env.CONFORMANCE_PORT) return Number(process.env.CONFORMANCE_PORT);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const PORT = await freePort();

function send(encoded: ReturnType<typeof encodeStep>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...encoded.headers };
    if (encoded.body !== undefined) headers['content-length'] = Buffer.byteLength(encoded.body);
    const req = request({ host: '127.0.0.1', port: PORT, method: encoded.method, path: encoded.path, headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`${encoded.method} ${encoded.path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(encoded.body);
  });
}

async function main(): Promise<void> {
  const set = loadRequestSet();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-conformance-'));
  const env = { ...process.env, SIGNING_KEY: TEST_SIGNING_KEY, CONFORMANCE_DB: join(dir, 'db.sqlite3'), PYTHONDONTWRITEBYTECODE: '1' };
  const userIds = JSON.parse(execFileSync(PYTHON, [join(PROJECT, 'create_users.py')], { env, input: JSON.stringify(set.users), encoding: 'utf8', timeout: 120_000 })) as Record<string, number>;
  const versions = JSON.parse(
    execFileSync(PYTHON, ['-c', 'import json, django, rest_framework, jwt; from importlib.metadata import version; print(json.dumps({"django": django.get_version(), "djangorestframework": rest_framework.VERSION, "djangorestframework-simplejwt": version("djangorestframework-simplejwt"), "pyjwt": jwt.__version__}))'], { encoding: 'utf8' }),
  ) as Record<string, string>;

  const server = spawn(PYTHON, ['-m', 'gunicorn', '--chdir', PROJECT, '--bind', `127.0.0.1:${PORT}`, '--workers', '1', '--log-level', 'warning', 'conformance.wsgi'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  try {
    let up = false;
    for (let attempt = 0; attempt < 100 && !up; attempt += 1) {
      // Gunicorn's own answer, not another process's that took the port meanwhile.
      up = await send({ method: 'GET', path: '/auth/me/', headers: {} }).then((answer) => answer.headers.server === 'gunicorn', () => false);
      if (!up) await sleep(100);
    }
    if (!up) throw new Error(`gunicorn did not answer on 127.0.0.1:${PORT} within 10 s`);

    const raw = new Map<string, RawAnswer>();
    const answers: Golden['answers'] = {};
    for (const step of set.steps) {
      if (step.wait) await sleep(Math.min(step.wait, 30) * 1000);
      const resolved = resolveTemplates(step, raw, TEST_SIGNING_KEY, Math.floor(Date.now() / 1000), userIds);
      const answer = await send(encodeStep(resolved));
      raw.set(step.id, answer);
      answers[step.id] = { request: `${step.method} ${step.path}`, ...normalise(answer, userIds) };
    }
    const golden: Golden = { recorded_with: versions, answers };
    writeFileSync(GOLDEN_PATH, `${JSON.stringify(golden, null, 1)}\n`);
    console.log(`recorded ${set.steps.length} answers of ${Object.entries(versions).map(([name, version]) => `${name} ${version}`).join(', ')} into ${fileURLToPath(GOLDEN_PATH)}`);
  } finally {
    server.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
