// The op table of the WASM backend: (kernel-IR op, element type, lanes) → binaryen builder calls.
//
// Each lookup returns an emitter for the operands, or undefined when the row does not exist. The emitter
// (emit.ts) then legalizes: a missing vector row is computed lane by lane through the scalar rows, narrow
// integer and f16/bf16 results are re-canonicalized after the op (see `canonicalize`), and math functions are
// calls to helpers written in kernel IR (mathlib.ts). Division never traps: x/0 = x, x%0 = 0 and
// INT_MIN/−1 = INT_MIN (WGSL's definitions); shift counts are taken modulo the element width.
import binaryen from 'binaryen';
import type { BinaryOp, Expr, KScalar, KType, UnaryOp } from '../../ir/kernel/ir.ts';
import { bitsOf, isFloatElem, isSignedInt, regOf, shapeOf, type Shape } from './types.ts';
import { BINARY_MATH, F32_NATIVE, UNARY_MATH } from './mathlib.ts';

export type Ref = number;

/** What a table row may ask of the emitter. */
export interface Cx {
  m: binaryen.Module;
  /** Evaluates ref once (into a temporary) and returns a getter usable any number of times. */
  share(ref: Ref, type: number): () => Ref;
  /** Calls the helper implementing a math function for the (native) type t. */
  math(op: string, t: KType, args: Ref[]): Ref;
  /** Calls a named integer/bit helper from mathlib for type t (result type given). */
  intHelper(name: 'floordiv' | 'floormod' | 'pow' | 'mulhi64' | 'dot4_u8' | 'dot4_i8', t: KType, args: Ref[]): Ref;
  /** The compile-time value of an expression, when it has one. */
  constOf(e: Expr): number | bigint | undefined;
}

export type BinRow = (cx: Cx, a: Ref, b: Ref) => Ref;
export type UnRow = (cx: Cx, a: Ref) => Ref;

const COMPARES = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;
export const isCompare = (op: string) => (COMPARES as readonly string[]).includes(op);

// ---------------------------------------------------------------- scalars

/** Safe integer division/remainder (see the header): checks only when the divisor is not a known constant. */
function divRow(e: KScalar, op: 'div' | 'mod', eb: Expr): BinRow {
  const wide = regOf(e) === 'i64';
  const signed = isSignedInt(e);
  return (cx, a, b) => {
    const m = cx.m;
    const I = wide ? m.i64 : m.i32;
    const T = wide ? binaryen.i64 : binaryen.i32;
    const k = cx.constOf(eb);
    const safeConst = k !== undefined && BigInt(k) !== 0n && !(signed && BigInt(k) === -1n);
    if (safeConst) return op === 'div' ? (signed ? I.div_s(a, b) : I.div_u(a, b)) : (signed ? I.rem_s(a, b) : I.rem_u(a, b));
    const A = cx.share(a, T), B = cx.share(b, T);
    const c = (n: number) => (wide ? m.i64.const(BigInt(n)) : m.i32.const(n));
    const isZero = () => I.eqz(B());
    const isMinus1 = () => I.eq(B(), c(-1));
    // Divisor with 0 (and, signed, −1) replaced by 1, so the instruction cannot trap.
    const safeB = () => {
      const nz = wide ? m.i64.or(B(), m.i64.extend_u(isZero())) : m.i32.or(B(), isZero());
      return signed ? m.select(isMinus1(), c(1), nz) : nz;
    };
    if (op === 'mod') {
      const r = signed ? I.rem_s(A(), safeB()) : I.rem_u(A(), safeB());
      return m.select(signed ? m.i32.or(isZero(), isMinus1()) : isZero(), c(0), r);
    }
    const q = signed ? I.div_s(A(), safeB()) : I.div_u(A(), safeB());
    return m.select(isZero(), A(), signed ? m.select(isMinus1(), I.sub(c(0), A()), q) : q);
  };
}

function minMaxRow(e: KScalar, op: 'min' | 'max'): BinRow {
  return (cx, a, b) => {
    const m = cx.m;
    const wide = regOf(e) === 'i64';
    const I = wide ? m.i64 : m.i32;
    const T = wide ? binaryen.i64 : binaryen.i32;
    const A = cx.share(a, T), B = cx.share(b, T);
    const lt = isSignedInt(e) ? I.lt_s(A(), B()) : I.lt_u(A(), B());
    return op === 'min' ? m.select(lt, A(), B()) : m.select(lt, B(), A());
  };
}

