// A small WebGPU harness for the WGSL matmul template (backends/wgsl/matmul.ts), used by its test and its
// benchmark: places a kernel's global buffers in one arena per the ABI of runtime/webgpu/layout.ts (16-byte
// aligned, optionally followed by guard words that must survive the dispatch), writes the parameter block
// (word offsets, then sizes), dispatches any number of workgroups folded into (x ≤ 65535, y) and reads the
// arena back. Independent of the runtime's executor, so the template can be checked on its own.
import type { Expr, Kernel, MatmulPattern } from '../../ir/kernel/ir.ts';
import { add, assign, c, load, local, loop, mul, store, v } from '../../ir/kernel/build.ts';
import { defaultDevice } from '../../runtime/webgpu/device.ts';
import { MAX_WORKGROUPS_PER_DIM, paramVec4s } from '../../runtime/webgpu/layout.ts';

/** The process's WebGPU device (dawn.node over SwiftShader after `source scripts/webgpu-env.sh`). */
export const gpuDevice = (): Promise<GPUDevice> => defaultDevice();

export interface Compiled {
  pipeline: GPUComputePipeline;
  /** getCompilationInfo()'s messages (errors, warnings, infos) as `type line:col message`. */
  messages: string[];
}

/** Compiles a shader into a pipeline; throws with the messages when it does not compile. */
export async function compileShader(device: GPUDevice, wgsl: string, label = 'matmul'): Promise<Compiled> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: wgsl, label });
  const info = await module.getCompilationInfo();
  const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  let pipeline: GPUComputePipeline | undefined;
  if (!info.messages.some((m) => m.type === 'error')) {
    pipeline = await device.createComputePipelineAsync({ label, layout: 'auto', compute: { module, entryPoint: 'main' } });
  }
  const err = await device.popErrorScope();
  if (err) messages.push(`error ${err.message}`);
  if (!pipeline || err) throw new Error(`shader does not compile:\n${messages.join('\n')}`);
  return { pipeline, messages };
}

/** The value of guard words (a NaN no kernel computes from finite inputs). */
export const GUARD = 0x7fc0dead;

export interface Arena {
  buffer: GPUBuffer;
  /** Word offset of each buffer (multiples of 4). */
  offsets: number[];
  /** Its words as written (buffers, then `guard` words of GUARD after each, up to a multiple of 4). */
  initial: Uint32Array;
}

/** An arena holding `data` (one word array per global buffer, in the kernel's order). */
export function makeArena(device: GPUDevice, data: Uint32Array[], guard = 0): Arena {
  const offsets: number[] = [];
  let words = 0;
  for (const d of data) {
    offsets.push(words);
    words += Math.ceil((d.length + guard) / 4) * 4;
  }
  const initial = new Uint32Array(Math.max(words, 4)).fill(GUARD);
  data.forEach((d, i) => initial.set(d, offsets[i]!));
  const buffer = device.createBuffer({
    size: initial.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(buffer, 0, initial);
  return { buffer, offsets, initial };
}

/** A bind group for dispatches over `arena` with the given size params (i32 values, the kernel's order). */
export function bindParams(device: GPUDevice, pipeline: GPUComputePipeline, arena: Arena, sizes: number[]): GPUBindGroup {
  const words = new Uint32Array(paramVec4s(arena.offsets.length, sizes.length) * 4);
  words.set(arena.offsets);
  words.set(new Uint32Array(Int32Array.from(sizes).buffer), arena.offsets.length);
  const uniform = device.createBuffer({ size: words.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, words);
  return device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: arena.buffer } }, { binding: 1, resource: { buffer: uniform } }],
  });
}

/** The runtime's folding of a workgroup count into (x ≤ 65535, y). */
export function foldGrid(grid: number): [number, number] {
  if (grid <= MAX_WORKGROUPS_PER_DIM) return [grid, 1];
  return [MAX_WORKGROUPS_PER_DIM, Math.ceil(grid / MAX_WORKGROUPS_PER_DIM)];
}

