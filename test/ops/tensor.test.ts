// Tricky semantics of the tensor-manipulation ops: reshape rules, slicing bounds, padding modes,
// Unique ordering, error messages, and shape inference through Shape → Gather → Concat → Reshape chains.
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { makeInferContext, makeRunContext } from '../../ir/context.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import '../../ir/ops/index.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor, type RuntimeValue } from '../../ir/tensor.ts';
import { tensorType, typeToString, type ValueType } from '../../ir/types.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';

type Attrs = Record<string, Attr>;
const ints = (value: number[]): Attr => ({ kind: 'ints', value });
const int = (value: number): Attr => ({ kind: 'int', value });
const str = (value: string): Attr => ({ kind: 'string', value });

function makeNode(op: string, nIn: number, nOut: number, attrs: Attrs, omitted: number[] = []): Node {
  const inputs = Array.from({ length: nIn }, (_, i) => (omitted.includes(i) ? null : new Value(`in${i}`, undefined)));
  const outputs = Array.from({ length: nOut }, (_, i) => new Value(`out${i}`, undefined));
  return new Node('n', op, '', inputs, outputs, new Map(Object.entries(attrs)));
}

/** Runs one op through its schema with a minimal context; `undefined` inputs are omitted optionals. */
function run(op: string, inputs: (Tensor | undefined)[], attrs: Attrs = {}, opts: { opset?: number; outputs?: number } = {}): RuntimeValue[] {
  const opset = opts.opset ?? 17;
  const schema = lookupOp('', op, opset)!;
  const omitted = inputs.flatMap((t, i) => (t ? [] : [i]));
  const node = makeNode(op, inputs.length, opts.outputs ?? 1, attrs, omitted);
  const ctx = makeRunContext(node, schema, opset, inputs, () => { throw new Error('no graphs'); }, () => 0.5);
  return schema.run(ctx) as RuntimeValue[];
}

function infer(op: string, types: ValueType[], consts: (Tensor | undefined)[] = [], attrs: Attrs = {}, opset = 17): string[] {
  const schema = lookupOp('', op, opset)!;
  const node = makeNode(op, types.length, 1, attrs);
  let n = 0;
  const ctx = makeInferContext(node, schema, opset, types, consts, () => `s${n++}`, () => []);
  return schema.infer(ctx).map(typeToString);
}

const t = (v: RuntimeValue | undefined): Tensor => v as Tensor;
const vals = (v: RuntimeValue | undefined) => Array.from(t(v).data as ArrayLike<number | bigint | string>, (x) => (typeof x === 'bigint' ? Number(x) : x));
const f32 = (shape: number[], data?: number[]) => Tensor.from('f32', shape, data ?? Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));
const i64 = (data: number[], shape = [data.length]) => Tensor.from('i64', shape, data);

