// Kernels of real ops, lowered for WebGPU (compiler/lower, target 'webgpu'), through the WGSL emitter on real
// WebGPU: each program runs dispatch by dispatch on the kernel interpreter (the null device's path), and every
// dispatch also runs on the GPU from the same buffers, its outputs compared with the interpreter's (integers
// exactly; floats within the tolerance of the dtype — SwiftShader may reassociate and contract).
import { describe, expect, it } from 'vitest';
import { buildWgsl, type WgslKernelInfo } from '../../backends/wgsl/index.ts';
import { decodeInto } from '../../compiler/lower/context.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { evalSize } from '../../compiler/lower/memory.ts';
import { bindSymbols } from '../../compiler/lower/null-device.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import type { DType } from '../../ir/dtype.ts';
import { inferModel } from '../../ir/infer.ts';
import { allocBuffer, evalExpr, interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Program } from '../../ir/kernel/program.ts';
import { Tensor } from '../../ir/tensor.ts';
import { randomValues } from '../lower/helpers.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';
import { firstDiff, type Tolerance } from './compare.ts';
import { numbered, runWgsl, webgpuUnavailable } from './harness.ts';

const why = await webgpuUnavailable();
if (why) console.log(`SKIP WGSL tests: ${why}`);

const TOL: Partial<Record<DType, Tolerance>> = {
  f32: { rtol: 1e-4, atol: 1e-5 }, f64: { rtol: 1e-4, atol: 1e-5 }, f16: { rtol: 2e-3, atol: 1e-3 }, bf16: { rtol: 1e-2, atol: 1e-2 },
};

/** Lowers the model, runs it dispatch by dispatch on the interpreter and on the GPU; returns the kernels' emission. */
async function runLowered(spec: ModelSpec, feeds: Record<string, Tensor>, opts: { templates?: boolean } = {}): Promise<WgslKernelInfo[]> {
  const m = importOnnx(buildModel(spec));
  inferModel(m);
  const p: Program = lower(m, { target: 'webgpu' });
  const emitted = buildWgsl(p.kernels, { templates: opts.templates ?? false }).kernels;
  const byName = new Map(emitted.map((e) => [e.name, e]));
  const sym = bindSymbols(p, feeds);
  const store = new Map<string, BufferData>();
  for (const b of p.buffers) {
    if (b.aliasOf !== undefined) continue;
    if (b.kind === 'weight') {
      const n = evalSize(b.size, {});
      const data = allocBuffer(b.elem, n);
      decodeInto(p.weights.subarray(b.weight!.offset, b.weight!.offset + b.weight!.byteLength), b.elem, data as never, n);
      store.set(b.name, data);
    } else if (b.kind === 'input') store.set(b.name, feeds[b.value!]!.data as BufferData);
    else store.set(b.name, allocBuffer(b.elem, evalSize(b.size, sym)));
  }
  for (const b of p.buffers) if (b.aliasOf !== undefined) store.set(b.name, store.get(b.aliasOf)!);
  for (const d of p.dispatches) {
    const k = p.kernels.find((x) => x.name === d.kernel)!;
    const buffers: Record<string, BufferData> = {};
    for (const [param, name] of Object.entries(d.buffers)) buffers[param] = store.get(name)!;
    const sizes: Record<string, number> = {};
    for (const [name, e] of Object.entries(d.sizes)) sizes[name] = Number(evalExpr(e, sym));
    const e = byName.get(k.name)!;
    const got = await runWgsl(k, e, buffers, sizes);
    interpretKernel(k, { buffers, sizes });
    for (const b of k.buffers) {
      if (b.space !== 'global' || b.access === 'read') continue;
      const n = Number(evalExpr(b.size, sizes));
      const want = { [b.name]: buffers[b.name]!.slice(0, n) as BufferData };
      const diff = firstDiff(want, { [b.name]: got[b.name]! }, TOL[b.elem]);
      if (diff) expect.fail(`kernel ${k.name} (${e.via}): ${diff}\n--- wgsl ---\n${numbered(e.wgsl)}`);
    }
  }
  return emitted;
}

