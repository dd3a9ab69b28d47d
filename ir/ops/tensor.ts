// Tensor manipulation ops: constants, shapes and layout, slicing, indexing (gather/scatter), padding,
// tiling, and the small generators (Range, OneHot, EyeLike, Trilu, Unique, NonZero).
//
// Data movement is expressed as strided views where possible: an output shape plus, for each output
// axis, the input stride to step by (0 to repeat, negative to walk backwards). One kernel (stridedCopy)
// then serves Transpose, Slice, Expand, Tile, DepthToSpace and SpaceToDepth.
import {
  allocData, dtypeFromOnnx, FLOAT_DTYPES, isBigInt, roundBf16, roundF16, type DType, type TensorData,
} from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import {
  registerOps, type AttrSpec, type InferContext, type OpSchema, type RunContext,
} from '../registry.ts';
import { checkShape, sizeOf, stridesOf, Tensor, type RuntimeValue } from '../tensor.ts';
import { tensorType, type Dim, type TensorType, type ValueType } from '../types.ts';
import { broadcastDims, broadcastShapes, normAxis } from './util.ts';

type AnyArray = any; // typed array or string[]: element access is uniform, storage differs per dtype

const INDEX_DTYPES: readonly DType[] = ['i32', 'i64'];
const INT32_MAX = 2 ** 31 - 1;
const RANGE_DTYPES: readonly DType[] = ['f32', 'f64', 'i16', 'i32', 'i64'];

// ---------------------------------------------------------------- small helpers

/** Whether optional input i was given (not omitted, not an empty name). */
function hasInput(ctx: InferContext | RunContext, i: number): boolean {
  const v = ctx.node.inputs[i];
  return i < ctx.inputCount && v !== null && v !== undefined && v.name !== '';
}

/** Checks the element type of a tensor or tensor type. */
function checkDtype(t: { dtype: DType }, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(t.dtype)) throw new TesseraError(`${what} has type ${t.dtype}, expected ${allowed.join(' or ')}`);
}

/** Elements of an integer tensor as JS numbers (64-bit values beyond 2^53 lose precision, which only matters for clamped bounds). */
function intValues(t: Tensor, what: string, allowed: readonly DType[] = INDEX_DTYPES): number[] {
  checkDtype(t, allowed, what);
  return t.toNumbers();
}

/** Elements of a numeric tensor as JS numbers (Split-1 takes its lengths in the data's float type). */
function numericValues(t: Tensor, what: string): number[] {
  if (t.dtype === 'string') throw new TesseraError(`${what} must be numeric, got ${t.dtype}`);
  return t.toNumbers();
}

/** A scalar (or one-element) tensor's value as a number. */
function scalarNumber(t: Tensor, what: string): number {
  if (t.size !== 1) throw new TesseraError(`${what} must have exactly one element, got shape [${t.shape.join(',')}]`);
  return t.num(0);
}

/** Constant integer input values at inference time; undefined when absent or not known. */
function constInts(ctx: InferContext, i: number): number[] | undefined {
  if (!hasInput(ctx, i)) return undefined;
  const c = ctx.constant(i);
  return c && c.dtype !== 'string' ? c.toNumbers() : undefined;
}

/** The number of elements of a 1-D input when its shape is statically known. */
function staticLength(ctx: InferContext, i: number): number | undefined {
  const t = ctx.tensorInput(i);
  if (!t.shape) return undefined;
  if (t.shape.length !== 1) return t.shape.length === 0 ? 1 : undefined;
  return typeof t.shape[0] === 'number' ? t.shape[0] : undefined;
}

function freshDims(ctx: InferContext, n: number): Dim[] {
  return Array.from({ length: n }, () => ctx.freshDim());
}

/** Product of dims: a number when all static; the symbol itself when it is the only non-1 factor. */
function dimProduct(ctx: InferContext, dims: readonly Dim[]): Dim {
  let n = 1;
  const syms: Dim[] = [];
  for (const d of dims) {
    if (typeof d === 'number') n *= d; else syms.push(d);
  }
  if (syms.length === 0) return n;
  if (n === 0) return 0;
  if (syms.length === 1 && n === 1) return syms[0]!;
  return ctx.freshDim();
}

/** Prefers a static dim over a symbolic one when two dims must agree; error when two static dims differ. */
function unifyDim(a: Dim, b: Dim, what: () => string): Dim {
  if (typeof a === 'number' && typeof b === 'number' && a !== b) throw new TesseraError(what());
  return typeof a === 'number' ? a : b;
}

/** Normalizes and validates a list of axes (range, duplicates). */
function normAxes(axes: readonly number[], rank: number, what = 'axis'): number[] {
  const out = axes.map((a) => normAxis(a, rank, what));
  const seen = new Set<number>();
  for (let i = 0; i < out.length; i++) {
    if (seen.has(out[i]!)) throw new TesseraError(`${what} ${axes[i]} is repeated`);
    seen.add(out[i]!);
  }
  return out;
}

/** Converts a JS value to the storage domain of dtype d (f16/bf16 rounded, ints truncated). */
function storageValue(d: DType, v: number | bigint | boolean | string): number | bigint | string {
  if (d === 'string') return String(v);
  if (isBigInt(d)) {
    if (typeof v === 'bigint') return d === 'i64' ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
    const n = Number(v);
    if (!Number.isFinite(n)) return 0n;
    const b = BigInt(Math.trunc(n));
    return d === 'i64' ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
  }
  const n = Number(v);
  if (d === 'f16') return roundF16(n);
  if (d === 'bf16') return roundBf16(n);
  if (d === 'bool') return n !== 0 ? 1 : 0;
  // Other storage converts on store with C-like semantics (ints truncate and wrap, NaN → 0; f32 rounds).
  const one = allocData(d, 1) as AnyArray;
  one[0] = n;
  return one[0];
}

function fillData(data: TensorData, v: number | bigint | string): void {
  (data as AnyArray).fill(v);
}

/** Copies len elements src[srcOff..] → dst[dstOff..]; typed arrays use bulk copies. */
function copyBlock(dst: TensorData, dstOff: number, src: TensorData, srcOff: number, len: number): void {
  if (len <= 0) return;
  if (Array.isArray(dst)) {
    const s = src as string[];
    for (let i = 0; i < len; i++) dst[dstOff + i] = s[srcOff + i]!;
  } else if (len < 16) {
    const d = dst as AnyArray, s = src as AnyArray;
    for (let i = 0; i < len; i++) d[dstOff + i] = s[srcOff + i];
  } else {
    (dst as AnyArray).set((src as AnyArray).subarray(srcOff, srcOff + len), dstOff);
  }
}

/**
 * Materializes a strided view of `src`: output element at multi-index i reads src[offset + Σ i_d·strides_d].
 * Adjacent axes that are contiguous in the source are merged first so the inner loop is as long as possible.
 */
