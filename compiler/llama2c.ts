// llama2.c checkpoint import: reads karpathy's legacy llama2.c format (the `run.c` format) and builds a
// decoder STEP graph in the graph IR from standard ONNX ops (opset 17), so the same graph runs in the
// reference interpreter, exports to ONNX and runs in onnxruntime.
//
// The math is run.c's, op for op: RMSNorm (eps 1e-5, weight · (x / √(mean(x²) + eps))), RoPE rotating the
// interleaved pairs (2i, 2i+1) of every head of q and k by pos · 10000^(-(2i)/head_size), grouped-query
// attention (query head h reads kv head h / (n_heads / n_kv_heads)), scores / √head_size, softmax over
// the positions 0..pos, SwiGLU FFN w2(silu(w1·x) ⊙ w3·x), residuals, a final RMSNorm and the classifier
// (the token embedding when the header's vocab_size is positive).
//
// The KV cache is explicit and of fixed capacity (see ir/decoder.ts for the contract): per layer a key and
// a value tensor [1, n_kv_heads, seq_len, head_size]; a step writes slot `position` with ScatterND and
// attention masks the slots above `position` with Where(slot ≤ position, score, -inf). No Concat grows
// the cache, so an executor can keep it in place and a pass can evict or compact entries.
import { readFileSync } from 'node:fs';
import { setDecoderSpec, type DecoderSpec, type KvCacheEntry } from '../ir/decoder.ts';
import type { DType } from '../ir/dtype.ts';
import { TesseraError } from '../ir/errors.ts';
import { Graph, Node, Value, type Attr, type Model } from '../ir/graph.ts';
import { inferModel } from '../ir/infer.ts';
import { Tensor } from '../ir/tensor.ts';
import { tensorType, type Dim } from '../ir/types.ts';
import { verifyModel } from '../ir/verify.ts';
import '../ir/ops/index.ts';

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** The classifier is the token embedding (the header's vocab_size was positive). */
  sharedClassifier: boolean;
}

/** Weights in run.c's layout: matrices are [out, in] row-major, per-layer tensors concatenated. */
export interface Llama2cWeights {
  tokenEmbedding: Float32Array; // [vocab, dim]
  rmsAtt: Float32Array; // [layers, dim]
  wq: Float32Array; // [layers, dim, dim]
  wk: Float32Array; // [layers, kvDim, dim]
  wv: Float32Array; // [layers, kvDim, dim]
  wo: Float32Array; // [layers, dim, dim]
  rmsFfn: Float32Array; // [layers, dim]
  w1: Float32Array; // [layers, hidden, dim]
  w2: Float32Array; // [layers, dim, hidden]
  w3: Float32Array; // [layers, hidden, dim]
  rmsFinal: Float32Array; // [dim]
  wcls: Float32Array; // [vocab, dim] (the embedding itself when shared)
}

export interface Llama2cCheckpoint {
  config: Llama2cConfig;
  weights: Llama2cWeights;
}

const HEADER_BYTES = 7 * 4;
/** Magic of llama2.c's newer export formats (version 1/2: "ak42"), which this reader does not handle. */
const NEW_FORMAT_MAGIC = 0x616b3432;
/** Sanity bounds for header fields: far above any llama2.c model, far below what would exhaust memory. */
const LIMITS = { dim: 1 << 16, hiddenDim: 1 << 18, nLayers: 1024, nHeads: 1024, vocabSize: 1 << 20, seqLen: 1 << 20 };

