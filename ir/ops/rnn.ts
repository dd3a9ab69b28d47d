// Recurrent ops: RNN, GRU, LSTM (all versions, opsets 1–17).
//
// One engine serves the three: the input projection X·Wᵀ (+ biases that do not depend on the state) is
// computed for every timestep up front as a single GEMM-like pass, so the sequential part only does the
// small state·Rᵀ product per step. Weights are read in place (no per-call copy: f32 weights stay
// Float32Array, which also halves memory traffic); activations and states are Float64Array. f16 states
// are rounded to f16 after every step so the recurrence sees values of its type.
import { allocData, roundF16, type DType } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import type { AttrSpec, AttrView, InferContext, OpSchema, RunContext } from '../registry.ts';
import { registerOps } from '../registry.ts';
import { checkShape, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type ValueType } from '../types.ts';

type Kind = 'RNN' | 'GRU' | 'LSTM';

const RNN_DTYPES: readonly DType[] = ['f16', 'f32', 'f64'];

interface KindInfo {
  /** Gate blocks stacked in W/R rows: RNN i; GRU z,r,h; LSTM i,o,f,c. */
  gates: number;
  /** Activation functions per direction (f; f,g; f,g,h). */
  activations: readonly string[];
  inputs: number;
  outputs: number;
}

const KINDS: Record<Kind, KindInfo> = {
  RNN: { gates: 1, activations: ['Tanh'], inputs: 6, outputs: 2 },
  GRU: { gates: 3, activations: ['Sigmoid', 'Tanh'], inputs: 6, outputs: 2 },
  LSTM: { gates: 4, activations: ['Sigmoid', 'Tanh', 'Tanh'], inputs: 8, outputs: 3 },
};

// ---------- activations ----------

const enum Act { Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus }

interface ActSpec { act: Act; usesAlpha: boolean; usesBeta: boolean; alpha: number; beta: number }

