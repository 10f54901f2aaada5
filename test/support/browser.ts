/**
 * What the Chromium tests share: Debian's Chromium (CHROMIUM_PATH to use another),
 * the flags it runs with on this closed network, where screenshots go, and a free port.
 * Under CI a missing browser is an error, not a skip.
 */
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** docs/screenshots/ with UPDATE_SCREENSHOTS=1; otherwise test-output/, so a test run leaves the work tree clean. */
export const DOCS = new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../docs/screenshots/' : '../../test-output/', import.meta.url).pathname;

export const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI) throw new Error(`CI needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
