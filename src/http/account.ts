/**
 * Latchkey's own account pages (SPEC §13), the default targets of mailed links
 * when FRONTEND_URL is unset: /account/forgot-password/, /account/reset/{uid}/{token}
 * and /account/verify-email/{uid}/{token}; and, signed in, /account/ (the
 * overview), /account/security/ (TOTP, recovery codes) and /account/sessions/.
 * Static HTML and scripts built on latchkey/client (served by the console at
 * /_latchkey/latchkey-client.js); the page's settings, language included,
 * travel in a <meta> tag (no inline script under the CSP). Serving a page uses
 * nothing: only the user's click does. The QR code of an otpauth URL is drawn
 * in the browser (qrcode-generator, bundled here as one ES module), so the TOTP
 * secret never travels in a URL; it is inline SVG, which the CSP allows as is.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { build } from 'esbuild';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { negotiateLanguage } from '../i18n/index.ts';
import type { App, RouteContext } from './types.ts';

const PAGES = fileURLToPath(new URL('../pages/account/', import.meta.url));
const LINK_PART = /^[A-Za-z0-9_=-]{1,200}$/;

const escapeAttribute = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

type LinkParams = { Params: { uid: string; token: string } };
type Page = 'forgot' | 'reset' | 'verify' | 'home' | 'security' | 'sessions';

let qrModule: Promise<string> | undefined;
/** qrcode-generator as one ES module with no imports, built once per process. */
function qrcodeBundle(): Promise<string> {
  qrModule ??= build({
    stdin: { contents: "export { default } from 'qrcode-generator';", resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
  }).then((result) => result.outputFiles[0]!.text);
  return qrModule;
}

/** GET /account/, /account/security/, /account/sessions/, /account/forgot-password/, /account/reset/:uid/:token, /account/verify-email/:uid/:token, and their assets. */
export async function registerAccountPages(app: App, { config, mountedAuthPath }: RouteContext): Promise<void> {
  const prefix = mountedAuthPath.slice(0, mountedAuthPath.length - config.authBasePath.length);
  const template = await readFile(`${PAGES}index.html`, 'utf8');
  const qrcode = await qrcodeBundle();
  const render = (request: FastifyRequest, reply: FastifyReply, page: Page, link?: { uid: string; token: string }) => {
    const lang = negotiateLanguage(request.headers['accept-language']);
    const settings = { baseUrl: prefix, authBasePath: config.authBasePath, mode: config.authCookies ? 'cookie' : 'header', page, lang, ...link };
    const html = template
      .replace('{{LANG}}', lang)
      .replace('{{CONFIG}}', escapeAttribute(JSON.stringify(settings)))
      .replaceAll('{{ASSETS}}', `${prefix}/_latchkey/account/`);
    return reply.type('text/html; charset=utf-8').header('vary', 'Accept-Language').send(html);
  };
  const linkPage = (page: 'reset' | 'verify') => async (request: FastifyRequest<LinkParams>, reply: FastifyReply) => {
    const { uid, token } = request.params;
    if (!LINK_PART.test(uid) || !LINK_PART.test(token)) return reply.code(404).type('text/plain; charset=utf-8').send('Not found.');
    return render(request, reply, page, { uid, token });
  };

  app.get('/account/forgot-password', { schema: { hide: true } }, async (request, reply) => render(request, reply, 'forgot'));
  app.get('/account/', { schema: { hide: true } }, async (request, reply) => render(request, reply, 'home'));
  app.get('/account/security', { schema: { hide: true } }, async (request, reply) => render(request, reply, 'security'));
  app.get('/account/sessions', { schema: { hide: true } }, async (request, reply) => render(request, reply, 'sessions'));
  app.get('/_latchkey/account/qrcode.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(qrcode));
  app.get<LinkParams>('/account/reset/:uid/:token', { schema: { hide: true } }, linkPage('reset'));
  app.get<LinkParams>('/account/verify-email/:uid/:token', { schema: { hide: true } }, linkPage('verify'));
  await app.register(fastifyStatic, {
    root: `${PAGES}assets/`,
    prefix: '/_latchkey/account/',
    index: false,
    wildcard: false,
    cacheControl: true,
    maxAge: 0,
    decorateReply: false,
  });
}
