/**
 * Bundles `latchkey/client` (src/client/ and src/wire.ts) into one ES module
 * for browsers and Node: dist/client/latchkey-client.js, no imports left.
 * Run with `npm run build:client`.
 */
import { build } from 'esbuild';

/** The bundle's text, for the file below and for tests. */
export async function bundleClient(options: { minify?: boolean } = {}): Promise<string> {
  const result = await build({
    entryPoints: [new URL('../src/client/index.ts', import.meta.url).pathname],
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const out = new URL('../dist/client/latchkey-client.js', import.meta.url);
  await mkdir(new URL('.', out), { recursive: true });
  await writeFile(out, await bundleClient());
  console.log(`wrote ${out.pathname}`);
}
