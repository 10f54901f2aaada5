import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import { isDeepStrictEqual } from 'node:util';
import { DEFAULTS, type Config } from './config.ts';

/** Never logged: credentials travel in these. */
export const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'];

type Env = Record<string, string | undefined>;

/** A destination for log lines; `isTTY` as on `process.stdout`. */
export type LogStream = DestinationStream & { isTTY?: boolean };

/**
 * The server's one logger, for requests and the audit trail. `LOG_FORMAT=auto`
 * writes pretty single lines on a terminal and JSON lines otherwise; `pretty`
 * and `json` force one. Pretty printing runs in-process (no worker thread).
 * @example const logger = createLogger(config); // stdout
 * @example const logger = createLogger(config, { stream, isTTY: false });
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, options: { stream?: LogStream; isTTY?: boolean } = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const isTTY = options.isTTY ?? stream.isTTY === true;
  const settings = { level: config.logLevel, redact: REDACT };
  const usePretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && isTTY);
  if (!usePretty) return options.stream ? pino(settings, options.stream) : pino(settings);
  return pino(
    settings,
    pretty({
      destination: stream,
      colorize: isTTY && !process.env.NO_COLOR,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
    }),
  );
}

/**
 * Fastify's per-request lines ("incoming request", "request completed") at
 * `debug` instead of `info`: used in production, where a line per request
 * costs throughput. Failed requests are still logged at `error`.
 */
export class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return super.requestCompleted(error, request, reply);
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

const SECRET_NAME = /KEY|SECRET|PASSWORD/i;
const SECRET_PARAM = /key|secret|pass/i;
const SET = '(set)';

/** A URL with its password and any secret-looking query parameter shown as `(set)`. */
function maskUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return SET;
  }
  const user = url.username ? `${url.username}${url.password ? `:${SET}` : ''}@` : url.password ? `:${SET}@` : '';
  const params = [...url.searchParams].map(([name, v]) => `${name}=${SECRET_PARAM.test(name) ? SET : v}`);
  return `${url.protocol}//${user}${url.host}${url.pathname}${params.length > 0 ? `?${params.join('&')}` : ''}`;
}

function parsed(spec: { parse: (value: string, variable: string) => unknown }, value: string, variable: string): unknown {
  try {
    return spec.parse(value, variable);
  } catch {
    return value;
  }
}

/**
 * The settings of `env` that differ from the DEFAULTS table, as `[name, shown value]`
 * sorted by name (NODE_ENV first when set). A value equal to the default once
 * parsed (`900s` for `15m`) is not a difference. Secrets — anything named
 * *KEY*, *SECRET* or *PASSWORD*, and passwords inside URLs — show as `(set)`.
 * @example changedSettings({ ACCESS_TOKEN_LIFETIME: '5m', SIGNING_KEY: '…' }) // [['ACCESS_TOKEN_LIFETIME', '5m'], ['SIGNING_KEY', '(set)']]
 */
export function changedSettings(env: Env): Array<[string, string]> {
  const changed: Array<[string, string]> = [];
  if (env.NODE_ENV) changed.push(['NODE_ENV', env.NODE_ENV]);
  for (const [name, spec] of Object.entries(DEFAULTS).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (spec.default !== undefined && isDeepStrictEqual(parsed(spec, value, name), parsed(spec, spec.default, name))) continue;
    if (SECRET_NAME.test(name)) changed.push([name, SET]);
    else if (name.endsWith('_URL')) changed.push([name, maskUrl(value)]);
    else changed.push([name, value]);
  }
  return changed;
}

/** Where the data lives, without credentials: `embedded database in ./.latchkey`, `PostgreSQL db:5432/latchkey`. */
export function describeDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (!config.databaseUrl) return `embedded database in ${config.dataDir}`;
  try {
    const url = new URL(config.databaseUrl);
    return `PostgreSQL ${url.host || url.searchParams.get('host') || 'localhost'}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

function shown(value: string): string {
  return /^[^\s,"·]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * The one start-up line: where it listens, which database, and the settings that differ from the defaults.
 * @example listeningLine('http://127.0.0.1:8000', config, process.env)
 * // 'Latchkey listening on http://127.0.0.1:8000 · embedded database in ./.latchkey · settings: ACCESS_TOKEN_LIFETIME=5m, SIGNING_KEY=(set)'
 */
export function listeningLine(url: string, config: Pick<Config, 'databaseUrl' | 'dataDir'>, env: Env): string {
  const settings = changedSettings(env).map(([name, value]) => `${name}=${shown(value)}`);
  return `Latchkey listening on ${url} · ${describeDatabase(config)} · settings: ${settings.length > 0 ? settings.join(', ') : 'all defaults'}`;
}
