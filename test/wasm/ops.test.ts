// Every row of the WASM backend's op table — (op, element type, lanes), native v128 rows and per-lane
// legalized ones — against plain-JS expectations, with fast-check inputs (NaN/±Inf/−0, integer extremes,
// zero divisors, oversized shift counts). All kernels live in one module, as they would for a model.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildWasmModule } from '../../backends/wasm/index.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { BINARY_ELEMS, BINARY_EXTENSIONS, UNARY_ELEMS, UNARY_EXTENSIONS, binaryRowKind, unaryRowKind } from '../../backends/wasm/table.ts';
import { allocBuffer, interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import { WasmExecutor, sequentialPlan } from '../../runtime/wasm/executor.ts';
import type { BinaryOp, Expr, Kernel, KScalar, KType, UnaryOp } from '../../ir/kernel/ir.ts';
import { erfRef } from '../util/erf-ref.ts';

type V = number | bigint;
const RUNS = Number(process.env.WASM_OP_RUNS ?? 12);

// ---------------------------------------------------------------- element types, independent of the backend

const BITS: Record<KScalar, number> = { bool: 8, i8: 8, u8: 8, i16: 16, u16: 16, f16: 16, bf16: 16, i32: 32, u32: 32, f32: 32, i64: 64, u64: 64, f64: 64 };
const isF = (e: KScalar) => e === 'f16' || e === 'bf16' || e === 'f32' || e === 'f64';
const isSigned = (e: KScalar) => e === 'i8' || e === 'i16' || e === 'i32' || e === 'i64';
const is64 = (e: KScalar) => e === 'i64' || e === 'u64';
const isInt = (e: KScalar) => !isF(e) && e !== 'bool';
const nativeLanes: Partial<Record<KScalar, KType['lanes']>> = { f32: 4, i32: 4, u32: 4, f64: 2, i64: 2, u64: 2, i16: 8, u16: 8, i8: 16, u8: 16, bool: 4 };
/** Lane counts tested per element: scalar, the native v128 width, and one width legalized lane by lane. */
function lanesFor(e: KScalar): KType['lanes'][] {
  const n = nativeLanes[e];
  const other: KType['lanes'] = BITS[e] === 64 ? 4 : e === 'f16' || e === 'bf16' ? 8 : 2;
  return n ? [1, n, other] : [1, other];
}

/**
 * Exact tables of the non-negative f16 / bf16 values by bit pattern (index = bits). The last entry, at the
 * +Inf pattern, holds 2^(emax+1) — the value rounding treats as the next one after the largest finite.
 */
function table16(decode: (bits: number) => number, infBits: number, beyond: number): Float64Array {
  const t = Float64Array.from({ length: infBits + 1 }, (_, i) => decode(i));
  t[infBits] = beyond;
  return t;
}
const f16Decode = (h: number): number => {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
};
const bf16Decode = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;
const F16 = table16(f16Decode, 0x7c00, 2 ** 16), BF16 = table16(bf16Decode, 0x7f80, 2 ** 128);
/** Nearest table value, ties to the even bit pattern. */
function nearest(tab: Float64Array, x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let lo = 0, hi = tab.length - 1;
  if (a >= tab[hi]!) return Math.sign(x) * Infinity;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (tab[mid]! <= a) lo = mid; else hi = mid; }
  const dl = a - tab[lo]!, dh = tab[hi]! - a;
  const k = dl < dh ? lo : dh < dl ? hi : lo % 2 === 0 ? lo : hi;
  const r = k === tab.length - 1 ? Infinity : tab[k]!;
  return x < 0 || Object.is(x, -0) ? -r : r;
}
const bitsOf16 = (tab: Float64Array, x: number, nanBits: number): number => {
  if (Number.isNaN(x)) return nanBits;
  const a = Math.abs(x);
  let lo = 0, hi = tab.length - 1;
  if (a === Infinity) return hi | (x < 0 ? 0x8000 : 0);
  while (lo < hi) { const mid = (lo + hi) >> 1; if (tab[mid]! < a) lo = mid + 1; else hi = mid; }
  return lo | (x < 0 || Object.is(x, -0) ? 0x8000 : 0);
};
const fround = Math.fround;
/** A double rounded to the element's float format. */
function roundTo(e: KScalar, x: number): number {
  switch (e) {
    case 'f32': return fround(x);
    case 'f16': return nearest(F16, x);
    case 'bf16': return nearest(BF16, x);
    default: return x;
  }
}
function wrapInt(e: KScalar, x: bigint): V {
  const b = BITS[e];
  if (e === 'bool') return x !== 0n ? 1 : 0;
  const w = isSigned(e) ? BigInt.asIntN(b, x) : BigInt.asUintN(b, x);
  return is64(e) ? w : Number(w);
}

