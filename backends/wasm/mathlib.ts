// The WASM backend's helper library, written in kernel IR (through dsl.ts) and compiled by the same emitter as
// any kernel: math functions, f16/bf16 conversions and the integer helpers WASM lacks. Every generator is
// generic over lanes, so the f32x4/f64x2 variants come from the same code as the scalar ones, and branch-free
// (select), so vector lanes never diverge.
//
// Accuracy (why these methods):
// - exp/expm1: Cody–Waite reduction by ln2 (split constants), Taylor polynomial on |r| ≤ ln2/2 (degree 7 for
//   f32, 13 for f64), 2^k applied as two factors so subnormal results round once. ~1 ulp.
// - log/log1p: x = 2^e·m with m ∈ [√½, √2), log m = 2·atanh(f/(2+f)) as an odd series; log1p by Kahan's trick.
// - sin/cos/tan (f64): reduction by π/2 split in four 26-bit parts (Cody–Waite, exact products for |k| < 2^27)
//   below |x| = 2^26; above, Payne–Hanek with 1216 bits of 2/π (any finite x); Taylor to r^17/r^16 on |r| ≤ π/4.
// - fmod: exact. a − b·trunc(a/b) with the product kept exact (Dekker) for quotients below 2^52, an integer
//   reduction of the mantissas beyond (and at the ends of the exponent range, where Dekker's splits fail).
// - atan/atan2/asin/acos: two argument halvings (atan t = 2·atan(t/(1+√(1+t²)))) then an odd series.
// - erf: f64 sums the everywhere-positive series erf x = 2/√π·x·e^{−x²}·Σ(2x²)^n/(2n+1)!! (no cancellation);
//   f32 uses the Taylor series below 1 and erfc(x)·e^{x²} as a Chebyshev fit on [1, 4] above (coefficients
//   computed here, at load time, from a continued fraction in double precision).
// - f32 sin/cos/tan/asin/acos/atan/sinh/cosh/asinh/acosh/atanh/pow/atan2/fmod are computed in f64 and rounded
//   (rare in models; exact enough and one implementation fewer). pow's relative error is ~|y·ln x|·2^-53;
//   its special cases follow JS Math.pow, as the kernel-IR interpreter does (1^NaN and (±1)^±Inf are NaN).
import type { Expr, KType } from '../../ir/kernel/ir.ts';
import {
  Block, add, and, assign, bin, bitcast, c, cast, div, eq, extract, ge, gt, if_, let_, local, loop, lt, max, min,
  mul, ne, or, reduceLanes, select, shl, shr, sub, un, v, xor, type TypeLike,
} from './dsl.ts';

export type Gen1 = (b: Block, x: Expr) => Expr;
export type Gen2 = (b: Block, x: Expr, y: Expr) => Expr;

const K = (x: Expr, value: number): Expr => c(value, x.type);
const abs = (x: Expr) => un('abs', x);
const neg = (x: Expr) => un('neg', x);
const sqrt = (x: Expr) => un('sqrt', x);
const isF64 = (t: KType) => t.elem === 'f64';
const intOf = (t: KType, unsigned = false): KType =>
  ({ elem: isF64(t) ? (unsigned ? 'u64' : 'i64') : (unsigned ? 'u32' : 'i32'), lanes: t.lanes });
/** An integer constant of the type t (BigInt for 64-bit types). */
const ci = (t: KType, value: number | bigint): Expr =>
  c(t.elem === 'i64' || t.elem === 'u64' ? BigInt(value) : Number(value), t);
const fmt = (t: KType) => (isF64(t)
  ? { mant: 52, bias: 1023, sign: 0x8000000000000000n, absMask: 0x7fffffffffffffffn, minNormal: 2 ** -1022, subScale: 54 }
  : { mant: 23, bias: 127, sign: 0x80000000, absMask: 0x7fffffff, minNormal: 2 ** -126, subScale: 25 });

/** Horner evaluation of coeffs[0] + x·(coeffs[1] + x·(…)). */
function poly(x: Expr, coeffs: number[]): Expr {
  let r = K(x, coeffs[coeffs.length - 1]!);
  for (let i = coeffs.length - 2; i >= 0; i--) r = add(mul(r, x), K(x, coeffs[i]!));
  return r;
}
const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

/**
 * Splits a decimal constant into parts of the given significant-bit widths (summing to the constant), so that
 * k·part is exact for small integers k (Cody–Waite). Exact arithmetic through BigInt fixed point.
 */
