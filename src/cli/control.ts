/**
 * The control socket: a unix socket through which CLI commands ask a running
 * embedded-mode server to run an operation on its own database connection.
 * One endpoint, `POST /run` with `{command, input}`, answering
 * `{ok: true, output}` or `{ok: false, error}` (see WireError).
 */
import { createHash } from 'node:crypto';
import { chmodSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromWire, toWire, UsageError, type WireError } from './errors.ts';
import { isOperationName, runOperation, type OperationName, type Runtime } from './operations.ts';

const MAX_BODY_BYTES = 1024 * 1024;
/** Unix socket paths are limited to about 104 bytes, depending on the platform. */
const MAX_SOCKET_PATH = 100;

type Reply = { ok: true; output: unknown } | { ok: false; error: WireError };

/**
 * Where a server on `dir` (absolute) listens: in the data directory, or under the
 * temp directory when that path would be too long. Clients read it from the lock.
 */
export function controlSocketPath(dir: string): string {
  const preferred = join(dir, 'control.sock');
  if (Buffer.byteLength(preferred) <= MAX_SOCKET_PATH) return preferred;
  return join(tmpdir(), `latchkey-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.sock`);
}

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

export interface ControlOptions {
  /** Resolves once the server's Auth and Store are ready; requests wait for it. */
  runtime: () => Promise<Runtime>;
  /** Each command received (for the server log). */
  onCommand?: (command: string) => void;
  /** Failures that are not the caller's fault (for the server log). */
  onError?: (error: unknown, command: string) => void;
}

/**
 * Listens on `path` (mode 0600; a stale socket file is removed first: the caller holds the lock).
 * @example const control = await startControlServer(socketPath, { runtime: async () => ({ auth, store }) });
 */
export async function startControlServer(path: string, options: ControlOptions): Promise<ControlServer> {
  rmSync(path, { force: true });
  const server = createServer((req, res) => {
    handle(req, options).then((reply) => send(res, reply), (error: unknown) => send(res, { ok: false, error: toWire(error) }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket is created with the umask's mode: keep it owner-only from the start.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        // Commands in flight finish; idle keep-alive connections go now.
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function handle(req: IncomingMessage, options: ControlOptions): Promise<Reply> {
  if (req.method !== 'POST' || req.url !== '/run') return { ok: false, error: { kind: 'usage', message: 'expected POST /run' } };
  const body = (await readJson(req)) as { command?: unknown; input?: unknown };
  if (!isOperationName(body.command)) {
    return { ok: false, error: { kind: 'usage', message: `this server does not know the command ${JSON.stringify(body.command)}` } };
  }
  if (typeof body.input !== 'object' || body.input === null) return { ok: false, error: { kind: 'usage', message: 'input must be an object' } };
  options.onCommand?.(body.command);
  const runtime = await options.runtime();
  try {
    return { ok: true, output: await runOperation(runtime, body.command, body.input) };
  } catch (error) {
    const wire = toWire(error);
    if (wire.kind === 'failure') options.onError?.(error, body.command);
    return { ok: false, error: wire };
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new UsageError('request too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new UsageError('request is not JSON');
  }
}

function send(res: ServerResponse, reply: Reply): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
}

/** Nobody is listening on the socket (no file, or a file without a server): the request never arrived. */
export function isNotListening(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

/**
 * Asks the server on `socket` to run an operation; rethrows the server's error as thrown there.
 * @example const { applied } = await sendToServer(holder.socket, 'migrate', {});
 */
export function sendToServer(socket: string, command: OperationName, input: unknown): Promise<unknown> {
  const payload = JSON.stringify({ command, input });
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, method: 'POST', path: '/run', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          try {
            const reply = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Reply;
            if (reply.ok) resolve(reply.output);
            else reject(fromWire(reply.error));
          } catch (error) {
            reject(error);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
