#!/usr/bin/env node
// Part of `npm run build`: tsc emits JavaScript and declarations only, so every
// other file under src/ (data the code reads through `new URL(..., import.meta.url)`,
// such as users/data/common-passwords.txt.gz) is copied to the same place in dist/.
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

let copied = 0;
for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
  const from = join(entry.parentPath ?? entry.path, entry.name);
  const to = join(dist, relative(src, from));
  // Skip an unchanged copy, so the incremental build before each test run stays quick.
  try {
    const [a, b] = [statSync(from), statSync(to)];
    if (a.size === b.size && a.mtimeMs <= b.mtimeMs) continue;
  } catch {
    // not copied yet
  }
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  copied += 1;
}
if (copied > 0) console.log(`copied ${copied} asset file(s) from src/ to dist/`);
