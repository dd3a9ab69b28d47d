// Signal processing (DFT, STFT, window functions, MelWeightMatrix), text featurizers (TfIdfVectorizer,
// StringNormalizer), random generators, and the ai.onnx.preview.training optimizers.
import {
  allocData, dtypeFromOnnx, FLOAT_DTYPES, isBigInt, isFloat, roundFloatsInPlace,
  type DType, type TensorData,
} from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import type { Node } from '../graph.ts';
import { registerOps, type AttrView, type InferContext, type OpSchema, type RunContext } from '../registry.ts';
import { checkShape, sizeOf, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type TensorType } from '../types.ts';
import { broadcastDims, broadcastIndexMap, broadcastShapes } from './util.ts';

const TRAINING = 'ai.onnx.preview.training';

// Output types accepted by window functions and MelWeightMatrix (numeric, no bool).
const NUMERIC_OUT: readonly DType[] = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f16', 'f32', 'f64', 'bf16'];
const INDEX_DTYPES: readonly DType[] = ['i32', 'i64'];

// ---------- small shared helpers ----------

function expectDtype(t: TensorType, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(t.dtype)) throw new TesseraError(`${what} has type ${t.dtype}, expected one of ${allowed.join(', ')}`);
}

/** A dtype given as an ONNX TensorProto code in an attribute; `fallback` when the attribute is absent. */
function dtypeAttr(attrs: AttrView, name: string, allowed: readonly DType[], fallback: DType | undefined): DType {
  if (!attrs.has(name)) {
    if (fallback === undefined) throw new TesseraError(`attribute '${name}' is missing`);
    return fallback;
  }
  const d = dtypeFromOnnx(attrs.int(name));
  if (typeof d !== 'string') throw new TesseraError(`attribute '${name}' names ${d.unsupported}, which is not supported`);
  if (!allowed.includes(d)) throw new TesseraError(`attribute '${name}' is ${d}, expected one of ${allowed.join(', ')}`);
  return d;
}

/** The single value of a scalar (or one-element) tensor, as a JS number. */
function scalarValue(t: Tensor, what: string): number {
  if (t.size !== 1) throw new TesseraError(`${what} must be a scalar, got shape [${t.shape.join(',')}]`);
  return t.num(0);
}

