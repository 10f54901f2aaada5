/**
 * PATH_ALIASES (SPEC §3): more paths for a named route, for front ends written
 * against a Django site that mounted SimpleJWT's views elsewhere
 * (`login:/api/token/both/,refresh:/api/token/access/`). An alias is the
 * route registered once more at another path, hooks, schema and handler
 * included, so it answers exactly as the route does (trailing slash, Allow,
 * 405 and OPTIONS too).
 */
import type { RouteOptions } from 'fastify';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { authPaths, routeNameOf } from './paths.ts';
import type { App } from './types.ts';

const VARIABLE = 'PATH_ALIASES';

type Captured = RouteOptions & { path?: string; prefix?: string; routePath: string };

/**
 * Watches the routes as they are added; call the returned `register()` once
 * every route is in: it checks each alias (a known route name, a path no route
 * uses) and adds it, or throws a ConfigError naming PATH_ALIASES.
 */
export function pathAliases(app: App, config: Pick<Config, 'authBasePath' | 'pathAliases'>): { register(): void } {
  const taken = new Set<string>();
  const wildcards: string[] = [];
  const named = new Map<string, Captured[]>();
  const seen = new Set<string>();
  const wanted = new Set(config.pathAliases.map((alias) => alias.name));
  let done = false;

  app.addHook('onRoute', (route) => {
    if (done) return;
    const captured = route as Captured;
    const path = captured.routePath.replace(/\/+$/, '');
    // A wildcard under a path (static assets) claims what is below it; a bare `*` (the CORS preflight) claims nothing.
    const wildcard = path.endsWith('*') ? path.slice(0, -1).replace(/\/+$/, '') : undefined;
    if (wildcard) wildcards.push(wildcard);
    taken.add(path);
    const name = routeNameOf(config, path);
    // Fastify adds HEAD beside each GET (the alias's GET gets its own); a trailing-slash twin (plugin.ts) is the
    // same route, and the alias gets its own twin.
    if (name === undefined || !wanted.has(name) || route.method === 'HEAD' || captured.routePath.endsWith('/')) return;
    // A route with several paths (login: /auth/login/, /auth/token/, /api/token/) is taken once per method.
    const key = `${name} ${[route.method].flat().join(',')}`;
    if (seen.has(key)) return;
    seen.add(key);
    named.set(name, [...(named.get(name) ?? []), captured]);
  });

  return {
    register() {
      done = true;
      const known = new Set([...taken].map((path) => routeNameOf(config, path)).filter((name): name is string => name !== undefined));
      const added = new Set<string>();
      for (const { name, path } of config.pathAliases) {
        if (!known.has(name)) throw new ConfigError(VARIABLE, `"${name}" is not a route name (one of ${[...known].sort().join(', ')})`);
        const clash = taken.has(path) || added.has(path) || wildcards.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
        if (clash) throw new ConfigError(VARIABLE, `${path}/ is already served by another route or alias`);
        added.add(path);
        authPaths(config, name, path);
        for (const route of named.get(name) ?? []) {
          const { url, path: _path, prefix, routePath, ...rest } = route;
          app.route({ ...rest, url: path, schema: { ...rest.schema, hide: true } } as RouteOptions);
        }
      }
    },
  };
}
