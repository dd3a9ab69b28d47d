// Elementwise ops: unary math, binary arithmetic / comparison / logic with broadcasting, the variadic
// Max/Min/Sum/Mean, Where, Cast and CastLike — every version from opset 1.
//
// Kernels work on the storage described in ir/dtype.ts: results for i8..u32 are stored into their typed
// array, whose store conversion is C's wrap-around; i64/u64 are bigints that BigInt64Array /
// BigUint64Array wrap to 64 bits on store; f16/bf16 are computed in double and rounded once per result.
// Opsets 1–6 spell broadcasting differently (`broadcast`/`axis` attributes aligning B inside A); those
// versions are registered with their legacy attributes and meaning.
import {
  allocData, dtypeFromOnnx, FLOAT_DTYPES, isBigInt, isFloat, NUMERIC_DTYPES, roundBf16, roundDoubleToNarrow, roundF16, roundFloatsInPlace,
  type DType, type TensorData,
} from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import { AttrView, registerOps, type AttrSpec, type OpSchema, type RunContext } from '../registry.ts';
import { checkShape, sizeOf, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type TensorType } from '../types.ts';
import { __testHooks, broadcastDims, broadcastIndexMap, broadcastShapes, normAxis, staticShape } from './util.ts';

// ---------------------------------------------------------------- dtype groups

const FLOATS = FLOAT_DTYPES;
const NUMERIC = NUMERIC_DTYPES;
const SIGNED_NUMERIC: readonly DType[] = ['i8', 'i16', 'i32', 'i64', ...FLOATS];
const UINTS: readonly DType[] = ['u8', 'u16', 'u32', 'u64'];
const BOOL: readonly DType[] = ['bool'];
const NUMERIC_OR_BOOL: readonly DType[] = [...NUMERIC, 'bool'];
const ALL_VALUES: readonly DType[] = [...NUMERIC, 'bool', 'string'];

function checkDtype(op: string, what: string, d: DType, allowed: readonly DType[]): void {
  if (!allowed.includes(d)) throw new TesseraError(`${op} does not accept ${what} of type ${d} (allowed: ${allowed.join(', ')})`);
}

const fmtShape = (s: readonly Dim[]) => `[${s.join(',')}]`;

// ---------------------------------------------------------------- broadcasting plan

/**
 * How to walk a broadcast: the output is `outer` contiguous runs of `inner` elements; within a run each
 * input either advances with the output (step 1) or repeats one element (step 0), and `offsets[k][r]` is
 * where input k's run r starts. Coalescing the trailing dims this way keeps the inner loops long and
 * index-free for the common cases (same shape, scalar, per-channel bias).
 */
interface BroadcastPlan { inner: number; outer: number; steps: number[]; offsets: Int32Array[] }

function planBroadcast(shapes: readonly (readonly number[])[], outShape: readonly number[]): BroadcastPlan {
  if (__testHooks.broadcastOffByOne) return elementPlan(shapes, outShape);
  const rank = outShape.length;
  // Output dims of size 1 never move any index: drop them.
  const dims: number[] = [];
  const strides: number[][] = shapes.map(() => []);
  const full = shapes.map((s) => {
    const st = new Array<number>(rank).fill(0);
    let acc = 1;
    for (let i = s.length - 1; i >= 0; i--) {
      const o = rank - s.length + i;
      st[o] = s[i] === 1 ? 0 : acc;
      acc *= s[i]!;
    }
    return st;
  });
  for (let d = 0; d < rank; d++) {
    if (outShape[d] === 1) continue;
    dims.push(outShape[d]!);
    full.forEach((st, k) => strides[k]!.push(st[d]!));
  }
  const last = dims.length - 1;
  const steps = strides.map((st) => (last >= 0 && st[last] !== 0 ? 1 : 0));
  let inner = 1;
  let cut = dims.length;
  while (cut > 0) {
    const d = cut - 1;
    if (!strides.every((st, k) => (steps[k] === 0 ? st[d] === 0 : st[d] === inner))) break;
    inner *= dims[d]!;
    cut--;
  }
  let outer = 1;
  for (let d = 0; d < cut; d++) outer *= dims[d]!;
  const offsets = strides.map((st) => {
    const off = new Int32Array(outer);
    const idx = new Array<number>(cut).fill(0);
    let pos = 0;
    for (let r = 0; r < outer; r++) {
      off[r] = pos;
      for (let d = cut - 1; d >= 0; d--) {
        idx[d]!++;
        pos += st[d]!;
        if (idx[d]! < dims[d]!) break;
        pos -= st[d]! * dims[d]!;
        idx[d] = 0;
      }
    }
    return off;
  });
  return { inner, outer, steps, offsets };
}

/** A plan of one-element runs from broadcastIndexMap (used while a test plants a bug there: util.ts). */
function elementPlan(shapes: readonly (readonly number[])[], outShape: readonly number[]): BroadcastPlan {
  const n = sizeOf(outShape);
  const offsets = shapes.map((s) => broadcastIndexMap(s, outShape) ?? Int32Array.from({ length: n }, (_, i) => i));
  return { inner: 1, outer: n, steps: shapes.map(() => 0), offsets };
}

// ---------------------------------------------------------------- binary kernels

/** Writes `len` results to out[o..]; a's elements are a[ia + j*sa] (sa ∈ {0,1}), likewise b's. */
type Kernel2 = (out: any, o: number, a: any, ia: number, sa: number, b: any, ib: number, sb: number, len: number) => void;

/** A kernel from a per-element function (for the less hot ops and the bigint paths). */
function viaFn(f: (x: any, y: any) => any): Kernel2 {
  return (out, o, a, ia, sa, b, ib, sb, len) => {
    for (let j = 0; j < len; j++) out[o + j] = f(a[ia + j * sa], b[ib + j * sb]);
  };
}

// Hot arithmetic gets its own loop so each call site stays monomorphic.
const addK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = a[ia + j * sa] + b[ib + j * sb]; };
const subK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = a[ia + j * sa] - b[ib + j * sb]; };
const mulK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = a[ia + j * sa] * b[ib + j * sb]; };
const divK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = a[ia + j * sa] / b[ib + j * sb]; };
// Doubles lose the low bits of 32-bit products; Math.imul keeps them (and so wraps like C).
const imulK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = Math.imul(a[ia + j * sa], b[ib + j * sb]); };
const maxK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = Math.max(a[ia + j * sa], b[ib + j * sb]); };
const minK: Kernel2 = (out, o, a, ia, sa, b, ib, sb, len) => { for (let j = 0; j < len; j++) out[o + j] = Math.min(a[ia + j * sa], b[ib + j * sb]); };

