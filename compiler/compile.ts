// Ahead-of-time compilation: graph IR → kernel-IR Program (compiler/lower) → target code (backends/) →
// an artifact folder (manifest.json, weights.bin, and model.wasm + model.relaxed.wasm, kernels.wgsl.json or
// kernels.ptx) the runtime loads.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildPtxModule, type PtxArch } from '../backends/ptx/index.ts';
import { buildWasmVariants } from '../backends/wasm/index.ts';
import { generalizeMatmuls } from '../backends/wgsl/generalize.ts';
import { buildWgsl } from '../backends/wgsl/index.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import type { Program } from '../ir/kernel/program.ts';
import type { Tensor } from '../ir/tensor.ts';
import { packArtifact, specializedEntry, type ArtifactFiles, type ArtifactTarget } from '../runtime/artifact.ts';
import { isDataDependent } from './lower/context.ts';
import { lower } from './lower/lower.ts';
import { shapeInputs } from './lower/specialize.ts';

export const PRODUCER = 'tessera 0.1.0';
export const TARGETS: readonly ArtifactTarget[] = ['wasm', 'webgpu', 'cuda'];

export interface CompileOptions {
  target: ArtifactTarget;
  /** Input name → concrete shape (specializes symbolic dimensions; default: they stay symbolic). */
  shapes?: Map<string, number[]>;
  /**
   * Input name → its value, fixed at compile time (--value): value specialization for inputs that decide
   * shapes (Reshape targets, Slice bounds, axes…). The manifest records each value; the input stays an
   * input of the artifact, whose feed may be omitted or must equal the value.
   */
  values?: Map<string, Tensor>;
  /** Name recorded in the manifest. */
  name?: string;
  /** Target 'cuda': the compute capability of the PTX (`.target sm_80` by default, or sm_90). */
  sm?: PtxArch;
}

export interface Compiled {
  program: Program;
  files: ArtifactFiles;
  /** What the user should know about the code (e.g. kernels that compute f64 in f32 on WebGPU). */
  notes: string[];
}

export async function compileModel(model: Model, opts: CompileOptions): Promise<Compiled> {
  if (!TARGETS.includes(opts.target)) {
    throw new TesseraError(`target '${opts.target}' is not available yet (available: ${TARGETS.join(', ')})`);
  }
  const values = opts.values ?? new Map<string, Tensor>();
  for (const [name, t] of values) checkValue(model, name, t);
  let program = withValueHint(model, values, () => lower(model, { shapes: opts.shapes, values, target: opts.target }));
  const specialized = [...values].map(([name, t]) => specializedEntry(name, t));
  if (opts.target === 'cuda') {
    // One PTX module with every kernel (backends/ptx); each signature carries its launch record.
    const ptx = buildPtxModule(program.kernels, { sm: opts.sm });
    const files = await packArtifact(program, opts.target, opts.name ?? model.graph.name, {
      ptx: { file: 'kernels.ptx', bytes: new TextEncoder().encode(ptx.text) },
    }, PRODUCER, specialized, ptx.kernels.map(({ name, buffers, sizes, launch }) => ({ name, buffers, sizes, launch })));
    return { program, files, notes: [] };
  }
  if (opts.target === 'webgpu') {
    // One WGSL module per kernel (backends/wgsl), stored as one JSON object: kernel name → shader text.
    // Matmul kernels over shape parameters, so a model's matmuls share a few pipelines (backends/wgsl/generalize.ts).
    program = { ...program, ...generalizeMatmuls(program.kernels, program.dispatches) };
    const wgsl = buildWgsl(program.kernels);
    const table = Object.fromEntries(wgsl.kernels.map((k) => [k.name, k.wgsl]));
    const files = await packArtifact(program, opts.target, opts.name ?? model.graph.name, {
      wgsl: { file: 'kernels.wgsl.json', bytes: new TextEncoder().encode(JSON.stringify(table)) },
    }, PRODUCER, specialized, wgsl.kernels.map(({ name, buffers, sizes, launch }) => ({ name, buffers, sizes, launch })));
    const f64 = wgsl.kernels.filter((k) => k.f64AsF32).map((k) => k.name);
    const notes = f64.length === 0 ? [] : [`WGSL has no 64-bit floats: ${f64.length} kernel(s) compute f64 values in f32 precision (${f64.slice(0, 5).join(', ')}${f64.length > 5 ? ', …' : ''})`];
    return { program, files, notes };
  }
  const variants = buildWasmVariants(program.kernels);
  const files = await packArtifact(program, opts.target, opts.name ?? model.graph.name, {
    simd: { file: 'model.wasm', bytes: variants.simd },
    'relaxed-simd': { file: 'model.relaxed.wasm', bytes: variants.relaxed },
  }, PRODUCER, specialized);
  return { program, files, notes: [] };
}

/** A data-dependent shape error names the inputs whose values would fix it, and the flag that gives them. */
function withValueHint<T>(model: Model, values: Map<string, Tensor>, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!isDataDependent(e)) throw e;
    const names = [...shapeInputs(model)].filter((n) => !values.has(n));
    if (names.length === 0) throw e;
    const err = e as TesseraError;
    throw new TesseraError(`${err.reason}; it depends on the value of input ${names.map((n) => `'${n}'`).join(', ')}: ` +
      `compile with ${names.map((n) => `--value ${n}=v0,v1,…`).join(' ')}`, err.place);
  }
}

/** A compile-time value must fit the input it replaces: its declared dtype and static dimensions. */
function checkValue(model: Model, name: string, t: Tensor): void {
  const g = model.graph;
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  const v = formals.find((x) => x.name === name);
  if (!v) throw new TesseraError(`a compile-time value is given for '${name}', which is not an input of the model (inputs: ${formals.map((x) => x.name).join(', ')})`);
  const ty = v.type;
  if (ty?.kind !== 'tensor') throw new TesseraError(`input '${name}' is a ${ty?.kind ?? 'value of unknown type'}; only tensor inputs can take a compile-time value`);
  if (t.dtype !== ty.dtype) throw new TesseraError(`the compile-time value of '${name}' is ${t.dtype}, the input is declared ${ty.dtype}`);
  if (ty.shape && (ty.shape.length !== t.rank || ty.shape.some((d, i) => typeof d === 'number' && d !== t.shape[i]))) {
    throw new TesseraError(`the compile-time value of '${name}' has shape [${t.shape.join(',')}], the input is declared [${ty.shape.join(',')}]`);
  }
}

/** Writes an artifact's files into a folder (created if needed). */
export function writeArtifact(dir: string, files: ArtifactFiles): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}
