// Input data for fuzzing. A value profile says what kind of numbers a tensor holds; shrinking moves towards
// the first ('small': small integers, exact in every dtype and easy to read in a failing case):
//   small    integers in [-4, 4] ([0, 8] for unsigned types)
//   unit     floats uniform in [-1, 1); integers uniform in [-100, 100] (clamped to the type)
//   wide     floats of any magnitude the type holds (sign · 10^u); integers uniform over the whole type
//   extreme  a mix of ordinary values and the type's edge values: ±0, subnormals, ±max, ±min normal, NaN,
//            ±Inf and rounding ties for floats; min, max, min+1, max-1, 0, ±1 for integers (wrap-around)
// A domain restricts a fresh input where an op is undefined or unspecified outside it (divisors ≠ 0,
// in-range indices and shift amounts, float→int casts inside the integer type's range, ...).
import fc from 'fast-check';
import { allocData, isBigInt, isFloat, isSigned, roundFloatsInPlace, type DType } from '../../ir/dtype.ts';
import { seededRandom } from '../../ir/random.ts';
import { Tensor } from '../../ir/tensor.ts';

export const VALUE_PROFILES = ['small', 'unit', 'wide', 'extreme'] as const;
export type ValueProfile = (typeof VALUE_PROFILES)[number];

/** Profiles without non-finite or huge values (inputs of accumulating ops: sums, products, convolutions). */
export const FINITE_PROFILES: readonly ValueProfile[] = ['small', 'unit'];

export interface Domain {
  /** No zeros (integer divisors). */
  nonzero?: boolean;
  /** Signed integers: never the type's minimum (INT_MIN / -1 traps in C). */
  noMin?: boolean;
  /** Uniform values in [lo, hi] (integers when `integer`), whatever the profile. */
  range?: [number, number];
  integer?: boolean;
  /** Values > 0 (variances). */
  positive?: boolean;
}

interface FloatEdges { max: number; minNormal: number; minSubnormal: number; maxLog10: number }
const FLOAT_EDGES: Record<string, FloatEdges> = {
  f32: { max: 3.4028234663852886e38, minNormal: 1.1754943508222875e-38, minSubnormal: 1.401298464324817e-45, maxLog10: 38 },
  f64: { max: Number.MAX_VALUE, minNormal: 2.2250738585072014e-308, minSubnormal: 5e-324, maxLog10: 308 },
  f16: { max: 65504, minNormal: 6.103515625e-5, minSubnormal: 5.960464477539063e-8, maxLog10: 4 },
  bf16: { max: 3.3895313892515355e38, minNormal: 1.1754943508222875e-38, minSubnormal: 9.183549615799121e-41, maxLog10: 38 },
};

/** The integer range of an integer dtype (bigints for 64-bit types). */
export function intRange(d: DType): [bigint, bigint] {
  switch (d) {
    case 'i8': return [-128n, 127n];
    case 'u8': return [0n, 255n];
    case 'i16': return [-32768n, 32767n];
    case 'u16': return [0n, 65535n];
    case 'i32': return [-(2n ** 31n), 2n ** 31n - 1n];
    case 'u32': return [0n, 2n ** 32n - 1n];
    case 'i64': return [-(2n ** 63n), 2n ** 63n - 1n];
    case 'u64': return [0n, 2n ** 64n - 1n];
    case 'bool': return [0n, 1n];
    default: throw new Error(`intRange of ${d}`);
  }
}

/**
 * Values just above a rounding tie of a narrower type (1 + half an ulp of f16, bf16, f32, plus a little): a
 * conversion that rounds twice (through an intermediate type) lands on the tie and rounds the wrong way.
 */
const NEAR_TIES: Record<string, number[]> = {
  f64: [1 + 2 ** -11 + 2 ** -40, 1 + 2 ** -8 + 2 ** -40, 1 + 2 ** -24 + 2 ** -50, -(1 + 2 ** -11 + 2 ** -40)],
  f32: [1 + 2 ** -11 + 2 ** -22, 1 + 2 ** -8 + 2 ** -22],
};

function floatSpecials(d: DType): number[] {
  const e = FLOAT_EDGES[d]!;
  return [0, -0, NaN, Infinity, -Infinity, e.max, -e.max, e.minNormal, -e.minNormal, e.minSubnormal, -e.minSubnormal,
    0.5, -0.5, 1.5, 2.5, -2.5, 1, -1, e.minSubnormal * 3, e.max / 2, ...(NEAR_TIES[d] ?? [])];
}