function toMemory(e: KScalar, xs: V[]): ArrayBufferView {
  switch (e) {
    case 'f32': return Float32Array.from(xs as number[]);
    case 'f64': return Float64Array.from(xs as number[]);
    case 'i8': return Int8Array.from(xs as number[]);
    case 'u8': case 'bool': return Uint8Array.from(xs as number[]);
    case 'i16': return Int16Array.from(xs as number[]);
    case 'u16': return Uint16Array.from(xs as number[]);
    case 'i32': return Int32Array.from(xs as number[]);
    case 'u32': return Uint32Array.from(xs as number[]);
    case 'i64': return BigInt64Array.from(xs as bigint[]);
    case 'u64': return BigUint64Array.from(xs as bigint[]);
    case 'f16': return Uint16Array.from(xs as number[], (x) => bitsOf16(F16, x, 0x7e00));
    case 'bf16': return Uint16Array.from(xs as number[], (x) => bitsOf16(BF16, x, 0x7fc0));
  }
}
function fromMemory(e: KScalar, bytes: Uint8Array, n: number): V[] {
  const buf = bytes.slice().buffer;
  switch (e) {
    case 'f32': return [...new Float32Array(buf, 0, n)];
    case 'f64': return [...new Float64Array(buf, 0, n)];
    case 'i8': return [...new Int8Array(buf, 0, n)];
    case 'u8': case 'bool': return [...new Uint8Array(buf, 0, n)];
    case 'i16': return [...new Int16Array(buf, 0, n)];
    case 'u16': return [...new Uint16Array(buf, 0, n)];
    case 'i32': return [...new Int32Array(buf, 0, n)];
    case 'u32': return [...new Uint32Array(buf, 0, n)];
    case 'i64': return [...new BigInt64Array(buf, 0, n)];
    case 'u64': return [...new BigUint64Array(buf, 0, n)];
    case 'f16': return [...new Uint16Array(buf, 0, n)].map(f16Decode);
    case 'bf16': return [...new Uint16Array(buf, 0, n)].map(bf16Decode);
  }
}

function arb(e: KScalar): fc.Arbitrary<V> {
  switch (e) {
    case 'bool': return fc.constantFrom(0, 1);
    case 'i8': return fc.integer({ min: -128, max: 127 });
    case 'u8': return fc.integer({ min: 0, max: 255 });
    case 'i16': return fc.integer({ min: -32768, max: 32767 });
    case 'u16': return fc.integer({ min: 0, max: 65535 });
    case 'i32': return fc.integer();
    case 'u32': return fc.integer({ min: 0, max: 0xffffffff });
    case 'i64': return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 'u64': return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'f32': return fc.float();
    case 'f64': return fc.double();
    case 'f16': return fc.integer({ min: 0, max: 0xffff }).map(f16Decode);
    case 'bf16': return fc.integer({ min: 0, max: 0xffff }).map(bf16Decode);
  }
}
/** Divisor-like operands: more zeros, ±1 and extremes. */
function arbB(e: KScalar): fc.Arbitrary<V> {
  if (!isInt(e)) return arb(e);
  const lit = (x: number) => (is64(e) ? BigInt(x) : x);
  return fc.oneof({ weight: 3, arbitrary: arb(e) }, fc.constantFrom(lit(0), lit(1), isSigned(e) ? lit(-1) : lit(1)));
}

// ---------------------------------------------------------------- JS expectations

const big = (x: V): bigint => (typeof x === 'bigint' ? x : BigInt(x));
function powMod(e: KScalar, a: bigint, b: bigint): V {
  if (isSigned(e) && b < 0n) return wrapInt(e, a === 1n ? 1n : a === -1n ? (b % 2n !== 0n ? -1n : 1n) : 0n);
  const bits = BigInt(Math.max(32, BITS[e]));
  let r = 1n, base = BigInt.asUintN(Number(bits), a), x = BigInt.asUintN(Number(bits), b);
  for (; x > 0n; x >>= 1n) { if (x & 1n) r = BigInt.asUintN(Number(bits), r * base); base = BigInt.asUintN(Number(bits), base * base); }
  return wrapInt(e, r);
}
function bytes4(x: bigint, signed: boolean): bigint[] {
  return [0, 1, 2, 3].map((i) => { const b = (x >> BigInt(8 * i)) & 0xffn; return signed && b > 127n ? b - 256n : b; });
}

