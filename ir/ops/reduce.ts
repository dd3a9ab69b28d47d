// Reductions and ops built around one: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, CumSum, TopK,
// LayerNormalization, MeanVarianceNormalization, LpNormalization, NegativeLogLikelihoodLoss,
// SoftmaxCrossEntropyLoss, Einsum and Det.
//
// Float kernels accumulate in float64 and round once on store (f32 through Float32Array, f16/bf16 with
// roundFloatsInPlace), so long sums in narrow types lose no accuracy along the way. Integer sums and
// products wrap like the C types they model.
import { allocData, dtypeFromOnnx, isBigInt, isFloat, roundBf16, roundF16, roundFloatsInPlace, type DType, type TensorData } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import { registerOps, type InferContext, type OpSchema, type RunContext } from '../registry.ts';
import { checkShape, sizeOf, stridesOf, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type TensorType } from '../types.ts';
import { broadcastIndexMap, normAxis } from './util.ts';

// ---------- dtype sets (per the ONNX type constraints of each version) ----------

const F3: readonly DType[] = ['f16', 'f32', 'f64'];
const F4: readonly DType[] = ['f16', 'f32', 'f64', 'bf16'];
const REDUCE_V1: readonly DType[] = ['u32', 'u64', 'i32', 'i64', 'f16', 'f32', 'f64'];
const REDUCE_V13: readonly DType[] = [...REDUCE_V1, 'bf16'];
const MINMAX_V12: readonly DType[] = [...REDUCE_V1, 'i8', 'u8'];
const MINMAX_V13: readonly DType[] = [...MINMAX_V12, 'bf16'];
const ALL_NUMERIC_NO_BF16: readonly DType[] = ['u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64', 'f16', 'f32', 'f64'];
const ALL_NUMERIC: readonly DType[] = [...ALL_NUMERIC_NO_BF16, 'bf16'];
const CUMSUM_V11: readonly DType[] = ['u32', 'u64', 'i32', 'i64', 'f32', 'f64'];
const CUMSUM_V14: readonly DType[] = [...CUMSUM_V11, 'f16', 'bf16'];
const INDEX_DTYPES: readonly DType[] = ['i32', 'i64'];

/** Storage of every float dtype (f16/bf16 live in Float32Array). */
type FloatArray = Float32Array | Float64Array;

function checkDtype(t: TensorType, allowed: readonly DType[], what = 'input 0'): void {
  if (!allowed.includes(t.dtype)) {
    throw new TesseraError(`${what} has type ${t.dtype}, expected one of ${allowed.join(', ')}`);
  }
}

/** Float64 copy of a tensor's values (bigints converted), for kernels that compute in double. */
function toFloat64(t: Tensor): Float64Array {
  const d = t.data;
  if (d instanceof Float64Array) return d;
  const out = new Float64Array(d.length);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
  else if (Array.isArray(d)) throw new TesseraError('string tensors are not supported here');
  else out.set(d as ArrayLike<number>);
  return out;
}

/** Stores float64 results into a new tensor of dtype (rounding f16/bf16; truncating toward zero for ints). */
function fromFloat64(dtype: DType, shape: readonly number[], values: Float64Array): Tensor {
  const n = values.length;
  const out = allocData(dtype, n);
  if (isFloat(dtype)) {
    (out as Float32Array | Float64Array).set(values);
    roundFloatsInPlace(dtype, out);
  } else if (isBigInt(dtype)) {
    const o = out as BigInt64Array;
    for (let i = 0; i < n; i++) { const v = values[i]!; o[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n; }
  } else {
    const o = out as Int32Array;
    for (let i = 0; i < n; i++) { const v = values[i]!; o[i] = Number.isFinite(v) ? Math.trunc(v) : 0; }
  }
  return new Tensor(dtype, shape, out);
}

/** Rounds one value to the precision of a float dtype (f32 via fround). */
function rounder(dtype: DType): (v: number) => number {
  switch (dtype) {
    case 'f16': return roundF16;
    case 'bf16': return roundBf16;
    case 'f32': return Math.fround;
    default: return (v) => v;
  }
}

/** Splits a shape around one axis: [product before, size of axis, product after]. */
function splitAt(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[axis]!, inner];
}

/** A scalar or one-element tensor input as an integer (axis of CumSum, k of TopK). */
function scalarInt(t: Tensor, what: string): number {
  if (t.size !== 1) throw new TesseraError(`${what} must hold exactly one value, got shape [${t.shape.join(',')}]`);
  if (t.dtype !== 'i32' && t.dtype !== 'i64') throw new TesseraError(`${what} must be an int32 or int64 tensor, got ${t.dtype}`);
  return t.num(0);
}

/** Most multiply-adds one node may take: far beyond any real model, and it turns a would-be hang into an error. */
const MAX_WORK = 2 ** 37;

function checkWork(ops: number, what: string): void {
  if (ops > MAX_WORK) throw new TesseraError(`${what} needs ${ops.toExponential(2)} multiply-adds, more than the limit of ${MAX_WORK.toExponential(2)}`);
}

// ---------- axis sets ----------

/** Normalized, validated reduction axes as a per-dimension mask. */
function axesMask(axes: readonly number[], rank: number): boolean[] {
  const mask = new Array<boolean>(rank).fill(false);
  for (const a of axes) {
    const n = normAxis(a, rank);
    if (mask[n]) throw new TesseraError(`axis ${a} is repeated in axes [${axes.join(',')}]`);
    mask[n] = true;
  }
  return mask;
}

/** For each input flat index, the flat index of its slot in the (keepdims) output. */
function reductionMap(shape: readonly number[], mask: readonly boolean[]): { outSize: number; map: Int32Array } {
  const rank = shape.length;
  const outStrides = new Array<number>(rank).fill(0);
  let outSize = 1;
  for (let d = rank - 1; d >= 0; d--) {
    if (!mask[d]) { outStrides[d] = outSize; outSize *= shape[d]!; }
  }
  const n = sizeOf(shape);
  const map = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    map[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += outStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= outStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return { outSize, map };
}

// ---------- Reduce* ----------

type ReduceKind = 'l1' | 'l2' | 'logsum' | 'logsumexp' | 'max' | 'mean' | 'min' | 'prod' | 'sum' | 'sumsquare';

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535],
  i32: [-2147483648, 2147483647], u32: [0, 4294967295],
};

