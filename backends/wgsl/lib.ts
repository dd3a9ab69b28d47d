// The WGSL helper functions the generic emitter (emit.ts) calls where WGSL lacks an operation of the kernel IR
// or gives it other semantics: 64-bit integers on vec2<u32> (lo, hi), f16/bf16 rounding on f32 bits,
// saturating float → integer conversions with NaN → 0, NaN-propagating min/max that order −0 < +0, exact
// fmod, and sin/cos/tan with an exact (Payne–Hanek) argument reduction. A shader carries only the helpers it
// uses (`helperSource` closes over their dependencies), so most kernels carry none.
//
// Boolean operators are the non-short-circuit `|` and `&`: `||` and `&&` are branches in WGSL, and many small
// branches make SwiftShader's shader compilation time explode.
// Why bit manipulation rather than builtins: WGSL's min/max need not propagate NaN or order zeros, its float →
// integer conversion clamps at the largest f32 below 2^31 and gives MIN for NaN (measured on SwiftShader),
// `!=` on floats is an ordered comparison there, and pack2x16float's rounding is not specified.
// Constants that are NaN or ±Inf come from tz_f32(bits): WGSL rejects a const-expression whose value is not
// finite, and a call of a user function is never a const-expression.
import { TesseraError } from '../../ir/errors.ts';

interface Helper { deps: string[]; code: string }

/** 2/π as 32-bit words, bit j of the sequence (MSB first) being fraction bit j − 32 (so word 0 is zero). */
function twoOverPiWords(words: number): number[] {
  const K = BigInt(words * 32 + 64);
  const one = 1n << K;
  const atanInv = (n: bigint): bigint => {
    let sum = 0n, term = one / n, k = 0n;
    while (term !== 0n) { sum += (k % 2n ? -term : term) / (2n * k + 1n); term /= n * n; k++; }
    return sum;
  };
  const pi = 16n * atanInv(5n) - 4n * atanInv(239n);
  const z = (1n << (BigInt(words * 32 - 32) + K + 1n)) / pi; // floor(2/π · 2^(32·words − 32))
  return Array.from({ length: words }, (_, i) => Number((z >> BigInt(32 * (words - 1 - i))) & 0xffffffffn));
}

/** π/2 split in three f32 parts of 12, 12 and 24 significant bits (k·part exact for |k| < 2^12). */
function pio2Parts(): number[] {
  const PIO2_DEC = '1.570796326794896619231321691639751442098584699687552910487472296153908203143104499314017412671058534';
  const [ip, fp] = PIO2_DEC.split('.') as [string, string];
  const FRAC = 300n;
  let x = (BigInt(ip + fp) << FRAC) / 10n ** BigInt(fp.length);
  return [12, 12, 24].map((w) => {
    const len = x.toString(2).length;
    const shift = Math.max(0, len - w);
    const top = x >> BigInt(shift);
    x -= top << BigInt(shift);
    return Math.fround(Number(top) * 2 ** (shift - Number(FRAC)));
  });
}

/** An f32 constant as a WGSL literal (finite values only). */
export function f32Literal(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`internal: f32Literal(${x})`);
  if (Object.is(x, -0)) return '-0.0f';
  let s = String(x);
  if (!/[.e]/.test(s)) s += '.0';
  return `${s}f`;
}

const [PIO2_1, PIO2_2, PIO2_3] = pio2Parts() as [number, number, number];
const TWO_OVER_PI = twoOverPiWords(10);