/** [expected, exact?] for a binary op; inexact results are compared with a relative tolerance. */
function refBinary(op: BinaryOp, e: KScalar, a: V, b: V, out: KScalar): [V, boolean] {
  if (['eq', 'ne', 'lt', 'le', 'gt', 'ge'].includes(op)) {
    const [x, y] = isF(e) ? [a as number, b as number] : [big(a), big(b)];
    const r = { eq: x === y, ne: x !== y, lt: x < y, le: x <= y, gt: x > y, ge: x >= y }[op as 'eq']!;
    return [r ? 1 : 0, true];
  }
  if (isF(e)) {
    const x = a as number, y = b as number;
    const R = (v: number): [V, boolean] => [roundTo(e, v), true];
    const approx = (v: number): [V, boolean] => [roundTo(e, v), false];
    switch (op) {
      case 'add': return R(x + y);
      case 'sub': return R(x - y);
      case 'mul': return R(x * y);
      case 'div': return R(x / y);
      case 'min': return R(Math.min(x, y));
      case 'max': return R(Math.max(x, y));
      case 'floordiv': return R(Math.floor(e === 'f64' ? x / y : fround(x / y)));
      case 'mod': return approx(x % y);
      case 'floormod': { let r = x % y; if (r !== 0 && (r < 0) !== (y < 0)) r += y; return approx(r); }
      case 'pow': return approx(Math.pow(x, y));
      case 'atan2': return approx(Math.atan2(x, y));
      default: throw new Error(op);
    }
  }
  const x = big(a), y = big(b), bits = BigInt(BITS[e]);
  const W = (v: bigint): [V, boolean] => [wrapInt(out, v), true];
  switch (op) {
    case 'add': return W(x + y);
    case 'sub': return W(x - y);
    case 'mul': return W(x * y);
    case 'div': return y === 0n ? W(x) : W(x / y);
    case 'mod': return y === 0n ? W(0n) : W(x % y);
    case 'floordiv': { if (y === 0n) return W(x); let q = x / y; if (x % y !== 0n && (x < 0n) !== (y < 0n)) q -= 1n; return W(q); }
    case 'floormod': { if (y === 0n) return W(0n); let r = x % y; if (r !== 0n && (r < 0n) !== (y < 0n)) r += y; return W(r); }
    case 'min': return W(x < y ? x : y);
    case 'max': return W(x > y ? x : y);
    case 'pow': return [powMod(e, x, y), true];
    case 'and': return W(x & y);
    case 'or': return W(x | y);
    case 'xor': return W(x ^ y);
    case 'shl': return W(x << (((y % bits) + bits) % bits));
    case 'shr': return W(x >> (((y % bits) + bits) % bits));
    case 'mulhi': return W((x * y) >> bits);
    case 'dot4_u8': case 'dot4_i8': {
      const s = op === 'dot4_i8';
      const p = bytes4(BigInt.asUintN(32, x), s), q = bytes4(BigInt.asUintN(32, y), s);
      return W(p.reduce((acc, v, i) => acc + v * q[i]!, 0n));
    }
    default: throw new Error(op);
  }
}

const JS_MATH: Record<string, (x: number) => number> = {
  exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tan: Math.tan, tanh: Math.tanh, asin: Math.asin,
  acos: Math.acos, atan: Math.atan, sinh: Math.sinh, cosh: Math.cosh, asinh: Math.asinh, acosh: Math.acosh,
  atanh: Math.atanh, erf: erfRef,
};

