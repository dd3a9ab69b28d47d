// The pure interpreter of the kernel IR: the living definition of every kernel-IR op (after tinygrad's
// ops_python). Backends and lowering tests compare against it; the simplifier folds constants with the
// very functions below, so folding and execution cannot disagree.
//
// How it runs (why): the kernel is first compiled to JS closures over a frame of slots (one slot per
// name), which keeps the oracle fast enough for real test sizes without evaluating any generated code.
// Parallel loops run their iterations serially; a parallel loop whose body holds a barrier runs its
// iterations as coroutines that all advance to the same barrier before any goes on, which is exactly
// the lock-step a GPU workgroup gives. Values: bool is 0/1, i8..u32 and floats are numbers (floats
// rounded to their type after every op), i64/u64 are bigints, vectors are arrays of lanes.
import {
  allocData, bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, isBigInt,
  type BigIntArray, type NumberArray,
} from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import { erf } from '../ops/elementwise.ts';
import { elemBits, intRange, isFloatElem, isSignedElem, roundToElem, typeName } from './build.ts';
import type { BinaryOp, BufferParam, Expr, Kernel, KScalar, KType, Stmt, UnaryOp } from './ir.ts';
import { describeStmt, verifyKernel } from './verify.ts';

export type Scalar = number | bigint;
/** A kernel value: a scalar, or the lanes of a vector. */
export type Value = Scalar | Scalar[];
/** Buffer storage, as in ir/dtype.ts: f16/bf16 in Float32Array, bool in Uint8Array, i64/u64 in BigInt arrays. */
export type BufferData = NumberArray | BigIntArray;

const divByZero = (): never => { throw new TesseraError('integer division by zero'); };

// ---------------------------------------------------------------- scalar semantics

/** Wraps an integer-valued double to an element type of at most 32 bits (bool: ≠ 0). */
export function wrapInt(e: KScalar, x: number): number {
  switch (e) {
    case 'i8': return (x << 24) >> 24;
    case 'u8': return x & 0xff;
    case 'i16': return (x << 16) >> 16;
    case 'u16': return x & 0xffff;
    case 'i32': return x | 0;
    case 'u32': return x >>> 0;
    case 'bool': return x ? 1 : 0;
    default: throw new Error(`wrapInt: ${e} is not a ≤32-bit integer type`);
  }
}

export const wrapBig = (e: KScalar, x: bigint): bigint => (e === 'i64' ? BigInt.asIntN(64, x) : BigInt.asUintN(64, x));

type Fn2 = (a: Scalar, b: Scalar) => Scalar;
type Fn1 = (a: Scalar) => Scalar;
const b01 = (x: boolean): number => (x ? 1 : 0);

function floatBinary(op: BinaryOp, e: KScalar): Fn2 | undefined {
  const R = e === 'f64' ? (x: number) => x : e === 'f32' ? Math.fround : (x: number) => roundToElem(e, x);
  type N2 = (a: number, b: number) => number;
  const f: Partial<Record<BinaryOp, N2>> = {
    add: (a, b) => R(a + b), sub: (a, b) => R(a - b), mul: (a, b) => R(a * b), div: (a, b) => R(a / b),
    mod: (a, b) => R(a % b), min: Math.min, max: Math.max, pow: (a, b) => R(Math.pow(a, b)),
    atan2: (a, b) => R(Math.atan2(a, b)),
    eq: (a, b) => b01(a === b), ne: (a, b) => b01(a !== b), lt: (a, b) => b01(a < b), le: (a, b) => b01(a <= b),
    gt: (a, b) => b01(a > b), ge: (a, b) => b01(a >= b),
  };
  return f[op] as Fn2 | undefined;
}

