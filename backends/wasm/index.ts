// The WASM SIMD backend: kernel IR → one WebAssembly module per model, one exported function per kernel.
// See README.md in this folder for the calling convention.
import binaryen from 'binaryen';
import type { Kernel } from '../../ir/kernel/ir.ts';
import { TesseraError } from '../../ir/errors.ts';
import { ModuleEmitter } from './emit.ts';

export interface WasmBuildOptions {
  /** Emit relaxed-SIMD instructions (needs engine support, chosen at load time). Default false. */
  relaxed?: boolean;
  /** Import a shared memory and use real atomics (for workers). Default false. */
  threads?: boolean;
  /** binaryen optimization level 0–4. Default 3. */
  optimize?: number;
  /** Emit tuned templates for kernels that state a pattern (a matmul: backends/wasm/matmul.ts). Default true. */
  templates?: boolean;
}

export interface WasmBuild {
  binary: Uint8Array;
  /** The module as WebAssembly text (after optimization), for debugging and tests. */
  text?: string;
}

/** Name under which every module imports its memory: (module "env", name "memory"). */
export const MEMORY_IMPORT = { module: 'env', name: 'memory' } as const;
/** Maximum pages declared for a shared memory (WebAssembly requires one). */
export const SHARED_MAX_PAGES = 65536;

/** Builds one module exporting every kernel. Throws a TesseraError naming the kernel on unsupported IR. */
export function buildWasmModule(kernels: Kernel[], opts: WasmBuildOptions & { text?: boolean } = {}): WasmBuild {
  const relaxed = opts.relaxed ?? false, threads = opts.threads ?? false;
  const m = new binaryen.Module();
  try {
    let features = binaryen.Features.SIMD128 | binaryen.Features.NontrappingFPToInt | binaryen.Features.SignExt
      | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt | binaryen.Features.MutableGlobals;
    if (relaxed) features |= binaryen.Features.RelaxedSIMD;
    if (threads) features |= binaryen.Features.Atomics;
    m.setFeatures(features);
    // setMemory before addMemoryImport, or binaryen drops a shared import silently.
    m.setMemory(1, threads ? SHARED_MAX_PAGES : -1, null, [], threads, false, 'memory');
    m.addMemoryImport('memory', MEMORY_IMPORT.module, MEMORY_IMPORT.name, threads);
    const emitter = new ModuleEmitter(m, { relaxed, threads, templates: opts.templates ?? true });
    const seen = new Set<string>();
    for (const k of kernels) {
      if (seen.has(k.name)) throw new TesseraError(`duplicate kernel name '${k.name}'`);
      seen.add(k.name);
      try {
        emitter.kernel(k);
      } catch (e) {
        if (e instanceof TesseraError) throw new TesseraError(`kernel '${k.name}': ${e.reason}`, e.place);
        throw e;
      }
    }
    if (!m.validate()) throw new TesseraError('internal: binaryen rejected the generated module (see stderr)');
    const level = opts.optimize ?? 3;
    if (level > 0) {
      const [o, s] = [binaryen.getOptimizeLevel(), binaryen.getShrinkLevel()];
      binaryen.setOptimizeLevel(level);
      binaryen.setShrinkLevel(0);
      try { m.optimize(); } finally { binaryen.setOptimizeLevel(o); binaryen.setShrinkLevel(s); }
    }
    return { binary: m.emitBinary(), text: opts.text ? m.emitText() : undefined };
  } finally {
    m.dispose();
  }
}

/** Both variants the runtime chooses between at load time. */
export interface WasmVariants {
  simd: Uint8Array;
  relaxed: Uint8Array;
}
export function buildWasmVariants(kernels: Kernel[], opts: Omit<WasmBuildOptions, 'relaxed'> = {}): WasmVariants {
  return {
    simd: buildWasmModule(kernels, { ...opts, relaxed: false }).binary,
    relaxed: buildWasmModule(kernels, { ...opts, relaxed: true }).binary,
  };
}

/** The parameter order of a kernel's exported function: buffer byte offsets, then sizes. */
export function kernelSignature(k: Kernel): { name: string; buffers: string[]; sizes: string[] } {
  return { name: k.name, buffers: k.buffers.map((b) => b.name), sizes: k.sizes.map((s) => s.name) };
}
