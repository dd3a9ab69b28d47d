#!/usr/bin/env node
// Entry point of the `tessera` command: loads the TypeScript sources through tsx, then runs the CLI.
import { register } from 'tsx/esm/api';

// binaryen (a ~10 MB ES module) is loaded natively before tsx's hooks exist: through them it costs ~9 s of
// transform and garbage collection at every start, natively ~0.5 s. Later imports of it hit Node's module cache.
await import('binaryen');
register();
const { TesseraError } = await import('../ir/errors.ts');
const { main } = await import('../compiler/cli.ts');
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof TesseraError) {
    console.error(`error: ${e.message}`);
    process.exitCode = 1;
  } else {
    console.error(`internal error (please report): ${e?.stack ?? e}`);
    process.exitCode = 2;
  }
}
