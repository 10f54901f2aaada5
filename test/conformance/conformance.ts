/**
 * What the recorder (record.ts, against SimpleJWT) and the replay
 * (replay.test.ts, against Latchkey) share: the request set, how its templates
 * resolve, how special tokens are minted, how an answer is normalised, and the
 * comparison against the goldens and the table of chosen differences.
 */
import { createHmac } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { readFileSync } from 'node:fs';

export interface ConformanceUser {
  username: string;
  email: string;
  password: string;
  is_active?: boolean;
}

export interface Step {
  id: string;
  method: string;
  path: string;
  note: string;
  headers?: Record<string, string>;
  json?: unknown;
  form?: Record<string, string>;
  multipart?: Record<string, string>;
  multipart_file?: { name: string; filename: string; content: string };
  raw?: { type: string; body: string };
  /** Seconds to let pass before the step. */
  wait?: number;
}

export interface RequestSet {
  users: ConformanceUser[];
  steps: Step[];
}

/** One answer as it came: status, headers (lower-case names), body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  text: string;
}

export interface TokenShape {
  header: Record<string, string>;
  claims: Record<string, string>;
  token_type?: unknown;
  /** exp − iat, in whole minutes (SimpleJWT copies a refresh token's iat into the access token it gives). */
  lifetime_minutes?: number;
}

/** An answer as compared: what may differ between two runs of the same service is replaced by placeholders. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  tokens?: Record<string, TokenShape>;
}

export interface Golden {
  recorded_with: Record<string, string>;
  answers: Record<string, Answer & { request: string }>;
}

/** What Latchkey answers instead, aspect by aspect; a header set to null is absent. */
export interface Instead {
  status?: number;
  /** The whole body. */
  body?: unknown;
  /** Or: SimpleJWT's body object with these members added. */
  body_adds?: Record<string, unknown>;
  headers?: Record<string, string | null>;
  tokens?: unknown;
}

export interface Difference {
  id: string;
  reason: string;
  spec: string;
  cases: Array<{ steps: string[]; latchkey: Instead }>;
}

export interface Rule {
  id: string;
  reason: string;
  spec: string;
}

export interface Differences {
  about: string;
  rules: Rule[];
  differences: Difference[];
}

const here = (name: string) => new URL(name, import.meta.url);

export function loadRequestSet(): RequestSet {
  return JSON.parse(readFileSync(here('requests.json'), 'utf8')) as RequestSet;
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(here('golden/simplejwt.json'), 'utf8')) as Golden;
}

export function loadDifferences(): Differences {
  return JSON.parse(readFileSync(here('differences.json'), 'utf8')) as Differences;
}

export const GOLDEN_PATH = here('golden/simplejwt.json');
export const DIFFERENCES_MD_PATH = here('differences.md');

/** The headers compared; the rest (framework, security, caching) are each side's own. */
export const COMPARED_HEADERS = ['www-authenticate', 'allow', 'location'] as const;

// --- Templates and token recipes ---------------------------------------------

const OTHER_KEY = 'another-signing-key-that-is-at-least-32-bytes-long';

type Jose = { header: Record<string, unknown>; payload: Record<string, unknown> };
type Recipe = (token: Jose, now: number, userIds: Record<string, number>) => Jose & { key?: string; unsigned?: true; keepSignature?: true };

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

/**
 * How a special token is made from a real one: its header and claims are
 * changed, then it is signed again with the shared key (unless said otherwise).
 * Both sides apply the same recipe to their own token, so they get equivalent
 * tokens with their own ids, sessions and key ids.
 */