function refUnary(op: UnaryOp, e: KScalar, a: V, out: KScalar): [V, boolean] {
  if (op === 'isnan') return [isF(e) && Number.isNaN(a as number) ? 1 : 0, true];
  if (op === 'isinf') return [isF(e) && Math.abs(a as number) === Infinity ? 1 : 0, true];
  if (isF(e)) {
    const x = a as number;
    const R = (v: number): [V, boolean] => [roundTo(e, v), true];
    switch (op) {
      case 'neg': return R(-x);
      case 'abs': return R(Math.abs(x));
      case 'sign': return R(x > 0 ? 1 : x < 0 ? -1 : x);
      case 'floor': return R(Math.floor(x));
      case 'ceil': return R(Math.ceil(x));
      case 'trunc': return R(Math.trunc(x));
      case 'round_even': { const r = Math.round(x); return R(r - x === 0.5 && r % 2 !== 0 ? r - 1 : Object.is(x, -0) || (x < 0 && r === 0) ? -0 : r); }
      case 'sqrt': return R(Math.sqrt(x));
      case 'recip': return R(1 / x);
      case 'rsqrt': return R(1 / Math.sqrt(x));
      default: return [roundTo(e, JS_MATH[op]!(x)), false];
    }
  }
  const x = big(a);
  const W = (v: bigint): [V, boolean] => [wrapInt(out, v), true];
  switch (op) {
    case 'neg': return W(-x);
    case 'abs': return W(x < 0n ? -x : x);
    case 'sign': return W(x > 0n ? 1n : x < 0n ? -1n : 0n);
    case 'not': return e === 'bool' ? W(x ? 0n : 1n) : W(~x);
    case 'floor': case 'ceil': case 'trunc': case 'round_even': return W(x);
    default: throw new Error(op);
  }
}

/** Domain of the inexact float ops in this test (accuracy over full ranges is math.test.ts's job). */
function arbMath(op: string, e: KScalar): fc.Arbitrary<number> {
  const lim = (lo: number, hi: number) => (e === 'f64' ? fc.double({ min: lo, max: hi, noNaN: true }) : fc.float({ min: fround(lo), max: fround(hi), noNaN: true }))
    .map((x) => roundTo(e, x));
  switch (op) {
    case 'sin': case 'cos': case 'tan': return lim(-1e4, 1e4);
    case 'asin': case 'acos': case 'atanh': return lim(-1, 1);
    case 'acosh': return lim(1, 1e30);
    case 'exp': case 'sinh': case 'cosh': return lim(-80, 80);
    case 'log': return lim(0, 1e30);
    default: return lim(-1e6, 1e6);
  }
}

function close(got: V, want: V, e: KScalar, exact: boolean): boolean {
  if (typeof want === 'bigint' || typeof got === 'bigint') return got === want;
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (exact) return Object.is(got, want) || (got === want && !isF(e));
  if (got === want) return true;
  const tol = e === 'f64' ? 1e-12 : e === 'f32' ? 4e-6 : e === 'bf16' ? 1.6e-2 : 2e-3;
  return Math.abs(got - want) <= tol * Math.abs(want) + (e === 'f64' ? 1e-300 : 1e-37);
}

// ---------------------------------------------------------------- the rows

interface Row {
  name: string;
  kernel: Kernel;
  elemA: KScalar; elemB?: KScalar; elemOut: KScalar;
  lanes: number;
  /** Values per lane group of a. */
  arbA: fc.Arbitrary<V>; arbB?: fc.Arbitrary<V>;
  expect(a: V, b: V | undefined, lane: number, bs: V[]): [V, boolean];
  /** Second operand uniform across lanes (b[group] for every lane). */
  uniformB?: boolean;
  /** An extension beyond the IR's type rules: compared with JS only, not with the interpreter. */
  extension?: boolean;
}

const COUNT = 2; // lane groups per run
const sz = d.v('n');
function elementwise(name: string, ta: KType, tb: KType | undefined, tOut: KType, body: (a: Expr, b: Expr | undefined) => Expr, uniformB = false): Kernel {
  const i = d.v('i');
  const bLoad = tb && (uniformB ? d.broadcast(d.load('b', tb.elem, d.div(i, d.c(ta.lanes))), ta.lanes) : d.load('b', tb, i));
  return {
    name, sizes: [{ name: 'n' }],
    buffers: [
      { name: 'a', elem: ta.elem, access: 'read', size: sz, space: 'global' },
      { name: 'b', elem: tb?.elem ?? ta.elem, access: 'read', size: sz, space: 'global' },
      { name: 'out', elem: tOut.elem, access: 'write', size: sz, space: 'global' },
    ],
    body: [d.loop('i', 0, sz, [d.store('out', i, body(d.load('a', ta, i), bLoad))], { step: ta.lanes })],
  };
}

