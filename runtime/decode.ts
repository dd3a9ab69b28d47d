// Stateful decoding of a decoder step graph (one token per step) with its KV cache kept by the executor.
//
//   const session = await DecodeSession.create(model, { backend: 'reference' });
//   const logits = await session.step(token);            // writes the cache at session.position, advances it
//   const { tokens } = await session.generate({ steps: 256 });   // greedy from BOS
//
// The state is explicit: a session owns its cache and its position; nothing is global. The model says
// which inputs/outputs are the token, position, logits and cache through its decoder descriptor
// (ir/decoder.ts, stored in the model's metadata), so an exported and re-imported ONNX decoder works too.
//
// Backends plug in as DecodeExecutors: an executor holds the cache in its own memory between steps (the
// reference executor keeps the cache tensors and feeds them back; the compiled backends keep them in the
// wasm memory / WebGPU arena / CUDA memory, see runtime/compiled-decode.ts) and hands back nothing but the
// logits. 'reference' is built in; the compiled targets register themselves when the compiler is loaded
// (compiler/decode-compiled.ts compiles the step graph), and an app that ships only the runtime decodes an
// artifact compiled ahead of time with DecodeSession.fromArtifact.
import { checkDecoderSpec, DECODER_METADATA_KEY, getDecoderSpec, type DecoderSpec } from '../ir/decoder.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Model, Value } from '../ir/graph.ts';
import { seededRandom } from '../ir/random.ts';
import { Tensor } from '../ir/tensor.ts';
import type { ArtifactFiles } from './artifact.ts';
import { CompiledDecodeExecutor } from './compiled-decode.ts';
import { ReferenceInterpreter } from './reference.ts';
import { checkSampling, sample, type SamplingOptions } from './sampler.ts';
import { Session, type SessionBackend, type SessionOptions } from './session.ts';

/** Runs steps of one decoder model on one backend, holding its KV cache between steps. */
export interface DecodeExecutor {
  readonly backend: string;
  /**
   * Feeds `token` at `position`: the cache slot `position` is written, slots above it are not read.
   * Returns the logits (vocabSize values), owned by the caller.
   */
  step(token: number, position: number): Promise<Float32Array>;
  /** Empties the cache (a new sequence starts at position 0). */
  reset(): void;
  /** A copy of every cache tensor, by its past-input name (for tests, inspection and eviction policies). */
  readCache(): Promise<Map<string, Tensor>>;
  /** Frees backend resources. */
  dispose(): void;
}

export type DecodeExecutorFactory = (model: Model, spec: DecoderSpec, options: DecodeSessionOptions) => DecodeExecutor | Promise<DecodeExecutor>;

/** Backends the project plans; the ones without an executor give a clear "not available yet". */
export const DECODE_BACKENDS = ['reference', 'wasm', 'webgpu', 'cuda'] as const;

const executors = new Map<string, DecodeExecutorFactory>([
  ['reference', (model, spec) => new ReferenceDecodeExecutor(model, spec)],
]);

/** Adds (or replaces) the decode executor of a backend; backends register themselves when they land. */
export function registerDecodeBackend(name: string, factory: DecodeExecutorFactory): void {
  executors.set(name, factory);
}

export function availableDecodeBackends(): string[] {
  return [...executors.keys()];
}

function executorFor(backend: string): DecodeExecutorFactory {
  const f = executors.get(backend);
  if (f) return f;
  if ((DECODE_BACKENDS as readonly string[]).includes(backend)) {
    throw new TesseraError(`backend '${backend}' is not available for decoding yet (available: ${availableDecodeBackends().join(', ')})`);
  }
  throw new TesseraError(`unknown backend '${backend}' (available: ${availableDecodeBackends().join(', ')})`);
}

/** A one-element tensor of the dtype and shape a token/position input declares. */
function scalarFeed(v: Value, x: number): Tensor {
  const t = v.type;
  if (t?.kind !== 'tensor' || !t.shape) throw new TesseraError(`input '${v.name}' has no known tensor type`);
  const shape = t.shape.map(() => 1);
  return t.dtype === 'i64' ? Tensor.from('i64', shape, [BigInt(x)]) : Tensor.from(t.dtype, shape, [x]);
}

/** The reference backend: the interpreter runs the step graph; the cache tensors stay in the executor. */
class ReferenceDecodeExecutor implements DecodeExecutor {
  readonly backend = 'reference';
  private readonly interp: ReferenceInterpreter;
  private readonly tokenInput: Value;
  private readonly positionInput: Value;
  private cache = new Map<string, Tensor>();

  constructor(model: Model, private readonly spec: DecoderSpec) {
    this.interp = new ReferenceInterpreter(model);
    const g = model.graph;
    this.tokenInput = g.inputs.find((v) => v.name === spec.token)!;
    this.positionInput = g.inputs.find((v) => v.name === spec.position)!;
    this.reset();
  }

  async step(token: number, position: number): Promise<Float32Array> {
    const feeds: Record<string, Tensor> = {
      [this.spec.token]: scalarFeed(this.tokenInput, token),
      [this.spec.position]: scalarFeed(this.positionInput, position),
    };
    for (const [name, t] of this.cache) feeds[name] = t;
    const out = this.interp.run(feeds);
    for (const e of this.spec.cache) this.cache.set(e.past, out[e.present] as Tensor);
    return (out[this.spec.logits] as Tensor).data as Float32Array;
  }

  reset(): void {
    const { kvHeads, capacity, headSize } = this.spec;
    this.cache = new Map(this.spec.cache.map((e) => [e.past, Tensor.zeros('f32', [1, kvHeads, capacity, headSize])]));
  }