/** Reduces `x` over the masked axes; output has keepdims shape (reshape for keepdims=0 is the caller's). */
function reduceKernel(x: Tensor, mask: readonly boolean[], kind: ReduceKind, outShape: readonly number[]): Tensor {
  const { outSize, map } = reductionMap(x.shape, mask);
  const n = x.size;
  const count = outSize === 0 ? 0 : n / outSize;
  const dtype = x.dtype;

  if (isBigInt(dtype) && (kind === 'sum' || kind === 'prod' || kind === 'sumsquare' || kind === 'l1' || kind === 'max' || kind === 'min' || kind === 'mean')) {
    return new Tensor(dtype, outShape, reduceBigInt(x.data as BigInt64Array | BigUint64Array, map, outSize, count, kind, dtype));
  }
  if (!isFloat(dtype) && !isBigInt(dtype) && (kind === 'sum' || kind === 'prod' || kind === 'sumsquare' || kind === 'l1')) {
    // 32-bit wrap-around accumulation: the low bits of the exact result, as C integer arithmetic gives.
    const data = x.data as Int32Array;
    const acc = new Int32Array(outSize);
    if (kind === 'prod') acc.fill(1);
    if (kind === 'sum') for (let i = 0; i < n; i++) acc[map[i]!] = (acc[map[i]!]! + data[i]!) | 0;
    else if (kind === 'prod') for (let i = 0; i < n; i++) acc[map[i]!] = Math.imul(acc[map[i]!]!, data[i]!);
    else if (kind === 'sumsquare') for (let i = 0; i < n; i++) acc[map[i]!] = (acc[map[i]!]! + Math.imul(data[i]!, data[i]!)) | 0;
    else for (let i = 0; i < n; i++) acc[map[i]!] = (acc[map[i]!]! + Math.abs(data[i]!)) | 0;
    const out = allocData(dtype, outSize) as Int32Array;
    for (let i = 0; i < outSize; i++) out[i] = acc[i]!;
    return new Tensor(dtype, outShape, out);
  }

  const data = (isBigInt(dtype) ? toFloat64(x) : x.data) as Float64Array;
  const acc = new Float64Array(outSize);
  switch (kind) {
    case 'sum': case 'mean': case 'logsum':
      for (let i = 0; i < n; i++) acc[map[i]!] += data[i]!;
      break;
    case 'l1':
      for (let i = 0; i < n; i++) acc[map[i]!] += Math.abs(data[i]!);
      break;
    case 'l2': case 'sumsquare':
      for (let i = 0; i < n; i++) { const v = data[i]!; acc[map[i]!] += v * v; }
      break;
    case 'prod':
      acc.fill(1);
      for (let i = 0; i < n; i++) acc[map[i]!] *= data[i]!;
      break;
    case 'max': {
      // An empty reduction gives the identity: -inf, or the type's minimum where it has no infinity.
      acc.fill(isFloat(dtype) ? -Infinity : INT_RANGE[dtype]?.[0] ?? -Infinity);
      for (let i = 0; i < n; i++) { const v = data[i]!, o = map[i]!; if (v > acc[o]! || v !== v) acc[o] = v; }
      break;
    }
    case 'min': {
      acc.fill(isFloat(dtype) ? Infinity : INT_RANGE[dtype]?.[1] ?? Infinity);
      for (let i = 0; i < n; i++) { const v = data[i]!, o = map[i]!; if (v < acc[o]! || v !== v) acc[o] = v; }
      break;
    }
    case 'logsumexp': {
      // Shift by the per-slot maximum so large inputs do not overflow exp.
      const mx = new Float64Array(outSize).fill(-Infinity);
      for (let i = 0; i < n; i++) { const v = data[i]!, o = map[i]!; if (v > mx[o]! || v !== v) mx[o] = v; }
      for (let i = 0; i < n; i++) { const o = map[i]!; acc[o] += Math.exp(data[i]! - mx[o]!); }
      for (let o = 0; o < outSize; o++) {
        const m = mx[o]!;
        acc[o] = Number.isFinite(m) ? m + Math.log(acc[o]!) : m;
      }
      break;
    }
  }
  if (kind === 'mean') for (let o = 0; o < outSize; o++) acc[o] = acc[o]! / count;
  else if (kind === 'l2') for (let o = 0; o < outSize; o++) acc[o] = Math.sqrt(acc[o]!);
  else if (kind === 'logsum') for (let o = 0; o < outSize; o++) acc[o] = Math.log(acc[o]!);
  return fromFloat64(dtype, outShape, acc);
}

function reduceBigInt(
  data: BigInt64Array | BigUint64Array, map: Int32Array, outSize: number, count: number, kind: ReduceKind, dtype: DType,
): TensorData {
  const n = data.length;
  const out = allocData(dtype, outSize) as BigInt64Array;
  const signed = dtype === 'i64';
  switch (kind) {
    case 'sum':
      for (let i = 0; i < n; i++) out[map[i]!] += data[i]!;
      break;
    case 'l1':
      for (let i = 0; i < n; i++) { const v = data[i]!; out[map[i]!] += v < 0n ? -v : v; }
      break;
    case 'sumsquare':
      for (let i = 0; i < n; i++) { const v = data[i]!; out[map[i]!] += v * v; }
      break;
    case 'prod':
      out.fill(1n);
      for (let i = 0; i < n; i++) out[map[i]!] *= data[i]!;
      break;
    case 'max':
      out.fill(signed ? -(2n ** 63n) : 0n);
      for (let i = 0; i < n; i++) { const v = data[i]!, o = map[i]!; if (v > out[o]!) out[o] = v; }
      break;
    case 'min':
      out.fill(signed ? 2n ** 63n - 1n : 2n ** 64n - 1n);
      for (let i = 0; i < n; i++) { const v = data[i]!, o = map[i]!; if (v < out[o]!) out[o] = v; }
      break;
    case 'mean': {
      // Exact (unwrapped) sum, then division truncating toward zero.
      const sums = new Array<bigint>(outSize).fill(0n);
      for (let i = 0; i < n; i++) sums[map[i]!] += data[i]!;
      const c = BigInt(count);
      for (let o = 0; o < outSize; o++) out[o] = c === 0n ? 0n : sums[o]! / c;
      break;
    }
    default:
      throw new Error(`reduceBigInt does not handle ${kind}`);
  }
  return out;
}

/** What a Reduce node reduces: the given axes, every axis, or none (noop_with_empty_axes with no axes). */
type AxesChoice = { kind: 'axes'; axes: number[] } | { kind: 'all' } | { kind: 'noop' };

function resolveAxes(axes: readonly number[] | undefined, noopWithEmpty: boolean): AxesChoice {
  if (axes && axes.length > 0) return { kind: 'axes', axes: [...axes] };
  return noopWithEmpty ? { kind: 'noop' } : { kind: 'all' };
}

