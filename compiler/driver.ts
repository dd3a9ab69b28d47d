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

export const BACKENDS = ['reference'] as const;
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
}

export function prepare(model: Model, backend: BackendName, opts: RunnerOptions = {}): Runner {
  switch (backend) {
    case 'reference': {
      const interp = new ReferenceInterpreter(model, { deadlineMs: opts.deadlineMs });
      return { run: (feeds) => interp.run(feeds) };
    }
  }
}
