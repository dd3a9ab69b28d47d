// Program-level properties of the lowering: symbolic shapes (one Program, several input sizes), --shape
// specialization, the memory plan (no two simultaneously live buffers share bytes — checked by running the
// program inside one arena laid out by the plan), weights, and the error messages.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareTensors } from '../../compiler/compare.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { ARENA_ALIGN, elemBytes, planArena } from '../../compiler/lower/memory.ts';
import { bindSymbols, NullDevice } from '../../compiler/lower/null-device.ts';
import { decodeInto } from '../../compiler/lower/context.ts';
import { allocBuffer, evalExpr, interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Program } from '../../ir/kernel/program.ts';
import { Tensor } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import type { NodeSpec } from '../util/onnx-builder.ts';
import { errorOf, mismatch, modelOf, randomValues, seedArb } from './helpers.ts';

const i64 = (vals: number[]) => Tensor.from('i64', [vals.length], vals);

/** A small CNN head with symbolic batch and spatial dims and a Shape → Gather → Concat → Reshape chain. */
function symbolicModel() {
  return modelOf({
    inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 3, 'H', 'W'] }], outputs: [{ name: 'y', dtype: 'f32' }, { name: 'shape', dtype: 'i64' }],
    initializers: {
      w: randomValues('f32', [4, 3, 3, 3], 7), b: randomValues('f32', [4], 8), zero: i64([0]), minus1: i64([-1]), ax0: i64([0]),
    },
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attrs: { pads: [1, 1, 1, 1], strides: [2, 2] } },
      { op: 'Relu', inputs: ['c'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['p'], attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 } },
      { op: 'GlobalAveragePool', inputs: ['p'], outputs: ['g'] },
      { op: 'Shape', inputs: ['g'], outputs: ['s'] },
      { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'] },
      { op: 'Concat', inputs: ['n', 'minus1'], outputs: ['target'], attrs: { axis: 0 } },
      { op: 'Reshape', inputs: ['g', 'target'], outputs: ['flat'] },
      { op: 'Softmax', inputs: ['flat'], outputs: ['y'], attrs: { axis: -1 } },
      { op: 'Shape', inputs: ['p'], outputs: ['shape'] },
    ], opset: 13,
  });
}