const divisionByZero = () => new TesseraError('integer division by zero');

function intDiv(x: number, y: number): number {
  if (y === 0) throw divisionByZero();
  return Math.trunc(x / y); // exact for 32-bit operands: a non-integer quotient is ≥ 1/|y| from any integer
}
function bigDiv(x: bigint, y: bigint): bigint {
  if (y === 0n) throw divisionByZero();
  return x / y;
}

/** Per-dtype kernels of a binary op: `num` for number-backed types, `int` overrides it for integers. */
interface Kernels { num?: Kernel2; int?: Kernel2; big?: Kernel2 }

function pickKernel(op: string, ks: Kernels, d: DType): Kernel2 {
  const k = isBigInt(d) ? ks.big : isFloat(d) ? ks.num : ks.int ?? ks.num;
  if (!k) throw new TesseraError(`${op} does not accept type ${d}`);
  return k;
}

/** Applies a binary kernel with numpy broadcasting; `bShape` may re-view b (same size) for legacy alignment. */
function runBinary(a: Tensor, b: Tensor, outDtype: DType, kernel: Kernel2, bShape: readonly number[] = b.shape): Tensor {
  const outShape = broadcastShapes(a.shape, bShape);
  const n = checkShape(outShape, 'result');
  const out = allocData(outDtype, n);
  if (n > 0) {
    const p = planBroadcast([a.shape, bShape], outShape);
    const sa = p.steps[0]!, sb = p.steps[1]!;
    const offA = p.offsets[0]!, offB = p.offsets[1]!;
    const inner = p.inner;
    for (let r = 0; r < p.outer; r++) kernel(out, r * inner, a.data, offA[r]!, sa, b.data, offB[r]!, sb, inner);
  }
  roundFloatsInPlace(outDtype, out);
  return new Tensor(outDtype, outShape, out);
}

// ---------------------------------------------------------------- legacy (opset < 7) broadcasting

/**
 * Opsets 1–6: with broadcast=1, B's shape is a contiguous run of A's dims starting at `axis` (suffix
 * matching without it), or B has one element. Returns B's shape padded with 1s to A's rank, so the
 * numpy machinery can do the rest. With broadcast=0 the shapes must agree.
 */
function legacyRhsShape<D extends Dim>(aShape: readonly D[], bShape: readonly D[], attrs: AttrView): D[] {
  if (attrs.int('broadcast', 0) === 0) {
    const differ = aShape.length !== bShape.length ||
      aShape.some((d, i) => typeof d === 'number' && typeof bShape[i] === 'number' && d !== bShape[i]);
    if (differ) {
      throw new TesseraError(`shapes ${fmtShape(aShape)} and ${fmtShape(bShape)} differ and broadcast is 0 (before opset 7 broadcasting needs broadcast=1)`);
    }
    return [...bShape];
  }
  if (bShape.every((d) => d === 1)) return [];
  const axis = attrs.has('axis') ? normAxis(attrs.int('axis'), aShape.length) : aShape.length - bShape.length;
  const clash = (d: D, i: number) => {
    const ad = aShape[axis + i];
    return typeof d === 'number' && typeof ad === 'number' && d !== 1 && d !== ad;
  };
  if (axis < 0 || axis + bShape.length > aShape.length || bShape.some(clash)) {
    throw new TesseraError(`B of shape ${fmtShape(bShape)} does not fit into A of shape ${fmtShape(aShape)} at axis ${axis}`);
  }
  return [
    ...new Array<number>(axis).fill(1), ...bShape,
    ...new Array<number>(aShape.length - axis - bShape.length).fill(1),
  ] as D[];
}

const LEGACY_BROADCAST: Record<string, AttrSpec> = { broadcast: { kind: 'int', default: 0 }, axis: { kind: 'int' } };
const CONSUMED: Record<string, AttrSpec> = { consumed_inputs: { kind: 'ints' } };

// ---------------------------------------------------------------- binary op definitions

interface BinaryDef {
  name: string;
  /** Versions; those below 7 get the legacy broadcast attributes. */
  sinces: number[];
  dtypes: readonly DType[];
  /** Output dtype when it is not the input dtype (comparisons). */
  out?: DType;
  /** Opset-1 form also carries `consumed_inputs`. */
  consumedAt1?: boolean;
  extraAttrs?: Record<string, AttrSpec>;
  kernels(ctx: RunContext, d: DType): Kernel2;
}

function binaryOps(def: BinaryDef): OpSchema[] {
  return def.sinces.map((since): OpSchema => {
    const legacy = since < 7;
    const attrs: Record<string, AttrSpec> = {
      ...(legacy ? LEGACY_BROADCAST : {}), ...(legacy && since === 1 && def.consumedAt1 ? CONSUMED : {}), ...def.extraAttrs,
    };
    return {
      name: def.name, since, inputs: [2, 2], outputs: [1, 1], attrs,
      infer(ctx) {
        const a = ctx.tensorInput(0), b = ctx.tensorInput(1);
        checkDtype(def.name, 'input A', a.dtype, def.dtypes);
        if (b.dtype !== a.dtype) throw new TesseraError(`input types differ: ${a.dtype} and ${b.dtype}`);
        let shape: Dim[] | undefined;
        if (legacy && a.shape && b.shape) shape = broadcastDims(ctx, a.shape, legacyRhsShape(a.shape, b.shape, ctx.attrs));
        else if (legacy && ctx.attrs.int('broadcast', 0) === 1) shape = a.shape; // B always fits into A
        else shape = broadcastDims(ctx, a.shape, b.shape);
        return [tensorType(def.out ?? a.dtype, shape)];
      },
      run(ctx) {
        const a = ctx.tensor(0), b = ctx.tensor(1);
        if (b.dtype !== a.dtype) throw new TesseraError(`input types differ: ${a.dtype} and ${b.dtype}`);
        const bShape = legacy ? legacyRhsShape(a.shape, b.shape, ctx.attrs) : b.shape;
        return [runBinary(a, b, def.out ?? a.dtype, def.kernels(ctx, a.dtype), bShape)];
      },
    };
  });
}

const ARITH = {
  Add: { num: addK, big: viaFn((x: bigint, y: bigint) => x + y) },
  Sub: { num: subK, big: viaFn((x: bigint, y: bigint) => x - y) },
  Mul: { num: mulK, int: imulK, big: viaFn((x: bigint, y: bigint) => x * y) },
  Div: { num: divK, int: viaFn(intDiv), big: viaFn(bigDiv) },
} satisfies Record<string, Kernels>;