// Defaults are those of the standalone ONNX ops of the same name (Affine and ScaledTanh: the
// experimental ops' defaults).
const ACTIVATIONS: Record<string, ActSpec> = {
  relu: { act: Act.Relu, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  tanh: { act: Act.Tanh, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  sigmoid: { act: Act.Sigmoid, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  affine: { act: Act.Affine, usesAlpha: true, usesBeta: true, alpha: 1, beta: 0 },
  leakyrelu: { act: Act.LeakyRelu, usesAlpha: true, usesBeta: false, alpha: 0.01, beta: 0 },
  thresholdedrelu: { act: Act.ThresholdedRelu, usesAlpha: true, usesBeta: false, alpha: 1, beta: 0 },
  scaledtanh: { act: Act.ScaledTanh, usesAlpha: true, usesBeta: true, alpha: 1, beta: 1 },
  hardsigmoid: { act: Act.HardSigmoid, usesAlpha: true, usesBeta: true, alpha: 0.2, beta: 0.5 },
  elu: { act: Act.Elu, usesAlpha: true, usesBeta: false, alpha: 1, beta: 0 },
  softsign: { act: Act.Softsign, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
  softplus: { act: Act.Softplus, usesAlpha: false, usesBeta: false, alpha: 0, beta: 0 },
};

interface Activation { act: Act; alpha: number; beta: number }

/**
 * Resolves the activations attribute into per-direction lists. activation_alpha/beta are consumed in
 * order only by the functions that take them (as onnxruntime does); missing values use the defaults.
 */
function resolveActivations(kind: Kind, numDirections: number, names: string[] | undefined,
  alphas: number[] | undefined, betas: number[] | undefined): Activation[][] {
  const perDir = KINDS[kind].activations.length;
  let list = names ?? [];
  if (list.length === 0) list = Array.from({ length: numDirections }, () => KINDS[kind].activations).flat();
  else if (list.length === perDir && numDirections === 2) list = [...list, ...list];
  else if (list.length === 2 * perDir && numDirections === 1) list = list.slice(0, perDir);
  if (list.length !== perDir * numDirections) {
    throw new TesseraError(`${kind} expects ${perDir * numDirections} activations for ${numDirections} direction(s), got ${list.length}`);
  }
  let ai = 0, bi = 0;
  const resolved = list.map((name) => {
    const spec = ACTIVATIONS[name.toLowerCase()];
    if (!spec) {
      throw new TesseraError(`unknown activation '${name}' (expected one of Relu, Tanh, Sigmoid, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus)`);
    }
    let alpha = spec.alpha, beta = spec.beta;
    if (spec.usesAlpha && alphas && ai < alphas.length) alpha = alphas[ai++]!;
    if (spec.usesBeta && betas && bi < betas.length) beta = betas[bi++]!;
    return { act: spec.act, alpha, beta };
  });
  const out: Activation[][] = [];
  for (let d = 0; d < numDirections; d++) out.push(resolved.slice(d * perDir, (d + 1) * perDir));
  return out;
}

/** Applies an activation in place to buf[off, off+n). The switch sits outside the element loop. */
function activate(a: Activation, buf: Float64Array, off: number, n: number): void {
  const end = off + n;
  const { alpha, beta } = a;
  switch (a.act) {
    case Act.Relu: for (let i = off; i < end; i++) { const x = buf[i]!; buf[i] = x > 0 ? x : 0; } break;
    case Act.Tanh: for (let i = off; i < end; i++) buf[i] = Math.tanh(buf[i]!); break;
    case Act.Sigmoid: for (let i = off; i < end; i++) buf[i] = 1 / (1 + Math.exp(-buf[i]!)); break;
    case Act.Affine: for (let i = off; i < end; i++) buf[i] = alpha * buf[i]! + beta; break;
    case Act.LeakyRelu: for (let i = off; i < end; i++) { const x = buf[i]!; buf[i] = x >= 0 ? x : alpha * x; } break;
    case Act.ThresholdedRelu: for (let i = off; i < end; i++) { const x = buf[i]!; buf[i] = x >= alpha ? x : 0; } break;
    case Act.ScaledTanh: for (let i = off; i < end; i++) buf[i] = alpha * Math.tanh(beta * buf[i]!); break;
    case Act.HardSigmoid:
      for (let i = off; i < end; i++) { const y = alpha * buf[i]! + beta; buf[i] = y < 0 ? 0 : y > 1 ? 1 : y; }
      break;
    case Act.Elu: for (let i = off; i < end; i++) { const x = buf[i]!; buf[i] = x >= 0 ? x : alpha * Math.expm1(x); } break;
    case Act.Softsign: for (let i = off; i < end; i++) { const x = buf[i]!; buf[i] = x / (1 + Math.abs(x)); } break;
    case Act.Softplus:
      // log(1+e^x) without overflowing e^x for large x.
      for (let i = off; i < end; i++) { const x = buf[i]!; buf[i] = x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)); }
      break;
  }
}

function clipRange(buf: Float64Array, off: number, n: number, c: number): void {
  for (let i = off, end = off + n; i < end; i++) {
    const x = buf[i]!;
    if (x > c) buf[i] = c; else if (x < -c) buf[i] = -c;
  }
}

// ---------- kernels ----------

/**
 * out[outOff + n] += Σ_k w[wOff + n·k + j] · x[xOff + j] for n < rows: rows of a row-major weight
 * matrix dotted with one vector. Four rows at a time share each load of x.
 */
function accumulateMatVec(out: Float64Array, outOff: number, w: FloatArray, wOff: number,
  rows: number, k: number, x: Float64Array, xOff: number): void {
  let n = 0;
  for (; n + 4 <= rows; n += 4) {
    const r0 = wOff + n * k, r1 = r0 + k, r2 = r1 + k, r3 = r2 + k;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let j = 0; j < k; j++) {
      const xv = x[xOff + j]!;
      s0 += w[r0 + j]! * xv; s1 += w[r1 + j]! * xv; s2 += w[r2 + j]! * xv; s3 += w[r3 + j]! * xv;
    }
    out[outOff + n] += s0; out[outOff + n + 1] += s1; out[outOff + n + 2] += s2; out[outOff + n + 3] += s3;
  }
  for (; n < rows; n++) {
    const r = wOff + n * k;
    let s = 0;
    for (let j = 0; j < k; j++) s += w[r + j]! * x[xOff + j]!;
    out[outOff + n] += s;
  }
}

type FloatArray = Float32Array | Float64Array;

function floatData(t: Tensor): FloatArray { return t.data as FloatArray; }

function toF64(t: Tensor): Float64Array {
  return t.data instanceof Float64Array ? t.data : new Float64Array(t.data as Float32Array);
}

// ---------- shared validation ----------

function parseDirection(s: string): number {
  if (s === 'forward' || s === 'reverse') return 1;
  if (s === 'bidirectional') return 2;
  throw new TesseraError(`direction must be forward, reverse or bidirectional, got '${s}'`);
}

/** Old schemas (opset 1) declared the default direction as the misspelled 'foward'. */
function directionOf(attrs: AttrView): string {
  return attrs.has('direction') ? attrs.string('direction') : 'forward';
}

function shapeStr(s: readonly Dim[]): string { return `[${s.join(',')}]`; }

function expectShape(what: string, actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new TesseraError(`${what} must have shape ${shapeStr(expected)}, got ${shapeStr(actual)}`);
  }
}

