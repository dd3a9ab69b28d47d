// Tensors to and from the WebGPU arena's word layout, and the runtime's checks of it. The ABI itself (bindings,
// element widths, the parameter block) is ir/kernel/webgpu-abi.ts, shared with backends/wgsl.
import type { KScalar } from '../../ir/kernel/ir.ts';
import { f16BitsToF32 as f16ToF32, f32ToF16Bits as f32ToF16 } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { MAX_PARAM_WORDS } from '../../ir/kernel/webgpu-abi.ts';

export {
  ARENA_BINDING, MAX_PARAM_WORDS, MAX_WORKGROUPS_PER_DIM, PARAMS_BINDING, PARAMS_STRIDE, paramVec4s, webgpuElemBytes, wordsPerElement,
} from '../../ir/kernel/webgpu-abi.ts';

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