export const RECIPES: Record<string, Recipe> = {
  expired: ({ header, payload }, now) => ({ header, payload: { ...payload, iat: now - 3600 - (num(payload.exp) - num(payload.iat)), exp: now - 3600 } }),
  'no-jti': ({ header, payload: { jti: _jti, ...payload } }) => ({ header, payload }),
  'no-exp': ({ header, payload: { exp: _exp, ...payload } }) => ({ header, payload }),
  'no-user-id': ({ header, payload: { user_id: _id, ...payload } }) => ({ header, payload }),
  'nbf-future': ({ header, payload }, now) => ({ header, payload: { ...payload, nbf: now + 3600 } }),
  'iat-future': ({ header, payload }, now) => ({ header, payload: { ...payload, iat: now + 3600 } }),
  'user-id-string': ({ header, payload }) => ({ header, payload: { ...payload, user_id: String(payload.user_id) } }),
  'user-id-unknown': ({ header, payload }) => ({ header, payload: { ...payload, user_id: 999_999 } }),
  'user-id-garbage': ({ header, payload }) => ({ header, payload: { ...payload, user_id: 'not-a-number' } }),
  /** The user id of dan, the inactive user of requests.json. */
  'user-id-inactive': ({ header, payload }, _now, userIds) => ({ header, payload: { ...payload, user_id: userIds.dan ?? 0 } }),
  'type-other': ({ header, payload }) => ({ header, payload: { ...payload, token_type: 'other' } }),
  'wrong-key': ({ header, payload }) => ({ header, payload, key: OTHER_KEY }),
  hs512: ({ header, payload }) => ({ header: { ...header, alg: 'HS512' }, payload }),
  'alg-none': ({ header, payload }) => ({ header: { ...header, alg: 'none' }, payload, unsigned: true }),
  tampered: ({ header, payload }) => ({ header, payload: { ...payload, exp: num(payload.exp) + 1 }, keepSignature: true }),
};

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const HASHES: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** Applies a recipe to a token, signing with `key` (HS256/384/512, as the header says). */
export function mint(recipe: string, token: string, key: string, nowSeconds: number, userIds: Record<string, number> = {}): string {
  const make = RECIPES[recipe];
  if (!make) throw new Error(`unknown token recipe ${recipe}`);
  const [h = '', p = '', s = ''] = token.split('.');
  const decoded = { header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>, payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown> };
  const made = make(decoded, nowSeconds, userIds);
  const input = `${b64(made.header)}.${b64(made.payload)}`;
  if (made.unsigned) return `${input}.`;
  if (made.keepSignature) return `${input}.${s}`;
  const hash = HASHES[String(made.header.alg)] ?? 'sha256';
  return `${input}.${createHmac(hash, made.key ?? key).update(input).digest('base64url')}`;
}

const TEMPLATE = /\{\{(?:([a-z0-9-]+)\()?([a-z0-9-]+)\.([a-zA-Z0-9_.]+)\)?\}\}/g;

/**
 * Replaces `{{step.body.field}}` by that value of an earlier answer and
 * `{{recipe(step.body.field)}}` by a token minted from it. A value that is not
 * there becomes `missing:<template>`, so the step still runs and the
 * comparison shows where things went wrong first.
 */
export function resolveTemplates<T>(value: T, answers: Map<string, RawAnswer>, key: string, nowSeconds: number, userIds: Record<string, number>): T {
  if (typeof value === 'string') {
    return value.replace(TEMPLATE, (whole, recipe: string | undefined, step: string, path: string) => {
      const answer = answers.get(step);
      let found: unknown;
      try {
        found = path.split('.').reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], { body: answer ? JSON.parse(answer.text) : undefined });
      } catch {
        found = undefined;
      }
      if (typeof found !== 'string') return `missing:${whole.slice(2, -2)}`;
      return recipe ? mint(recipe, found, key, nowSeconds, userIds) : found;
    }) as T;
  }
  if (Array.isArray(value)) return value.map((item: unknown) => resolveTemplates(item, answers, key, nowSeconds, userIds)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveTemplates(v, answers, key, nowSeconds, userIds)])) as T;
  }
  return value;
}

const BOUNDARY = '----latchkey-conformance-boundary';

/** The request a step sends, byte for byte the same to both services. */
export function encodeStep(step: Step): { method: string; path: string; headers: Record<string, string>; body?: string } {
  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'latchkey-conformance', ...step.headers };
  let body: string | undefined;
  if (step.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(step.json);
  } else if (step.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(step.form).toString();
  } else if (step.multipart) {
    headers['content-type'] = `multipart/form-data; boundary=${BOUNDARY}`;
    const parts = Object.entries(step.multipart).map(([name, content]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${content}\r\n`);
    const file = step.multipart_file;
    if (file) parts.push(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${file.name}"; filename="${file.filename}"\r\nContent-Type: text/plain\r\n\r\n${file.content}\r\n`);
    body = `${parts.join('')}--${BOUNDARY}--\r\n`;
  } else if (step.raw) {
    headers['content-type'] = step.raw.type;
    body = step.raw.body;
  }
  return { method: step.method, path: step.path, headers, ...(body !== undefined ? { body } : {}) };
}