function bigBinary(op: BinaryOp, e: KScalar): Fn2 | undefined {
  const W = (x: bigint) => wrapBig(e, x);
  const shift = (b: bigint) => b & 63n;
  type B2 = (a: bigint, b: bigint) => Scalar;
  const f: Partial<Record<BinaryOp, B2>> = {
    add: (a, b) => W(a + b), sub: (a, b) => W(a - b), mul: (a, b) => W(a * b),
    div: (a, b) => (b === 0n ? divByZero() : W(a / b)),
    mod: (a, b) => (b === 0n ? divByZero() : W(a % b)),
    floordiv: (a, b) => {
      if (b === 0n) divByZero();
      let q = a / b;
      if (a % b !== 0n && (a < 0n) !== (b < 0n)) q -= 1n;
      return W(q);
    },
    floormod: (a, b) => {
      if (b === 0n) divByZero();
      let r = a % b;
      if (r !== 0n && (r < 0n) !== (b < 0n)) r += b;
      return W(r);
    },
    min: (a, b) => (a < b ? a : b), max: (a, b) => (a > b ? a : b),
    and: (a, b) => W(a & b), or: (a, b) => W(a | b), xor: (a, b) => W(a ^ b),
    shl: (a, b) => W(a << shift(b)), shr: (a, b) => a >> shift(b),
    eq: (a, b) => b01(a === b), ne: (a, b) => b01(a !== b), lt: (a, b) => b01(a < b), le: (a, b) => b01(a <= b),
    gt: (a, b) => b01(a > b), ge: (a, b) => b01(a >= b),
  };
  return f[op] as Fn2 | undefined;
}

function smallIntBinary(op: BinaryOp, e: KScalar): Fn2 | undefined {
  const W = (x: number) => wrapInt(e, x);
  const bits = elemBits(e);
  const m = bits - 1;
  const wide = e === 'i32' || e === 'u32';
  type N2 = (a: number, b: number) => number;
  const f: Partial<Record<BinaryOp, N2>> = {
    add: (a, b) => W(a + b), sub: (a, b) => W(a - b),
    mul: wide ? (a, b) => W(Math.imul(a, b)) : (a, b) => W(a * b),
    // Exact for |a| < 2^53: the double quotient cannot cross an integer.
    div: (a, b) => (b === 0 ? divByZero() : W(Math.trunc(a / b))),
    mod: (a, b) => (b === 0 ? divByZero() : W(a % b)),
    floordiv: (a, b) => (b === 0 ? divByZero() : W(Math.floor(a / b))),
    floormod: (a, b) => {
      if (b === 0) divByZero();
      let r = a % b;
      if (r !== 0 && (r < 0) !== (b < 0)) r += b;
      return W(r);
    },
    min: (a, b) => (a < b ? a : b), max: (a, b) => (a > b ? a : b),
    and: (a, b) => W(a & b), or: (a, b) => W(a | b), xor: (a, b) => W(a ^ b),
    shl: (a, b) => W(a << (b & m)),
    shr: isSignedElem(e) ? (a, b) => a >> (b & m) : (a, b) => a >>> (b & m),
    eq: (a, b) => b01(a === b), ne: (a, b) => b01(a !== b), lt: (a, b) => b01(a < b), le: (a, b) => b01(a <= b),
    gt: (a, b) => b01(a > b), ge: (a, b) => b01(a >= b),
    mulhi: (a, b) => W(Number((BigInt(a) * BigInt(b)) >> 32n)),
    dot4_u8: (a, b) => {
      let s = 0;
      for (let k = 0; k < 32; k += 8) s += ((a >>> k) & 0xff) * ((b >>> k) & 0xff);
      return s >>> 0;
    },
    dot4_i8: (a, b) => {
      let s = 0;
      for (let k = 0; k < 32; k += 8) s += (((a >>> k) << 24) >> 24) * (((b >>> k) << 24) >> 24);
      return s | 0;
    },
  };
  return f[op] as Fn2 | undefined;
}

const binaryCache = new Map<string, Fn2>();

/** The scalar function of a binary op on operands of element type `e` (see ir.ts for the semantics). */
export function binaryFn(op: BinaryOp, e: KScalar): Fn2 {
  const key = `${op}:${e}`;
  let fn = binaryCache.get(key);
  if (!fn) {
    fn = isFloatElem(e) ? floatBinary(op, e) : isBigInt(e) ? bigBinary(op, e) : smallIntBinary(op, e);
    if (!fn) throw new TesseraError(`${op} is not defined on ${e}`);
    binaryCache.set(key, fn);
  }
  return fn;
}

export const evalBinary = (op: BinaryOp, e: KScalar, a: Scalar, b: Scalar): Scalar => binaryFn(op, e)(a, b);

function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