export function scalarBinary(op: BinaryOp, e: KScalar, eb: Expr): BinRow | undefined {
  const reg = regOf(e);
  if (isFloatElem(e)) {
    const F = (m: binaryen.Module) => (reg === 'f64' ? m.f64 : m.f32);
    switch (op) {
      case 'add': case 'sub': case 'mul': case 'div': case 'min': case 'max':
      case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge':
        return (cx, a, b) => F(cx.m)[op](a, b);
      case 'floordiv': return (cx, a, b) => F(cx.m).floor(F(cx.m).div(a, b));
      case 'pow': case 'atan2': case 'mod': case 'floormod':
        return (cx, a, b) => cx.math(op, { elem: reg === 'f64' ? 'f64' : 'f32', lanes: 1 }, [a, b]);
      default: return undefined;
    }
  }
  const wide = reg === 'i64';
  const signed = isSignedInt(e);
  const bits = bitsOf(e);
  const I = (m: binaryen.Module) => (wide ? m.i64 : m.i32);
  const t: KType = { elem: e, lanes: 1 };
  switch (op) {
    case 'add': case 'sub': case 'mul': case 'and': case 'or': case 'xor': case 'eq': case 'ne':
      return (cx, a, b) => I(cx.m)[op](a, b);
    case 'lt': case 'le': case 'gt': case 'ge':
      return (cx, a, b) => I(cx.m)[`${op}_${signed ? 's' : 'u'}`](a, b);
    case 'shl': case 'shr': {
      const ins = op === 'shl' ? 'shl' : signed ? 'shr_s' : 'shr_u';
      // WASM masks 32/64-bit counts itself; 8/16-bit elements mask to their own width.
      return (cx, a, b) => I(cx.m)[ins](a, bits < 32 ? cx.m.i32.and(b, cx.m.i32.const(bits - 1)) : b);
    }
    case 'min': case 'max': return minMaxRow(e, op);
    case 'div': case 'mod': return divRow(e, op, eb);
    case 'floordiv': case 'floormod':
      if (!signed) return divRow(e, op === 'floordiv' ? 'div' : 'mod', eb);
      return (cx, a, b) => cx.intHelper(op, t, [a, b]);
    case 'pow': return (cx, a, b) => cx.intHelper('pow', t, [a, b]);
    case 'mulhi':
      if (wide) return (cx, a, b) => cx.intHelper('mulhi64', t, [a, b]);
      if (bits === 32) {
        return (cx, a, b) => {
          const m = cx.m;
          const ext = (x: Ref) => (signed ? m.i64.extend_s(x) : m.i64.extend_u(x));
          const p = m.i64.mul(ext(a), ext(b));
          return m.i32.wrap(signed ? m.i64.shr_s(p, m.i64.const(32n)) : m.i64.shr_u(p, m.i64.const(32n)));
        };
      }
      return (cx, a, b) => {
        const p = cx.m.i32.mul(a, b);
        return signed ? cx.m.i32.shr_s(p, cx.m.i32.const(bits)) : cx.m.i32.shr_u(p, cx.m.i32.const(bits));
      };
    case 'dot4_u8': case 'dot4_i8':
      if (bits !== 32) return undefined;
      return (cx, a, b) => cx.intHelper(op, t, [a, b]);
    default: return undefined;
  }
}

