// The WebGPU storage ABI shared by backends/wgsl (which emits shaders against it) and runtime/webgpu (which
// places buffers and binds them). WGSL has no 8/16-bit storage types, no 64-bit integers and no f64, so the
// WebGPU arena stores every tensor element in 32-bit words:
// - bool, u8, u16, u32: the value zero-extended into one word; i8, i16, i32: sign-extended (two's complement);
// - f32: its bits; f16 and bf16: the value as an f32 (exact: both are subsets of f32) — kernels round results
//   back to the narrow type after every inexact operation, so values stay f16/bf16 values;
// - f64: the value rounded to f32 (one word) — WGSL has no 64-bit float: f64 math runs in f32 precision
//   (the compiler reports which kernels do so);
// - i64, u64: two words, low then high (two's complement), emulated with vec2<u32> arithmetic in shaders.
//
// Every kernel sees the same two bindings in group 0:
//   @binding(0) the arena: the whole GPUBuffer, `var<storage, read_write>`; a shader picks its view of it
//               (`array<u32>`, `array<vec4<u32>>` for 16-byte loads, or `array<atomic<u32>>` when it uses atomics);
//   @binding(1) `var<uniform> P: array<vec4<u32>, N>`: the words [word offset of each global buffer in the
//               kernel's buffer order…, each size param (an i32's bits) in the kernel's size order…], N ≥ 1.
// Buffer word offsets are multiples of 4 (16-byte aligned arena plan), so a vec4 view may load aligned quads.
// Dispatch: the launch record's grid (workgroups, an expression over the size params) is folded into
// (x ≤ 65535, y) by the runtime; a shader's workgroup index is wid.x + wid.y · nwg.x and every kernel must be
// correct for any number of workgroups ≥ 1 (grid-stride loops), extra workgroups doing nothing.
import type { KScalar } from '../../ir/kernel/ir.ts';
import { f16BitsToF32 as f16ToF32, f32ToF16Bits as f32ToF16 } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';

export const ARENA_BINDING = 0;
export const PARAMS_BINDING = 1;
export const MAX_WORKGROUPS_PER_DIM = 65535;
/** Bytes between two dispatches' parameter blocks in the uniform buffer (WebGPU's minUniformBufferOffsetAlignment). */
export const PARAMS_STRIDE = 256;
/** Most parameter words of one kernel (buffers + sizes) that fit PARAMS_STRIDE. */
export const MAX_PARAM_WORDS = PARAMS_STRIDE / 4;

/** 32-bit words per element in the WebGPU arena. */
export const wordsPerElement = (e: KScalar): 1 | 2 => (e === 'i64' || e === 'u64' ? 2 : 1);
/** Bytes per element in the WebGPU arena (the arena plan's element size). */
export const webgpuElemBytes = (e: KScalar): number => 4 * wordsPerElement(e);

/** Number of vec4<u32> in a kernel's parameter block. */
export const paramVec4s = (buffers: number, sizes: number): number => Math.max(1, Math.ceil((buffers + sizes) / 4));

/** Standard tensor storage (the artifact's and Session's layout: f16/bf16 as 16-bit patterns) → arena words. */
export function toWords(elem: KScalar, data: ArrayBufferView): Uint32Array {
  const n = data.byteLength / standardBytes(elem);
  const src = (C: new (b: ArrayBufferLike, o: number, n: number) => ArrayLike<number | bigint>) => new C(data.buffer, data.byteOffset, n);
  switch (elem) {
    case 'bool': case 'u8': return Uint32Array.from(src(Uint8Array) as Uint8Array);
    case 'i8': return new Uint32Array(Int32Array.from(src(Int8Array) as Int8Array).buffer);
    case 'u16': return Uint32Array.from(src(Uint16Array) as Uint16Array);
    case 'i16': return new Uint32Array(Int32Array.from(src(Int16Array) as Int16Array).buffer);
    case 'i32': case 'u32': case 'f32': return new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + n * 4) as ArrayBuffer);
    case 'f16': return new Uint32Array(Float32Array.from(src(Uint16Array) as Uint16Array, f16ToF32).buffer);
    case 'bf16': return Uint32Array.from(src(Uint16Array) as Uint16Array, (b) => b << 16);
    case 'f64': return new Uint32Array(Float32Array.from(src(Float64Array) as Float64Array).buffer);
    case 'i64': case 'u64': return new Uint32Array(data.buffer.slice(data.byteOffset, data.byteOffset + n * 8) as ArrayBuffer);
  }
}

/** Arena words → standard tensor storage bytes (the inverse of toWords; f64 comes back from its f32). */
export function fromWords(elem: KScalar, words: Uint32Array): Uint8Array {
  const bytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const f32 = new Float32Array(words.buffer, words.byteOffset, words.length);
  const i32 = new Int32Array(words.buffer, words.byteOffset, words.length);
  switch (elem) {
    case 'bool': case 'u8': return Uint8Array.from(words);
    case 'i8': return bytes(Int8Array.from(i32));
    case 'u16': return bytes(Uint16Array.from(words));
    case 'i16': return bytes(Int16Array.from(i32));
    case 'i32': case 'u32': case 'f32': case 'i64': case 'u64': return bytes(words).slice();
    case 'f16': return bytes(Uint16Array.from(f32, f32ToF16));
    case 'bf16': return bytes(Uint16Array.from(words, (w) => w >>> 16));
    case 'f64': return bytes(Float64Array.from(f32));
  }
}

function standardBytes(e: KScalar): number {
  switch (e) {
    case 'bool': case 'u8': case 'i8': return 1;
    case 'u16': case 'i16': case 'f16': case 'bf16': return 2;
    case 'i64': case 'u64': case 'f64': return 8;
    default: return 4;
  }
}

export function checkParamWords(kernel: string, buffers: number, sizes: number): void {
  if (buffers + sizes > MAX_PARAM_WORDS) {
    throw new TesseraError(`kernel '${kernel}' has ${buffers} buffers and ${sizes} sizes; WebGPU kernels take at most ${MAX_PARAM_WORDS} parameter words`);
  }
}