const eqK = viaFn((x, y) => (x === y ? 1 : 0));
const gtK = viaFn((x, y) => (x > y ? 1 : 0));
const geK = viaFn((x, y) => (x >= y ? 1 : 0));
const ltK = viaFn((x, y) => (x < y ? 1 : 0));
const leK = viaFn((x, y) => (x <= y ? 1 : 0));

// ---- Mod

/** Remainder whose sign follows the divisor (Python's %, ONNX fmod=0). */
function floorMod(x: number, y: number): number {
  if (y === 0) throw divisionByZero();
  const r = x % y;
  return r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
}
function floorModBig(x: bigint, y: bigint): bigint {
  if (y === 0n) throw divisionByZero();
  const r = x % y;
  return r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r;
}
function truncMod(x: number, y: number): number {
  if (y === 0) throw divisionByZero();
  return x % y;
}
function truncModBig(x: bigint, y: bigint): bigint {
  if (y === 0n) throw divisionByZero();
  return x % y;
}
const fmodFloatK = viaFn((x: number, y: number) => x % y); // JS % is C fmod for doubles

function modKernel(ctx: RunContext, d: DType): Kernel2 {
  const fmod = ctx.attrs.int('fmod', 0);
  if (fmod !== 0 && fmod !== 1) throw new TesseraError(`fmod must be 0 or 1, got ${fmod}`);
  if (isFloat(d)) {
    if (fmod === 0) throw new TesseraError(`fmod must be 1 for floating-point inputs (got ${d})`);
    return fmodFloatK;
  }
  if (isBigInt(d)) return viaFn(fmod ? truncModBig : floorModBig);
  return viaFn(fmod ? truncMod : floorMod);
}

// ---- BitShift

function bitShiftKernel(ctx: RunContext, d: DType): Kernel2 {
  const dir = ctx.attrs.string('direction');
  if (dir !== 'LEFT' && dir !== 'RIGHT') throw new TesseraError(`direction must be LEFT or RIGHT, got '${dir}'`);
  const left = dir === 'LEFT';
  if (d === 'u64') {
    return viaFn(left ? (x: bigint, y: bigint) => (y >= 64n ? 0n : x << y) : (x: bigint, y: bigint) => x >> y);
  }
  const bits = d === 'u8' ? 8 : d === 'u16' ? 16 : 32;
  // JS shifts count modulo 32; C semantics for counts ≥ the width are taken as numpy's (all bits out).
  return viaFn(left
    ? (x: number, y: number) => (y >= bits ? 0 : (x << y) >>> 0)
    : (x: number, y: number) => (y >= bits ? 0 : x >>> y));
}

// ---- Pow

/** C pow: 1**y and (-1)**±inf are 1 where JS Math.pow answers NaN. */
function powF(x: number, y: number): number {
  if (x === 1 || y === 0) return 1;
  if (x === -1 && (y === Infinity || y === -Infinity)) return 1;
  return Math.pow(x, y);
}