export function splitConstant(decimal: string, widths: number[]): number[] {
  const [ip, fp = ''] = decimal.split('.');
  const FRAC = 400n;
  let x = (BigInt(ip! + fp) << FRAC) / 10n ** BigInt(fp.length);
  const parts: number[] = [];
  for (const w of widths) {
    if (x <= 0n) { parts.push(0); continue; }
    const len = x.toString(2).length;
    const shift = Math.max(0, len - w);
    const top = x >> BigInt(shift);
    parts.push(Number(top) * 2 ** (shift - Number(FRAC)));
    x -= top << BigInt(shift);
  }
  return parts;
}
const LN2_DEC = '0.693147180559945309417232121458176568075500134360255254120680009493393621969694715605863326996418687542';
const PIO2_DEC = '1.570796326794896619231321691639751442098584699687552910487472296153908203143104499314017412671058534';
const LN2_F64 = splitConstant(LN2_DEC, [32, 53]);
const LN2_F32 = splitConstant(LN2_DEC, [12, 24]).map(Math.fround);
const PIO2_F64 = splitConstant(PIO2_DEC, [26, 26, 26, 53]);

function signbit(x: Expr): Expr {
  return lt(bitcast(intOf(x.type), x), ci(intOf(x.type), 0));
}
/** |mag| with the sign bit of sgn. */
function copysign(mag: Expr, sgn: Expr): Expr {
  const u = intOf(mag.type, true);
  const f = fmt(mag.type);
  return bitcast(mag.type, or(and(bitcast(u, mag), ci(u, f.absMask)), and(bitcast(u, sgn), ci(u, f.sign))));
}
/** 2^k as a float, for k within the normal exponent range. */
function pow2(k: Expr, t: KType): Expr {
  const f = fmt(t);
  return bitcast(t, shl(add(k, ci(k.type, f.bias)), ci(k.type, f.mant)));
}

// ---- exponentials and logarithms ----

const EXP_COEFFS = Array.from({ length: 14 }, (_, n) => 1 / factorial(n + 1)); // (e^r − 1)/r

/** e^x = 2^k·(1 + p): Cody–Waite reduction, p ≈ e^r − 1. */
function expParts(b: Block, x: Expr): { kf: Expr; p: Expr } {
  const f64 = isF64(x.type);
  const xc = b.let(max(min(x, K(x, f64 ? 710 : 89)), K(x, f64 ? -746 : -104)));
  const kf = b.let(un('round_even', mul(xc, K(x, Math.LOG2E))));
  const [hi, lo] = f64 ? LN2_F64 : LN2_F32;
  const r = b.let(sub(sub(xc, mul(kf, K(x, hi!))), mul(kf, K(x, lo!))));
  const p = b.let(mul(r, poly(r, EXP_COEFFS.slice(0, f64 ? 13 : 7))));
  return { kf, p };
}

export const exp: Gen1 = (b, x) => {
  const { kf, p } = expParts(b, x);
  const k = b.let(cast(intOf(x.type), kf));
  const k1 = b.let(shr(k, ci(k.type, 1)));
  return mul(mul(add(K(x, 1), p), pow2(k1, x.type)), pow2(sub(k, k1), x.type));
};

/** e^x − 1, accurate near 0; valid for x below the overflow threshold. */
function expm1(b: Block, x: Expr): Expr {
  const { kf, p } = expParts(b, x);
  const it = intOf(x.type);
  const s = b.let(pow2(max(cast(it, kf), ci(it, 1 - fmt(x.type).bias)), x.type));
  return add(mul(s, p), sub(s, K(x, 1)));
}

export const tanh: Gen1 = (b, x) => {
  const em = b.let(expm1(b, mul(abs(x), K(x, -2))));
  return copysign(div(neg(em), add(em, K(x, 2))), x);
};

export const log: Gen1 = (b, x) => {
  const t = x.type;
  const f = fmt(t);
  const it = intOf(t);
  const small = b.let(lt(x, K(x, f.minNormal)));
  const xs = b.let(select(small, mul(x, K(x, 2 ** f.subScale)), x));
  const bits = b.let(bitcast(it, xs));
  const mbits = or(and(bits, ci(it, (1n << BigInt(f.mant)) - 1n)), ci(it, BigInt(f.bias) << BigInt(f.mant)));
  const m0 = b.let(bitcast(t, mbits));
  const big = b.let(gt(m0, K(x, Math.SQRT2)));
  const m = b.let(select(big, mul(m0, K(x, 0.5)), m0));
  const e = sub(add(sub(shr(bits, ci(it, f.mant)), ci(it, f.bias)), select(big, ci(it, 1), ci(it, 0))),
    select(small, ci(it, f.subScale), ci(it, 0)));
  const ef = b.let(cast(t, e));
  const fr = b.let(sub(m, K(x, 1)));
  const s = b.let(div(fr, add(fr, K(x, 2))));
  const z = b.let(mul(s, s));
  const nTerms = isF64(t) ? 10 : 4;
  const R = mul(z, poly(z, Array.from({ length: nTerms }, (_, i) => 1 / (2 * i + 3))));
  const s2 = b.let(mul(s, K(x, 2)));
  const [hi, lo] = isF64(t) ? LN2_F64 : LN2_F32;
  let r = add(mul(ef, K(x, hi!)), add(add(s2, mul(s2, R)), mul(ef, K(x, lo!))));
  r = select(eq(x, K(x, Infinity)), K(x, Infinity), r);
  r = select(eq(x, K(x, 0)), K(x, -Infinity), r);
  return select(or(lt(x, K(x, 0)), ne(x, x)), K(x, NaN), r);
};