const FLOAT_UNARY: Record<string, (x: number) => number> = {
  neg: (x) => -x, abs: Math.abs, sqrt: Math.sqrt, rsqrt: (x) => 1 / Math.sqrt(x), exp: Math.exp, log: Math.log,
  sin: Math.sin, cos: Math.cos, tan: Math.tan, tanh: Math.tanh, asin: Math.asin, acos: Math.acos, atan: Math.atan,
  sinh: Math.sinh, cosh: Math.cosh, asinh: Math.asinh, acosh: Math.acosh, atanh: Math.atanh, erf,
  floor: Math.floor, ceil: Math.ceil, round_even: roundHalfEven, trunc: Math.trunc, recip: (x) => 1 / x,
  sign: (x) => (Number.isNaN(x) || x === 0 ? x : Math.sign(x)),
};

const unaryCache = new Map<string, Fn1>();

/** The scalar function of a unary op on an operand of element type `e`. */
export function unaryFn(op: UnaryOp, e: KScalar): Fn1 {
  const key = `${op}:${e}`;
  let fn = unaryCache.get(key);
  if (fn) return fn;
  if (isFloatElem(e)) {
    if (op === 'isnan') fn = (x) => b01(Number.isNaN(x));
    else if (op === 'isinf') fn = (x) => b01(x === Infinity || x === -Infinity);
    else {
      const g = FLOAT_UNARY[op];
      if (g) fn = (x) => roundToElem(e, g(x as number));
    }
  } else if (isBigInt(e)) {
    const W = (x: bigint) => wrapBig(e, x);
    const u: Partial<Record<UnaryOp, (x: bigint) => bigint>> = {
      neg: (x) => W(-x), abs: (x) => W(x < 0n ? -x : x), not: (x) => W(~x), sign: (x) => (x > 0n ? 1n : x < 0n ? W(-1n) : 0n),
    };
    fn = u[op] as Fn1 | undefined;
  } else if (e === 'bool') {
    if (op === 'not') fn = (x) => ((x as number) ? 0 : 1);
  } else {
    const W = (x: number) => wrapInt(e, x);
    const u: Partial<Record<UnaryOp, (x: number) => number>> = {
      neg: (x) => W(-x), abs: (x) => W(Math.abs(x)), not: (x) => W(~x), sign: (x) => W(Math.sign(x)),
    };
    fn = u[op] as Fn1 | undefined;
  }
  if (!fn) throw new TesseraError(`${op} is not defined on ${e}`);
  unaryCache.set(key, fn);
  return fn;
}

export const evalUnary = (op: UnaryOp, e: KScalar, a: Scalar): Scalar => unaryFn(op, e)(a);

/** An exact bigint as the nearest value of float type `to` (for narrower types, rounding to odd at 53 bits first avoids double rounding). */
function bigToFloat(to: KScalar, v: bigint): number {
  const neg = v < 0n;
  let m = neg ? -v : v;
  const n = m.toString(2).length;
  if (n <= 53 || to === 'f64') return roundToElem(to, Number(v)); // Number() rounds a bigint correctly
  const shift = BigInt(n - 53);
  const sticky = (m & ((1n << shift) - 1n)) !== 0n;
  m >>= shift;
  if (sticky) m |= 1n;
  const d = Number(m) * 2 ** Number(shift);
  return roundToElem(to, neg ? -d : d);
}

/** Conversion of one scalar between element types (see ir.ts: wrap, truncate + saturate, NaN → 0). */
export function castScalar(from: KScalar, to: KScalar, x: Scalar): Scalar {
  if (from === to) return x;
  if (to === 'bool') return b01(typeof x === 'bigint' ? x !== 0n : x !== 0);
  if (isFloatElem(to)) return typeof x === 'bigint' ? bigToFloat(to, x) : roundToElem(to, x);
  const [lo, hi] = intRange(to);
  if (isFloatElem(from)) {
    const f = x as number;
    if (Number.isNaN(f)) return isBigInt(to) ? 0n : 0;
    const t = Math.trunc(f);
    if (isBigInt(to)) return t <= Number(lo) ? lo : t >= Number(hi) ? hi : BigInt(t);
    return t <= Number(lo) ? Number(lo) : t >= Number(hi) ? Number(hi) : t === 0 ? 0 : t;
  }
  if (isBigInt(to)) return wrapBig(to, typeof x === 'bigint' ? x : BigInt(x));
  if (typeof x === 'bigint') return wrapInt(to, Number(BigInt.asIntN(32, x)));
  return wrapInt(to, x);
}

