// PTX register classes and operand text for kernel-IR element types.
//
// Every kernel-IR scalar lives in one virtual register class: bool in a predicate, 8/16/32-bit integers in
// a b32 register in canonical form (sign- or zero-extended to 32 bits, so 32-bit compares and shifts are
// right), 64-bit integers in b64, f16/bf16/f32 in f32 (f16/bf16 are computed in f32 and rounded after every
// inexact op: 24 bits ≥ 2·11 + 2, so that double rounding is innocuous for + − × ÷ √), f64 in f64.
import { byteSize } from '../../ir/dtype.ts';
import type { KScalar } from '../../ir/kernel/ir.ts';

export type RegClass = 'p' | 'r' | 'rd' | 'f' | 'fd' | 'h';

export const REG_DECL: Record<RegClass, string> = { p: '.pred', r: '.b32', rd: '.b64', f: '.f32', fd: '.f64', h: '.b16' };

export function regClass(e: KScalar): RegClass {
  switch (e) {
    case 'bool': return 'p';
    case 'i64': case 'u64': return 'rd';
    case 'f16': case 'bf16': case 'f32': return 'f';
    case 'f64': return 'fd';
    default: return 'r';
  }
}

export const isFloat = (e: KScalar) => e === 'f16' || e === 'bf16' || e === 'f32' || e === 'f64';
export const isSigned = (e: KScalar) => e === 'i8' || e === 'i16' || e === 'i32' || e === 'i64';
export const isWide = (e: KScalar) => e === 'i64' || e === 'u64';
export const isNarrowInt = (e: KScalar) => e === 'i8' || e === 'u8' || e === 'i16' || e === 'u16';

/** Bytes of one element in memory (bool as one byte, as the arena stores it). */
export const bytesOf = (e: KScalar): number => byteSize(e);

/** The PTX instruction type of arithmetic on a register holding e ('s32' for i8…i32, 'f32' for f16…). */
export function opType(e: KScalar): string {
  switch (e) {
    case 'i8': case 'i16': case 'i32': return 's32';
    case 'u8': case 'u16': case 'u32': return 'u32';
    case 'i64': return 's64';
    case 'u64': return 'u64';
    case 'f16': case 'bf16': case 'f32': return 'f32';
    case 'f64': return 'f64';
    case 'bool': return 'pred';
  }
}

/** The bit type of the register class of e (for mov/selp/and…). */
export function bitType(e: KScalar): string {
  switch (regClass(e)) {
    case 'rd': case 'fd': return 'b64';
    case 'p': return 'pred';
    case 'h': return 'b16';
    default: return 'b32';
  }
}

/** The memory type of ld/st for e (f16/bf16 as their 16-bit patterns, bool as a byte). */
export function memType(e: KScalar): string {
  switch (e) {
    case 'bool': case 'u8': return 'u8';
    case 'i8': return 's8';
    case 'i16': return 's16';
    case 'u16': case 'f16': case 'bf16': return 'u16';
    case 'i32': return 's32';
    case 'u32': return 'u32';
    case 'i64': return 's64';
    case 'u64': return 'u64';
    case 'f32': return 'f32';
    case 'f64': return 'f64';
  }
}

const f32Bits = (x: number): number => { const b = new DataView(new ArrayBuffer(4)); b.setFloat32(0, x); return b.getUint32(0); };
const f64Bits = (x: number): bigint => { const b = new DataView(new ArrayBuffer(8)); b.setFloat64(0, x); return b.getBigUint64(0); };

/** An f32 immediate (exact, hexadecimal). */
export const f32Imm = (x: number): string => `0f${f32Bits(x).toString(16).toUpperCase().padStart(8, '0')}`;
/** An f64 immediate (exact, hexadecimal). */
export const f64Imm = (x: number): string => `0d${f64Bits(x).toString(16).toUpperCase().padStart(16, '0')}`;

/** The immediate text of a constant held in the register class of e. */
export function immediate(e: KScalar, value: number | bigint): string {
  switch (regClass(e)) {
    case 'f': return f32Imm(Number(value));
    case 'fd': return f64Imm(Number(value));
    case 'rd': {
      const x = typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value)));
      return BigInt.asIntN(64, x).toString();
    }
    case 'p': return Number(value) ? '1' : '0';
    default: {
      const x = typeof value === 'bigint' ? value : BigInt(Math.trunc(Number(value)));
      const bits = bytesOf(e) * 8;
      const canon = isSigned(e) ? BigInt.asIntN(bits, x) : BigInt.asUintN(bits, x);
      return BigInt.asIntN(32, canon).toString();
    }
  }
}

/** PTX identifiers: a letter then letters, digits, _ or $ (or _/$ then at least one more). */
export const isPtxIdentifier = (s: string) => /^([A-Za-z][A-Za-z0-9_$]*|[_$][A-Za-z0-9_$]+)$/.test(s);
