// Reductions, softmax, MatMul/Gemm, Conv/ConvTranspose, pooling and normalizations lowered to kernels
// agree with the reference interpreter on random shapes and attributes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';
import { expectSame, mismatch, modelOf, randomValues, RUNS, seedArb } from './helpers.ts';

const shape = (min: number, max: number, dmin = 1, dmax = 4) => fc.array(fc.integer({ min: dmin, max: dmax }), { minLength: min, maxLength: max });

describe('reductions', () => {
  const OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSumExp', 'ReduceSumSquare', 'ReduceLogSum'];
  it('any axes subset, keepdims on and off, float and integer dtypes', () => {
    fc.assert(fc.property(fc.constantFrom(...OPS), fc.constantFrom<DType>('f32', 'f16', 'i32', 'i64'), shape(1, 4), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), fc.boolean(), seedArb,
      (op, dtype, s, pick, keep, seed) => {
        if (op === 'ReduceLogSum' && dtype !== 'f32') return;
        const axes = s.map((_, i) => i).filter((i) => pick[i]);
        const m = modelOf({ inputs: [{ name: 'x', dtype, shape: s }], outputs: [{ name: 'y', dtype }],
          nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs: { keepdims: keep ? 1 : 0, ...(axes.length ? { axes } : {}) } }], opset: 11 });
        const x = op === 'ReduceLogSum' ? Tensor.from('f32', s, Array.from(randomValues('f32', s, seed).data as Float32Array, Math.abs)) : randomValues(dtype, s, seed, { range: 2 });
        expect(mismatch(m, { x }, { rtol: 1e-3 })).toBeUndefined();
      }), RUNS);
  });

  it('ArgMax/ArgMin with select_last_index and ties', () => {
    const x = Tensor.from('f32', [2, 4], [1, 3, 3, 0, NaN, 2, NaN, -1]);
    for (const op of ['ArgMax', 'ArgMin']) for (const last of [0, 1]) for (const axis of [0, 1]) {
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 4] }], outputs: [{ name: 'y', dtype: 'i64' }],
        nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs: { axis, keepdims: axis, select_last_index: last } }], opset: 13 });
      expectSame(m, { x });
    }
  });

  it('Softmax/LogSoftmax/Hardmax (opset 13 axis semantics and the opset 11 2-D view) are numerically stable', () => {
    fc.assert(fc.property(fc.constantFrom('Softmax', 'LogSoftmax', 'Hardmax'), fc.constantFrom(11, 13), shape(1, 4), fc.nat(), seedArb, (op, opset, s, ax, seed) => {
      const axis = ax % s.length;
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: s }], outputs: [{ name: 'y', dtype: 'f32' }],
        nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs: { axis } }], opset });
      expect(mismatch(m, { x: randomValues('f32', s, seed, { range: 100 }) }, { atol: 1e-4 })).toBeUndefined();
    }), RUNS);
  });

  it('CumSum forward/reverse, inclusive/exclusive', () => {
    for (const [exclusive, reverse] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: { a: Tensor.scalar('i32', 1) }, nodes: [{ op: 'CumSum', inputs: ['x', 'a'], outputs: ['y'], attrs: { exclusive: exclusive!, reverse: reverse! } }], opset: 14 });
      expectSame(m, { x: randomValues('f32', [3, 4], 2) });
    }
  });
});

describe('MatMul and Gemm', () => {
  it('batched, broadcast batch dims, 1-D operands', () => {
    fc.assert(fc.property(shape(0, 2, 1, 3), shape(0, 2, 1, 3), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 5 }), fc.constantFrom(0, 1, 2), fc.constantFrom<DType>('f32', 'i32', 'f16'), seedArb,
      (ba, bb, M, K, N, oneD, dtype, seed) => {
        // Make the batch dims broadcast-compatible: the shorter one aligns right, mismatches become 1.
        const r = Math.max(ba.length, bb.length);
        const b2 = bb.map((d, i) => { const j = i + ba.length - bb.length; return j >= 0 && ba[j] !== d ? 1 : d; });
        const sa = oneD === 1 ? [K] : [...ba, M, K];
        const sb = oneD === 2 ? [K] : [...b2, K, N];
        void r;
        const m = modelOf({ inputs: [{ name: 'a', dtype, shape: sa }, { name: 'b', dtype, shape: sb }], outputs: [{ name: 'y', dtype }],
          nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13 });
        expect(mismatch(m, { a: randomValues(dtype, sa, seed, { range: 2 }), b: randomValues(dtype, sb, seed + 1, { range: 2 }) }, { rtol: 1e-3 })).toBeUndefined();
      }), RUNS);
  });

  it('Gemm: transposes, alpha/beta, broadcast C', () => {
    fc.assert(fc.property(fc.boolean(), fc.boolean(), fc.constantFrom(0.5, 1, 2), fc.constantFrom(0, 1, -1.5), fc.constantFrom('full', 'row', 'scalar', 'none'), seedArb, (tA, tB, alpha, beta, cKind, seed) => {
      const [M, K, N] = [3, 4, 5];
      const sc = cKind === 'full' ? [M, N] : cKind === 'row' ? [N] : [1];
      const m = modelOf({
        inputs: [{ name: 'a', dtype: 'f32', shape: tA ? [K, M] : [M, K] }, { name: 'b', dtype: 'f32', shape: tB ? [N, K] : [K, N] },
          ...(cKind === 'none' ? [] : [{ name: 'c', dtype: 'f32' as DType, shape: sc }])],
        outputs: [{ name: 'y', dtype: 'f32' }],
        nodes: [{ op: 'Gemm', inputs: cKind === 'none' ? ['a', 'b'] : ['a', 'b', 'c'], outputs: ['y'], attrs: { transA: tA ? 1 : 0, transB: tB ? 1 : 0, alpha: { float: alpha }, beta: { float: beta } } }], opset: 13,
      });
      const feeds: Record<string, Tensor> = { a: randomValues('f32', tA ? [K, M] : [M, K], seed), b: randomValues('f32', tB ? [N, K] : [K, N], seed + 1) };
      if (cKind !== 'none') feeds.c = randomValues('f32', sc, seed + 2);
      expect(mismatch(m, feeds, { rtol: 1e-3 })).toBeUndefined();
    }), RUNS);
  });
});

