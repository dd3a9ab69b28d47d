// Focused checks of the reduce family's trickier semantics and error messages.
import { describe, expect, it } from 'vitest';
import { makeInferContext, makeRunContext } from '../../ir/context.ts';
import type { DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import { tensorType, type Dim, type ValueType } from '../../ir/types.ts';
import '../../ir/ops/index.ts';

type AttrValue = number | number[] | string;

function makeNode(op: string, nIn: number, nOut: number, attrs: Record<string, AttrValue>): Node {
  const map = new Map<string, Attr>();
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'string') map.set(k, { kind: 'string', value: v });
    else if (Array.isArray(v)) map.set(k, { kind: 'ints', value: v });
    else map.set(k, Number.isInteger(v) ? { kind: 'int', value: v } : { kind: 'float', value: v });
  }
  const ins = Array.from({ length: nIn }, (_, i) => new Value(`in${i}`, undefined));
  const outs = Array.from({ length: nOut }, (_, i) => new Value(`out${i}`, undefined));
  return new Node('n', op, '', ins, outs, map);
}

function run(op: string, opset: number, inputs: Tensor[], attrs: Record<string, AttrValue> = {}, nOut = 1): Tensor[] {
  const schema = lookupOp('', op, opset)!;
  const node = makeNode(op, inputs.length, nOut, attrs);
  const ctx = makeRunContext(node, schema, opset, inputs, () => [], () => 0);
  return schema.run(ctx) as Tensor[];
}

function infer(op: string, opset: number, types: ValueType[], attrs: Record<string, AttrValue> = {}, consts: (Tensor | undefined)[] = []) {
  const schema = lookupOp('', op, opset)!;
  const node = makeNode(op, types.length, 1, attrs);
  let k = 0;
  const ctx = makeInferContext(node, schema, opset, types, consts, (): Dim => `d${k++}`, () => []);
  return schema.infer(ctx);
}

const f32 = (shape: number[], v: number[]) => Tensor.from('f32', shape, v);
const i64 = (shape: number[], v: number[]) => Tensor.from('i64', shape, v);
const values = (t: Tensor) => t.toNumbers();
function errorOf(fn: () => unknown): string {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('Reduce*', () => {
  it('ReduceSum-13 takes axes as an input and honours noop_with_empty_axes', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(values(run('ReduceSum', 13, [x, i64([1], [-1])], { keepdims: 0 })[0]!)).toEqual([6, 15]);
    expect(run('ReduceSum', 13, [x], { noop_with_empty_axes: 1 })[0]).toBe(x);
    const all = run('ReduceSum', 13, [x, i64([0], [])], { keepdims: 0 })[0]!;
    expect(all.shape).toEqual([]);
    expect(values(all)).toEqual([21]);
  });

  it('integer sums wrap like int32', () => {
    const x = Tensor.from('i32', [2], [2147483647, 1]);
    expect(values(run('ReduceSum', 11, [x])[0]!)).toEqual([-2147483648]);
    const y = Tensor.from('i64', [2], [2n ** 62n, 2n ** 62n]);
    expect(run('ReduceSum', 11, [y])[0]!.data[0]).toBe(-(2n ** 63n));
  });

  it('an empty reduction gives the identity value', () => {
    const x = Tensor.zeros('f32', [0, 2]);
    expect(values(run('ReduceSum', 11, [x], { axes: [0] })[0]!)).toEqual([0, 0]);
    expect(values(run('ReduceProd', 11, [x], { axes: [0] })[0]!)).toEqual([1, 1]);
    expect(values(run('ReduceMax', 11, [x], { axes: [0] })[0]!)).toEqual([-Infinity, -Infinity]);
  });

  it('LogSumExp does not overflow on large inputs', () => {
    const r = run('ReduceLogSumExp', 13, [Tensor.from('f64', [2], [1000, 1000])], { keepdims: 0 })[0]!;
    expect(r.num(0)).toBeCloseTo(1000 + Math.log(2), 10);
  });

  it('rejects repeated and out-of-range axes', () => {
    const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(errorOf(() => run('ReduceMean', 13, [x], { axes: [1, -1] }))).toMatch(/axis -1 is repeated/);
    expect(errorOf(() => run('ReduceMean', 13, [x], { axes: [2] }))).toMatch(/axis 2 is out of range for rank 2/);
  });

  it('infers the rank when ReduceSum axes are not constant but their count is', () => {
    const [t] = infer('ReduceSum', 13, [tensorType('f32', [2, 3, 4]), tensorType('i64', [1])], { keepdims: 0 });
    expect(t).toMatchObject({ kind: 'tensor', dtype: 'f32' });
    expect((t as { shape: Dim[] }).shape).toHaveLength(2);
    const [k] = infer('ReduceSum', 13, [tensorType('f32', [2, 1, 4]), tensorType('i64', [1])], { keepdims: 1 });
    expect((k as { shape: Dim[] }).shape![1]).toBe(1);
  });
});