function reduceSchemas(name: string, kind: ReduceKind, versions: [number, readonly DType[]][], axesInputSince?: number): OpSchema[] {
  return versions.map(([since, dtypes]): OpSchema => {
    const axesAsInput = axesInputSince !== undefined && since >= axesInputSince;
    return {
      name, since,
      inputs: axesAsInput ? [1, 2] : [1, 1],
      outputs: [1, 1],
      attrs: axesAsInput
        ? { keepdims: { kind: 'int', default: 1 }, noop_with_empty_axes: { kind: 'int', default: 0 } }
        : { axes: { kind: 'ints' }, keepdims: { kind: 'int', default: 1 } },
      infer(ctx) {
        const t = ctx.tensorInput(0);
        checkDtype(t, dtypes);
        const keep = ctx.attrs.int('keepdims') !== 0;
        let choice: AxesChoice;
        if (axesAsInput) {
          const noop = ctx.attrs.int('noop_with_empty_axes') !== 0;
          if (ctx.inputCount > 1 && ctx.node.inputs[1]) {
            const at = ctx.tensorInput(1);
            checkDtype(at, ['i64'], 'axes');
            const c = ctx.constant(1);
            if (!c) return [unknownAxesType(ctx, t, at, keep, noop)];
            choice = resolveAxes(c.toNumbers(), noop);
          } else choice = resolveAxes(undefined, noop);
        } else choice = resolveAxes(ctx.attrs.ints('axes'), false);
        if (choice.kind === 'noop') return [t];
        if (!t.shape) return [tensorType(t.dtype, undefined)];
        const rank = t.shape.length;
        const mask = choice.kind === 'all' ? new Array<boolean>(rank).fill(true) : axesMask(choice.axes, rank);
        return [tensorType(t.dtype, reducedDims(t.shape, mask, keep))];
      },
      run(ctx) {
        const x = ctx.tensor(0);
        const keep = ctx.attrs.int('keepdims') !== 0;
        let choice: AxesChoice;
        if (axesAsInput) {
          const a = ctx.optTensor(1);
          if (a && a.dtype !== 'i64') throw new TesseraError(`axes must be an int64 tensor, got ${a.dtype}`);
          choice = resolveAxes(a?.toNumbers(), ctx.attrs.int('noop_with_empty_axes') !== 0);
        } else choice = resolveAxes(ctx.attrs.ints('axes'), false);
        // Reducing over no axes still applies the op's per-element part (|x| for L1, x² for SumSquare, ...),
        // as the ONNX reference and onnxruntime do.
        if (choice.kind === 'noop' && (kind === 'sum' || kind === 'mean' || kind === 'max' || kind === 'min' || kind === 'prod')) return [x];
        const mask = choice.kind === 'noop' ? new Array<boolean>(x.rank).fill(false) : choice.kind === 'all' ? new Array<boolean>(x.rank).fill(true) : axesMask(choice.axes, x.rank);
        const keepShape = x.shape.map((d, i) => (mask[i] ? 1 : d));
        const out = reduceKernel(x, mask, kind, keepShape);
        return [keep ? out : out.reshape(x.shape.filter((_, i) => !mask[i]))];
      },
    };
  });
}

function reducedDims(shape: readonly Dim[], mask: readonly boolean[], keep: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => { if (!mask[i]) out.push(d); else if (keep) out.push(1); });
  return out;
}

/** Output type when the axes input is not known at compile time. */
function unknownAxesType(ctx: InferContext, t: TensorType, axesType: TensorType, keep: boolean, noop: boolean): TensorType {
  if (!t.shape) return tensorType(t.dtype, undefined);
  // Each dim either stays or becomes 1: only dims already equal to 1 are certain.
  const fresh = () => t.shape!.map((d) => (d === 1 ? 1 : ctx.freshDim()));
  if (keep) return tensorType(t.dtype, fresh());
  const k = axesType.shape?.[0];
  if (axesType.shape?.length === 1 && typeof k === 'number') {
    if (k === 0) return noop ? t : tensorType(t.dtype, []);
    return tensorType(t.dtype, Array.from({ length: Math.max(0, t.shape.length - k) }, () => ctx.freshDim()));
  }
  return tensorType(t.dtype, undefined);
}

const REDUCE_OPS: [string, ReduceKind][] = [
  ['ReduceL1', 'l1'], ['ReduceL2', 'l2'], ['ReduceLogSum', 'logsum'], ['ReduceLogSumExp', 'logsumexp'],
  ['ReduceMean', 'mean'], ['ReduceProd', 'prod'], ['ReduceSumSquare', 'sumsquare'],
];

// ---------- ArgMax / ArgMin ----------

function argSchemas(name: string, max: boolean): OpSchema[] {
  const versions: [number, readonly DType[]][] = [[1, ALL_NUMERIC_NO_BF16], [11, ALL_NUMERIC_NO_BF16], [12, ALL_NUMERIC_NO_BF16], [13, ALL_NUMERIC]];
  return versions.map(([since, dtypes]) => ({
    name, since, inputs: [1, 1], outputs: [1, 1],
    attrs: {
      axis: { kind: 'int', default: 0 }, keepdims: { kind: 'int', default: 1 },
      ...(since >= 12 ? { select_last_index: { kind: 'int', default: 0 } } : {}),
    },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype(t, dtypes);
      if (!t.shape) return [tensorType('i64', undefined)];
      const axis = normAxis(ctx.attrs.int('axis'), t.shape.length);
      const mask = t.shape.map((_, i) => i === axis);
      return [tensorType('i64', reducedDims(t.shape, mask, ctx.attrs.int('keepdims') !== 0))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const axis = normAxis(ctx.attrs.int('axis'), x.rank);
      const last = since >= 12 && ctx.attrs.int('select_last_index') !== 0;
      const [outer, len, inner] = splitAt(x.shape, axis);
      if (len === 0) throw new TesseraError(`cannot take ${name} over axis ${axis} of size 0`);
      const data = x.data as Float64Array;
      const out = new BigInt64Array(outer * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const base = o * len * inner + i;
          let best = data[base]!, bi = 0;
          for (let k = 1; k < len; k++) {
            const v = data[base + k * inner]!;
            // NaN wins (as numpy's argmax/argmin), then strict or non-strict comparison per select_last_index.
            if (best !== best) { if (last && v !== v) bi = k; continue; }
            const better = v !== v || (max ? (last ? v >= best : v > best) : (last ? v <= best : v < best));
            if (better) { best = v; bi = k; }
          }
          out[o * inner + i] = BigInt(bi);
        }
      }
      const shape = ctx.attrs.int('keepdims') !== 0 ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
      return [new Tensor('i64', shape, out)];
    },
  }));
}

// ---------- Softmax / LogSoftmax / Hardmax ----------

type SoftKind = 'softmax' | 'logsoftmax' | 'hardmax';

/** Applies the softmax-family op along `len` elements spaced `inner` apart, for every (outer, inner). */
function softmaxKernel(x: FloatArray, out: FloatArray, outer: number, len: number, inner: number, kind: SoftKind): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let mx = -Infinity, arg = 0;
      for (let k = 0; k < len; k++) {
        const v = x[base + k * inner]!;
        if (v > mx) { mx = v; arg = k; }
      }
      if (kind === 'hardmax') {
        for (let k = 0; k < len; k++) out[base + k * inner] = k === arg ? 1 : 0;
        continue;
      }
      let sum = 0;
      if (kind === 'softmax') {
        for (let k = 0; k < len; k++) { const e = Math.exp(x[base + k * inner]! - mx); out[base + k * inner] = e; sum += e; }
      } else {
        for (let k = 0; k < len; k++) sum += Math.exp(x[base + k * inner]! - mx);
      }
      if (kind === 'softmax') {
        const inv = 1 / sum;
        for (let k = 0; k < len; k++) out[base + k * inner]! *= inv;
      } else {
        const lse = mx + Math.log(sum);
        for (let k = 0; k < len; k++) out[base + k * inner] = x[base + k * inner]! - lse;
      }
    }
  }
}