describe('Conv, ConvTranspose, pooling', () => {
  const convArb = fc.record({
    D: fc.constantFrom(1, 2), N: fc.integer({ min: 1, max: 2 }), group: fc.constantFrom(1, 2), cg: fc.integer({ min: 1, max: 2 }), mg: fc.integer({ min: 1, max: 2 }),
    size: fc.integer({ min: 3, max: 7 }), k: fc.integer({ min: 1, max: 3 }), stride: fc.integer({ min: 1, max: 2 }), dil: fc.integer({ min: 1, max: 2 }),
    pad: fc.integer({ min: 0, max: 2 }), auto: fc.constantFrom('NOTSET', 'SAME_UPPER', 'SAME_LOWER', 'VALID'), bias: fc.boolean(), seed: seedArb,
  });

  it('Conv: groups, pads, strides, dilations, auto_pad, 1-D and 2-D', () => {
    fc.assert(fc.property(convArb, (c) => {
      const sp = new Array<number>(c.D).fill(c.size);
      const ks = new Array<number>(c.D).fill(c.k);
      // The window must fit the padded input; only explicit pads (NOTSET) pad before SAME's own choice.
      if ((c.k - 1) * c.dil + 1 > c.size + 2 * (c.auto === 'NOTSET' ? c.pad : 0)) return;
      const C = c.cg * c.group, M = c.mg * c.group;
      const attrs: Record<string, number | number[] | string> = { group: c.group, strides: new Array(c.D).fill(c.stride), dilations: new Array(c.D).fill(c.dil), auto_pad: c.auto };
      if (c.auto === 'NOTSET') attrs.pads = new Array(2 * c.D).fill(c.pad);
      if (c.auto.startsWith('SAME') && c.dil > 1) return;
      const m = modelOf({
        inputs: [{ name: 'x', dtype: 'f32', shape: [c.N, C, ...sp] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: { w: randomValues('f32', [M, c.cg, ...ks], c.seed + 1), ...(c.bias ? { b: randomValues('f32', [M], c.seed + 2) } : {}) },
        nodes: [{ op: 'Conv', inputs: c.bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attrs }], opset: 13,
      });
      expect(mismatch(m, { x: randomValues('f32', [c.N, C, ...sp], c.seed) }, { rtol: 1e-3 })).toBeUndefined();
    }), RUNS);
  });

  it('ConvTranspose: groups, strides, pads, output_padding, dilations', () => {
    fc.assert(fc.property(convArb, fc.integer({ min: 0, max: 1 }), (c, op) => {
      const sp = new Array<number>(c.D).fill(c.size - 2);
      const ks = new Array<number>(c.D).fill(c.k);
      const C = c.cg * c.group, M = c.mg * c.group;
      const pad = Math.min(c.pad, c.k - 1);
      const full = c.stride * (c.size - 3) + Math.min(op, c.stride - 1) + (c.k - 1) * c.dil + 1;
      if (full - 2 * pad < 1) return;
      const attrs: Record<string, number | number[]> = {
        group: c.group, strides: new Array(c.D).fill(c.stride), dilations: new Array(c.D).fill(c.dil), pads: new Array(2 * c.D).fill(pad),
        output_padding: new Array(c.D).fill(Math.min(op, c.stride - 1)),
      };
      const m = modelOf({
        inputs: [{ name: 'x', dtype: 'f32', shape: [c.N, C, ...sp] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: { w: randomValues('f32', [C, c.mg, ...ks], c.seed + 1), ...(c.bias ? { b: randomValues('f32', [M], c.seed + 2) } : {}) },
        nodes: [{ op: 'ConvTranspose', inputs: c.bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attrs }], opset: 13,
      });
      expect(mismatch(m, { x: randomValues('f32', [c.N, C, ...sp], c.seed) }, { rtol: 1e-3 })).toBeUndefined();
    }), RUNS);
  });

  it('MaxPool (with indices), AveragePool (count_include_pad), LpPool, ceil_mode', () => {
    fc.assert(fc.property(fc.constantFrom('MaxPool', 'AveragePool', 'LpPool'), fc.constantFrom(1, 2), fc.integer({ min: 3, max: 7 }), fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 1 }), fc.boolean(), fc.boolean(), seedArb, (op, D, size, k, stride, pad, ceil, countPad, seed) => {
        const sp = new Array<number>(D).fill(size);
        if (pad >= k) return;
        const attrs: Record<string, number | number[]> = { kernel_shape: new Array(D).fill(k), strides: new Array(D).fill(stride), pads: new Array(2 * D).fill(pad) };
        if (op !== 'LpPool') attrs.ceil_mode = ceil ? 1 : 0;
        if (op === 'AveragePool') attrs.count_include_pad = countPad ? 1 : 0;
        const outs = op === 'MaxPool' ? ['y', 'i'] : ['y'];
        const m = modelOf({
          inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, ...sp] }],
          outputs: outs.map((n) => ({ name: n, dtype: (n === 'i' ? 'i64' : 'f32') as DType })),
          nodes: [{ op, inputs: ['x'], outputs: outs, attrs }], opset: op === 'LpPool' ? 11 : 12,
        });
        expect(mismatch(m, { x: randomValues('f32', [2, 3, ...sp], seed) }, { rtol: 1e-3 })).toBeUndefined();
      }), RUNS);
  });

  it('global pools', () => {
    for (const op of ['GlobalAveragePool', 'GlobalMaxPool']) {
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4, 5] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op, inputs: ['x'], outputs: ['y'] }], opset: 13 });
      expectSame(m, { x: randomValues('f32', [2, 3, 4, 5], 3) });
    }
  });
});

