// How kernel-IR types live in WASM registers and memory.
//
// Scalars: f16/bf16 are computed as f32 (kept rounded to their type after every op), i8/i16/u8/u16/bool as
// i32 kept canonical (sign- or zero-extended, bool 0/1), i64/u64 as i64. Vectors whose lanes fill exactly
// 128 bits are "native" (one v128); bool vectors of 2/4/8/16 lanes are v128 masks (all-ones lanes) whose lane
// width is 128/lanes. Every other vector is held as one scalar register per lane.
import binaryen from 'binaryen';
import type { KScalar, KType } from '../../ir/kernel/ir.ts';

export type Reg = 'f32' | 'f64' | 'i32' | 'i64';
export type Shape = 'f32x4' | 'f64x2' | 'i32x4' | 'i64x2' | 'i16x8' | 'i8x16';

export function regOf(elem: KScalar): Reg {
  switch (elem) {
    case 'f32': case 'f16': case 'bf16': return 'f32';
    case 'f64': return 'f64';
    case 'i64': case 'u64': return 'i64';
    default: return 'i32';
  }
}

export const isFloatElem = (e: KScalar) => e === 'f32' || e === 'f64' || e === 'f16' || e === 'bf16';
export const isSignedInt = (e: KScalar) => e === 'i8' || e === 'i16' || e === 'i32' || e === 'i64';
export const isIntElem = (e: KScalar) => !isFloatElem(e) && e !== 'bool';

/** Bit width of the element (bool: 8, its storage). */
export function bitsOf(e: KScalar): number {
  switch (e) {
    case 'bool': case 'i8': case 'u8': return 8;
    case 'i16': case 'u16': case 'f16': case 'bf16': return 16;
    case 'i32': case 'u32': case 'f32': return 32;
    default: return 64;
  }
}
export const bytesOf = (e: KScalar) => bitsOf(e) / 8;

/** The v128 shape of a native vector type, or undefined when it is held lane by lane. */
export function shapeOf(t: KType): Shape | undefined {
  if (t.lanes === 1) return undefined;
  if (t.elem === 'bool') return ({ 2: 'i64x2', 4: 'i32x4', 8: 'i16x8', 16: 'i8x16' } as const)[t.lanes as 2 | 4 | 8 | 16];
  const s = ({
    f32: 'f32x4', f64: 'f64x2', i32: 'i32x4', u32: 'i32x4', i64: 'i64x2', u64: 'i64x2',
    i16: 'i16x8', u16: 'i16x8', i8: 'i8x16', u8: 'i8x16',
  } as Partial<Record<KScalar, Shape>>)[t.elem];
  return s && 128 / bitsOf(t.elem) === t.lanes ? s : undefined;
}
export const isNative = (t: KType) => t.lanes === 1 || shapeOf(t) !== undefined;

export function wasmReg(r: Reg): number {
  return { f32: binaryen.f32, f64: binaryen.f64, i32: binaryen.i32, i64: binaryen.i64 }[r];
}
/** The WASM value type of a native KType (v128 for vectors). */
export const wasmType = (t: KType): number => (t.lanes === 1 ? wasmReg(regOf(t.elem)) : binaryen.v128);
/** The WASM type of one lane held in a scalar register. */
export const laneType = (t: KType): number => wasmReg(regOf(t.elem));

/** Rounds x (a double) to the nearest value of a binary float format, ties to even (for constants). */
function roundToFormat(x: number, mantBits: number, minExp: number, maxExp: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const quantum = 2 ** (Math.max(e, minExp) - mantBits);
  const q = a / quantum;
  let r = Math.round(q);
  if (r - q === 0.5 && r % 2 === 1) r -= 1; // Math.round rounds .5 up: make ties go to even
  const y = r * quantum;
  const max = (2 - 2 ** -mantBits) * 2 ** maxExp;
  return Math.sign(x) * (y > max ? Infinity : y);
}
export const roundToF16 = (x: number) => roundToFormat(x, 10, -14, 15);
export const roundToBf16 = (x: number) => roundToFormat(x, 7, -126, 127);
