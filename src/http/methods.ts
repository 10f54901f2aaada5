/**
 * HTTP methods as DRF frames them: every response of a route carries `Allow`;
 * a known path with another method is 405 — after authentication, as DRF
 * authenticates before it looks at the method; `OPTIONS` answers DRF's
 * SimpleMetadata, generated from the routes' schemas.
 */
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { sendError } from './errors.ts';
import type { App } from './types.ts';

/** Marks an onRequest hook that authenticates: a wrong method on its path is judged after it. */
export const AUTHENTICATES = Symbol('latchkey.authenticates');

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
type Marked = Hook & { [AUTHENTICATES]?: true };

interface BodySchema {
  properties?: Record<string, { type?: unknown; maxLength?: number; minLength?: number }>;
  required?: string[];
}

interface PathInfo {
  methods: Set<string>;
  /** The hook that authenticates the path's callers, if its routes take one. */
  authenticate?: Hook;
  summary?: string;
  /** Body schemas of the methods DRF describes (POST, PUT). */
  bodies: Map<string, BodySchema>;
  allow?: string;
}

/** Django's View.http_method_names order, which DRF's Allow follows. */
const METHOD_ORDER = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/**
 * SimpleJWT's view names and docstrings for its four views, as its OPTIONS shows
 * them (DRF keeps the docstrings' line breaks), and the read-only fields of their
 * serializers; other routes are named by their schema's summary.
 */
const SIMPLEJWT_VIEWS: Record<string, { name: string; description: string; readOnly?: string[] }> = {
  login: {
    name: 'Token Obtain Pair',
    description: 'Takes a set of user credentials and returns an access and refresh JSON web\ntoken pair to prove the authentication of those credentials.',
  },
  refresh: {
    name: 'Token Refresh',
    description: 'Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.',
    readOnly: ['access'],
  },
  verify: { name: 'Token Verify', description: 'Takes a token and indicates if it is valid.  This view provides no\ninformation about a token\'s fitness for a particular use.' },
  logout: { name: 'Token Blacklist', description: 'Takes a token and blacklists it. Must be used with the\n`rest_framework_simplejwt.token_blacklist` app installed.' },
};

const PARSES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'];

/**
 * Collects each path's methods as routes are added, sets `Allow` on every route
 * response, and answers 405 and OPTIONS in the not-found handler. `viewOf`
 * names the SimpleJWT view a path serves, if any.
 */
export function drfMethods(app: App, viewOf: (path: string) => string | undefined): void {
  const paths = new Map<string, PathInfo>();
  const infoOf = (url: string) => paths.get(normalise(url));

  app.addHook('onRoute', (route: RouteOptions) => {
    const path = normalise(route.url);
    const info = paths.get(path) ?? { methods: new Set<string>(), bodies: new Map<string, BodySchema>() };
    paths.set(path, info);
    for (const method of [route.method].flat()) {
      info.methods.add(method);
      if ((method === 'POST' || method === 'PUT') && route.schema?.body) info.bodies.set(method, route.schema.body as BodySchema);
    }
    info.authenticate ??= ([route.onRequest].flat() as Array<Marked | undefined>).find((hook) => hook?.[AUTHENTICATES]);
    info.summary ??= (route.schema as { summary?: string } | undefined)?.summary;
  });
  app.addHook('onReady', async () => {
    for (const info of paths.values()) info.allow = allowHeader(info.methods);
  });
  // By route URL, once known (after onReady): no regex per request.
  const allowByUrl = new Map<string, string>();
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.routeOptions.url ?? '';
    let allow = allowByUrl.get(url);
    if (allow === undefined) {
      allow = infoOf(url)?.allow;
      if (allow) allowByUrl.set(url, allow);
    }
    if (allow) reply.header('allow', allow);
    done();
  });

  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0]!;
    const info = infoOf(path);
    if (!info) return sendError(reply, 'not_found');
    reply.header('allow', info.allow ?? allowHeader(info.methods));
    if (info.authenticate) await info.authenticate(request, reply);
    if (request.method === 'OPTIONS') return reply.send(metadata(info, viewOf(normalise(path))));
    return sendError(reply, 'method_not_allowed', `Method "${request.method}" not allowed.`);
  });
}

function normalise(url: string): string {
  return url.replace(/\/+$/, '');
}

function allowHeader(methods: ReadonlySet<string>): string {
  const all = new Set([...methods, 'OPTIONS']);
  return METHOD_ORDER.filter((method) => all.has(method)).join(', ');
}

/** DRF's SimpleMetadata: name, description, renders, parses, and the fields of POST/PUT bodies. */
function metadata(info: PathInfo, view: string | undefined) {
  const known = view ? SIMPLEJWT_VIEWS[view] : undefined;
  const body: Record<string, unknown> = {
    name: known?.name ?? info.summary ?? '',
    description: known?.description ?? info.summary ?? '',
    renders: ['application/json'],
    parses: PARSES,
  };
  if (info.bodies.size > 0) {
    body.actions = Object.fromEntries([...info.bodies].map(([method, schema]) => [method, { ...fieldsOf(schema), ...readOnlyFields(known?.readOnly ?? []) }]));
  }
  return body;
}

function fieldsOf(schema: BodySchema): Record<string, Record<string, unknown>> {
  const required = new Set(schema.required ?? []);
  return Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([name, property]) => {
      const type = [property.type].flat().find((t) => t !== 'null');
      const field: Record<string, unknown> = {
        type: type === 'integer' ? 'integer' : type === 'boolean' ? 'boolean' : 'string',
        required: required.has(name),
        read_only: false,
        label: label(name),
      };
      if (property.maxLength !== undefined) field.max_length = property.maxLength;
      return [name, field];
    }),
  );
}

/** A serializer's read-only fields (DRF lists them among the POST fields). */
function readOnlyFields(names: string[]): Record<string, Record<string, unknown>> {
  return Object.fromEntries(names.map((name) => [name, { type: 'string', required: false, read_only: true, label: label(name) }]));
}

/** Django's default label: the field name, underscores as spaces, first letter capitalised. */
function label(name: string): string {
  const words = name.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