export function scalarUnary(op: UnaryOp, e: KScalar): UnRow | undefined {
  const reg = regOf(e);
  if (isFloatElem(e)) {
    const f64 = reg === 'f64';
    const F = (m: binaryen.Module) => (f64 ? m.f64 : m.f32);
    const T = f64 ? binaryen.f64 : binaryen.f32;
    const k = (m: binaryen.Module, x: number) => F(m).const(x);
    switch (op) {
      case 'neg': case 'abs': case 'sqrt': case 'floor': case 'ceil': case 'trunc':
        return (cx, a) => F(cx.m)[op](a);
      case 'round_even': return (cx, a) => F(cx.m).nearest(a);
      case 'recip': return (cx, a) => F(cx.m).div(k(cx.m, 1), a);
      // One rounding of 1/√x to the type, as the interpreter computes it: f32/f16/bf16 go through f64.
      case 'rsqrt': return f64
        ? (cx, a) => cx.m.f64.div(cx.m.f64.const(1), cx.m.f64.sqrt(a))
        : (cx, a) => cx.m.f32.demote(cx.m.f64.div(cx.m.f64.const(1), cx.m.f64.sqrt(cx.m.f64.promote(a))));
      case 'isnan': return (cx, a) => { const A = cx.share(a, T); return F(cx.m).ne(A(), A()); };
      case 'isinf': return (cx, a) => F(cx.m).eq(F(cx.m).abs(a), k(cx.m, Infinity));
      case 'sign': return (cx, a) => {
        const m = cx.m, A = cx.share(a, T);
        return m.select(F(m).gt(A(), k(m, 0)), k(m, 1), m.select(F(m).lt(A(), k(m, 0)), k(m, -1), A()));
      };
      case 'not': return undefined;
      default:
        if (!(op in UNARY_MATH)) return undefined;
        return (cx, a) => cx.math(op, { elem: f64 ? 'f64' : 'f32', lanes: 1 }, [a]);
    }
  }
  const wide = reg === 'i64';
  const I = (m: binaryen.Module) => (wide ? m.i64 : m.i32);
  const T = wide ? binaryen.i64 : binaryen.i32;
  const c = (m: binaryen.Module, n: number) => (wide ? m.i64.const(BigInt(n)) : m.i32.const(n));
  const signed = isSignedInt(e);
  switch (op) {
    case 'neg': return (cx, a) => I(cx.m).sub(c(cx.m, 0), a);
    case 'abs':
      if (!signed) return (_cx, a) => a;
      return (cx, a) => {
        const m = cx.m, A = cx.share(a, T);
        return m.select(I(m).lt_s(A(), c(m, 0)), I(m).sub(c(m, 0), A()), A());
      };
    case 'not': return e === 'bool' ? (cx, a) => cx.m.i32.xor(a, cx.m.i32.const(1)) : (cx, a) => I(cx.m).xor(a, c(cx.m, -1));
    case 'sign': return (cx, a) => {
      const m = cx.m;
      if (!signed) return wide ? m.i64.extend_u(m.i64.ne(a, c(m, 0))) : m.i32.ne(a, c(m, 0));
      const A = cx.share(a, T);
      const s = m.i32.sub(I(m).gt_s(A(), c(m, 0)), I(m).lt_s(A(), c(m, 0)));
      return wide ? m.i64.extend_s(s) : s;
    };
    case 'floor': case 'ceil': case 'trunc': case 'round_even': return (_cx, a) => a;
    case 'isnan': case 'isinf': return (cx) => cx.m.i32.const(0);
    default: return undefined;
  }
}

// ---------------------------------------------------------------- native vectors (v128)

type VecNs = {
  [k: string]: (...args: never[]) => Ref;
};
const ns = (m: binaryen.Module, s: Shape) => m[s] as unknown as VecNs;
const call = (n: VecNs, name: string, ...args: (Ref | number)[]) => (n[name] as unknown as (...a: (Ref | number)[]) => Ref)(...args);

/** Splat of a scalar constant in shape s. */
export function splatConst(m: binaryen.Module, s: Shape, value: number | bigint): Ref {
  const buf = new ArrayBuffer(16);
  switch (s) {
    case 'f32x4': new Float32Array(buf).fill(Number(value)); break;
    case 'f64x2': new Float64Array(buf).fill(Number(value)); break;
    case 'i32x4': new Int32Array(buf).fill(Number(BigInt.asIntN(32, BigInt(value)))); break;
    case 'i64x2': new BigInt64Array(buf).fill(BigInt.asIntN(64, BigInt(value))); break;
    case 'i16x8': new Int16Array(buf).fill(Number(BigInt.asIntN(16, BigInt(value)))); break;
    case 'i8x16': new Int8Array(buf).fill(Number(BigInt.asIntN(8, BigInt(value)))); break;
  }
  return m.v128.const(new Uint8Array(buf));
}