/** Integer power wrapped to 32 bits; a negative exponent truncates 1/x^n toward zero. */
function intPow(x: number, e: number): number {
  if (e < 0) return x === 1 ? 1 : x === -1 ? (e % 2 === 0 ? 1 : -1) : 0;
  let r = 1, b = x | 0;
  while (e > 0) {
    if (e % 2 === 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
    e = Math.floor(e / 2);
  }
  return r;
}

function bigPow(x: bigint, e: bigint): bigint {
  if (e < 0n) return x === 1n ? 1n : x === -1n ? (e % 2n === 0n ? 1n : -1n) : 0n;
  let r = 1n, b = x;
  while (e > 0n) {
    if (e & 1n) r = BigInt.asUintN(64, r * b);
    b = BigInt.asUintN(64, b * b);
    e >>= 1n;
  }
  return r; // the typed-array store reinterprets the low 64 bits as signed or unsigned
}

/** Float → 64-bit integer as a C cast would for in-range values; out of range (UB in C) wraps, NaN → 0. */
function floatToBig(v: number): bigint {
  return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}

function powKernel(base: DType, exp: DType): Kernel2 {
  const expBig = isBigInt(exp);
  if (isFloat(base)) return expBig ? viaFn((x: number, y: bigint) => powF(x, Number(y))) : viaFn(powF);
  if (isBigInt(base)) {
    if (isFloat(exp)) return viaFn((x: bigint, y: number) => floatToBig(powF(Number(x), y)));
    return expBig ? viaFn(bigPow) : viaFn((x: bigint, y: number) => bigPow(x, BigInt(y)));
  }
  if (isFloat(exp)) return viaFn((x: number, y: number) => powF(x, y)); // stored with truncation
  return expBig ? viaFn((x: number, y: bigint) => intPow(x, Number(y))) : viaFn(intPow);
}

function powOps(): OpSchema[] {
  const baseTypes: readonly DType[] = NUMERIC;
  return [1, 7, 12, 13, 15].map((since): OpSchema => {
    const legacy = since < 7;
    return {
      name: 'Pow', since, inputs: [2, 2], outputs: [1, 1], attrs: legacy ? LEGACY_BROADCAST : {},
      infer(ctx) {
        const a = ctx.tensorInput(0), b = ctx.tensorInput(1);
        checkDtype('Pow', 'base', a.dtype, baseTypes);
        checkDtype('Pow', 'exponent', b.dtype, NUMERIC);
        const shape = legacy && a.shape && b.shape
          ? broadcastDims(ctx, a.shape, legacyRhsShape(a.shape, b.shape, ctx.attrs))
          : broadcastDims(ctx, a.shape, b.shape);
        return [tensorType(a.dtype, shape)];
      },
      run(ctx) {
        const a = ctx.tensor(0), b = ctx.tensor(1);
        const bShape = legacy ? legacyRhsShape(a.shape, b.shape, ctx.attrs) : b.shape;
        return [runBinary(a, b, a.dtype, powKernel(a.dtype, b.dtype), bShape)];
      },
    };
  });
}

// ---- PRelu

function preluSlopeShape(x: readonly number[], slope: readonly number[], legacy: boolean): number[] {
  // Before opset 7 the slope is one value or one per channel (axis 1), not numpy-broadcast.
  if (legacy) {
    if (slope.every((d) => d === 1)) return [];
    if (slope.length === 1 && x.length >= 2 && slope[0] === x[1]) return [slope[0]!, ...new Array<number>(x.length - 2).fill(1)];
  }
  const out = broadcastShapes(x, slope);
  if (out.length !== x.length || out.some((d, i) => d !== x[i])) {
    throw new TesseraError(`slope of shape ${fmtShape(slope)} cannot be broadcast to X of shape ${fmtShape(x)}`);
  }
  return [...slope];
}

const preluK: Kernels = {
  num: (out, o, a, ia, sa, b, ib, sb, len) => {
    for (let j = 0; j < len; j++) { const x = a[ia + j * sa]; out[o + j] = x < 0 ? x * b[ib + j * sb] : x; }
  },
  int: viaFn((x: number, s: number) => (x < 0 ? Math.imul(x, s) : x)),
  big: viaFn((x: bigint, s: bigint) => (x < 0n ? x * s : x)),
};

function preluOps(): OpSchema[] {
  return [1, 6, 7, 9, 16].map((since): OpSchema => ({
    name: 'PRelu', since, inputs: [2, 2], outputs: [1, 1], attrs: since === 1 ? CONSUMED : {},
    infer(ctx) {
      const x = ctx.tensorInput(0), s = ctx.tensorInput(1);
      checkDtype('PRelu', 'X', x.dtype, since >= 9 ? [...FLOATS, 'i32', 'i64', 'u32', 'u64'] : FLOATS);
      if (s.dtype !== x.dtype) throw new TesseraError(`input types differ: ${x.dtype} and ${s.dtype}`);
      const xs = staticShape(x), ss = staticShape(s);
      if (xs && ss) preluSlopeShape(xs, ss, since < 7);
      return [x];
    },
    run(ctx) {
      const x = ctx.tensor(0), s = ctx.tensor(1);
      if (s.dtype !== x.dtype) throw new TesseraError(`input types differ: ${x.dtype} and ${s.dtype}`);
      return [runBinary(x, s, x.dtype, pickKernel('PRelu', preluK, x.dtype), preluSlopeShape(x.shape, s.shape, since < 7))];
    },
  }));
}

// ---------------------------------------------------------------- variadic ops

interface VariadicDef {
  name: string;
  sinces: number[];
  dtypes: readonly DType[];
  kernels: Kernels;
  /** Mean divides the sum by the input count. */
  mean?: boolean;
}

function variadicOps(def: VariadicDef): OpSchema[] {
  return def.sinces.map((since): OpSchema => ({
    name: def.name, since, inputs: [1, Infinity], outputs: [1, 1], attrs: since === 1 ? CONSUMED : {},
    infer(ctx) {
      const ts: TensorType[] = [];
      for (let i = 0; i < ctx.inputCount; i++) ts.push(ctx.tensorInput(i));
      checkDtype(def.name, 'input', ts[0]!.dtype, def.dtypes);
      for (const t of ts) if (t.dtype !== ts[0]!.dtype) throw new TesseraError(`input types differ: ${ts[0]!.dtype} and ${t.dtype}`);
      return [tensorType(ts[0]!.dtype, broadcastDims(ctx, ...ts.map((t) => t.shape)))];
    },
    run(ctx) {
      const first = ctx.tensor(0);
      const kernel = pickKernel(def.name, def.kernels, first.dtype);
      let acc = first;
      for (let i = 1; i < ctx.inputCount; i++) {
        const t = ctx.tensor(i);
        if (t.dtype !== first.dtype) throw new TesseraError(`input types differ: ${first.dtype} and ${t.dtype}`);
        acc = runBinary(acc, t, first.dtype, kernel);
      }
      if (def.mean && ctx.inputCount > 1) {
        const out = allocData(acc.dtype, acc.size) as Float32Array | Float64Array;
        const src = acc.data as Float32Array | Float64Array;
        const n = ctx.inputCount;
        for (let i = 0; i < out.length; i++) out[i] = src[i]! / n;
        roundFloatsInPlace(acc.dtype, out);
        acc = new Tensor(acc.dtype, acc.shape, out);
      }
      return [acc];
    },
  }));
}

const bigMax = viaFn((x: bigint, y: bigint) => (x > y ? x : y));
const bigMin = viaFn((x: bigint, y: bigint) => (x < y ? x : y));

// ---------------------------------------------------------------- Where

function whereOps(): OpSchema[] {
  return [9, 16].map((since): OpSchema => ({
    name: 'Where', since, inputs: [3, 3], outputs: [1, 1], attrs: {},
    infer(ctx) {
      const c = ctx.tensorInput(0), x = ctx.tensorInput(1), y = ctx.tensorInput(2);
      checkDtype('Where', 'condition', c.dtype, BOOL);
      checkDtype('Where', 'X', x.dtype, ALL_VALUES);
      if (y.dtype !== x.dtype) throw new TesseraError(`input types differ: ${x.dtype} and ${y.dtype}`);
      return [tensorType(x.dtype, broadcastDims(ctx, c.shape, x.shape, y.shape))];
    },
    run(ctx) {
      const c = ctx.tensor(0), x = ctx.tensor(1), y = ctx.tensor(2);
      if (c.dtype !== 'bool') throw new TesseraError(`condition must be bool, got ${c.dtype}`);
      if (y.dtype !== x.dtype) throw new TesseraError(`input types differ: ${x.dtype} and ${y.dtype}`);
      const outShape = broadcastShapes(c.shape, x.shape, y.shape);
      const n = checkShape(outShape, 'result');
      const out = allocData(x.dtype, n) as any;
      if (n > 0) {
        const p = planBroadcast([c.shape, x.shape, y.shape], outShape);
        const [sc, sx, sy] = p.steps as [number, number, number];
        const [oc, ox, oy] = p.offsets as [Int32Array, Int32Array, Int32Array];
        const cd = c.data as Uint8Array, xd = x.data as any, yd = y.data as any;
        for (let r = 0, o = 0; r < p.outer; r++) {
          const ic = oc[r]!, ix = ox[r]!, iy = oy[r]!;
          for (let j = 0; j < p.inner; j++, o++) out[o] = cd[ic + j * sc] ? xd[ix + j * sx] : yd[iy + j * sy];
        }
      }
      return [new Tensor(x.dtype, outShape, out as TensorData)];
    },
  }));
}

// ---------------------------------------------------------------- unary ops

interface UnaryFns {
  /** Per element, for number-backed dtypes. */
  num?: (x: number) => number;
  /** Per element, for i64/u64. */
  big?: (x: bigint) => bigint;
  /** A whole loop for number-backed dtypes (hot activations: keeps the call site monomorphic). */
  loop?: (src: any, dst: any, n: number) => void;
}

function runUnary(op: string, x: Tensor, outDtype: DType, fns: UnaryFns): Tensor {
  const n = x.size;
  const out = allocData(outDtype, n) as any;
  const src = x.data as any;
  if (isBigInt(x.dtype)) {
    const f = fns.big;
    if (!f) throw new TesseraError(`${op} does not accept type ${x.dtype}`);
    for (let i = 0; i < n; i++) out[i] = f(src[i]);
  } else if (fns.loop) {
    fns.loop(src, out, n);
  } else {
    const f = fns.num;
    if (!f) throw new TesseraError(`${op} does not accept type ${x.dtype}`);
    for (let i = 0; i < n; i++) out[i] = f(src[i]);
  }
  roundFloatsInPlace(outDtype, out);
  return new Tensor(outDtype, x.shape, out as TensorData);
}

interface UnaryDef {
  name: string;
  sinces: number[];
  dtypes: readonly DType[];
  out?: DType;
  attrs?: Record<string, AttrSpec>;
  /** The opset-1 form also takes `consumed_inputs`. */
  consumedAt1?: boolean;
  fns(attrs: AttrView, dtype: DType): UnaryFns;
}

function unaryOps(def: UnaryDef): OpSchema[] {
  return def.sinces.map((since): OpSchema => ({
    name: def.name, since, inputs: [1, 1], outputs: [1, 1],
    attrs: { ...def.attrs, ...(since === 1 && def.consumedAt1 ? CONSUMED : {}) },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype(def.name, 'input', t.dtype, def.dtypes);
      return [tensorType(def.out ?? t.dtype, t.shape)];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      checkDtype(def.name, 'input', x.dtype, def.dtypes);
      return [runUnary(def.name, x, def.out ?? x.dtype, def.fns(ctx.attrs, x.dtype))];
    },
  }));
}