// --- Normalising ---------------------------------------------------------------

const JWT = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const typeName = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
const sortedTypes = (object: Record<string, unknown>) => Object.fromEntries(Object.keys(object).sort().map((key) => [key, typeName(object[key])]));

function tokenShape(token: string): TokenShape | undefined {
  try {
    const [h = '', p = ''] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const lifetime = typeof claims.exp === 'number' && typeof claims.iat === 'number' ? claims.exp - claims.iat : undefined;
    return { header: sortedTypes(header), claims: sortedTypes(claims), token_type: claims.token_type, ...(lifetime !== undefined ? { lifetime_minutes: Math.floor(lifetime / 60) } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * An answer as compared: JWTs become `<jwt>` (their header and claim names and
 * types go to `tokens`, by where they were in the body), times `<time>`, a
 * known user's id `<user:name>`; non-JSON bodies are kept as the start of
 * their text; only the compared headers are kept.
 */
export function normalise(raw: RawAnswer, userIds: Record<string, number>): Answer {
  const byId = new Map(Object.entries(userIds).map(([name, id]) => [id, name]));
  const tokens: Record<string, TokenShape> = {};
  const walk = (value: unknown, path: string, key: string): unknown => {
    if (typeof value === 'string') {
      if (JWT.test(value)) {
        const shape = tokenShape(value);
        if (shape) {
          tokens[path] = shape;
          return '<jwt>';
        }
      }
      return TIME.test(value) ? '<time>' : value;
    }
    if (typeof value === 'number' && (key === 'id' || key === 'user_id') && byId.has(value)) return `<user:${byId.get(value)}>`;
    if (Array.isArray(value)) return value.map((item, index) => walk(item, `${path}[${index}]`, ''));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, path ? `${path}.${k}` : k, k)]));
    }
    return value;
  };
  let body: unknown;
  const type = String(raw.headers['content-type'] ?? '');
  if (raw.text === '') body = '';
  else if (type.includes('json')) {
    try {
      body = walk(JSON.parse(raw.text), '', '');
    } catch {
      body = { non_json: raw.text.slice(0, 120) };
    }
  } else body = { non_json: raw.text.trim().slice(0, 120) };
  const headers: Record<string, string> = {};
  for (const name of COMPARED_HEADERS) {
    const value = raw.headers[name];
    if (value === undefined) continue;
    headers[name] = name === 'location' ? String(value).replace(/^https?:\/\/[^/]+/, '') : String(value);
  }
  return { status: raw.status, headers, body, ...(Object.keys(tokens).length > 0 ? { tokens } : {}) };
}

// --- Comparing -------------------------------------------------------------------

export interface Comparison {
  /** Each a line saying which step and what: an empty list is conformance. */
  problems: string[];
  /** How many steps matched the golden answer without any chosen difference. */
  identical: number;
}

const show = (value: unknown) => JSON.stringify(value);

/**
 * Compares Latchkey's answers with SimpleJWT's, allowing exactly the chosen
 * differences: each must be needed (a difference that no longer differs is a
 * problem too, so the table stays true), and each step may differ in an aspect
 * only through one entry.
 */