const rows: Row[] = [];
const kinds = new Map<string, string>();
const COMPARE = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
const withExt = <O extends string>(base: Record<O, readonly KScalar[]>, ext: Partial<Record<O, readonly KScalar[]>>) =>
  (Object.keys(base) as O[]).flatMap((op) => [
    ...base[op].map((e) => ({ op, e, extension: false })), ...(ext[op] ?? []).map((e) => ({ op, e, extension: true }))]);
for (const { op, e, extension } of withExt(BINARY_ELEMS, BINARY_EXTENSIONS)) {
  {
    for (const L of lanesFor(e)) {
      const t: KType = { elem: e, lanes: L };
      const outElem: KScalar = COMPARE.has(op) ? 'bool' : op === 'dot4_u8' ? 'u32' : op === 'dot4_i8' ? 'i32' : e;
      const tOut: KType = { elem: outElem, lanes: L };
      const inexact = isF(e) && ['mod', 'floormod', 'pow', 'atan2'].includes(op);
      const name = `${op}.${e}x${L}`;
      kinds.set(name, binaryRowKind(op, t));
      const outBits = outElem;
      const aArb = inexact && op === 'pow' ? fc.oneof(arbMath('log', e), arb(e)) : inexact ? arbMath('x', e) : arb(e);
      // fmod is a − b·trunc(a/b): exact only while the quotient is moderate (see mathlib.ts).
      const divisor = fc.tuple(fc.double({ min: 1e-2, max: 1e3, noNaN: true }), fc.boolean()).map(([x, s]) => roundTo(e, s ? -x : x));
      const bArb = inexact && op === 'pow' ? fc.oneof(arbMath('x', e).map((x) => roundTo(e, x / 1e5)), arb(e))
        : inexact && op !== 'atan2' ? divisor : arbB(e);
      rows.push({
        name, kernel: elementwise(`k_${name}`, t, t, tOut, (a, b) => d.bin(op, a, b!, tOut)),
        elemA: e, elemB: e, elemOut: outBits, lanes: L, arbA: aArb, arbB: bArb, extension,
        expect: (a, b) => refBinary(op, e, a, b!, outElem),
      });
      if ((op === 'shl' || op === 'shr') && L > 1) {
        rows.push({
          name: `${name}.uniform`, kernel: elementwise(`k_${name}.uniform`, t, { elem: e, lanes: 1 }, tOut, (a, b) => d.bin(op, a, b!, tOut), true),
          elemA: e, elemB: e, elemOut: e, lanes: L, arbA: arb(e), arbB: arbB(e), uniformB: true,
          expect: (a, _b, lane, bs) => refBinary(op, e, a, bs[Math.floor(lane / L)]!, e),
        });
        kinds.set(`${name}.uniform`, nativeLanes[e] === L ? 'v128' : 'per-lane');
      }
    }
  }
}
for (const { op, e, extension } of withExt(UNARY_ELEMS, UNARY_EXTENSIONS)) {
  {
    for (const L of lanesFor(e)) {
      const t: KType = { elem: e, lanes: L };
      const outElem: KScalar = op === 'isnan' || op === 'isinf' ? 'bool' : e;
      const name = `${op}.${e}x${L}`;
      kinds.set(name, unaryRowKind(op, t));
      const inexact = isF(e) && op in JS_MATH;
      rows.push({
        name, kernel: elementwise(`k_${name}`, t, undefined, { elem: outElem, lanes: L }, (a) => d.un(op, a)),
        elemA: e, elemOut: outElem, lanes: L, arbA: inexact ? arbMath(op, e) : arb(e), extension,
        expect: (a) => refUnary(op, e, a, outElem),
      });
    }
  }
}