function writeLane(dv: DataView, at: number, e: KScalar, x: Scalar): void {
  switch (e) {
    case 'i8': case 'u8': dv.setUint8(at, (x as number) & 0xff); break;
    case 'i16': case 'u16': dv.setUint16(at, (x as number) & 0xffff, true); break;
    case 'i32': case 'u32': dv.setUint32(at, (x as number) >>> 0, true); break;
    case 'i64': case 'u64': dv.setBigUint64(at, BigInt.asUintN(64, x as bigint), true); break;
    case 'f16': dv.setUint16(at, f32ToF16Bits(x as number), true); break;
    case 'bf16': dv.setUint16(at, f32ToBf16Bits(x as number), true); break;
    case 'f32': dv.setFloat32(at, x as number, true); break;
    case 'f64': dv.setFloat64(at, x as number, true); break;
    case 'bool': throw new TesseraError('bitcast of bool');
  }
}

function readLane(dv: DataView, at: number, e: KScalar): Scalar {
  switch (e) {
    case 'i8': return dv.getInt8(at);
    case 'u8': return dv.getUint8(at);
    case 'i16': return dv.getInt16(at, true);
    case 'u16': return dv.getUint16(at, true);
    case 'i32': return dv.getInt32(at, true);
    case 'u32': return dv.getUint32(at, true);
    case 'i64': return dv.getBigInt64(at, true);
    case 'u64': return dv.getBigUint64(at, true);
    case 'f16': return f16BitsToF32(dv.getUint16(at, true));
    case 'bf16': return bf16BitsToF32(dv.getUint16(at, true));
    case 'f32': return dv.getFloat32(at, true);
    case 'f64': return dv.getFloat64(at, true);
    case 'bool': throw new TesseraError('bitcast to bool');
  }
}

/** Reinterprets the bits of a value (lanes packed little-endian) as another type of the same total width. */
export function bitcastValue(from: KType, to: KType, x: Value): Value {
  const dv = new DataView(new ArrayBuffer((elemBits(from.elem) * from.lanes) / 8));
  const fb = elemBits(from.elem) / 8, tb = elemBits(to.elem) / 8;
  const xs = from.lanes === 1 ? [x as Scalar] : (x as Scalar[]);
  xs.forEach((l, i) => writeLane(dv, i * fb, from.elem, l));
  const out: Scalar[] = [];
  for (let i = 0; i < to.lanes; i++) out.push(readLane(dv, i * tb, to.elem));
  return to.lanes === 1 ? out[0]! : out;
}

// ---------------------------------------------------------------- compilation to closures

type Frame = Value[];
type CExpr = (f: Frame) => Value;
type CStmt = (f: Frame) => void;
type GStmt = (f: Frame) => Generator<number, void, undefined>;

interface BufState { param: BufferParam; data: BufferData; size: number }

/** Where a failure happened: the statements and loop iterations around it, innermost first. */
class RunError extends Error {
  readonly where: string[] = [];
  constructor(readonly reason: string) { super(reason); }
}

const asRunError = (e: unknown): RunError => {
  if (e instanceof RunError) return e;
  if (e instanceof TesseraError) return new RunError(e.reason);
  throw e;
};

function lanewise1(fn: Fn1, lanes: number, a: CExpr): CExpr {
  if (lanes === 1) return (f) => fn(a(f) as Scalar);
  return (f) => (a(f) as Scalar[]).map(fn);
}

function lanewise2(fn: Fn2, lanes: number, a: CExpr, b: CExpr): CExpr {
  if (lanes === 1) return (f) => fn(a(f) as Scalar, b(f) as Scalar);
  return (f) => {
    const x = a(f) as Scalar[], y = b(f) as Scalar[];
    const out = new Array<Scalar>(x.length);
    for (let i = 0; i < x.length; i++) out[i] = fn(x[i]!, y[i]!);
    return out;
  };
}

type Scope = ReadonlyMap<string, number>;

class Compiler {
  nslots = 0;
  iterations = 0;
  private barrierIds = new Map<Stmt, number>();
  constructor(readonly buffers: ReadonlyMap<string, BufState>, readonly maxIterations: number) {}

  slot(): number { return this.nslots++; }

