// The remaining families lowered to kernels agree with the reference: quantization, TopK, Einsum, the
// losses, Trilu/ReverseSequence with run-time operands, Resize over symbolic axes, and the null-device
// runner's value specialization for shape operands given as inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kernelRunner } from '../../compiler/lower/null-device.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { Graph, Node, Value, type Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { Tensor } from '../../ir/tensor.ts';
import { tensorType } from '../../ir/types.ts';
import { verifyModel } from '../../ir/verify.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { expectSame, mismatch, modelOf, randomValues, RUNS, seedArb } from './helpers.ts';

const i64 = (vals: number[]) => Tensor.from('i64', [vals.length], vals);

describe('quantization', () => {
  it('QuantizeLinear / DequantizeLinear per tensor and per axis, u8 and i8', () => {
    for (const zdt of ['u8', 'i8'] as const) {
      const q = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4] }], outputs: [{ name: 'y', dtype: zdt }],
        initializers: { s: Tensor.from('f32', [3], [0.05, 0.1, 0.02]), z: Tensor.from(zdt, [3], [zdt === 'u8' ? 128 : 0, 3, zdt === 'u8' ? 10 : -7]) },
        nodes: [{ op: 'QuantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'], attrs: { axis: 1 } }], opset: 13 });
      expectSame(q, { x: randomValues('f32', [2, 3, 4], 3, { range: 8 }) });
      const d = modelOf({ inputs: [{ name: 'x', dtype: zdt, shape: [2, 3, 4] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: { s: Tensor.scalar('f32', 0.25), z: Tensor.scalar(zdt, 5) },
        nodes: [{ op: 'DequantizeLinear', inputs: ['x', 's', 'z'], outputs: ['y'] }], opset: 13 });
      expectSame(d, { x: randomValues(zdt, [2, 3, 4], 4) });
    }
  });

  it('DynamicQuantizeLinear, MatMulInteger, ConvInteger', () => {
    const dq = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4] }], outputs: [{ name: 'y', dtype: 'u8' }, { name: 's', dtype: 'f32' }, { name: 'z', dtype: 'u8' }],
      nodes: [{ op: 'DynamicQuantizeLinear', inputs: ['x'], outputs: ['y', 's', 'z'] }], opset: 11 });
    expectSame(dq, { x: randomValues('f32', [3, 4], 5) });
    const mm = modelOf({ inputs: [{ name: 'a', dtype: 'u8', shape: [2, 3, 4] }, { name: 'b', dtype: 'u8', shape: [4, 5] }], outputs: [{ name: 'y', dtype: 'i32' }],
      initializers: { za: Tensor.scalar('u8', 12), zb: Tensor.from('u8', [5], [1, 2, 3, 4, 5]) },
      nodes: [{ op: 'MatMulInteger', inputs: ['a', 'b', 'za', 'zb'], outputs: ['y'] }], opset: 10 });
    expectSame(mm, { a: randomValues('u8', [2, 3, 4], 6), b: randomValues('u8', [4, 5], 7) });
    const ci = modelOf({ inputs: [{ name: 'x', dtype: 'u8', shape: [1, 2, 4, 4] }], outputs: [{ name: 'y', dtype: 'i32' }],
      initializers: { w: randomValues('u8', [3, 2, 2, 2], 8), zx: Tensor.scalar('u8', 100) },
      nodes: [{ op: 'ConvInteger', inputs: ['x', 'w', 'zx'], outputs: ['y'], attrs: { pads: [1, 1, 0, 0] } }], opset: 10 });
    expectSame(ci, { x: randomValues('u8', [1, 2, 4, 4], 9) });
  });
});