function softmaxSchemas(name: string, kind: SoftKind): OpSchema[] {
  const versions: [number, readonly DType[], number][] = [[1, F3, 1], [11, F3, 1], [13, F4, -1]];
  return versions.map(([since, dtypes, defaultAxis]) => ({
    name, since, inputs: [1, 1], outputs: [1, 1],
    attrs: { axis: { kind: 'int', default: defaultAxis } },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype(t, dtypes);
      if (t.shape) softmaxAxis(ctx.attrs.int('axis'), t.shape.length, since);
      return [t];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const axis = softmaxAxis(ctx.attrs.int('axis'), x.rank, since);
      // Before opset 13 the input is viewed as 2-D [prod(dims < axis), prod(dims >= axis)].
      const [outer, len, inner] = since < 13
        ? [sizeOf(x.shape.slice(0, axis)), sizeOf(x.shape.slice(axis)), 1]
        : splitAt(x.shape, axis);
      // Float storage is Float32Array or Float64Array for every allowed dtype: compute in place of the output.
      const res = allocData(x.dtype, x.size) as FloatArray;
      softmaxKernel(x.data as FloatArray, res, outer, len, inner, kind);
      roundFloatsInPlace(x.dtype, res);
      return [new Tensor(x.dtype, x.shape, res)];
    },
  }));
}

function softmaxAxis(axis: number, rank: number, since: number): number {
  // Opset 1 did not bound the axis of its 2-D coercion, and its default (1) exceeds a 1-D input's rank:
  // axis = rank then means a trailing dimension of 1. Opset 11 on requires axis in [-r, r-1].
  if (since === 1 && axis === rank) return rank;
  return normAxis(axis, rank);
}

// ---------- CumSum ----------

function cumsumSchemas(): OpSchema[] {
  return ([[11, CUMSUM_V11], [14, CUMSUM_V14]] as [number, readonly DType[]][]).map(([since, dtypes]) => ({
    name: 'CumSum', since, inputs: [2, 2], outputs: [1, 1],
    attrs: { exclusive: { kind: 'int', default: 0 }, reverse: { kind: 'int', default: 0 } },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype(t, dtypes);
      checkDtype(ctx.tensorInput(1), INDEX_DTYPES, 'axis');
      const c = ctx.constant(1);
      if (c && t.shape) normAxis(scalarInt(c, 'axis'), t.shape.length);
      return [t];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const axis = normAxis(scalarInt(ctx.tensor(1), 'axis'), x.rank);
      const exclusive = ctx.attrs.int('exclusive') !== 0, reverse = ctx.attrs.int('reverse') !== 0;
      const [outer, len, inner] = splitAt(x.shape, axis);
      const out = allocData(x.dtype, x.size);
      // The running sum lives in the element type, as the spec's does: floats round, integers wrap.
      if (isBigInt(x.dtype)) {
        const src = x.data as BigInt64Array, dst = out as BigInt64Array;
        const wrap = x.dtype === 'i64' ? (v: bigint) => BigInt.asIntN(64, v) : (v: bigint) => BigInt.asUintN(64, v);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            const base = o * len * inner + i;
            let acc = 0n;
            for (let s = 0; s < len; s++) {
              const j = base + (reverse ? len - 1 - s : s) * inner;
              if (exclusive) { dst[j] = acc; acc = wrap(acc + src[j]!); } else { acc = wrap(acc + src[j]!); dst[j] = acc; }
            }
          }
        }
      } else {
        const src = x.data as Float64Array, dst = out as Float64Array;
        const step = isFloat(x.dtype) ? rounder(x.dtype) : (v: number) => wrapLike(x.dtype, v);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            const base = o * len * inner + i;
            let acc = 0;
            for (let s = 0; s < len; s++) {
              const j = base + (reverse ? len - 1 - s : s) * inner;
              if (exclusive) { dst[j] = acc; acc = step(acc + src[j]!); } else { acc = step(acc + src[j]!); dst[j] = acc; }
            }
          }
        }
      }
      return [new Tensor(x.dtype, x.shape, out)];
    },
  }));
}

/** Wraps an exact integer to a 32-bit (or narrower) integer dtype's range. */
function wrapLike(dtype: DType, v: number): number {
  switch (dtype) {
    case 'i32': return v | 0;
    case 'u32': return v >>> 0;
    case 'i16': return (v << 16) >> 16;
    case 'u16': return v & 0xffff;
    case 'i8': return (v << 24) >> 24;
    case 'u8': return v & 0xff;
    default: return v;
  }
}

// ---------- TopK ----------

function topkSchemas(): OpSchema[] {
  const versions: [number, readonly DType[]][] = [[1, F3], [10, F3], [11, ALL_NUMERIC_NO_BF16]];
  return versions.map(([since, dtypes]) => ({
    name: 'TopK', since,
    inputs: since >= 10 ? [2, 2] : [1, 1],
    outputs: [2, 2],
    attrs: {
      axis: { kind: 'int', default: -1 },
      ...(since < 10 ? { k: { kind: 'int', required: true } } : {}),
      ...(since >= 11 ? { largest: { kind: 'int', default: 1 }, sorted: { kind: 'int', default: 1 } } : {}),
    },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype(t, dtypes);
      let k: Dim | undefined;
      if (since < 10) k = ctx.attrs.int('k');
      else {
        checkDtype(ctx.tensorInput(1), ['i64'], 'K');
        const c = ctx.constant(1);
        if (c) k = scalarInt(c, 'K');
      }
      if (!t.shape) return [tensorType(t.dtype, undefined), tensorType('i64', undefined)];
      const axis = normAxis(ctx.attrs.int('axis'), t.shape.length);
      if (typeof k === 'number') checkK(k, t.shape[axis]!);
      const kd = k ?? ctx.freshDim();
      const shape = t.shape.map((d, i) => (i === axis ? kd : d));
      return [tensorType(t.dtype, shape), tensorType('i64', [...shape])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const k = since < 10 ? ctx.attrs.int('k') : scalarInt(ctx.tensor(1), 'K');
      const axis = normAxis(ctx.attrs.int('axis'), x.rank);
      const largest = since < 11 || ctx.attrs.int('largest') !== 0;
      const [outer, len, inner] = splitAt(x.shape, axis);
      checkK(k, len);
      const shape = x.shape.map((d, i) => (i === axis ? k : d));
      const n = checkShape(shape, 'TopK output');
      const values = allocData(x.dtype, n) as Float64Array;
      const indices = new BigInt64Array(n);
      const data = x.data as Float64Array;
      const order = new Int32Array(len);
      let base = 0;
      // Ties keep the lower index first (a stable order); NaN counts as larger than every number.
      const cmp = largest
        ? (a: number, b: number) => { const va = data[base + a * inner]!, vb = data[base + b * inner]!; return va > vb || (va !== va && vb === vb) ? -1 : vb > va || (vb !== vb && va === va) ? 1 : a - b; }
        : (a: number, b: number) => { const va = data[base + a * inner]!, vb = data[base + b * inner]!; return va < vb || (vb !== vb && va === va) ? -1 : vb < va || (va !== va && vb === vb) ? 1 : a - b; };
      // Few winners: keep a sorted list of k by insertion (O(len·k)) instead of sorting every slice.
      const select = k <= 32 && k < len;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          base = o * len * inner + i;
          if (select) {
            let cnt = 0;
            for (let j = 0; j < len && k > 0; j++) {
              // j is the highest index so far: on a tie it ranks after, so it never displaces an equal value.
              if (cnt === k && cmp(j, order[k - 1]!) >= 0) continue;
              let p = cnt < k ? cnt++ : k - 1;
              while (p > 0 && cmp(j, order[p - 1]!) < 0) { order[p] = order[p - 1]!; p--; }
              order[p] = j;
            }
          } else {
            for (let j = 0; j < len; j++) order[j] = j;
            order.sort(cmp);
          }
          const ob = o * k * inner + i;
          for (let j = 0; j < k; j++) {
            values[ob + j * inner] = data[base + order[j]! * inner]!;
            indices[ob + j * inner] = BigInt(order[j]!);
          }
        }
      }
      return [new Tensor(x.dtype, shape, values), new Tensor('i64', [...shape], indices)];
    },
  }));
}