/** Parses and validates a checkpoint; every inconsistency is a TesseraError naming the file and field. */
export function readLlama2cCheckpoint(bytes: Uint8Array, source = 'checkpoint'): Llama2cCheckpoint {
  const fail = (why: string): never => { throw new TesseraError(`not a valid llama2.c checkpoint: ${why}`, { file: source }); };
  if (bytes.length < HEADER_BYTES) fail(`the file has ${bytes.length} bytes, fewer than the ${HEADER_BYTES}-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) === NEW_FORMAT_MAGIC) {
    fail(`it starts with the magic "ak42" of llama2.c's versioned export format (version ${dv.getInt32(4, true)}); ` +
      `only the legacy format (export.py --version 0, as read by run.c) is supported`);
  }
  const h = Array.from({ length: 7 }, (_, i) => dv.getInt32(4 * i, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = h as [number, number, number, number, number, number, number];
  const header = `header (dim=${dim}, hidden_dim=${hiddenDim}, n_layers=${nLayers}, n_heads=${nHeads}, n_kv_heads=${nKvHeads}, vocab_size=${rawVocab}, seq_len=${seqLen})`;
  const vocabSize = Math.abs(rawVocab);
  const fields: [string, number, number][] = [
    ['dim', dim, LIMITS.dim], ['hidden_dim', hiddenDim, LIMITS.hiddenDim], ['n_layers', nLayers, LIMITS.nLayers],
    ['n_heads', nHeads, LIMITS.nHeads], ['n_kv_heads', nKvHeads, LIMITS.nHeads], ['|vocab_size|', vocabSize, LIMITS.vocabSize],
    ['seq_len', seqLen, LIMITS.seqLen],
  ];
  for (const [name, v, max] of fields) {
    if (v < 1 || v > max) fail(`${header}: ${name} = ${v} is outside 1..${max}`);
  }
  if (dim % nHeads !== 0) fail(`${header}: dim is not a multiple of n_heads`);
  if (nKvHeads > nHeads || nHeads % nKvHeads !== 0) fail(`${header}: n_heads is not a multiple of n_kv_heads`);
  const headSize = dim / nHeads;
  if (headSize % 2 !== 0) fail(`${header}: the head size ${headSize} is odd (RoPE rotates pairs)`);
  const kvDim = headSize * nKvHeads;
  const sizes: [keyof Llama2cWeights | 'freq_cis', number][] = [
    ['tokenEmbedding', vocabSize * dim], ['rmsAtt', nLayers * dim], ['wq', nLayers * dim * dim],
    ['wk', nLayers * kvDim * dim], ['wv', nLayers * kvDim * dim], ['wo', nLayers * dim * dim],
    ['rmsFfn', nLayers * dim], ['w1', nLayers * hiddenDim * dim], ['w2', nLayers * dim * hiddenDim],
    ['w3', nLayers * hiddenDim * dim], ['rmsFinal', dim],
    ['freq_cis', seqLen * headSize], // freq_cis_real + freq_cis_imag: unused, run.c skips them too
  ];
  const shared = rawVocab > 0;
  if (!shared) sizes.push(['wcls', vocabSize * dim]);
  const floats = sizes.reduce((n, [, s]) => n + s, 0);
  const expected = HEADER_BYTES + 4 * floats;
  if (bytes.length < expected) {
    fail(`the file is truncated: the ${header} describes ${expected} bytes (${floats} float32 weights), the file has ${bytes.length}`);
  }
  if (bytes.length > expected) {
    fail(`the file has ${bytes.length - expected} bytes more than the ${header} describes (${expected} bytes): the header does not match the weights`);
  }
  const all = new Float32Array(floats);
  new Uint8Array(all.buffer).set(bytes.subarray(HEADER_BYTES, expected)); // copy: the file view may be unaligned
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new TesseraError('llama2.c checkpoints are little-endian; this machine is big-endian', { file: source });
  }
  const w: Partial<Record<string, Float32Array>> = {};
  let off = 0;
  for (const [name, n] of sizes) { w[name] = all.subarray(off, off + n); off += n; }
  for (let i = 0; i < floats; i++) {
    if (!Number.isFinite(all[i]!)) {
      const at = sizes.find(([, n], k) => sizes.slice(0, k + 1).reduce((s, [, m]) => s + m, 0) > i)![0];
      fail(`weight ${i} (in ${at}) is ${all[i]}: the weights are not finite numbers`);
    }
  }
  const weights = { ...w, wcls: shared ? w.tokenEmbedding! : w.wcls! } as Llama2cWeights;
  return { config: { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, sharedClassifier: shared }, weights };
}

export interface Llama2cImportOptions {
  /** Vocabulary size of the tokenizer that will be used: a mismatch with the checkpoint is an error. */
  tokenizerVocabSize?: number;
  /** Name shown in errors. */
  source?: string;
}