describe('ArgMax / ArgMin', () => {
  it('select_last_index picks the last of tied extremes', () => {
    const x = f32([1, 4], [3, 1, 3, 1]);
    expect(values(run('ArgMax', 13, [x], { axis: 1 })[0]!)).toEqual([0]);
    expect(values(run('ArgMax', 13, [x], { axis: 1, select_last_index: 1 })[0]!)).toEqual([2]);
    expect(values(run('ArgMin', 13, [x], { axis: 1, select_last_index: 1, keepdims: 0 })[0]!)).toEqual([3]);
  });
});

describe('Softmax family', () => {
  it('before opset 13 the input is coerced to 2-D at axis; from 13 one axis is normalized', () => {
    const x = f32([2, 2], [0, 0, 0, 0]);
    expect(values(run('Softmax', 11, [x], { axis: 0 })[0]!)).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(values(run('Softmax', 13, [x], { axis: 0 })[0]!)).toEqual([0.5, 0.5, 0.5, 0.5]);
  });

  it('Hardmax marks only the first maximum', () => {
    expect(values(run('Hardmax', 13, [f32([4], [1, 5, 5, 0])])[0]!)).toEqual([0, 1, 0, 0]);
  });

  it('opset 11 rejects an axis outside [-r, r-1]', () => {
    expect(errorOf(() => infer('Softmax', 11, [tensorType('f32', [4])]))).toMatch(/axis 1 is out of range for rank 1/);
  });
});

describe('CumSum', () => {
  it('exclusive and reverse combine', () => {
    const x = Tensor.from('f64', [4], [1, 2, 3, 4]);
    const axis = Tensor.scalar('i32', 0);
    expect(values(run('CumSum', 14, [x, axis], { exclusive: 1, reverse: 1 })[0]!)).toEqual([9, 7, 4, 0]);
    expect(values(run('CumSum', 14, [x, axis], { reverse: 1 })[0]!)).toEqual([10, 9, 7, 4]);
  });
});

describe('TopK', () => {
  it('breaks ties by the lower index for both largest and smallest', () => {
    const x = f32([5], [2, 7, 2, 7, 1]);
    const [v, i] = run('TopK', 11, [x, i64([1], [3])], {}, 2);
    expect(values(v!)).toEqual([7, 7, 2]);
    expect(values(i!)).toEqual([1, 3, 0]);
    const [, j] = run('TopK', 11, [x, i64([1], [3])], { largest: 0 }, 2);
    expect(values(j!)).toEqual([4, 0, 2]);
  });

  it('rejects K larger than the axis', () => {
    expect(errorOf(() => run('TopK', 10, [f32([2], [1, 2]), i64([1], [3])], {}, 2))).toMatch(/K 3 is larger than the axis size 2/);
  });
});