/** Byte-shuffle masks that gather the high half of each double-width lane (for mulhi). */
function highHalves(bytesPerHalf: number): number[] {
  const out: number[] = [];
  for (let src = 0; src < 2; src++) {
    for (let lane = 0; lane < 16 / (2 * bytesPerHalf); lane++) {
      for (let k = 0; k < bytesPerHalf; k++) out.push(src * 16 + lane * 2 * bytesPerHalf + bytesPerHalf + k);
    }
  }
  return out;
}
/** i32 lanes [a0, a2, b0, b2] / [a1, a3, b1, b3] as byte masks. */
const EVEN_I32 = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
const ODD_I32 = EVEN_I32.map((x) => x + 4);

export function vectorBinary(op: BinaryOp, t: KType): BinRow | undefined {
  const s = shapeOf(t);
  if (!s) return undefined;
  const e = t.elem;
  if (e === 'bool') {
    switch (op) {
      case 'and': case 'or': case 'xor': case 'ne': {
        const ins = op === 'ne' ? 'xor' : op;
        return (cx, a, b) => cx.m.v128[ins](a, b);
      }
      case 'eq': return (cx, a, b) => cx.m.v128.not(cx.m.v128.xor(a, b));
      default: return undefined;
    }
  }
  if (isFloatElem(e)) {
    switch (op) {
      case 'add': case 'sub': case 'mul': case 'div': case 'min': case 'max':
      case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge':
        return (cx, a, b) => call(ns(cx.m, s), op, a, b);
      case 'floordiv': return (cx, a, b) => call(ns(cx.m, s), 'floor', call(ns(cx.m, s), 'div', a, b));
      case 'pow': case 'atan2': case 'mod': case 'floormod':
        return e === 'f64' ? (cx, a, b) => cx.math(op, t, [a, b]) : undefined;
      default: return undefined;
    }
  }
  const signed = isSignedInt(e);
  const su = signed ? 's' : 'u';
  switch (op) {
    case 'add': case 'sub': return (cx, a, b) => call(ns(cx.m, s), op, a, b);
    case 'mul': return s === 'i8x16' ? undefined : (cx, a, b) => call(ns(cx.m, s), 'mul', a, b);
    case 'and': case 'or': case 'xor': return (cx, a, b) => cx.m.v128[op](a, b);
    case 'eq': case 'ne': return (cx, a, b) => call(ns(cx.m, s), op, a, b);
    case 'lt': case 'le': case 'gt': case 'ge':
      if (s === 'i64x2') return signed ? (cx, a, b) => call(ns(cx.m, s), `${op}_s`, a, b) : undefined;
      return (cx, a, b) => call(ns(cx.m, s), `${op}_${su}`, a, b);
    case 'min': case 'max':
      if (s !== 'i64x2') return (cx, a, b) => call(ns(cx.m, s), `${op}_${su}`, a, b);
      if (!signed) return undefined;
      return (cx, a, b) => {
        const A = cx.share(a, binaryen.v128), B = cx.share(b, binaryen.v128);
        const lt = cx.m.i64x2.lt_s(A(), B());
        return op === 'min' ? cx.m.v128.bitselect(A(), B(), lt) : cx.m.v128.bitselect(B(), A(), lt);
      };
    case 'mulhi': {
      if (s === 'i64x2') return undefined;
      const wide: Shape = s === 'i32x4' ? 'i64x2' : s === 'i16x8' ? 'i32x4' : 'i16x8';
      const from = s;
      const mask = highHalves(bitsOf(e) / 8);
      return (cx, a, b) => {
        const A = cx.share(a, binaryen.v128), B = cx.share(b, binaryen.v128);
        const n = ns(cx.m, wide);
        const lo = call(n, `extmul_low_${from}_${su}`, A(), B());
        const hi = call(n, `extmul_high_${from}_${su}`, A(), B());
        return cx.m.i8x16.shuffle(lo, hi, mask);
      };
    }
    case 'dot4_u8': case 'dot4_i8': {
      if (s !== 'i32x4') return undefined;
      const ext = op === 'dot4_i8' ? 's' : 'u';
      return (cx, a, b) => {
        const m = cx.m;
        const A = cx.share(a, binaryen.v128), B = cx.share(b, binaryen.v128);
        const half = (h: 'low' | 'high') => m.i32x4.dot_i16x8_s(
          call(ns(m, 'i16x8'), `extend_${h}_i8x16_${ext}`, A()), call(ns(m, 'i16x8'), `extend_${h}_i8x16_${ext}`, B()));
        const L = cx.share(half('low'), binaryen.v128), H = cx.share(half('high'), binaryen.v128);
        return m.i32x4.add(m.i8x16.shuffle(L(), H(), EVEN_I32), m.i8x16.shuffle(L(), H(), ODD_I32));
      };
    }
    default: return undefined;
  }
}