  private buffer(name: string): BufState {
    const b = this.buffers.get(name);
    if (!b) throw new TesseraError(`buffer '${name}' is not declared`);
    return b;
  }

  expr(e: Expr, scope: Scope): CExpr {
    switch (e.kind) {
      case 'const': {
        const v: Value = e.type.lanes === 1 ? e.value : new Array<Scalar>(e.type.lanes).fill(e.value);
        return () => v;
      }
      case 'var': {
        const s = scope.get(e.name);
        if (s === undefined) throw new TesseraError(`variable '${e.name}' is not defined`);
        return (f) => f[s]!;
      }
      case 'binary': {
        const a = this.expr(e.a, scope), b = this.expr(e.b, scope);
        return lanewise2(binaryFn(e.op, e.a.type.elem), e.type.lanes, a, b);
      }
      case 'unary': return lanewise1(unaryFn(e.op, e.a.type.elem), e.type.lanes, this.expr(e.a, scope));
      case 'cast': {
        const from = e.a.type.elem, to = e.type.elem;
        return lanewise1((x) => castScalar(from, to, x), e.type.lanes, this.expr(e.a, scope));
      }
      case 'bitcast': {
        const a = this.expr(e.a, scope);
        const from = e.a.type, to = e.type;
        return (f) => bitcastValue(from, to, a(f));
      }
      case 'select': {
        const c = this.expr(e.cond, scope), a = this.expr(e.a, scope), b = this.expr(e.b, scope);
        if (e.cond.type.lanes === 1) return (f) => (c(f) ? a(f) : b(f));
        return (f) => {
          const cs = c(f) as number[], x = a(f) as Scalar[], y = b(f) as Scalar[];
          return cs.map((ci, i) => (ci ? x[i]! : y[i]!));
        };
      }
      case 'load': return this.load(e, scope);
      case 'broadcast': {
        const a = this.expr(e.a, scope);
        const n = e.type.lanes;
        return (f) => new Array<Scalar>(n).fill(a(f) as Scalar);
      }
      case 'extract': {
        const a = this.expr(e.a, scope);
        const lane = e.lane;
        return (f) => (a(f) as Scalar[])[lane]!;
      }
      case 'reduce_lanes': {
        const a = this.expr(e.a, scope);
        const fn = binaryFn(e.op, e.type.elem);
        return (f) => (a(f) as Scalar[]).reduce((x, y) => fn(x, y));
      }
    }
  }

  private bounds(b: BufState, i: number, lanes: number, what: string): void {
    if (i < 0 || i + lanes > b.size) {
      const range = lanes === 1 ? `index ${i}` : `elements ${i}..${i + lanes - 1}`;
      throw new TesseraError(`${what} '${b.param.name}' at ${range} is out of bounds ('${b.param.name}' has ${b.size} elements)`);
    }
  }

  private load(e: Extract<Expr, { kind: 'load' }>, scope: Scope): CExpr {
    const b = this.buffer(e.buffer);
    const idx = this.expr(e.index, scope);
    const lanes = e.type.lanes;
    const elem = b.param.elem;
    const data = b.data as ArrayLike<Scalar>;
    const norm: (x: Scalar) => Scalar =
      elem === 'bool' ? (x) => b01(x !== 0) : elem === 'f16' || elem === 'bf16' ? (x) => roundToElem(elem, x as number) : (x) => x;
    return (f) => {
      const i = idx(f) as number;
      this.bounds(b, i, lanes, 'load from');
      if (lanes === 1) return norm(data[i]!);
      const out = new Array<Scalar>(lanes);
      for (let k = 0; k < lanes; k++) out[k] = norm(data[i + k]!);
      return out;
    };
  }

  /** Which statements hold a barrier for the innermost parallel loop around them (not one nested deeper). */
  private hasBarrier(s: Stmt): boolean {
    switch (s.kind) {
      case 'barrier': return true;
      case 'loop': return s.loopKind !== 'parallel' && s.body.some((x) => this.hasBarrier(x));
      case 'if': return s.then.some((x) => this.hasBarrier(x)) || s.else.some((x) => this.hasBarrier(x));
      default: return false;
    }
  }