/** A float-only unary op without attributes. */
function mathOp(name: string, sinces: number[], f: (x: number) => number, consumedAt1 = false): OpSchema[] {
  const fns: UnaryFns = { num: f };
  return unaryOps({ name, sinces, dtypes: FLOATS, consumedAt1, fns: () => fns });
}

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/** erf to double precision: a positive series for small |x|, the erfc continued fraction beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax >= 6) r = 1;
  else if (ax < 2.5) {
    // erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): no cancellation between terms.
    const x2 = ax * ax;
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term <= sum * 1e-17) break;
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  } else {
    // erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))), evaluated from the tail.
    let t = ax;
    for (let k = 60; k >= 1; k--) t = ax + k / 2 / t;
    r = 1 - (TWO_OVER_SQRT_PI / 2) * Math.exp(-ax * ax) / t;
  }
  return x < 0 ? -r : r;
}

/** Round half to even (IEEE roundeven), keeping the sign of zero. */
function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const diff = x - f;
  let r: number;
  if (diff > 0.5) r = f + 1;
  else if (diff < 0.5) r = f;
  else r = f % 2 === 0 ? f : f + 1;
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x); // avoids exp overflow for large negative x
  return e / (1 + e);
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

const FLT_MAX = 3.4028234663852886e38;

function clipOps(): OpSchema[] {
  const fromAttrs = (since: number): OpSchema => ({
    name: 'Clip', since, inputs: [1, 1], outputs: [1, 1],
    attrs: { min: { kind: 'float', default: -FLT_MAX }, max: { kind: 'float', default: FLT_MAX }, ...(since === 1 ? CONSUMED : {}) },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype('Clip', 'input', t.dtype, FLOATS);
      return [t];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      checkDtype('Clip', 'input', x.dtype, FLOATS);
      return [clipTensor(x, ctx.attrs.float('min'), ctx.attrs.float('max'))];
    },
  });
  const fromInputs = (since: number): OpSchema => ({
    name: 'Clip', since, inputs: [1, 3], outputs: [1, 1], attrs: {},
    infer(ctx) {
      const t = ctx.tensorInput(0);
      checkDtype('Clip', 'input', t.dtype, since >= 12 ? NUMERIC : FLOATS);
      for (const i of [1, 2]) {
        const b = ctx.inputType(i);
        if (!b || b.kind !== 'tensor') continue;
        if (b.dtype !== t.dtype) throw new TesseraError(`input ${i} (${i === 1 ? 'min' : 'max'}) has type ${b.dtype}, expected ${t.dtype}`);
        if (b.shape && b.shape.some((d) => typeof d === 'number' && d !== 1)) {
          throw new TesseraError(`${i === 1 ? 'min' : 'max'} must be a scalar, got shape ${fmtShape(b.shape)}`);
        }
      }
      return [t];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const bound = (i: number): number | bigint | undefined => {
        const b = ctx.optTensor(i);
        if (!b) return undefined;
        if (b.dtype !== x.dtype) throw new TesseraError(`input ${i} has type ${b.dtype}, expected ${x.dtype}`);
        if (b.size !== 1) throw new TesseraError(`${i === 1 ? 'min' : 'max'} must be a scalar, got shape ${fmtShape(b.shape)}`);
        return b.data[0] as number | bigint;
      };
      return [clipTensor(x, bound(1), bound(2))];
    },
  });
  return [fromAttrs(1), fromAttrs(6), fromInputs(11), fromInputs(12), fromInputs(13)];
}

/** numpy.clip: max(x, lo) then min(·, hi), so lo > hi gives hi everywhere; NaN passes through. */
function clipTensor(x: Tensor, lo: number | bigint | undefined, hi: number | bigint | undefined): Tensor {
  if (isBigInt(x.dtype)) {
    const l = lo as bigint | undefined, h = hi as bigint | undefined;
    return runUnary('Clip', x, x.dtype, {
      big: (v) => { if (l !== undefined && v < l) v = l; if (h !== undefined && v > h) v = h; return v; },
    });
  }
  const l = (lo ?? -Infinity) as number, h = (hi ?? Infinity) as number;
  return runUnary('Clip', x, x.dtype, {
    loop: (src, dst, n) => { for (let i = 0; i < n; i++) dst[i] = Math.min(Math.max(src[i], l), h); },
  });
}

const alphaAttr = (v: number): Record<string, AttrSpec> => ({ alpha: { kind: 'float', default: v } });

function seluOps(): OpSchema[] {
  const make = (since: number, alpha: number, gamma: number) => unaryOps({
    name: 'Selu', sinces: [since], dtypes: FLOATS, consumedAt1: true,
    attrs: { alpha: { kind: 'float', default: alpha }, gamma: { kind: 'float', default: gamma } },
    fns: (attrs) => {
      const a = attrs.float('alpha'), g = attrs.float('gamma');
      return { num: (x) => (x > 0 ? g * x : g * (a * Math.exp(x) - a)) };
    },
  });
  // Opset 1 documented rounder defaults than the float32 constants of opset 6.
  return [...make(1, 1.6732, 1.0507), ...make(6, 1.67326319217681884765625, 1.05070102214813232421875)];
}

