import type { Config } from '../config.ts';

/**
 * The URLs a route answers on: under AUTH_BASE_PATH plus SimpleJWT's usual
 * aliases. Trailing slashes are optional app-wide (see app.ts).
 */
export function authPaths(config: Pick<Config, 'authBasePath'>, name: string, ...aliases: string[]): string[] {
  const all = [`${config.authBasePath}/${name}/`, ...aliases.map((a) => a.replace('{base}', config.authBasePath))];
  return [...new Set(all.map((p) => p.replace(/\/+$/, '')))];
}
