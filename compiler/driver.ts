// The pipeline driver: load a model, verify and infer it, and prepare it for a backend.
import { existsSync, statSync } from 'node:fs';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import { inferModel } from '../ir/infer.ts';
import type { RuntimeValue } from '../ir/tensor.ts';
import { verifyModel } from '../ir/verify.ts';
import { ReferenceInterpreter } from '../runtime/reference.ts';
import { importOnnxFile } from './onnx/import.ts';
import { readTirFile } from '../grammar/blobs.ts';
import { kernelRunner } from './lower/null-device.ts';
import { isDataDependent } from './lower/context.ts';
import { specializer } from './lower/specialize.ts';
import { compileModel } from './compile.ts';
import { Session } from '../runtime/session.ts';
import { cudaDriver } from '../runtime/cuda/driver.ts';
import { defaultDevice } from '../runtime/webgpu/device.ts';
import type { Tensor } from '../ir/tensor.ts';

/** 'kernel': lower to the kernel IR and execute the Program with the kernel-IR interpreter (the null device). */
export const BACKENDS = ['reference', 'kernel', 'wasm', 'webgpu', 'cuda'] as const;
export type BackendName = (typeof BACKENDS)[number];

export function checkBackend(name: string): BackendName {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new TesseraError(`unknown backend '${name}' (available: ${BACKENDS.join(', ')})`);
  }
  return name as BackendName;
}

/** Reads a model file (.onnx, or .tir textual IR), verifies its structure and infers all types. */
export function loadModel(path: string): Model {
  if (!existsSync(path)) throw new TesseraError(`model file not found`, { file: path });
  if (statSync(path).isDirectory()) throw new TesseraError(`is a directory, expected a model file`, { file: path });
  const model = path.endsWith('.tir') ? readTirFile(path) : importOnnxFile(path);
  try {
    verifyModel(model);
    inferModel(model);
  } catch (e) {
    if (e instanceof TesseraError) throw e.at({ file: path });
    throw e;
  }
  return model;
}

export interface Runner {
  run(feeds: Record<string, RuntimeValue>): Record<string, RuntimeValue>;
}

export interface RunnerOptions {
  /** Wall-clock limit per run in ms (the interpreter checks it between nodes). */
  deadlineMs?: number;
  /** Compiled backends: input name → shape that specializes its symbolic dimensions (--shape). */
  shapes?: Map<string, number[]>;
  /** Compiled backends: input name → its value, fixed at compile time (--value). */
  values?: Map<string, Tensor>;
}

export function prepare(model: Model, backend: BackendName, opts: RunnerOptions = {}): Runner {
  switch (backend) {
    case 'reference': {
      const interp = new ReferenceInterpreter(model, { deadlineMs: opts.deadlineMs });
      return { run: (feeds) => interp.run(feeds) };
    }
    case 'kernel': {
      return kernelRunner(model, { shapes: opts.shapes, deadlineMs: opts.deadlineMs });
    }
    case 'wasm': case 'webgpu': case 'cuda':
      throw new TesseraError(`backend '${backend}' compiles and loads asynchronously: use prepareAsync`);
  }
}

export interface AsyncRunner {
  run(feeds: Record<string, RuntimeValue>): Promise<Record<string, RuntimeValue>>;
  /** Releases what the backend holds (device memory, modules); compiled backends only. */
  dispose?(): void;
}

/**
 * Prepares any backend. Compiled targets go through the whole AOT path in memory — lower, generate code,
 * pack the artifact — and run in the runtime's Session exactly as a loaded artifact would.
 */
export async function prepareAsync(model: Model, backend: BackendName, opts: RunnerOptions = {}): Promise<AsyncRunner> {
  if (backend !== 'wasm' && backend !== 'webgpu' && backend !== 'cuda') {
    const r = prepare(model, backend, opts);
    return { run: async (feeds) => r.run(feeds) };
  }
  // Without a CUDA driver every compile would be wasted: say so before compiling.
  if (backend === 'cuda') await cudaDriver();
  // Likewise without a WebGPU adapter (one device per process, shared by every session).
  if (backend === 'webgpu') await defaultDevice();
  const compile = async (shapes: Map<string, number[]> | undefined, values: Map<string, Tensor> | undefined) =>
    Session.create((await compileModel(model, { target: backend, shapes, values })).files, { backend });
  const tensors = (feeds: Record<string, RuntimeValue>) => {
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      if (v.kind !== 'tensor') throw new TesseraError(`input '${k}' is a ${v.kind}; compiled models take tensors`);
      out[k] = v;
    }
    return out;
  };
  let session: Session;
  try {
    session = await compile(opts.shapes, opts.values);
  } catch (e) {
    if (!isDataDependent(e)) throw e;
    // An output shape depends on an input's value: as the kernel backend does, compile at the first run
    // specialized on the feeds (--value and --shape chosen from them), one artifact per distinct set.
    const specialize = specializer(model, opts.shapes);
    const cache = new Map<string, Promise<Session>>();
    return {
      run: async (feeds) => {
        const s = specialize({ ...feeds, ...Object.fromEntries(opts.values ?? []) });
        const values = new Map([...s.values, ...(opts.values ?? [])]);
        let pending = cache.get(s.key);
        if (!pending) { pending = compile(s.shapes, values); cache.set(s.key, pending); }
        return (await pending).run(tensors(feeds));
      },
      dispose: () => { for (const p of cache.values()) void p.then((s) => s.dispose(), () => undefined); },
    };
  }
  return { run: async (feeds) => session.run(tensors(feeds)), dispose: () => session.dispose() };
}