function checkK(k: number, len: Dim): void {
  if (!Number.isInteger(k) || k < 0) throw new TesseraError(`K must be a non-negative integer, got ${k}`);
  if (typeof len === 'number' && k > len) throw new TesseraError(`K ${k} is larger than the axis size ${len}`);
}

// ---------- normalizations ----------

const layerNormalization: OpSchema = {
  name: 'LayerNormalization', since: 17, inputs: [2, 3], outputs: [1, 3],
  attrs: { axis: { kind: 'int', default: -1 }, epsilon: { kind: 'float', default: 1e-5 }, stash_type: { kind: 'int', default: 1 } },
  infer(ctx) {
    const t = ctx.tensorInput(0);
    checkDtype(t, F4);
    const scale = ctx.tensorInput(1);
    if (scale.dtype !== t.dtype) throw new TesseraError(`Scale has type ${scale.dtype}, expected ${t.dtype} like X`);
    if (ctx.inputType(2)) {
      const b = ctx.tensorInput(2);
      if (b.dtype !== t.dtype) throw new TesseraError(`B has type ${b.dtype}, expected ${t.dtype} like X`);
    }
    const stash = stashType(ctx.attrs.int('stash_type'));
    if (!t.shape) return [t, tensorType(stash, undefined), tensorType(stash, undefined)];
    const axis = normAxis(ctx.attrs.int('axis'), t.shape.length);
    const statShape = t.shape.map((d, i) => (i < axis ? d : 1));
    return [t, tensorType(stash, statShape), tensorType(stash, [...statShape])];
  },
  run(ctx) {
    const x = ctx.tensor(0), scale = ctx.tensor(1), bias = ctx.optTensor(2);
    const stash = stashType(ctx.attrs.int('stash_type'));
    const axis = normAxis(ctx.attrs.int('axis'), x.rank);
    const eps = ctx.attrs.float('epsilon');
    const normShape = x.shape.slice(axis);
    const rows = sizeOf(x.shape.slice(0, axis)), len = sizeOf(normShape);
    const sc = broadcastTo(scale, normShape, 'Scale'), bs = bias ? broadcastTo(bias, normShape, 'B') : undefined;
    const xs = toFloat64(x);
    const y = new Float64Array(x.size), mean = new Float64Array(rows), inv = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const off = r * len;
      let s = 0;
      for (let j = 0; j < len; j++) s += xs[off + j]!;
      const m = s / len;
      let v = 0;
      for (let j = 0; j < len; j++) { const d = xs[off + j]! - m; v += d * d; }
      const is = 1 / Math.sqrt(v / len + eps);
      mean[r] = m; inv[r] = is;
      for (let j = 0; j < len; j++) y[off + j] = (xs[off + j]! - m) * is * sc[j]! + (bs ? bs[j]! : 0);
    }
    const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
    return [fromFloat64(x.dtype, x.shape, y), fromFloat64(stash, statShape, mean), fromFloat64(stash, statShape, inv)];
  },
};

function stashType(code: number): DType {
  const d = dtypeFromOnnx(code);
  if (d !== 'f32' && d !== 'bf16') throw new TesseraError(`stash_type ${code} is not float or bfloat16`);
  return d;
}

/** A parameter tensor unidirectionally broadcast to `shape`, as float64. */
function broadcastTo(t: Tensor, shape: readonly number[], what: string): Float64Array {
  const ok = t.rank <= shape.length && t.shape.every((d, i) => d === 1 || d === shape[shape.length - t.rank + i]);
  if (!ok) throw new TesseraError(`${what} of shape [${t.shape.join(',')}] does not broadcast to [${shape.join(',')}]`);
  const src = toFloat64(t);
  const map = broadcastIndexMap(t.shape, shape);
  if (!map) return src;
  const out = new Float64Array(map.length);
  for (let i = 0; i < map.length; i++) out[i] = src[map[i]!]!;
  return out;
}

function mvnSchemas(): OpSchema[] {
  return ([[9, F3], [13, F4]] as [number, readonly DType[]][]).map(([since, dtypes]) => ({
    name: 'MeanVarianceNormalization', since, inputs: [1, 1], outputs: [1, 1],
    attrs: { axes: { kind: 'ints', default: [0, 2, 3] } },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype(t, dtypes);
      if (t.shape) axesMask(ctx.attrs.ints('axes')!, t.shape.length);
      return [t];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const mask = axesMask(ctx.attrs.ints('axes')!, x.rank);
      const { outSize, map } = reductionMap(x.shape, mask);
      const n = x.size, count = outSize === 0 ? 0 : n / outSize;
      const xs = toFloat64(x);
      const mean = new Float64Array(outSize), sq = new Float64Array(outSize);
      for (let i = 0; i < n; i++) mean[map[i]!] += xs[i]!;
      for (let o = 0; o < outSize; o++) mean[o] = mean[o]! / count;
      // Two-pass variance: same value as E[x²]-E[x]² in exact arithmetic, never negative from rounding.
      for (let i = 0; i < n; i++) { const d = xs[i]! - mean[map[i]!]!; sq[map[i]!] += d * d; }
      const denom = new Float64Array(outSize);
      for (let o = 0; o < outSize; o++) denom[o] = Math.sqrt(sq[o]! / count) + 1e-9;
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) { const o = map[i]!; y[i] = (xs[i]! - mean[o]!) / denom[o]!; }
      return [fromFloat64(x.dtype, x.shape, y)];
    },
  }));
}

const lpNormalization: OpSchema = {
  name: 'LpNormalization', since: 1, inputs: [1, 1], outputs: [1, 1],
  attrs: { axis: { kind: 'int', default: -1 }, p: { kind: 'int', default: 2 } },
  infer(ctx) {
    const t = ctx.tensorInput(0);
    checkDtype(t, F3);
    lpOrder(ctx.attrs.int('p'));
    if (t.shape) normAxis(ctx.attrs.int('axis'), t.shape.length);
    return [t];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    const p = lpOrder(ctx.attrs.int('p'));
    const axis = normAxis(ctx.attrs.int('axis'), x.rank);
    const [outer, len, inner] = splitAt(x.shape, axis);
    const xs = toFloat64(x), y = new Float64Array(x.size);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        let s = 0;
        for (let k = 0; k < len; k++) { const v = xs[base + k * inner]!; s += p === 1 ? Math.abs(v) : v * v; }
        const norm = p === 1 ? s : Math.sqrt(s);
        for (let k = 0; k < len; k++) y[base + k * inner] = xs[base + k * inner]! / norm;
      }
    }
    return [fromFloat64(x.dtype, x.shape, y)];
  },
};