export function vectorUnary(op: UnaryOp, t: KType): UnRow | undefined {
  const s = shapeOf(t);
  if (!s) return undefined;
  const e = t.elem;
  if (e === 'bool') return op === 'not' ? (cx, a) => cx.m.v128.not(a) : undefined;
  if (isFloatElem(e)) {
    switch (op) {
      case 'neg': case 'abs': case 'sqrt': case 'floor': case 'ceil': case 'trunc':
        return (cx, a) => call(ns(cx.m, s), op, a);
      case 'round_even': return (cx, a) => call(ns(cx.m, s), 'nearest', a);
      case 'recip': return (cx, a) => call(ns(cx.m, s), 'div', splatConst(cx.m, s, 1), a);
      case 'rsqrt': return e === 'f64' ? (cx, a) => call(ns(cx.m, s), 'div', splatConst(cx.m, s, 1), call(ns(cx.m, s), 'sqrt', a)) : undefined;
      case 'isnan': return (cx, a) => { const A = cx.share(a, binaryen.v128); return call(ns(cx.m, s), 'ne', A(), A()); };
      case 'isinf': return (cx, a) => call(ns(cx.m, s), 'eq', call(ns(cx.m, s), 'abs', a), splatConst(cx.m, s, Infinity));
      case 'sign': return (cx, a) => {
        const m = cx.m, n = ns(m, s), A = cx.share(a, binaryen.v128);
        const neg = m.v128.bitselect(splatConst(m, s, -1), A(), call(n, 'lt', A(), splatConst(m, s, 0)));
        return m.v128.bitselect(splatConst(m, s, 1), neg, call(n, 'gt', A(), splatConst(m, s, 0)));
      };
      default:
        if (!(op in UNARY_MATH)) return undefined;
        if (e === 'f32' && !F32_NATIVE.has(op)) return undefined; // computed in f64, lane by lane
        return (cx, a) => cx.math(op, t, [a]);
    }
  }
  const signed = isSignedInt(e);
  switch (op) {
    case 'neg': return (cx, a) => call(ns(cx.m, s), 'neg', a);
    case 'abs': return signed ? (cx, a) => call(ns(cx.m, s), 'abs', a) : (_cx, a) => a;
    case 'not': return (cx, a) => cx.m.v128.not(a);
    case 'sign': return (cx, a) => {
      const m = cx.m, n = ns(m, s);
      if (!signed) return m.v128.and(call(n, 'ne', a, splatConst(m, s, 0)), splatConst(m, s, 1));
      const A = cx.share(a, binaryen.v128);
      return call(n, 'sub', call(n, 'lt_s', A(), splatConst(m, s, 0)), call(n, 'gt_s', A(), splatConst(m, s, 0)));
    };
    case 'floor': case 'ceil': case 'trunc': case 'round_even': return (_cx, a) => a;
    case 'isnan': case 'isinf': return (cx) => splatConst(cx.m, s, 0);
    default: return undefined;
  }
}

// ---------------------------------------------------------------- casts

/** Re-establishes the register invariant of a narrow integer (or bool) after an op that may leave it. */
export function wrapInt(m: binaryen.Module, e: KScalar, a: Ref): Ref {
  switch (e) {
    case 'i8': return m.i32.extend8_s(a);
    case 'i16': return m.i32.extend16_s(a);
    case 'u8': return m.i32.and(a, m.i32.const(0xff));
    case 'u16': return m.i32.and(a, m.i32.const(0xffff));
    case 'bool': return m.i32.ne(a, m.i32.const(0));
    default: return a;
  }
}