// ---------- inference ----------

function inferRecurrent(kind: Kind, ctx: InferContext): (ValueType | undefined)[] {
  const info = KINDS[kind];
  const x = ctx.tensorInput(0);
  if (!RNN_DTYPES.includes(x.dtype)) throw new TesseraError(`${kind} does not accept ${x.dtype} (expected f16, f32 or f64)`);
  const w = ctx.tensorInput(1), r = ctx.tensorInput(2);
  const sameType = (i: number, name: string): void => {
    if (!ctx.inputType(i) || ctx.node.inputs[i] == null) return;
    const t = ctx.tensorInput(i);
    if (t.dtype !== x.dtype) throw new TesseraError(`${name} has type ${t.dtype} but X has type ${x.dtype}`);
  };
  sameType(1, 'W'); sameType(2, 'R'); sameType(3, 'B'); sameType(5, 'initial_h');
  if (kind === 'LSTM') { sameType(6, 'initial_c'); sameType(7, 'P'); }
  if (ctx.inputType(4) && ctx.node.inputs[4] != null) {
    const sl = ctx.tensorInput(4);
    if (sl.dtype !== 'i32') throw new TesseraError(`sequence_lens must be i32, got ${sl.dtype}`);
  }
  const numDirections = parseDirection(directionOf(ctx.attrs));
  const layout = ctx.opset >= 14 ? ctx.attrs.int('layout', 0) : 0;
  if (layout !== 0 && layout !== 1) throw new TesseraError(`layout must be 0 or 1, got ${layout}`);
  resolveActivations(kind, numDirections, ctx.attrs.strings('activations'), ctx.attrs.floats('activation_alpha'), ctx.attrs.floats('activation_beta'));

  for (const [t, name] of [[x, 'X'], [w, 'W'], [r, 'R']] as const) {
    if (t.shape && t.shape.length !== 3) throw new TesseraError(`${name} must have rank 3, got shape ${shapeStr(t.shape)}`);
  }
  let hidden: Dim | undefined;
  if (ctx.attrs.has('hidden_size')) {
    hidden = ctx.attrs.int('hidden_size');
    if (!(hidden > 0)) throw new TesseraError(`hidden_size must be positive, got ${hidden}`);
  } else if (r.shape) hidden = r.shape[2];
  else if (w.shape && typeof w.shape[1] === 'number' && w.shape[1] % info.gates === 0) hidden = w.shape[1] / info.gates;
  hidden ??= ctx.freshDim();
  if (typeof hidden === 'number') {
    if (w.shape && typeof w.shape[1] === 'number' && w.shape[1] !== info.gates * hidden) {
      throw new TesseraError(`W must have ${info.gates}*${hidden} rows per direction, got shape ${shapeStr(w.shape)}`);
    }
    if (r.shape && typeof r.shape[2] === 'number' && r.shape[2] !== hidden) {
      throw new TesseraError(`R must have shape [${numDirections},${info.gates * hidden},${hidden}], got ${shapeStr(r.shape)}`);
    }
  }
  for (const [t, name] of [[w, 'W'], [r, 'R']] as const) {
    if (t.shape && typeof t.shape[0] === 'number' && t.shape[0] !== numDirections) {
      throw new TesseraError(`${name} has ${t.shape[0]} directions but direction '${directionOf(ctx.attrs)}' needs ${numDirections}`);
    }
  }
  const seq: Dim = x.shape ? x.shape[layout === 0 ? 0 : 1]! : ctx.freshDim();
  const batch: Dim = x.shape ? x.shape[layout === 0 ? 1 : 0]! : ctx.freshDim();
  const y = layout === 0 ? [seq, numDirections, batch, hidden] : [batch, seq, numDirections, hidden];
  const state = layout === 0 ? [numDirections, batch, hidden] : [batch, numDirections, hidden];
  const out: ValueType[] = [tensorType(x.dtype, y), tensorType(x.dtype, state)];
  if (info.outputs === 3) out.push(tensorType(x.dtype, [...state]));
  return out;
}

