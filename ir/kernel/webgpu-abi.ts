// The WebGPU storage ABI shared by backends/wgsl (which emits shaders against it) and runtime/webgpu (which
// places buffers and binds them; runtime/webgpu/layout.ts converts tensors to and from the word layout). WGSL has no 8/16-bit storage types, no 64-bit integers and no f64, so the
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
import type { KScalar } from './ir.ts';

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
