// Element types of the graph IR and their storage in the reference interpreter.
//
// Storage choices (why): f16 and bf16 are held as Float32Array whose values are already rounded to the
// narrow type, so every float kernel is written once over Float32Array/Float64Array and rounds on store;
// the exact bits are produced only at the edges (TensorProto, .npy). 64-bit integers use BigInt64Array /
// BigUint64Array so wrap-around and large values stay exact.

export type DType =
  | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64'
  | 'f16' | 'bf16' | 'f32' | 'f64' | 'string';

export const ALL_DTYPES: readonly DType[] = [
  'bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f16', 'bf16', 'f32', 'f64', 'string',
];
export const NUMERIC_DTYPES: readonly DType[] = ALL_DTYPES.filter((d) => d !== 'string' && d !== 'bool');
export const FLOAT_DTYPES: readonly DType[] = ['f16', 'bf16', 'f32', 'f64'];
export const INT_DTYPES: readonly DType[] = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64'];

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

export type NumberArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;
export type BigIntArray = BigInt64Array | BigUint64Array;

export const isFloat = (d: DType): boolean => d === 'f16' || d === 'bf16' || d === 'f32' || d === 'f64';
export const isInt = (d: DType): boolean => INT_DTYPES.includes(d);
export const isBigInt = (d: DType): boolean => d === 'i64' || d === 'u64';
export const isSigned = (d: DType): boolean =>
  d === 'i8' || d === 'i16' || d === 'i32' || d === 'i64' || isFloat(d);

/** Bytes per element in the serialized (ONNX raw_data / artifact) form. */
export function byteSize(d: DType): number {
  switch (d) {
    case 'bool': case 'i8': case 'u8': return 1;
    case 'i16': case 'u16': case 'f16': case 'bf16': return 2;
    case 'i32': case 'u32': case 'f32': return 4;
    case 'i64': case 'u64': case 'f64': return 8;
    case 'string': return 0;
  }
}

/** Allocates zero-filled storage for n elements of dtype d. */
export function allocData(d: DType, n: number): TensorData {
  switch (d) {
    case 'bool': case 'u8': return new Uint8Array(n);
    case 'i8': return new Int8Array(n);
    case 'i16': return new Int16Array(n);
    case 'u16': return new Uint16Array(n);
    case 'i32': return new Int32Array(n);
    case 'u32': return new Uint32Array(n);
    case 'i64': return new BigInt64Array(n);
    case 'u64': return new BigUint64Array(n);
    case 'f16': case 'bf16': case 'f32': return new Float32Array(n);
    case 'f64': return new Float64Array(n);
    case 'string': return new Array<string>(n).fill('');
  }
}

// ONNX TensorProto.DataType numbering.
const ONNX_CODES: Record<number, DType> = {
  1: 'f32', 2: 'u8', 3: 'i8', 4: 'u16', 5: 'i16', 6: 'i32', 7: 'i64', 8: 'string', 9: 'bool',
  10: 'f16', 11: 'f64', 12: 'u32', 13: 'u64', 16: 'bf16',
};
const ONNX_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 14: 'COMPLEX64', 15: 'COMPLEX128', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ',
  19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4',
};

/** Maps an ONNX data-type code to a DType, or returns a reason it is unsupported. */
export function dtypeFromOnnx(code: number): DType | { unsupported: string } {
  const d = ONNX_CODES[code];
  if (d) return d;
  return { unsupported: ONNX_NAMES[code] ?? `data type code ${code}` };
}

export function dtypeToOnnx(d: DType): number {
  for (const [k, v] of Object.entries(ONNX_CODES)) if (v === d) return Number(k);
  throw new Error(`no ONNX code for ${d}`);
}

// ---- f16 / bf16 bit conversions (round to nearest even) ----
const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export function f32ToF16Bits(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++; // may carry into exponent: still correct
  return sign | r;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function f32ToBf16Bits(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40; // quiet NaN
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  u32buf[0] = (b & 0xffff) << 16;
  return f32buf[0]!;
}

export const roundF16 = (v: number): number => f16BitsToF32(f32ToF16Bits(v));
export const roundBf16 = (v: number): number => bf16BitsToF32(f32ToBf16Bits(v));

/**
 * Rounds a double to f16/bf16 once. Rounding through f32 first (what roundF16 does) can land exactly on a
 * midpoint of the narrow type that the double was not on; such ties are decided by the side the double lies.
 */
export function roundDoubleToNarrow(v: number, round: (x: number) => number): number {
  const f = Math.fround(v);
  const r = round(f);
  if (f === v || r === f || !Number.isFinite(r)) return r;
  const mirror = 2 * f - r; // a narrow value exactly when f is the midpoint between it and r
  if (mirror === r || round(mirror) !== mirror) return r;
  return v > f ? Math.max(r, mirror) : Math.min(r, mirror);
}

/** Rounds float storage in place to the precision of d (no-op for f32/f64). */
export function roundFloatsInPlace(d: DType, data: TensorData): void {
  if (d === 'f16') { const a = data as Float32Array; for (let i = 0; i < a.length; i++) a[i] = roundF16(a[i]!); }
  else if (d === 'bf16') { const a = data as Float32Array; for (let i = 0; i < a.length; i++) a[i] = roundBf16(a[i]!); }
}