/** log(1 + x) by Kahan's trick (the rounding of 1 + x is compensated by x/(u − 1)); x finite. */
function log1p(b: Block, x: Expr): Expr {
  const u = b.let(add(K(x, 1), x));
  const d = b.let(sub(u, K(x, 1)));
  return select(eq(d, K(x, 0)), x, div(mul(log(b, u), x), d));
}

// ---- trigonometric (f64) ----

/**
 * Bits of 2/π as 64-bit words, the integer part (0) first: bit j of the sequence (MSB first) is the fraction
 * bit j − 63 of 2/π. Computed exactly at load time: π by Machin's formula in BigInt fixed point, then 2^1217/π.
 */
function twoOverPiWords(words: number): bigint[] {
  const GUARD = 64n, K = BigInt(words * 64) + GUARD;
  const one = 1n << K;
  const atanInv = (n: bigint): bigint => { // atan(1/n)·2^K by its series
    let sum = 0n, term = one / n, k = 0n;
    while (term !== 0n) { sum += (k % 2n ? -term : term) / (2n * k + 1n); term /= n * n; k++; }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const z = (1n << (BigInt(words * 64 - 63) + K)) / pi; // floor(2/π · 2^(64·words − 64))
  return Array.from({ length: words }, (_, i) => (z >> BigInt(64 * (words - 1 - i))) & 0xffffffffffffffffn);
}
const TWO_OVER_PI_WORDS = twoOverPiWords(20);
/** Beyond this |x| the Cody–Waite reduction by the four parts of π/2 is no longer exact (|k| < 2^26). */
const CODY_WAITE_LIMIT = 2 ** 26;

/**
 * Payne–Hanek reduction of a finite f64 with |x| ≥ 2^26: x·2/π mod 4 from a 192-bit window of the bits of
 * 2/π (the higher bits only add multiples of 4, the lower ones less than 2^-137), chosen by x's exponent.
 * Returns the quadrant (i64) and r = x − (4n + q)·π/2 ∈ [−π/4, π/4]; exact to ~2^-128 absolute before the
 * final rounding, which covers the closest approach of any double to a multiple of π/2 (about 2^-61).
 */
function reduceLarge(b: Block, x: Expr): { q: Expr; r: Expr } {
  const u: KType = { elem: 'u64', lanes: x.type.lanes };
  const U64 = (n: bigint | number) => ci(u, BigInt(n));
  const bits = b.let(bitcast(u, x));
  const m = b.let(or(and(bits, U64((1n << 52n) - 1n)), U64(1n << 52n))); // |x| = m·2^(e − 1075)
  // First window bit: fraction bit e − 1076 of 2/π (weight 2^1 once multiplied by m·2^(e−1075)), bit
  // e − 1013 of the sequence: at least 36 (e ≥ 1049) and at most 1033 (e ≤ 2046), so words up to 19 are read.
  const j0 = b.let(sub(and(shr(bits, U64(52)), U64(0x7ff)), U64(1076 - 63)));
  const w = b.let(shr(j0, U64(6)));
  const o = b.let(and(j0, U64(63)));
  const z = [0, 1, 2, 3].map(() => b.fresh());
  b.push(...z.map((name) => local(name, u, U64(0))));
  for (let k = 0; k + 3 < TWO_OVER_PI_WORDS.length; k++) {
    const at = b.let(eq(w, U64(k)));
    z.forEach((name, d) => b.push(assign(name, select(at, U64(TWO_OVER_PI_WORDS[k + d]!), v(name, u)))));
  }
  // Window word d: bits o.. of word w+d then the top o bits of word w+d+1 (>> 1 >> 63−o is right for o = 0).
  const window = [0, 1, 2].map((d) => b.let(or(shl(v(z[d]!, u), o),
    shr(shr(v(z[d + 1]!, u), U64(1)), sub(U64(63), o)))));
  // The low 192 bits of m·window, in three words r0 (most significant), r1, r2.
  const [w0, w1, w2] = window as [Expr, Expr, Expr];
  const lo1 = b.let(mul(m, w1));
  const r1 = b.let(add(lo1, mulhi64(b, m, w2)));
  const carry = select(lt(r1, lo1), U64(1), U64(0));
  const r0 = b.let(add(add(mul(m, w0), mulhi64(b, m, w1)), carry));
  const r2 = b.let(mul(m, w2));
  // Fraction f ∈ [−½, ½) as a signed 128-bit fixed-point number (fhi:flo)/2^128, rounding the quotient.
  const fhi = b.let(or(shl(r0, U64(2)), shr(r1, U64(62))));
  const flo = b.let(or(shl(r1, U64(2)), shr(r2, U64(62))));
  const negF = b.let(shr(fhi, U64(63)));
  const isNeg = b.let(eq(negF, U64(1)));
  const mlo = b.let(select(isNeg, sub(U64(0), flo), flo));
  const mhi = select(isNeg, add(xor(fhi, U64(0xffffffffffffffffn)), select(eq(flo, U64(0)), U64(1), U64(0))), fhi);
  const mag = add(mul(cast(x.type, mhi), K(x, 2 ** -64)), mul(cast(x.type, mlo), K(x, 2 ** -128)));
  const rAbs = b.let(mul(mag, K(x, Math.PI / 2)));
  const qAbs = b.let(and(add(shr(r0, U64(62)), negF), U64(3)));
  // x < 0: x·2/π = −(4n + q + f), so the quadrant is −q mod 4 and r is −r.
  const negX = b.let(signbit(x));
  const it = intOf(x.type);
  return {
    q: bitcast(it, select(negX, and(sub(U64(0), qAbs), U64(3)), qAbs)),
    r: select(negX, select(isNeg, rAbs, neg(rAbs)), select(isNeg, neg(rAbs), rAbs)),
  };
}

function trig(b: Block, x: Expr): { q: Expr; sinr: Expr; cosr: Expr } {
  const t = x.type;
  const it = intOf(t);
  const kf = b.let(un('round_even', mul(x, K(x, 2 / Math.PI))));
  let rFast = x;
  for (const part of PIO2_F64) rFast = b.let(sub(rFast, mul(kf, K(x, part))));
  const [rv, qv] = [b.fresh(), b.fresh()];
  b.push(local(rv, t, rFast), local(qv, it, and(cast(it, kf), ci(it, 3))));
  // Huge finite arguments take the exact reduction; the branch is taken when any lane needs it (±Inf and NaN
  // stay on the fast path, which gives NaN for them).
  const ax = b.let(abs(x));
  const big = b.let(and(ge(ax, K(x, CODY_WAITE_LIMIT)), lt(ax, K(x, Infinity))));
  const start = b.stmts.length;
  const large = reduceLarge(b, x);
  b.push(assign(rv, select(big, large.r, v(rv, t))), assign(qv, select(big, large.q, v(qv, it))));
  b.push(if_(anyLane(big, t), b.stmts.splice(start)));
  const r = v(rv, t), q = b.let(and(v(qv, it), ci(it, 3)));
  const z = b.let(mul(r, r));
  const sinC = Array.from({ length: 8 }, (_, i) => (i % 2 ? 1 : -1) / factorial(2 * i + 3));
  const cosC = Array.from({ length: 8 }, (_, i) => (i % 2 ? -1 : 1) / factorial(2 * i + 4));
  const sinr = b.let(add(r, mul(mul(r, z), poly(z, sinC))));
  const cosr = b.let(add(sub(K(x, 1), mul(z, K(x, 0.5))), mul(mul(z, z), poly(z, cosC))));
  return { q, sinr, cosr };
}
const quadrant = (q: Expr, n: number) => eq(q, ci(q.type, n));

export const sin: Gen1 = (b, x) => {
  const { q, sinr, cosr } = trig(b, x);
  return select(quadrant(q, 0), sinr, select(quadrant(q, 1), cosr, select(quadrant(q, 2), neg(sinr), neg(cosr))));
};
export const cos: Gen1 = (b, x) => {
  const { q, sinr, cosr } = trig(b, x);
  return select(quadrant(q, 0), cosr, select(quadrant(q, 1), neg(sinr), select(quadrant(q, 2), neg(cosr), sinr)));
};
export const tan: Gen1 = (b, x) => {
  const { q, sinr, cosr } = trig(b, x);
  return select(eq(and(q, ci(q.type, 1)), ci(q.type, 1)), neg(div(cosr, sinr)), div(sinr, cosr));
};

/** atan(t) for t ∈ [0, 1]. */
function atanUnit(b: Block, t: Expr): Expr {
  const half = (u: Expr) => b.let(div(u, add(K(u, 1), sqrt(add(K(u, 1), mul(u, u))))));
  const t2 = half(half(t));
  const z = b.let(mul(t2, t2));
  const coeffs = Array.from({ length: 13 }, (_, i) => (i % 2 ? -1 : 1) / (2 * i + 1));
  return mul(mul(t2, poly(z, coeffs)), K(t, 4));
}

export const atan2: Gen2 = (b, y, x) => {
  const ay = b.let(abs(y));
  const ax = b.let(abs(x));
  const mx = b.let(max(ax, ay));
  const mn = min(ax, ay);
  const bothInf = and(eq(ax, K(x, Infinity)), eq(ay, K(x, Infinity)));
  const t = b.let(select(bothInf, K(x, 1), select(eq(mx, K(x, 0)), K(x, 0), div(mn, mx))));
  let r = b.let(atanUnit(b, t));
  r = b.let(select(gt(ay, ax), sub(K(x, Math.PI / 2), r), r));
  r = select(signbit(x), sub(K(x, Math.PI), r), r);
  return copysign(r, y);
};
export const atan: Gen1 = (b, x) => atan2(b, x, K(x, 1));
const oneMinusSq = (b: Block, x: Expr) => b.let(sqrt(mul(sub(K(x, 1), x), add(K(x, 1), x))));
export const asin: Gen1 = (b, x) => atan2(b, x, oneMinusSq(b, x));
export const acos: Gen1 = (b, x) => atan2(b, oneMinusSq(b, x), x);

// ---- hyperbolic ----

export const sinh: Gen1 = (b, x) => {
  const a = b.let(abs(x));
  const em = b.let(expm1(b, min(a, K(x, 1))));
  const small = mul(K(x, 0.5), add(em, div(em, add(em, K(x, 1)))));
  const e = b.let(exp(b, sub(a, K(x, Math.LN2))));
  return copysign(select(lt(a, K(x, 1)), small, sub(e, div(K(x, 0.25), e))), x);
};
export const cosh: Gen1 = (b, x) => {
  const e = b.let(exp(b, sub(abs(x), K(x, Math.LN2))));
  return add(e, div(K(x, 0.25), e));
};
const BIG = 2 ** 28;
export const asinh: Gen1 = (b, x) => {
  const a = b.let(abs(x));
  const a2 = b.let(mul(a, a));
  const small = log1p(b, add(a, div(a2, add(K(x, 1), sqrt(add(K(x, 1), a2))))));
  const large = add(log(b, a), K(x, Math.LN2));
  return copysign(select(gt(a, K(x, BIG)), large, small), x);
};
export const acosh: Gen1 = (b, x) => {
  const t = b.let(sub(x, K(x, 1)));
  const small = log1p(b, add(t, sqrt(add(mul(t, K(x, 2)), mul(t, t)))));
  const large = add(log(b, x), K(x, Math.LN2));
  return select(lt(x, K(x, 1)), K(x, NaN), select(gt(x, K(x, BIG)), large, small));
};
export const atanh: Gen1 = (b, x) => {
  const a = b.let(abs(x));
  const r = mul(K(x, 0.5), log1p(b, div(mul(a, K(x, 2)), sub(K(x, 1), a))));
  return copysign(select(eq(a, K(x, 1)), K(x, Infinity), r), x);
};

// ---- erf ----

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

function erfF64(b: Block, x: Expr): Expr {
  const t = x.type;
  const a = b.let(abs(x));
  const z = b.let(mul(a, a));
  const z2 = b.let(mul(z, K(x, 2)));
  const term = b.fresh();
  const sum = b.fresh();
  const n = b.fresh();
  b.push(local(term, t, a), local(sum, t, a),
    loop(n, 0, 110, [
      assign(term, div(mul(v(term, t), z2), add(mul(cast('f64', v(n)), c(2, 'f64')), c(3, 'f64')))),
      assign(sum, add(v(sum, t), v(term, t))),
    ]));
  const r = mul(mul(K(x, TWO_OVER_SQRT_PI), exp(b, neg(z))), v(sum, t));
  return copysign(select(ge(a, K(x, 6)), K(x, 1), r), x);
}

/** erfc(x)·e^{x²} for x ≥ 1 in double precision (continued fraction); used only to fit coefficients. */
export function erfcxReference(x: number): number {
  let f = x;
  for (let k = 1000; k >= 1; k--) f = x + k / 2 / f;
  return 1 / (Math.sqrt(Math.PI) * f);
}
/** Chebyshev coefficients of f on [lo, hi] (c0 is the constant term), by interpolation at Chebyshev nodes. */
export function chebyshevFit(f: (x: number) => number, lo: number, hi: number, degree: number): number[] {
  const n = degree + 1;
  const fx = Array.from({ length: n }, (_, k) => f((lo + hi) / 2 + ((hi - lo) / 2) * Math.cos((Math.PI * (k + 0.5)) / n)));
  return Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let k = 0; k < n; k++) s += fx[k]! * Math.cos((Math.PI * j * (k + 0.5)) / n);
    return ((j === 0 ? 1 : 2) / n) * s; // the constant term already carries its ½
  });
}
const ERFCX_LO = 1, ERFCX_HI = 4;
const ERFCX_CHEB = chebyshevFit(erfcxReference, ERFCX_LO, ERFCX_HI, 18);
const ERF_TAYLOR = Array.from({ length: 11 }, (_, n) => (TWO_OVER_SQRT_PI * (n % 2 ? -1 : 1)) / (factorial(n) * (2 * n + 1)));