function lpOrder(p: number): 1 | 2 {
  if (p !== 1 && p !== 2) throw new TesseraError(`p must be 1 or 2, got ${p}`);
  return p;
}

// ---------- losses ----------

type Reduction = 'none' | 'sum' | 'mean';

function reductionOf(ctx: InferContext | RunContext): Reduction {
  const r = ctx.attrs.string('reduction');
  if (r !== 'none' && r !== 'sum' && r !== 'mean') throw new TesseraError(`reduction must be none, sum or mean, got '${r}'`);
  return r;
}

/** Checks the (input [N,C,d...], target [N,d...], weight [C]) signature of the losses; returns the loss type. */
function inferLoss(ctx: InferContext, dtypes: readonly DType[]): TensorType {
  const x = ctx.tensorInput(0), target = ctx.tensorInput(1);
  checkDtype(x, dtypes);
  checkDtype(target, INDEX_DTYPES, 'target');
  if (ctx.inputType(2)) {
    const w = ctx.tensorInput(2);
    if (w.dtype !== x.dtype) throw new TesseraError(`weight has type ${w.dtype}, expected ${x.dtype}`);
    if (w.shape && w.shape.length !== 1) throw new TesseraError(`weight must be 1-D, got rank ${w.shape.length}`);
  }
  const red = reductionOf(ctx);
  if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank >= 2 (N, C, ...), got rank ${x.shape.length}`);
  if (x.shape && target.shape && target.shape.length !== x.shape.length - 1) {
    throw new TesseraError(`target must have rank ${x.shape.length - 1}, got ${target.shape.length}`);
  }
  if (red !== 'none') return tensorType(x.dtype, []);
  const shape = target.shape ?? (x.shape ? x.shape.filter((_, i) => i !== 1) : undefined);
  return tensorType(x.dtype, shape ? [...shape] : undefined);
}

/** Weighted negative log-likelihood of log-probabilities `logp` shaped [N, C, d...]. */
function nllLoss(
  logp: Float64Array, shape: readonly number[], target: Tensor, weight: Tensor | undefined,
  ignoreIndex: number | undefined, reduction: Reduction, dtype: DType,
): Tensor {
  if (shape.length < 2) throw new TesseraError(`input must have rank >= 2 (N, C, ...), got rank ${shape.length}`);
  const [N, C] = [shape[0]!, shape[1]!];
  const D = sizeOf(shape.slice(2));
  const tshape = [N, ...shape.slice(2)];
  if (target.rank !== tshape.length || target.shape.some((d, i) => d !== tshape[i])) {
    throw new TesseraError(`target shape [${target.shape.join(',')}] does not match [${tshape.join(',')}] of the input`);
  }
  if (weight && (weight.rank !== 1 || weight.shape[0] !== C)) {
    throw new TesseraError(`weight shape [${weight.shape.join(',')}] must be [${C}]`);
  }
  const w = weight ? toFloat64(weight) : undefined;
  const loss = new Float64Array(N * D);
  let wsum = 0;
  for (let n = 0; n < N; n++) {
    for (let d = 0; d < D; d++) {
      const c = target.num(n * D + d);
      if (c === ignoreIndex) continue;
      if (c < 0 || c >= C) throw new TesseraError(`target value ${c} is out of bounds for ${C} classes`);
      const wc = w ? w[c]! : 1;
      loss[n * D + d] = -logp[(n * C + c) * D + d]! * wc;
      wsum += wc;
    }
  }
  if (reduction === 'none') return fromFloat64(dtype, tshape, loss);
  let total = 0;
  for (let i = 0; i < loss.length; i++) total += loss[i]!;
  return fromFloat64(dtype, [], Float64Array.of(reduction === 'sum' ? total : total / wsum));
}

function lossAttrs(): OpSchema['attrs'] {
  return { reduction: { kind: 'string', default: 'mean' }, ignore_index: { kind: 'int' } };
}

function nllSchemas(): OpSchema[] {
  return ([[12, F3], [13, F4]] as [number, readonly DType[]][]).map(([since, dtypes]) => ({
    name: 'NegativeLogLikelihoodLoss', since, inputs: [2, 3], outputs: [1, 1], attrs: lossAttrs(),
    infer: (ctx) => [inferLoss(ctx, dtypes)],
    run(ctx) {
      const x = ctx.tensor(0);
      const ii = ctx.attrs.has('ignore_index') ? ctx.attrs.int('ignore_index') : undefined;
      return [nllLoss(toFloat64(x), x.shape, ctx.tensor(1), ctx.optTensor(2), ii, reductionOf(ctx), x.dtype)];
    },
  }));
}

function sceSchemas(): OpSchema[] {
  return ([[12, F3], [13, F4]] as [number, readonly DType[]][]).map(([since, dtypes]) => ({
    name: 'SoftmaxCrossEntropyLoss', since, inputs: [2, 3], outputs: [1, 2], attrs: lossAttrs(),
    infer(ctx) {
      const loss = inferLoss(ctx, dtypes);
      return [loss, ctx.tensorInput(0)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      if (x.rank < 2) throw new TesseraError(`scores must have rank >= 2 (N, C, ...), got rank ${x.rank}`);
      const [outer, len, inner] = splitAt(x.shape, 1);
      const logp = new Float64Array(x.size);
      softmaxKernel(toFloat64(x), logp, outer, len, inner, 'logsoftmax');
      const ii = ctx.attrs.has('ignore_index') ? ctx.attrs.int('ignore_index') : undefined;
      const loss = nllLoss(logp, x.shape, ctx.tensor(1), ctx.optTensor(2), ii, reductionOf(ctx), x.dtype);
      return [loss, fromFloat64(x.dtype, x.shape, logp)];
    },
  }));
}

// ---------- Einsum ----------

interface EinsumPlan {
  /** Per input: label id of each dimension. Ellipsis dims get ids 0..ellRank-1 (right-aligned). */
  inputLabels: number[][];
  outputLabels: number[];
}

const ELL_BASE = 0;
// Letters get ids above any possible ellipsis rank so the two never collide.
const LETTER_BASE = 1 << 20;

function letterId(ch: string): number {
  return LETTER_BASE + ch.charCodeAt(0);
}

/** Parses an equation against the input ranks (numpy semantics: implicit output is '...' then single-use letters sorted). */
function planEinsum(equation: string, ranks: readonly number[]): EinsumPlan {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const lhs = arrow < 0 ? eq : eq.slice(0, arrow);
  const rhs = arrow < 0 ? undefined : eq.slice(arrow + 2);
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) {
    throw new TesseraError(`equation '${equation}' has ${terms.length} input terms but the node has ${ranks.length} inputs`);
  }
  const parseTerm = (term: string, what: string): { letters: string[]; ellAt: number } => {
    const letters: string[] = [];
    let ellAt = -1;
    for (let i = 0; i < term.length;) {
      if (term.startsWith('...', i)) {
        if (ellAt >= 0) throw new TesseraError(`${what} '${term}' of equation '${equation}' has more than one ellipsis`);
        ellAt = letters.length; i += 3; continue;
      }
      const ch = term[i]!;
      if (!/[a-zA-Z]/.test(ch)) throw new TesseraError(`equation '${equation}' has an invalid character '${ch}'`);
      letters.push(ch); i++;
    }
    return { letters, ellAt };
  };
  let ellRank = 0;
  const parsed = terms.map((t, k) => {
    const p = parseTerm(t, `input term ${k}`);
    const r = ranks[k]!;
    if (p.ellAt < 0 ? r !== p.letters.length : r < p.letters.length) {
      throw new TesseraError(`input ${k} has rank ${r} but term '${t}' of equation '${equation}' names ${p.letters.length} dimensions`);
    }
    if (p.ellAt >= 0) ellRank = Math.max(ellRank, r - p.letters.length);
    return p;
  });
  const inputLabels = parsed.map((p, k) => {
    const ids = p.letters.map(letterId);
    if (p.ellAt < 0) return ids;
    const e = ranks[k]! - p.letters.length;
    const ell = Array.from({ length: e }, (_, j) => ELL_BASE + ellRank - e + j);
    return [...ids.slice(0, p.ellAt), ...ell, ...ids.slice(p.ellAt)];
  });
  const anyEllipsis = parsed.some((p) => p.ellAt >= 0);
  let outputLabels: number[];
  if (rhs === undefined) {
    const counts = new Map<string, number>();
    for (const p of parsed) for (const ch of p.letters) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    const single = [...counts.entries()].filter(([, c]) => c === 1).map(([ch]) => ch).sort();
    outputLabels = [...Array.from({ length: ellRank }, (_, j) => ELL_BASE + j), ...single.map(letterId)];
  } else {
    const p = parseTerm(rhs, 'output term');
    if (p.ellAt >= 0 && !anyEllipsis) throw new TesseraError(`equation '${equation}' has an ellipsis in the output only`);
    const seen = new Set<string>();
    const known = new Set(parsed.flatMap((q) => q.letters));
    for (const ch of p.letters) {
      if (seen.has(ch)) throw new TesseraError(`output label '${ch}' is repeated in equation '${equation}'`);
      if (!known.has(ch)) throw new TesseraError(`output label '${ch}' does not appear in the inputs of equation '${equation}'`);
      seen.add(ch);
    }
    const ids = p.letters.map(letterId);
    const ell = p.ellAt >= 0 ? Array.from({ length: ellRank }, (_, j) => ELL_BASE + j) : [];
    outputLabels = p.ellAt >= 0 ? [...ids.slice(0, p.ellAt), ...ell, ...ids.slice(p.ellAt)] : ids;
  }
  return { inputLabels, outputLabels };
}

/** Label sizes from input dims: equal, or 1 broadcasting against the others. */
function einsumSizes<D extends Dim>(plan: EinsumPlan, shapes: readonly (readonly D[])[], fresh: () => D): Map<number, D> {
  const sizes = new Map<number, D>();
  plan.inputLabels.forEach((labels, k) => labels.forEach((l, j) => {
    const d = shapes[k]![j]!;
    const cur = sizes.get(l);
    if (cur === undefined || cur === 1) { sizes.set(l, d); return; }
    if (d === 1 || d === cur) return;
    if (typeof d === 'number' && typeof cur === 'number') {
      throw new TesseraError(`dimension ${j} of input ${k} has size ${d}, but its label has size ${cur} elsewhere`);
    }
    if (typeof cur !== 'number' && typeof d === 'number') sizes.set(l, d);
    else if (typeof cur !== 'number') sizes.set(l, fresh());
  }));
  return sizes;
}

const einsum: OpSchema = {
  name: 'Einsum', since: 12, inputs: [1, Infinity], outputs: [1, 1],
  attrs: { equation: { kind: 'string', required: true } },
  infer(ctx) {
    const ts: TensorType[] = [];
    for (let i = 0; i < ctx.inputCount; i++) ts.push(ctx.tensorInput(i));
    checkDtype(ts[0]!, ALL_NUMERIC_NO_BF16);
    for (const t of ts) if (t.dtype !== ts[0]!.dtype) throw new TesseraError(`input types differ: ${ts[0]!.dtype} and ${t.dtype}`);
    if (ts.some((t) => !t.shape)) return [tensorType(ts[0]!.dtype, undefined)];
    const shapes = ts.map((t) => t.shape!);
    const plan = planEinsum(ctx.attrs.string('equation'), shapes.map((s) => s.length));
    const sizes = einsumSizes<Dim>(plan, shapes, ctx.freshDim);
    return [tensorType(ts[0]!.dtype, plan.outputLabels.map((l) => sizes.get(l) ?? 1))];
  },
  run(ctx) {
    const xs: Tensor[] = [];
    for (let i = 0; i < ctx.inputCount; i++) xs.push(ctx.tensor(i));
    const dtype = xs[0]!.dtype;
    for (const t of xs) if (t.dtype !== dtype) throw new TesseraError(`input types differ: ${dtype} and ${t.dtype}`);
    const plan = planEinsum(ctx.attrs.string('equation'), xs.map((t) => t.rank));
    const sizes = einsumSizes<number>(plan, xs.map((t) => t.shape), () => 0);
    return [einsumKernel(plan, sizes, xs, dtype)];
  },
};

function einsumKernel(plan: EinsumPlan, sizes: Map<number, number>, xs: Tensor[], dtype: DType): Tensor {
  const outLabels = plan.outputLabels;
  const contracted = [...sizes.keys()].filter((l) => !outLabels.includes(l));
  // Output labels outermost, contracted ones innermost: each output element is one contiguous run of the loop.
  const loop = [...outLabels, ...contracted];
  if (loop.length === 0) loop.push(-1); // all-scalar operands: one iteration
  const sz = loop.map((l) => sizes.get(l) ?? 1);
  const outShape = outLabels.map((l) => sizes.get(l) ?? 1);
  const outSize = checkShape(outShape, 'Einsum output');
  let inner = 1;
  for (const l of contracted) inner *= sizes.get(l)!;
  const nIn = xs.length, nL = loop.length;
  // Per input and loop label, the element stride (repeated labels add up: a diagonal; broadcast dims step 0).
  const st = new Int32Array(nIn * nL);
  xs.forEach((t, k) => {
    const strides = stridesOf(t.shape);
    plan.inputLabels[k]!.forEach((l, j) => {
      if (t.shape[j] !== 1) st[k * nL + loop.indexOf(l)] += strides[j]!;
    });
  });
  const out = allocData(dtype, outSize);
  if (outSize === 0 || inner === 0) return new Tensor(dtype, outShape, out);
  checkWork(outSize * inner * nIn, 'Einsum');

  // Rows: an odometer walks every label but the last; each row runs the last label in a tight loop and
  // either sums into one output element (last label contracted) or fills rowLen output elements.
  const last = nL - 1, rowLen = sz[last]!;
  const sumsRow = contracted.length > 0;
  const nRows = (outSize * inner) / rowLen;
  const rowStep = Array.from({ length: nIn }, (_, k) => st[k * nL + last]!);
  const offs = new Int32Array(nIn);
  const idx = new Int32Array(nL);
  const nextRow = () => {
    for (let d = last - 1; d >= 0; d--) {
      idx[d]!++;
      for (let k = 0; k < nIn; k++) offs[k] += st[k * nL + d]!;
      if (idx[d]! < sz[d]!) return;
      for (let k = 0; k < nIn; k++) offs[k] -= st[k * nL + d]! * sz[d]!;
      idx[d] = 0;
    }
  };

  if (isBigInt(dtype)) {
    const ds = xs.map((t) => t.data as BigInt64Array);
    const acc = new Array<bigint>(outSize).fill(0n);
    const pos = new Array<number>(nIn);
    for (let r = 0; r < nRows; r++) {
      for (let k = 0; k < nIn; k++) pos[k] = offs[k]!;
      const o0 = sumsRow ? Math.floor((r * rowLen) / inner) : r * rowLen;
      for (let s = 0; s < rowLen; s++) {
        let p = 1n;
        for (let k = 0; k < nIn; k++) { p *= ds[k]![pos[k]!]!; pos[k]! += rowStep[k]!; }
        if (sumsRow) acc[o0] = acc[o0]! + p; else acc[o0 + s] = p;
      }
      nextRow();
    }
    const o = out as BigInt64Array;
    for (let i = 0; i < outSize; i++) o[i] = acc[i]!; // the typed array wraps to 64 bits
  } else if (isFloat(dtype)) {
    const ds = xs.map((t) => t.data as FloatArray);
    const acc = new Float64Array(outSize);
    const pos = new Int32Array(nIn);
    for (let r = 0; r < nRows; r++) {
      const o0 = sumsRow ? Math.floor((r * rowLen) / inner) : r * rowLen;
      if (nIn === 2) {
        const a = ds[0]!, b = ds[1]!, sa = rowStep[0]!, sb = rowStep[1]!;
        let ia = offs[0]!, ib = offs[1]!;
        if (sumsRow) {
          let sum = 0;
          for (let s = 0; s < rowLen; s++, ia += sa, ib += sb) sum += a[ia]! * b[ib]!;
          acc[o0] += sum;
        } else for (let s = 0; s < rowLen; s++, ia += sa, ib += sb) acc[o0 + s] = a[ia]! * b[ib]!;
      } else {
        pos.set(offs);
        for (let s = 0; s < rowLen; s++) {
          let p = 1;
          for (let k = 0; k < nIn; k++) { p *= ds[k]![pos[k]!]!; pos[k]! += rowStep[k]!; }
          if (sumsRow) acc[o0] += p; else acc[o0 + s] = p;
        }
      }
      nextRow();
    }
    (out as FloatArray).set(acc);
    roundFloatsInPlace(dtype, out);
  } else {
    // 32-bit and narrower integers: wrapping multiply-add; the typed array's store wraps narrower types.
    const ds = xs.map((t) => t.data as Int32Array);
    const acc = new Int32Array(outSize);
    const pos = new Int32Array(nIn);
    for (let r = 0; r < nRows; r++) {
      const o0 = sumsRow ? Math.floor((r * rowLen) / inner) : r * rowLen;
      pos.set(offs);
      for (let s = 0; s < rowLen; s++) {
        let p = 1;
        for (let k = 0; k < nIn; k++) { p = Math.imul(p, ds[k]![pos[k]!]!); pos[k]! += rowStep[k]!; }
        if (sumsRow) acc[o0] = (acc[o0]! + p) | 0; else acc[o0 + s] = p;
      }
      nextRow();
    }
    (out as Int32Array).set(acc);
  }
  return new Tensor(dtype, outShape, out);
}

// ---------- Det ----------

const det: OpSchema = {
  name: 'Det', since: 11, inputs: [1, 1], outputs: [1, 1],
  infer(ctx) {
    const t = ctx.tensorInput(0);
    checkDtype(t, F3);
    if (!t.shape) return [tensorType(t.dtype, undefined)];
    const r = t.shape.length;
    if (r < 2) throw new TesseraError(`input must have rank >= 2, got ${r}`);
    const [m, n] = [t.shape[r - 2]!, t.shape[r - 1]!];
    if (typeof m === 'number' && typeof n === 'number' && m !== n) throw new TesseraError(`input matrices must be square, got ${m}x${n}`);
    return [tensorType(t.dtype, t.shape.slice(0, r - 2))];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    const r = x.rank;
    if (r < 2) throw new TesseraError(`input must have rank >= 2, got ${r}`);
    const m = x.shape[r - 1]!;
    if (x.shape[r - 2] !== m) throw new TesseraError(`input matrices must be square, got ${x.shape[r - 2]}x${m}`);
    const batch = sizeOf(x.shape.slice(0, r - 2));
    checkWork(batch * m * m * m, 'Det');
    const xs = toFloat64(x);
    const a = new Float64Array(m * m);
    const res = new Float64Array(batch);
    for (let b = 0; b < batch; b++) {
      a.set(xs.subarray(b * m * m, (b + 1) * m * m));
      res[b] = luDeterminant(a, m);
    }
    return [fromFloat64(x.dtype, x.shape.slice(0, r - 2), res)];
  },
};

/** Determinant by LU decomposition with partial pivoting (destroys `a`). */
function luDeterminant(a: Float64Array, m: number): number {
  let detv = 1;
  for (let c = 0; c < m; c++) {
    let p = c, best = Math.abs(a[c * m + c]!);
    for (let r = c + 1; r < m; r++) { const v = Math.abs(a[r * m + c]!); if (v > best) { best = v; p = r; } }
    if (best === 0) return 0;
    if (p !== c) {
      for (let j = 0; j < m; j++) { const t = a[c * m + j]!; a[c * m + j] = a[p * m + j]!; a[p * m + j] = t; }
      detv = -detv;
    }
    const piv = a[c * m + c]!;
    detv *= piv;
    for (let r = c + 1; r < m; r++) {
      const f = a[r * m + c]! / piv;
      if (f === 0) continue;
      for (let j = c + 1; j < m; j++) a[r * m + j] -= f * a[c * m + j]!;
    }
  }
  return detv;
}

// ---------- registration ----------

registerOps([
  // ReduceSum takes axes as an input from opset 13, the others from 18 (exported by recent converters).
  ...REDUCE_OPS.flatMap(([name, kind]) => reduceSchemas(name, kind, [[1, REDUCE_V1], [11, REDUCE_V1], [13, REDUCE_V13], [18, REDUCE_V13]], 18)),
  ...reduceSchemas('ReduceSum', 'sum', [[1, REDUCE_V1], [11, REDUCE_V1], [13, REDUCE_V13]], 13),
  ...reduceSchemas('ReduceMax', 'max', [[1, REDUCE_V1], [11, REDUCE_V1], [12, MINMAX_V12], [13, MINMAX_V13], [18, MINMAX_V13]], 18),
  ...reduceSchemas('ReduceMin', 'min', [[1, REDUCE_V1], [11, REDUCE_V1], [12, MINMAX_V12], [13, MINMAX_V13], [18, MINMAX_V13]], 18),
  ...argSchemas('ArgMax', true),
  ...argSchemas('ArgMin', false),
  ...softmaxSchemas('Softmax', 'softmax'),
  ...softmaxSchemas('LogSoftmax', 'logsoftmax'),
  ...softmaxSchemas('Hardmax', 'hardmax'),
  ...cumsumSchemas(),
  ...topkSchemas(),
  layerNormalization,
  ...mvnSchemas(),
  lpNormalization,
  ...nllSchemas(),
  ...sceSchemas(),
  einsum,
  det,
]);