function intSpecials(d: DType): bigint[] {
  const [lo, hi] = intRange(d);
  const s = [lo, hi, lo + 1n, hi - 1n, 0n, 1n, hi / 2n, hi / 2n + 1n];
  if (isSigned(d)) s.push(-1n, lo / 2n);
  // 64-bit integers just above an f32 rounding tie (2^k + 2^(k-24) + 1): exact conversion rounds them up.
  if (d === 'i64' || d === 'u64') s.push((1n << 60n) + (1n << 36n) + 1n, (1n << 40n) + (1n << 16n) + 1n);
  if (d === 'i64') s.push(-((1n << 60n) + (1n << 36n) + 1n));
  return s;
}

function randomBigInt(lo: bigint, hi: bigint, rand: () => number): bigint {
  const span = hi - lo + 1n;
  let r = 0n;
  for (let k = 0; k < 3; k++) r = (r << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
  return lo + (r % span);
}

function clampBig(v: bigint, [lo, hi]: [bigint, bigint]): bigint {
  return v < lo ? lo : v > hi ? hi : v;
}

/** One element value for a dtype under a profile and domain (bigint for integer types, number for floats). */
function element(d: DType, profile: ValueProfile, dom: Domain, rand: () => number): number | bigint {
  if (d === 'bool') return rand() < 0.5 ? 1n : 0n;
  if (dom.range) {
    const [lo, hi] = dom.range;
    if (dom.integer || !isFloat(d)) return BigInt(lo + Math.floor(rand() * (hi - lo + 1)));
    return lo + rand() * (hi - lo);
  }
  if (isFloat(d)) {
    const e = FLOAT_EDGES[d]!;
    switch (profile) {
      case 'small': return Math.floor(rand() * 9) - 4;
      case 'unit': return rand() * 2 - 1;
      case 'wide': return (rand() < 0.5 ? -1 : 1) * 10 ** ((rand() * 2 - 1) * (e.maxLog10 - 1));
      case 'extreme': {
        if (rand() < 0.6) return rand() * 2 - 1;
        const s = floatSpecials(d);
        return s[Math.floor(rand() * s.length)]!;
      }
    }
  }
  const range = intRange(d);
  switch (profile) {
    case 'small': return BigInt(Math.floor(rand() * 9) - (isSigned(d) ? 4 : 0));
    case 'unit': return clampBig(BigInt(Math.floor(rand() * 201) - 100), range);
    case 'wide': return randomBigInt(range[0], range[1], rand);
    case 'extreme': {
      if (rand() < 0.4) return clampBig(BigInt(Math.floor(rand() * 9) - 4), range);
      const s = intSpecials(d);
      return s[Math.floor(rand() * s.length)]!;
    }
  }
}

/** A tensor of seeded values for the profile, honouring the domain. */
export function fuzzTensor(dtype: DType, shape: readonly number[], profile: ValueProfile, domain: Domain, rand: () => number): Tensor {
  const t = Tensor.zeros(dtype, shape);
  const data = t.data;
  const n = t.size;
  if (dtype === 'string') {
    for (let i = 0; i < n; i++) (data as string[])[i] = ['', 'a', 'b', 'ab', 'é', 'A'][Math.floor(rand() * 6)]!;
    return t;
  }
  const [lo] = isFloat(dtype) ? [0n] : intRange(dtype);
  for (let i = 0; i < n; i++) {
    let v = element(dtype, profile, domain, rand);
    if (typeof v === 'bigint') {
      if (domain.nonzero && v === 0n) v = 1n;
      if (domain.noMin && v === lo && isSigned(dtype)) v = lo + 1n;
      if (domain.positive && v <= 0n) v = 1n - v;
      if (isBigInt(dtype)) (data as BigInt64Array)[i] = v;
      else (data as Int32Array)[i] = Number(v);
    } else {
      if (domain.positive) v = Number.isNaN(v) ? 1 : Math.abs(v) + 1e-3;
      (data as Float32Array)[i] = v;
    }
  }
  roundFloatsInPlace(dtype, data);
  return t;
}

/** fast-check arbitrary of a tensor with the given dtype and shape (profile chosen, or fixed). */
export function tensorArb(dtype: DType, shape: readonly number[], profile?: ValueProfile, domain: Domain = {}): fc.Arbitrary<Tensor> {
  const prof = profile ? fc.constant(profile) : fc.constantFrom(...VALUE_PROFILES);
  return fc.tuple(fc.nat(), prof).map(([seed, p]) => fuzzTensor(dtype, shape, p, domain, seededRandom(seed)));
}

/** Storage of one value, for building small constant tensors. */
export function tensorOf(dtype: DType, shape: readonly number[], values: readonly (number | bigint)[]): Tensor {
  const data = allocData(dtype, values.length);
  values.forEach((v, i) => {
    (data as unknown as (number | bigint)[])[i] = isBigInt(dtype) ? BigInt(v) : Number(v);
  });
  return new Tensor(dtype, shape, data);
}