// ---------- execution ----------

interface Problem {
  kind: Kind;
  dtype: DType;
  layout: number;
  seq: number; batch: number; inputSize: number; hidden: number; numDirections: number;
  reverseOnly: boolean;
  lens: Int32Array;
  acts: Activation[][];
  clip: number; // Infinity when absent
  linearBeforeReset: boolean;
  inputForget: boolean;
}

function isRequested(ctx: RunContext, i: number): boolean {
  const v = ctx.node.outputs[i];
  return !!v && v.name !== '';
}

function runRecurrent(kind: Kind, ctx: RunContext): (Tensor | undefined)[] {
  const info = KINDS[kind];
  const G = info.gates;
  const X = ctx.tensor(0), W = ctx.tensor(1), R = ctx.tensor(2);
  if (!RNN_DTYPES.includes(X.dtype)) throw new TesseraError(`${kind} does not accept ${X.dtype} (expected f16, f32 or f64)`);
  const B = ctx.optTensor(3), seqLens = ctx.optTensor(4), initH = ctx.optTensor(5);
  const initC = kind === 'LSTM' ? ctx.optTensor(6) : undefined;
  const P = kind === 'LSTM' ? ctx.optTensor(7) : undefined;
  for (const [t, name] of [[W, 'W'], [R, 'R'], [B, 'B'], [initH, 'initial_h'], [initC, 'initial_c'], [P, 'P']] as const) {
    if (t && t.dtype !== X.dtype) throw new TesseraError(`${name} has type ${t.dtype} but X has type ${X.dtype}`);
  }

  const direction = directionOf(ctx.attrs);
  const numDirections = parseDirection(direction);
  const layout = ctx.opset >= 14 ? ctx.attrs.int('layout', 0) : 0;
  if (layout !== 0 && layout !== 1) throw new TesseraError(`layout must be 0 or 1, got ${layout}`);
  if (X.rank !== 3) throw new TesseraError(`X must have rank 3, got shape ${shapeStr(X.shape)}`);
  const seq = X.shape[layout === 0 ? 0 : 1]!, batch = X.shape[layout === 0 ? 1 : 0]!, inputSize = X.shape[2]!;
  if (R.rank !== 3) throw new TesseraError(`R must have rank 3, got shape ${shapeStr(R.shape)}`);
  const hidden = ctx.attrs.has('hidden_size') ? ctx.attrs.int('hidden_size') : R.shape[2]!;
  if (!(hidden > 0)) throw new TesseraError(`hidden_size must be positive, got ${hidden}`);
  expectShape('W', W.shape, [numDirections, G * hidden, inputSize]);
  expectShape('R', R.shape, [numDirections, G * hidden, hidden]);
  if (B) expectShape('B', B.shape, [numDirections, 2 * G * hidden]);
  const stateShape = layout === 0 ? [numDirections, batch, hidden] : [batch, numDirections, hidden];
  if (initH) expectShape('initial_h', initH.shape, stateShape);
  if (initC) expectShape('initial_c', initC.shape, stateShape);
  if (P) expectShape('P', P.shape, [numDirections, 3 * hidden]);

  const lens = new Int32Array(batch).fill(seq);
  if (seqLens) {
    if (seqLens.dtype !== 'i32') throw new TesseraError(`sequence_lens must be i32, got ${seqLens.dtype}`);
    expectShape('sequence_lens', seqLens.shape, [batch]);
    for (let b = 0; b < batch; b++) {
      const n = seqLens.num(b);
      if (n < 0 || n > seq) throw new TesseraError(`sequence_lens value ${n} at batch ${b} is out of range [0, ${seq}]`);
      lens[b] = n;
    }
  }

  const prob: Problem = {
    kind, dtype: X.dtype, layout, seq, batch, inputSize, hidden, numDirections,
    reverseOnly: direction === 'reverse', lens,
    acts: resolveActivations(kind, numDirections, ctx.attrs.strings('activations'),
      ctx.attrs.floats('activation_alpha'), ctx.attrs.floats('activation_beta')),
    clip: ctx.attrs.has('clip') ? ctx.attrs.float('clip') : Infinity,
    linearBeforeReset: kind === 'GRU' && ctx.attrs.int('linear_before_reset', 0) !== 0,
    inputForget: kind === 'LSTM' && ctx.attrs.int('input_forget', 0) !== 0,
  };
  if (!(prob.clip >= 0)) throw new TesseraError(`clip must be a non-negative threshold, got ${prob.clip}`);

  const yShape = layout === 0 ? [seq, numDirections, batch, hidden] : [batch, seq, numDirections, hidden];
  const wantY = isRequested(ctx, 0);
  const y = wantY ? allocData(X.dtype, checkShape(yShape, 'Y')) as Float32Array | Float64Array : undefined;
  const stateSize = checkShape(stateShape, 'Y_h');
  const yh = allocData(X.dtype, stateSize) as Float32Array | Float64Array;
  const yc = kind === 'LSTM' ? allocData(X.dtype, stateSize) as Float32Array | Float64Array : undefined;

  const x64 = toF64(X), w = floatData(W), r = floatData(R);
  const b64 = B ? toF64(B) : undefined, p64 = P ? toF64(P) : undefined;
  const h0 = initH ? toF64(initH) : undefined, c0 = initC ? toF64(initC) : undefined;
  for (let d = 0; d < numDirections; d++) {
    runDirection(prob, d, x64, w, r, b64, p64, h0, c0, y, yh, yc);
  }
  return [
    y ? new Tensor(X.dtype, yShape, y) : undefined,
    new Tensor(X.dtype, stateShape, yh),
    ...(yc ? [new Tensor(X.dtype, [...stateShape], yc)] : []),
  ];
}