/** Reads a checkpoint file and builds the decoder step model (verified, types inferred). */
export function importLlama2cFile(path: string, opts: Omit<Llama2cImportOptions, 'source'> = {}): Model {
  let bytes: Uint8Array;
  try { bytes = readFileSync(path); } catch (e) {
    throw new TesseraError(`cannot read checkpoint: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
  return importLlama2c(bytes, { ...opts, source: path });
}

export function importLlama2c(bytes: Uint8Array, opts: Llama2cImportOptions = {}): Model {
  const ckpt = readLlama2cCheckpoint(bytes, opts.source);
  if (opts.tokenizerVocabSize !== undefined && opts.tokenizerVocabSize !== ckpt.config.vocabSize) {
    throw new TesseraError(`the checkpoint's vocabulary has ${ckpt.config.vocabSize} tokens but the tokenizer has ` +
      `${opts.tokenizerVocabSize}: they do not belong together`, { file: opts.source });
  }
  return buildDecoderModel(ckpt);
}

/** Adds nodes with unique, readable names (`l0/q`, `l0/att`, …): one value per node unless asked. */
class Builder {
  readonly graph = new Graph('llama2c_decoder_step');
  private readonly names = new Set<string>();

  private unique(name: string): string {
    let n = name, k = 1;
    while (this.names.has(n)) n = `${name}_${k++}`;
    this.names.add(n);
    return n;
  }

  input(name: string, dtype: DType, shape: Dim[]): Value {
    const v = new Value(this.unique(name), tensorType(dtype, shape));
    this.graph.inputs.push(v);
    return v;
  }

  const(name: string, t: Tensor): Value {
    const v = new Value(this.unique(name), tensorType(t.dtype, [...t.shape]));
    this.graph.initializers.set(v, t);
    return v;
  }

  op(op: string, name: string, inputs: Value[], attrs: Record<string, Attr> = {}): Value {
    const out = new Value(this.unique(name), undefined);
    const node = new Node(out.name, op, '', inputs, [out], new Map(Object.entries(attrs)));
    out.producer = node;
    this.graph.nodes.push(node);
    return out;
  }
}

const ints = (value: number[]): Attr => ({ kind: 'ints', value });
const int = (value: number): Attr => ({ kind: 'int', value });
const i64 = (values: number[], shape = [values.length]) => Tensor.from('i64', shape, values);
const f32 = (values: ArrayLike<number>, shape: number[]) => new Tensor('f32', shape, Float32Array.from(values));

/** The [rows, cols] row-major matrix transposed to [cols, rows] (x·Wᵀ becomes a plain MatMul). */
function transposed(src: Float32Array, rows: number, cols: number): Tensor {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return new Tensor('f32', [cols, rows], out);
}

/** The names of the step graph's inputs and outputs (the decoder descriptor records them). */
export const cacheNames = (layer: number) => ({
  pastKey: `past_key_${layer}`, pastValue: `past_value_${layer}`,
  presentKey: `present_key_${layer}`, presentValue: `present_value_${layer}`,
});