function stridedCopy(dtype: DType, src: TensorData, outShape: readonly number[], strides: readonly number[], offset: number): TensorData {
  const n = checkShape(outShape, 'output');
  const out = allocData(dtype, n) as AnyArray;
  if (n === 0) return out;
  const sizes: number[] = [], steps: number[] = [];
  for (let d = 0; d < outShape.length; d++) {
    if (outShape[d] === 1) continue;
    const k = sizes.length;
    if (k > 0 && steps[k - 1] === strides[d]! * outShape[d]!) {
      sizes[k - 1] = sizes[k - 1]! * outShape[d]!;
      steps[k - 1] = strides[d]!;
    } else {
      sizes.push(outShape[d]!);
      steps.push(strides[d]!);
    }
  }
  const s = src as AnyArray;
  const rank = sizes.length;
  if (rank === 0) { out[0] = s[offset]; return out; }
  const last = sizes[rank - 1]!, step = steps[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let base = offset, o = 0;
  const bulk = step === 1 && !Array.isArray(src) && last >= 16;
  for (;;) {
    if (bulk) out.set(s.subarray(base, base + last), o);
    else for (let j = 0, p = base; j < last; j++, p += step) out[o + j] = s[p];
    o += last;
    let d = rank - 2;
    for (; d >= 0; d--) {
      base += steps[d]!;
      if (++idx[d]! < sizes[d]!) break;
      base -= steps[d]! * sizes[d]!;
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return out;
}

/** Data of x viewed with shape viewShape (same element count) and axes permuted by perm. */
function permuteView(x: Tensor, viewShape: readonly number[], perm: readonly number[]): { shape: number[]; data: TensorData } {
  const st = stridesOf(viewShape);
  const shape = perm.map((p) => viewShape[p]!);
  return { shape, data: stridedCopy(x.dtype, x.data, shape, perm.map((p) => st[p]!), 0) };
}

/** Element-wise combination used by Scatter* reductions, with the dtype's wrap/rounding on each step. */
function reducer(dtype: DType, reduction: string, allowed: readonly string[]): ((a: any, b: any) => any) | undefined {
  if (reduction === 'none') return undefined;
  if (!allowed.includes(reduction)) throw new TesseraError(`unknown reduction '${reduction}' (expected none, ${allowed.join(', ')})`);
  if (dtype === 'string') throw new TesseraError(`reduction '${reduction}' is not defined for string tensors`);
  const round = dtype === 'f16' ? roundF16 : dtype === 'bf16' ? roundBf16 : undefined;
  switch (reduction) {
    case 'add':
      if (dtype === 'bool') return (a, b) => a | b;
      return round ? (a, b) => round(a + b) : (a, b) => a + b;
    case 'mul':
      if (dtype === 'bool') return (a, b) => a & b;
      if (dtype === 'i32' || dtype === 'u32') return (a, b) => Math.imul(a, b);
      return round ? (a, b) => round(a * b) : (a, b) => a * b;
    case 'max':
      return (a, b) => (b > a || b !== b ? b : a); // NaN propagates, as in numpy.maximum
    case 'min':
      return (a, b) => (b < a || b !== b ? b : a);
    default:
      throw new TesseraError(`unknown reduction '${reduction}'`);
  }
}

/** Normalizes an index against a dimension (negative counts from the end); error when out of range. */
function normIndex(i: number, dim: number, axis: number): number {
  const j = i < 0 ? i + dim : i;
  if (!(j >= 0 && j < dim)) throw new TesseraError(`indices value ${i} is out of bounds for axis ${axis} of size ${dim}`);
  return j;
}

// ---------------------------------------------------------------- Constant, Identity

const CONSTANT_VALUE_ATTRS = ['value', 'sparse_value', 'value_float', 'value_floats', 'value_int', 'value_ints', 'value_string', 'value_strings'];

function constantValue(ctx: InferContext | RunContext): Tensor {
  const present = CONSTANT_VALUE_ATTRS.filter((a) => ctx.attrs.has(a));
  if (present.length !== 1) {
    throw new TesseraError(present.length === 0
      ? 'Constant needs a value attribute'
      : `Constant must have exactly one value attribute, got ${present.join(', ')}`);
  }
  const a = ctx.attrs;
  switch (present[0]) {
    case 'value': case 'sparse_value': return a.tensor(present[0])!;
    case 'value_float': return Tensor.scalar('f32', a.float('value_float'));
    case 'value_floats': { const v = a.floats('value_floats')!; return Tensor.from('f32', [v.length], v); }
    case 'value_int': return Tensor.scalar('i64', a.int('value_int'));
    case 'value_ints': { const v = a.ints('value_ints')!; return Tensor.from('i64', [v.length], v); }
    case 'value_string': return Tensor.scalar('string', a.string('value_string'));
    default: { const v = a.strings('value_strings')!; return Tensor.from('string', [v.length], v); }
  }
}

function constantSchema(since: number, attrs: Record<string, AttrSpec>): OpSchema {
  return {
    name: 'Constant', since, inputs: [0, 0], outputs: [1, 1], attrs,
    infer: (ctx) => { const t = constantValue(ctx); return [tensorType(t.dtype, [...t.shape])]; },
    run: (ctx) => [constantValue(ctx)],
  };
}

const CONSTANT_12_ATTRS: Record<string, AttrSpec> = {
  value: { kind: 'tensor' }, sparse_value: { kind: 'tensor' },
  value_float: { kind: 'float' }, value_floats: { kind: 'floats' },
  value_int: { kind: 'int' }, value_ints: { kind: 'ints' },
  value_string: { kind: 'string' }, value_strings: { kind: 'strings' },
};

// ---------------------------------------------------------------- Reshape and friends

/** Resolves a Reshape target against a concrete input shape (0 copies, -1 infers). */
function reshapeTarget(inShape: readonly number[], target: readonly number[], allowZero: boolean): number[] {
  const out = [...target];
  let inferAt = -1, known = 1;
  for (let i = 0; i < out.length; i++) {
    const d = out[i]!;
    if (d === -1) {
      if (inferAt >= 0) throw new TesseraError(`shape [${target.join(',')}] has more than one -1`);
      inferAt = i;
      continue;
    }
    if (d === 0 && !allowZero) {
      if (i >= inShape.length) throw new TesseraError(`shape [${target.join(',')}] copies dimension ${i} (0) but the input has rank ${inShape.length}`);
      out[i] = inShape[i]!;
    } else if (d < 0 || !Number.isInteger(d)) {
      throw new TesseraError(`shape [${target.join(',')}] has invalid dimension ${d}`);
    }
    known *= out[i]!;
  }
  const total = sizeOf(inShape);
  if (inferAt >= 0) {
    if (known === 0) throw new TesseraError(`cannot infer the -1 dimension of shape [${target.join(',')}]: the other dimensions have a zero product`);
    if (total % known !== 0) throw new TesseraError(`cannot reshape [${inShape.join(',')}] (${total} elements) to [${target.join(',')}]`);
    out[inferAt] = total / known;
  } else if (known !== total) {
    throw new TesseraError(`cannot reshape [${inShape.join(',')}] (${total} elements) to [${target.join(',')}] (${known} elements)`);
  }
  return out;
}

/** Reshape inference over symbolic dims: symbols copied by 0 or matched on both sides cancel out for -1. */
function inferReshape(ctx: InferContext, input: TensorType, target: readonly number[], allowZero: boolean): Dim[] {
  const inDims = input.shape;
  const out: Dim[] = [];
  let inferAt = -1;
  for (let i = 0; i < target.length; i++) {
    const d = target[i]!;
    if (d === -1) {
      if (inferAt >= 0) throw new TesseraError(`shape [${target.join(',')}] has more than one -1`);
      inferAt = i; out.push(-1); continue;
    }
    if (d < -1 || !Number.isInteger(d)) throw new TesseraError(`shape [${target.join(',')}] has invalid dimension ${d}`);
    if (d === 0 && !allowZero) {
      if (!inDims) { out.push(ctx.freshDim()); continue; }
      if (i >= inDims.length) throw new TesseraError(`shape [${target.join(',')}] copies dimension ${i} (0) but the input has rank ${inDims.length}`);
      out.push(inDims[i]!);
    } else out.push(d);
  }
  if (inDims && inferAt < 0 && inDims.every((d) => typeof d === 'number') && out.every((d) => typeof d === 'number')) {
    reshapeTarget(inDims as number[], target, allowZero); // validates the element count
  }
  if (inferAt < 0) return out;
  if (!inDims) { out[inferAt] = ctx.freshDim(); return out; }
  // Cancel symbols that appear on both sides; what remains must be static for -1 to be known.
  const remaining = new Map<string, number>();
  let inStatic = 1;
  for (const d of inDims) {
    if (typeof d === 'number') inStatic *= d;
    else remaining.set(d, (remaining.get(d) ?? 0) + 1);
  }
  let outStatic = 1, resolvable = true;
  out.forEach((d, i) => {
    if (i === inferAt) return;
    if (typeof d === 'number') { outStatic *= d; return; }
    const c = remaining.get(d) ?? 0;
    if (c > 0) remaining.set(d, c - 1); else resolvable = false;
  });
  for (const c of remaining.values()) if (c > 0) resolvable = false;
  if (resolvable && outStatic !== 0 && inStatic % outStatic === 0) out[inferAt] = inStatic / outStatic;
  else if (resolvable && outStatic !== 0) throw new TesseraError(`cannot reshape [${inDims.join(',')}] to [${target.join(',')}]`);
  else out[inferAt] = ctx.freshDim();
  return out;
}

function reshapeSchema(since: number): OpSchema {
  const fromAttr = since < 5;
  const attrs: Record<string, AttrSpec> = fromAttr
    ? { shape: { kind: 'ints' }, consumed_inputs: { kind: 'ints' } }
    : since >= 14 ? { allowzero: { kind: 'int', default: 0 } } : {};
  const targetOf = (ctx: InferContext | RunContext): number[] | undefined => {
    if (fromAttr) {
      const s = ctx.attrs.ints('shape');
      if (!s) throw new TesseraError(`Reshape needs a 'shape' attribute`);
      return s;
    }
    return undefined;
  };
  return {
    name: 'Reshape', since, inputs: fromAttr ? [1, 1] : [2, 2], outputs: [1, 1], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const allowZero = since >= 14 && ctx.attrs.int('allowzero') !== 0;
      let target = targetOf(ctx);
      if (!fromAttr) {
        const s = ctx.tensorInput(1);
        checkDtype(s, ['i64'], 'shape');
        if (s.shape && s.shape.length !== 1) throw new TesseraError(`shape must be 1-D, got rank ${s.shape.length}`);
        target = constInts(ctx, 1);
        if (!target) {
          const n = staticLength(ctx, 1);
          return [tensorType(x.dtype, n === undefined ? undefined : freshDims(ctx, n))];
        }
      }
      return [tensorType(x.dtype, inferReshape(ctx, x, target!, allowZero))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const allowZero = since >= 14 && ctx.attrs.int('allowzero') !== 0;
      const target = fromAttr ? targetOf(ctx)! : intValues(ctx.tensor(1), 'shape', ['i64']);
      return [x.reshape(reshapeTarget(x.shape, target, allowZero))];
    },
  };
}

/** Shape's [start, end) after clamping (opset 15 semantics; earlier versions take the whole shape). */
function shapeRange(ctx: InferContext | RunContext, rank: number, sliced: boolean): [number, number] {
  if (!sliced) return [0, rank];
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(ctx.attrs.int('start'));
  const end = ctx.attrs.has('end') ? clamp(ctx.attrs.int('end')) : rank;
  return [start, Math.max(start, end)];
}

function shapeSchema(since: number): OpSchema {
  const sliced = since >= 15;
  return {
    name: 'Shape', since, inputs: [1, 1], outputs: [1, 1],
    attrs: sliced ? { start: { kind: 'int', default: 0 }, end: { kind: 'int' } } : {},
    infer(ctx) {
      const x = ctx.tensorInput(0);
      if (!x.shape) return [tensorType('i64', [ctx.freshDim()])];
      const [s, e] = shapeRange(ctx, x.shape.length, sliced);
      return [tensorType('i64', [e - s])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const [s, e] = shapeRange(ctx, x.rank, sliced);
      return [Tensor.from('i64', [e - s], x.shape.slice(s, e))];
    },
    constantOutputs(ctx) {
      const x = ctx.tensorInput(0);
      if (!x.shape) return [undefined];
      const [s, e] = shapeRange(ctx, x.shape.length, sliced);
      const dims = x.shape.slice(s, e);
      return [dims.every((d) => typeof d === 'number') ? Tensor.from('i64', [dims.length], dims as number[]) : undefined];
    },
  };
}

function sizeSchema(since: number): OpSchema {
  return {
    name: 'Size', since, inputs: [1, 1], outputs: [1, 1], attrs: {},
    infer: () => [tensorType('i64', [])],
    run: (ctx) => [Tensor.scalar('i64', ctx.tensor(0).size)],
    constantOutputs(ctx) {
      const x = ctx.tensorInput(0);
      return [x.shape && x.shape.every((d) => typeof d === 'number') ? Tensor.scalar('i64', sizeOf(x.shape as number[])) : undefined];
    },
  };
}

function flattenSchema(since: number): OpSchema {
  // Negative axes are formally opset 11+, but older exporters emit them and runtimes accept them.
  const axisOf = (axis: number, rank: number): number => {
    if (!Number.isInteger(axis) || axis < -rank || axis > rank) throw new TesseraError(`axis ${axis} is out of range for rank ${rank} (accepted: [${-rank}, ${rank}])`);
    return axis < 0 ? axis + rank : axis;
  };
  return {
    name: 'Flatten', since, inputs: [1, 1], outputs: [1, 1], attrs: { axis: { kind: 'int', default: 1 } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      if (!x.shape) return [tensorType(x.dtype, [ctx.freshDim(), ctx.freshDim()])];
      const a = axisOf(ctx.attrs.int('axis'), x.shape.length);
      return [tensorType(x.dtype, [dimProduct(ctx, x.shape.slice(0, a)), dimProduct(ctx, x.shape.slice(a))])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const a = axisOf(ctx.attrs.int('axis'), x.rank);
      return [x.reshape([sizeOf(x.shape.slice(0, a)), sizeOf(x.shape.slice(a))])];
    },
  };
}

// ---------------------------------------------------------------- Squeeze / Unsqueeze

function squeezeSchema(since: number): OpSchema {
  const axesInput = since >= 13;
  /** Axes to squeeze at inference time: undefined for "all 1-dims", 'unknown' when not constant. */
  const inferAxes = (ctx: InferContext): number[] | undefined | 'unknown' => {
    if (!axesInput) return ctx.attrs.ints('axes');
    if (!hasInput(ctx, 1)) return undefined;
    checkDtype(ctx.tensorInput(1), ['i64'], 'axes');
    return constInts(ctx, 1) ?? 'unknown';
  };
  const runAxes = (ctx: RunContext): number[] | undefined => {
    if (!axesInput) return ctx.attrs.ints('axes');
    const t = ctx.optTensor(1);
    return t ? intValues(t, 'axes', ['i64']) : undefined;
  };
  return {
    name: 'Squeeze', since, inputs: axesInput ? [1, 2] : [1, 1], outputs: [1, 1],
    attrs: axesInput ? {} : { axes: { kind: 'ints' } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const axes = inferAxes(ctx);
      if (!x.shape || axes === 'unknown') {
        const n = axesInput && hasInput(ctx, 1) ? staticLength(ctx, 1) : undefined;
        return [tensorType(x.dtype, x.shape && n !== undefined ? freshDims(ctx, x.shape.length - n) : undefined)];
      }
      if (axes === undefined) {
        if (x.shape.some((d) => typeof d !== 'number')) return [tensorType(x.dtype, undefined)];
        return [tensorType(x.dtype, x.shape.filter((d) => d !== 1))];
      }
      const drop = new Set(normAxes(axes, x.shape.length));
      for (const a of drop) {
        const d = x.shape[a]!;
        if (typeof d === 'number' && d !== 1) throw new TesseraError(`cannot squeeze axis ${a} of size ${d}`);
      }
      return [tensorType(x.dtype, x.shape.filter((_, i) => !drop.has(i)))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const axes = runAxes(ctx);
      if (axes === undefined) return [x.reshape(x.shape.filter((d) => d !== 1))];
      const drop = new Set(normAxes(axes, x.rank));
      for (const a of drop) if (x.shape[a] !== 1) throw new TesseraError(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
      return [x.reshape(x.shape.filter((_, i) => !drop.has(i)))];
    },
  };
}

function unsqueezeShape<D extends Dim>(shape: readonly D[], axes: readonly number[]): (D | 1)[] {
  const rank = shape.length + axes.length;
  const ins = new Set(normAxes(axes, rank));
  const out: (D | 1)[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ins.has(i) ? 1 : shape[j++]!);
  return out;
}

function unsqueezeSchema(since: number): OpSchema {
  const axesInput = since >= 13;
  return {
    name: 'Unsqueeze', since, inputs: axesInput ? [2, 2] : [1, 1], outputs: [1, 1],
    attrs: axesInput ? {} : { axes: { kind: 'ints', required: true } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      let axes: number[] | undefined;
      if (axesInput) {
        checkDtype(ctx.tensorInput(1), ['i64'], 'axes');
        axes = constInts(ctx, 1);
      } else axes = ctx.attrs.ints('axes');
      if (!x.shape) return [tensorType(x.dtype, undefined)];
      if (!axes) {
        const n = staticLength(ctx, 1);
        return [tensorType(x.dtype, n === undefined ? undefined : freshDims(ctx, x.shape.length + n))];
      }
      return [tensorType(x.dtype, unsqueezeShape(x.shape, axes))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const axes = axesInput ? intValues(ctx.tensor(1), 'axes', ['i64']) : ctx.attrs.ints('axes')!;
      return [x.reshape(unsqueezeShape(x.shape, axes))];
    },
  };
}

// ---------------------------------------------------------------- Transpose

function permOf(ctx: InferContext | RunContext, rank: number): number[] {
  const perm = ctx.attrs.ints('perm');
  if (!perm) return Array.from({ length: rank }, (_, i) => rank - 1 - i);
  if (perm.length !== rank) throw new TesseraError(`perm [${perm.join(',')}] has ${perm.length} entries for rank ${rank}`);
  const seen = new Set<number>();
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen.has(p)) throw new TesseraError(`perm [${perm.join(',')}] is not a permutation of 0..${rank - 1}`);
    seen.add(p);
  }
  return perm;
}

function transposeSchema(since: number): OpSchema {
  return {
    name: 'Transpose', since, inputs: [1, 1], outputs: [1, 1], attrs: { perm: { kind: 'ints' } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      if (!x.shape) {
        const perm = ctx.attrs.ints('perm');
        return [tensorType(x.dtype, perm ? freshDims(ctx, perm.length) : undefined)];
      }
      return [tensorType(x.dtype, permOf(ctx, x.shape.length).map((p) => x.shape![p]!))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const perm = permOf(ctx, x.rank);
      if (perm.every((p, i) => p === i)) return [x];
      const { shape, data } = permuteView(x, x.shape, perm);
      return [new Tensor(x.dtype, shape, data)];
    },
  };
}

// ---------------------------------------------------------------- Concat / Split

function concatSchema(since: number): OpSchema {
  const axisSpec: AttrSpec = since < 4 ? { kind: 'int', default: 1 } : { kind: 'int', required: true };
  return {
    name: 'Concat', since, inputs: [1, Infinity], outputs: [1, 1], attrs: { axis: axisSpec },
    infer(ctx) {
      const ts: TensorType[] = [];
      for (let i = 0; i < ctx.inputCount; i++) ts.push(ctx.tensorInput(i));
      const dtype = ts[0]!.dtype;
      for (const t of ts) if (t.dtype !== dtype) throw new TesseraError(`inputs have different types: ${dtype} and ${t.dtype}`);
      const known = ts.filter((t) => t.shape) as (TensorType & { shape: Dim[] })[];
      if (known.length === 0) return [tensorType(dtype, undefined)];
      const rank = known[0]!.shape.length;
      for (const t of known) if (t.shape.length !== rank) throw new TesseraError(`inputs have different ranks: ${rank} and ${t.shape.length}`);
      const axis = normAxis(ctx.attrs.int('axis'), rank);
      const out: Dim[] = [...known[0]!.shape];
      for (const t of known.slice(1)) {
        for (let d = 0; d < rank; d++) {
          if (d === axis) continue;
          out[d] = unifyDim(out[d]!, t.shape[d]!, () => `inputs differ in dimension ${d}: ${out[d]} and ${t.shape[d]}`);
        }
      }
      let sum = 0;
      const allStatic = known.length === ts.length && known.every((t) => typeof t.shape[axis] === 'number');
      for (const t of known) sum += typeof t.shape[axis] === 'number' ? (t.shape[axis] as number) : 0;
      out[axis] = allStatic ? sum : ts.length === 1 ? known[0]!.shape[axis]! : ctx.freshDim();
      return [tensorType(dtype, out)];
    },
    run(ctx) {
      const ts: Tensor[] = [];
      for (let i = 0; i < ctx.inputCount; i++) ts.push(ctx.tensor(i));
      const first = ts[0]!;
      const rank = first.rank;
      const axis = normAxis(ctx.attrs.int('axis'), rank);
      const outShape = [...first.shape];
      let total = 0;
      for (const t of ts) {
        if (t.dtype !== first.dtype) throw new TesseraError(`inputs have different types: ${first.dtype} and ${t.dtype}`);
        if (t.rank !== rank) throw new TesseraError(`inputs have different ranks: ${rank} and ${t.rank}`);
        for (let d = 0; d < rank; d++) {
          if (d !== axis && t.shape[d] !== first.shape[d]) {
            throw new TesseraError(`inputs differ in dimension ${d}: [${first.shape.join(',')}] and [${t.shape.join(',')}]`);
          }
        }
        total += t.shape[axis]!;
      }
      outShape[axis] = total;
      if (ts.length === 1) return [first];
      const out = allocData(first.dtype, checkShape(outShape, 'output'));
      const outer = sizeOf(first.shape.slice(0, axis));
      const inner = sizeOf(first.shape.slice(axis + 1));
      const outRow = total * inner;
      let at = 0;
      for (const t of ts) {
        const row = t.shape[axis]! * inner;
        for (let o = 0; o < outer; o++) copyBlock(out, o * outRow + at, t.data, o * row, row);
        at += row;
      }
      return [new Tensor(first.dtype, outShape, out)];
    },
  };
}

/** Slices [start, start+len) along axis (a contiguous-block copy). */
function sliceAxis(x: Tensor, axis: number, start: number, len: number): Tensor {
  const shape = [...x.shape];
  shape[axis] = len;
  const out = allocData(x.dtype, checkShape(shape, 'output'));
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  const inRow = x.shape[axis]! * inner, outRow = len * inner;
  for (let o = 0; o < outer; o++) copyBlock(out, o * outRow, x.data, o * inRow + start * inner, outRow);
  return new Tensor(x.dtype, shape, out);
}

function splitSchema(since: number): OpSchema {
  const splitInput = since >= 13;
  const attrs: Record<string, AttrSpec> = since >= 18
    ? { axis: { kind: 'int', default: 0 }, num_outputs: { kind: 'int' } }
    : splitInput
      ? { axis: { kind: 'int', default: 0 } }
      : { axis: { kind: 'int', default: 0 }, split: { kind: 'ints' } };
  /** Validates num_outputs (opset 18) against the node's output count. */
  const numOutputs = (ctx: InferContext | RunContext, hasSplit: boolean): void => {
    if (since < 18 || !ctx.attrs.has('num_outputs')) return;
    const k = ctx.attrs.int('num_outputs');
    if (hasSplit) throw new TesseraError(`give either the split input or num_outputs, not both`);
    if (k !== ctx.node.outputs.length) throw new TesseraError(`num_outputs is ${k} but the node has ${ctx.node.outputs.length} outputs`);
  };
  /** Part sizes for a dimension of `dim` into n outputs, given explicit sizes or not. */
  const parts = (dim: number, n: number, split: number[] | undefined): number[] => {
    if (split) {
      if (split.length !== n) throw new TesseraError(`split has ${split.length} entries but the node has ${n} outputs`);
      if (split.some((s) => s < 0 || !Number.isInteger(s))) throw new TesseraError(`split [${split.join(',')}] has a negative entry`);
      const sum = split.reduce((a, b) => a + b, 0);
      if (sum !== dim) throw new TesseraError(`split [${split.join(',')}] sums to ${sum}, but the axis has size ${dim}`);
      return split;
    }
    // Without lengths: chunks of ceil(dim / n), the last one taking what is left (equal parts when dim
    // divides evenly; the ONNX reference applies the same rule to every version).
    const chunk = Math.ceil(dim / n);
    const last = dim - chunk * (n - 1);
    if (last < 0) throw new TesseraError(`axis of size ${dim} cannot be split into ${n} parts of ${chunk}`);
    return [...new Array<number>(n - 1).fill(chunk), last];
  };
  return {
    name: 'Split', since, inputs: since < 2 || splitInput ? [1, 2] : [1, 1], outputs: [1, Infinity], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const n = ctx.node.outputs.length;
      let split: number[] | undefined = splitInput ? undefined : ctx.attrs.ints('split');
      let splitKnown = true;
      if (hasInput(ctx, 1)) {
        const s = ctx.tensorInput(1);
        if (since >= 2) checkDtype(s, ['i64'], 'split');
        split = constInts(ctx, 1);
        splitKnown = split !== undefined;
      }
      numOutputs(ctx, hasInput(ctx, 1));
      if (!x.shape) return new Array(n).fill(tensorType(x.dtype, undefined));
      const axis = normAxis(ctx.attrs.int('axis'), x.shape.length);
      const dim = x.shape[axis]!;
      let sizes: Dim[];
      if (!splitKnown) sizes = freshDims(ctx, n);
      else if (typeof dim === 'number') sizes = parts(dim, n, split);
      else if (split) sizes = split;
      else sizes = n === 1 ? [dim] : freshDims(ctx, n);
      return sizes.map((s) => { const sh = [...x.shape!]; sh[axis] = s; return tensorType(x.dtype, sh); });
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const n = ctx.node.outputs.length;
      const axis = normAxis(ctx.attrs.int('axis'), x.rank);
      let split = splitInput ? undefined : ctx.attrs.ints('split');
      const st = ctx.optTensor(1);
      if (st && (since < 2 || splitInput)) split = since < 2 ? numericValues(st, 'split') : intValues(st, 'split', ['i64']);
      numOutputs(ctx, st !== undefined);
      const sizes = parts(x.shape[axis]!, n, split);
      let at = 0;
      return sizes.map((len) => { const t = sliceAxis(x, axis, at, len); at += len; return t; });
    },
  };
}

// ---------------------------------------------------------------- Slice

interface AxisSlice { first: number; count: number; step: number }

/** numpy-style slice of one axis: negative bounds count from the end, then clamp by step direction. */
function sliceBounds(dim: number, start: number, end: number, step: number): AxisSlice {
  if (step === 0 || !Number.isFinite(step)) throw new TesseraError('slice step cannot be 0');
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  let count: number;
  if (step > 0) {
    start = Math.min(Math.max(start, 0), dim);
    end = Math.min(Math.max(end, 0), dim);
    count = end > start ? Math.ceil((end - start) / step) : 0;
  } else {
    start = Math.min(Math.max(start, 0), dim - 1);
    end = Math.min(Math.max(end, -1), dim - 1);
    count = start > end ? Math.ceil((start - end) / -step) : 0;
  }
  return { first: count > 0 ? start : 0, count, step };
}

interface SliceSpec { starts: number[]; ends: number[]; axes: number[] | undefined; steps: number[] | undefined }

function resolveSliceSpec(spec: SliceSpec, rank: number): { axes: number[]; steps: number[] } {
  const n = spec.starts.length;
  if (spec.ends.length !== n) throw new TesseraError(`starts has ${n} entries but ends has ${spec.ends.length}`);
  const rawAxes = spec.axes ?? Array.from({ length: n }, (_, i) => i);
  if (rawAxes.length !== n) throw new TesseraError(`axes has ${rawAxes.length} entries but starts has ${n}`);
  const steps = spec.steps ?? new Array<number>(n).fill(1);
  if (steps.length !== n) throw new TesseraError(`steps has ${steps.length} entries but starts has ${n}`);
  return { axes: normAxes(rawAxes, rank), steps };
}

function sliceSchema(since: number): OpSchema {
  const fromAttrs = since < 10;
  const attrs: Record<string, AttrSpec> = fromAttrs
    ? { axes: { kind: 'ints' }, starts: { kind: 'ints', required: true }, ends: { kind: 'ints', required: true } }
    : {};
  const attrSpec = (ctx: InferContext | RunContext): SliceSpec =>
    ({ starts: ctx.attrs.ints('starts')!, ends: ctx.attrs.ints('ends')!, axes: ctx.attrs.ints('axes'), steps: undefined });
  const runSpec = (ctx: RunContext): SliceSpec => {
    if (fromAttrs) return attrSpec(ctx);
    const names = ['starts', 'ends', 'axes', 'steps'];
    const vals = [1, 2, 3, 4].map((i) => { const t = ctx.optTensor(i); return t ? intValues(t, names[i - 1]!) : undefined; });
    return { starts: vals[0]!, ends: vals[1]!, axes: vals[2], steps: vals[3] };
  };
  /** The slice parameters when known at inference time. */
  const inferSpec = (ctx: InferContext): SliceSpec | undefined => {
    if (fromAttrs) return attrSpec(ctx);
    const vals = [1, 2, 3, 4].map((i) => constInts(ctx, i));
    if (!vals[0] || !vals[1] || (hasInput(ctx, 3) && !vals[2]) || (hasInput(ctx, 4) && !vals[3])) return undefined;
    return { starts: vals[0], ends: vals[1], axes: vals[2], steps: vals[3] };
  };
  return {
    name: 'Slice', since, inputs: fromAttrs ? [1, 1] : [3, 5], outputs: [1, 1], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      if (!fromAttrs) {
        for (let i = 1; i < 5; i++) if (hasInput(ctx, i)) checkDtype(ctx.tensorInput(i), INDEX_DTYPES, ['starts', 'ends', 'axes', 'steps'][i - 1]!);
      }
      if (!x.shape) return [tensorType(x.dtype, undefined)];
      const spec = inferSpec(ctx);
      if (!spec) {
        // Which axes are sliced is unknown unless `axes` is known; unsliced axes keep their size.
        const axes = hasInput(ctx, 3) ? constInts(ctx, 3) : undefined;
        if (!axes) return [tensorType(x.dtype, freshDims(ctx, x.shape.length))];
        const sliced = new Set(normAxes(axes, x.shape.length));
        return [tensorType(x.dtype, x.shape.map((d, i) => (sliced.has(i) ? ctx.freshDim() : d)))];
      }
      const { axes, steps } = resolveSliceSpec(spec, x.shape.length);
      const out = [...x.shape];
      axes.forEach((a, k) => {
        const dim = x.shape![a]!;
        const start = spec.starts[k]!, end = spec.ends[k]!, step = steps[k]!;
        if (typeof dim === 'number') out[a] = sliceBounds(dim, start, end, step).count;
        else if (step === 0) throw new TesseraError('slice step cannot be 0');
        else {
          // Only the whole-axis idioms keep a symbolic size: [0:INT_MAX:1] and [-1:-INT_MAX:-1].
          const whole = (start === 0 && step === 1 && end >= INT32_MAX) || (start === -1 && step === -1 && end <= -INT32_MAX);
          out[a] = whole ? dim : ctx.freshDim();
        }
      });
      return [tensorType(x.dtype, out)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const spec = runSpec(ctx);
      const { axes, steps } = resolveSliceSpec(spec, x.rank);
      const inStrides = stridesOf(x.shape);
      const shape = [...x.shape], strides = [...inStrides];
      let offset = 0;
      axes.forEach((a, k) => {
        const s = sliceBounds(x.shape[a]!, spec.starts[k]!, spec.ends[k]!, steps[k]!);
        shape[a] = s.count;
        strides[a] = inStrides[a]! * s.step;
        offset += s.first * inStrides[a]!;
      });
      if (shape.every((d, i) => d === x.shape[i]) && axes.every((_, k) => steps[k] === 1)) return [x];
      return [new Tensor(x.dtype, shape, stridedCopy(x.dtype, x.data, shape, strides, offset))];
    },
  };
}

// ---------------------------------------------------------------- Gather family

function gatherSchema(since: number): OpSchema {
  return {
    name: 'Gather', since, inputs: [2, 2], outputs: [1, 1], attrs: { axis: { kind: 'int', default: 0 } },
    infer(ctx) {
      const x = ctx.tensorInput(0), idx = ctx.tensorInput(1);
      checkDtype(idx, INDEX_DTYPES, 'indices');
      if (!x.shape || !idx.shape) return [tensorType(x.dtype, undefined)];
      if (x.shape.length === 0) throw new TesseraError('data must have rank at least 1');
      const axis = normAxis(ctx.attrs.int('axis'), x.shape.length);
      return [tensorType(x.dtype, [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)])];
    },
    run(ctx) {
      const x = ctx.tensor(0), idxT = ctx.tensor(1);
      if (x.rank === 0) throw new TesseraError('data must have rank at least 1');
      const axis = normAxis(ctx.attrs.int('axis'), x.rank);
      const idx = intValues(idxT, 'indices');
      const dim = x.shape[axis]!;
      for (let j = 0; j < idx.length; j++) idx[j] = normIndex(idx[j]!, dim, axis);
      const shape = [...x.shape.slice(0, axis), ...idxT.shape, ...x.shape.slice(axis + 1)];
      const out = allocData(x.dtype, checkShape(shape, 'output'));
      const outer = sizeOf(x.shape.slice(0, axis));
      const inner = sizeOf(x.shape.slice(axis + 1));
      const n = idx.length;
      let o = 0;
      for (let b = 0; b < outer; b++) {
        const base = b * dim * inner;
        for (let j = 0; j < n; j++, o += inner) copyBlock(out, o, x.data, base + idx[j]! * inner, inner);
      }
      return [new Tensor(x.dtype, shape, out)];
    },
  };
}

/**
 * Walks every position of `shape` (row-major) and calls visit(flatIndex, offset) where offset is the flat
 * position in a tensor of strides `strides` (axis `skip` contributes nothing: the caller supplies it).
 */
function forEachPosition(shape: readonly number[], strides: readonly number[], skip: number, visit: (k: number, offset: number) => void): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let k = 0; k < n; k++) {
    visit(k, off);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      if (d !== skip) off += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      if (d !== skip) off -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

function checkElementsShapes(data: readonly number[], indices: readonly number[], axis: number, what: string): void {
  if (indices.length !== data.length) throw new TesseraError(`${what} must have the same rank as data (${data.length}), got ${indices.length}`);
  for (let d = 0; d < data.length; d++) {
    if (d !== axis && indices[d]! > data[d]!) {
      throw new TesseraError(`${what} shape [${indices.join(',')}] exceeds data shape [${data.join(',')}] in dimension ${d}`);
    }
  }
}

function gatherElementsSchema(since: number): OpSchema {
  return {
    name: 'GatherElements', since, inputs: [2, 2], outputs: [1, 1], attrs: { axis: { kind: 'int', default: 0 } },
    infer(ctx) {
      const x = ctx.tensorInput(0), idx = ctx.tensorInput(1);
      checkDtype(idx, INDEX_DTYPES, 'indices');
      if (x.shape && idx.shape) {
        if (idx.shape.length !== x.shape.length) throw new TesseraError(`indices must have the same rank as data (${x.shape.length}), got ${idx.shape.length}`);
        normAxis(ctx.attrs.int('axis'), x.shape.length);
      }
      return [tensorType(x.dtype, idx.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0), idxT = ctx.tensor(1);
      const axis = normAxis(ctx.attrs.int('axis'), x.rank);
      checkElementsShapes(x.shape, idxT.shape, axis, 'indices');
      const idx = intValues(idxT, 'indices');
      const dim = x.shape[axis]!;
      const st = stridesOf(x.shape);
      const sa = st[axis]!;
      const out = allocData(x.dtype, idx.length) as AnyArray;
      const src = x.data as AnyArray;
      forEachPosition(idxT.shape, st, axis, (k, off) => {
        out[k] = src[off + normIndex(idx[k]!, dim, axis) * sa];
      });
      return [new Tensor(x.dtype, [...idxT.shape], out)];
    },
  };
}

function gatherNDSchema(since: number): OpSchema {
  const hasBatch = since >= 12;
  return {
    name: 'GatherND', since, inputs: [2, 2], outputs: [1, 1],
    attrs: hasBatch ? { batch_dims: { kind: 'int', default: 0 } } : {},
    infer(ctx) {
      const x = ctx.tensorInput(0), idx = ctx.tensorInput(1);
      checkDtype(idx, ['i64'], 'indices');
      const b = hasBatch ? ctx.attrs.int('batch_dims') : 0;
      if (!x.shape || !idx.shape) return [tensorType(x.dtype, undefined)];
      if (idx.shape.length < 1) throw new TesseraError('indices must have rank at least 1');
      const k = idx.shape[idx.shape.length - 1];
      if (typeof k !== 'number') return [tensorType(x.dtype, undefined)];
      checkGatherNDRanks(x.shape.length, idx.shape.length, k, b);
      const batch = idx.shape.slice(0, b).map((d, i) => unifyDim(d, x.shape![i]!, () => `batch dimension ${i} differs: data ${x.shape![i]}, indices ${d}`));
      return [tensorType(x.dtype, [...batch, ...idx.shape.slice(b, -1), ...x.shape.slice(b + k)])];
    },
    run(ctx) {
      const x = ctx.tensor(0), idxT = ctx.tensor(1);
      const b = hasBatch ? ctx.attrs.int('batch_dims') : 0;
      const idx = intValues(idxT, 'indices', ['i64']);
      const q = idxT.rank, r = x.rank;
      if (q < 1) throw new TesseraError('indices must have rank at least 1');
      const k = idxT.shape[q - 1]!;
      checkGatherNDRanks(r, q, k, b);
      for (let i = 0; i < b; i++) {
        if (x.shape[i] !== idxT.shape[i]) throw new TesseraError(`batch dimension ${i} differs: data ${x.shape[i]}, indices ${idxT.shape[i]}`);
      }
      const outShape = [...idxT.shape.slice(0, q - 1), ...x.shape.slice(b + k)];
      const out = allocData(x.dtype, checkShape(outShape, 'output'));
      const batches = sizeOf(x.shape.slice(0, b));
      const perBatch = sizeOf(idxT.shape.slice(b, q - 1));
      const slice = sizeOf(x.shape.slice(b + k));
      const batchSize = sizeOf(x.shape.slice(b));
      const st = stridesOf(x.shape.slice(b));
      let o = 0, t = 0;
      for (let bi = 0; bi < batches; bi++) {
        for (let j = 0; j < perBatch; j++, t++, o += slice) {
          let off = bi * batchSize;
          for (let m = 0; m < k; m++) off += normIndex(idx[t * k + m]!, x.shape[b + m]!, b + m) * st[m]!;
          copyBlock(out, o, x.data, off, slice);
        }
      }
      return [new Tensor(x.dtype, outShape, out)];
    },
  };
}

function checkGatherNDRanks(r: number, q: number, k: number, b: number): void {
  if (r < 1) throw new TesseraError('data must have rank at least 1');
  if (!Number.isInteger(b) || b < 0 || b >= Math.min(q, r)) throw new TesseraError(`batch_dims ${b} must be less than the ranks of data (${r}) and indices (${q})`);
  if (k < 1 || k > r - b) throw new TesseraError(`the last dimension of indices (${k}) must be between 1 and ${r - b} (data rank minus batch_dims)`);
}

// ---------------------------------------------------------------- Scatter family

/** Scatter reductions by opset: add/mul from 16, max/min from 18. */
const reductionsOf = (since: number): readonly string[] => (since >= 18 ? ['add', 'mul', 'max', 'min'] : ['add', 'mul']);

function scatterElementsSchema(name: string, since: number, withReduction: boolean): OpSchema {
  return {
    name, since, inputs: [3, 3], outputs: [1, 1],
    attrs: withReduction
      ? { axis: { kind: 'int', default: 0 }, reduction: { kind: 'string', default: 'none' } }
      : { axis: { kind: 'int', default: 0 } },
    infer(ctx) {
      const x = ctx.tensorInput(0), idx = ctx.tensorInput(1), upd = ctx.tensorInput(2);
      checkDtype(idx, INDEX_DTYPES, 'indices');
      if (upd.dtype !== x.dtype) throw new TesseraError(`updates has type ${upd.dtype}, data has ${x.dtype}`);
      if (x.shape) normAxis(ctx.attrs.int('axis'), x.shape.length);
      if (withReduction) reducer(x.dtype, ctx.attrs.string('reduction'), reductionsOf(since));
      return [tensorType(x.dtype, x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0), idxT = ctx.tensor(1), upd = ctx.tensor(2);
      const axis = normAxis(ctx.attrs.int('axis'), x.rank);
      checkElementsShapes(x.shape, idxT.shape, axis, 'indices');
      if (upd.shape.length !== idxT.shape.length || upd.shape.some((d, i) => d !== idxT.shape[i])) {
        throw new TesseraError(`updates shape [${upd.shape.join(',')}] must equal indices shape [${idxT.shape.join(',')}]`);
      }
      const combine = withReduction ? reducer(x.dtype, ctx.attrs.string('reduction'), reductionsOf(since)) : undefined;
      const idx = intValues(idxT, 'indices');
      const out = allocData(x.dtype, x.size) as AnyArray;
      copyBlock(out, 0, x.data, 0, x.size);
      const u = upd.data as AnyArray;
      const dim = x.shape[axis]!;
      const st = stridesOf(x.shape);
      const sa = st[axis]!;
      forEachPosition(idxT.shape, st, axis, (k, off) => {
        const p = off + normIndex(idx[k]!, dim, axis) * sa;
        out[p] = combine ? combine(out[p], u[k]) : u[k];
      });
      return [new Tensor(x.dtype, [...x.shape], out)];
    },
  };
}

function scatterNDSchema(since: number): OpSchema {
  const withReduction = since >= 16;
  return {
    name: 'ScatterND', since, inputs: [3, 3], outputs: [1, 1],
    attrs: withReduction ? { reduction: { kind: 'string', default: 'none' } } : {},
    infer(ctx) {
      const x = ctx.tensorInput(0), idx = ctx.tensorInput(1), upd = ctx.tensorInput(2);
      checkDtype(idx, ['i64'], 'indices');
      if (upd.dtype !== x.dtype) throw new TesseraError(`updates has type ${upd.dtype}, data has ${x.dtype}`);
      if (withReduction) reducer(x.dtype, ctx.attrs.string('reduction'), reductionsOf(since));
      return [tensorType(x.dtype, x.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0), idxT = ctx.tensor(1), upd = ctx.tensor(2);
      const combine = withReduction ? reducer(x.dtype, ctx.attrs.string('reduction'), reductionsOf(since)) : undefined;
      const q = idxT.rank, r = x.rank;
      if (q < 1) throw new TesseraError('indices must have rank at least 1');
      if (r < 1) throw new TesseraError('data must have rank at least 1');
      const k = idxT.shape[q - 1]!;
      if (k < 1 || k > r) throw new TesseraError(`the last dimension of indices (${k}) must be between 1 and the data rank ${r}`);
      const expect = [...idxT.shape.slice(0, q - 1), ...x.shape.slice(k)];
      if (upd.rank !== expect.length || upd.shape.some((d, i) => d !== expect[i])) {
        throw new TesseraError(`updates shape [${upd.shape.join(',')}] must be [${expect.join(',')}] (indices.shape[:-1] + data.shape[k:])`);
      }
      const idx = intValues(idxT, 'indices', ['i64']);
      const out = allocData(x.dtype, x.size) as AnyArray;
      copyBlock(out, 0, x.data, 0, x.size);
      const u = upd.data as AnyArray;
      const st = stridesOf(x.shape);
      const slice = sizeOf(x.shape.slice(k));
      const n = sizeOf(idxT.shape.slice(0, q - 1));
      for (let t = 0; t < n; t++) {
        let off = 0;
        for (let m = 0; m < k; m++) off += normIndex(idx[t * k + m]!, x.shape[m]!, m) * st[m]!;
        const uo = t * slice;
        if (combine) for (let e = 0; e < slice; e++) out[off + e] = combine(out[off + e], u[uo + e]);
        else copyBlock(out, off, upd.data, uo, slice);
      }
      return [new Tensor(x.dtype, [...x.shape], out)];
    },
  };
}

// ---------------------------------------------------------------- Expand / Tile

function expandSchema(since: number): OpSchema {
  return {
    name: 'Expand', since, inputs: [2, 2], outputs: [1, 1], attrs: {},
    infer(ctx) {
      const x = ctx.tensorInput(0), s = ctx.tensorInput(1);
      checkDtype(s, ['i64'], 'shape');
      const target = constInts(ctx, 1);
      if (target) {
        if (target.some((d) => d < 0)) throw new TesseraError(`shape [${target.join(',')}] has a negative dimension`);
        return [tensorType(x.dtype, broadcastDims(ctx, x.shape, target))];
      }
      const n = staticLength(ctx, 1);
      if (!x.shape || n === undefined) return [tensorType(x.dtype, undefined)];
      // A static input dim other than 1 survives broadcasting; everything else depends on the shape values.
      const rank = Math.max(n, x.shape.length);
      const out: Dim[] = [];
      for (let i = 0; i < rank; i++) {
        const d = x.shape[i - (rank - x.shape.length)];
        out.push(typeof d === 'number' && d !== 1 ? d : ctx.freshDim());
      }
      return [tensorType(x.dtype, out)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const target = intValues(ctx.tensor(1), 'shape', ['i64']);
      if (target.some((d) => d < 0)) throw new TesseraError(`shape [${target.join(',')}] has a negative dimension`);
      const shape = broadcastShapes(x.shape, target);
      const inStrides = stridesOf(x.shape);
      const lead = shape.length - x.rank;
      const strides = shape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : inStrides[i - lead]!));
      if (lead === 0 && shape.every((d, i) => d === x.shape[i])) return [x];
      return [new Tensor(x.dtype, shape, stridedCopy(x.dtype, x.data, shape, strides, 0))];
    },
  };
}

/** Tiles x by repeats: the output viewed as [r0, d0, r1, d1, …] reads x with stride 0 on each r axis. */
function tile(x: Tensor, repeats: readonly number[]): Tensor {
  if (repeats.length !== x.rank) throw new TesseraError(`repeats has ${repeats.length} entries for input rank ${x.rank}`);
  if (repeats.some((r) => r < 0 || !Number.isInteger(r))) throw new TesseraError(`repeats [${repeats.join(',')}] has a negative entry`);
  const shape = x.shape.map((d, i) => d * repeats[i]!);
  const st = stridesOf(x.shape);
  const viewShape: number[] = [], viewStrides: number[] = [];
  x.shape.forEach((d, i) => { viewShape.push(repeats[i]!, d); viewStrides.push(0, st[i]!); });
  return new Tensor(x.dtype, shape, stridedCopy(x.dtype, x.data, viewShape, viewStrides, 0));
}

function tileSchema(since: number): OpSchema {
  const legacy = since < 6; // Tile-1: (input, tiles, axis) repeats a single axis
  return {
    name: 'Tile', since, inputs: legacy ? [3, 3] : [2, 2], outputs: [1, 1], attrs: {},
    infer(ctx) {
      const x = ctx.tensorInput(0);
      if (legacy) {
        const tiles = constInts(ctx, 1), axis = constInts(ctx, 2);
        if (!x.shape) return [tensorType(x.dtype, undefined)];
        if (!axis) return [tensorType(x.dtype, freshDims(ctx, x.shape.length))];
        const a = normAxis(axis[0]!, x.shape.length);
        const out = [...x.shape];
        const d = out[a]!;
        out[a] = tiles && typeof d === 'number' ? d * tiles[0]! : ctx.freshDim();
        return [tensorType(x.dtype, out)];
      }
      checkDtype(ctx.tensorInput(1), ['i64'], 'repeats');
      if (!x.shape) return [tensorType(x.dtype, undefined)];
      const reps = constInts(ctx, 1);
      if (!reps) return [tensorType(x.dtype, x.shape.map((d) => (d === 0 ? 0 : ctx.freshDim())))];
      if (reps.length !== x.shape.length) throw new TesseraError(`repeats has ${reps.length} entries for input rank ${x.shape.length}`);
      return [tensorType(x.dtype, x.shape.map((d, i) => (typeof d === 'number' ? d * reps[i]! : reps[i] === 1 ? d : reps[i] === 0 ? 0 : ctx.freshDim())))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      if (legacy) {
        const tiles = scalarNumber(ctx.tensor(1), 'tiles');
        const axis = normAxis(scalarNumber(ctx.tensor(2), 'axis'), x.rank);
        const reps = x.shape.map((_, i) => (i === axis ? tiles : 1));
        return [tile(x, reps)];
      }
      return [tile(x, intValues(ctx.tensor(1), 'repeats', ['i64']))];
    },
  };
}

// ---------------------------------------------------------------- Pad

type PadMode = 'constant' | 'reflect' | 'edge';

function padModeOf(ctx: InferContext | RunContext): PadMode {
  const m = ctx.attrs.string('mode');
  if (m !== 'constant' && m !== 'reflect' && m !== 'edge') throw new TesseraError(`unknown pad mode '${m}' (expected constant, reflect or edge)`);
  return m;
}

function checkPads(pads: readonly number[], rank: number): void {
  if (pads.length !== 2 * rank) throw new TesseraError(`pads has ${pads.length} entries, expected ${2 * rank} (2 × rank ${rank})`);
}

/** For each output coordinate along one axis: the source coordinate, or -1 for the fill value. */
function padAxisMap(dim: number, before: number, outDim: number, mode: PadMode): Int32Array {
  const map = new Int32Array(outDim);
  const period = 2 * (dim - 1);
  for (let o = 0; o < outDim; o++) {
    let i = o - before;
    if (i < 0 || i >= dim) {
      if (mode === 'constant') i = -1;
      else if (mode === 'edge') i = i < 0 ? 0 : dim - 1;
      else if (dim === 1) i = 0;
      else {
        // Reflection without repeating the edge is periodic with period 2·(dim−1).
        i = ((i % period) + period) % period;
        if (i >= dim) i = period - i;
      }
    }
    map[o] = i;
  }
  return map;
}

/** Expands Pad-18 pads given for `axes` only into pads for every axis. */
function padsForAxes(pads: readonly number[], axes: readonly number[], rank: number): number[] {
  if (pads.length !== 2 * axes.length) throw new TesseraError(`pads has ${pads.length} entries, expected ${2 * axes.length} (2 × ${axes.length} axes)`);
  const full = new Array<number>(2 * rank).fill(0);
  normAxes(axes, rank).forEach((a, k) => { full[a] = pads[k]!; full[a + rank] = pads[k + axes.length]!; });
  return full;
}

function pad(x: Tensor, pads: readonly number[], mode: PadMode, fill: number | bigint | string): Tensor {
  const rank = x.rank;
  checkPads(pads, rank);
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + rank]!);
  shape.forEach((d, i) => {
    if (d < 0) throw new TesseraError(`pads [${pads.join(',')}] remove more than the ${x.shape[i]} elements of axis ${i}`);
    if (mode !== 'constant' && x.shape[i] === 0 && d > 0) throw new TesseraError(`cannot ${mode}-pad axis ${i} of size 0`);
  });
  const n = checkShape(shape, 'output');
  const out = allocData(x.dtype, n) as AnyArray;
  if (n === 0) return new Tensor(x.dtype, shape, out);
  if (rank === 0) { out[0] = (x.data as AnyArray)[0]; return new Tensor(x.dtype, shape, out); }
  const maps = x.shape.map((d, i) => padAxisMap(d, pads[i]!, shape[i]!, mode));
  const st = stridesOf(x.shape);
  const src = x.data as AnyArray;
  const last = shape[rank - 1]!, lastMap = maps[rank - 1]!;
  const rows = n / last;
  const before = pads[rank - 1]!;
  const lo = Math.min(Math.max(before, 0), last), hi = Math.max(lo, Math.min(before + x.shape[rank - 1]!, last));
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0, o = 0; r < rows; r++, o += last) {
    let base = 0, inside = true;
    for (let d = 0; d < rank - 1; d++) {
      const s = maps[d]![idx[d]!]!;
      if (s < 0) { inside = false; break; }
      base += s * st[d]!;
    }
    if (!inside) for (let j = 0; j < last; j++) out[o + j] = fill;
    else {
      // The interior [lo, hi) of the row is a contiguous copy; only the pad margins need the map.
      for (let j = 0; j < lo; j++) { const s = lastMap[j]!; out[o + j] = s < 0 ? fill : src[base + s]; }
      copyBlock(out, o + lo, x.data, base + lo - before, hi - lo);
      for (let j = hi; j < last; j++) { const s = lastMap[j]!; out[o + j] = s < 0 ? fill : src[base + s]; }
    }
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return new Tensor(x.dtype, shape, out);
}

function padSchema(since: number): OpSchema {
  const fromAttrs = since < 11;
  const padsAttr = since < 2 ? 'paddings' : 'pads';
  const attrs: Record<string, AttrSpec> = fromAttrs
    ? { mode: { kind: 'string', default: 'constant' }, [padsAttr]: { kind: 'ints', required: true }, value: { kind: 'float', default: 0 } }
    : { mode: { kind: 'string', default: 'constant' } };
  return {
    name: 'Pad', since, inputs: fromAttrs ? [1, 1] : since >= 18 ? [2, 4] : [2, 3], outputs: [1, 1], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      padModeOf(ctx);
      let pads: number[] | undefined;
      if (fromAttrs) pads = ctx.attrs.ints(padsAttr);
      else {
        checkDtype(ctx.tensorInput(1), ['i64'], 'pads');
        if (hasInput(ctx, 2) && ctx.tensorInput(2).dtype !== x.dtype) {
          throw new TesseraError(`constant_value has type ${ctx.tensorInput(2).dtype}, data has ${x.dtype}`);
        }
        pads = constInts(ctx, 1);
        if (hasInput(ctx, 3)) {
          checkDtype(ctx.tensorInput(3), INDEX_DTYPES, 'axes');
          const axes = constInts(ctx, 3);
          if (!axes || !x.shape) pads = undefined;
          else if (pads) pads = padsForAxes(pads, axes, x.shape.length);
        }
      }
      if (!x.shape) return [tensorType(x.dtype, undefined)];
      const rank = x.shape.length;
      if (!pads) return [tensorType(x.dtype, freshDims(ctx, rank))];
      checkPads(pads, rank);
      return [tensorType(x.dtype, x.shape.map((d, i) => {
        const p = pads![i]! + pads![i + rank]!;
        if (typeof d !== 'number') return p === 0 ? d : ctx.freshDim();
        if (d + p < 0) throw new TesseraError(`pads [${pads!.join(',')}] remove more than the ${d} elements of axis ${i}`);
        return d + p;
      }))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const mode = padModeOf(ctx);
      let pads: number[];
      let fill: number | bigint | string;
      if (fromAttrs) {
        pads = ctx.attrs.ints(padsAttr)!;
        fill = storageValue(x.dtype, ctx.attrs.float('value'));
      } else {
        pads = intValues(ctx.tensor(1), 'pads', ['i64']);
        const axes = ctx.optTensor(3);
        if (axes) pads = padsForAxes(pads, intValues(axes, 'axes'), x.rank);
        const cv = ctx.optTensor(2);
        if (cv && cv.dtype !== x.dtype) throw new TesseraError(`constant_value has type ${cv.dtype}, data has ${x.dtype}`);
        fill = cv && cv.size > 0 ? (cv.data as AnyArray)[0] : storageValue(x.dtype, 0);
      }
      return [pad(x, pads, mode, fill)];
    },
  };
}

// ---------------------------------------------------------------- generators

function constantOfShapeValue(ctx: InferContext | RunContext): Tensor {
  const v = ctx.attrs.tensor('value');
  if (!v) return Tensor.scalar('f32', 0);
  if (v.size !== 1) throw new TesseraError(`value must have exactly one element, got shape [${v.shape.join(',')}]`);
  return v;
}

const constantOfShape: OpSchema = {
  name: 'ConstantOfShape', since: 9, inputs: [1, 1], outputs: [1, 1], attrs: { value: { kind: 'tensor' } },
  infer(ctx) {
    const v = constantOfShapeValue(ctx);
    checkDtype(ctx.tensorInput(0), ['i64'], 'input');
    const shape = constInts(ctx, 0);
    if (shape) {
      if (shape.some((d) => d < 0)) throw new TesseraError(`shape [${shape.join(',')}] has a negative dimension`);
      return [tensorType(v.dtype, shape)];
    }
    const n = staticLength(ctx, 0);
    return [tensorType(v.dtype, n === undefined ? undefined : freshDims(ctx, n))];
  },
  run(ctx) {
    const v = constantOfShapeValue(ctx);
    const shape = intValues(ctx.tensor(0), 'input', ['i64']);
    if (ctx.tensor(0).rank > 1) throw new TesseraError(`input must be 1-D, got rank ${ctx.tensor(0).rank}`);
    const out = allocData(v.dtype, checkShape(shape, 'output'));
    fillData(out, (v.data as AnyArray)[0]);
    return [new Tensor(v.dtype, shape, out)];
  },
};

function rangeCount(start: number | bigint, limit: number | bigint, delta: number | bigint): number {
  let n: number;
  if (typeof start === 'bigint') {
    const s = start, l = limit as bigint, d = delta as bigint;
    if (d === 0n) throw new TesseraError('delta cannot be 0');
    const span = l - s;
    // ceil(span / d) with bigint division truncating toward zero
    let q = span / d;
    if (q * d !== span && (span > 0n) === (d > 0n)) q += 1n;
    n = q > 0n ? Number(q) : 0;
  } else {
    const d = delta as number;
    if (d === 0) throw new TesseraError('delta cannot be 0');
    n = Math.max(Math.ceil(((limit as number) - start) / d), 0);
    if (!Number.isFinite(n)) throw new TesseraError(`range from ${start} to ${limit} by ${d} has no finite length`);
  }
  checkShape([n], 'output');
  return n;
}

const range: OpSchema = {
  name: 'Range', since: 11, inputs: [3, 3], outputs: [1, 1], attrs: {},
  infer(ctx) {
    const ts = [0, 1, 2].map((i) => ctx.tensorInput(i));
    const dtype = ts[0]!.dtype;
    checkDtype(ts[0]!, RANGE_DTYPES, 'start');
    for (const t of ts) if (t.dtype !== dtype) throw new TesseraError(`inputs have different types: ${dtype} and ${t.dtype}`);
    const cs = [0, 1, 2].map((i) => ctx.constant(i));
    if (cs.every((c) => c && c.size === 1)) {
      return [tensorType(dtype, [rangeCount(cs[0]!.data[0] as number, cs[1]!.data[0] as number, cs[2]!.data[0] as number)])];
    }
    return [tensorType(dtype, [ctx.freshDim()])];
  },
  run(ctx) {
    const [s, l, d] = [0, 1, 2].map((i) => ctx.tensor(i)) as [Tensor, Tensor, Tensor];
    checkDtype(s, RANGE_DTYPES, 'start');
    for (const [t, what] of [[s, 'start'], [l, 'limit'], [d, 'delta']] as const) {
      if (t.dtype !== s.dtype) throw new TesseraError(`${what} has type ${t.dtype}, start has ${s.dtype}`);
      scalarNumber(t, what);
    }
    const start = s.data[0] as number | bigint, delta = d.data[0] as number | bigint;
    const n = rangeCount(start, l.data[0] as number | bigint, delta);
    const out = allocData(s.dtype, n) as AnyArray;
    if (typeof start === 'bigint') {
      for (let i = 0; i < n; i++) out[i] = start + BigInt(i) * (delta as bigint);
    } else {
      for (let i = 0; i < n; i++) out[i] = start + i * (delta as number);
    }
    return [new Tensor(s.dtype, [n], out)];
  },
};

function oneHotSchema(since: number): OpSchema {
  const axisOf = (axis: number, rank: number) => {
    if (!Number.isInteger(axis) || axis < -rank - 1 || axis > rank) throw new TesseraError(`axis ${axis} is out of range for output rank ${rank + 1}`);
    return axis < 0 ? axis + rank + 1 : axis;
  };
  const depthOf = (t: Tensor): number => {
    const d = Math.trunc(scalarNumber(t, 'depth'));
    if (!(d >= 0)) throw new TesseraError(`depth must be non-negative, got ${t.num(0)}`);
    return d;
  };
  return {
    name: 'OneHot', since, inputs: [3, 3], outputs: [1, 1], attrs: { axis: { kind: 'int', default: -1 } },
    infer(ctx) {
      const idx = ctx.tensorInput(0), values = ctx.tensorInput(2);
      for (const [i, what] of [[0, 'indices'], [1, 'depth']] as const) {
        const t = ctx.tensorInput(i);
        if (t.dtype === 'string' || t.dtype === 'bool') throw new TesseraError(`${what} has type ${t.dtype}, expected a numeric type`);
      }
      if (!idx.shape) return [tensorType(values.dtype, undefined)];
      const axis = axisOf(ctx.attrs.int('axis'), idx.shape.length);
      const dc = ctx.constant(1);
      const depth: Dim = dc ? depthOf(dc) : ctx.freshDim();
      const out = [...idx.shape];
      out.splice(axis, 0, depth);
      return [tensorType(values.dtype, out)];
    },
    run(ctx) {
      const idxT = ctx.tensor(0), values = ctx.tensor(2);
      if (idxT.dtype === 'string' || idxT.dtype === 'bool') throw new TesseraError(`indices has type ${idxT.dtype}, expected a numeric type`);
      const depth = depthOf(ctx.tensor(1));
      if (values.size !== 2) throw new TesseraError(`values must have exactly two elements [off, on], got shape [${values.shape.join(',')}]`);
      const axis = axisOf(ctx.attrs.int('axis'), idxT.rank);
      const shape = [...idxT.shape];
      shape.splice(axis, 0, depth);
      const out = allocData(values.dtype, checkShape(shape, 'output')) as AnyArray;
      const [off, on] = [(values.data as AnyArray)[0], (values.data as AnyArray)[1]];
      fillData(out, off);
      const inner = sizeOf(idxT.shape.slice(axis));
      const outer = sizeOf(idxT.shape.slice(0, axis));
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let v = Math.trunc(idxT.num(o * inner + i));
          if (since >= 11 && v < 0) v += depth;
          if (v >= 0 && v < depth) out[(o * depth + v) * inner + i] = on;
        }
      }
      return [new Tensor(values.dtype, shape, out)];
    },
  };
}

const isNonZero = (v: unknown): boolean => (typeof v === 'string' ? v !== '' : v !== 0 && v !== 0n);

function nonZeroSchema(since: number): OpSchema {
  return {
    name: 'NonZero', since, inputs: [1, 1], outputs: [1, 1], attrs: {},
    infer(ctx) {
      const x = ctx.tensorInput(0);
      return [tensorType('i64', [x.shape ? Math.max(x.shape.length, 1) : ctx.freshDim(), ctx.freshDim()])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const data = x.data as AnyArray;
      const hits: number[] = [];
      for (let i = 0; i < x.size; i++) if (isNonZero(data[i])) hits.push(i);
      // A scalar behaves as a 1-element vector (numpy's atleast_1d convention).
      const shape = x.rank === 0 ? [1] : x.shape;
      const rank = shape.length, nnz = hits.length;
      const st = stridesOf(shape);
      const out = new BigInt64Array(rank * nnz);
      for (let j = 0; j < nnz; j++) {
        let rem = hits[j]!;
        for (let d = 0; d < rank; d++) {
          const c = Math.floor(rem / st[d]!);
          rem -= c * st[d]!;
          out[d * nnz + j] = BigInt(c);
        }
      }
      return [new Tensor('i64', [rank, nnz], out)];
    },
  };
}

function compressSchema(since: number): OpSchema {
  const axisOf = (ctx: InferContext | RunContext, rank: number): number | undefined => {
    if (!ctx.attrs.has('axis')) return undefined;
    return normAxis(ctx.attrs.int('axis'), rank);
  };
  return {
    name: 'Compress', since, inputs: [2, 2], outputs: [1, 1], attrs: { axis: { kind: 'int' } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      checkDtype(ctx.tensorInput(1), ['bool'], 'condition');
      if (!ctx.attrs.has('axis')) return [tensorType(x.dtype, [ctx.freshDim()])];
      if (!x.shape) return [tensorType(x.dtype, undefined)];
      const axis = axisOf(ctx, x.shape.length)!;
      const out = [...x.shape];
      out[axis] = ctx.freshDim();
      return [tensorType(x.dtype, out)];
    },
    run(ctx) {
      let x = ctx.tensor(0);
      const cond = ctx.tensor(1);
      checkDtype(cond, ['bool'], 'condition');
      if (cond.rank !== 1) throw new TesseraError(`condition must be 1-D, got rank ${cond.rank}`);
      let axis = axisOf(ctx, x.rank);
      if (axis === undefined) { x = x.reshape([x.size]); axis = 0; }
      const dim = x.shape[axis]!;
      const picked: number[] = [];
      const c = cond.data as Uint8Array;
      for (let i = 0; i < c.length; i++) {
        if (!c[i]) continue;
        if (i >= dim) throw new TesseraError(`condition selects index ${i}, out of bounds for axis ${axis} of size ${dim}`);
        picked.push(i);
      }
      const shape = [...x.shape];
      shape[axis] = picked.length;
      const out = allocData(x.dtype, checkShape(shape, 'output'));
      const outer = sizeOf(x.shape.slice(0, axis));
      const inner = sizeOf(x.shape.slice(axis + 1));
      let o = 0;
      for (let b = 0; b < outer; b++) {
        for (const i of picked) { copyBlock(out, o, x.data, (b * dim + i) * inner, inner); o += inner; }
      }
      return [new Tensor(x.dtype, shape, out)];
    },
  };
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

function blocksizeOf(ctx: InferContext | RunContext): number {
  const b = ctx.attrs.int('blocksize');
  if (!Number.isInteger(b) || b < 1) throw new TesseraError(`blocksize must be positive, got ${b}`);
  return b;
}

function checkRank4(shape: readonly Dim[] | undefined): void {
  if (shape && shape.length !== 4) throw new TesseraError(`input must have rank 4 (N, C, H, W), got rank ${shape.length}`);
}

function depthToSpaceSchema(since: number): OpSchema {
  const withMode = since >= 11;
  const modeOf = (ctx: InferContext | RunContext): 'DCR' | 'CRD' => {
    const m = withMode ? ctx.attrs.string('mode') : 'DCR';
    if (m !== 'DCR' && m !== 'CRD') throw new TesseraError(`unknown mode '${m}' (expected DCR or CRD)`);
    return m;
  };
  return {
    name: 'DepthToSpace', since, inputs: [1, 1], outputs: [1, 1],
    attrs: withMode ? { blocksize: { kind: 'int', required: true }, mode: { kind: 'string', default: 'DCR' } } : { blocksize: { kind: 'int', required: true } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const b = blocksizeOf(ctx);
      modeOf(ctx);
      checkRank4(x.shape);
      if (!x.shape) return [tensorType(x.dtype, freshDims(ctx, 4))];
      const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
      if (typeof c === 'number' && c % (b * b) !== 0) throw new TesseraError(`channels ${c} are not divisible by blocksize² (${b * b})`);
      const scale = (d: Dim, k: number): Dim => (typeof d === 'number' ? d * k : k === 1 ? d : ctx.freshDim());
      return [tensorType(x.dtype, [n, typeof c === 'number' ? c / (b * b) : b === 1 ? c : ctx.freshDim(), scale(h, b), scale(w, b)])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const b = blocksizeOf(ctx);
      checkRank4(x.shape);
      const [n, c, h, w] = x.shape as [number, number, number, number];
      if (c % (b * b) !== 0) throw new TesseraError(`channels ${c} are not divisible by blocksize² (${b * b})`);
      const c2 = c / (b * b);
      const { data } = modeOf(ctx) === 'DCR'
        ? permuteView(x, [n, b, b, c2, h, w], [0, 3, 4, 1, 5, 2])
        : permuteView(x, [n, c2, b, b, h, w], [0, 1, 4, 2, 5, 3]);
      return [new Tensor(x.dtype, [n, c2, h * b, w * b], data)];
    },
  };
}

function spaceToDepthSchema(since: number): OpSchema {
  return {
    name: 'SpaceToDepth', since, inputs: [1, 1], outputs: [1, 1], attrs: { blocksize: { kind: 'int', required: true } },
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const b = blocksizeOf(ctx);
      checkRank4(x.shape);
      if (!x.shape) return [tensorType(x.dtype, freshDims(ctx, 4))];
      const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
      const shrink = (d: Dim, axis: string): Dim => {
        if (typeof d !== 'number') return b === 1 ? d : ctx.freshDim();
        if (d % b !== 0) throw new TesseraError(`${axis} ${d} is not divisible by blocksize ${b}`);
        return d / b;
      };
      return [tensorType(x.dtype, [n, typeof c === 'number' ? c * b * b : b === 1 ? c : ctx.freshDim(), shrink(h, 'height'), shrink(w, 'width')])];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const b = blocksizeOf(ctx);
      checkRank4(x.shape);
      const [n, c, h, w] = x.shape as [number, number, number, number];
      if (h % b !== 0 || w % b !== 0) throw new TesseraError(`spatial size ${h}×${w} is not divisible by blocksize ${b}`);
      const { data } = permuteView(x, [n, c, h / b, b, w / b, b], [0, 3, 5, 1, 2, 4]);
      return [new Tensor(x.dtype, [n, c * b * b, h / b, w / b], data)];
    },
  };
}

// ---------------------------------------------------------------- Trilu, EyeLike, ReverseSequence

const trilu: OpSchema = {
  name: 'Trilu', since: 14, inputs: [1, 2], outputs: [1, 1], attrs: { upper: { kind: 'int', default: 1 } },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank at least 2, got ${x.shape.length}`);
    if (hasInput(ctx, 1)) checkDtype(ctx.tensorInput(1), ['i64'], 'k');
    return [tensorType(x.dtype, x.shape)];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    if (x.rank < 2) throw new TesseraError(`input must have rank at least 2, got ${x.rank}`);
    const kT = ctx.optTensor(1);
    const k = kT ? scalarNumber(kT, 'k') : 0;
    const upper = ctx.attrs.int('upper') !== 0;
    const rows = x.shape[x.rank - 2]!, cols = x.shape[x.rank - 1]!;
    const out = allocData(x.dtype, x.size) as AnyArray;
    const src = x.data as AnyArray;
    const mats = rows * cols === 0 ? 0 : x.size / (rows * cols);
    for (let m = 0, p = 0; m < mats; m++) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++, p++) {
          if (upper ? j - i >= k : j - i <= k) out[p] = src[p];
        }
      }
    }
    return [new Tensor(x.dtype, [...x.shape], out)];
  },
};

function eyeLikeDtype(ctx: InferContext | RunContext, input: DType): DType {
  if (!ctx.attrs.has('dtype')) return input;
  const d = dtypeFromOnnx(ctx.attrs.int('dtype'));
  if (typeof d === 'object') throw new TesseraError(`dtype ${d.unsupported} is not supported`);
  if (d === 'string') throw new TesseraError('EyeLike cannot produce strings');
  return d;
}

const eyeLike: OpSchema = {
  name: 'EyeLike', since: 9, inputs: [1, 1], outputs: [1, 1], attrs: { dtype: { kind: 'int' }, k: { kind: 'int', default: 0 } },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    if (x.shape && x.shape.length !== 2) throw new TesseraError(`input must have rank 2, got ${x.shape.length}`);
    return [tensorType(eyeLikeDtype(ctx, x.dtype), x.shape ?? freshDims(ctx, 2))];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    if (x.rank !== 2) throw new TesseraError(`input must have rank 2, got ${x.rank}`);
    const dtype = eyeLikeDtype(ctx, x.dtype);
    const k = ctx.attrs.int('k');
    const [rows, cols] = x.shape as [number, number];
    const out = allocData(dtype, rows * cols) as AnyArray;
    const one = storageValue(dtype, 1);
    for (let i = Math.max(0, -k); i < rows && i + k < cols; i++) out[i * cols + i + k] = one;
    return [new Tensor(dtype, [rows, cols], out)];
  },
};

const reverseSequence: OpSchema = {
  name: 'ReverseSequence', since: 10, inputs: [2, 2], outputs: [1, 1],
  attrs: { batch_axis: { kind: 'int', default: 1 }, time_axis: { kind: 'int', default: 0 } },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    checkDtype(ctx.tensorInput(1), ['i64'], 'sequence_lens');
    if (x.shape && x.shape.length < 2) throw new TesseraError(`input must have rank at least 2, got ${x.shape.length}`);
    reverseAxes(ctx);
    return [tensorType(x.dtype, x.shape)];
  },
  run(ctx) {
    const x = ctx.tensor(0);
    if (x.rank < 2) throw new TesseraError(`input must have rank at least 2, got ${x.rank}`);
    const { batchAxis, timeAxis } = reverseAxes(ctx);
    const lens = intValues(ctx.tensor(1), 'sequence_lens', ['i64']);
    const batch = x.shape[batchAxis]!, time = x.shape[timeAxis]!;
    if (lens.length !== batch) throw new TesseraError(`sequence_lens has ${lens.length} entries for batch size ${batch}`);
    const st = stridesOf(x.shape);
    const inner = sizeOf(x.shape.slice(2));
    const out = allocData(x.dtype, x.size);
    copyBlock(out, 0, x.data, 0, x.size);
    for (let b = 0; b < batch; b++) {
      const len = lens[b]!;
      if (len < 0 || len > time) throw new TesseraError(`sequence length ${len} for batch ${b} is outside [0, ${time}]`);
      for (let t = 0; t < len; t++) {
        const dst = b * st[batchAxis]! + t * st[timeAxis]!;
        const src = b * st[batchAxis]! + (len - 1 - t) * st[timeAxis]!;
        copyBlock(out, dst, x.data, src, inner);
      }
    }
    return [new Tensor(x.dtype, [...x.shape], out)];
  },
};

function reverseAxes(ctx: InferContext | RunContext): { batchAxis: number; timeAxis: number } {
  const batchAxis = ctx.attrs.int('batch_axis'), timeAxis = ctx.attrs.int('time_axis');
  if ((batchAxis !== 0 && batchAxis !== 1) || (timeAxis !== 0 && timeAxis !== 1) || batchAxis === timeAxis) {
    throw new TesseraError(`batch_axis (${batchAxis}) and time_axis (${timeAxis}) must be 0 and 1 in some order`);
  }
  return { batchAxis, timeAxis };
}

// ---------------------------------------------------------------- Unique

/** Total order matching numpy's sort: NaN after every number. */
function compareScalars(a: any, b: any): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  const an = typeof a === 'number' && Number.isNaN(a), bn = typeof b === 'number' && Number.isNaN(b);
  return an === bn ? 0 : an ? 1 : -1;
}

const unique: OpSchema = {
  name: 'Unique', since: 11, inputs: [1, 1], outputs: [1, 4],
  attrs: { axis: { kind: 'int' }, sorted: { kind: 'int', default: 1 } },
  infer(ctx) {
    const x = ctx.tensorInput(0);
    const u = ctx.freshDim();
    let y: TensorType;
    let m: Dim;
    if (!ctx.attrs.has('axis')) {
      y = tensorType(x.dtype, [u]);
      m = x.shape ? dimProduct(ctx, x.shape) : ctx.freshDim();
    } else if (!x.shape) {
      y = tensorType(x.dtype, undefined);
      m = ctx.freshDim();
    } else {
      const axis = normAxis(ctx.attrs.int('axis'), x.shape.length);
      const shape = [...x.shape];
      m = shape[axis]!;
      shape[axis] = u;
      y = tensorType(x.dtype, shape);
    }
    return [y, tensorType('i64', [u]), tensorType('i64', [m]), tensorType('i64', [u])];
  },
  run(ctx) {
    let x = ctx.tensor(0);
    let axis: number;
    if (ctx.attrs.has('axis')) axis = normAxis(ctx.attrs.int('axis'), x.rank);
    else { x = x.reshape([x.size]); axis = 0; }
    const sorted = ctx.attrs.int('sorted') !== 0;
    const m = x.shape[axis]!;
    const outer = sizeOf(x.shape.slice(0, axis));
    const inner = sizeOf(x.shape.slice(axis + 1));
    const src = x.data as AnyArray;
    // Slice i along axis consists of src[(o*m + i)*inner + e] for o < outer, e < inner.
    const sliceLen = outer * inner;
    const elem = (i: number, j: number) => src[(Math.floor(j / inner) * m + i) * inner + (j % inner)];
    const keyOf = (i: number): unknown => {
      if (sliceLen === 1) { const v = elem(i, 0); return typeof v === 'number' && Object.is(v, -0) ? 0 : v; }
      const parts = new Array<string>(sliceLen);
      for (let j = 0; j < sliceLen; j++) { const v = elem(i, j); parts[j] = typeof v === 'string' ? JSON.stringify(v) : String(v); }
      return parts.join(',');
    };
    const groupOf = new Map<unknown, number>();
    const first: number[] = [], counts: number[] = [];
    const inverse = new Array<number>(m);
    for (let i = 0; i < m; i++) {
      const key = keyOf(i);
      let g = groupOf.get(key);
      if (g === undefined) { g = first.length; groupOf.set(key, g); first.push(i); counts.push(0); }
      counts[g]!++;
      inverse[i] = g;
    }
    const order = first.map((_, g) => g);
    if (sorted) {
      order.sort((ga, gb) => {
        for (let j = 0; j < sliceLen; j++) {
          const c = compareScalars(elem(first[ga]!, j), elem(first[gb]!, j));
          if (c !== 0) return c;
        }
        return 0;
      });
    }
    const rankOf = new Array<number>(order.length);
    order.forEach((g, r) => { rankOf[g] = r; });
    const u = order.length;
    const shape = [...x.shape];
    shape[axis] = u;
    const y = allocData(x.dtype, checkShape(shape, 'output'));
    for (let o = 0; o < outer; o++) {
      for (let r = 0; r < u; r++) copyBlock(y, (o * u + r) * inner, x.data, (o * m + first[order[r]!]!) * inner, inner);
    }
    return [
      new Tensor(x.dtype, shape, y),
      Tensor.from('i64', [u], order.map((g) => first[g]!)),
      Tensor.from('i64', [m], inverse.map((g) => rankOf[g]!)),
      Tensor.from('i64', [u], order.map((g) => counts[g]!)),
    ];
  },
};

// ---------------------------------------------------------------- Dropout

function dropoutRun(ctx: RunContext, ratio: number, training: boolean, maskDtype: DType): (RuntimeValue | undefined)[] {
  const x = ctx.tensor(0);
  const wantMask = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== null;
  if (!training || ratio === 0) {
    if (!wantMask) return [x];
    const mask = allocData(maskDtype, x.size);
    fillData(mask, storageValue(maskDtype, 1));
    return [x, new Tensor(maskDtype, [...x.shape], mask)];
  }
  if (!(ratio >= 0 && ratio < 1)) throw new TesseraError(`ratio must be in [0, 1), got ${ratio}`);
  if (!FLOAT_DTYPES.includes(x.dtype)) throw new TesseraError(`Dropout needs a float input, got ${x.dtype}`);
  const scale = 1 / (1 - ratio);
  const out = allocData(x.dtype, x.size) as Float32Array | Float64Array;
  const mask = allocData(maskDtype, x.size) as AnyArray;
  const src = x.data as Float32Array | Float64Array;
  const one = storageValue(maskDtype, 1);
  for (let i = 0; i < x.size; i++) {
    if (ctx.random() >= ratio) { out[i] = src[i]! * scale; mask[i] = one; }
  }
  const y = new Tensor(x.dtype, [...x.shape], out);
  if (x.dtype === 'f16' || x.dtype === 'bf16') { const r = x.dtype === 'f16' ? roundF16 : roundBf16; for (let i = 0; i < out.length; i++) out[i] = r(out[i]!); }
  return wantMask ? [y, new Tensor(maskDtype, [...x.shape], mask)] : [y];
}

function dropoutSchema(since: number): OpSchema {
  const legacy = since < 7; // is_test decides between training and inference
  const inputs = since >= 12;
  const maskBool = since >= 10;
  const attrs: Record<string, AttrSpec> =
    since === 1 ? { consumed_inputs: { kind: 'ints' }, is_test: { kind: 'int', default: 0 }, ratio: { kind: 'float', default: 0.5 } }
      : legacy ? { is_test: { kind: 'int', default: 0 }, ratio: { kind: 'float', default: 0.5 } }
        : inputs ? { seed: { kind: 'int' } }
          : { ratio: { kind: 'float', default: 0.5 } };
  return {
    name: 'Dropout', since, inputs: inputs ? [1, 3] : [1, 1], outputs: [1, 2], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      if (!FLOAT_DTYPES.includes(x.dtype)) throw new TesseraError(`Dropout needs a float input, got ${x.dtype}`);
      if (inputs) {
        if (hasInput(ctx, 1)) checkDtype(ctx.tensorInput(1), FLOAT_DTYPES, 'ratio');
        if (hasInput(ctx, 2)) checkDtype(ctx.tensorInput(2), ['bool'], 'training_mode');
      }
      return [x, tensorType(maskBool ? 'bool' : x.dtype, x.shape)];
    },
    run(ctx) {
      const maskDtype = maskBool ? 'bool' : ctx.tensor(0).dtype;
      if (inputs) {
        const r = ctx.optTensor(1), t = ctx.optTensor(2);
        const ratio = r ? scalarNumber(r, 'ratio') : 0.5;
        const training = t ? scalarNumber(t, 'training_mode') !== 0 : false;
        return dropoutRun(ctx, ratio, training, maskDtype);
      }
      const training = legacy && ctx.attrs.int('is_test') === 0;
      return dropoutRun(ctx, ctx.attrs.float('ratio'), training, maskDtype);
    },
  };
}

// ---------------------------------------------------------------- registration

const identity = (since: number): OpSchema => ({
  name: 'Identity', since, inputs: [1, 1], outputs: [1, 1], attrs: {},
  infer: (ctx): (ValueType | undefined)[] => [ctx.inputType(0)],
  run: (ctx) => [ctx.inputs[0]],
});

registerOps([
  ...[1, 13, 14, 16].map(identity),
  constantSchema(1, { value: { kind: 'tensor', required: true } }),
  constantSchema(9, { value: { kind: 'tensor', required: true } }),
  constantSchema(11, { value: { kind: 'tensor' }, sparse_value: { kind: 'tensor' } }),
  constantSchema(12, CONSTANT_12_ATTRS),
  constantSchema(13, CONSTANT_12_ATTRS),
  ...[1, 5, 13, 14].map(reshapeSchema),
  ...[1, 13, 15].map(shapeSchema),
  ...[1, 13].map(sizeSchema),
  ...[1, 9, 11, 13].map(flattenSchema),
  ...[1, 11, 13].map(squeezeSchema),
  ...[1, 11, 13].map(unsqueezeSchema),
  ...[1, 13].map(transposeSchema),
  ...[1, 4, 11, 13].map(concatSchema),
  ...[1, 2, 11, 13, 18].map(splitSchema),
  ...[1, 10, 11, 13].map(sliceSchema),
  ...[1, 11, 13].map(gatherSchema),
  ...[11, 13].map(gatherElementsSchema),
  ...[11, 12, 13].map(gatherNDSchema),
  scatterElementsSchema('Scatter', 9, false),
  scatterElementsSchema('Scatter', 11, false),
  scatterElementsSchema('ScatterElements', 11, false),
  scatterElementsSchema('ScatterElements', 13, false),
  scatterElementsSchema('ScatterElements', 16, true),
  scatterElementsSchema('ScatterElements', 18, true),
  ...[11, 13, 16, 18].map(scatterNDSchema),
  ...[8, 13].map(expandSchema),
  ...[1, 6, 13].map(tileSchema),
  ...[1, 2, 11, 13, 18].map(padSchema),
  constantOfShape,
  range,
  ...[9, 11].map(oneHotSchema),
  ...[9, 13].map(nonZeroSchema),
  ...[9, 11].map(compressSchema),
  ...[1, 11, 13].map(depthToSpaceSchema),
  ...[1, 13].map(spaceToDepthSchema),
  trilu,
  eyeLike,
  reverseSequence,
  unique,
  ...[1, 6, 7, 10, 12, 13].map(dropoutSchema),
]);