const model = (inputs: [string, DType, (number | string)[]][], nodes: ModelSpec['nodes'], opset = 17, initializers?: ModelSpec['initializers'], outputs = ['y']): ModelSpec => ({
  inputs: inputs.map(([name, dtype, shape]) => ({ name, dtype, shape })),
  outputs: outputs.map((name) => ({ name, dtype: 'f32' as DType })), nodes, opset, ...(initializers ? { initializers } : {}),
});

describe.skipIf(why)('lowered ops through the WGSL emitter', () => {
  it('Softmax over a symbolic batch, LayerNormalization, Erf-GELU', async () => {
    await runLowered(model([['x', 'f32', ['N', 10]]], [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attrs: { axis: -1 } }], 13),
      { x: randomValues('f32', [3, 10], 1, { range: 20 }) });
    await runLowered(model([['x', 'f32', [2, 3, 16]]], [{ op: 'LayerNormalization', inputs: ['x', 's', 'b'], outputs: ['y'], attrs: { axis: -1 } }], 17,
      { s: randomValues('f32', [16], 2), b: randomValues('f32', [16], 3) }), { x: randomValues('f32', [2, 3, 16], 4) });
    await runLowered(model([['x', 'f32', [4, 33]]], [
      { op: 'Div', inputs: ['x', 'r2'], outputs: ['t0'] }, { op: 'Erf', inputs: ['t0'], outputs: ['t1'] },
      { op: 'Add', inputs: ['t1', 'one'], outputs: ['t2'] }, { op: 'Mul', inputs: ['x', 't2'], outputs: ['t3'] },
      { op: 'Mul', inputs: ['t3', 'half'], outputs: ['y'] },
    ], 13, {
      r2: Tensor.from('f32', [], [Math.SQRT2]),
      one: Tensor.from('f32', [], [1]),
      half: Tensor.from('f32', [], [0.5]),
    }), { x: randomValues('f32', [4, 33], 5) });
  });

  it('Conv (f32 and f16) with Relu, MaxPool, GlobalAveragePool', async () => {
    await runLowered(model([['x', 'f32', [1, 3, 9, 9]]], [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
      { op: 'Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['p'], attrs: { kernel_shape: [2, 2] } },
      { op: 'GlobalAveragePool', inputs: ['p'], outputs: ['y'] },
    ], 13, { w: randomValues('f32', [4, 3, 3, 3], 6), b: randomValues('f32', [4], 7) }), { x: randomValues('f32', [1, 3, 9, 9], 8) });
    const spec = model([['x', 'f16', [1, 2, 6, 6]]], [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }], 13,
      { w: randomValues('f16', [3, 2, 3, 3], 9) });
    spec.outputs[0]!.dtype = 'f16';
    await runLowered(spec, { x: randomValues('f16', [1, 2, 6, 6], 10) });
  });

  it('MatMul (batched, symbolic) and Gemm: the generic body, and the template chosen by default', async () => {
    const mm = model([['a', 'f32', ['B', 5, 7]]], [{ op: 'MatMul', inputs: ['a', 'w'], outputs: ['y'] }], 13, { w: randomValues('f32', [7, 6], 11) });
    const e = await runLowered(mm, { a: randomValues('f32', [2, 5, 7], 12) });
    expect(e.map((k) => k.via)).toContain('grid');
    await runLowered(model([['a', 'f32', [4, 8]]], [{ op: 'Gemm', inputs: ['a', 'w', 'c'], outputs: ['y'], attrs: { transB: 1, alpha: 0.5, beta: 2 } }], 13,
      { w: randomValues('f32', [3, 8], 13), c: randomValues('f32', [3], 14) }), { a: randomValues('f32', [4, 8], 15) });
    const m = importOnnx(buildModel(mm));
    inferModel(m);
    const vias = buildWgsl(lower(m, { target: 'webgpu' }).kernels).kernels.map((k) => k.via);
    expect(vias.includes('matmul') || vias.includes('grid')).toBe(true);
  });

  it('integer paths: Gather with i64 indices, ArgMax, Cast through i64, Where, QuantizeLinear, MatMulInteger', async () => {
    await runLowered(model([['x', 'f32', [5, 4]], ['i', 'i64', [3]]], [{ op: 'Gather', inputs: ['x', 'i'], outputs: ['y'], attrs: { axis: 0 } }], 13),
      { x: randomValues('f32', [5, 4], 16), i: Tensor.from('i64', [3], [4n, -1n, 0n]) });
    const am = model([['x', 'f32', [3, 7]]], [{ op: 'ArgMax', inputs: ['x'], outputs: ['y'], attrs: { axis: 1 } }], 13);
    am.outputs[0]!.dtype = 'i64';
    await runLowered(am, { x: randomValues('f32', [3, 7], 17) });
    await runLowered(model([['x', 'f32', [12]]], [
      { op: 'Cast', inputs: ['x'], outputs: ['i'], attrs: { to: 7 } },
      { op: 'Mul', inputs: ['i', 'k'], outputs: ['j'] },
      { op: 'Cast', inputs: ['j'], outputs: ['f'], attrs: { to: 1 } },
      { op: 'Greater', inputs: ['x', 'f'], outputs: ['c'] },
      { op: 'Where', inputs: ['c', 'x', 'f'], outputs: ['y'] },
    ], 13, { k: Tensor.from('i64', [], [3000000000n]) }), { x: randomValues('f32', [12], 18, { range: 100 }) });
    const q = model([['x', 'f32', [16]]], [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'] }], 13,
      { s: Tensor.from('f32', [], [0.05]), z: Tensor.from('u8', [], [128]) });
    q.outputs[0]!.dtype = 'u8';
    await runLowered(q, { x: randomValues('f32', [16], 19, { range: 8 }) });
    const mi = model([['a', 'u8', [3, 8]], ['b', 'u8', [8, 5]]], [{ op: 'MatMulInteger', inputs: ['a', 'b', 'az', 'bz'], outputs: ['y'] }], 13,
      { az: Tensor.from('u8', [], [3]), bz: Tensor.from('u8', [], [250]) });
    mi.outputs[0]!.dtype = 'i32';
    await runLowered(mi, { a: randomValues('u8', [3, 8], 20), b: randomValues('u8', [8, 5], 21) });
  });

  it('movement and reductions: Transpose, Concat, Slice, ReduceMean, ReduceMax, CumSum, bf16 Add', async () => {
    await runLowered(model([['x', 'f32', [2, 3, 4]], ['z', 'f32', [2, 3, 2]]], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: [0, 2, 1] } },
      { op: 'Transpose', inputs: ['t'], outputs: ['u'], attrs: { perm: [0, 2, 1] } },
      { op: 'Concat', inputs: ['u', 'z'], outputs: ['c'], attrs: { axis: 2 } },
      { op: 'ReduceMean', inputs: ['c'], outputs: ['m'], attrs: { axes: [2], keepdims: 1 } },
      { op: 'ReduceMax', inputs: ['c'], outputs: ['n'], attrs: { axes: [1], keepdims: 1 } },
      { op: 'Sub', inputs: ['c', 'm'], outputs: ['d'] },
      { op: 'Add', inputs: ['d', 'n'], outputs: ['y'] },
    ], 13), { x: randomValues('f32', [2, 3, 4], 22), z: randomValues('f32', [2, 3, 2], 23) });
    await runLowered(model([['x', 'f32', [3, 5]]], [{ op: 'CumSum', inputs: ['x', 'ax'], outputs: ['y'] }], 14,
      { ax: Tensor.from('i64', [], [1n]) }), { x: randomValues('f32', [3, 5], 24) });
    const bf = model([['a', 'bf16', [6]], ['b', 'bf16', [6]]], [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }], 14);
    bf.outputs[0]!.dtype = 'bf16';
    await runLowered(bf, { a: randomValues('bf16', [6], 25), b: randomValues('bf16', [6], 26) });
  });
});