describe('losses', () => {
  it('NLL mean divides by the weight of the samples not ignored', () => {
    const logp = f32([2, 2], [-1, -2, -3, -4]);
    const target = i64([2], [0, 1]);
    expect(values(run('NegativeLogLikelihoodLoss', 13, [logp, target])[0]!)).toEqual([2.5]);
    expect(values(run('NegativeLogLikelihoodLoss', 13, [logp, target], { ignore_index: 1 })[0]!)).toEqual([1]);
    const w = f32([2], [1, 3]);
    expect(values(run('NegativeLogLikelihoodLoss', 13, [logp, target, w], { reduction: 'sum' })[0]!)).toEqual([13]);
  });

  it('a target outside [0, C) is an error', () => {
    const e = errorOf(() => run('NegativeLogLikelihoodLoss', 13, [f32([1, 2], [0, 0]), i64([1], [5])]));
    expect(e).toMatch(/target value 5 is out of bounds for 2 classes/);
  });
});

describe('Einsum', () => {
  const seq = (dtype: DType, shape: number[]) => Tensor.from(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i + 1));

  it('implicit output sorts single-use labels; ellipsis dims come first', () => {
    const x = seq('f32', [2, 3]);
    const t = run('Einsum', 12, [x], { equation: 'ba' })[0]!;
    expect(t.shape).toEqual([3, 2]);
    expect(values(t)).toEqual([1, 4, 2, 5, 3, 6]);
    const d = run('Einsum', 12, [seq('i64', [2, 3, 3])], { equation: '...ii' })[0]!;
    // 'i' is used twice, so the implicit output keeps only the ellipsis: a batched trace.
    expect(d.shape).toEqual([2]);
    expect(values(d)).toEqual([15, 42]);
  });

  it('repeated labels take diagonals and broadcasting ellipses align right', () => {
    expect(values(run('Einsum', 12, [seq('f64', [2, 2, 3])], { equation: 'iij->j' })[0]!)).toEqual([1 + 10, 2 + 11, 3 + 12]);
    const a = seq('f32', [2, 1, 2]), b = seq('f32', [3, 2]);
    const r = run('Einsum', 12, [a, b], { equation: '...j,...j->...' })[0]!;
    expect(r.shape).toEqual([2, 3]);
    expect(values(r)).toEqual([5, 11, 17, 11, 25, 39]);
  });

  it('explains a malformed equation', () => {
    const x = seq('f32', [2, 3]);
    expect(errorOf(() => run('Einsum', 12, [x], { equation: 'i->i' }))).toMatch(/input 0 has rank 2 but term 'i'/);
    expect(errorOf(() => run('Einsum', 12, [x], { equation: 'ij->k' }))).toMatch(/output label 'k' does not appear/);
    expect(errorOf(() => run('Einsum', 12, [x, x], { equation: 'ij->ij' }))).toMatch(/1 input terms but the node has 2 inputs/);
  });
});

describe('Det and LayerNormalization', () => {
  it('Det of a batch, with pivoting', () => {
    const x = Tensor.from('f64', [2, 2, 2], [0, 1, 1, 0, 2, 0, 0, 3]);
    expect(values(run('Det', 11, [x])[0]!)).toEqual([-1, 6]);
  });

  it('LayerNormalization broadcasts a lower-rank scale and returns the statistics', () => {
    const x = f32([2, 2], [1, 3, 0, 4]);
    const [y, mean, inv] = run('LayerNormalization', 17, [x, f32([1], [2]), f32([2], [0, 1])], { epsilon: 0 }, 3);
    expect(values(y!)).toEqual([-2, 3, -2, 3]);
    expect(mean!.shape).toEqual([2, 1]);
    expect(values(mean!)).toEqual([2, 2]);
    expect(values(inv!)).toEqual([1, 0.5]);
  });
});

describe('work limits', () => {
  it('an Einsum whose contraction would run for hours is an error, not a hang', () => {
    const a = Tensor.zeros('f32', [1 << 19]), b = Tensor.zeros('f32', [1 << 19]);
    expect(errorOf(() => run('Einsum', 12, [a, b], { equation: 'i,j->' }))).toMatch(/Einsum needs .* multiply-adds, more than the limit/);
  });
});
