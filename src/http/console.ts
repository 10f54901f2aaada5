/**
 * The admin console: one page at /admin/ (every other /admin/ path is the JSON
 * API), its script and style under /_latchkey/, and latchkey/client bundled
 * for the browser. The bundle is built by esbuild when the plugin registers
 * (a few tens of milliseconds), so `npm start` needs no build step. The page
 * runs no inline script: its settings travel in a <meta> tag, and the CSP
 * (headers.ts) allows scripts from this origin only.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { build } from 'esbuild';
import type { App, RouteContext } from './types.ts';

const PAGES = fileURLToPath(new URL('../pages/admin/', import.meta.url));
// The sources when run from src/ (tests, tsx), the compiled module when run from dist/ (`npm start`, the package).
const CLIENT_SOURCE = fileURLToPath(new URL('../client/index.ts', import.meta.url));
const CLIENT_ENTRY = existsSync(CLIENT_SOURCE) ? CLIENT_SOURCE : fileURLToPath(new URL('../client/index.js', import.meta.url));

/**
 * latchkey/client (src/client/ and src/wire.ts) as one ES module with no imports.
 * @example await writeFile('latchkey-client.js', await bundleClient());
 */
export async function bundleClient(options: { minify?: boolean } = {}): Promise<string> {
  const result = await build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify: options.minify ?? false,
    write: false,
    legalComments: 'none',
  });
  return result.outputFiles[0]!.text;
}

const escapeAttribute = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** GET /admin/, GET /_latchkey/{admin.js, admin.css, latchkey-client.js}. */
export async function registerConsole(app: App, { config, mountedAuthPath }: RouteContext): Promise<void> {
  const prefix = mountedAuthPath.slice(0, mountedAuthPath.length - config.authBasePath.length);
  const settings = { baseUrl: prefix, authBasePath: config.authBasePath, mode: config.authCookies ? 'cookie' : 'header' };
  const page = (await readFile(`${PAGES}index.html`, 'utf8')).replace('{{CONFIG}}', escapeAttribute(JSON.stringify(settings)));
  const clientBundle = await bundleClient({ minify: true });

  app.get('/admin', { schema: { hide: true } }, async (request, reply) => {
    // The page's assets are relative (../_latchkey/), so it must be read from /admin/.
    const [path, query] = request.url.split(/\?(.*)/s, 2) as [string, string?];
    if (!path.endsWith('/')) return reply.redirect(`${path}/${query ? `?${query}` : ''}`, 301);
    return reply.type('text/html; charset=utf-8').send(page);
  });
  app.get('/_latchkey/latchkey-client.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(clientBundle));
  await app.register(fastifyStatic, {
    root: `${PAGES}assets/`,
    prefix: '/_latchkey/',
    index: false,
    wildcard: false,
    cacheControl: true,
    maxAge: 0,
    decorateReply: false,
  });
}