/** f64 → f32 rounding to odd (truncate, then set the last bit if inexact): a second rounding to f16/bf16 is then exact. */
function demoteToOdd(m: binaryen.Module, share: Cx['share'], a: Ref): Ref {
  const A = share(a, binaryen.f64);
  const R = share(m.f32.demote(A()), binaryen.f32);
  const bits = () => m.i32.reinterpret(R());
  // Rounded away from zero → step one unit back toward zero (same sign, so subtract 1 from the magnitude bits).
  const away = m.f64.gt(m.f64.abs(m.f64.promote(R())), m.f64.abs(A()));
  const inexact = m.f64.ne(m.f64.promote(R()), A());
  const truncated = m.i32.sub(bits(), away);
  const odd = m.select(inexact, m.i32.or(truncated, m.i32.const(1)), bits());
  // ±Inf from overflow and NaN keep their bits.
  return m.f32.reinterpret(m.select(m.f32.eq(m.f32.abs(R()), m.f32.const(Infinity)), m.i32.reinterpret(R()), odd));
}

/**
 * Scalar numeric conversion (the IR's cast): float → int truncates toward zero and saturates to the target's
 * range, NaN → 0; int → int wraps; → bool is ≠ 0; to a float rounds once to nearest even (f64 and 32-bit ints
 * reach f16/bf16 through an f32 rounded to odd, so the second rounding is exact; i64 goes through f64 first).
 * `round` rounds an f32 register to f16/bf16.
 */
export function castScalar(m: binaryen.Module, from: KScalar, to: KScalar, a: Ref, round: (to: 'f16' | 'bf16', a: Ref) => Ref,
  share: Cx['share']): Ref {
  if (from === to) return a;
  const rf = regOf(from), rt = regOf(to);
  if (to === 'bool') {
    if (rf === 'f32') return m.f32.ne(a, m.f32.const(0));
    if (rf === 'f64') return m.f64.ne(a, m.f64.const(0));
    if (rf === 'i64') return m.i64.ne(a, m.i64.const(0n));
    return m.i32.ne(a, m.i32.const(0));
  }
  if (from === 'bool') return castScalar(m, 'u32', to, a, round, share);
  if ((to === 'f16' || to === 'bf16') && from !== 'f32' && from !== 'f16' && from !== 'bf16') {
    const wide = from === 'f64' ? a : castScalar(m, from, 'f64', a, round, share);
    return round(to, demoteToOdd(m, share, wide));
  }
  if (isFloatElem(to)) {
    let f: Ref;
    if (isFloatElem(from)) {
      if (rf === rt) f = a;
      else f = rt === 'f64' ? m.f64.promote(a) : m.f32.demote(a);
    } else {
      const T = rt === 'f64' ? m.f64 : m.f32;
      const s = isSignedInt(from);
      f = rf === 'i64' ? (s ? T.convert_s.i64(a) : T.convert_u.i64(a)) : (s ? T.convert_s.i32(a) : T.convert_u.i32(a));
    }
    return to === 'f16' || to === 'bf16' ? round(to, f) : f;
  }
  if (isFloatElem(from)) {
    const fx = rf === 'f64' ? 'f64' : 'f32';
    if (rt === 'i64') return to === 'u64' ? m.i64.trunc_u_sat[fx](a) : m.i64.trunc_s_sat[fx](a);
    if (to === 'i32') return m.i32.trunc_s_sat[fx](a);
    if (to === 'u32') return m.i32.trunc_u_sat[fx](a);
    // 8/16-bit targets: saturate to their own range.
    const bits = bitsOf(to);
    const [lo, hi] = isSignedInt(to) ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
    const F = rf === 'f64' ? m.f64 : m.f32;
    return m.i32.trunc_s_sat[fx](F.max(F.min(a, F.const(hi)), F.const(lo)));
  }
  if (rf === 'i64' && rt === 'i64') return a;
  if (rf === 'i64') return wrapInt(m, to, m.i32.wrap(a));
  if (rt === 'i64') return isSignedInt(from) ? m.i64.extend_s(a) : m.i64.extend_u(a);
  return wrapInt(m, to, a);
}

