/** Writes differences.md from differences.json (record.sh runs it too). */
import { writeFileSync } from 'node:fs';
import { DIFFERENCES_MD_PATH, loadDifferences, renderDifferences } from './conformance.ts';

writeFileSync(DIFFERENCES_MD_PATH, renderDifferences(loadDifferences()));