describe('TopK, Einsum, losses', () => {
  it('TopK largest/smallest along any axis, with ties and NaN', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }), fc.nat(), fc.nat(), fc.boolean(), seedArb, (s, ax, kk, largest, seed) => {
      const axis = ax % s.length;
      const k = kk % (s[axis]! + 1);
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: s }], outputs: [{ name: 'v', dtype: 'f32' }, { name: 'i', dtype: 'i64' }],
        initializers: { k: i64([k]) }, nodes: [{ op: 'TopK', inputs: ['x', 'k'], outputs: ['v', 'i'], attrs: { axis, largest: largest ? 1 : 0 } }], opset: 11 });
      // Few distinct values: ties must keep the lower index first.
      const x = Tensor.from('f32', s, Array.from(randomValues('f32', s, seed).data as Float32Array, (v, i) => (i % 7 === 3 ? NaN : Math.round(v))));
      expect(mismatch(m, { x })).toBeUndefined();
    }), RUNS);
  });

  it('Einsum: matmul, batch matmul, transpose, trace/diagonal, sum, ellipsis', () => {
    const cases: [string, number[][]][] = [
      ['ij,jk->ik', [[2, 3], [3, 4]]], ['bij,bjk->bik', [[2, 2, 3], [2, 3, 2]]], ['ij->ji', [[2, 3]]], ['ii->i', [[3, 3]]],
      ['ij->', [[2, 3]]], ['i,i', [[4], [4]]], ['...ii->...i', [[2, 3, 3]]], ['bij,bkj->bik', [[2, 3, 2], [2, 4, 2]]],
    ];
    for (const [equation, shapes] of cases) {
      const m = modelOf({ inputs: shapes.map((s, i) => ({ name: `x${i}`, dtype: 'f32' as const, shape: s })), outputs: [{ name: 'y', dtype: 'f32' }],
        nodes: [{ op: 'Einsum', inputs: shapes.map((_, i) => `x${i}`), outputs: ['y'], attrs: { equation } }], opset: 12 });
      const feeds = Object.fromEntries(shapes.map((s, i) => [`x${i}`, randomValues('f32', s, i + 1)]));
      expect(mismatch(m, feeds), equation).toBeUndefined();
    }
  });

  it('NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: reductions, weights, ignore_index', () => {
    for (const reduction of ['none', 'sum', 'mean']) for (const weighted of [false, true]) {
      const attrs = { reduction, ignore_index: 1 };
      const nll = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4, 2] }, { name: 't', dtype: 'i64', shape: [3, 2] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: weighted ? { w: Tensor.from('f32', [4], [0.5, 1, 2, 0.25]) } : {},
        nodes: [{ op: 'NegativeLogLikelihoodLoss', inputs: weighted ? ['x', 't', 'w'] : ['x', 't'], outputs: ['y'], attrs }], opset: 13 });
      const feeds = { x: randomValues('f32', [3, 4, 2], 2), t: Tensor.from('i64', [3, 2], [0, 1, 3, 2, 1, 0]) };
      expectSame(nll, feeds);
      const sce = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4, 2] }, { name: 't', dtype: 'i64', shape: [3, 2] }], outputs: [{ name: 'y', dtype: 'f32' }, { name: 'lp', dtype: 'f32' }],
        initializers: weighted ? { w: Tensor.from('f32', [4], [0.5, 1, 2, 0.25]) } : {},
        nodes: [{ op: 'SoftmaxCrossEntropyLoss', inputs: weighted ? ['x', 't', 'w'] : ['x', 't'], outputs: ['y', 'lp'], attrs }], opset: 13 });
      expectSame(sce, feeds);
    }
  });
});

describe('recurrent ops', () => {
  const rnnArb = fc.record({
    kind: fc.constantFrom('RNN', 'GRU', 'LSTM'), dir: fc.constantFrom('forward', 'reverse', 'bidirectional'), seq: fc.integer({ min: 1, max: 4 }),
    batch: fc.integer({ min: 1, max: 3 }), input: fc.integer({ min: 1, max: 3 }), hidden: fc.integer({ min: 1, max: 3 }), bias: fc.boolean(),
    init: fc.boolean(), lens: fc.boolean(), layout: fc.constantFrom(0, 1), lbr: fc.boolean(), clip: fc.boolean(), peep: fc.boolean(), seed: seedArb,
  });
  it('RNN/GRU/LSTM: directions, biases, initial states, sequence lengths, layouts, clip, peepholes', () => {
    fc.assert(fc.property(rnnArb, (r) => {
      const G = r.kind === 'RNN' ? 1 : r.kind === 'GRU' ? 3 : 4;
      const D = r.dir === 'bidirectional' ? 2 : 1;
      const xs = r.layout === 0 ? [r.seq, r.batch, r.input] : [r.batch, r.seq, r.input];
      const ss = r.layout === 0 ? [D, r.batch, r.hidden] : [r.batch, D, r.hidden];
      const inits: Record<string, Tensor> = {
        W: randomValues('f32', [D, G * r.hidden, r.input], r.seed + 1, { range: 1 }), R: randomValues('f32', [D, G * r.hidden, r.hidden], r.seed + 2, { range: 1 }),
      };
      const inputs = ['x', 'W', 'R', '', '', ''];
      if (r.bias) { inits.B = randomValues('f32', [D, 2 * G * r.hidden], r.seed + 3, { range: 1 }); inputs[3] = 'B'; }
      if (r.lens && r.layout === 0) { inits.L = Tensor.from('i32', [r.batch], Array.from({ length: r.batch }, (_, b) => (b * 7 + r.seed) % (r.seq + 1))); inputs[4] = 'L'; }
      if (r.init) { inits.H0 = randomValues('f32', ss, r.seed + 4); inputs[5] = 'H0'; }
      if (r.kind === 'LSTM') {
        inputs.push(r.init ? 'C0' : '', r.peep ? 'P' : '');
        if (r.init) inits.C0 = randomValues('f32', ss, r.seed + 5);
        if (r.peep) inits.P = randomValues('f32', [D, 3 * r.hidden], r.seed + 6, { range: 1 });
      }
      while (inputs[inputs.length - 1] === '') inputs.pop();
      const attrs: Record<string, number | string | { float: number }> = { direction: r.dir, hidden_size: r.hidden, layout: r.layout };
      if (r.kind === 'GRU') attrs.linear_before_reset = r.lbr ? 1 : 0;
      if (r.clip) attrs.clip = { float: 0.5 };
      const outs = r.kind === 'LSTM' ? ['y', 'yh', 'yc'] : ['y', 'yh'];
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: xs }], outputs: outs.map((name) => ({ name, dtype: 'f32' as const })),
        initializers: inits, nodes: [{ op: r.kind, inputs, outputs: outs, attrs }], opset: 14 });
      expect(mismatch(m, { x: randomValues('f32', xs, r.seed) }, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined();
    }), RUNS);
  });
});

