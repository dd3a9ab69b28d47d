// onnxruntime-node as an external oracle: conversions between tessera tensors and onnxruntime tensors, and
// single-threaded sessions over a model file or ONNX bytes. onnxruntime-node is loaded on first use (it is
// a development dependency: the compiler itself never needs it), with a clear error when it is missing.
import { f16BitsToF32, f32ToF16Bits, type DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Tensor } from '../../ir/tensor.ts';

export type Ort = typeof import('onnxruntime-node');
type OrtTensor = InstanceType<Ort['Tensor']>;
type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

let loaded: Promise<Ort> | undefined;

/** The onnxruntime-node module (loaded once). */
export function loadOrt(): Promise<Ort> {
  loaded ??= import('onnxruntime-node').catch((e: unknown) => {
    loaded = undefined;
    throw new TesseraError(`onnxruntime-node is not available (install it with 'npm i onnxruntime-node'): ${(e as Error).message}`);
  });
  return loaded;
}

/** onnxruntime's element type names for tessera dtypes (bf16 has no JavaScript tensor type there). */
const ORT_TYPES: Partial<Record<DType, string>> = {
  f32: 'float32', f64: 'float64', f16: 'float16', i8: 'int8', u8: 'uint8', i16: 'int16', u16: 'uint16',
  i32: 'int32', u32: 'uint32', i64: 'int64', u64: 'uint64', bool: 'bool', string: 'string',
};
const FROM_ORT = new Map(Object.entries(ORT_TYPES).map(([d, o]) => [o, d as DType]));

/** Whether a tensor of this dtype can cross into onnxruntime-node. */
export const ortHasDtype = (d: DType): boolean => ORT_TYPES[d] !== undefined;

export function toOrt(ort: Ort, t: Tensor): OrtTensor {
  const name = ORT_TYPES[t.dtype];
  if (!name) throw new TesseraError(`onnxruntime-node has no tensor type for ${t.dtype}`);
  let data: unknown = t.data;
  if (t.dtype === 'bool') data = Uint8Array.from(t.data as Uint8Array);
  else if (t.dtype === 'f16') data = Uint16Array.from(t.data as Float32Array, f32ToF16Bits);
  return new ort.Tensor(name as 'float32', data as Float32Array, [...t.shape]);
}

export function fromOrt(v: { type: string; data: unknown; dims: readonly number[] }): Tensor {
  const dtype = FROM_ORT.get(v.type);
  if (!dtype) throw new TesseraError(`unsupported onnxruntime type ${v.type}`);
  if (dtype === 'f16') {
    const bits = v.data as Uint16Array;
    return new Tensor('f16', [...v.dims], Float32Array.from(bits, (b) => f16BitsToF32(b)));
  }
  if (dtype === 'string') return new Tensor('string', [...v.dims], [...(v.data as string[])]);
  return new Tensor(dtype, [...v.dims], v.data as Tensor['data']);
}

export interface OrtSessionOptions {
  /** onnxruntime's graph optimizations; 'disabled' runs each node's own kernel (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Native log level: 3 prints errors (the default), 4 only fatal ones (callers that report errors themselves). */
  logSeverityLevel?: 3 | 4;
}

/** A single-threaded, sequential onnxruntime session over a model file path or ONNX bytes. */
export async function createOrtSession(model: string | Uint8Array, opts: OrtSessionOptions = {}): Promise<OrtSession> {
  const ort = await loadOrt();
  const options = {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' as const, logSeverityLevel: opts.logSeverityLevel ?? 3,
    graphOptimizationLevel: opts.optimization ?? 'all',
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

/** Runs a session on tessera tensors; returns its outputs as tessera tensors. */
export async function runOrtSession(session: OrtSession, feeds: Record<string, Tensor>, opts: Pick<OrtSessionOptions, 'logSeverityLevel'> = {}): Promise<Record<string, Tensor>> {
  const ort = await loadOrt();
  const ortFeeds: Record<string, OrtTensor> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = toOrt(ort, t);
  const out = await session.run(ortFeeds, { logSeverityLevel: opts.logSeverityLevel ?? 3 });
  const res: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v as OrtTensor);
  return res;
}

/** Runs a model (file path or ONNX bytes) once in onnxruntime-node, single-threaded. */
export async function runOrt(model: string | Uint8Array, feeds: Record<string, Tensor>, opts: OrtSessionOptions = {}): Promise<Record<string, Tensor>> {
  const session = await createOrtSession(model, opts);
  try {
    return await runOrtSession(session, feeds);
  } finally {
    await session.release();
  }
}
