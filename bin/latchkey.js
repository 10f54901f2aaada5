#!/usr/bin/env node
// Runs the TypeScript sources directly: tsx compiles them on import, no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
