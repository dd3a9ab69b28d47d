// Focused tests of the recurrent ops (RNN, GRU, LSTM) in ir/ops/rnn.ts.
import { describe, expect, it } from 'vitest';
import { makeInferContext, makeRunContext } from '../../ir/context.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import { tensorType, typeToString, type Dim } from '../../ir/types.ts';
import '../../ir/ops/rnn.ts';

type AttrValue = number | string | string[] | { float: number } | { floats: number[] };

function toAttr(v: AttrValue): Attr {
  if (typeof v === 'number') return { kind: 'int', value: v };
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (Array.isArray(v)) return { kind: 'strings', value: v };
  return 'float' in v ? { kind: 'float', value: v.float } : { kind: 'floats', value: v.floats };
}

const OUTPUTS = { RNN: 2, GRU: 2, LSTM: 3 } as const;

function makeNode(op: keyof typeof OUTPUTS, inputs: unknown[], attrs: Record<string, AttrValue>, skipY = false): Node {
  return new Node('n', op, '',
    inputs.map((t, i) => (t ? new Value(`in${i}`, undefined) : null)),
    Array.from({ length: OUTPUTS[op] }, (_, i) => (skipY && i === 0 ? null : new Value(`out${i}`, undefined))),
    new Map(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])));
}

function run(op: keyof typeof OUTPUTS, inputs: (Tensor | undefined)[], attrs: Record<string, AttrValue> = {},
  opset = 17, skipY = false): (Tensor | undefined)[] {
  const schema = lookupOp('', op, opset)!;
  const node = makeNode(op, inputs, attrs, skipY);
  return schema.run(makeRunContext(node, schema, opset, inputs, () => { throw new Error('no sub-graphs'); }, () => 0.5)) as Tensor[];
}

function infer(op: keyof typeof OUTPUTS, shapes: (Dim[] | undefined | null)[], attrs: Record<string, AttrValue> = {}, opset = 17): string[] {
  const schema = lookupOp('', op, opset)!;
  const node = makeNode(op, shapes.map((s) => s !== null), attrs);
  const types = shapes.map((s, i) => (s === null ? undefined : tensorType(i === 4 ? 'i32' : 'f32', s)));
  let fresh = 0;
  const ctx = makeInferContext(node, schema, opset, types, [], () => `d${fresh++}`, () => []);
  return schema.infer(ctx).map(typeToString);
}

const f32 = (shape: number[], values: number[]) => Tensor.from('f32', shape, values);
const values = (t: Tensor | undefined) => Array.from(t!.data as Float32Array);

/** Deterministic pseudo-random values in [-1, 1). */
function seeded(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => { s = (s * 1103515245 + 12345) % 2147483648; return (s / 2147483648) * 2 - 1; });
}

describe('RNN', () => {
  it('runs the plain recurrence Ht = tanh(Xt·W + Ht-1·R)', () => {
    const [y, yh] = run('RNN', [f32([2, 1, 1], [1, 0]), f32([1, 1, 1], [2]), f32([1, 1, 1], [0.5])], { hidden_size: 1 });
    const h1 = Math.tanh(2), h2 = Math.tanh(0.5 * h1);
    expect(y!.shape).toEqual([2, 1, 1, 1]);
    expect(values(y)[0]).toBeCloseTo(h1, 6);
    expect(values(y)[1]).toBeCloseTo(h2, 6);
    expect(values(yh)).toEqual([values(y)[1]]);
  });

  it('reverses within each sequence length and zero-fills padded steps', () => {
    // Identity-like weights with Relu: H accumulates X in the order the steps are taken.
    const x = f32([3, 2, 1], [1, 10, 2, 20, 3, 30]);
    const [y, yh] = run('RNN', [x, f32([1, 1, 1], [1]), f32([1, 1, 1], [2]), undefined, Tensor.from('i32', [2], [3, 1])],
      { hidden_size: 1, direction: 'reverse', activations: ['Relu'] });
    // batch 0: t=2: 3; t=1: 2+6=8; t=0: 1+16=17. batch 1 (length 1): t=0: 10, then padding.
    expect(values(y)).toEqual([17, 10, 8, 0, 3, 0]);
    expect(values(yh)).toEqual([17, 10]);
  });

  it('gives zero final states for a zero-length sequence', () => {
    const [y, yh] = run('RNN', [f32([1, 1, 1], [5]), f32([1, 1, 1], [1]), f32([1, 1, 1], [1]), undefined,
      Tensor.from('i32', [1], [0]), f32([1, 1, 1], [0.7])], { hidden_size: 1 });
    expect(values(y)).toEqual([0]);
    expect(values(yh)).toEqual([0]);
  });

  it('consumes activation_alpha/beta only for the functions that take them, in order', () => {
    // Forward uses LeakyRelu(alpha 0.1), reverse HardSigmoid(alpha 0.3, beta from the list: 0.25).
    const [, yh] = run('RNN', [f32([1, 1, 1], [-2]), f32([2, 1, 1], [1, 1]), f32([2, 1, 1], [0, 0])],
      { hidden_size: 1, direction: 'bidirectional', activations: ['LeakyRelu', 'HardSigmoid'],
        activation_alpha: { floats: [0.1, 0.3] }, activation_beta: { floats: [0.25] } });
    expect(values(yh)[0]).toBeCloseTo(-0.2, 6);
    expect(values(yh)[1]).toBeCloseTo(0, 6); // 0.3·-2 + 0.25 < 0 → 0
  });

  it('clips the input of the activation', () => {
    const [, yh] = run('RNN', [f32([1, 1, 1], [5]), f32([1, 1, 1], [1]), f32([1, 1, 1], [0])],
      { hidden_size: 1, activations: ['Relu'], clip: { float: 1.5 } });
    expect(values(yh)).toEqual([1.5]);
  });

  it('rejects malformed weights, lengths and activations with clear errors', () => {
    const x = f32([1, 1, 2], [1, 2]);
    expect(() => run('RNN', [x, f32([1, 1, 3], [1, 2, 3]), f32([1, 1, 1], [0])], { hidden_size: 1 }))
      .toThrow('W must have shape [1,1,2], got [1,1,3]');
    expect(() => run('RNN', [x, f32([1, 1, 2], [1, 2]), f32([1, 1, 1], [0]), undefined, Tensor.from('i32', [1], [4])], {}))
      .toThrow('sequence_lens value 4 at batch 0 is out of range [0, 1]');
    expect(() => run('RNN', [x, f32([1, 1, 2], [1, 2]), f32([1, 1, 1], [0])], { activations: ['Swish'] }))
      .toThrow("unknown activation 'Swish'");
    expect(() => run('RNN', [x, f32([1, 1, 2], [1, 2]), f32([1, 1, 1], [0])], { direction: 'sideways' }))
      .toThrow("direction must be forward, reverse or bidirectional, got 'sideways'");
  });
});

