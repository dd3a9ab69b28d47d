// Decoding an exported decoder step graph in onnxruntime (node or web/wasm) with the same cache handling
// as tessera's DecodeSession: the present key/value tensors of a step are fed back as the next step's
// past inputs (they stay onnxruntime tensors; nothing but the logits is read on the JS side).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DecoderSpec } from '../../ir/decoder.ts';
import { ROOT } from './real-models.ts';

/** The part of the onnxruntime API (common to onnxruntime-node and onnxruntime-web) used here. */
interface OrtTensor { readonly data: unknown }
interface OrtModule {
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => OrtTensor;
  InferenceSession: {
    create(bytes: Uint8Array, options: Record<string, unknown>): Promise<{
      run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
      release(): Promise<void>;
    }>;
  };
}

export type OrtFlavor = 'onnxruntime-node' | 'onnxruntime-web';

/** Loads onnxruntime-node, or onnxruntime-web with its wasm backend on one thread (files from node_modules). */
export async function loadOrt(flavor: OrtFlavor): Promise<OrtModule> {
  if (flavor === 'onnxruntime-node') return (await import('onnxruntime-node')) as unknown as OrtModule;
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  web.env.wasm.wasmPaths = pathToFileURL(join(ROOT, 'node_modules', 'onnxruntime-web', 'dist') + '/').href;
  return web as unknown as OrtModule;
}

export class OrtDecoder {
  private cache: Record<string, OrtTensor> = {};

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Awaited<ReturnType<OrtModule['InferenceSession']['create']>>,
    private readonly spec: DecoderSpec,
  ) { this.reset(); }

  static async create(flavor: OrtFlavor, onnxBytes: Uint8Array, spec: DecoderSpec): Promise<OrtDecoder> {
    const ort = await loadOrt(flavor);
    const options = flavor === 'onnxruntime-node'
      ? { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' }
      : { executionProviders: ['wasm'] };
    return new OrtDecoder(ort, await ort.InferenceSession.create(onnxBytes, options), spec);
  }

  reset(): void {
    const { kvHeads, capacity, headSize } = this.spec;
    const shape = [1, kvHeads, capacity, headSize];
    this.cache = Object.fromEntries(this.spec.cache.map((e) => [e.past, new this.ort.Tensor('float32', new Float32Array(kvHeads * capacity * headSize), shape)]));
  }

  /** Token and position as the step graph declares them: i64[1] and i64[]. */
  async step(token: number, position: number): Promise<Float32Array> {
    const out = await this.session.run({
      [this.spec.token]: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(token)), [1]),
      [this.spec.position]: new this.ort.Tensor('int64', BigInt64Array.of(BigInt(position)), []),
      ...this.cache,
    });
    for (const e of this.spec.cache) this.cache[e.past] = out[e.present]!;
    return out[this.spec.logits]!.data as Float32Array;
  }

  release(): Promise<void> { return this.session.release(); }
}
