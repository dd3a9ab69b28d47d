// The WGSL backend: kernel IR → one WGSL compute shader per kernel, plus its launch record. ABI (the contract with
// runtime/webgpu, written down in ir/kernel/webgpu-abi.ts): group 0, binding 0 the arena of 32-bit words (every
// global buffer at a word offset; 64-bit integers two words), binding 1 the parameter block P (the word offset
// of each global buffer in the kernel's buffer order, then each size param's i32 bits); entry point `main`;
// the workgroup index is wid.x + wid.y · nwg.x and any number of workgroups ≥ 1 is correct.
// Kernels that state a matmul pattern get the tiled template of matmul.ts when it accepts them; everything else
// gets the generic emitter (emit.ts).
import { emitEach } from '../../ir/kernel/schedule.ts';
import type { Expr, Kernel } from '../../ir/kernel/ir.ts';
import { emitKernel } from './emit.ts';
import { emitMatmul } from './matmul.ts';

export { emitKernel, BLOCK, wgslType } from './emit.ts';

export interface WgslLaunch { block: number; grid: Expr; sharedBytes: 0 }

export interface WgslKernelInfo {
  name: string;
  /** Global buffers in parameter order (workgroup buffers are not parameters). */
  buffers: string[];
  sizes: string[];
  launch: WgslLaunch;
  wgsl: string;
  /** How the body was emitted: the matmul template, or the generic emitter's schedule. */
  via: 'matmul' | 'grid' | 'workgroup';
  /** The kernel computes f64 values in f32 (WGSL has no 64-bit floats). */
  f64AsF32: boolean;
}

export interface WgslBuildOptions {
  /** Emit the tuned template (matmul.ts) for kernels with a matmul pattern it accepts. Default true. */
  templates?: boolean;
}

/** Emits every kernel. Throws a TesseraError naming the kernel on IR it cannot emit. */
export function buildWgsl(kernels: Kernel[], opts: WgslBuildOptions = {}): { kernels: WgslKernelInfo[] } {
  return {
    kernels: emitEach(kernels, (k, sig): WgslKernelInfo => {
      const mm = opts.templates !== false && k.pattern?.kind === 'matmul' ? emitMatmul(k) : undefined;
      if (mm) return { ...sig, launch: { ...mm.launch }, wgsl: mm.wgsl, via: 'matmul', f64AsF32: false };
      const e = emitKernel(k);
      return { ...sig, launch: e.launch, wgsl: e.wgsl, via: e.schedule, f64AsF32: e.f64AsF32 };
    }),
  };
}