const unaryDefs: OpSchema[] = [
  ...unaryOps({
    name: 'Abs', sinces: [1, 6, 13], dtypes: NUMERIC, consumedAt1: true,
    fns: () => ({ num: Math.abs, big: (x) => (x < 0n ? -x : x) }),
  }),
  ...unaryOps({
    name: 'Neg', sinces: [1, 6, 13], dtypes: SIGNED_NUMERIC, consumedAt1: true,
    fns: () => ({ num: (x) => -x, big: (x) => -x }),
  }),
  ...unaryOps({
    name: 'Sign', sinces: [9, 13], dtypes: NUMERIC,
    fns: () => ({ num: (x) => (x > 0 ? 1 : x < 0 ? -1 : x), big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n) }),
  }),
  ...unaryOps({
    name: 'Relu', sinces: [1, 6, 13, 14], dtypes: SIGNED_NUMERIC, consumedAt1: true,
    fns: () => ({
      // `x < 0 ? 0 : x` lets NaN through, as numpy.maximum(x, 0) does.
      loop: (src, dst, n) => { for (let i = 0; i < n; i++) { const v = src[i]; dst[i] = v < 0 ? 0 : v; } },
      big: (x) => (x < 0n ? 0n : x),
    }),
  }),
  ...mathOp('Ceil', [1, 6, 13], Math.ceil, true),
  ...mathOp('Floor', [1, 6, 13], Math.floor, true),
  ...mathOp('Round', [11], roundHalfEven),
  ...unaryOps({
    name: 'Exp', sinces: [1, 6, 13], dtypes: FLOATS, consumedAt1: true,
    fns: () => ({ loop: (src, dst, n) => { for (let i = 0; i < n; i++) dst[i] = Math.exp(src[i]); } }),
  }),
  ...mathOp('Log', [1, 6, 13], Math.log, true),
  ...unaryOps({
    name: 'Sqrt', sinces: [1, 6, 13], dtypes: FLOATS, consumedAt1: true,
    fns: () => ({ loop: (src, dst, n) => { for (let i = 0; i < n; i++) dst[i] = Math.sqrt(src[i]); } }),
  }),
  ...mathOp('Reciprocal', [1, 6, 13], (x) => 1 / x, true),
  ...unaryOps({
    name: 'Sigmoid', sinces: [1, 6, 13], dtypes: FLOATS, consumedAt1: true,
    fns: () => ({ loop: (src, dst, n) => { for (let i = 0; i < n; i++) dst[i] = sigmoid(src[i]); } }),
  }),
  ...unaryOps({
    name: 'Tanh', sinces: [1, 6, 13], dtypes: FLOATS, consumedAt1: true,
    fns: () => ({ loop: (src, dst, n) => { for (let i = 0; i < n; i++) dst[i] = Math.tanh(src[i]); } }),
  }),
  ...mathOp('Acos', [7], Math.acos),
  ...mathOp('Asin', [7], Math.asin),
  ...mathOp('Atan', [7], Math.atan),
  ...mathOp('Cos', [7], Math.cos),
  ...mathOp('Sin', [7], Math.sin),
  ...mathOp('Tan', [7], Math.tan),
  ...mathOp('Acosh', [9], Math.acosh),
  ...mathOp('Asinh', [9], Math.asinh),
  ...mathOp('Atanh', [9], Math.atanh),
  ...mathOp('Cosh', [9], Math.cosh),
  ...mathOp('Sinh', [9], Math.sinh),
  // Erf-9 also lists integer types: the result is truncated back into them.
  ...unaryOps({ name: 'Erf', sinces: [9, 13], dtypes: NUMERIC, fns: () => ({ num: erf, big: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n) }) }),
  ...mathOp('Softplus', [1], softplus),
  ...mathOp('Softsign', [1], (x) => x / (1 + Math.abs(x))),
  ...unaryOps({
    name: 'IsNaN', sinces: [9, 13], dtypes: FLOATS, out: 'bool',
    fns: () => ({ num: (x) => (x !== x ? 1 : 0) }),
  }),
  ...unaryOps({
    name: 'IsInf', sinces: [10], dtypes: FLOATS, out: 'bool',
    attrs: { detect_negative: { kind: 'int', default: 1 }, detect_positive: { kind: 'int', default: 1 } },
    fns: (attrs) => {
      const neg = attrs.int('detect_negative') !== 0, pos = attrs.int('detect_positive') !== 0;
      return { num: (x) => ((pos && x === Infinity) || (neg && x === -Infinity) ? 1 : 0) };
    },
  }),
  ...unaryOps({ name: 'Not', sinces: [1], dtypes: BOOL, fns: () => ({ num: (x) => (x ? 0 : 1) }) }),
  ...unaryOps({
    name: 'Elu', sinces: [1, 6], dtypes: FLOATS, consumedAt1: true, attrs: alphaAttr(1.0),
    fns: (attrs) => { const a = attrs.float('alpha'); return { num: (x) => (x >= 0 ? x : a * Math.expm1(x)) }; },
  }),
  ...seluOps(),
  ...unaryOps({
    name: 'Celu', sinces: [12], dtypes: FLOATS, attrs: alphaAttr(1.0),
    fns: (attrs) => {
      const a = attrs.float('alpha');
      if (a === 0) throw new TesseraError('alpha must not be 0');
      return { num: (x) => Math.max(0, x) + Math.min(0, a * Math.expm1(x / a)) };
    },
  }),
  ...unaryOps({
    name: 'LeakyRelu', sinces: [1, 6, 16], dtypes: FLOATS, consumedAt1: true, attrs: alphaAttr(0.01),
    fns: (attrs) => {
      const a = attrs.float('alpha');
      return { loop: (src, dst, n) => { for (let i = 0; i < n; i++) { const v = src[i]; dst[i] = v < 0 ? a * v : v; } } };
    },
  }),
  ...unaryOps({
    name: 'ThresholdedRelu', sinces: [10], dtypes: FLOATS, attrs: alphaAttr(1.0),
    fns: (attrs) => { const a = attrs.float('alpha'); return { num: (x) => (x > a ? x : 0) }; },
  }),
  ...unaryOps({
    name: 'HardSigmoid', sinces: [1, 6], dtypes: FLOATS, consumedAt1: true,
    attrs: { alpha: { kind: 'float', default: 0.2 }, beta: { kind: 'float', default: 0.5 } },
    fns: (attrs) => {
      const a = attrs.float('alpha'), b = attrs.float('beta');
      return { loop: (src, dst, n) => { for (let i = 0; i < n; i++) dst[i] = Math.max(0, Math.min(1, a * src[i] + b)); } };
    },
  }),
  ...unaryOps({
    name: 'HardSwish', sinces: [14], dtypes: FLOATS,
    // ONNX defines HardSwish as x * HardSigmoid<alpha=1/6, beta=0.5>(x) with a float32 alpha (0.16666667163372).
    fns: () => ({
      loop: (src, dst, n) => { for (let i = 0; i < n; i++) { const v = src[i]; dst[i] = v * Math.max(0, Math.min(1, v * SIXTH + 0.5)); } },
    }),
  }),
  ...unaryOps({
    name: 'Shrink', sinces: [9], dtypes: NUMERIC,
    attrs: { bias: { kind: 'float', default: 0 }, lambd: { kind: 'float', default: 0.5 } },
    fns: (attrs) => {
      const bias = attrs.float('bias'), lambd = attrs.float('lambd');
      const f = (x: number) => (x < -lambd ? x + bias : x > lambd ? x - bias : 0);
      return { num: f, big: (x) => floatToBig(f(Number(x))) };
    },
  }),
  ...clipOps(),
];

