// Decoding on a compiled artifact (wasm, webgpu, cuda): a DecodeExecutor over a runtime Session.
//
// The KV cache lives in the executor's memory (the wasm memory, the WebGPU arena, CUDA device memory):
// each step feeds only the token and the position, the kernels write slot `position` of every present
// tensor, the Session carries present_* into past_* inside the executor (`run`'s `carry`; on WebGPU a
// copy kernel in the same pass, no host round trip) and only the logits are read back.
//
// reset() does not touch the executor: it makes the next step feed zero tensors for the past inputs once
// (a write per cache tensor; the cache contract only needs finite values above the position, but a reset
// cache reads as zeros, as on the reference backend). readCache() reads the past inputs' buffers as they
// are (Session.readInputs), without running a step.
import { checkDecoderSpec, type DecoderSpec } from '../ir/decoder.ts';
import { TesseraError } from '../ir/errors.ts';
import { Graph, Value } from '../ir/graph.ts';
import { Tensor } from '../ir/tensor.ts';
import { tensorType } from '../ir/types.ts';
import type { DecodeExecutor } from './decode.ts';
import type { IoSignature, Session } from './session.ts';

/** The compiled inputs/outputs as a graph signature, so the descriptor is checked by the one checker. */
function signatureGraph(session: Session): Graph {
  const value = (io: IoSignature) => new Value(io.name, tensorType(io.dtype, io.shape));
  const { inputs, outputs } = session.signature;
  return new Graph('compiled decoder', inputs.map(value), outputs.map(value));
}

/** A reusable one-element feed of the dtype and shape the artifact declares for a token/position input. */
function scalarSlot(io: IoSignature): { tensor: Tensor; set(x: number): void } {
  if (io.dtype === 'i64') {
    const data = new BigInt64Array(1);
    return { tensor: new Tensor('i64', io.shape as number[], data), set: (x) => { data[0] = BigInt(x); } };
  }
  const data = new Int32Array(1);
  return { tensor: new Tensor('i32', io.shape as number[], data), set: (x) => { data[0] = x; } };
}

export class CompiledDecodeExecutor implements DecodeExecutor {
  private readonly token: ReturnType<typeof scalarSlot>;
  private readonly position: ReturnType<typeof scalarSlot>;
  /** present output → past input, for every cache tensor. */
  private readonly carry: Record<string, string>;
  private readonly outputs: string[];
  /** Zero tensors for the past inputs, fed by the first step after a reset. */
  private readonly zeros: Record<string, Tensor>;
  private zeroPending = true;

  private constructor(readonly backend: string, private readonly session: Session, private readonly spec: DecoderSpec) {
    const input = (name: string) => session.signature.inputs.find((io) => io.name === name)!;
    this.token = scalarSlot(input(spec.token));
    this.position = scalarSlot(input(spec.position));
    this.carry = Object.fromEntries(spec.cache.map((e) => [e.present, e.past]));
    this.outputs = [spec.logits];
    const zero = Tensor.zeros('f32', [1, spec.kvHeads, spec.capacity, spec.headSize]); // never written: shared
    this.zeros = Object.fromEntries(spec.cache.map((e) => [e.past, zero]));
  }

  /**
   * A decode executor over a Session of a compiled decoder step graph. The descriptor (ir/decoder.ts) is
   * checked against the artifact's inputs and outputs; every other input must be compiled as a constant.
   */
  static create(session: Session, spec: DecoderSpec, backend: string): CompiledDecodeExecutor {
    try {
      checkDecoderSpec(signatureGraph(session), spec);
    } catch (e) {
      if (!(e instanceof TesseraError)) throw e;
      throw new TesseraError(`the compiled artifact does not match its decoder descriptor: ${e.reason}`);
    }
    const known = new Set([spec.token, spec.position, ...spec.cache.map((e) => e.past)]);
    const other = session.signature.inputs.filter((io) => !known.has(io.name)).map((io) => `'${io.name}'`);
    if (other.length > 0) throw new TesseraError(`the compiled decoder has inputs outside its descriptor (${other.join(', ')}): a step feeds only the token and the position`);
    return new CompiledDecodeExecutor(backend, session, spec);
  }

  async step(token: number, position: number): Promise<Float32Array> {
    this.token.set(token);
    this.position.set(position);
    const feeds: Record<string, Tensor> = { [this.spec.token]: this.token.tensor, [this.spec.position]: this.position.tensor };
    if (this.zeroPending) Object.assign(feeds, this.zeros);
    const out = await this.session.run(feeds, { outputs: this.outputs, carry: this.carry });
    this.zeroPending = false;
    return out[this.spec.logits]!.data as Float32Array;
  }

  reset(): void { this.zeroPending = true; }

  async readCache(): Promise<Map<string, Tensor>> {
    const names = this.spec.cache.map((e) => e.past);
    if (this.zeroPending) return new Map(names.map((n) => [n, Tensor.zeros('f32', [1, this.spec.kvHeads, this.spec.capacity, this.spec.headSize])]));
    const read = await this.session.readInputs(names);
    return new Map(names.map((n) => [n, read[n]!]));
  }

  dispose(): void { this.session.dispose(); }
}