  block(stmts: Stmt[], outer: Scope): CStmt {
    const scope = new Map(outer);
    const parts = stmts.map((s) => this.stmt(s, scope));
    return (f) => {
      let i = 0;
      try {
        for (; i < parts.length; i++) parts[i]!(f);
      } catch (e) {
        const r = asRunError(e);
        r.where.push(`statement ${i} (${describeStmt(stmts[i]!)})`);
        throw r;
      }
    };
  }

  /** A block that may stop at barriers: yields the barrier's id each time it reaches one. */
  private resumableBlock(stmts: Stmt[], outer: Scope): GStmt {
    const scope = new Map(outer);
    const parts = stmts.map((s): { plain?: CStmt; gen?: GStmt } =>
      this.hasBarrier(s) ? { gen: this.resumableStmt(s, scope) } : { plain: this.stmt(s, scope) });
    return function* (f) {
      let i = 0;
      try {
        for (; i < parts.length; i++) {
          const p = parts[i]!;
          if (p.plain) p.plain(f);
          else yield* p.gen!(f);
        }
      } catch (e) {
        const r = asRunError(e);
        r.where.push(`statement ${i} (${describeStmt(stmts[i]!)})`);
        throw r;
      }
    };
  }

  private resumableStmt(s: Stmt, scope: Map<string, number>): GStmt {
    switch (s.kind) {
      case 'barrier': {
        let id = this.barrierIds.get(s);
        if (id === undefined) this.barrierIds.set(s, (id = this.barrierIds.size));
        const bid = id;
        return function* () { yield bid; };
      }
      case 'if': {
        const c = this.expr(s.cond, scope);
        const t = this.resumableBlock(s.then, scope), el = this.resumableBlock(s.else, scope);
        return function* (f) { yield* (c(f) ? t(f) : el(f)); };
      }
      case 'loop': {
        const start = this.expr(s.start, scope), end = this.expr(s.end, scope);
        const slot = this.slot();
        const inner = new Map(scope).set(s.var, slot);
        const body = this.resumableBlock(s.body, inner);
        const step = s.step, name = s.var, self = this;
        return function* (f) {
          const e = end(f) as number;
          for (let i = start(f) as number; i < e; i += step) {
            self.count();
            f[slot] = i;
            try {
              yield* body(f);
            } catch (err) {
              const r = asRunError(err);
              r.where.push(`${name} = ${i}`);
              throw r;
            }
          }
        };
      }
      default: throw new Error(`unreachable: ${s.kind} holds no barrier`);
    }
  }

  private count(): void {
    if (++this.iterations > this.maxIterations) {
      throw new TesseraError(`the kernel ran more than ${this.maxIterations} loop iterations (raise maxIterations if this is intended)`);
    }
  }

  /** Compiles one statement; definitions it makes are added to `scope` (the enclosing block's). */
  stmt(s: Stmt, scope: Map<string, number>): CStmt {
    switch (s.kind) {
      case 'let': case 'local': {
        const value = this.expr(s.kind === 'let' ? s.value : s.init, scope);
        const slot = this.slot();
        scope.set(s.name, slot);
        return (f) => { f[slot] = value(f); };
      }
      case 'assign': {
        const value = this.expr(s.value, scope);
        const slot = scope.get(s.name);
        if (slot === undefined) throw new TesseraError(`local '${s.name}' is not defined`);
        return (f) => { f[slot] = value(f); };
      }
      case 'store': {
        const b = this.buffer(s.buffer);
        const idx = this.expr(s.index, scope), value = this.expr(s.value, scope);
        const lanes = s.value.type.lanes;
        const data = b.data as unknown as Scalar[];
        return (f) => {
          const i = idx(f) as number;
          const x = value(f);
          this.bounds(b, i, lanes, 'store to');
          if (lanes === 1) data[i] = x as Scalar;
          else for (let k = 0; k < lanes; k++) data[i + k] = (x as Scalar[])[k]!;
        };
      }
      case 'loop': return this.loop(s, scope);
      case 'if': {
        const c = this.expr(s.cond, scope);
        const t = this.block(s.then, scope), el = this.block(s.else, scope);
        return (f) => (c(f) ? t(f) : el(f));
      }
      case 'atomic': {
        const b = this.buffer(s.buffer);
        const idx = this.expr(s.index, scope), value = this.expr(s.value, scope);
        const fn: Fn2 = s.op === 'exchange' ? (_, y) => y : binaryFn(s.op, b.param.elem);
        const data = b.data as unknown as Scalar[];
        let slot: number | undefined;
        if (s.result !== undefined) scope.set(s.result, (slot = this.slot()));
        return (f) => {
          const i = idx(f) as number;
          const x = value(f) as Scalar;
          this.bounds(b, i, 1, `atomic ${s.op} on`);
          const old = data[i]!;
          data[i] = fn(old, x);
          if (slot !== undefined) f[slot] = old;
        };
      }
      case 'barrier': case 'comment': return () => {};
    }
  }