/** A non-negative integer scalar read from a tensor (sizes, lengths, counts). */
function sizeValue(t: Tensor, what: string, min = 0): number {
  const v = scalarValue(t, what);
  if (!Number.isInteger(v) || v < min) throw new TesseraError(`${what} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/** The constant value of a scalar size input at inference time, when known and valid. */
function constSize(ctx: InferContext, i: number): number | undefined {
  const c = ctx.constant(i);
  if (!c || c.size !== 1) return undefined;
  const v = c.num(0);
  return Number.isInteger(v) && v >= 0 ? v : undefined;
}

/** Stores computed values into a tensor of any numeric (or bool) dtype: ints truncate and wrap like C casts. */
function storeNumbers(dtype: DType, values: Float64Array): TensorData {
  const n = values.length;
  const data = allocData(dtype, n);
  if (isBigInt(dtype)) {
    const out = data as BigInt64Array | BigUint64Array;
    const unsigned = dtype === 'u64';
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      const b = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
      out[i] = unsigned ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b);
    }
  } else if (dtype === 'bool') {
    const out = data as Uint8Array;
    for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
  } else {
    // Typed-array stores truncate toward zero and wrap integers modulo their width (C semantics).
    (data as Float64Array).set(values);
    roundFloatsInPlace(dtype, data);
  }
  return data;
}

// ---------- FFT ----------

/**
 * A complex DFT of one length, planned once and applied to many lines, in float64.
 * Powers of two use iterative radix-2; other lengths use a direct O(n²) sum when small and
 * Bluestein's chirp-z algorithm (a power-of-two convolution) when large.
 */
class DftPlan {
  private readonly cosT: Float64Array;
  private readonly sinT: Float64Array;
  private readonly rev: Uint32Array | undefined;
  private readonly scratchRe: Float64Array | undefined;
  private readonly scratchIm: Float64Array | undefined;
  private readonly blue: {
    m: number; inner: DftPlan; chirpRe: Float64Array; chirpIm: Float64Array;
    kernRe: Float64Array; kernIm: Float64Array; re: Float64Array; im: Float64Array;
  } | undefined;

  /** `sign` is -1 for the forward transform, +1 for the (unscaled) inverse. */
  constructor(readonly n: number, private readonly sign: number) {
    const pow2 = n > 0 && (n & (n - 1)) === 0;
    const tableLen = pow2 ? Math.max(1, n >> 1) : n <= 64 ? n : 0;
    this.cosT = new Float64Array(tableLen);
    this.sinT = new Float64Array(tableLen);
    for (let k = 0; k < tableLen; k++) {
      this.cosT[k] = Math.cos((2 * Math.PI * k) / n);
      this.sinT[k] = sign * Math.sin((2 * Math.PI * k) / n);
    }
    if (pow2) {
      const rev = new Uint32Array(n);
      const bits = Math.log2(n) | 0;
      for (let i = 0; i < n; i++) {
        let r = 0;
        for (let b = 0, x = i; b < bits; b++, x >>= 1) r = (r << 1) | (x & 1);
        rev[i] = r;
      }
      this.rev = rev;
    } else if (n <= 64) {
      this.scratchRe = new Float64Array(n);
      this.scratchIm = new Float64Array(n);
    } else {
      let m = 1;
      while (m < 2 * n - 1) m *= 2;
      const inner = new DftPlan(m, -1);
      const chirpRe = new Float64Array(n), chirpIm = new Float64Array(n);
      // k² mod 2n keeps the chirp angle small (exact) for long signals.
      for (let k = 0, kk = 0; k < n; k++) {
        const ang = (Math.PI * kk) / n;
        chirpRe[k] = Math.cos(ang);
        chirpIm[k] = sign * Math.sin(ang);
        kk = (kk + 2 * k + 1) % (2 * n);
      }
      const kernRe = new Float64Array(m), kernIm = new Float64Array(m);
      kernRe[0] = chirpRe[0]!; kernIm[0] = -chirpIm[0]!;
      for (let k = 1; k < n; k++) {
        kernRe[k] = kernRe[m - k] = chirpRe[k]!;
        kernIm[k] = kernIm[m - k] = -chirpIm[k]!;
      }
      inner.transform(kernRe, kernIm);
      this.blue = { m, inner, chirpRe, chirpIm, kernRe, kernIm, re: new Float64Array(m), im: new Float64Array(m) };
    }
  }

  /** Transforms re/im (length n) in place. */
  transform(re: Float64Array, im: Float64Array): void {
    const n = this.n;
    if (n <= 1) return;
    if (this.rev) this.radix2(re, im);
    else if (this.blue) this.bluestein(re, im);
    else this.direct(re, im);
  }

  private radix2(re: Float64Array, im: Float64Array): void {
    const n = this.n, rev = this.rev!, cosT = this.cosT, sinT = this.sinT;
    for (let i = 0; i < n; i++) {
      const j = rev[i]!;
      if (j > i) {
        let t = re[i]!; re[i] = re[j]!; re[j] = t;
        t = im[i]!; im[i] = im[j]!; im[j] = t;
      }
    }
    for (let size = 2; size <= n; size <<= 1) {
      const half = size >> 1, step = n / size;
      for (let start = 0; start < n; start += size) {
        for (let j = 0, k = 0; j < half; j++, k += step) {
          const wr = cosT[k]!, wi = sinT[k]!;
          const a = start + j, b = a + half;
          const tr = re[b]! * wr - im[b]! * wi;
          const ti = re[b]! * wi + im[b]! * wr;
          re[b] = re[a]! - tr; im[b] = im[a]! - ti;
          re[a] = re[a]! + tr; im[a] = im[a]! + ti;
        }
      }
    }
  }

  private direct(re: Float64Array, im: Float64Array): void {
    const n = this.n, cosT = this.cosT, sinT = this.sinT;
    const outRe = this.scratchRe!, outIm = this.scratchIm!;
    for (let k = 0; k < n; k++) {
      let sr = 0, si = 0;
      for (let j = 0, idx = 0; j < n; j++) {
        const c = cosT[idx]!, s = sinT[idx]!;
        sr += re[j]! * c - im[j]! * s;
        si += re[j]! * s + im[j]! * c;
        idx += k;
        if (idx >= n) idx -= n;
      }
      outRe[k] = sr; outIm[k] = si;
    }
    re.set(outRe); im.set(outIm);
  }

  private bluestein(re: Float64Array, im: Float64Array): void {
    const n = this.n, b = this.blue!, m = b.m;
    const ar = b.re, ai = b.im;
    ar.fill(0); ai.fill(0);
    for (let k = 0; k < n; k++) {
      const cr = b.chirpRe[k]!, ci = b.chirpIm[k]!;
      ar[k] = re[k]! * cr - im[k]! * ci;
      ai[k] = re[k]! * ci + im[k]! * cr;
    }
    b.inner.transform(ar, ai);
    for (let k = 0; k < m; k++) {
      const kr = b.kernRe[k]!, ki = b.kernIm[k]!;
      const xr = ar[k]! * kr - ai[k]! * ki;
      const xi = ar[k]! * ki + ai[k]! * kr;
      // Inverse transform via conjugation: ifft(x) = conj(fft(conj(x))) / m.
      ar[k] = xr; ai[k] = -xi;
    }
    b.inner.transform(ar, ai);
    for (let k = 0; k < n; k++) {
      const cr = ar[k]! / m, ci = -ai[k]! / m;
      const wr = b.chirpRe[k]!, wi = b.chirpIm[k]!;
      re[k] = cr * wr - ci * wi;
      im[k] = cr * wi + ci * wr;
    }
  }
}

/** Float storage for an output of n elements (f16/bf16 live in Float32Array, rounded afterwards). */
function outputFloats(dtype: DType, n: number): Float32Array | Float64Array {
  return dtype === 'f64' ? new Float64Array(n) : new Float32Array(n);
}

/**
 * Transforms every line along `axis` of a [outer, len, inner, comps] layout (comps 1: real, 2: complex),
 * zero-padding or truncating each line to `n` points, keeping the first `keep` outputs of each line.
 * Output layout: [outer, keep, inner, 2].
 */
function dftLines(
  x: ArrayLike<number>, outer: number, len: number, inner: number, comps: number,
  n: number, keep: number, inverse: boolean, out: Float32Array | Float64Array,
  weights?: ArrayLike<number>,
): void {
  const plan = new DftPlan(n, inverse ? 1 : -1);
  const re = new Float64Array(n), im = new Float64Array(n);
  const take = Math.min(n, len);
  const scale = inverse ? 1 / n : 1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      re.fill(0); im.fill(0);
      for (let j = 0; j < take; j++) {
        const src = ((o * len + j) * inner + i) * comps;
        const w = weights ? weights[j]! : 1;
        re[j] = x[src]! * w;
        if (comps === 2) im[j] = x[src + 1]! * w;
      }
      plan.transform(re, im);
      for (let k = 0; k < keep; k++) {
        const dst = ((o * keep + k) * inner + i) * 2;
        out[dst] = re[k]! * scale;
        out[dst + 1] = im[k]! * scale;
      }
    }
  }
}

// ---------- DFT / STFT ----------

/** DFT-17's axis: signal axes exclude the trailing real/imaginary dimension; negative counts from the back. */
function dftAxis(axis: number, rank: number): number {
  if (rank < 2) throw new TesseraError(`input must have rank ≥ 2 (signal dims plus a trailing 1 or 2), got rank ${rank}`);
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a > rank - 2) {
    throw new TesseraError(`axis ${axis} is out of range for rank ${rank} (the last dimension holds real/imaginary parts)`);
  }
  return a;
}

function checkComplexDim(d: Dim | undefined): void {
  if (typeof d === 'number' && d !== 1 && d !== 2) {
    throw new TesseraError(`the last dimension must be 1 (real) or 2 (complex), got ${d}`);
  }
}

const dft17: OpSchema = {
  name: 'DFT', since: 17, inputs: [1, 2], outputs: [1, 1],
  attrs: { axis: { kind: 'int', default: 1 }, inverse: { kind: 'int', default: 0 }, onesided: { kind: 'int', default: 0 } },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    expectDtype(x, FLOAT_DTYPES, 'input');
    if (ctx.inputType(1)) expectDtype(ctx.tensorInput(1), INDEX_DTYPES, 'dft_length');
    if (!x.shape) return [tensorType(x.dtype, undefined)];
    const rank = x.shape.length;
    const axis = dftAxis(ctx.attrs.int('axis'), rank);
    checkComplexDim(x.shape[rank - 1]);
    let n: Dim = x.shape[axis]!;
    if (ctx.inputType(1)) {
      const c = constSize(ctx, 1);
      n = c !== undefined ? c : ctx.freshDim();
    }
    const keep: Dim = ctx.attrs.int('onesided') ? (typeof n === 'number' ? Math.floor(n / 2) + 1 : ctx.freshDim()) : n;
    const shape = [...x.shape];
    shape[axis] = keep;
    shape[rank - 1] = 2;
    return [tensorType(x.dtype, shape)];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    if (!isFloat(x.dtype)) throw new TesseraError(`input has type ${x.dtype}, expected a float type`);
    const rank = x.rank;
    const axis = dftAxis(ctx.attrs.int('axis'), rank);
    const comps = x.shape[rank - 1]!;
    checkComplexDim(comps);
    const len = x.shape[axis]!;
    const lenT = ctx.optTensor(1);
    const n = lenT ? sizeValue(lenT, 'dft_length', 1) : len;
    if (n === 0) throw new TesseraError(`cannot transform an empty axis ${axis}`);
    const keep = ctx.attrs.int('onesided') ? Math.floor(n / 2) + 1 : n;
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1, rank - 1));
    const shape = [...x.shape];
    shape[axis] = keep;
    shape[rank - 1] = 2;
    const out = outputFloats(x.dtype, checkShape(shape, 'output'));
    if (outer * inner > 0) {
      dftLines(x.data as Float32Array, outer, len, inner, comps, n, keep, ctx.attrs.int('inverse') !== 0, out);
    }
    roundFloatsInPlace(x.dtype, out);
    return [new Tensor(x.dtype, shape, out)];
  },
};

interface StftGeometry { frameLength: number; frames: number; bins: number }

function stftGeometry(signalLength: number, step: number, frameLength: number, onesided: boolean): StftGeometry {
  if (frameLength < 1) throw new TesseraError(`frame_length must be ≥ 1, got ${frameLength}`);
  if (signalLength < frameLength) {
    throw new TesseraError(`signal length ${signalLength} is shorter than the frame length ${frameLength}`);
  }
  const frames = 1 + Math.floor((signalLength - frameLength) / step);
  return { frameLength, frames, bins: onesided ? Math.floor(frameLength / 2) + 1 : frameLength };
}

const stft17: OpSchema = {
  name: 'STFT', since: 17, inputs: [2, 4], outputs: [1, 1],
  attrs: { onesided: { kind: 'int', default: 1 } },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    expectDtype(x, FLOAT_DTYPES, 'signal');
    expectDtype(ctx.tensorInput(1), INDEX_DTYPES, 'frame_step');
    const w = ctx.inputType(2) ? ctx.tensorInput(2) : undefined;
    if (w) {
      expectDtype(w, FLOAT_DTYPES, 'window');
      if (w.dtype !== x.dtype) throw new TesseraError(`window has type ${w.dtype} but the signal is ${x.dtype}`);
      if (w.shape && w.shape.length !== 1) throw new TesseraError(`window must have rank 1, got rank ${w.shape.length}`);
    }
    if (ctx.inputType(3)) expectDtype(ctx.tensorInput(3), INDEX_DTYPES, 'frame_length');
    if (x.shape && x.shape.length !== 3) {
      throw new TesseraError(`signal must have shape [batch, length, 1 or 2], got rank ${x.shape.length}`);
    }
    if (x.shape) checkComplexDim(x.shape[2]);
    const onesided = ctx.attrs.int('onesided') !== 0;
    const signalLength = x.shape?.[1];
    let frameLength: Dim | undefined;
    if (ctx.inputType(3)) frameLength = constSize(ctx, 3);
    else if (w?.shape) frameLength = w.shape[0];
    else if (!w) frameLength = signalLength;
    const step = constSize(ctx, 1);
    let frames: Dim = ctx.freshDim();
    let bins: Dim = ctx.freshDim();
    if (typeof frameLength === 'number') {
      bins = onesided ? Math.floor(frameLength / 2) + 1 : frameLength;
      if (typeof signalLength === 'number' && step !== undefined && step > 0) {
        frames = stftGeometry(signalLength, step, frameLength, onesided).frames;
      }
    }
    return [tensorType(x.dtype, [x.shape?.[0] ?? ctx.freshDim(), frames, bins, 2])];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    if (x.rank !== 3) throw new TesseraError(`signal must have shape [batch, length, 1 or 2], got [${x.shape.join(',')}]`);
    if (!isFloat(x.dtype)) throw new TesseraError(`signal has type ${x.dtype}, expected a float type`);
    const [batch, signalLength, comps] = x.shape as [number, number, number];
    checkComplexDim(comps);
    const step = sizeValue(ctx.tensor(1), 'frame_step', 1);
    const window = ctx.optTensor(2);
    const lenT = ctx.optTensor(3);
    if (window && window.rank !== 1) throw new TesseraError(`window must have rank 1, got shape [${window.shape.join(',')}]`);
    const frameLength = lenT ? sizeValue(lenT, 'frame_length', 1) : window ? window.shape[0]! : signalLength;
    if (window && window.shape[0] !== frameLength) {
      throw new TesseraError(`window length ${window.shape[0]} differs from frame_length ${frameLength}`);
    }
    const g = stftGeometry(signalLength, step, frameLength, ctx.attrs.int('onesided') !== 0);
    const shape = [batch, g.frames, g.bins, 2];
    const out = outputFloats(x.dtype, checkShape(shape, 'output'));
    const data = x.data as Float32Array;
    const plan = new DftPlan(frameLength, -1);
    const re = new Float64Array(frameLength), im = new Float64Array(frameLength);
    const w = window?.data as Float32Array | undefined;
    for (let b = 0; b < batch; b++) {
      for (let f = 0; f < g.frames; f++) {
        const base = (b * signalLength + f * step) * comps;
        for (let j = 0; j < frameLength; j++) {
          const wj = w ? w[j]! : 1;
          re[j] = data[base + j * comps]! * wj;
          im[j] = comps === 2 ? data[base + j * comps + 1]! * wj : 0;
        }
        plan.transform(re, im);
        const dst = (b * g.frames + f) * g.bins * 2;
        for (let k = 0; k < g.bins; k++) { out[dst + 2 * k] = re[k]!; out[dst + 2 * k + 1] = im[k]!; }
      }
    }
    roundFloatsInPlace(x.dtype, out);
    return [new Tensor(x.dtype, shape, out)];
  },
};

// ---------- window functions ----------

/** A generalized cosine window: a0 - a1·cos(2πn/N) + a2·cos(4πn/N), N = size (periodic) or size-1. */
function cosineWindow(name: string, a0: number, a1: number, a2: number): OpSchema {
  return {
    name, since: 17, inputs: [1, 1], outputs: [1, 1],
    attrs: { output_datatype: { kind: 'int', default: 1 }, periodic: { kind: 'int', default: 1 } },
    infer(ctx) {
      const size = ctx.tensorInput(0);
      expectDtype(size, INDEX_DTYPES, 'size');
      if (size.shape && sizeOfDims(size.shape) !== 1) throw new TesseraError(`size must be a scalar, got shape [${size.shape.join(',')}]`);
      const dtype = dtypeAttr(ctx.attrs, 'output_datatype', NUMERIC_OUT, 'f32');
      return [tensorType(dtype, [constSize(ctx, 0) ?? ctx.freshDim()])];
    },
    run(ctx) {
      const size = sizeValue(ctx.tensor(0), 'size');
      const dtype = dtypeAttr(ctx.attrs, 'output_datatype', NUMERIC_OUT, 'f32');
      checkShape([size], 'window');
      const N = ctx.attrs.int('periodic') ? size : size - 1;
      const values = new Float64Array(size);
      // A symmetric window of one point has N = 0; like numpy/torch it is [1] rather than 0/0.
      if (N === 0) values.fill(1);
      else {
        for (let i = 0; i < size; i++) {
          const t = (2 * Math.PI * i) / N;
          values[i] = a0 - a1 * Math.cos(t) + a2 * Math.cos(2 * t);
        }
      }
      return [new Tensor(dtype, [size], storeNumbers(dtype, values))];
    },
  };
}

function sizeOfDims(shape: Dim[]): number | undefined {
  let n = 1;
  for (const d of shape) { if (typeof d !== 'number') return undefined; n *= d; }
  return n;
}

// ---------- MelWeightMatrix ----------

const melWeightMatrix17: OpSchema = {
  name: 'MelWeightMatrix', since: 17, inputs: [5, 5], outputs: [1, 1],
  attrs: { output_datatype: { kind: 'int', default: 1 } },
  infer(ctx) {
    for (const [i, what] of [[0, 'num_mel_bins'], [1, 'dft_length'], [2, 'sample_rate']] as const) {
      expectDtype(ctx.tensorInput(i), INDEX_DTYPES, what);
    }
    expectDtype(ctx.tensorInput(3), FLOAT_DTYPES, 'lower_edge_hertz');
    expectDtype(ctx.tensorInput(4), FLOAT_DTYPES, 'upper_edge_hertz');
    const dtype = dtypeAttr(ctx.attrs, 'output_datatype', NUMERIC_OUT, 'f32');
    const mels = constSize(ctx, 0);
    const dftLength = constSize(ctx, 1);
    return [tensorType(dtype, [
      dftLength !== undefined ? Math.floor(dftLength / 2) + 1 : ctx.freshDim(),
      mels ?? ctx.freshDim(),
    ])];
  },
  run(ctx) {
    const mels = sizeValue(ctx.tensor(0), 'num_mel_bins', 1);
    const dftLength = sizeValue(ctx.tensor(1), 'dft_length', 1);
    const sampleRate = sizeValue(ctx.tensor(2), 'sample_rate', 1);
    const lower = scalarValue(ctx.tensor(3), 'lower_edge_hertz');
    const upper = scalarValue(ctx.tensor(4), 'upper_edge_hertz');
    const dtype = dtypeAttr(ctx.attrs, 'output_datatype', NUMERIC_OUT, 'f32');
    if (!(lower >= 0) || !(upper >= lower)) {
      throw new TesseraError(`edge frequencies must satisfy 0 ≤ lower_edge_hertz ≤ upper_edge_hertz, got ${lower} and ${upper}`);
    }
    const specBins = Math.floor(dftLength / 2) + 1;
    const shape = [specBins, mels];
    const values = new Float64Array(checkShape(shape, 'output'));
    // Band edges: mels+2 points evenly spaced on the mel scale, mapped back to DFT bin indices.
    const lowMel = 2595 * Math.log10(1 + lower / 700);
    const highMel = 2595 * Math.log10(1 + upper / 700);
    const melStep = (highMel - lowMel) / (mels + 2);
    const bins = new Array<number>(mels + 2);
    for (let i = 0; i < mels + 2; i++) {
      const hz = 700 * (10 ** ((i * melStep + lowMel) / 2595) - 1);
      bins[i] = Math.floor(((dftLength + 1) * hz) / sampleRate);
    }
    const last = bins[mels + 1]!;
    if (last >= specBins) {
      throw new TesseraError(`upper_edge_hertz ${upper} maps to DFT bin ${last}, beyond the last of ${specBins} bins (it must not exceed sample_rate/2)`);
    }
    for (let i = 0; i < mels; i++) {
      const left = bins[i]!, center = bins[i + 1]!, right = bins[i + 2]!;
      const up = center - left;
      if (up === 0) values[center * mels + i] = 1;
      else for (let j = left; j <= center; j++) values[j * mels + i] = (j - left) / up;
      const down = right - center;
      for (let j = center; j < right; j++) values[j * mels + i] = (right - j) / down;
    }
    return [new Tensor(dtype, shape, storeNumbers(dtype, values))];
  },
};

// ---------- TfIdfVectorizer ----------

type GramKey = number | string;
interface GramNode { id: number; children: Map<GramKey, GramNode> | undefined }

interface TfIdfModel {
  mode: 'TF' | 'IDF' | 'TFIDF';
  strings: boolean;
  minGram: number; maxGram: number; maxSkip: number;
  indexes: number[];
  outputSize: number;
  weights: number[] | undefined;
  root: GramNode;
}

// The trie is built once per node; the attribute objects it came from detect a node edited by a pass.
const tfidfCache = new WeakMap<Node, { from: unknown[]; model: TfIdfModel }>();

/** Validates the attributes and builds the n-gram trie (pool n-gram k gets id k+1; 0 marks a prefix). */
function tfidfModel(node: Node, attrs: AttrView): TfIdfModel {
  const from = [...node.attrs.values()];
  const cached = tfidfCache.get(node);
  if (cached && cached.from.length === from.length && cached.from.every((a, i) => a === from[i])) return cached.model;
  const mode = attrs.string('mode');
  if (mode !== 'TF' && mode !== 'IDF' && mode !== 'TFIDF') throw new TesseraError(`mode must be TF, IDF or TFIDF, got '${mode}'`);
  const minGram = attrs.int('min_gram_length'), maxGram = attrs.int('max_gram_length');
  const maxSkip = attrs.int('max_skip_count');
  if (minGram < 1 || maxGram < minGram) {
    throw new TesseraError(`gram lengths must satisfy 1 ≤ min_gram_length ≤ max_gram_length, got ${minGram} and ${maxGram}`);
  }
  if (maxSkip < 0) throw new TesseraError(`max_skip_count must be ≥ 0, got ${maxSkip}`);
  const counts = attrs.ints('ngram_counts') ?? [];
  const indexes = attrs.ints('ngram_indexes') ?? [];
  const ints = attrs.ints('pool_int64s');
  const strs = attrs.strings('pool_strings');
  if ((ints === undefined) === (strs === undefined)) throw new TesseraError('exactly one of pool_int64s and pool_strings must be set');
  const pool: GramKey[] = ints ?? strs!;
  if (indexes.length === 0) throw new TesseraError('ngram_indexes is empty');
  for (const ix of indexes) if (!Number.isInteger(ix) || ix < 0) throw new TesseraError(`ngram_indexes holds invalid index ${ix}`);
  const outputSize = Math.max(...indexes) + 1;
  const weights = attrs.floats('weights');
  if (weights && weights.length > 0 && weights.length < outputSize) {
    throw new TesseraError(`weights has ${weights.length} values but the output has ${outputSize} coordinates`);
  }
  const root: GramNode = { id: 0, children: new Map() };
  let gramId = 1;
  for (let level = 0; level < counts.length; level++) {
    const size = level + 1;
    const start = counts[level]!;
    const end = level + 1 < counts.length ? counts[level + 1]! : pool.length;
    if (start < 0 || end < start || end > pool.length) {
      throw new TesseraError(`ngram_counts [${counts.join(',')}] does not describe ranges of the pool of ${pool.length} items`);
    }
    if ((end - start) % size !== 0) {
      throw new TesseraError(`pool items ${start}..${end} cannot hold whole ${size}-grams`);
    }
    const grams = (end - start) / size;
    if (gramId - 1 + grams > indexes.length) {
      throw new TesseraError(`the pool holds more n-grams than ngram_indexes has entries (${indexes.length})`);
    }
    if (size < minGram || size > maxGram) { gramId += grams; continue; }
    for (let g = 0; g < grams; g++) {
      let m = root;
      for (let k = 0; k < size; k++) {
        const key = pool[start + g * size + k]!;
        const children = (m.children ??= new Map());
        let child = children.get(key);
        if (!child) { child = { id: 0, children: undefined }; children.set(key, child); }
        m = child;
      }
      m.id = gramId++;
    }
  }
  const model: TfIdfModel = {
    mode, strings: strs !== undefined, minGram, maxGram, maxSkip, indexes, outputSize,
    weights: weights && weights.length > 0 ? weights : undefined, root,
  };
  tfidfCache.set(node, { from, model });
  return model;
}

/** Counts the pool n-grams of one row into freq (indexed by output coordinate), as onnxruntime does. */
function countGrams(m: TfIdfModel, row: GramKey[], freq: Float64Array, base: number): void {
  const end = row.length;
  let startSize = m.minGram;
  for (let skip = 1; skip <= m.maxSkip + 1; skip++) {
    for (let s = 0; s < end; s++) {
      if (s + skip * (startSize - 1) >= end) break;
      let node = m.root;
      for (let size = 1, item = s; size <= m.maxGram && item < end; size++, item += skip) {
        const next = node.children?.get(row[item]!);
        if (!next) break;
        if (size >= startSize && next.id !== 0) freq[base + m.indexes[next.id - 1]!]!++;
        node = next;
        if (!node.children) break;
      }
    }
    // Unigrams do not depend on the skip distance: count them once.
    if (startSize === 1) {
      startSize = 2;
      if (startSize > m.maxGram) break;
    }
  }
}

const tfidf9: OpSchema = {
  name: 'TfIdfVectorizer', since: 9, inputs: [1, 1], outputs: [1, 1],
  attrs: {
    max_gram_length: { kind: 'int', required: true }, max_skip_count: { kind: 'int', required: true },
    min_gram_length: { kind: 'int', required: true }, mode: { kind: 'string', required: true },
    ngram_counts: { kind: 'ints', required: true }, ngram_indexes: { kind: 'ints', required: true },
    pool_int64s: { kind: 'ints' }, pool_strings: { kind: 'strings' }, weights: { kind: 'floats' },
  },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    const m = tfidfModel(ctx.node, ctx.attrs);
    checkTfIdfInput(m, x.dtype);
    if (!x.shape) return [tensorType('f32', undefined)];
    if (x.shape.length === 1) return [tensorType('f32', [m.outputSize])];
    if (x.shape.length === 2) return [tensorType('f32', [x.shape[0]!, m.outputSize])];
    throw new TesseraError(`input must have shape [C] or [N, C], got rank ${x.shape.length}`);
  },
  run(ctx) {
    const x = ctx.tensor(0);
    const m = tfidfModel(ctx.node, ctx.attrs);
    checkTfIdfInput(m, x.dtype);
    if (x.rank !== 1 && x.rank !== 2) throw new TesseraError(`input must have shape [C] or [N, C], got [${x.shape.join(',')}]`);
    const rows = x.rank === 2 ? x.shape[0]! : 1;
    const cols = x.shape[x.rank - 1]!;
    const outShape = x.rank === 2 ? [rows, m.outputSize] : [m.outputSize];
    const freq = new Float64Array(checkShape(outShape, 'output'));
    const row = new Array<GramKey>(cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = x.data[r * cols + c]!;
        row[c] = typeof v === 'bigint' ? Number(v) : v as GramKey;
      }
      countGrams(m, row, freq, r * m.outputSize);
    }
    const out = new Float32Array(freq.length);
    const w = m.weights;
    for (let i = 0; i < freq.length; i++) {
      const f = freq[i]!;
      // Weights apply per output coordinate, as onnxruntime and the ONNX reference implement them.
      const wi = w ? w[i % m.outputSize]! : 1;
      out[i] = m.mode === 'TF' ? f : m.mode === 'IDF' ? (f > 0 ? wi : 0) : f * wi;
    }
    return [new Tensor('f32', outShape, out)];
  },
};

function checkTfIdfInput(m: TfIdfModel, dtype: DType): void {
  if (m.strings ? dtype !== 'string' : dtype !== 'i32' && dtype !== 'i64') {
    throw new TesseraError(`input has type ${dtype}, but pool_${m.strings ? 'strings needs string' : 'int64s needs i32 or i64'} input`);
  }
}

// ---------- StringNormalizer ----------

/**
 * Per-code-point case mapping (like C's towupper/towlower in en_US): characters whose full Unicode
 * mapping expands to several characters (ß → SS) are left unchanged.
 */
function changeCase(s: string, upper: boolean): string {
  if (/^[\x00-\x7f]*$/.test(s)) return upper ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

const stringNormalizer10: OpSchema = {
  name: 'StringNormalizer', since: 10, inputs: [1, 1], outputs: [1, 1],
  attrs: {
    case_change_action: { kind: 'string', default: 'NONE' }, is_case_sensitive: { kind: 'int', default: 0 },
    locale: { kind: 'string' }, stopwords: { kind: 'strings' },
  },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    if (x.dtype !== 'string') throw new TesseraError(`input has type ${x.dtype}, expected string`);
    caseAction(ctx.attrs);
    if (!x.shape) return [tensorType('string', undefined)];
    if (x.shape.length === 1) return [tensorType('string', [ctx.freshDim()])];
    if (x.shape.length === 2 && (x.shape[0] === 1 || typeof x.shape[0] !== 'number')) {
      return [tensorType('string', [1, ctx.freshDim()])];
    }
    throw new TesseraError(`input must have shape [C] or [1, C], got [${x.shape.join(',')}]`);
  },
  run(ctx) {
    const x = ctx.tensor(0);
    if (x.dtype !== 'string') throw new TesseraError(`input has type ${x.dtype}, expected string`);
    if (!(x.rank === 1 || (x.rank === 2 && x.shape[0] === 1))) {
      throw new TesseraError(`input must have shape [C] or [1, C], got [${x.shape.join(',')}]`);
    }
    const action = caseAction(ctx.attrs);
    const sensitive = ctx.attrs.int('is_case_sensitive') !== 0;
    const stops = ctx.attrs.strings('stopwords') ?? [];
    const stopSet = new Set(sensitive ? stops : stops.map((s) => changeCase(s, false)));
    const kept: string[] = [];
    for (const s of x.data as string[]) {
      if (stopSet.size > 0 && stopSet.has(sensitive ? s : changeCase(s, false))) continue;
      kept.push(action === 'NONE' ? s : changeCase(s, action === 'UPPER'));
    }
    // Spec: when every element is dropped the output is a single empty string.
    if (kept.length === 0) kept.push('');
    return [new Tensor('string', x.rank === 2 ? [1, kept.length] : [kept.length], kept)];
  },
};

function caseAction(attrs: AttrView): 'LOWER' | 'UPPER' | 'NONE' {
  const a = attrs.string('case_change_action');
  if (a !== 'LOWER' && a !== 'UPPER' && a !== 'NONE') {
    throw new TesseraError(`case_change_action must be LOWER, UPPER or NONE, got '${a}'`);
  }
  return a;
}

// ---------- random generators ----------

const RANDOM_FLOATS: readonly DType[] = ['f16', 'f32', 'f64'];
const BERNOULLI_OUT: readonly DType[] = ['f16', 'f32', 'f64', 'bf16', 'u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'bool'];

function shapeAttr(attrs: AttrView): number[] {
  const shape = attrs.ints('shape');
  if (!shape) throw new TesseraError(`required attribute 'shape' is missing`);
  checkShape(shape, 'output');
  return shape;
}

function uniformTensor(ctx: RunContext, dtype: DType, shape: readonly number[]): Tensor {
  const low = ctx.attrs.float('low'), high = ctx.attrs.float('high');
  const values = new Float64Array(checkShape(shape, 'output'));
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * ctx.random();
  return new Tensor(dtype, shape, storeNumbers(dtype, values));
}

function normalTensor(ctx: RunContext, dtype: DType, shape: readonly number[]): Tensor {
  const mean = ctx.attrs.float('mean'), scale = ctx.attrs.float('scale');
  const values = new Float64Array(checkShape(shape, 'output'));
  // Box–Muller; 1 - u keeps the logarithm's argument in (0, 1].
  for (let i = 0; i < values.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - ctx.random()));
    const t = 2 * Math.PI * ctx.random();
    values[i] = mean + scale * r * Math.cos(t);
    if (i + 1 < values.length) values[i + 1] = mean + scale * r * Math.sin(t);
  }
  return new Tensor(dtype, shape, storeNumbers(dtype, values));
}

/** The output dtype of the *Like ops: the dtype attribute, else the input's (which must then be float). */
function likeDtype(attrs: AttrView, input: DType): DType {
  if (attrs.has('dtype')) return dtypeAttr(attrs, 'dtype', RANDOM_FLOATS, undefined);
  if (!RANDOM_FLOATS.includes(input)) {
    throw new TesseraError(`input has type ${input}; without a dtype attribute the output would be ${input}, but it must be one of ${RANDOM_FLOATS.join(', ')}`);
  }
  return input;
}

const uniformAttrs = { dtype: { kind: 'int' }, high: { kind: 'float', default: 1 }, low: { kind: 'float', default: 0 }, seed: { kind: 'float' } } as const;
const normalAttrs = { dtype: { kind: 'int' }, mean: { kind: 'float', default: 0 }, scale: { kind: 'float', default: 1 }, seed: { kind: 'float' } } as const;

const randomOps: OpSchema[] = [
  {
    name: 'RandomUniform', since: 1, inputs: [0, 0], outputs: [1, 1], nondeterministic: true,
    attrs: { ...uniformAttrs, shape: { kind: 'ints', required: true } },
    infer: (ctx) => [tensorType(dtypeAttr(ctx.attrs, 'dtype', RANDOM_FLOATS, 'f32'), shapeAttr(ctx.attrs))],
    run: (ctx) => [uniformTensor(ctx, dtypeAttr(ctx.attrs, 'dtype', RANDOM_FLOATS, 'f32'), shapeAttr(ctx.attrs))],
  },
  {
    name: 'RandomNormal', since: 1, inputs: [0, 0], outputs: [1, 1], nondeterministic: true,
    attrs: { ...normalAttrs, shape: { kind: 'ints', required: true } },
    infer: (ctx) => [tensorType(dtypeAttr(ctx.attrs, 'dtype', RANDOM_FLOATS, 'f32'), shapeAttr(ctx.attrs))],
    run: (ctx) => [normalTensor(ctx, dtypeAttr(ctx.attrs, 'dtype', RANDOM_FLOATS, 'f32'), shapeAttr(ctx.attrs))],
  },
  {
    name: 'RandomUniformLike', since: 1, inputs: [1, 1], outputs: [1, 1], nondeterministic: true,
    attrs: { ...uniformAttrs },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      return [tensorType(likeDtype(ctx.attrs, x.dtype), x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      return [uniformTensor(ctx, likeDtype(ctx.attrs, x.dtype), x.shape)];
    },
  },
  {
    name: 'RandomNormalLike', since: 1, inputs: [1, 1], outputs: [1, 1], nondeterministic: true,
    attrs: { ...normalAttrs },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      return [tensorType(likeDtype(ctx.attrs, x.dtype), x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      return [normalTensor(ctx, likeDtype(ctx.attrs, x.dtype), x.shape)];
    },
  },
  {
    name: 'Bernoulli', since: 15, inputs: [1, 1], outputs: [1, 1], nondeterministic: true,
    attrs: { dtype: { kind: 'int' }, seed: { kind: 'float' } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      expectDtype(x, RANDOM_FLOATS, 'input');
      return [tensorType(dtypeAttr(ctx.attrs, 'dtype', BERNOULLI_OUT, x.dtype), x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const dtype = dtypeAttr(ctx.attrs, 'dtype', BERNOULLI_OUT, x.dtype);
      const p = x.data as Float32Array;
      const values = new Float64Array(p.length);
      for (let i = 0; i < p.length; i++) {
        const pi = p[i]!;
        if (!(pi >= 0 && pi <= 1)) throw new TesseraError(`probability ${pi} at flat index ${i} is outside [0, 1]`);
        values[i] = ctx.random() < pi ? 1 : 0;
      }
      return [new Tensor(dtype, x.shape, storeNumbers(dtype, values))];
    },
  },
  {
    name: 'Multinomial', since: 7, inputs: [1, 1], outputs: [1, 1], nondeterministic: true,
    attrs: { dtype: { kind: 'int', default: 6 }, sample_size: { kind: 'int', default: 1 }, seed: { kind: 'float' } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      expectDtype(x, RANDOM_FLOATS, 'input');
      if (x.shape && x.shape.length !== 2) throw new TesseraError(`input must have shape [batch_size, class_size], got rank ${x.shape.length}`);
      const samples = ctx.attrs.int('sample_size');
      if (samples < 1) throw new TesseraError(`sample_size must be ≥ 1, got ${samples}`);
      return [tensorType(dtypeAttr(ctx.attrs, 'dtype', INDEX_DTYPES, 'i32'), [x.shape?.[0] ?? ctx.freshDim(), samples])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      if (x.rank !== 2) throw new TesseraError(`input must have shape [batch_size, class_size], got [${x.shape.join(',')}]`);
      const dtype = dtypeAttr(ctx.attrs, 'dtype', INDEX_DTYPES, 'i32');
      const samples = ctx.attrs.int('sample_size');
      if (samples < 1) throw new TesseraError(`sample_size must be ≥ 1, got ${samples}`);
      const [batch, classes] = x.shape as [number, number];
      if (classes === 0 && batch > 0) throw new TesseraError('class_size is 0: there is nothing to sample');
      const logits = x.data as Float32Array;
      const values = new Float64Array(checkShape([batch, samples], 'output'));
      const cdf = new Float64Array(classes);
      for (let b = 0; b < batch; b++) {
        // The inputs are unnormalized log-probabilities: subtract the max before exp for stability.
        let max = -Infinity;
        for (let c = 0; c < classes; c++) max = Math.max(max, logits[b * classes + c]!);
        if (!Number.isFinite(max)) throw new TesseraError(`row ${b} has no finite log-probability`);
        let total = 0;
        for (let c = 0; c < classes; c++) {
          const v = logits[b * classes + c]!;
          if (Number.isNaN(v)) throw new TesseraError(`row ${b} holds NaN`);
          total += Math.exp(v - max);
          cdf[c] = total;
        }
        for (let s = 0; s < samples; s++) {
          const u = ctx.random() * total;
          let lo = 0, hi = classes - 1;
          while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid]! > u) hi = mid; else lo = mid + 1; }
          values[b * samples + s] = lo;
        }
      }
      return [new Tensor(dtype, [batch, samples], storeNumbers(dtype, values))];
    },
  },
];

// ---------- ai.onnx.preview.training optimizers ----------

const OPT_FLOATS: readonly DType[] = ['f32', 'f64'];

/**
 * Shared frame of Adagrad/Adam/Momentum: inputs R, T, then `groups` runs of n tensors (X…, G…, …);
 * outputs `outGroups` runs of n tensors. `update` maps one element's inputs to its outputs.
 */
interface OptimizerSpec {
  name: string;
  groups: number;
  outGroups: number;
  attrs: OpSchema['attrs'];
  /** Returns per-element update given scalar r, t and attributes; writes outs[0..outGroups). */
  prepare(ctx: RunContext, r: number, t: number): (ins: Float64Array, outs: Float64Array) => void;
}

function optimizerTensors(count: number, groups: number): number {
  const n = (count - 2) / groups;
  if (!Number.isInteger(n) || n < 1) {
    throw new TesseraError(`expects R, T and ${groups} tensors per optimized variable, got ${count} inputs`);
  }
  return n;
}

function optimizer(spec: OptimizerSpec): OpSchema {
  return {
    domain: TRAINING, name: spec.name, since: 1, inputs: [2 + spec.groups, Infinity], outputs: [1, Infinity],
    attrs: spec.attrs,
    infer(ctx) {
      const n = optimizerTensors(ctx.inputCount, spec.groups);
      if (ctx.node.outputs.length > spec.outGroups * n) {
        throw new TesseraError(`has ${ctx.node.outputs.length} outputs, at most ${spec.outGroups * n} for ${n} optimized tensors`);
      }
      expectDtype(ctx.tensorInput(0), OPT_FLOATS, 'R');
      expectDtype(ctx.tensorInput(1), ['i64'], 'T');
      const outs: TensorType[] = [];
      for (let v = 0; v < n; v++) {
        const ts: TensorType[] = [];
        for (let g = 0; g < spec.groups; g++) {
          const t = ctx.tensorInput(2 + g * n + v);
          expectDtype(t, OPT_FLOATS, `input ${2 + g * n + v}`);
          ts.push(t);
        }
        const d = ts[0]!.dtype;
        for (const t of ts) if (t.dtype !== d) throw new TesseraError(`tensors of optimized variable ${v} differ in type: ${d} and ${t.dtype}`);
        outs.push(tensorType(d, broadcastDims(ctx, ...ts.map((t) => t.shape))));
      }
      const result: TensorType[] = [];
      for (let g = 0; g < spec.outGroups; g++) result.push(...outs);
      return result;
    },
    run(ctx) {
      const n = optimizerTensors(ctx.inputCount, spec.groups);
      const r = scalarValue(ctx.tensor(0), 'R');
      const t = scalarValue(ctx.tensor(1), 'T');
      const update = spec.prepare(ctx, r, t);
      const results: Tensor[][] = Array.from({ length: spec.outGroups }, () => []);
      const ins = new Float64Array(spec.groups), outs = new Float64Array(spec.outGroups);
      for (let v = 0; v < n; v++) {
        const ts = Array.from({ length: spec.groups }, (_, g) => ctx.tensor(2 + g * n + v));
        const dtype = ts[0]!.dtype;
        for (const x of ts) if (!OPT_FLOATS.includes(x.dtype)) throw new TesseraError(`optimized tensors must be f32 or f64, got ${x.dtype}`);
        const shape = broadcastShapes(...ts.map((x) => x.shape));
        const size = checkShape(shape, 'output');
        const maps = ts.map((x) => broadcastIndexMap(x.shape, shape));
        const datas = ts.map((x) => x.data as Float32Array | Float64Array);
        const outData = Array.from({ length: spec.outGroups }, () => allocData(dtype, size) as Float32Array | Float64Array);
        for (let i = 0; i < size; i++) {
          for (let g = 0; g < spec.groups; g++) { const m = maps[g]; ins[g] = datas[g]![m ? m[i]! : i]!; }
          update(ins, outs);
          for (let o = 0; o < spec.outGroups; o++) outData[o]![i] = outs[o]!;
        }
        for (let o = 0; o < spec.outGroups; o++) results[o]!.push(new Tensor(dtype, shape, outData[o]!));
      }
      return results.flat();
    },
  };
}

const trainingOps: OpSchema[] = [
  optimizer({
    name: 'Adagrad', groups: 3, outGroups: 2,
    attrs: { decay_factor: { kind: 'float', default: 0 }, epsilon: { kind: 'float', default: 0 }, norm_coefficient: { kind: 'float', default: 0 } },
    prepare(ctx, r, t) {
      const decay = ctx.attrs.float('decay_factor'), eps = ctx.attrs.float('epsilon'), norm = ctx.attrs.float('norm_coefficient');
      const rate = r / (1 + t * decay);
      return (ins, outs) => {
        const x = ins[0]!, g = norm * x + ins[1]!;
        const h = ins[2]! + g * g;
        outs[0] = x - (rate * g) / (Math.sqrt(h) + eps);
        outs[1] = h;
      };
    },
  }),
  optimizer({
    name: 'Adam', groups: 4, outGroups: 3,
    attrs: {
      alpha: { kind: 'float', default: 0.9 }, beta: { kind: 'float', default: 0.999 }, epsilon: { kind: 'float', default: 0 },
      norm_coefficient: { kind: 'float', default: 0 }, norm_coefficient_post: { kind: 'float', default: 0 },
    },
    prepare(ctx, r, t) {
      const alpha = ctx.attrs.float('alpha'), beta = ctx.attrs.float('beta'), eps = ctx.attrs.float('epsilon');
      const norm = ctx.attrs.float('norm_coefficient'), post = ctx.attrs.float('norm_coefficient_post');
      // Bias correction of both moments folds into the learning rate once updates have started.
      const rate = t > 0 ? (r * Math.sqrt(1 - beta ** t)) / (1 - alpha ** t) : r;
      return (ins, outs) => {
        const x = ins[0]!, g = norm * x + ins[1]!;
        const v = alpha * ins[2]! + (1 - alpha) * g;
        const h = beta * ins[3]! + (1 - beta) * g * g;
        outs[0] = (1 - post) * (x - (rate * v) / (Math.sqrt(h) + eps));
        outs[1] = v;
        outs[2] = h;
      };
    },
  }),
  optimizer({
    name: 'Momentum', groups: 3, outGroups: 2,
    attrs: {
      alpha: { kind: 'float', required: true }, beta: { kind: 'float', required: true },
      mode: { kind: 'string', required: true }, norm_coefficient: { kind: 'float', required: true },
    },
    prepare(ctx, r, t) {
      const alpha = ctx.attrs.float('alpha'), norm = ctx.attrs.float('norm_coefficient');
      const mode = ctx.attrs.string('mode');
      if (mode !== 'standard' && mode !== 'nesterov') throw new TesseraError(`mode must be 'standard' or 'nesterov', got '${mode}'`);
      // The first update (T = 0) takes the whole gradient.
      const beta = t > 0 ? ctx.attrs.float('beta') : 1;
      const nesterov = mode === 'nesterov';
      return (ins, outs) => {
        const x = ins[0]!, g = norm * x + ins[1]!;
        const v = alpha * ins[2]! + beta * g;
        outs[0] = nesterov ? x - r * (g + alpha * v) : x - r * v;
        outs[1] = v;
      };
    },
  }),
  (() => {
    const why = 'Gradient (ai.onnx.preview.training) differentiates a graph for training; training-only ops are out of scope for an inference compiler';
    return {
      domain: TRAINING, name: 'Gradient', since: 1, inputs: [1, Infinity], outputs: [1, Infinity],
      attrs: { xs: { kind: 'strings', required: true }, y: { kind: 'string', required: true }, zs: { kind: 'strings' } },
      unsupported: why,
      infer: () => { throw new TesseraError(why); },
      run: () => { throw new TesseraError(why); },
    } satisfies OpSchema;
  })(),
];

registerOps([
  dft17,
  stft17,
  cosineWindow('HannWindow', 0.5, 0.5, 0),
  cosineWindow('HammingWindow', 25 / 46, 21 / 46, 0),
  cosineWindow('BlackmanWindow', 0.42, 0.5, 0.08),
  melWeightMatrix17,
  tfidf9,
  stringNormalizer10,
  ...randomOps,
  ...trainingOps,
]);
