/**
 * Writes `latchkey/client` as one ES module for browsers and Node:
 * dist/client/latchkey-client.js, no imports left. `npm run build:client`.
 * (The server builds the same bundle in memory for the admin console.)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { bundleClient } from '../src/http/console.ts';

const out = new URL('../dist/client/latchkey-client.js', import.meta.url);
await mkdir(new URL('.', out), { recursive: true });
await writeFile(out, await bundleClient());
console.log(`wrote ${out.pathname}`);