  private loop(s: Extract<Stmt, { kind: 'loop' }>, scope: Map<string, number>): CStmt {
    const start = this.expr(s.start, scope), end = this.expr(s.end, scope);
    const slot = this.slot();
    const inner = new Map(scope).set(s.var, slot);
    const step = s.step, name = s.var;
    const where = (r: RunError, i: number) => { r.where.push(`${name} = ${i}`); return r; };
    if (s.loopKind === 'parallel' && s.body.some((x) => this.hasBarrier(x))) {
      const body = this.resumableBlock(s.body, inner);
      return (f) => {
        const e = end(f) as number;
        const its: { i: number; gen: Generator<number, void, undefined> }[] = [];
        for (let i = start(f) as number; i < e; i += step) {
          this.count();
          const frame = f.slice();
          frame[slot] = i;
          its.push({ i, gen: body(frame) });
        }
        // Lock-step: every iteration runs to its next barrier; all must reach the same one, or all finish.
        for (;;) {
          let barrier: number | undefined, finished: number | undefined, waiting: number | undefined;
          for (const it of its) {
            let r: IteratorResult<number, void>;
            try { r = it.gen.next(); } catch (err) { throw where(asRunError(err), it.i); }
            if (r.done) finished ??= it.i;
            else {
              waiting ??= it.i;
              if (barrier === undefined) barrier = r.value;
              else if (barrier !== r.value) throw where(new RunError(`iterations of a parallel loop reached different barriers (${name} = ${waiting} and ${name} = ${it.i})`), it.i);
            }
          }
          if (barrier === undefined) return;
          if (finished !== undefined) {
            throw where(new RunError(`a barrier was reached by ${name} = ${waiting} but not by ${name} = ${finished}, which finished (a barrier in divergent control flow)`), finished);
          }
        }
      };
    }
    const body = this.block(s.body, inner);
    return (f) => {
      const e = end(f) as number;
      for (let i = start(f) as number; i < e; i += step) {
        this.count();
        f[slot] = i;
        try { body(f); } catch (err) { throw where(asRunError(err), i); }
      }
    };
  }
}

// ---------------------------------------------------------------- entry points

export interface RunOptions {
  /** Element counts and storage per buffer name; written buffers are updated in place. */
  buffers: Record<string, BufferData>;
  /** Values of the size params (non-negative i32). */
  sizes?: Record<string, number>;
  /** Fails when the kernel runs more loop iterations than this in total (default 50 million). */
  maxIterations?: number;
  /** Skip the verifier (it runs first by default, so a malformed kernel fails with a clear message). */
  verified?: boolean;
}

/** The storage the interpreter expects for a buffer of element type e (zero-filled). */
export function allocBuffer(e: KScalar, n: number): BufferData {
  return allocData(e, n) as BufferData;
}

function expectedStorage(e: KScalar): string {
  return allocBuffer(e, 0).constructor.name;
}

/** A buffer size evaluated without wrap-around (undefined for the ops it does not model). */
function exactSize(e: Expr, sizes: Record<string, number>): bigint | undefined {
  const sub = (x: Expr) => exactSize(x, sizes);
  switch (e.kind) {
    case 'const': return BigInt(e.value);
    case 'var': return sizes[e.name] === undefined ? undefined : BigInt(sizes[e.name]!);
    case 'binary': {
      const a = sub(e.a), b = sub(e.b);
      if (a === undefined || b === undefined) return undefined;
      switch (e.op) {
        case 'add': return a + b;
        case 'sub': return a - b;
        case 'mul': return a * b;
        case 'min': return a < b ? a : b;
        case 'max': return a > b ? a : b;
        default: return undefined;
      }
    }
    default: return undefined;
  }
}

/**
 * Runs a kernel over the given buffers (in place). Workgroup buffers that are not given are allocated
 * zero-filled. Returns every buffer by name (the given arrays and the allocated ones).
 */