function clenshaw(b: Block, t: Expr, coeffs: number[]): Expr {
  let b1: Expr = K(t, 0), b2: Expr = K(t, 0);
  const t2 = b.let(mul(t, K(t, 2)));
  for (let k = coeffs.length - 1; k >= 1; k--) {
    const bk = b.let(add(sub(mul(t2, b1), b2), K(t, coeffs[k]!)));
    b2 = b1; b1 = bk;
  }
  return add(sub(mul(t, b1), b2), K(t, coeffs[0]!));
}

function erfF32(b: Block, x: Expr): Expr {
  const a = b.let(abs(x));
  const z = b.let(mul(a, a));
  const inner = mul(a, poly(z, ERF_TAYLOR));
  const t = b.let(div(sub(mul(a, K(x, 2)), K(x, ERFCX_LO + ERFCX_HI)), K(x, ERFCX_HI - ERFCX_LO)));
  const outer = sub(K(x, 1), mul(exp(b, neg(z)), clenshaw(b, t, ERFCX_CHEB)));
  const r = copysign(select(lt(a, K(x, ERFCX_LO)), inner, select(lt(a, K(x, ERFCX_HI)), outer, K(x, 1))), x);
  return select(ne(x, x), x, r);
}
export const erf: Gen1 = (b, x) => (isF64(x.type) ? erfF64(b, x) : erfF32(b, x));