/** Conversions between native vectors with one instruction (or none); undefined → lane by lane. */
export function castVector(from: KType, to: KType): ((m: binaryen.Module, a: Ref) => Ref) | undefined {
  const sf = shapeOf(from), st = shapeOf(to);
  if (!sf || !st) return undefined;
  const ne0 = (m: binaryen.Module, a: Ref) => call(ns(m, sf), 'ne', a, splatConst(m, sf, 0));
  if (to.elem === 'bool') {
    if (from.elem === 'bool') return (_m, a) => a;
    // A mask has the lane width of the compared values, so a float or same-shape integer compares directly.
    return isFloatElem(from.elem) || sf === st ? ne0 : undefined;
  }
  if (from.elem === 'bool') {
    const ones = (m: binaryen.Module, a: Ref) => m.v128.and(a, splatConst(m, sf, 1));
    if (sf === st) return ones;
    if (sf === 'i32x4' && st === 'f32x4') return (m, a) => m.f32x4.convert_i32x4_u(ones(m, a));
    return undefined;
  }
  if (sf === st && !isFloatElem(from.elem)) return (_m, a) => a; // i32↔u32, i16↔u16, …: same bits
  if (sf === 'f32x4' && st === 'i32x4') return to.elem === 'u32' ? (m, a) => m.i32x4.trunc_sat_f32x4_u(a) : (m, a) => m.i32x4.trunc_sat_f32x4_s(a);
  if (sf === 'i32x4' && st === 'f32x4') return from.elem === 'u32' ? (m, a) => m.f32x4.convert_i32x4_u(a) : (m, a) => m.f32x4.convert_i32x4_s(a);
  return undefined;
}

// ---------------------------------------------------------------- the rows, for tests and documentation

const INTS: KScalar[] = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64'];
const FLOATS: KScalar[] = ['f16', 'bf16', 'f32', 'f64'];
const NUMERIC = [...INTS, ...FLOATS];
/** Element types each binary op is defined on by the kernel IR's type rules (ir/kernel/build.ts). */
export const BINARY_ELEMS: Record<BinaryOp, readonly KScalar[]> = {
  add: NUMERIC, sub: NUMERIC, mul: NUMERIC, div: NUMERIC, mod: NUMERIC, min: NUMERIC, max: NUMERIC,
  floordiv: INTS, floormod: INTS, shl: INTS, shr: INTS, pow: FLOATS, atan2: FLOATS,
  and: [...INTS, 'bool'], or: [...INTS, 'bool'], xor: [...INTS, 'bool'],
  eq: [...NUMERIC, 'bool'], ne: [...NUMERIC, 'bool'], lt: NUMERIC, le: NUMERIC, gt: NUMERIC, ge: NUMERIC,
  mulhi: ['i32', 'u32'], dot4_u8: ['u32'], dot4_i8: ['u32'],
};
/** Rows this backend also implements beyond the IR's current type rules (kept tested, for the HE work). */
export const BINARY_EXTENSIONS: Partial<Record<BinaryOp, readonly KScalar[]>> = {
  pow: INTS, floordiv: FLOATS, floormod: FLOATS, mulhi: ['i8', 'u8', 'i16', 'u16', 'i64', 'u64'], dot4_u8: ['i32'], dot4_i8: ['i32'],
};
const FLOAT_UNARY = ['sqrt', 'rsqrt', 'recip', 'exp', 'log', 'sin', 'cos', 'tan', 'tanh', 'asin', 'acos', 'atan', 'sinh', 'cosh',
  'asinh', 'acosh', 'atanh', 'erf', 'floor', 'ceil', 'trunc', 'round_even', 'isnan', 'isinf'] as const;
export const UNARY_ELEMS: Record<UnaryOp, readonly KScalar[]> = {
  neg: NUMERIC, abs: NUMERIC, sign: NUMERIC, not: [...INTS, 'bool'],
  ...(Object.fromEntries(FLOAT_UNARY.map((op) => [op, FLOATS])) as Record<(typeof FLOAT_UNARY)[number], KScalar[]>),
};
export const UNARY_EXTENSIONS: Partial<Record<UnaryOp, readonly KScalar[]>> = {
  floor: INTS, ceil: INTS, trunc: INTS, round_even: INTS, isnan: INTS, isinf: INTS,
};

export type RowKind = 'scalar' | 'v128' | 'per-lane';
/** How (op, type) is emitted: one scalar row, one v128 row, or the scalar row once per lane. */
export function binaryRowKind(op: BinaryOp, t: KType): RowKind {
  if (t.lanes === 1) return 'scalar';
  return vectorBinary(op, t) ? 'v128' : 'per-lane';
}
export function unaryRowKind(op: UnaryOp, t: KType): RowKind {
  if (t.lanes === 1) return 'scalar';
  return vectorUnary(op, t) ? 'v128' : 'per-lane';
}
