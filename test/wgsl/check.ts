// Shared by the WGSL emitter tests: run a kernel through backends/wgsl on real WebGPU and through the kernel
// interpreter, and compare the global buffers (see compare.ts); plus a builder of elementwise test kernels.
import { expect } from 'vitest';
import { buildWgsl, type WgslKernelInfo } from '../../backends/wgsl/index.ts';
import * as K from '../../ir/kernel/build.ts';
import { cloneBuffers } from '../../compiler/fuzz/kernel-programs.ts';
import { interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { BufferParam, Expr, Kernel, KScalar, KType } from '../../ir/kernel/ir.ts';
import { firstDiff, type Tolerance } from './compare.ts';
import { numbered, runWgsl } from './harness.ts';

export interface CheckOptions { tol?: Tolerance; workgroups?: number }

/** Emits, runs and compares with the interpreter; returns the emitted kernel. */
export async function check(k: Kernel, buffers: Record<string, BufferData>, sizes: Record<string, number> = {}, opts: CheckOptions = {}): Promise<WgslKernelInfo> {
  const emitted = buildWgsl([k]).kernels[0]!;
  const want = cloneBuffers(buffers);
  interpretKernel(k, { buffers: want, sizes });
  const got = await runWgsl(k, emitted, buffers, sizes, { workgroups: opts.workgroups });
  const globals = Object.fromEntries(k.buffers.filter((b) => b.space === 'global' && b.access !== 'read').map((b) => [b.name, want[b.name]!]));
  const diff = firstDiff(globals, got, opts.tol);
  if (diff) expect.fail(`${k.name}: ${diff}\n--- wgsl ---\n${numbered(emitted.wgsl)}`);
  return emitted;
}

export interface Output { name: string; elem: KScalar; f: (xs: Expr[]) => Expr }

/**
 * y_j[i] = f_j(x_0[i], x_1[i], …) for i < n, over input buffers of the given element types, one output buffer per
 * function (lanes > 1: the loop steps by `lanes` and every load and store is a vector).
 */
export function elementwise(name: string, inputs: KScalar[], outputs: Output[], n: number, lanes: KType['lanes'] = 1): Kernel {
  const ins = inputs.map((e, i) => K.buffer(`x${i}`, e, n, 'read'));
  const outs = outputs.map((o) => K.buffer(o.name, o.elem, n, 'write'));
  return K.kernel(name, {
    buffers: [...ins, ...outs] as BufferParam[],
    body: [K.parallel('i', 0, n, (i) => {
      const xs = ins.map((b) => K.load(b, i, lanes));
      return outs.map((b, j) => K.store(b, i, outputs[j]!.f(xs)));
    }, lanes)],
  });
}

/** Every pair (a, b) of the values, as two columns. */
export function pairs<T>(values: T[]): [T[], T[]] {
  const a: T[] = [], b: T[] = [];
  for (const x of values) for (const y of values) { a.push(x); b.push(y); }
  return [a, b];
}