/** Runs one direction over all batches, writing its slices of Y, Y_h (and Y_c). */
function runDirection(p: Problem, d: number, x: Float64Array, w: FloatArray, r: FloatArray,
  bias: Float64Array | undefined, peep: Float64Array | undefined,
  h0: Float64Array | undefined, c0: Float64Array | undefined,
  y: Float32Array | Float64Array | undefined, yh: Float32Array | Float64Array, yc: Float32Array | Float64Array | undefined): void {
  const { kind, seq, batch, inputSize, hidden: H, numDirections: D, layout, lens, clip } = p;
  const G = KINDS[kind].gates, GH = G * H;
  const reverse = p.reverseOnly || d === 1;
  const acts = p.acts[d]!;
  const hasClip = clip !== Infinity;
  const roundState = p.dtype === 'f16' ? roundF16 : undefined;

  // Bias folded into the input projection: Wb + Rb for every gate, except GRU's hidden gate under
  // linear_before_reset, where Rbh must stay inside r ⊙ (H·Rhᵀ + Rbh).
  const foldedBias = new Float64Array(GH);
  const rbh = new Float64Array(H);
  if (bias) {
    const bo = d * 2 * GH;
    for (let n = 0; n < GH; n++) foldedBias[n] = bias[bo + n]! + bias[bo + GH + n]!;
    if (p.linearBeforeReset) {
      for (let j = 0; j < H; j++) { rbh[j] = bias[bo + GH + 2 * H + j]!; foldedBias[2 * H + j] = bias[bo + 2 * H + j]!; }
    }
  }

  // Input projection for every (t, b) row in X's own row order.
  const rows = seq * batch;
  const xw = new Float64Array(rows * GH);
  const wOff = d * GH * inputSize;
  for (let m = 0; m < rows; m++) {
    const o = m * GH;
    xw.set(foldedBias, o);
    accumulateMatVec(xw, o, w, wOff, GH, inputSize, x, m * inputSize);
  }
  const rowOf = layout === 0 ? (t: number, b: number) => t * batch + b : (t: number, b: number) => b * seq + t;
  const stateOff = layout === 0 ? (b: number) => (d * batch + b) * H : (b: number) => (b * D + d) * H;
  const yOff = layout === 0 ? (t: number, b: number) => ((t * D + d) * batch + b) * H : (t: number, b: number) => ((b * seq + t) * D + d) * H;

  const h = new Float64Array(batch * H);
  const c = new Float64Array(batch * H);
  for (let b = 0; b < batch; b++) {
    if (h0) h.set(h0.subarray(stateOff(b), stateOff(b) + H), b * H);
    if (c0) c.set(c0.subarray(stateOff(b), stateOff(b) + H), b * H);
  }
  const gates = new Float64Array(GH);
  const tmp = new Float64Array(H);
  const rOff = d * GH * H;
  const pOff = d * 3 * H;

  for (let s = 0; s < seq; s++) {
    for (let b = 0; b < batch; b++) {
      const len = lens[b]!;
      if (s >= len) continue;
      const t = reverse ? len - 1 - s : s;
      const hb = b * H;
      const xo = rowOf(t, b) * GH;
      if (kind === 'RNN') {
        gates.set(xw.subarray(xo, xo + GH));
        accumulateMatVec(gates, 0, r, rOff, H, H, h, hb);
        if (hasClip) clipRange(gates, 0, H, clip);
        activate(acts[0]!, gates, 0, H);
        h.set(gates, hb);
      } else if (kind === 'GRU') {
        // Gate blocks: z [0,H), r [H,2H), h̃ [2H,3H).
        gates.set(xw.subarray(xo, xo + GH));
        accumulateMatVec(gates, 0, r, rOff, 2 * H, H, h, hb);
        if (hasClip) clipRange(gates, 0, 2 * H, clip);
        activate(acts[0]!, gates, 0, 2 * H);
        if (p.linearBeforeReset) {
          tmp.set(rbh);
          accumulateMatVec(tmp, 0, r, rOff + 2 * H * H, H, H, h, hb);
          for (let j = 0; j < H; j++) gates[2 * H + j] += gates[H + j]! * tmp[j]!;
        } else {
          for (let j = 0; j < H; j++) tmp[j] = gates[H + j]! * h[hb + j]!;
          accumulateMatVec(gates, 2 * H, r, rOff + 2 * H * H, H, H, tmp, 0);
        }
        if (hasClip) clipRange(gates, 2 * H, H, clip);
        activate(acts[1]!, gates, 2 * H, H);
        for (let j = 0; j < H; j++) {
          const z = gates[j]!;
          h[hb + j] = (1 - z) * gates[2 * H + j]! + z * h[hb + j]!;
        }
      } else {
        // Gate blocks: i [0,H), o [H,2H), f [2H,3H), c̃ [3H,4H); peepholes P: i, o, f.
        gates.set(xw.subarray(xo, xo + GH));
        accumulateMatVec(gates, 0, r, rOff, GH, H, h, hb);
        if (peep) {
          for (let j = 0; j < H; j++) {
            const cp = c[hb + j]!;
            gates[j] += peep[pOff + j]! * cp;
            gates[2 * H + j] += peep[pOff + 2 * H + j]! * cp;
          }
        }
        if (hasClip) { clipRange(gates, 0, H, clip); clipRange(gates, 2 * H, 2 * H, clip); }
        activate(acts[0]!, gates, 0, H);
        if (p.inputForget) for (let j = 0; j < H; j++) gates[2 * H + j] = 1 - gates[j]!;
        else activate(acts[0]!, gates, 2 * H, H);
        activate(acts[1]!, gates, 3 * H, H);
        for (let j = 0; j < H; j++) {
          let cn = gates[2 * H + j]! * c[hb + j]! + gates[j]! * gates[3 * H + j]!;
          if (roundState) cn = roundState(cn);
          c[hb + j] = cn;
          tmp[j] = cn;
          if (peep) gates[H + j] += peep[pOff + H + j]! * cn;
        }
        if (hasClip) clipRange(gates, H, H, clip);
        activate(acts[0]!, gates, H, H);
        activate(acts[2]!, tmp, 0, H);
        for (let j = 0; j < H; j++) h[hb + j] = gates[H + j]! * tmp[j]!;
      }
      if (roundState) for (let j = hb; j < hb + H; j++) h[j] = roundState(h[j]!);
      if (y) y.set(h.subarray(hb, hb + H), yOff(t, b));
    }
  }
  // A zero-length sequence has no last step: its final states are zeros (as onnxruntime defines it),
  // not the initial state passed through.
  for (let b = 0; b < batch; b++) {
    if (lens[b] === 0) continue;
    yh.set(h.subarray(b * H, b * H + H), stateOff(b));
    if (yc) yc.set(c.subarray(b * H, b * H + H), stateOff(b));
  }
}