export function interpretKernel(k: Kernel, opts: RunOptions): Record<string, BufferData> {
  const fail = (reason: string): never => { throw new TesseraError(`kernel '${k.name}': ${reason}`); };
  if (!opts.verified) verifyKernel(k);
  const sizeValues = opts.sizes ?? {};
  const frame: Frame = [];
  const bufs = new Map<string, BufState>();
  const compiler = new Compiler(bufs, opts.maxIterations ?? 50_000_000);
  const scope = new Map<string, number>();
  for (const s of k.sizes) {
    const v = sizeValues[s.name];
    if (v === undefined) fail(`size '${s.name}' is not given`);
    if (!Number.isInteger(v) || v! < 0 || v! > 2 ** 31 - 1) fail(`size '${s.name}' must be a non-negative i32, got ${v}`);
    const slot = compiler.slot();
    scope.set(s.name, slot);
    frame[slot] = v!;
  }
  for (const name of Object.keys(sizeValues)) if (!k.sizes.some((s) => s.name === name)) fail(`size '${name}' is not a size of this kernel`);
  const out: Record<string, BufferData> = {};
  for (const p of k.buffers) {
    let size: number;
    try { size = compiler.expr(p.size, scope)(frame) as number; } catch (e) { return fail(`the size of buffer '${p.name}': ${asRunError(e).reason}`); }
    if (size < 0) fail(`buffer '${p.name}' has a negative size ${size}`);
    const exact = exactSize(p.size, sizeValues);
    if (exact !== undefined && exact !== BigInt(size)) fail(`the size of buffer '${p.name}' is ${exact}, more than an i32 can count`);
    let data = opts.buffers[p.name];
    if (!data) {
      if (p.space !== 'workgroup') fail(`buffer '${p.name}' is not given`);
      data = allocBuffer(p.elem, size);
    }
    if (data.constructor.name !== expectedStorage(p.elem)) {
      fail(`buffer '${p.name}' (${p.elem}) must be a ${expectedStorage(p.elem)}, got a ${data.constructor.name}`);
    }
    if (data.length < size) fail(`buffer '${p.name}' needs ${size} elements, got ${data.length}`);
    bufs.set(p.name, { param: p, data, size });
    out[p.name] = data;
  }
  for (const name of Object.keys(opts.buffers)) if (!bufs.has(name)) fail(`buffer '${name}' is not a buffer of this kernel`);
  const body = compiler.block(k.body, scope);
  try {
    body(frame);
  } catch (e) {
    const r = asRunError(e);
    const where = r.where.reverse().join(', ');
    throw new TesseraError(`kernel '${k.name}': ${r.reason}${where ? ` (at ${where})` : ''}`);
  }
  return out;
}

/**
 * Evaluates one expression with the given variable values (scalars, or arrays for vector variables) and
 * buffers for its loads (every buffer is readable; its size is its length).
 */
export function evalExpr(e: Expr, vars: Record<string, Value> = {}, buffers: Record<string, { elem: KScalar; data: BufferData }> = {}): Value {
  const bufs = new Map<string, BufState>();
  for (const [name, b] of Object.entries(buffers)) {
    bufs.set(name, { param: { name, elem: b.elem, access: 'read', size: { kind: 'const', type: { elem: 'i32', lanes: 1 }, value: b.data.length }, space: 'global' }, data: b.data, size: b.data.length });
  }
  const compiler = new Compiler(bufs, Infinity);
  const scope = new Map<string, number>();
  const frame: Frame = [];
  for (const [name, v] of Object.entries(vars)) {
    const slot = compiler.slot();
    scope.set(name, slot);
    frame[slot] = v;
  }
  try {
    return compiler.expr(e, scope)(frame);
  } catch (err) {
    throw new TesseraError(asRunError(err).reason);
  }
}

/** A value as text for messages: `3`, `-0`, `5n` → `5`, vectors as `<1, 2, 3, 4>`. */
export function valueText(v: Value, t?: KType): string {
  const one = (x: Scalar) => (Object.is(x, -0) ? '-0' : String(x));
  const s = Array.isArray(v) ? `<${v.map(one).join(', ')}>` : one(v);
  return t ? `${s}:${typeName(t)}` : s;
}