// Casts between every pair of element types, scalar and 4 lanes.
const ALL: KScalar[] = ['bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f16', 'bf16', 'f32', 'f64'];
/** A BigInt rounded to the nearest f32 (ties to even), without double rounding through f64. */
function bigToF32(x: bigint): number {
  const neg = x < 0n, a = neg ? -x : x;
  const len = a.toString(2).length;
  if (len <= 24) return Number(x);
  const shift = BigInt(len - 24);
  let m = a >> shift;
  const rem = a - (m << shift), half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (m & 1n))) m += 1n;
  const r = Number(m) * 2 ** Number(shift);
  return neg ? -r : r;
}
function refCast(from: KScalar, to: KScalar, a: V): V {
  if (to === 'bool') return (typeof a === 'bigint' ? a !== 0n : a !== 0) ? 1 : 0;
  if (isF(from) && isF(to)) return roundTo(to, a as number);
  if (isF(to)) {
    const x = big(a);
    if (to === 'f64') return Number(x);
    if (to === 'f32') return bigToF32(x);
    return roundTo(to, Number(x)); // exact for ≤ 32-bit ints; i64 rounds through f64 (documented)
  }
  if (isF(from)) {
    const x = a as number;
    if (Number.isNaN(x)) return wrapInt(to, 0n);
    const t = BigInt(Math.trunc(Math.max(Math.min(x, 2 ** 70), -(2 ** 70))));
    const w = BigInt(BITS[to]);
    const [lo, hi] = isSigned(to) ? [-(1n << (w - 1n)), (1n << (w - 1n)) - 1n] : [0n, (1n << w) - 1n];
    return wrapInt(to, t < lo ? lo : t > hi ? hi : t);
  }
  return wrapInt(to, big(a));
}
for (const from of ALL) {
  for (const to of ALL) {
    if (from === to) continue;
    for (const L of [1, 4] as const) {
      const name = `cast.${from}->${to}x${L}`;
      rows.push({
        name, kernel: elementwise(`k_${name}`, { elem: from, lanes: L }, undefined, { elem: to, lanes: L }, (a) => d.cast(to, a)),
        elemA: from, elemOut: to, lanes: L, arbA: arb(from), expect: (a) => [refCast(from, to, a), true],
      });
    }
  }
}
// Extending loads: cast(load narrow×n) to a native vector.
for (const [from, to, L] of [['u8', 'i16', 8], ['i8', 'u16', 8], ['u16', 'i32', 4], ['i16', 'i32', 4], ['u32', 'i64', 2], ['i32', 'u64', 2],
  ['u8', 'i32', 4], ['i8', 'i32', 4], ['u8', 'f32', 4], ['i16', 'f32', 4]] as [KScalar, KScalar, KType['lanes']][]) {
  const name = `extload.${from}->${to}x${L}`;
  rows.push({
    name, kernel: elementwise(`k_${name}`, { elem: from, lanes: L }, undefined, { elem: to, lanes: L }, (a) => d.cast(to, a)),
    elemA: from, elemOut: to, lanes: L, arbA: arb(from), expect: (a) => [refCast(from, to, a), true],
  });
}
// Bitcasts between types of one width.
const PAIRS: [KScalar, KScalar][] = [['f32', 'i32'], ['f32', 'u32'], ['i32', 'u32'], ['f64', 'i64'], ['f64', 'u64'], ['i64', 'u64'],
  ['f16', 'i16'], ['f16', 'u16'], ['bf16', 'i16'], ['bf16', 'u16'], ['i16', 'u16'], ['i8', 'u8']];