describe('symbolic shapes', () => {
  it('one Program runs at several batch sizes and image sizes, matching the reference', () => {
    const m = symbolicModel();
    const p = lower(m);
    expect(p.symbols.map((s) => s.name)).toEqual(['N', 'H', 'W']);
    expect(p.inputs[0]!.shape.map((e) => e.kind)).toEqual(['var', 'const', 'var', 'var']);
    for (const [N, H, W] of [[1, 8, 8], [3, 7, 12], [2, 5, 5]] as const) {
      expect(mismatch(m, { x: randomValues('f32', [N, 3, H, W], N * H + W) }, { rtol: 1e-3 }, p)).toBeUndefined();
    }
  });

  it('--shape specializes: no symbols, constant sizes everywhere', () => {
    const m = symbolicModel();
    const p = lower(m, { shapes: new Map([['x', [2, 3, 9, 10]]]) });
    expect(p.symbols).toEqual([]);
    expect(p.kernels.every((k) => k.sizes.length === 0)).toBe(true);
    expect(p.buffers.every((b) => b.size.kind === 'const')).toBe(true);
    expect(mismatch(m, { x: randomValues('f32', [2, 3, 9, 10], 4) }, { rtol: 1e-3 }, p)).toBeUndefined();
    expect(errorOf(() => new NullDevice(p).run({ x: randomValues('f32', [1, 3, 9, 10], 4) }))).toMatch(/dimension 0 must be 2/);
  });

  it('inputs are validated against the symbols (a symbol used twice must agree)', () => {
    const m = modelOf({
      inputs: [{ name: 'a', dtype: 'f32', shape: ['N', 4] }, { name: 'b', dtype: 'f32', shape: ['N', 4] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13,
    });
    const p = lower(m);
    expect(p.symbols).toHaveLength(1);
    expect(errorOf(() => bindSymbols(p, { a: randomValues('f32', [2, 4], 1), b: randomValues('f32', [3, 4], 1) }))).toMatch(/input 'b'.*dimension 0 must be 2/);
    expect(errorOf(() => bindSymbols(p, { a: randomValues('f32', [2, 4], 1) }))).toMatch(/input 'b' is missing/);
    expect(errorOf(() => bindSymbols(p, { a: randomValues('i32', [2, 4], 1), b: randomValues('f32', [2, 4], 1) }))).toMatch(/dtype f32/);
  });
});

// ---------------------------------------------------------------- the memory plan

/** Runs a program with every temp and output placed in one arena at the plan's offsets. */
function runInArena(p: Program, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const sym = bindSymbols(p, feeds);
  const plan = planArena(p, sym);
  const arena = new ArrayBuffer(Math.max(plan.peakBytes, 16));
  const store = new Map<string, BufferData>();
  for (const b of p.buffers) {
    const n = Number(evalExpr(b.size, sym));
    if (b.kind === 'input') store.set(b.name, feeds[b.value!]!.data as BufferData);
    else if (b.kind === 'weight') {
      const data = allocBuffer(b.elem, n);
      decodeInto(p.weights.subarray(b.weight!.offset, b.weight!.offset + b.weight!.byteLength), b.elem, data as never, n);
      store.set(b.name, data);
    } else {
      expect(b.elem).toBe('f32');
      store.set(b.name, new Float32Array(arena, plan.offsets.get(b.name)!, n));
    }
  }
  for (const d of p.dispatches) {
    const k = p.kernels.find((x) => x.name === d.kernel)!;
    const buffers: Record<string, BufferData> = {};
    for (const [param, name] of Object.entries(d.buffers)) buffers[param] = store.get(name)!;
    const sizes: Record<string, number> = {};
    for (const [name, e] of Object.entries(d.sizes)) sizes[name] = Number(evalExpr(e, sym));
    interpretKernel(k, { buffers, sizes });
  }
  const out: Record<string, Tensor> = {};
  for (const io of p.outputs) {
    const shape = io.shape.map((e) => Number(evalExpr(e, sym)));
    out[io.name] = new Tensor(io.dtype, shape, Float32Array.from(store.get(io.buffer) as Float32Array));
  }
  return out;
}

/** A random DAG of f32 ops over a symbolic-batch input: every node reads one or two earlier values. */
const dagArb = fc.array(fc.record({ op: fc.constantFrom('Add', 'Mul', 'Sub', 'Relu', 'Sigmoid', 'ReduceMean', 'Transpose', 'Softmax'), a: fc.nat(), b: fc.nat() }), { minLength: 1, maxLength: 12 })
  .map((steps) => {
    const nodes: NodeSpec[] = [];
    const names = ['x'];
    steps.forEach((s, i) => {
      const a = names[s.a % names.length]!, b = names[s.b % names.length]!;
      const out = `v${i}`;
      if (s.op === 'Add' || s.op === 'Mul' || s.op === 'Sub') nodes.push({ op: s.op, inputs: [a, b], outputs: [out] });
      else if (s.op === 'ReduceMean') nodes.push({ op: s.op, inputs: [a], outputs: [out], attrs: { axes: [1], keepdims: 1 } });
      else if (s.op === 'Transpose') nodes.push({ op: s.op, inputs: [a], outputs: [out], attrs: { perm: [0, 2, 1] } });
      else if (s.op === 'Softmax') nodes.push({ op: s.op, inputs: [a], outputs: [out], attrs: { axis: -1 } });
      else nodes.push({ op: s.op, inputs: [a], outputs: [out] });
      names.push(out);
    });
    // Two outputs: the last value and one from the middle (it must survive to the end).
    const outs = [...new Set([names[names.length - 1]!, names[Math.floor(names.length / 2)]!])].filter((n) => n !== 'x');
    return { nodes, outs };
  });

describe('memory plan', () => {
  it('no two simultaneously live buffers overlap; running inside the planned arena gives the reference results', () => {
    fc.assert(fc.property(dagArb, fc.integer({ min: 1, max: 3 }), seedArb, ({ nodes, outs }, N, seed) => {
      if (outs.length === 0) return;
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 3, 3] }], outputs: outs.map((name) => ({ name, dtype: 'f32' as const })), nodes, opset: 11 });
      const p = lower(m);
      const plan = planArena(p, { N });
      const arena = p.buffers.filter((b) => b.kind === 'temp' || b.kind === 'output');
      for (const a of arena) {
        expect(plan.offsets.get(a.name)! % ARENA_ALIGN).toBe(0);
        for (const b of arena) {
          if (a === b) continue;
          const liveOverlap = a.live![0] <= b.live![1] && b.live![0] <= a.live![1];
          if (!liveOverlap) continue;
          const [oa, ob] = [plan.offsets.get(a.name)!, plan.offsets.get(b.name)!];
          const [sa, sb] = [plan.sizes.get(a.name)!, plan.sizes.get(b.name)!];
          expect(oa + sa <= ob || ob + sb <= oa || sa === 0 || sb === 0).toBe(true);
        }
      }
      // Every dispatch touches only buffers live at that dispatch.
      p.dispatches.forEach((d, i) => {
        for (const name of Object.values(d.buffers)) {
          const b = p.buffers.find((x) => x.name === name)!;
          if (b.live) expect(b.live[0] <= i && i <= b.live[1]).toBe(true);
        }
      });
      expect(plan.peakBytes).toBeGreaterThanOrEqual(plan.liveBound);
      expect(plan.peakBytes).toBeLessThanOrEqual(plan.totalBytes);
      const x = randomValues('f32', [N, 3, 3], seed);
      const ref = new ReferenceInterpreter(m).run({ x });
      const got = runInArena(p, { x });
      for (const name of outs) expect(compareTensors(got[name]!, ref[name] as Tensor, { rtol: 1e-4, atol: 1e-6 })).toBeUndefined();
    }), { numRuns: 30 });
  });

  it('reuses memory: a chain needs two buffers, not one per value', () => {
    const nodes: NodeSpec[] = Array.from({ length: 8 }, (_, i) => ({ op: i % 2 ? 'Relu' : 'Sigmoid', inputs: [i ? `v${i - 1}` : 'x'], outputs: [i === 7 ? 'y' : `v${i}`] }));
    const p = lower(modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [64] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes, opset: 13 }));
    const plan = planArena(p);
    expect(plan.totalBytes).toBe(8 * 64 * elemBytes('f32'));
    expect(plan.peakBytes).toBe(2 * 64 * 4);
    expect(plan.liveBound).toBe(2 * 64 * 4);
  });
});