export function compare(golden: Record<string, Answer>, latchkey: Record<string, Answer>, table: Differences): Comparison {
  const problems: string[] = [];
  type Chosen = { id: string; value: unknown; adds?: true };
  const overrides = new Map<string, Map<string, Chosen>>();
  const rules = new Set(table.rules.map((rule) => rule.id));
  const used = new Set<string>();
  for (const rule of rules) if (rule !== 'error-code') problems.push(`rule ${rule}: unknown rule`);

  for (const difference of table.differences) {
    if (!difference.reason || !difference.spec) problems.push(`difference ${difference.id}: a reason and a SPEC reference are required`);
    for (const { steps, latchkey: instead } of difference.cases) {
      const { headers, body_adds: adds, ...whole } = instead;
      const entries: Array<[string, Chosen]> = [
        ...Object.entries(whole).map(([aspect, value]): [string, Chosen] => [aspect, { id: difference.id, value }]),
        ...(adds ? [['body', { id: difference.id, value: adds, adds: true }] as [string, Chosen]] : []),
        ...Object.entries(headers ?? {}).map(([name, value]): [string, Chosen] => [`headers.${name}`, { id: difference.id, value }]),
      ];
      for (const step of steps) {
        if (!golden[step]) problems.push(`difference ${difference.id}: no step ${step} in the goldens`);
        const aspects = overrides.get(step) ?? new Map<string, Chosen>();
        overrides.set(step, aspects);
        for (const [aspect, chosen] of entries) {
          const other = aspects.get(aspect);
          if (other) problems.push(`step ${step}: ${aspect} differs through both ${other.id} and ${difference.id}`);
          aspects.set(aspect, chosen);
        }
      }
    }
  }

  let identical = 0;
  for (const [step, expected] of Object.entries(golden)) {
    const actual = latchkey[step];
    if (!actual) {
      problems.push(`step ${step}: not replayed`);
      continue;
    }
    let body = actual.body;
    // Rule "error-code": Latchkey puts a `code` on every error body; SimpleJWT's DRF errors have a `detail` alone.
    if (rules.has('error-code') && actual.status >= 400 && isObject(body) && typeof body.code === 'string' && isObject(expected.body) && 'detail' in expected.body && !('code' in expected.body)) {
      const { code: _code, ...rest } = body;
      body = rest;
      used.add('error-code');
    }
    const aspects = overrides.get(step) ?? new Map<string, Chosen>();
    const check = (aspect: string, want: unknown, got: unknown) => {
      const chosen = aspects.get(aspect);
      if (chosen) {
        if (isDeepStrictEqual(want ?? null, got ?? null)) problems.push(`step ${step}: ${aspect} no longer differs from SimpleJWT's; drop it from difference ${chosen.id}`);
        want = chosen.adds ? (isObject(want) ? { ...want, ...(chosen.value as object) } : `SimpleJWT's body is not an object: ${show(want)}`) : chosen.value;
      }
      if (!isDeepStrictEqual(want ?? null, got ?? null)) problems.push(`step ${step}: ${aspect}: expected ${show(want)}${chosen ? ` (difference ${chosen.id})` : ''}, got ${show(got)}`);
      return !chosen;
    };
    let same = check('status', expected.status, actual.status);
    same = check('body', expected.body, body) && same;
    same = check('tokens', expected.tokens, actual.tokens) && same;
    for (const name of COMPARED_HEADERS) same = check(`headers.${name}`, expected.headers[name], actual.headers[name]) && same;
    for (const aspect of aspects.keys()) {
      if (!['status', 'body', 'tokens', ...COMPARED_HEADERS.map((name) => `headers.${name}`)].includes(aspect)) problems.push(`step ${step}: unknown aspect ${aspect}`);
    }
    if (same && body === actual.body) identical += 1;
  }
  for (const rule of rules) if (!used.has(rule)) problems.push(`rule ${rule}: never applied; drop it`);
  return { problems, identical };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The table of chosen differences as Markdown (differences.md is this, rendered). */
export function renderDifferences(table: Differences): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    '# Where Latchkey chooses to answer differently from SimpleJWT',
    '',
    '<!-- Rendered from differences.json by `node --import tsx test/conformance/render.ts`; replay.test.ts fails when it is stale. -->',
    '',
    table.about,
    '',
    '| difference | steps | SPEC | reason |',
    '|---|---|---|---|',
    ...table.rules.map((rule) => `| \`${rule.id}\` (rule) | every error | ${cell(rule.spec)} | ${cell(rule.reason)} |`),
    ...table.differences.map((d) => `| \`${d.id}\` | ${d.cases.flatMap((c) => c.steps).map((s) => `\`${s}\``).join(', ')} | ${cell(d.spec)} | ${cell(d.reason)} |`),
    '',
  ];
  return lines.join('\n');
}