describe('GRU', () => {
  it('applies the reset gate after R·H when linear_before_reset is set', () => {
    // H=1, one step, X=0: z = σ(0), r = σ(0) = 0.5, h̃ depends on where r and Rbh meet.
    const x = f32([1, 1, 1], [0]), w = f32([1, 3, 1], [0, 0, 0]), r = f32([1, 3, 1], [0, 0, 1]);
    const b = f32([1, 6], [0, 0, 0, 0, 0, 2]);
    const h0 = f32([1, 1, 1], [1]);
    const [, before] = run('GRU', [x, w, r, b, undefined, h0], { hidden_size: 1, linear_before_reset: 1 });
    const [, after] = run('GRU', [x, w, r, b, undefined, h0], { hidden_size: 1 });
    const blend = (ht: number) => 0.5 * ht + 0.5 * 1;
    expect(values(before)[0]).toBeCloseTo(blend(Math.tanh(0.5 * (1 + 2))), 6);
    expect(values(after)[0]).toBeCloseTo(blend(Math.tanh(0.5 * 1 + 2)), 6);
  });

  it('with layout=1 equals the transposed layout=0 computation', () => {
    const S = 3, B = 2, I = 2, H = 3, D = 2;
    const xs = seeded(S * B * I, 1), w = f32([D, 3 * H, I], seeded(D * 3 * H * I, 2));
    const r = f32([D, 3 * H, H], seeded(D * 3 * H * H, 3)), b = f32([D, 6 * H], seeded(D * 6 * H, 4));
    const h0 = seeded(D * B * H, 5);
    const attrs = { hidden_size: H, direction: 'bidirectional' };
    const [y0, yh0] = run('GRU', [f32([S, B, I], xs), w, r, b, undefined, f32([D, B, H], h0)], attrs);
    const xT: number[] = [], h0T: number[] = [];
    for (let bb = 0; bb < B; bb++) for (let t = 0; t < S; t++) for (let i = 0; i < I; i++) xT.push(xs[(t * B + bb) * I + i]!);
    for (let bb = 0; bb < B; bb++) for (let d = 0; d < D; d++) for (let h = 0; h < H; h++) h0T.push(h0[(d * B + bb) * H + h]!);
    const [y1, yh1] = run('GRU', [f32([B, S, I], xT), w, r, b, undefined, f32([B, D, H], h0T)], { ...attrs, layout: 1 });
    expect(y1!.shape).toEqual([B, S, D, H]);
    for (let t = 0; t < S; t++) for (let d = 0; d < D; d++) for (let bb = 0; bb < B; bb++) for (let h = 0; h < H; h++) {
      expect(values(y1)[((bb * S + t) * D + d) * H + h]).toBe(values(y0)[((t * D + d) * B + bb) * H + h]);
    }
    for (let d = 0; d < D; d++) for (let bb = 0; bb < B; bb++) for (let h = 0; h < H; h++) {
      expect(values(yh1)[(bb * D + d) * H + h]).toBe(values(yh0)[(d * B + bb) * H + h]);
    }
  });
});