/** Builds the decoder step graph of a checkpoint; see the file comment for the math and the cache. */
export function buildDecoderModel({ config: c, weights: w }: Llama2cCheckpoint): Model {
  const b = new Builder();
  const headSize = c.dim / c.nHeads, kvDim = headSize * c.nKvHeads, group = c.nHeads / c.nKvHeads, half = headSize / 2;
  const cacheShape = [1, c.nKvHeads, c.seqLen, headSize];

  const token = b.input('token', 'i64', [1]);
  const position = b.input('position', 'i64', []);
  const past = Array.from({ length: c.nLayers }, (_, l) => ({
    key: b.input(cacheNames(l).pastKey, 'f32', cacheShape),
    value: b.input(cacheNames(l).pastValue, 'f32', cacheShape),
  }));

  // Step-wide values, shared by every layer.
  const embedding = b.const('token_embedding', new Tensor('f32', [c.vocabSize, c.dim], w.tokenEmbedding.slice()));
  let x = b.op('Gather', 'embed', [embedding, token], { axis: int(0) }); // [1, dim]
  // RoPE angles: pos · freq with freq_i = 1 / 10000^(2i / head_size), rounded as run.c computes them in f32.
  const freq = Array.from({ length: half }, (_, i) => Math.fround(1 / Math.fround(10000 ** Math.fround((2 * i) / headSize))));
  const angle = b.op('Mul', 'rope/angle', [b.op('Cast', 'rope/pos', [position], { to: int(1) }), b.const('rope/freq', f32(freq, [half]))]);
  const cos = b.op('Cos', 'rope/cos', [angle]), sin = b.op('Sin', 'rope/sin', [angle]);
  // Slots the token may attend to (0..position), and where its key/value go: [0, h, position] per kv head.
  const slots = b.const('cache/slots', i64(Array.from({ length: c.seqLen }, (_, i) => i)));
  const visible = b.op('LessOrEqual', 'cache/visible', [slots, position]); // bool [seq_len]
  const slotBase = b.const('cache/index_base', i64(Array.from({ length: c.nKvHeads }, (_, h) => [0, h, 0]).flat(), [c.nKvHeads, 3]));
  const writeIndex = b.op('Add', 'cache/write_index', [slotBase, b.op('Mul', 'cache/write_offset', [b.const('cache/slot_axis', i64([0, 0, 1])), position])]);
  const pairIndex = [b.const('rope/even', i64([0], [])), b.const('rope/odd', i64([1], []))];
  const pairAxis = b.const('rope/pair_axis', i64([2]));
  const scale = b.const('attn/scale', f32([Math.fround(Math.sqrt(headSize))], []));
  const negInf = b.const('attn/neg_inf', f32([-Infinity], []));
  const eps = b.const('rmsnorm/eps', f32([1e-5], []));
  const shapeConst = (name: string, dims: number[]) => b.const(name, i64(dims));

  const rmsnorm = (p: string, v: Value, weight: Float32Array): Value => {
    const ms = b.op('ReduceMean', `${p}/mean_square`, [b.op('Mul', `${p}/square`, [v, v])], { axes: ints([-1]), keepdims: int(1) });
    const inv = b.op('Reciprocal', `${p}/inv_rms`, [b.op('Sqrt', `${p}/rms`, [b.op('Add', `${p}/add_eps`, [ms, eps])])]);
    return b.op('Mul', `${p}/out`, [b.const(`${p}.weight`, f32(weight, [c.dim])), b.op('Mul', `${p}/scaled`, [inv, v])]);
  };
  const linear = (p: string, v: Value, all: Float32Array, layer: number, out: number, inp: number): Value =>
    b.op('MatMul', p, [v, b.const(`${p}.weight_t`, transposed(all.subarray(layer * out * inp, (layer + 1) * out * inp), out, inp))]);
  /** Rotates the interleaved pairs of `heads` heads of v ([1, heads·head_size]) and reshapes to `shape`. */
  const rope = (p: string, v: Value, heads: number, shape: number[]): Value => {
    const pairs = b.op('Reshape', `${p}/pairs`, [v, shapeConst(`${p}/pairs_shape`, [heads, half, 2])]);
    const v0 = b.op('Gather', `${p}/even`, [pairs, pairIndex[0]!], { axis: int(2) }); // [heads, half]
    const v1 = b.op('Gather', `${p}/odd`, [pairs, pairIndex[1]!], { axis: int(2) });
    const r0 = b.op('Sub', `${p}/rot_even`, [b.op('Mul', `${p}/even_cos`, [v0, cos]), b.op('Mul', `${p}/odd_sin`, [v1, sin])]);
    const r1 = b.op('Add', `${p}/rot_odd`, [b.op('Mul', `${p}/even_sin`, [v0, sin]), b.op('Mul', `${p}/odd_cos`, [v1, cos])]);
    const joined = b.op('Concat', `${p}/rot`, [b.op('Unsqueeze', `${p}/rot_even_u`, [r0, pairAxis]), b.op('Unsqueeze', `${p}/rot_odd_u`, [r1, pairAxis])], { axis: int(2) });
    return b.op('Reshape', `${p}/rotated`, [joined, shapeConst(`${p}/rotated_shape`, shape)]);
  };

  const present: { key: Value; value: Value }[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `l${l}`;
    const names = cacheNames(l);
    // Attention.
    const xa = rmsnorm(`${p}/attn_norm`, x, w.rmsAtt.subarray(l * c.dim, (l + 1) * c.dim));
    const q = linear(`${p}/wq`, xa, w.wq, l, c.dim, c.dim);
    const k = linear(`${p}/wk`, xa, w.wk, l, kvDim, c.dim);
    const v = linear(`${p}/wv`, xa, w.wv, l, kvDim, c.dim);
    const qr = rope(`${p}/q_rope`, q, c.nHeads, [1, c.nKvHeads, group, headSize]); // query heads grouped by kv head
    const kr = rope(`${p}/k_rope`, k, c.nKvHeads, [c.nKvHeads, headSize]);
    const vr = b.op('Reshape', `${p}/v_heads`, [v, shapeConst(`${p}/v_heads_shape`, [c.nKvHeads, headSize])]);
    const keys = b.op('ScatterND', names.presentKey, [past[l]!.key, writeIndex, kr]);
    const values = b.op('ScatterND', names.presentValue, [past[l]!.value, writeIndex, vr]);
    present.push({ key: keys, value: values });
    const keysT = b.op('Transpose', `${p}/keys_t`, [keys], { perm: ints([0, 1, 3, 2]) }); // [1, kvh, head_size, seq]
    const scores = b.op('Div', `${p}/scores`, [b.op('MatMul', `${p}/qk`, [qr, keysT]), scale]); // [1, kvh, group, seq]
    const masked = b.op('Where', `${p}/masked_scores`, [visible, scores, negInf]);
    const att = b.op('Softmax', `${p}/att`, [masked], { axis: int(-1) });
    const heads = b.op('MatMul', `${p}/att_v`, [att, values]); // [1, kvh, group, head_size]
    const merged = b.op('Reshape', `${p}/att_merged`, [heads, shapeConst(`${p}/att_merged_shape`, [1, c.dim])]);
    x = b.op('Add', `${p}/attn_residual`, [x, linear(`${p}/wo`, merged, w.wo, l, c.dim, c.dim)]);
    // SwiGLU feed-forward.
    const xf = rmsnorm(`${p}/ffn_norm`, x, w.rmsFfn.subarray(l * c.dim, (l + 1) * c.dim));
    const h1 = linear(`${p}/w1`, xf, w.w1, l, c.hiddenDim, c.dim);
    const h3 = linear(`${p}/w3`, xf, w.w3, l, c.hiddenDim, c.dim);
    const silu = b.op('Mul', `${p}/silu`, [h1, b.op('Sigmoid', `${p}/gate`, [h1])]);
    const ffn = linear(`${p}/w2`, b.op('Mul', `${p}/swiglu`, [silu, h3]), w.w2, l, c.dim, c.hiddenDim);
    x = b.op('Add', `${p}/ffn_residual`, [x, ffn]);
  }
  const xo = rmsnorm('final_norm', x, w.rmsFinal);
  const classifier = c.sharedClassifier
    ? b.op('Transpose', 'classifier_t', [embedding], { perm: ints([1, 0]) }) // the embedding, shared
    : b.const('classifier.weight_t', transposed(w.wcls, c.vocabSize, c.dim));
  const logits = b.op('MatMul', 'logits', [xo, classifier]); // [1, vocab]

  const g = b.graph;
  g.outputs.push(logits);
  for (const pr of present) g.outputs.push(pr.key, pr.value);
  const model: Model = { graph: g, opsets: new Map([['', 17]]), irVersion: 8, producer: 'tessera (llama2.c import)' };
  verifyModel(model);
  inferModel(model);
  const cache: KvCacheEntry[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const n = cacheNames(l);
    cache.push({ layer: l, kind: 'key', past: n.pastKey, present: n.presentKey }, { layer: l, kind: 'value', past: n.pastValue, present: n.presentValue });
  }
  const spec: DecoderSpec = {
    format: 'tessera.decoder/1', token: 'token', position: 'position', logits: 'logits',
    vocabSize: c.vocabSize, capacity: c.seqLen, layers: c.nLayers, heads: c.nHeads, kvHeads: c.nKvHeads, headSize,
    layout: 'batch,kv_head,slot,channel', cache, bos: 1, eos: 2,
  };
  setDecoderSpec(model, spec);
  model.metadata!['llama2c.config'] = JSON.stringify(c);
  return model;
}