// ---- pow, fmod ----

export const pow: Gen2 = (b, x, y) => {
  const ax = b.let(abs(x));
  const e = b.let(exp(b, mul(y, log(b, ax))));
  const ty = b.let(un('trunc', y));
  const yInt = b.let(eq(ty, y));
  const half = un('trunc', mul(y, K(y, 0.5)));
  const yOdd = b.let(and(yInt, ne(mul(half, K(y, 2)), y)));
  let r = select(and(yOdd, signbit(x)), neg(e), e);
  r = select(and(and(lt(x, K(x, 0)), xor(yInt, c(1, { elem: 'bool', lanes: x.type.lanes }))), ne(ax, K(x, Infinity))), K(x, NaN), r);
  // JS Math.pow semantics (the interpreter's): x^0 = 1 even for NaN; 1^±Inf and 1^NaN are NaN.
  return select(eq(y, K(y, 0)), K(x, 1), r);
};

/** Veltkamp split of an f64 into two halves whose products are exact. */
function split(b: Block, x: Expr): [Expr, Expr] {
  const t = b.let(mul(x, K(x, 134217729)));
  const hi = b.let(sub(t, sub(t, x)));
  return [hi, b.let(sub(x, hi))];
}
/**
 * C fmod (the remainder has the dividend's sign; f64 only — f32 comes here promoted): a − b·q with
 * q = trunc(a/b), the product kept exact as p + e (Dekker), then q corrected by one when a/b rounded across
 * an integer; NaN for b = 0 or infinite a; a for infinite b. That is exact while |a/b| < 2^53 and the
 * Veltkamp splits neither overflow nor underflow; the other finite cases (|a| ≥ |b|·2^52, and |a| ≥ |b| with
 * |b| tiny or |a| huge) take the exact integer reduction, fmodWide.
 */