const SIXTH = Math.fround(1 / 6);

// ---------------------------------------------------------------- Cast / CastLike

const CAST_NAMES: Record<string, DType> = {
  FLOAT: 'f32', UINT8: 'u8', INT8: 'i8', UINT16: 'u16', INT16: 'i16', INT32: 'i32', INT64: 'i64', STRING: 'string',
  BOOL: 'bool', FLOAT16: 'f16', DOUBLE: 'f64', UINT32: 'u32', UINT64: 'u64', BFLOAT16: 'bf16',
};

/** The target dtype of a Cast node: an ONNX type code, or (opset 1) a type name. */
function castTarget(attrs: AttrView, since: number): DType {
  if (since === 1) {
    const name = attrs.string('to');
    const d = CAST_NAMES[name.toUpperCase()];
    if (!d) throw new TesseraError(`'to' names unknown type '${name}'`);
    return d;
  }
  const code = attrs.int('to');
  const d = dtypeFromOnnx(code);
  if (typeof d === 'object') throw new TesseraError(`cannot cast to ${d.unsupported}`);
  return d;
}

/**
 * Formats a float as numpy's str() does: the shortest digits that read back to the same value in the
 * value's own precision; positional when 1e-4 ≤ |x| < a per-type bound (1e3 for f16, 1e6 for f32,
 * 1e16 for f64) or x is 0, scientific otherwise. bf16 (unknown to numpy) is formatted like f32.
 */
export function formatFloatLikeNumpy(x: number, dtype: DType): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  const ax = Math.abs(x);
  let digits = '0', exp = 0;
  if (ax !== 0) {
    [digits, exp] = dtype === 'f64' ? splitExponential(ax.toExponential()) // V8: shortest round trip
      : shortestDigits(ax, dtype === 'f16' ? roundF16 : dtype === 'bf16' ? roundBf16 : Math.fround);
  }
  const positionalBelow = dtype === 'f16' ? 1e3 : dtype === 'f64' ? 1e16 : 1e6;
  if (ax === 0 || (ax >= 1e-4 && ax < positionalBelow)) {
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
      return `${sign}${intPart}.${digits.slice(exp + 1) || '0'}`;
    }
    return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function splitExponential(s: string): [string, number] {
  const [m, e] = s.split('e') as [string, string];
  return [m.replace('.', '').replace(/0+$/, '') || '0', Number(e)];
}

/**
 * Shortest decimal digits of positive x that `back` (rounding to the narrow type) maps to x again, and
 * the decimal exponent of the first digit. Exact ties at the last digit go to the even digit (numpy's
 * Dragon4), where toExponential would round them up.
 */
function shortestDigits(x: number, back: (v: number) => number): [string, number] {
  for (let p = 1; p <= 17; p++) {
    const s = x.toExponential(p - 1);
    if (back(Number(s)) !== x) continue;
    let [digits, exp] = splitExponential(s);
    const half = x.toExponential(p);
    if (half.split('e')[0]!.endsWith('5') && digits.length === p && Number(digits[p - 1]) % 2 === 1 && isExactly(x, half)) {
      const lower = (BigInt(digits) - 1n).toString();
      if (lower.length === p && back(Number(`${lower}e${exp - p + 1}`)) === x) digits = lower.replace(/0+$/, '') || '0';
    }
    return [digits, exp];
  }
  return splitExponential(x.toExponential());
}

/** Whether the decimal string equals the double x exactly (not merely rounds to it). */
function isExactly(x: number, decimal: string): boolean {
  const [digits, exp] = splitExponential(decimal);
  const k = exp - digits.length + 1; // value = digits × 10^k
  const f = new Float64Array([x]);
  const bits = new BigUint64Array(f.buffer)[0]!;
  const be = Number((bits >> 52n) & 0x7ffn);
  const mant = (bits & ((1n << 52n) - 1n)) | (be === 0 ? 0n : 1n << 52n);
  const e2 = (be === 0 ? 1 : be) - 1075; // x = mant × 2^e2
  const lhs = mant * 2n ** BigInt(Math.max(e2, 0)) * 10n ** BigInt(Math.max(-k, 0));
  const rhs = BigInt(digits) * 2n ** BigInt(Math.max(-e2, 0)) * 10n ** BigInt(Math.max(k, 0));
  return lhs === rhs;
}

const FLOAT_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INT_TEXT = /^[+-]?\d+$/;

/** Parses a string as numpy's float() does (decimal, nan, inf, infinity; surrounding space allowed). */
function parseFloatText(s: string): number {
  const t = s.trim();
  if (FLOAT_TEXT.test(t)) return Number(t);
  const low = t.toLowerCase().replace(/^\+/, '');
  if (low === 'nan' || low === '-nan') return NaN;
  if (low === 'inf' || low === 'infinity') return Infinity;
  if (low === '-inf' || low === '-infinity') return -Infinity;
  throw new TesseraError(`cannot cast string '${s}' to a number`);
}

function parseIntText(s: string): bigint {
  const t = s.trim();
  if (INT_TEXT.test(t)) return BigInt(t);
  throw new TesseraError(`cannot cast string '${s}' to an integer`);
}

function parseBoolText(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'true') return 1;
  if (t === 'false') return 0;
  return parseFloatText(s) !== 0 ? 1 : 0;
}

function toText(v: number | bigint, from: DType): string {
  if (from === 'bool') return v ? 'True' : 'False';
  if (isFloat(from)) return formatFloatLikeNumpy(v as number, from);
  return String(v);
}


/** v rounded to p significant bits (half to even), exactly: the result is a double that p-bit floats hold. */
function roundBigToBits(v: bigint, p: number): number {
  const m = v < 0n ? -v : v;
  const len = m.toString(2).length;
  if (len <= p) return Number(v);
  const shift = BigInt(len - p);
  let q = m >> shift;
  const rem = m - (q << shift), half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  const r = Number(q) * 2 ** (len - p);
  return v < 0n ? -r : r;
}