  async readCache(): Promise<Map<string, Tensor>> {
    return new Map([...this.cache].map(([k, t]) => [k, new Tensor(t.dtype, t.shape, (t.data as Float32Array).slice())]));
  }

  dispose(): void { this.cache.clear(); }
}

export interface DecodeSessionOptions {
  /** 'reference' (default), or a compiled target registered by the compiler (see availableDecodeBackends). */
  backend?: string;
  /** The decoder descriptor; by default read from the model's metadata. */
  spec?: DecoderSpec;
  /** Compiled backends: options of their runtime Session (wasmVariant, the WebGPU device). */
  session?: Omit<SessionOptions, 'backend'>;
}

export interface ArtifactDecodeOptions extends Omit<SessionOptions, 'backend'> {
  /** The artifact's target. */
  backend: SessionBackend;
  /** The descriptor of the step graph the artifact was compiled from (getDecoderSpec of that model). */
  spec: DecoderSpec;
}

export interface GenerateOptions extends SamplingOptions {
  /** Forward steps to run (run.c's -n), at most the cache capacity. */
  steps: number;
  /** Prompt tokens, starting with BOS (default: [BOS]). They are fed in order; sampling starts after. */
  prompt?: readonly number[];
  /** PRNG seed for sampling (default 0). */
  seed?: number;
  /** Stop when the model predicts BOS, which delimits sequences in llama2.c (default true, as run.c). */
  stopAtBos?: boolean;
  /** Called for every token chosen after the prompt (and for the prompt's tokens after the first). */
  onToken?: (token: number, index: number) => void;
}

export interface GenerateResult {
  /** The whole sequence: the prompt, then the chosen tokens. */
  tokens: number[];
  /** Forward steps run. */
  steps: number;
  /** Why it stopped. */
  stop: 'steps' | 'bos';
  /** Wall time of the forward steps and sampling, ms. */
  ms: number;
}

export class DecodeSession {
  private pos = 0;

  private constructor(
    readonly spec: DecoderSpec,
    private readonly executor: DecodeExecutor,
  ) {}

  static async create(model: Model, opts: DecodeSessionOptions = {}): Promise<DecodeSession> {
    const spec = opts.spec ?? getDecoderSpec(model);
    if (!spec) throw new TesseraError(`the model is not a decoder: it has no '${DECODER_METADATA_KEY}' descriptor in its metadata (import a llama2.c checkpoint, or pass options.spec)`);
    checkDecoderSpec(model.graph, spec);
    const factory = executorFor(opts.backend ?? 'reference');
    return new DecodeSession(spec, await factory(model, spec, opts));
  }

  /**
   * A session over a decoder step graph compiled ahead of time (an artifact folder, URL or its files):
   * needs only the runtime. The descriptor is checked against the artifact's inputs and outputs.
   */
  static async fromArtifact(source: string | ArtifactFiles, opts: ArtifactDecodeOptions): Promise<DecodeSession> {
    const { spec, ...sessionOptions } = opts;
    const session = await Session.create(source, sessionOptions);
    try {
      return new DecodeSession(spec, CompiledDecodeExecutor.create(session, spec, opts.backend));
    } catch (e) {
      session.dispose();
      throw e;
    }
  }

  get backend(): string { return this.executor.backend; }
  /** Position of the next token: the number of tokens in the cache. */
  get position(): number { return this.pos; }

  /** Feeds one token at the current position and returns the next-token logits. */
  async step(token: number): Promise<Float32Array> {
    if (!Number.isInteger(token) || token < 0 || token >= this.spec.vocabSize) {
      throw new TesseraError(`token ${token} is outside the vocabulary (0..${this.spec.vocabSize - 1})`);
    }
    if (this.pos >= this.spec.capacity) {
      throw new TesseraError(`the KV cache is full: ${this.spec.capacity} positions decoded (reset() to start a new sequence)`);
    }
    const logits = await this.executor.step(token, this.pos);
    this.pos++;
    return logits;
  }

  /** Forgets the sequence: the next step is position 0 again. */
  reset(): void {
    this.executor.reset();
    this.pos = 0;
  }

  readCache(): Promise<Map<string, Tensor>> { return this.executor.readCache(); }

  dispose(): void { this.executor.dispose(); }

  /**
   * run.c's generate loop on a fresh cache: feed prompt[0]; while steps remain, the next token is the
   * next prompt token or, after the prompt, a sample of the logits; stop early when it is BOS.
   */
  async generate(opts: GenerateOptions): Promise<GenerateResult> {
    checkSampling(opts);
    const bos = this.spec.bos ?? 1;
    const prompt = opts.prompt && opts.prompt.length > 0 ? [...opts.prompt] : [bos];
    if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new TesseraError(`steps must be a positive integer, got ${opts.steps}`);
    const steps = Math.min(opts.steps, this.spec.capacity);
    if (prompt.length > steps) throw new TesseraError(`the prompt has ${prompt.length} tokens, more than the ${steps} steps`);
    const random = seededRandom(opts.seed ?? 0);
    this.reset();
    const tokens = [prompt[0]!];
    let stop: GenerateResult['stop'] = 'steps';
    const t0 = performance.now();
    while (this.pos < steps) {
      const logits = await this.step(tokens[tokens.length - 1]!);
      const next = this.pos < prompt.length ? prompt[this.pos]! : sample(logits, opts, random);
      if (next === bos && (opts.stopAtBos ?? true)) { stop = 'bos'; break; }
      tokens.push(next);
      opts.onToken?.(next, tokens.length - 1);
    }
    return { tokens, steps: this.pos, stop, ms: performance.now() - t0 };
  }
}
