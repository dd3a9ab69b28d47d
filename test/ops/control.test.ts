// Control flow and sequence/optional ops: type merging, loop termination, scan layouts, error messages.
import { describe, expect, it } from 'vitest';
import { Graph, Node, Value, type Attr, type Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { Tensor, type RuntimeValue, type SequenceValue } from '../../ir/tensor.ts';
import { tensorType, type ValueType } from '../../ir/types.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';

const f32 = (shape?: (number | string)[]) => tensorType('f32', shape);
const i64s = tensorType('i64', []);
const bools = tensorType('bool', []);
const val = (name: string, type?: ValueType) => new Value(name, type);

let counter = 0;
function node(op: string, inputs: (Value | null)[], outputs: Value[], attrs: Record<string, Attr> = {}): Node {
  const n = new Node(`${op}_${counter++}`, op, '', inputs, outputs, new Map(Object.entries(attrs)));
  for (const o of outputs) o.producer = n;
  return n;
}
const graphAttr = (g: Graph): Attr => ({ kind: 'graph', value: g });
const int = (v: number): Attr => ({ kind: 'int', value: v });
const ints = (v: number[]): Attr => ({ kind: 'ints', value: v });
const model = (graph: Graph, opset = 17): Model => ({ graph, opsets: new Map([['', opset]]) });

function run(m: Model, feeds: Record<string, RuntimeValue>, deadlineMs?: number): Record<string, RuntimeValue> {
  inferModel(m);
  return new ReferenceInterpreter(m, { deadlineMs }).run(feeds);
}
const f32t = (shape: number[], values: number[]) => Tensor.from('f32', shape, values);
const i64t = (v: number) => Tensor.from('i64', [], [v]);
const boolt = (v: boolean) => Tensor.from('bool', [], [v]);
const values = (v: RuntimeValue | undefined) => [...((v as Tensor).data as Float32Array)];

describe('If', () => {
  it('merges branch shapes with fresh dims and runs the chosen branch', () => {
    const a = val('a', f32([2, 3])), b = val('b', f32([4, 3]));
    const thenG = new Graph('then', [], [a]);
    thenG.initializers.set(a, Tensor.zeros('f32', [2, 3]));
    const elseG = new Graph('else', [], [b]);
    elseG.initializers.set(b, Tensor.zeros('f32', [4, 3]));
    const cond = val('cond', bools), out = val('out');
    const g = new Graph('main', [cond], [out], [node('If', [cond], [out], { then_branch: graphAttr(thenG), else_branch: graphAttr(elseG) })]);
    const m = model(g);
    const res = run(m, { cond: boolt(false) });
    expect((res.out as Tensor).shape).toEqual([4, 3]);
    const t = out.type as { shape: (number | string)[] };
    expect(typeof t.shape[0]).toBe('string');
    expect(t.shape[1]).toBe(3);
  });

  it('rejects branches whose element types differ', () => {
    const a = val('a', f32([1])), b = val('b', i64s);
    const thenG = new Graph('then', [], [a]); thenG.initializers.set(a, Tensor.zeros('f32', [1]));
    const elseG = new Graph('else', [], [b]); elseG.initializers.set(b, Tensor.zeros('i64', []));
    const cond = val('cond', bools), out = val('out');
    const g = new Graph('main', [cond], [out], [node('If', [cond], [out], { then_branch: graphAttr(thenG), else_branch: graphAttr(elseG) })]);
    expect(() => inferModel(model(g))).toThrow(/output 0 is f32\[1\] in one case and i64\[\] in the other/);
  });
});

/** Loop body: y_out = y_in + y_in (doubles), scan_out = y_out; condition passed through. */
function doublingLoop(withCond: boolean, m: number | undefined) {
  const iter = val('iter', i64s), cin = val('cin', bools), yin = val('yin'), yout = val('yout'), cout = val('cout'), scan = val('scan');
  const body = new Graph('body', [iter, cin, yin], [cout, yout, scan], [
    node('Identity', [cin], [cout]),
    node('Add', [yin, yin], [yout]),
    node('Identity', [yout], [scan]),
  ]);
  const y = val('y', f32([2])), M = val('M', i64s), cond = val('cond', bools), yf = val('yf'), ys = val('ys');
  const g = new Graph('main', [y, ...(withCond ? [cond] : [])], [yf, ys]);
  const mIn = m === undefined ? null : M;
  if (m !== undefined) g.initializers.set(M, Tensor.from('i64', [], [m]));
  g.nodes.push(node('Loop', [mIn, withCond ? cond : null, y], [yf, ys], { body: graphAttr(body) }));
  return { g, yf, ys, body };
}

describe('Loop', () => {
  it('carries values, stacks scan outputs and knows the trip count when M is constant', () => {
    const { g, ys } = doublingLoop(false, 3);
    const res = run(model(g, 11), { y: f32t([2], [1, 2]) });
    expect(values(res.yf)).toEqual([8, 16]);
    expect((res.ys as Tensor).shape).toEqual([3, 2]);
    expect(values(res.ys)).toEqual([2, 4, 4, 8, 8, 16]);
    expect(ys.type).toEqual(f32([3, 2]));
  });

  it('stops on a false condition before the first iteration', () => {
    const { g } = doublingLoop(true, 5);
    const res = run(model(g, 11), { y: f32t([2], [1, 2]), cond: boolt(false) });
    expect(values(res.yf)).toEqual([1, 2]);
    expect((res.ys as Tensor).shape).toEqual([0, 2]);
  });

  it('rejects a loop with neither M nor cond', () => {
    const { g } = doublingLoop(false, undefined);
    expect(() => inferModel(model(g, 11))).toThrow(/neither a trip count M nor a condition/);
  });

  it('can be interrupted by the interpreter deadline', () => {
    const { g } = doublingLoop(true, undefined);
    const m = model(g, 11);
    inferModel(m);
    const interp = new ReferenceInterpreter(m, { deadlineMs: 50 });
    expect(() => interp.run({ y: f32t([2], [0, 0]), cond: boolt(true) })).toThrow(/time limit/);
  });

  it('widens a carried shape that grows across iterations', () => {
    // x_out = ConcatFromSequence(SequenceConstruct(x_in, x_in)): the length doubles every iteration.
    const iter = val('iter', i64s), cin = val('cin', bools), xin = val('xin'), s = val('s'), xout = val('xout'), cout = val('cout');
    const body = new Graph('body', [iter, cin, xin], [cout, xout], [
      node('Identity', [cin], [cout]),
      node('SequenceConstruct', [xin, xin], [s]),
      node('ConcatFromSequence', [s], [xout], { axis: int(0) }),
    ]);
    const x = val('x', f32([1])), M = val('M', i64s), xf = val('xf');
    const g = new Graph('main', [x], [xf], [node('Loop', [M, null, x], [xf], { body: graphAttr(body) })]);
    g.initializers.set(M, Tensor.from('i64', [], [3]));
    const res = run(model(g, 13), { x: f32t([1], [5]) });
    expect((res.xf as Tensor).shape).toEqual([8]);
    expect(typeof (xin.type as { shape: unknown[] }).shape[0]).toBe('string');
  });

  it('a body without nodes is interrupted by the deadline too', () => {
    const iter = val('iter', i64s), cin = val('cin', bools), a = val('a', f32([1])), b = val('b', f32([1]));
    const body = new Graph('body', [iter, cin, a, b], [cin, b, a]);
    const x = val('x', f32([1])), y = val('y', f32([1])), M = val('M', i64s), xf = val('xf'), yf = val('yf');
    const g = new Graph('main', [x, y], [xf, yf], [node('Loop', [M, null, x, y], [xf, yf], { body: graphAttr(body) })]);
    g.initializers.set(M, Tensor.from('i64', [], [2n ** 62n]));
    const m = model(g, 13);
    inferModel(m);
    const interp = new ReferenceInterpreter(m, { deadlineMs: 50 });
    expect(() => interp.run({ x: f32t([1], [1]), y: f32t([1], [2]) })).toThrow(/time limit/);
  });
});

describe('Scan', () => {
  it('scans a non-zero axis in reverse and prepends along output axis 1 (opset 11)', () => {
    const sin = val('sin'), e = val('e'), sout = val('sout'), so = val('so');
    const body = new Graph('body', [sin, e], [sout, so], [node('Add', [sin, e], [sout]), node('Identity', [sout], [so])]);
    const init = val('init', f32([2])), x = val('x', f32([2, 3])), fin = val('fin'), ys = val('ys');
    const g = new Graph('main', [init, x], [fin, ys], [node('Scan', [init, x], [fin, ys], {
      body: graphAttr(body), num_scan_inputs: int(1), scan_input_axes: ints([-1]), scan_input_directions: ints([1]),
      scan_output_axes: ints([1]), scan_output_directions: ints([1]),
    })]);
    const res = run(model(g, 11), { init: f32t([2], [0, 0]), x: f32t([2, 3], [1, 2, 3, 10, 20, 30]) });
    // Elements in reverse: [3,30], [2,20], [1,10]; running sums [3,30], [5,50], [6,60]; prepended.
    expect(values(res.fin)).toEqual([6, 60]);
    expect((res.ys as Tensor).shape).toEqual([2, 3]);
    expect(values(res.ys)).toEqual([6, 5, 3, 60, 50, 30]);
    expect(ys.type).toEqual(f32([2, 3]));
  });

  it('rejects negative axes before opset 11', () => {
    const sin = val('sin'), e = val('e'), sout = val('sout');
    const body = new Graph('body', [sin, e], [sout], [node('Add', [sin, e], [sout])]);
    const init = val('init', f32([2])), x = val('x', f32([3, 2])), fin = val('fin');
    const g = new Graph('main', [init, x], [fin], [node('Scan', [init, x], [fin], {
      body: graphAttr(body), num_scan_inputs: int(1), scan_input_axes: ints([-2]),
    })]);
    expect(() => inferModel(model(g, 9))).toThrow(/negative axes need opset 11/);
  });

  it('opset 8: batches, honours sequence_lens and pads the scan output with zeros', () => {
    const sin = val('sin'), e = val('e'), sout = val('sout'), so = val('so');
    const body = new Graph('body', [sin, e], [sout, so], [node('Add', [sin, e], [sout]), node('Identity', [sout], [so])]);
    const lens = val('lens', tensorType('i64', [2])), init = val('init', f32([2, 1])), x = val('x', f32([2, 3, 1])), fin = val('fin'), ys = val('ys');
    const g = new Graph('main', [lens, init, x], [fin, ys], [node('Scan', [lens, init, x], [fin, ys], {
      body: graphAttr(body), num_scan_inputs: int(1),
    })]);
    const res = run(model(g, 8), {
      lens: Tensor.from('i64', [2], [3, 1]), init: f32t([2, 1], [0, 100]), x: f32t([2, 3, 1], [1, 2, 3, 4, 5, 6]),
    });
    expect(values(res.fin)).toEqual([6, 104]);
    expect(values(res.ys)).toEqual([1, 3, 6, 104, 0, 0]);
  });
});

describe('sequences', () => {
  function seqModel(build: (g: Graph) => void, inputs: Value[], outputs: Value[], opset = 17): Model {
    const g = new Graph('main', inputs, outputs);
    build(g);
    return model(g, opset);
  }
  const seqOf = (items: Tensor[]): SequenceValue => ({ kind: 'sequence', dtype: items[0]?.dtype, items });

  it('SequenceInsert/Erase/At with negative and default positions', () => {
    const s = val('s', { kind: 'sequence', elem: f32(undefined) }), t = val('t', f32([1])), p = val('p', i64s);
    const s1 = val('s1'), s2 = val('s2'), at = val('at'), len = val('len');
    const m = seqModel((g) => {
      g.nodes.push(node('SequenceInsert', [s, t, p], [s1]));
      g.nodes.push(node('SequenceErase', [s1], [s2]));
      g.nodes.push(node('SequenceAt', [s2, p], [at]));
      g.nodes.push(node('SequenceLength', [s2], [len]));
    }, [s, t, p], [at, len]);
    const res = run(m, { s: seqOf([f32t([1], [1]), f32t([1], [2]), f32t([1], [3])]), t: f32t([1], [9]), p: i64t(-1) });
    // Insert at -1: [1,2,9,3]; erase last: [1,2,9]; at -1: 9.
    expect(values(res.at)).toEqual([9]);
    expect(Number((res.len as Tensor).data[0])).toBe(3);
  });

  it('SequenceAt names the valid range when out of bounds', () => {
    const s = val('s', { kind: 'sequence', elem: f32([1]) }), p = val('p', i64s), at = val('at');
    const m = seqModel((g) => g.nodes.push(node('SequenceAt', [s, p], [at])), [s, p], [at]);
    expect(() => run(m, { s: seqOf([f32t([1], [1]), f32t([1], [2])]), p: i64t(2) }))
      .toThrow(/position 2 is out of range \[-2, 1\] for a sequence of 2 tensors/);
  });

  it('SplitToSequence with a scalar split leaves a smaller last chunk; keepdims=0 drops the axis', () => {
    const x = val('x', f32([5, 2])), sp = val('sp', i64s), s = val('s'), u = val('u'), a = val('a'), b = val('b'), last = val('last');
    const zero = val('zero', i64s);
    const m = seqModel((g) => {
      g.initializers.set(zero, Tensor.from('i64', [], [-1]));
      g.nodes.push(node('SplitToSequence', [x, sp], [s]));
      g.nodes.push(node('SequenceAt', [s, zero], [last]));
      g.nodes.push(node('SplitToSequence', [x], [u], { axis: int(1), keepdims: int(0) }));
      g.nodes.push(node('SequenceAt', [u, zero], [a]));
      g.nodes.push(node('SequenceLength', [s], [b]));
    }, [x, sp], [last, a, b]);
    const res = run(m, { x: f32t([5, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), sp: i64t(2) });
    expect((res.last as Tensor).shape).toEqual([1, 2]);
    expect(values(res.last)).toEqual([8, 9]);
    expect((res.a as Tensor).shape).toEqual([5]);
    expect(values(res.a)).toEqual([1, 3, 5, 7, 9]);
    expect(Number((res.b as Tensor).data[0])).toBe(3);
  });

  it('ConcatFromSequence stacks on a new trailing axis', () => {
    const s = val('s', { kind: 'sequence', elem: f32([2]) }), out = val('out');
    const m = seqModel((g) => g.nodes.push(node('ConcatFromSequence', [s], [out], { axis: int(-1), new_axis: int(1) })), [s], [out]);
    const res = run(m, { s: seqOf([f32t([2], [1, 2]), f32t([2], [3, 4]), f32t([2], [5, 6])]) });
    expect((res.out as Tensor).shape).toEqual([2, 3]);
    expect(values(res.out)).toEqual([1, 3, 5, 2, 4, 6]);
  });

  it('SequenceMap applies the body per element with a tensor broadcast to every call', () => {
    const e = val('e'), k = val('k'), o = val('o');
    const body = new Graph('body', [e, k], [o], [node('Add', [e, k], [o])]);
    const s = val('s', { kind: 'sequence', elem: f32(['N']) }), c = val('c', f32([1])), out = val('out');
    const m = seqModel((g) => g.nodes.push(node('SequenceMap', [s, c], [out], { body: graphAttr(body) })), [s, c], [out]);
    const res = run(m, { s: seqOf([f32t([2], [1, 2]), f32t([1], [3])]), c: f32t([1], [10]) });
    const items = (res.out as SequenceValue).items;
    expect(items.map(values)).toEqual([[11, 12], [13]]);
  });
});

describe('optionals', () => {
  it('OptionalHasElement-18 treats an omitted input as empty; OptionalGetElement rejects an empty optional', () => {
    const has = val('has'), o = val('o'), got = val('got');
    const g = new Graph('main', [], [has, got], [
      node('OptionalHasElement', [null], [has]),
      node('Optional', [], [o], { type: { kind: 'type', value: f32([2]) } }),
      node('OptionalGetElement', [o], [got]),
    ]);
    const m = model(g, 18);
    inferModel(m);
    expect(got.type).toEqual(f32([2]));
    expect(() => new ReferenceInterpreter(m).run({})).toThrow(/optional input is empty/);
  });

  it('Optional wraps a value that OptionalHasElement sees', () => {
    const x = val('x', f32([1])), o = val('o'), has = val('has');
    const g = new Graph('main', [x], [has], [node('Optional', [x], [o]), node('OptionalHasElement', [o], [has])]);
    const res = run(model(g, 15), { x: f32t([1], [1]) });
    expect((res.has as Tensor).data[0]).toBe(1);
  });
});