/** Converts every element to `to` with C cast semantics (wrap for integers, truncation from floats). */
export function castTensor(x: Tensor, to: DType): Tensor {
  const from = x.dtype;
  if (from === to) return x;
  const n = x.size;
  const out = allocData(to, n) as any;
  const src = x.data as any;
  if (to === 'string') {
    for (let i = 0; i < n; i++) out[i] = toText(src[i], from);
  } else if (from === 'string') {
    if (to === 'bool') for (let i = 0; i < n; i++) out[i] = parseBoolText(src[i]);
    else if (isFloat(to)) for (let i = 0; i < n; i++) out[i] = parseFloatText(src[i]);
    else if (isBigInt(to)) for (let i = 0; i < n; i++) out[i] = parseIntText(src[i]);
    else for (let i = 0; i < n; i++) out[i] = Number(BigInt.asIntN(32, parseIntText(src[i])));
  } else if (to === 'bool') {
    // NaN is truthy, as in C and numpy.
    if (isBigInt(from)) for (let i = 0; i < n; i++) out[i] = src[i] !== 0n ? 1 : 0;
    else for (let i = 0; i < n; i++) out[i] = src[i] !== 0 ? 1 : 0;
  } else if (isBigInt(to)) {
    if (isBigInt(from)) for (let i = 0; i < n; i++) out[i] = src[i];
    else if (isFloat(from)) for (let i = 0; i < n; i++) out[i] = floatToBig(src[i]);
    else for (let i = 0; i < n; i++) out[i] = BigInt(src[i]);
  } else if (isBigInt(from)) {
    // Keep the low 32 bits exactly before narrowing (a double would round them away). To a float type,
    // round once to its precision: through a double first, 2^60 + 2^36 + 1 would land on an f32 tie.
    if (to === 'f64') for (let i = 0; i < n; i++) out[i] = Number(src[i]);
    else if (isFloat(to)) {
      // f16 overflows past 65504 (after rounding to 11 bits the next value is 65536): ±Infinity, as a cast does.
      const p = to === 'f32' ? 24 : to === 'f16' ? 11 : 8;
      for (let i = 0; i < n; i++) {
        const r = roundBigToBits(src[i], p);
        out[i] = to === 'f16' && Math.abs(r) > 65504 ? (r < 0 ? -Infinity : Infinity) : r;
      }
    }
    else for (let i = 0; i < n; i++) out[i] = Number(BigInt.asIntN(32, src[i]));
  } else if (from === 'f64' && (to === 'f16' || to === 'bf16')) {
    const round = to === 'f16' ? roundF16 : roundBf16;
    for (let i = 0; i < n; i++) out[i] = roundDoubleToNarrow(src[i], round);
  } else {
    // Typed-array stores truncate toward zero and wrap; f32 stores round to nearest.
    for (let i = 0; i < n; i++) out[i] = src[i];
  }
  roundFloatsInPlace(to, out);
  return new Tensor(to, x.shape, out as TensorData);
}

function castOps(): OpSchema[] {
  const cast = (since: number): OpSchema => ({
    name: 'Cast', since, inputs: [1, 1], outputs: [1, 1],
    attrs: { to: { kind: since === 1 ? 'string' : 'int', required: true } },
    infer(ctx) {
      const t = ctx.tensorInput(0);
      return [tensorType(castTarget(ctx.attrs, since), t.shape)];
    },
    run(ctx) { return [castTensor(ctx.tensor(0), castTarget(ctx.attrs, since))]; },
  });
  const castLike: OpSchema = {
    name: 'CastLike', since: 15, inputs: [2, 2], outputs: [1, 1], attrs: {},
    infer(ctx) {
      const t = ctx.tensorInput(0), like = ctx.tensorInput(1);
      return [tensorType(like.dtype, t.shape)];
    },
    run(ctx) { return [castTensor(ctx.tensor(0), ctx.tensor(1).dtype)]; },
  };
  return [cast(1), cast(6), cast(9), cast(13), castLike];
}

// ---------------------------------------------------------------- registration

registerOps([
  ...unaryDefs,
  ...(['Add', 'Sub', 'Mul', 'Div'] as const).flatMap((name) => binaryOps({
    name, sinces: [1, 6, 7, 13, 14], dtypes: NUMERIC, consumedAt1: true,
    kernels: (_ctx, d) => pickKernel(name, ARITH[name], d),
  })),
  ...powOps(),
  ...preluOps(),
  ...binaryOps({ name: 'Mod', sinces: [10, 13], dtypes: NUMERIC, extraAttrs: { fmod: { kind: 'int', default: 0 } }, kernels: modKernel }),
  ...binaryOps({
    name: 'BitShift', sinces: [11], dtypes: UINTS, extraAttrs: { direction: { kind: 'string', required: true } },
    kernels: bitShiftKernel,
  }),
  ...(['And', 'Or', 'Xor'] as const).flatMap((name) => binaryOps({
    name, sinces: [1, 7], dtypes: BOOL,
    kernels: () => viaFn(name === 'And' ? (x, y) => x & y : name === 'Or' ? (x, y) => x | y : (x, y) => x ^ y),
  })),
  ...binaryOps({ name: 'Equal', sinces: [1, 7, 11, 13], dtypes: NUMERIC_OR_BOOL, out: 'bool', kernels: () => eqK }),
  ...binaryOps({ name: 'Greater', sinces: [1, 7, 9, 13], dtypes: NUMERIC, out: 'bool', kernels: () => gtK }),
  ...binaryOps({ name: 'Less', sinces: [1, 7, 9, 13], dtypes: NUMERIC, out: 'bool', kernels: () => ltK }),
  ...binaryOps({ name: 'GreaterOrEqual', sinces: [12, 16], dtypes: NUMERIC, out: 'bool', kernels: () => geK }),
  ...binaryOps({ name: 'LessOrEqual', sinces: [12, 16], dtypes: NUMERIC, out: 'bool', kernels: () => leK }),
  ...variadicOps({ name: 'Max', sinces: [1, 6, 8, 12, 13], dtypes: NUMERIC, kernels: { num: maxK, big: bigMax } }),
  ...variadicOps({ name: 'Min', sinces: [1, 6, 8, 12, 13], dtypes: NUMERIC, kernels: { num: minK, big: bigMin } }),
  ...variadicOps({ name: 'Sum', sinces: [1, 6, 8, 13], dtypes: FLOATS, kernels: { num: addK } }),
  ...variadicOps({ name: 'Mean', sinces: [1, 6, 8, 13], dtypes: FLOATS, kernels: { num: addK }, mean: true }),
  ...whereOps(),
  ...castOps(),
]);
