#!/usr/bin/env node
// Entry point of the `tessera` command: loads the TypeScript sources through tsx, then runs the CLI.
import { register } from 'tsx/esm/api';

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