export const fmod: Gen2 = (b, x, y) => {
  const q = b.let(un('trunc', div(x, y)));
  const [yh, yl] = split(b, y), [qh, ql] = split(b, q);
  const p = b.let(mul(y, q));
  const e = add(add(add(sub(mul(yh, qh), p), mul(yh, ql)), mul(yl, qh)), mul(yl, ql));
  const r0 = b.let(sub(sub(x, p), e));
  const r = b.let(select(eq(un('abs', y), K(y, Infinity)), x, r0));
  const step = b.let(copysign(y, x)); // |b| with a's sign
  const r1 = b.let(select(and(ne(r, K(r, 0)), ne(signbit(r), signbit(x))), add(r, step), r));
  const ax = b.let(abs(x)), ay = b.let(abs(y));
  const res = b.fresh();
  b.push(local(res, x.type, select(lt(ax, ay), x, select(ge(un('abs', r1), ay), sub(r1, step), r1))));
  const finite = and(lt(ax, K(x, Infinity)), and(gt(ay, K(y, 0)), lt(ay, K(y, Infinity))));
  const outOfRange = or(ge(ax, mul(ay, K(y, 2 ** 52))), or(lt(ay, K(y, 2 ** -900)), gt(ax, K(x, 2 ** 960))));
  const wide = b.let(and(and(finite, ge(ax, ay)), outOfRange));
  const start = b.stmts.length;
  b.push(assign(res, select(wide, fmodWide(b, x, y, wide), v(res, x.type))));
  b.push(if_(anyLane(wide, x.type), b.stmts.splice(start)));
  return copysign(v(res, x.type), x); // a zero remainder too has the dividend's sign
};