describe('If with a condition known at compile time', () => {
  /** y = If(Shape(x)[1] == 3) { Relu(x) } else { Neg(x) }, built in the graph IR (branches capture x). */
  function ifModel(): Model {
    const x = new Value('x', tensorType('f32', ['N', 'C']));
    const three = new Value('three', tensorType('i64', [1])), s = new Value('s', undefined), eq = new Value('eq', undefined);
    const cond = new Value('cond', undefined), y = new Value('y', undefined);
    const node = (...args: ConstructorParameters<typeof Node>) => {
      const n = new Node(...args);
      for (const o of n.outputs) if (o) o.producer = n;
      return n;
    };
    const branch = (op: string) => {
      const out = new Value(`${op}_out`, undefined);
      return new Graph(op, [], [out], [node(`${op}_node`, op, '', [x], [out])]);
    };
    const g = new Graph('main', [x], [y], [
      node('shape', 'Shape', '', [x], [s], new Map([['start', { kind: 'int', value: 1 }]])),
      node('eq', 'Equal', '', [s, three], [eq]),
      node('sq', 'Squeeze', '', [eq], [cond]),
      node('if', 'If', '', [cond], [y], new Map([['then_branch', { kind: 'graph', value: branch('Relu') }], ['else_branch', { kind: 'graph', value: branch('Neg') }]])),
    ]);
    g.initializers.set(three, Tensor.from('i64', [1], [3]));
    const model: Model = { graph: g, opsets: new Map([['', 15]]) };
    verifyModel(model);
    inferModel(model);
    return model;
  }

  it('lowers the taken branch in place when the condition follows from static dims; a symbolic one needs --shape', () => {
    const m = ifModel();
    expect(() => lower(m)).toThrow(/op If with data-dependent output shape/);
    for (const C of [3, 4]) {
      const p = lower(m, { shapes: new Map([['x', [2, C]]]) });
      expect(p.kernels.length).toBe(1);
      expect(mismatch(m, { x: randomValues('f32', [2, C], C) }, {}, p)).toBeUndefined();
    }
  });
});

describe('run-time operands and symbolic axes', () => {
  it('Trilu reads k at run time; ReverseSequence reads the lengths at run time', () => {
    const t = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 4, 5] }, { name: 'k', dtype: 'i64', shape: [] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Trilu', inputs: ['x', 'k'], outputs: ['y'], attrs: { upper: 0 } }], opset: 14 });
    const p = lower(t);
    for (const k of [-1, 0, 2]) expect(mismatch(t, { x: randomValues('f32', [2, 4, 5], 1), k: Tensor.scalar('i64', k) }, {}, p)).toBeUndefined();
    const r = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [4, 3, 2] }, { name: 'l', dtype: 'i64', shape: [3] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'ReverseSequence', inputs: ['x', 'l'], outputs: ['y'], attrs: { batch_axis: 1, time_axis: 0 } }], opset: 10 });
    expectSame(r, { x: randomValues('f32', [4, 3, 2], 2), l: i64([4, 1, 2]) });
  });

  it('Resize nearest/linear over symbolic spatial axes computes its taps in the kernel', () => {
    for (const [mode, coord] of [['nearest', 'asymmetric'], ['nearest', 'half_pixel'], ['linear', 'half_pixel'], ['linear', 'align_corners']]) {
      const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [1, 2, 'H', 'W'] }], outputs: [{ name: 'y', dtype: 'f32' }],
        initializers: { s: Tensor.from('f32', [4], [1, 1, 2, 2]) },
        nodes: [{ op: 'Resize', inputs: ['x', '', 's'], outputs: ['y'], attrs: { mode: mode!, coordinate_transformation_mode: coord! } }], opset: 13 });
      const p = lower(m);
      for (const [H, W] of [[3, 4], [5, 2]]) expect(mismatch(m, { x: randomValues('f32', [1, 2, H, W], H * W) }, { rtol: 1e-4 }, p), `${mode} ${coord}`).toBeUndefined();
    }
  });

  it('the null-device runner specializes on shape operands fed as inputs (one program per value set)', () => {
    const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [2, 6] }, { name: 's', dtype: 'i64', shape: [2] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Reshape', inputs: ['x', 's'], outputs: ['r'] }, { op: 'Softmax', inputs: ['r'], outputs: ['y'] }], opset: 13 });
    const runner = kernelRunner(m);
    const ref = new ReferenceInterpreter(m);
    for (const s of [[3, 4], [12, 1], [-1, 6]]) {
      const feeds = { x: randomValues('f32', [2, 6], 1), s: i64(s) };
      const got = runner.run(feeds).y!, want = ref.run(feeds).y as Tensor;
      expect(compareTensors(got, want, { rtol: 1e-5, atol: 1e-7 })).toBeUndefined();
    }
  });
});