function reinterpret(from: KScalar, to: KScalar, a: V): V {
  const mem = new Uint8Array(toMemory(from, [a]).buffer.slice(0));
  return fromMemory(to, mem, 1)[0]!;
}
for (const [x, y] of PAIRS) {
  for (const [from, to] of [[x, y], [y, x]] as [KScalar, KScalar][]) {
    for (const L of [1, 4] as const) {
      const name = `bitcast.${from}->${to}x${L}`;
      // NaN payloads need not survive (f16 is computed in f32 registers; JS numbers in the interpreter).
      const arbA = isF(from) ? arb(from).filter((v) => !Number.isNaN(v as number)) : arb(from);
      rows.push({
        name, kernel: elementwise(`k_${name}`, { elem: from, lanes: L }, undefined, { elem: to, lanes: L }, (a) => d.bitcast(to, a)),
        elemA: from, elemOut: to, lanes: L, arbA, expect: (a) => [reinterpret(from, to, a), true],
      });
    }
  }
}
// select / broadcast / extract / reduce_lanes on every element type.
for (const e of ALL) {
  for (const L of lanesFor(e)) {
    const t: KType = { elem: e, lanes: L };
    rows.push({
      name: `select.${e}x${L}`,
      kernel: elementwise(`k_select.${e}x${L}`, t, t, t, (a, b) => d.select(e === 'bool' ? d.ne(a, b!) : d.lt(a, b!), a, b!)),
      elemA: e, elemB: e, elemOut: e, lanes: L, arbA: arb(e), arbB: arb(e),
      expect: (a, b) => [refBinary(e === 'bool' ? 'ne' : 'lt', e, a, b!, 'bool')[0] ? a : b!, true],
    });
    if (L === 1) continue;
    const scalarT: KType = { elem: e, lanes: 1 };
    rows.push({
      name: `broadcast.${e}x${L}`,
      kernel: elementwise(`k_broadcast.${e}x${L}`, t, scalarT, t, (_a, b) => b!, true),
      elemA: e, elemB: e, elemOut: e, lanes: L, arbA: arb(e), arbB: arb(e), uniformB: true,
      expect: (_a, _b, lane, bs) => [bs[Math.floor(lane / L)]!, true],
    });
    rows.push({
      name: `extract.${e}x${L}`,
      kernel: elementwise(`k_extract.${e}x${L}`, t, undefined, t, (a) => {
        // Reverse the lanes through extract + a vector rebuilt by selects on lane constants is overkill: store
        // lane (L−1−j) of a at lane j by extracting each lane into a broadcast and blending with select.
        let r: Expr = d.broadcast(d.extract(a, L - 1), L);
        for (let j = 1; j < L; j++) {
          const isLane = d.eq(laneIndex(L), d.c(j, { elem: 'i32', lanes: L }));
          r = d.select(isLane, d.broadcast(d.extract(a, L - 1 - j), L), r);
        }
        return r;
      }),
      elemA: e, elemOut: e, lanes: L, arbA: arb(e),
      expect: (_a, _b, lane, _bs, as?: V[]) => [as![Math.floor(lane / L) * L + (L - 1 - (lane % L))]!, true],
    } as Row);
    if (e === 'bool') continue;
    for (const op of ['add', 'min', 'max'] as const) {
      rows.push({
        name: `reduce_${op}.${e}x${L}`,
        kernel: elementwise(`k_reduce_${op}.${e}x${L}`, t, undefined, t, (a) => d.broadcast(d.reduceLanes(op, a), L)),
        elemA: e, elemOut: e, lanes: L, arbA: isF(e) ? arb(e).filter((v) => Number.isFinite(v as number)) : arb(e),
        expect: (_a, _b, lane, _bs, as?: V[]) => {
          const g = as!.slice(Math.floor(lane / L) * L, Math.floor(lane / L) * L + L);
          const f = (x: V, y: V) => refBinary(op, e, x, y, e)[0];
          // Float sums fold left to right like the interpreter; other reductions are order-independent.
          let r = g[0]!;
          for (let j = 1; j < L; j++) r = f(r, g[j]!);
          return [r, true];
        },
      } as Row);
    }
  }
}
/** [0, 1, …, L−1] as an i32 vector, built from constants and selects only on existing ops. */
function laneIndex(L: number): Expr {
  // A buffer-free lane index: the backend has no iota; load it from the constant buffer 'iota'.
  return d.load('iota', { elem: 'i32', lanes: L as KType['lanes'] }, d.c(0));
}
for (const r of rows) {
  if (r.name.startsWith('extract.')) r.kernel.buffers.push({ name: 'iota', elem: 'i32', access: 'read', size: d.c(16), space: 'global' });
}

// ---------------------------------------------------------------- running

let ex: WasmExecutor;
beforeAll(async () => {
  const t0 = performance.now();
  const { binary } = buildWasmModule(rows.map((r) => r.kernel), { optimize: 1 });
  const buildMs = performance.now() - t0;
  const maxN = COUNT * 16;
  ex = await WasmExecutor.create({ simd: binary }, sequentialPlan({ a: maxN * 8, b: maxN * 8, out: maxN * 8, iota: 64 }));
  ex.write('iota', Int32Array.from({ length: 16 }, (_, i) => i));
  console.log(`op table: ${rows.length} kernels in one module, ${binary.length} bytes, built in ${buildMs.toFixed(0)} ms`);
}, 120_000);

/** Interpreter storage for a buffer (f16/bf16 as their values in a Float32Array, bool as 0/1 bytes). */
function interpStorage(e: KScalar, xs: V[], n: number): BufferData {
  const buf = allocBuffer(e, n) as unknown as V[];
  xs.forEach((x, i) => { buf[i] = x; });
  return buf as unknown as BufferData;
}
let interpreted = 0;

