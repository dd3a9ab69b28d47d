// Bundles the test page (test/browser/page.ts, which imports the runtime from runtime/index.ts) into one
// browser ES module with esbuild, as an app that embeds the runtime would.
import { build } from 'esbuild';
import { join } from 'node:path';

/**
 * The runtime's Node-only paths are reached only through dynamic imports that a browser never takes
 * (Session.create reads a folder with node:fs only when given a path in Node; the cuda backend loads
 * koffi; runtime/webgpu/device.ts loads dawn.node's `webgpu` package by a variable name). They stay
 * imports in the bundle instead of being resolved: a browser build must not pull in koffi or Node built-ins.
 */
const NODE_ONLY = ['node:*', 'koffi', 'webgpu', './cuda/*'];

/** Writes `page.js` into `outDir`; returns its size in bytes. */
export async function bundlePage(outDir: string): Promise<number> {
  const out = join(outDir, 'page.js');
  const result = await build({
    entryPoints: [join(import.meta.dirname, 'page.ts')],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    external: NODE_ONLY,
    logLevel: 'silent',
    metafile: true,
  });
  const inputs = Object.keys(result.metafile.inputs);
  const leaked = inputs.filter((p) => /node_modules\/koffi|runtime\/cuda\//.test(p));
  if (leaked.length) throw new Error(`the browser bundle pulled in Node-only code: ${leaked.join(', ')}`);
  return result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('page.js'))!]!.bytes;
}
