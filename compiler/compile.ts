// Ahead-of-time compilation: graph IR → kernel-IR Program (compiler/lower) → target code (backends/) →
// an artifact folder (manifest.json, weights.bin, model.wasm, model.relaxed.wasm) the runtime loads.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildWasmVariants } from '../backends/wasm/index.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import type { Program } from '../ir/kernel/program.ts';
import { packArtifact, type ArtifactFiles, type ArtifactTarget } from '../runtime/artifact.ts';
import { lower } from './lower/lower.ts';

export const PRODUCER = 'tessera 0.1.0';
export const TARGETS: readonly ArtifactTarget[] = ['wasm'];

export interface CompileOptions {
  target: ArtifactTarget;
  /** Input name → concrete shape (specializes symbolic dimensions; default: they stay symbolic). */
  shapes?: Map<string, number[]>;
  /** Name recorded in the manifest. */
  name?: string;
}

export interface Compiled {
  program: Program;
  files: ArtifactFiles;
}

export async function compileModel(model: Model, opts: CompileOptions): Promise<Compiled> {
  if (!TARGETS.includes(opts.target)) {
    throw new TesseraError(`target '${opts.target}' is not available yet (available: ${TARGETS.join(', ')})`);
  }
  const program = lower(model, { shapes: opts.shapes, target: opts.target });
  const variants = buildWasmVariants(program.kernels);
  const files = await packArtifact(program, opts.target, opts.name ?? model.graph.name, {
    simd: { file: 'model.wasm', bytes: variants.simd },
    'relaxed-simd': { file: 'model.relaxed.wasm', bytes: variants.relaxed },
  }, PRODUCER);
  return { program, files };
}

/** Writes an artifact's files into a folder (created if needed). */
export function writeArtifact(dir: string, files: ArtifactFiles): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}
