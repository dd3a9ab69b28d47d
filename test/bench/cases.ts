// Benchmark cases shared by the WASM and WebGPU benches (the same model and seeded inputs on every backend).
import { randomTensor } from '../../compiler/cli.ts';
import { seededRandom } from '../../ir/random.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { buildModel } from '../util/onnx-builder.ts';

/** A benchmark case: a model, its seeded feeds and how tessera compiles it. */
export interface BenchCase {
  key: string;
  name: string;
  onnx: () => Uint8Array;
  feeds: () => Record<string, Tensor>;
  /** tessera's compile-time shapes (`--shape`). */
  shapes?: Map<string, number[]>;
  /** Inputs compiled as constants (`--value`), e.g. silero-vad's sample rate, which decides an If. */
  values?: Map<string, Tensor>;
  /** Model file this case needs (skipped when absent). */
  file?: string;
}

/** MatMul 512×512 · 512×512 f32 as a one-node ONNX model, with inputs from seeds 1 and 2. */
export const MATMUL_512: BenchCase = {
  key: 'matmul', name: 'MatMul 512³ f32',
  onnx: (): Uint8Array => buildModel({
    inputs: [{ name: 'A', dtype: 'f32', shape: [512, 512] }, { name: 'B', dtype: 'f32', shape: [512, 512] }],
    outputs: [{ name: 'C', dtype: 'f32', shape: [512, 512] }],
    nodes: [{ op: 'MatMul', inputs: ['A', 'B'], outputs: ['C'] }],
  }),
  feeds: (): Record<string, Tensor> => ({ A: randomTensor('f32', [512, 512], seededRandom(1)), B: randomTensor('f32', [512, 512], seededRandom(2)) }),
};