const H: Record<string, Helper> = {
  tz_f32: { deps: [], code: 'fn tz_f32(b: u32) -> f32 { return bitcast<f32>(b); }' },
  tz_isnan: { deps: [], code: 'fn tz_isnan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }' },
  tz_isinf: { deps: [], code: 'fn tz_isinf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }' },
  // min/max: NaN if either is NaN; on equal operands (±0) the OR of the bits is the min, the AND the max; else
  // the builtin. (Nested selects of the operands instead make SwiftShader's compile time explode in chains.)
  tz_fmin: {
    deps: [],
    code: `fn tz_fmin(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let nan = ((ua & 0x7fffffffu) > 0x7f800000u) | ((ub & 0x7fffffffu) > 0x7f800000u);
  return select(select(min(a, b), bitcast<f32>(ua | ub), a == b), bitcast<f32>(0x7fc00000u | ua), nan);
}`,
  },
  tz_fmax: {
    deps: [],
    code: `fn tz_fmax(a: f32, b: f32) -> f32 {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let nan = ((ua & 0x7fffffffu) > 0x7f800000u) | ((ub & 0x7fffffffu) > 0x7f800000u);
  return select(select(max(a, b), bitcast<f32>(ua & ub), a == b), bitcast<f32>(0x7fc00000u | ua), nan);
}`,
  },
  // sign: ±1, or the value itself for ±0 and NaN.
  tz_fsign: { deps: [], code: 'fn tz_fsign(x: f32) -> f32 { return select(select(x, -1.0f, x < 0.0f), 1.0f, x > 0.0f); }' },
  // Rounds an f32 to the nearest f16 value (ties to even), kept as an f32: normal results by integer rounding of
  // the bits (a carry into the exponent is right), overflow to ±Inf, subnormal results as multiples of 2^-24.
  tz_rf16: {
    deps: [],
    code: `fn tz_rf16(x: f32) -> f32 {
  let u = bitcast<u32>(x);
  let a = u & 0x7fffffffu;
  let s = u & 0x80000000u;
  if (a >= 0x7f800000u) { return x; }
  if (a >= 0x38800000u) {
    let r = (a + 0xfffu + ((a >> 13u) & 1u)) & 0xffffe000u;
    return bitcast<f32>(s | select(r, 0x7f800000u, r >= 0x47800000u));
  }
  let e = max(a >> 23u, 1u);
  let m = (a & 0x7fffffu) | select(0u, 0x800000u, a >= 0x800000u);
  let d = min(126u - e, 25u);
  let k = (m + (1u << (d - 1u)) - 1u + ((m >> d) & 1u)) >> d;
  return bitcast<f32>(s | bitcast<u32>(f32(k) * 5.9604644775390625e-8f));
}`,
  },
  // Rounds an f32 to the nearest bf16 value (ties to even; bf16 has f32's exponent range).
  tz_rbf16: {
    deps: [],
    code: `fn tz_rbf16(x: f32) -> f32 {
  let u = bitcast<u32>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) { return x; }
  return bitcast<f32>((u + 0x7fffu + ((u >> 16u) & 1u)) & 0xffff0000u);
}`,
  },
  // The bits of an f16 value held in an f32, and back.
  tz_f16bits: {
    deps: [],
    code: `fn tz_f16bits(x: f32) -> u32 {
  let u = bitcast<u32>(x);
  let s = (u >> 16u) & 0x8000u;
  let a = u & 0x7fffffffu;
  if (a > 0x7f800000u) { return s | 0x7e00u; }
  if (a >= 0x47800000u) { return s | 0x7c00u; }
  if (a >= 0x38800000u) { return s | ((a - 0x38000000u) >> 13u); }
  return s | u32(bitcast<f32>(a) * 16777216.0f);
}`,
  },
  tz_f16val: {
    deps: [],
    code: `fn tz_f16val(h: u32) -> f32 {
  let s = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 0x1fu) { return bitcast<f32>(s | 0x7f800000u | (m << 13u)); }
  if (e == 0u) { return bitcast<f32>(s | bitcast<u32>(f32(m) * 5.9604644775390625e-8f)); }
  return bitcast<f32>(s | ((e + 112u) << 23u) | (m << 13u));
}`,
  },
  // Float → integer: truncate toward zero, saturate, NaN → 0.
  tz_f2i: {
    deps: ['tz_isnan'],
    code: `fn tz_f2i(x: f32) -> i32 {
  if (tz_isnan(x)) { return 0i; }
  if (x >= 2147483648.0f) { return 2147483647i; }
  if (x <= -2147483648.0f) { return i32(-2147483648); }
  return i32(x);
}`,
  },
  tz_f2u: {
    deps: ['tz_isnan'],
    code: `fn tz_f2u(x: f32) -> u32 {
  if (tz_isnan(x) | (x <= 0.0f)) { return 0u; }
  if (x >= 4294967296.0f) { return 0xffffffffu; }
  return u32(x);
}`,
  },
  // |x| < 2^64 truncated to an integer, as (lo, hi): hi = ⌊t / 2^32⌋ and t − hi·2^32 are exact in f32.
  tz_f2u64mag: {
    deps: [],
    code: `fn tz_f2u64mag(a: f32) -> vec2<u32> {
  let t = trunc(a);
  let hi = floor(t * 2.3283064365386963e-10f);
  return vec2<u32>(u32(t - hi * 4294967296.0f), u32(hi));
}`,
  },
  tz_f2i64: {
    deps: ['tz_isnan', 'tz_f2u64mag', 'tz_neg64'],
    code: `fn tz_f2i64(x: f32) -> vec2<u32> {
  if (tz_isnan(x)) { return vec2<u32>(0u, 0u); }
  if (x >= 9223372036854775808.0f) { return vec2<u32>(0xffffffffu, 0x7fffffffu); }
  if (x <= -9223372036854775808.0f) { return vec2<u32>(0u, 0x80000000u); }
  let m = tz_f2u64mag(abs(x));
  return select(m, tz_neg64(m), x < 0.0f);
}`,
  },
  tz_f2u64: {
    deps: ['tz_isnan', 'tz_f2u64mag'],
    code: `fn tz_f2u64(x: f32) -> vec2<u32> {
  if (tz_isnan(x) | (x <= 0.0f)) { return vec2<u32>(0u, 0u); }
  if (x >= 18446744073709551616.0f) { return vec2<u32>(0xffffffffu, 0xffffffffu); }
  return tz_f2u64mag(x);
}`,
  },
  // u32 → f32 rounded to nearest even: SwiftShader's f32(u32) truncates above 2^31, so those go through i32 with
  // the dropped bit OR-ed into the last (rounding to odd at 31 bits), then an exact doubling.
  tz_u2f: {
    deps: [],
    code: `fn tz_u2f(x: u32) -> f32 {
  if (x < 0x80000000u) { return f32(bitcast<i32>(x)); }
  return f32(bitcast<i32>((x >> 1u) | (x & 1u))) * 2.0f;
}`,
  },
  // u32 → f32 rounded to odd (truncated, the last bit set when inexact): a later rounding to f16/bf16 is then
  // correctly rounded (no double rounding).
  tz_u32odd: {
    deps: [],
    code: `fn tz_u32odd(x: u32) -> f32 {
  let n = 32u - countLeadingZeros(x);
  if (n <= 24u) { return f32(x); }
  let sh = n - 24u;
  let t = (x >> sh) | select(0u, 1u, (x & ((1u << sh) - 1u)) != 0u);
  return ldexp(f32(t), i32(sh));
}`,
  },
  tz_i32odd: {
    deps: ['tz_u32odd'],
    code: `fn tz_i32odd(x: i32) -> f32 {
  let u = bitcast<u32>(x);
  let r = tz_u32odd(select(u, 0u - u, x < 0i));
  return select(r, -r, x < 0i);
}`,
  },
  // u64 → f32: the top 32 bits with the dropped ones OR-ed into the last (round to odd at 32 bits), then one
  // rounding to 24 bits (round to nearest even, or to odd again for a later f16/bf16 rounding).
  tz_u64top: {
    deps: [],
    code: `fn tz_u64top(m: vec2<u32>) -> vec2<u32> {
  let n = 32u - countLeadingZeros(m.y);
  let top = select((m.y << (32u - n)) | (m.x >> n), m.y, n == 32u);
  let low = select(m.x << (32u - n), m.x, n == 32u);
  return vec2<u32>(top | select(0u, 1u, low != 0u), n);
}`,
  },
  tz_u64f: {
    deps: ['tz_u64top', 'tz_u2f'],
    code: `fn tz_u64f(m: vec2<u32>) -> f32 {
  if (m.y == 0u) { return tz_u2f(m.x); }
  let t = tz_u64top(m);
  return ldexp(tz_u2f(t.x), i32(t.y));
}`,
  },
  tz_u64odd: {
    deps: ['tz_u64top', 'tz_u32odd'],
    code: `fn tz_u64odd(m: vec2<u32>) -> f32 {
  if (m.y == 0u) { return tz_u32odd(m.x); }
  let t = tz_u64top(m);
  return ldexp(tz_u32odd(t.x), i32(t.y));
}`,
  },
  tz_i64f: {
    deps: ['tz_u64f', 'tz_neg64'],
    code: `fn tz_i64f(m: vec2<u32>) -> f32 {
  let neg = (m.y >> 31u) != 0u;
  let r = tz_u64f(select(m, tz_neg64(m), neg));
  return select(r, -r, neg);
}`,
  },
  tz_i64odd: {
    deps: ['tz_u64odd', 'tz_neg64'],
    code: `fn tz_i64odd(m: vec2<u32>) -> f32 {
  let neg = (m.y >> 31u) != 0u;
  let r = tz_u64odd(select(m, tz_neg64(m), neg));
  return select(r, -r, neg);
}`,
  },
  // ---- 64-bit integers as vec2<u32>(lo, hi), two's complement ----
  tz_add64: {
    deps: [],
    code: `fn tz_add64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}`,
  },
  tz_sub64: {
    deps: [],
    code: `fn tz_sub64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}`,
  },
  tz_neg64: { deps: ['tz_sub64'], code: 'fn tz_neg64(a: vec2<u32>) -> vec2<u32> { return tz_sub64(vec2<u32>(0u, 0u), a); }' },
  // The 64-bit product of two u32, from 16-bit halves.
  tz_mulw: {
    deps: [],
    code: `fn tz_mulw(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}`,
  },
  tz_mul64: {
    deps: ['tz_mulw'],
    code: `fn tz_mul64(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let p = tz_mulw(a.x, b.x);
  return vec2<u32>(p.x, p.y + a.x * b.y + a.y * b.x);
}`,
  },
  tz_mulhi_u32: { deps: ['tz_mulw'], code: 'fn tz_mulhi_u32(a: u32, b: u32) -> u32 { return tz_mulw(a, b).y; }' },
  // Signed high word: the unsigned one less b when a < 0 and less a when b < 0 (mod 2^32).
  tz_mulhi_i32: {
    deps: ['tz_mulw'],
    code: `fn tz_mulhi_i32(a: i32, b: i32) -> i32 {
  let ua = bitcast<u32>(a); let ub = bitcast<u32>(b);
  return bitcast<i32>(tz_mulw(ua, ub).y - select(0u, ub, a < 0i) - select(0u, ua, b < 0i));
}`,
  },
  tz_shl64: {
    deps: [],
    code: `fn tz_shl64(a: vec2<u32>, n: u32) -> vec2<u32> {
  let s = n & 63u;
  if (s == 0u) { return a; }
  if (s < 32u) { return vec2<u32>(a.x << s, (a.y << s) | (a.x >> (32u - s))); }
  return vec2<u32>(0u, a.x << (s - 32u));
}`,
  },
  tz_shr64u: {
    deps: [],
    code: `fn tz_shr64u(a: vec2<u32>, n: u32) -> vec2<u32> {
  let s = n & 63u;
  if (s == 0u) { return a; }
  if (s < 32u) { return vec2<u32>((a.x >> s) | (a.y << (32u - s)), a.y >> s); }
  return vec2<u32>(a.y >> (s - 32u), 0u);
}`,
  },
  tz_shr64s: {
    deps: [],
    code: `fn tz_shr64s(a: vec2<u32>, n: u32) -> vec2<u32> {
  let s = n & 63u;
  let h = bitcast<i32>(a.y);
  if (s == 0u) { return a; }
  if (s < 32u) { return vec2<u32>((a.x >> s) | (a.y << (32u - s)), bitcast<u32>(h >> s)); }
  return vec2<u32>(bitcast<u32>(h >> (s - 32u)), bitcast<u32>(h >> 31u));
}`,
  },
  tz_ltu64: { deps: [], code: 'fn tz_ltu64(a: vec2<u32>, b: vec2<u32>) -> bool { return (a.y < b.y) | ((a.y == b.y) & (a.x < b.x)); }' },
  tz_lts64: {
    deps: [],
    code: `fn tz_lts64(a: vec2<u32>, b: vec2<u32>) -> bool {
  let ha = bitcast<i32>(a.y); let hb = bitcast<i32>(b.y);
  return (ha < hb) | ((ha == hb) & (a.x < b.x));
}`,
  },
  tz_qr64: { deps: [], code: 'struct tz_qr64 { q: vec2<u32>, r: vec2<u32> }' },
  // Unsigned 64-bit division with remainder: 32-bit when both fit, else restoring long division (64 steps; a
  // remainder that overflows the shift is still above the divisor). A zero divisor gives some value, no hang.
  tz_udivmod64: {
    deps: ['tz_qr64', 'tz_shl64', 'tz_ltu64', 'tz_sub64'],
    code: `fn tz_udivmod64(n: vec2<u32>, d: vec2<u32>) -> tz_qr64 {
  if ((n.y | d.y) == 0u) {
    if (d.x == 0u) { return tz_qr64(vec2<u32>(0u, 0u), n); }
    return tz_qr64(vec2<u32>(n.x / d.x, 0u), vec2<u32>(n.x % d.x, 0u));
  }
  var q = vec2<u32>(0u, 0u);
  var r = vec2<u32>(0u, 0u);
  for (var i = 63u; ; i = i - 1u) {
    let carry = r.y >> 31u;
    r = tz_shl64(r, 1u);
    r.x = r.x | (select(n.x >> i, n.y >> (i - 32u), i >= 32u) & 1u);
    if ((carry != 0u) | !tz_ltu64(r, d)) {
      r = tz_sub64(r, d);
      if (i >= 32u) { q.y = q.y | (1u << (i - 32u)); } else { q.x = q.x | (1u << i); }
    }
    if (i == 0u) { break; }
  }
  return tz_qr64(q, r);
}`,
  },
  // Signed: on magnitudes; the quotient negative when the signs differ, the remainder with the dividend's sign.
  tz_sdivmod64: {
    deps: ['tz_udivmod64', 'tz_neg64'],
    code: `fn tz_sdivmod64(a: vec2<u32>, b: vec2<u32>) -> tz_qr64 {
  let na = (a.y >> 31u) != 0u;
  let nb = (b.y >> 31u) != 0u;
  let m = tz_udivmod64(select(a, tz_neg64(a), na), select(b, tz_neg64(b), nb));
  return tz_qr64(select(m.q, tz_neg64(m.q), na != nb), select(m.r, tz_neg64(m.r), na));
}`,
  },
  // fmod of f32 (exact: C fmod, the result has the dividend's sign), by integer reduction of the mantissas.
  tz_fmod: {
    deps: ['tz_f32'],
    code: `fn tz_fmod(x: f32, y: f32) -> f32 {
  let ux = bitcast<u32>(x);
  let sx = ux & 0x80000000u;
  let ax = ux & 0x7fffffffu;
  let ay = bitcast<u32>(y) & 0x7fffffffu;
  if ((ay == 0u) | (ax >= 0x7f800000u) | (ay > 0x7f800000u)) { return tz_f32(0x7fc00000u); }
  if (ax < ay) { return x; }
  if (ax == ay) { return bitcast<f32>(sx); }
  var ex = i32(ax >> 23u);
  var mx = ax & 0x7fffffu;
  if (ex == 0i) { let s = countLeadingZeros(mx) - 8u; mx = mx << s; ex = 1i - i32(s); } else { mx = mx | 0x800000u; }
  var ey = i32(ay >> 23u);
  var my = ay & 0x7fffffu;
  if (ey == 0i) { let s = countLeadingZeros(my) - 8u; my = my << s; ey = 1i - i32(s); } else { my = my | 0x800000u; }
  for (; ex > ey; ex = ex - 1i) {
    if (mx >= my) { mx = mx - my; }
    mx = mx << 1u;
  }
  if (mx >= my) { mx = mx - my; }
  if (mx == 0u) { return bitcast<f32>(sx); }
  let s = countLeadingZeros(mx) - 8u;
  mx = mx << s;
  ex = ex - i32(s);
  if (ex > 0i) { return bitcast<f32>(sx | (u32(ex) << 23u) | (mx & 0x7fffffu)); }
  return bitcast<f32>(sx | (mx >> u32(1i - ex)));
}`,
  },
  // sin/cos/tan of f32: x = (4n + q)·π/2 + r with r ∈ [−π/4, π/4]; Cody–Waite with three parts of π/2 below
  // |x| = 4096, else Payne–Hanek: the 24-bit mantissa times a 96-bit window of the bits of 2/π (chosen by the
  // exponent) gives x·2/π mod 4 to ~2^-60; then Taylor polynomials of sin and cos on r.
  tz_trig: { deps: [], code: 'struct tz_trig { r: f32, q: u32 }' },
  tz_reduce: {
    deps: ['tz_trig', 'tz_mulw', 'tz_u2f'],
    code: `const tz_2opi = array<u32, ${TWO_OVER_PI.length}>(${TWO_OVER_PI.map((w) => `0x${w.toString(16)}u`).join(', ')});
fn tz_reduce(x: f32) -> tz_trig {
  let ax = abs(x);
  if (ax < 4096.0f) {
    let k = round(x * 0.636619772367581343f);
    let r = ((x - k * ${f32Literal(PIO2_1)}) - k * ${f32Literal(PIO2_2)}) - k * ${f32Literal(PIO2_3)};
    return tz_trig(r, bitcast<u32>(i32(k)) & 3u);
  }
  let u = bitcast<u32>(ax);
  let m = (u & 0x7fffffu) | 0x800000u;
  let p = min(u >> 23u, 254u) - 120u;
  let wi = p >> 5u;
  let sh = p & 31u;
  var w: array<u32, 3>;
  for (var k = 0u; k < 3u; k = k + 1u) {
    let hi = tz_2opi[wi + k];
    let lo = tz_2opi[wi + k + 1u];
    w[k] = select((hi << sh) | (lo >> (32u - sh)), hi, sh == 0u);
  }
  let p2 = tz_mulw(m, w[2]);
  let p1 = tz_mulw(m, w[1]);
  let r1 = p1.x + p2.y;
  let r0 = m * w[0] + p1.y + select(0u, 1u, r1 < p1.x);
  var q = r0 >> 30u;
  var f0 = r0 & 0x3fffffffu;
  var f1 = r1;
  let neg = (f0 & 0x20000000u) != 0u;
  if (neg) {
    q = q + 1u;
    f1 = 0u - r1;
    f0 = (0x40000000u - f0 - select(0u, 1u, r1 != 0u)) & 0x3fffffffu;
  }
  let f = (f32(f0) * 9.313225746154785e-10f + tz_u2f(f1) * 2.168404344971009e-19f) * 1.5707963267948966f;
  let r = select(f, -f, neg);
  if (x < 0.0f) { return tz_trig(-r, (4u - (q & 3u)) & 3u); }
  return tz_trig(r, q & 3u);
}`,
  },
  tz_sinpoly: {
    deps: [],
    code: `fn tz_sinpoly(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * (-0.16666666666666666f + z * (0.008333333333333333f + z * (-0.0001984126984126984f + z * 2.755731922398589e-6f)));
}`,
  },
  tz_cospoly: {
    deps: [],
    code: `fn tz_cospoly(r: f32) -> f32 {
  let z = r * r;
  return 1.0f - 0.5f * z + z * z * (0.041666666666666664f + z * (-0.001388888888888889f + z * (2.48015873015873e-5f - z * 2.755731922398589e-7f)));
}`,
  },
  tz_sin: {
    deps: ['tz_reduce', 'tz_sinpoly', 'tz_cospoly'],
    code: `fn tz_sin(x: f32) -> f32 {
  let t = tz_reduce(x);
  let s = tz_sinpoly(t.r);
  let c = tz_cospoly(t.r);
  let v = select(select(select(-c, -s, t.q == 2u), c, t.q == 1u), s, t.q == 0u);
  return select(x - x, v, abs(x) <= 3.4028234663852886e38f);
}`,
  },
  tz_cos: {
    deps: ['tz_reduce', 'tz_sinpoly', 'tz_cospoly'],
    code: `fn tz_cos(x: f32) -> f32 {
  let t = tz_reduce(x);
  let s = tz_sinpoly(t.r);
  let c = tz_cospoly(t.r);
  let v = select(select(select(s, -c, t.q == 2u), -s, t.q == 1u), c, t.q == 0u);
  return select(x - x, v, abs(x) <= 3.4028234663852886e38f);
}`,
  },
  tz_tan: {
    deps: ['tz_reduce', 'tz_sinpoly', 'tz_cospoly'],
    code: `fn tz_tan(x: f32) -> f32 {
  let t = tz_reduce(x);
  let s = tz_sinpoly(t.r);
  let c = tz_cospoly(t.r);
  let v = select(s / c, -c / s, (t.q & 1u) == 1u);
  return select(x - x, v, abs(x) <= 3.4028234663852886e38f);
}`,
  },
  // Iteration counts of loops: ⌈(e − s) / step⌉ when e > s, else 0 (the span counted in u32: no overflow).
  tz_trip: {
    deps: [],
    code: `fn tz_trip(s: i32, e: i32, step: u32) -> u32 {
  if (e <= s) { return 0u; }
  return (u32(e - s) - 1u) / step + 1u;
}`,
  },
};

/** The WGSL source of the named helpers and everything they depend on, dependencies first. */
export function helperSource(names: Iterable<string>): string {
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (n: string) => {
    if (done.has(n)) return;
    done.add(n);
    const h = H[n];
    if (!h) throw new TesseraError(`internal: no WGSL helper '${n}'`);
    for (const d of h.deps) visit(d);
    out.push(h.code);
  };
  for (const n of [...names].sort()) visit(n);
  return out.join('\n');
}

export const isHelper = (name: string): boolean => name in H;