function errorOf(fn: () => unknown): string {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

describe('Reshape', () => {
  it('copies 0 dims and infers -1', () => {
    expect(t(run('Reshape', [f32([2, 3, 4]), i64([0, -1])])[0]).shape).toEqual([2, 12]);
  });
  it('allowzero keeps a literal 0', () => {
    expect(t(run('Reshape', [f32([0, 3, 4]), i64([3, 4, 0])], { allowzero: int(1) })[0]).shape).toEqual([3, 4, 0]);
  });
  it('rejects mismatched element counts and double -1', () => {
    expect(errorOf(() => run('Reshape', [f32([2, 3]), i64([4, 2])]))).toMatch(/cannot reshape \[2,3\]/);
    expect(errorOf(() => run('Reshape', [f32([2, 3]), i64([-1, -1])]))).toMatch(/more than one -1/);
  });
  it('opset 1 takes the shape attribute and accepts consumed_inputs', () => {
    expect(t(run('Reshape', [f32([2, 3])], { shape: ints([3, 2]), consumed_inputs: ints([0]) }, { opset: 1 })[0]).shape).toEqual([3, 2]);
  });
  it('infers -1 past symbolic dims that cancel', () => {
    const x = tensorType('f32', ['N', 3, 4]);
    expect(infer('Reshape', [x, tensorType('i64', [2])], [undefined, i64([0, -1])])).toEqual(['f32[N,12]']);
    expect(infer('Reshape', [x, tensorType('i64', [3])], [undefined, i64([-1, 2, 6])])).toEqual(['f32[s0,2,6]']);
  });
});

describe('Slice', () => {
  it('handles negative steps and INT64 bounds', () => {
    const x = f32([5]);
    const INT64_MAX = 9223372036854775807n, INT64_MIN = -9223372036854775808n;
    const big = (v: bigint) => Tensor.from('i64', [1], [v]);
    expect(vals(run('Slice', [x, big(-1n), big(INT64_MIN), i64([0]), i64([-1])])[0])).toEqual([4, 3, 2, 1, 0]);
    expect(vals(run('Slice', [x, i64([1]), big(INT64_MAX), undefined, i64([2])])[0])).toEqual([1, 3]);
    expect(vals(run('Slice', [x, i64([10]), i64([20])])[0])).toEqual([]);
  });
  it('keeps a symbolic dim only for whole-axis slices', () => {
    const x = tensorType('f32', ['N', 'M']);
    const c = (v: number[]) => i64(v);
    expect(infer('Slice', [x, tensorType('i64', [2]), tensorType('i64', [2]), tensorType('i64', [2])],
      [undefined, c([0, 1]), c([2 ** 62, 3]), c([0, 1])])).toEqual(['f32[N,s0]']);
  });
  it('rejects a zero step', () => {
    expect(errorOf(() => run('Slice', [f32([5]), i64([0]), i64([5]), i64([0]), i64([0])]))).toMatch(/step cannot be 0/);
  });
  it('opset 1 uses attributes', () => {
    const y = t(run('Slice', [f32([2, 4])], { starts: ints([0, 1]), ends: ints([-1, 1000]) }, { opset: 1 })[0]);
    expect(y.shape).toEqual([1, 3]);
    expect(vals(y)).toEqual([1, 2, 3]);
  });
});

describe('Pad', () => {
  it('reflects periodically when pads exceed the axis', () => {
    const y = run('Pad', [f32([3], [1, 2, 3]), i64([5, 0])], { mode: str('reflect') })[0];
    expect(vals(y)).toEqual([2, 1, 2, 3, 2, 1, 2, 3]);
  });
  it('edge pads and crops with negative pads', () => {
    expect(vals(run('Pad', [f32([3], [1, 2, 3]), i64([2, -1])], { mode: str('edge') })[0])).toEqual([1, 1, 1, 2]);
  });
  it('uses constant_value and the legacy paddings attribute', () => {
    expect(vals(run('Pad', [f32([2], [1, 2]), i64([1, 1]), Tensor.scalar('f32', 9)])[0])).toEqual([9, 1, 2, 9]);
    expect(vals(run('Pad', [f32([2], [1, 2])], { paddings: ints([0, 1]), value: { kind: 'float', value: 7 } }, { opset: 1 })[0])).toEqual([1, 2, 7]);
  });
});

describe('indexing', () => {
  it('Gather reports out-of-bounds indices', () => {
    expect(errorOf(() => run('Gather', [f32([4]), i64([7])]))).toMatch(/indices value 7 is out of bounds for axis 0 of size 4/);
  });
  it('GatherND with batch_dims', () => {
    const x = Tensor.from('i32', [2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7]);
    expect(vals(run('GatherND', [x, i64([1, 0], [2, 1])], { batch_dims: int(1) })[0])).toEqual([2, 3, 4, 5]);
  });
  it('ScatterElements add accumulates duplicates; ScatterND mul multiplies', () => {
    const y = run('ScatterElements', [f32([1, 3], [1, 2, 3]), i64([1, 1], [1, 2]), f32([1, 2], [10, 20])], { axis: int(1), reduction: str('add') });
    expect(vals(y[0])).toEqual([1, 32, 3]);
    const z = run('ScatterND', [f32([3], [1, 2, 3]), i64([2, 2], [2, 1]), f32([2], [5, 5])], { reduction: str('mul') });
    expect(vals(z[0])).toEqual([1, 2, 75]);
  });
});

describe('Split and Concat', () => {
  it('splits by explicit lengths, or unevenly with a smaller last part', () => {
    const parts = run('Split', [f32([5]), i64([2, 3])], {}, { outputs: 2 });
    expect(parts.map((p) => vals(p))).toEqual([[0, 1], [2, 3, 4]]);
    expect(run('Split', [f32([5])], {}, { outputs: 2 }).map((p) => vals(p))).toEqual([[0, 1, 2], [3, 4]]);
    expect(errorOf(() => run('Split', [f32([5])], {}, { outputs: 4 }))).toMatch(/cannot be split into 4 parts/);
    expect(errorOf(() => run('Split', [f32([5]), i64([2, 2])], {}, { outputs: 2 }))).toMatch(/sums to 4/);
  });
  it('Concat names the mismatched dimension', () => {
    expect(errorOf(() => run('Concat', [f32([2, 3]), f32([2, 4])], { axis: int(0) }))).toMatch(/differ in dimension 1/);
  });
});

describe('Unique', () => {
  it('unsorted keeps first-occurrence order', () => {
    const [y, idx, inv, cnt] = run('Unique', [f32([6], [2, 1, 1, 3, 4, 3])], { sorted: int(0) }, { outputs: 4 });
    expect([vals(y), vals(idx), vals(inv), vals(cnt)]).toEqual([[2, 1, 3, 4], [0, 1, 3, 4], [0, 1, 1, 2, 3, 2], [1, 2, 2, 1]]);
  });
  it('sorted with an axis orders slices lexicographically', () => {
    const x = f32([3, 3], [1, 0, 0, 1, 0, 0, 0, 3, 4]);
    const [y, idx, inv, cnt] = run('Unique', [x], { axis: int(0) }, { outputs: 4 });
    expect(t(y).shape).toEqual([2, 3]);
    expect([vals(y), vals(idx), vals(inv), vals(cnt)]).toEqual([[0, 3, 4, 1, 0, 0], [2, 0], [1, 1, 0], [1, 2]]);
  });
});

describe('Constant and Dropout', () => {
  it('Constant value_ints / value_string', () => {
    const a = t(run('Constant', [], { value_ints: ints([1, 2]) })[0]);
    expect([a.dtype, a.shape, vals(a)]).toEqual(['i64', [2], [1, 2]]);
    expect(vals(run('Constant', [], { value_string: str('hi') })[0])).toEqual(['hi']);
    expect(errorOf(() => run('Constant', [], { value_int: int(1), value_float: { kind: 'float', value: 1 } }))).toMatch(/exactly one value attribute/);
  });
  it('Dropout in training with ratio 0 is the identity with an all-true mask', () => {
    const x = f32([4]);
    const [y, mask] = run('Dropout', [x, Tensor.scalar('f32', 0), Tensor.scalar('bool', true)], {}, { outputs: 2 });
    expect(vals(y)).toEqual([0, 1, 2, 3]);
    expect([t(mask).dtype, vals(mask)]).toEqual(['bool', [1, 1, 1, 1]]);
  });
  it('Dropout-7 mask has the data type', () => {
    expect(t(run('Dropout', [f32([2])], {}, { opset: 7, outputs: 2 })[1]).dtype).toBe('f32');
  });
});

describe('layout ops', () => {
  it('Tile and Expand', () => {
    expect(vals(run('Tile', [f32([2], [1, 2]), i64([3])])[0])).toEqual([1, 2, 1, 2, 1, 2]);
    const e = t(run('Expand', [f32([3, 1], [1, 2, 3]), i64([2, 1, 2])])[0]);
    expect([e.shape, vals(e)]).toEqual([[2, 3, 2], [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]]);
  });
  it('DepthToSpace CRD inverts SpaceToDepth only in DCR mode', () => {
    const x = f32([1, 1, 4, 6]);
    const s = t(run('SpaceToDepth', [x], { blocksize: int(2) })[0]);
    expect(s.shape).toEqual([1, 4, 2, 3]);
    expect(vals(run('DepthToSpace', [s], { blocksize: int(2), mode: str('DCR') })[0])).toEqual(vals(x));
  });
  it('Tile-1 repeats one axis given as scalar inputs', () => {
    const y = t(run('Tile', [f32([2, 2], [1, 2, 3, 4]), i64([2], []), i64([1], [])], {}, { opset: 1 })[0]);
    expect([y.shape, vals(y)]).toEqual([[2, 4], [1, 2, 1, 2, 3, 4, 3, 4]]);
  });
  it('opset 18: Split num_outputs and Pad axes', () => {
    expect(run('Split', [f32([7])], { num_outputs: int(3) }, { opset: 18, outputs: 3 }).map((p) => t(p).shape[0])).toEqual([3, 3, 1]);
    const y = t(run('Pad', [f32([2, 2], [1, 2, 3, 4]), i64([1, 0]), undefined, i64([-1])], {}, { opset: 18 })[0]);
    expect([y.shape, vals(y)]).toEqual([[2, 3], [0, 1, 2, 0, 3, 4]]);
  });
  it('Squeeze rejects a non-1 axis; Unsqueeze rejects repeated axes', () => {
    expect(errorOf(() => run('Squeeze', [f32([2, 3]), i64([0])]))).toMatch(/cannot squeeze axis 0 of size 2/);
    expect(errorOf(() => run('Unsqueeze', [f32([2]), i64([0, 0])]))).toMatch(/repeated/);
  });
});

describe('shape inference through shape arithmetic', () => {
  it('Shape → Gather → Unsqueeze → Concat → Reshape keeps the symbolic batch and folds the rest', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 3, 4] }],
      outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { idx: Tensor.scalar('i64', 0), ax: i64([0]), rest: i64([-1]) },
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'] },
        { op: 'Gather', inputs: ['s', 'idx'], outputs: ['n'], attrs: { axis: 0 } },
        { op: 'Unsqueeze', inputs: ['n', 'ax'], outputs: ['n1'] },
        { op: 'Concat', inputs: ['n1', 'rest'], outputs: ['target'], attrs: { axis: 0 } },
        { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
      ],
    };
    const model = importOnnx(buildModel(spec));
    inferModel(model);
    const y = model.graph.outputs[0]!;
    // The batch value is unknown at compile time, so only the rank is static.
    expect(typeToString(y.type)).toMatch(/^f32\[[^,\]]+,[^,\]]+\]$/);
  });
  it('Reshape by a constant target resolves -1 against static dims', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4] }],
      outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { a: i64([2]), b: i64([-1]) },
      nodes: [
        { op: 'Concat', inputs: ['a', 'b'], outputs: ['target'], attrs: { axis: 0 } },
        { op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] },
      ],
    };
    const model = importOnnx(buildModel(spec));
    inferModel(model);
    expect(typeToString(model.graph.outputs[0]!.type)).toBe('f32[2,12]');
  });
  it('Shape and Size name their values when the input shape is static', () => {
    const schema = lookupOp('', 'Shape', 17)! as unknown as { constantOutputs(ctx: unknown): (Tensor | undefined)[] };
    const node = makeNode('Shape', 1, 1, { start: int(1) });
    const ctx = makeInferContext(node, lookupOp('', 'Shape', 17)!, 17, [tensorType('f32', [2, 3, 4])], [undefined], () => 's', () => []);
    expect(vals(schema.constantOutputs(ctx)[0])).toEqual([3, 4]);
  });
});