describe('normalizations', () => {
  it('BatchNormalization (folded constant parameters and run-time ones), InstanceNormalization, LRN', () => {
    const x = randomValues('f32', [2, 3, 4, 5], 1);
    const params = { s: randomValues('f32', [3], 2), b: randomValues('f32', [3], 3), m: randomValues('f32', [3], 4), v: Tensor.from('f32', [3], [0.5, 1, 2]) };
    const bnConst = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4, 5] }], outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: params, nodes: [{ op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['y'], attrs: { epsilon: { float: 1e-3 } } }], opset: 15 });
    expectSame(bnConst, { x });
    const bnRun = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4, 5] }, ...['s', 'b', 'm', 'v'].map((n) => ({ name: n, dtype: 'f32' as DType, shape: [3] }))],
      outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['y'] }], opset: 15 });
    expectSame(bnRun, { x, ...params });
    const inorm = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4, 5] }], outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { s: params.s, b: params.b }, nodes: [{ op: 'InstanceNormalization', inputs: ['x', 's', 'b'], outputs: ['y'] }], opset: 6 });
    expectSame(inorm, { x });
    const lrn = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4, 5] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'LRN', inputs: ['x'], outputs: ['y'], attrs: { size: 3, alpha: { float: 0.01 } } }], opset: 13 });
    expectSame(lrn, { x });
  });

  it('LayerNormalization with Mean and InvStdDev outputs, any axis', () => {
    fc.assert(fc.property(shape(1, 4, 1, 4), fc.nat(), fc.boolean(), seedArb, (s, ax, withBias, seed) => {
      const axis = ax % s.length;
      const ns = s.slice(axis);
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: s }], outputs: [{ name: 'y', dtype: 'f32' }, { name: 'mean', dtype: 'f32' }, { name: 'inv', dtype: 'f32' }],
        initializers: { g: randomValues('f32', ns, seed + 1), ...(withBias ? { b: randomValues('f32', ns, seed + 2) } : {}) },
        nodes: [{ op: 'LayerNormalization', inputs: withBias ? ['x', 'g', 'b'] : ['x', 'g'], outputs: ['y', 'mean', 'inv'], attrs: { axis } }], opset: 17 });
      expect(mismatch(m, { x: randomValues('f32', s, seed) }, { rtol: 1e-3 })).toBeUndefined();
    }), RUNS);
  });
});

describe('Resize', () => {
  it('nearest/linear/cubic with every coordinate mode (static tables)', () => {
    const modes: [string, string][] = [['nearest', 'half_pixel'], ['nearest', 'asymmetric'], ['nearest', 'align_corners'], ['linear', 'half_pixel'],
      ['linear', 'align_corners'], ['linear', 'pytorch_half_pixel'], ['cubic', 'half_pixel'], ['linear', 'asymmetric']];
    for (const [mode, coord] of modes) for (const scale of [2, 0.5, 1.5]) {
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [1, 2, 4, 6] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: { s: Tensor.from('f32', [4], [1, 1, scale, scale]) },
        nodes: [{ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], attrs: { mode, coordinate_transformation_mode: coord } }], opset: 13 });
      expect(mismatch(m, { x: randomValues('f32', [1, 2, 4, 6], 5) }, { rtol: 1e-3 }), `${mode} ${coord} ${scale}`).toBeUndefined();
    }
  });
});