// ---------- schemas ----------

const COMMON_ATTRS: Record<string, AttrSpec> = {
  activation_alpha: { kind: 'floats' },
  activation_beta: { kind: 'floats' },
  activations: { kind: 'strings' },
  clip: { kind: 'float' },
  direction: { kind: 'string', default: 'forward' },
  hidden_size: { kind: 'int' },
};

/** Versions where the signature changed, with the attributes each accepts beyond the common ones. */
const VERSIONS: Record<Kind, { since: number; extra: Record<string, AttrSpec> }[]> = {
  RNN: [
    { since: 1, extra: { output_sequence: { kind: 'int', default: 0 } } },
    { since: 7, extra: {} },
    { since: 14, extra: { layout: { kind: 'int', default: 0 } } },
  ],
  GRU: [
    { since: 1, extra: { output_sequence: { kind: 'int', default: 0 } } },
    { since: 3, extra: { output_sequence: { kind: 'int', default: 0 }, linear_before_reset: { kind: 'int', default: 0 } } },
    { since: 7, extra: { linear_before_reset: { kind: 'int', default: 0 } } },
    { since: 14, extra: { linear_before_reset: { kind: 'int', default: 0 }, layout: { kind: 'int', default: 0 } } },
  ],
  LSTM: [
    { since: 1, extra: { output_sequence: { kind: 'int', default: 0 }, input_forget: { kind: 'int', default: 0 } } },
    { since: 7, extra: { input_forget: { kind: 'int', default: 0 } } },
    { since: 14, extra: { input_forget: { kind: 'int', default: 0 }, layout: { kind: 'int', default: 0 } } },
  ],
};

function schemasFor(kind: Kind): OpSchema[] {
  const info = KINDS[kind];
  return VERSIONS[kind].map(({ since, extra }) => ({
    name: kind, since,
    inputs: [3, info.inputs] as [number, number],
    outputs: [0, info.outputs] as [number, number],
    attrs: { ...COMMON_ATTRS, ...extra },
    infer: (ctx: InferContext) => inferRecurrent(kind, ctx),
    run: (ctx: RunContext) => runRecurrent(kind, ctx),
  }));
}

registerOps([...schemasFor('RNN'), ...schemasFor('GRU'), ...schemasFor('LSTM')]);
