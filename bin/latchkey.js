#!/usr/bin/env node
// Runs the compiled JavaScript in dist/ (`npm run build`; `npm install` and
// `npm test` build it through the prepare and pretest scripts).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('latchkey: dist/ is not built; run `npm run build` first');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