describe('LSTM', () => {
  it('couples the forget gate to the input gate with input_forget and uses peepholes', () => {
    // H=1, one step. Gate pre-activations (i,o,f,c) come from the bias only; P adds Pi·C0 to i.
    const x = f32([1, 1, 1], [0]), w = f32([1, 4, 1], [0, 0, 0, 0]), r = f32([1, 4, 1], [0, 0, 0, 0]);
    const b = f32([1, 8], [0.5, -0.3, 9, 0.2, 0, 0, 0, 0]);
    const c0 = f32([1, 1, 1], [2]), p = f32([1, 3], [0.25, 0.1, 0]);
    const [, yh, yc] = run('LSTM', [x, w, r, b, undefined, undefined, c0, p], { hidden_size: 1, input_forget: 1 });
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const i = sig(0.5 + 0.25 * 2), f = 1 - i, c = f * 2 + i * Math.tanh(0.2);
    const o = sig(-0.3 + 0.1 * c);
    expect(values(yc)[0]).toBeCloseTo(c, 6);
    expect(values(yh)[0]).toBeCloseTo(o * Math.tanh(c), 6);
  });

  it('omits Y when it is not requested and still returns the states', () => {
    const out = run('LSTM', [f32([2, 1, 1], [1, 2]), f32([1, 4, 1], [1, 1, 1, 1]), f32([1, 4, 1], [0, 0, 0, 0])],
      { hidden_size: 1 }, 17, true);
    expect(out[0]).toBeUndefined();
    expect(out[1]!.shape).toEqual([1, 1, 1]);
    expect(out[2]!.shape).toEqual([1, 1, 1]);
  });

  it('keeps f64 precision and rounds f16 states', () => {
    const args = (dt: 'f64' | 'f16') => [Tensor.from(dt, [1, 1, 1], [0.3]), Tensor.from(dt, [1, 4, 1], [1, 1, 1, 1]),
      Tensor.from(dt, [1, 4, 1], [0, 0, 0, 0])];
    const [, h64] = run('LSTM', args('f64'), { hidden_size: 1 });
    const [, h16] = run('LSTM', args('f16'), { hidden_size: 1 });
    const sig = 1 / (1 + Math.exp(-0.3)), expected = sig * Math.tanh(sig * Math.tanh(0.3));
    expect(h64!.dtype).toBe('f64');
    expect(h64!.data[0]).toBeCloseTo(expected, 12);
    expect(h16!.dtype).toBe('f16');
    expect(Math.abs((h16!.data[0] as number) - expected)).toBeLessThan(1e-3);
  });
});

describe('inference', () => {
  it('computes output shapes for both layouts, taking hidden_size from R when absent', () => {
    expect(infer('LSTM', [['S', 'N', 4], [2, 12, 4], [2, 12, 3]], { direction: 'bidirectional' }))
      .toEqual(['f32[S,2,N,3]', 'f32[2,N,3]', 'f32[2,N,3]']);
    expect(infer('GRU', [['N', 'S', 4], [1, 15, 4], [1, 15, 5]], { hidden_size: 5, layout: 1 }))
      .toEqual(['f32[N,S,1,5]', 'f32[N,1,5]']);
    expect(infer('RNN', [[7, 2, 3], [1, 'a', 3], [1, 'a', 'a']], {})).toEqual(['f32[7,1,2,a]', 'f32[1,2,a]']);
    expect(infer('RNN', [[7, 2, 3], [1, 'a', 3], undefined], {})).toEqual(['f32[7,1,2,d0]', 'f32[1,2,d0]']);
  });

  it('rejects inconsistent weights and wrong sequence_lens types', () => {
    expect(() => infer('LSTM', [[1, 1, 4], [1, 12, 4], [1, 12, 3]], { hidden_size: 4 }))
      .toThrow('W must have 4*4 rows per direction, got shape [1,12,4]');
    expect(() => infer('RNN', [[1, 1, 4], [1, 3, 4], [1, 3, 3]], { direction: 'bidirectional' }))
      .toThrow("W has 1 directions but direction 'bidirectional' needs 2");
  });

  it('registers one schema per signature change', () => {
    expect(Object.keys(lookupOp('', 'LSTM', 1)!.attrs!)).toContain('output_sequence');
    expect(Object.keys(lookupOp('', 'GRU', 1)!.attrs!)).not.toContain('linear_before_reset');
    expect(Object.keys(lookupOp('', 'GRU', 3)!.attrs!)).toEqual(expect.arrayContaining(['linear_before_reset', 'output_sequence']));
    expect(Object.keys(lookupOp('', 'RNN', 13)!.attrs!)).not.toContain('layout');
    expect(lookupOp('', 'RNN', 17)!.since).toBe(14);
  });
});