/** Runs `repeat` dispatches of `grid` workgroups in one pass and waits for them; returns the wall time in ms. */
export async function dispatch(device: GPUDevice, pipeline: GPUComputePipeline, group: GPUBindGroup, grid: number, repeat = 1): Promise<number> {
  const [x, y] = foldGrid(grid);
  const t0 = performance.now();
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  for (let i = 0; i < repeat; i++) pass.dispatchWorkgroups(x, y);
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

/** The arena's words [offset, offset + count). */
export async function readWords(device: GPUDevice, arena: Arena, offset = 0, count = arena.initial.length - offset): Promise<Uint32Array> {
  const bytes = Math.ceil(Math.max(count, 1) / 4) * 16;
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(arena.buffer, offset * 4, staging, 0, Math.min(bytes, arena.initial.byteLength - offset * 4));
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(staging.getMappedRange().slice(0, count * 4));
  staging.unmap();
  staging.destroy();
  return out;
}

// ---------------------------------------------------------------- kernels with a matmul pattern

export interface MatmulVariant { transA: boolean; transB: boolean; aBroadcast: boolean; bBroadcast: boolean }

/**
 * A matmul kernel as the lowering writes one, over size params nb, m, n, k (in that order): the naive body
 * (the definition) and its pattern. Global buffers a, b, y in that order.
 */
export function patternKernel(name: string, vr: MatmulVariant): Kernel {
  const [B, M, N, K] = ['nb', 'm', 'n', 'k'].map((s) => v(s)) as [Expr, Expr, Expr, Expr];
  const aMat = mul(M, K), bMat = mul(K, N);
  const sa = vr.aBroadcast ? c('i32', 0) : aMat, sb = vr.bBroadcast ? c('i32', 0) : bMat;
  const aAt = (b: Expr, m: Expr, k: Expr) => add(mul(b, sa), vr.transA ? add(mul(k, M), m) : add(mul(m, K), k));
  const bAt = (b: Expr, k: Expr, n: Expr) => add(mul(b, sb), vr.transB ? add(mul(n, K), k) : add(mul(k, N), n));
  const [bi, mi, ni, ki] = ['bi', 'mi', 'ni', 'ki'].map((s) => v(s)) as [Expr, Expr, Expr, Expr];
  const A = { name: 'a', elem: 'f32' as const }, Bb = { name: 'b', elem: 'f32' as const }, Y = { name: 'y', elem: 'f32' as const };
  const body = [loop('bi', 0, B, [loop('mi', 0, M, [loop('ni', 0, N, [
    local('acc', 'f32', c('f32', 0)),
    loop('ki', 0, K, [assign('acc', add(v('acc', 'f32'), mul(load(A, aAt(bi, mi, ki)), load(Bb, bAt(bi, ki, ni)))))]),
    store(Y, add(mul(bi, mul(M, N)), add(mul(mi, N), ni)), v('acc', 'f32')),
  ])])], { kind: 'parallel' })];
  const pattern: MatmulPattern = {
    kind: 'matmul', a: 'a', b: 'b', y: 'y', batch: B, m: M, n: N, k: K, aBatchStride: sa, bBatchStride: sb,
    transA: vr.transA, transB: vr.transB, elem: 'f32', acc: 'f32',
  };
  const buf = (n: string, access: 'read' | 'write', size: Expr) => ({ name: n, elem: 'f32' as const, access, size, space: 'global' as const });
  return {
    name, sizes: ['nb', 'm', 'n', 'k'].map((s) => ({ name: s })), body, pattern,
    buffers: [buf('a', 'read', vr.aBroadcast ? aMat : mul(B, aMat)), buf('b', 'read', vr.bBroadcast ? bMat : mul(B, bMat)),
      buf('y', 'write', mul(B, mul(M, N)))],
  };
}

/** Y = A·B in f64 for the variant's layout, and Σ|A|·|B| per output (the scale of its rounding error). */
export function referenceMatmul(vr: MatmulVariant, nb: number, M: number, N: number, K: number, a: Float32Array, b: Float32Array): { y: Float64Array; scale: Float64Array } {
  const y = new Float64Array(nb * M * N), scale = new Float64Array(nb * M * N);
  const sa = vr.aBroadcast ? 0 : M * K, sb = vr.bBroadcast ? 0 : K * N;
  for (let bi = 0; bi < nb; bi++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0, t = 0;
    for (let k = 0; k < K; k++) {
      const p = a[bi * sa + (vr.transA ? k * M + m : m * K + k)]! * b[bi * sb + (vr.transB ? n * K + k : k * N + n)]!;
      s += p;
      t += Math.abs(p);
    }
    y[(bi * M + m) * N + n] = s;
    scale[(bi * M + m) * N + n] = t;
  }
  return { y, scale };
}