/** Runs a row on a/b, checks every lane against JS and (for IR rows) against the kernel-IR interpreter. */
function check(r: Row, as: V[], bs: V[] | undefined): void {
  const n = COUNT * r.lanes;
  // Uniform rows read b[lane group]; the expectation sees each lane's b.
  const bLanes = r.uniformB && bs ? Array.from({ length: n }, (_, i) => bs[Math.floor(i / r.lanes)]!) : bs;
  ex.write('a', toMemory(r.elemA, as));
  if (bs) ex.write('b', toMemory(r.elemB!, bs));
  ex.call({ kernel: r.kernel.name, buffers: r.kernel.buffers.map((b) => b.name), sizes: [n] });
  const got = fromMemory(r.elemOut, ex.bytes('out'), n);
  const expects = r.expect as (a: V, b: V | undefined, lane: number, bs: V[], as: V[]) => [V, boolean];
  const exactness: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const [want, exact] = expects(as[i]!, bLanes?.[i], i, bs ?? [], as);
    exactness.push(exact);
    if (!close(got[i]!, want, r.elemOut, exact)) {
      throw new Error(`${r.name} lane ${i}: a=${String(as[i])} b=${String(bLanes?.[i])} → got ${String(got[i])}, want ${String(want)}`);
    }
  }
  if (r.extension) return;
  const bufs: Record<string, BufferData> = {
    a: interpStorage(r.elemA, as, n), b: interpStorage(r.elemB ?? r.elemA, bs ?? [], n), out: allocBuffer(r.elemOut, n),
  };
  if (r.kernel.buffers.some((b) => b.name === 'iota')) bufs.iota = Int32Array.from({ length: 16 }, (_, i) => i);
  try {
    interpretKernel(r.kernel, { buffers: bufs, sizes: { n } });
  } catch (e) {
    if (/division by zero/.test((e as Error).message)) return; // an error of the kernel in the IR; WASM defines it
    throw e;
  }
  interpreted++;
  const ref = Array.from(bufs.out as ArrayLike<V>);
  for (let i = 0; i < n; i++) {
    const want = r.elemOut === 'f16' || r.elemOut === 'bf16' ? roundTo(r.elemOut, ref[i] as number) : ref[i]!;
    if (!close(got[i]!, want, r.elemOut, exactness[i]!)) {
      throw new Error(`${r.name} lane ${i}: a=${String(as[i])} b=${String(bLanes?.[i])} → WASM ${String(got[i])}, interpreter ${String(want)}`);
    }
  }
}

describe('WASM op table (one module, every row)', () => {
  it('lists every row with how it is emitted', () => {
    const byKind = { scalar: 0, v128: 0, 'per-lane': 0 } as Record<string, number>;
    for (const k of kinds.values()) byKind[k]!++;
    console.log(`rows: ${kinds.size} (op × element × lanes): ${JSON.stringify(byKind)}`);
    expect(kinds.get('add.f32x4')).toBe('v128');
    expect(kinds.get('mul.i8x16')).toBe('per-lane');
    expect(kinds.get('mulhi.u32x4')).toBe('v128');
    expect(kinds.get('dot4_i8.i32x4')).toBe('v128');
    expect(kinds.get('exp.f32x4')).toBe('v128');
    expect(kinds.get('sin.f32x4')).toBe('per-lane');
    expect(kinds.get('lt.u64x2')).toBe('per-lane');
  });
  for (const r of rows) {
    it(r.name, () => {
      const n = COUNT * r.lanes;
      const bGen = r.arbB ? (r.uniformB ? fc.array(r.arbB, { minLength: COUNT, maxLength: COUNT }) : fc.array(r.arbB, { minLength: n, maxLength: n })) : fc.constant(undefined);
      fc.assert(fc.property(fc.array(r.arbA, { minLength: n, maxLength: n }), bGen, (as, bs) => {
        check(r, as, bs);
      }), { numRuns: RUNS });
    });
  }
  it('compared the IR rows with the kernel-IR interpreter too', () => {
    console.log(`interpreter comparisons: ${interpreted} runs`);
    expect(interpreted).toBeGreaterThan(rows.length);
  });
  it('rejects ops outside the table with a reason naming the kernel', () => {
    const t: KType = { elem: 'f32', lanes: 1 };
    const k = elementwise('bad', t, t, t, (a, b) => d.bin('and', a, b!));
    expect(() => buildWasmModule([k])).toThrow(/kernel 'bad': wasm: no lowering for and on f32/);
  });
});