describe('weights and outputs', () => {
  it('initializers and folded constants become weights; a graph output that is an input or a constant is copied', () => {
    const m = modelOf({
      inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3] }], outputs: [{ name: 'y', dtype: 'f32' }, { name: 'x2', dtype: 'f32' }, { name: 'k', dtype: 'i64' }],
      initializers: { w: randomValues('f32', [3], 1), k0: i64([1, 2, 3]) },
      nodes: [
        { op: 'Mul', inputs: ['w', 'w'], outputs: ['ww'] }, // folded at compile time
        { op: 'Add', inputs: ['x', 'ww'], outputs: ['y'] },
        { op: 'Identity', inputs: ['x'], outputs: ['x2'] },
        { op: 'Identity', inputs: ['k0'], outputs: ['k'] },
      ], opset: 13,
    });
    const p = lower(m);
    expect(p.buffers.filter((b) => b.kind === 'weight').length).toBe(2);
    expect(p.outputs.map((o) => p.buffers.find((b) => b.name === o.buffer)!.kind)).toEqual(['output', 'output', 'output']);
    expect(mismatch(m, { x: randomValues('f32', [2, 3], 2) })).toBeUndefined();
  });
});

describe('constant folding', () => {
  it('folds small constant computations into weights, but keeps big generators as fill kernels', () => {
    const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [512, 256] }], outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { s: i64([512, 256]) },
      nodes: [{ op: 'ConstantOfShape', inputs: ['s'], outputs: ['c'], attrs: { value: Tensor.from('f32', [1], [2]) } }, { op: 'Add', inputs: ['x', 'c'], outputs: ['y'] }], opset: 13 });
    const p = lower(m);
    expect(p.weights.length).toBe(0);
    expect(p.dispatches.length).toBe(2);
    expect(mismatch(m, { x: randomValues('f32', [512, 256], 1) })).toBeUndefined();
  });
});

describe('errors name the node and the op', () => {
  it('unsupported ops', () => {
    const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 3] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Det', name: 'det_node', inputs: ['x'], outputs: ['y'] }], opset: 13 });
    expect(errorOf(() => lower(m))).toBe(`node 'det_node' (Det): cannot be compiled for target kernel yet`);
    expect(errorOf(() => lower(m, { target: 'wasm' }))).toMatch(/cannot be compiled for target wasm yet/);
  });

  it('data-dependent output shapes', () => {
    const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [4] }], outputs: [{ name: 'y', dtype: 'i64' }],
      nodes: [{ op: 'NonZero', name: 'nz', inputs: ['x'], outputs: ['y'] }], opset: 13 });
    expect(errorOf(() => lower(m))).toBe(`node 'nz' (NonZero): op NonZero with data-dependent output shape cannot be compiled ahead of time`);
    const r = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [4] }, { name: 's', dtype: 'i64', shape: [2] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Reshape', name: 'rs', inputs: ['x', 's'], outputs: ['y'] }], opset: 13 });
    expect(errorOf(() => lower(r))).toMatch(/node 'rs' \(Reshape\): op Reshape with data-dependent output shape/);
    // The null-device runner specializes on such shape operands instead.
    const dev = new NullDevice(lower(r, { values: new Map([['s', i64([2, 2])]]) }));
    expect(dev.run({ x: randomValues('f32', [4], 1) }).y!.shape).toEqual([2, 2]);
  });

  it('symbolic inputs without a rank and unknown --shape names', () => {
    const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }], opset: 13 });
    expect(errorOf(() => lower(m, { shapes: new Map([['z', [1]]]) }))).toMatch(/--shape names 'z', which is not an input/);
    expect(errorOf(() => lower(m, { shapes: new Map([['x', [3]]]) }))).toMatch(/dimension 0 is 2 in the model, not 3/);
  });
});