/** A scalar bool: whether any lane of cond is true. */
function anyLane(cond: Expr, t: KType): Expr {
  return t.lanes === 1 ? cond : gt(reduceLanes('max', select(cond, c(1, t), c(0, t))), c(0, t.elem));
}

/**
 * |fmod| of finite f64s with |x| ≥ |y| > 0, exactly (lanes where `active` is false give garbage): with integer
 * mantissas, x = mx·2^(ex−1075) and y = my·2^(ey−1075), so x mod y = 2^(ey−1075)·((mx·2^(ex−ey)) mod my),
 * reduced 11 bits of the exponent difference at a time (r < my ≤ 2^53, so r·2^11 fits in 64 bits).
 */
function fmodWide(b: Block, x: Expr, y: Expr, active: Expr): Expr {
  const u: KType = { elem: 'u64', lanes: x.type.lanes }, it = intOf(x.type);
  const U64 = (n: bigint | number) => ci(u, BigInt(n));
  const parts = (z: Expr): [Expr, Expr] => {
    const bits = b.let(bitcast(u, z));
    const ex = b.let(and(shr(bits, U64(52)), U64(0x7ff)));
    const mant = and(bits, U64((1n << 52n) - 1n));
    const normal = b.let(ne(ex, U64(0)));
    return [b.let(select(normal, or(mant, U64(1n << 52n)), mant)), b.let(select(normal, ex, U64(1)))];
  };
  const [mx, ex] = parts(x), [my0, ey] = parts(y);
  const my = b.let(select(active, my0, U64(1))); // no integer division by zero in the lanes left alone
  const [r, d, i] = [b.fresh(), b.fresh(), b.fresh()];
  b.push(local(r, u, bin('mod', mx, my)), local(d, u, select(active, sub(ex, ey), U64(0))));
  // Trips: ⌈max d / 11⌉ over the lanes (d ≤ 2045).
  let dMax: Expr = x.type.lanes === 1 ? v(d, u) : extract(v(d, u), 0);
  for (let lane = 1; lane < x.type.lanes; lane++) dMax = max(dMax, extract(v(d, u), lane));
  const trips = cast('i32', div(add(dMax, ci(dMax.type, 10)), ci(dMax.type, 11)));
  const s = b.fresh();
  b.push(loop(i, 0, trips, [
    let_(s, select(lt(v(d, u), U64(11)), v(d, u), U64(11))),
    assign(r, bin('mod', shl(v(r, u), v(s, u)), my)),
    assign(d, sub(v(d, u), v(s, u))),
  ]));
  const k = b.let(sub(bitcast(it, ey), ci(it, 1075))); // the result is r·2^k, exactly representable
  const k1 = b.let(shr(k, ci(it, 1)));
  return mul(mul(cast(x.type, v(r, u)), pow2(k1, x.type)), pow2(sub(k, k1), x.type));
}
/** Python-style modulo: the remainder has the divisor's sign. */
export const floormodFloat: Gen2 = (b, x, y) => {
  const r = b.let(fmod(b, x, y));
  const adj = and(ne(r, K(r, 0)), xor(lt(r, K(r, 0)), lt(y, K(y, 0))));
  return select(adj, add(r, y), r);
};

export const UNARY_MATH: Record<string, Gen1> = { exp, log, tanh, erf, sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh };
export const BINARY_MATH: Record<string, Gen2> = { pow, atan2, mod: fmod, floormod: floormodFloat };
/** Math with a native f32 implementation (the rest of f32 math is computed in f64). */
export const F32_NATIVE = new Set(['exp', 'log', 'tanh', 'erf']);

// ---- f16 / bf16 (scalar, on u32 bit patterns; Giesen's branch-free conversions, round to nearest even) ----

const U = (n: number) => c(n >>> 0, 'u32');
export const f16ToF32: Gen1 = (b, h) => {
  const o = b.let(shl(and(h, U(0x7fff)), U(13)));
  const e = b.let(and(o, U(0x7c00 << 13)));
  const o1 = b.let(add(o, U((127 - 15) << 23)));
  const inf = add(o1, U((128 - 16) << 23));
  const subn = bitcast('u32', sub(bitcast('f32', add(o1, U(1 << 23))), bitcast('f32', U(113 << 23))));
  const r = select(eq(e, U(0x7c00 << 13)), inf, select(eq(e, U(0)), subn, o1));
  return bitcast('f32', or(r, shl(and(h, U(0x8000)), U(16))));
};
export const f32ToF16: Gen1 = (b, f) => {
  const u = b.let(bitcast('u32', f));
  const sign = b.let(and(u, U(0x80000000)));
  const a = b.let(xor(u, sign));
  const caseMax = select(gt(a, U(0x7f800000)), U(0x7e00), U(0x7c00));
  const magic = (126 << 23) >>> 0;
  const caseSub = sub(bitcast('u32', add(bitcast('f32', a), bitcast('f32', U(magic)))), U(magic));
  const odd = and(shr(a, U(13)), U(1));
  const caseNorm = shr(add(add(a, U(((15 - 127) << 23) + 0xfff)), odd), U(13));
  const r = select(ge(a, U((127 + 16) << 23)), caseMax, select(lt(a, U(113 << 23)), caseSub, caseNorm));
  return or(r, shr(sign, U(16)));
};
export const bf16ToF32: Gen1 = (_b, h) => bitcast('f32', shl(h, U(16)));
export const f32ToBf16: Gen1 = (b, f) => {
  const u = b.let(bitcast('u32', f));
  const rounded = shr(add(add(u, U(0x7fff)), and(shr(u, U(16)), U(1))), U(16));
  return select(gt(and(u, U(0x7fffffff)), U(0x7f800000)), or(shr(u, U(16)), U(0x40)), rounded);
};

