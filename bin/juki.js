#!/usr/bin/env node
// The `juki` command. Sources are TypeScript run through tsx, so there is no build step
// between a fresh clone and a working command.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
