import type { Config } from '../config.ts';

/** Each config's paths by route name, as the routes were given them. */
const NAMES = new WeakMap<object, Map<string, string>>();

/**
 * The URLs a route answers on: under AUTH_BASE_PATH plus SimpleJWT's usual
 * aliases. Trailing slashes are optional app-wide (see app.ts). Each path is
 * remembered with the route's name (see `routeNameOf`).
 */
export function authPaths(config: Pick<Config, 'authBasePath'>, name: string, ...aliases: string[]): string[] {
  const all = [`${config.authBasePath}/${name}/`, ...aliases.map((a) => a.replace('{base}', config.authBasePath))];
  const paths = [...new Set(all.map((p) => p.replace(/\/+$/, '')))];
  const names = NAMES.get(config) ?? new Map<string, string>();
  NAMES.set(config, names);
  for (const path of paths) names.set(path, name);
  return paths;
}

/** The name of the route serving `path` (without trailing slash), as given to `authPaths`. */
export function routeNameOf(config: Pick<Config, 'authBasePath'>, path: string): string | undefined {
  return NAMES.get(config)?.get(path.replace(/\/+$/, ''));
}