// ---- integers ----

/** Python-style floor division and modulo for signed integers, on top of the IR's truncating div/mod. */
export const floordivInt: Gen2 = (b, x, y) => {
  const q = b.let({ kind: 'binary', type: x.type, op: 'div', a: x, b: y });
  const r = b.let({ kind: 'binary', type: x.type, op: 'mod', a: x, b: y });
  const zero = c(0, x.type);
  const adj = and(ne(r, zero), xor(lt(r, zero), lt(y, zero)));
  return select(adj, sub(q, c(1, x.type)), q);
};
export const floormodInt: Gen2 = (b, x, y) => {
  const r = b.let({ kind: 'binary', type: x.type, op: 'mod', a: x, b: y });
  const zero = c(0, x.type);
  const adj = and(ne(r, zero), xor(lt(r, zero), lt(y, zero)));
  return select(adj, add(r, y), r);
};

/** Integer power by squaring (wrapping); negative exponents give 1/x truncated: ±1 stay, others 0. */
export const powInt: Gen2 = (b, x, y) => {
  const t = x.type;
  const bits = t.elem === 'i64' || t.elem === 'u64' ? 64 : 32;
  const [r, base, e, i] = [b.fresh(), b.fresh(), b.fresh(), b.fresh()];
  const one = ci(t, 1), zero = ci(t, 0);
  const ut: KType = { elem: bits === 64 ? 'u64' : 'u32', lanes: 1 };
  b.push(local(r, t, one), local(base, t, x), local(e, ut, cast(ut, y)),
    loop(i, 0, bits, [
      assign(r, select(ne(and(v(e, ut), ci(ut, 1)), ci(ut, 0)), mul(v(r, t), v(base, t)), v(r, t))),
      assign(base, mul(v(base, t), v(base, t))),
      assign(e, shr(v(e, ut), ci(ut, 1))),
    ]));
  if (t.elem.startsWith('u')) return v(r, t);
  const negOdd = select(ne(and(y, ci(t, 1)), zero), ci(t, -1), one);
  const negative = select(eq(x, one), one, select(eq(x, ci(t, -1)), negOdd, zero));
  return select(lt(y, zero), negative, v(r, t));
};

/** High 64 bits of the 128-bit product (u64 schoolbook on 32-bit halves; i64 by sign correction). */
export const mulhi64: Gen2 = (b, x, y) => {
  const u: KType = { elem: 'u64', lanes: x.type.lanes };
  const a = b.let(bitcast(u, x)), d = b.let(bitcast(u, y));
  const M = ci(u, 0xffffffffn), S = ci(u, 32n);
  const al = b.let(and(a, M)), ah = b.let(shr(a, S)), bl = b.let(and(d, M)), bh = b.let(shr(d, S));
  const lh = b.let(mul(al, bh)), hl = b.let(mul(ah, bl));
  const mid = b.let(add(add(shr(mul(al, bl), S), and(lh, M)), and(hl, M)));
  let hi = b.let(add(add(add(mul(ah, bh), shr(lh, S)), shr(hl, S)), shr(mid, S)));
  if (x.type.elem === 'i64') {
    const zero = ci(u, 0n);
    hi = sub(sub(hi, select(signbitInt(x), d, zero)), select(signbitInt(y), a, zero));
  }
  return bitcast(x.type, hi);
};
const signbitInt = (x: Expr) => lt(x, ci(x.type, 0));

/** Packed 4×8-bit dot product of two 32-bit words (unsigned or signed bytes), on scalars. */
export function dot4(signed: boolean): Gen2 {
  return (b, x, y) => {
    const w: TypeLike = signed ? 'i32' : 'u32';
    const a = b.let(bitcast(w, x)), d = b.let(bitcast(w, y));
    let s: Expr = c(0, w);
    for (let i = 0; i < 4; i++) {
      const byte = (z: Expr) => (signed
        ? shr(shl(z, c(24 - 8 * i, w)), c(24, w))
        : and(shr(z, c(8 * i, w)), c(255, w)));
      s = add(s, mul(byte(a), byte(d)));
    }
    return s;
  };
}
