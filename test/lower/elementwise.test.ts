// The elementwise family lowered to kernels agrees with the reference interpreter: random ops × dtypes ×
// broadcast shapes (fast-check), the integer corner cases, and the vectorized loop with its scalar tail.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DType } from '../../ir/dtype.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { Tensor } from '../../ir/tensor.ts';
import { broadcastPairArb, expectSame, mismatch, modelOf, randomValues, RUNS, seedArb, shapeArb } from './helpers.ts';

const FLOATS: DType[] = ['f32', 'f16', 'bf16', 'f64'];
const SIGNED_INTS: DType[] = ['i8', 'i16', 'i32', 'i64'];
const INTS: DType[] = [...SIGNED_INTS, 'u8', 'u16', 'u32', 'u64'];

const FLOAT_UNARY: [string, Record<string, number>?][] = [
  ['Abs'], ['Neg'], ['Sign'], ['Relu'], ['Ceil'], ['Floor'], ['Round'], ['Exp'], ['Log'], ['Sqrt'], ['Reciprocal'],
  ['Sigmoid'], ['Tanh'], ['Erf'], ['Softplus'], ['Softsign'], ['Elu', { alpha: 0.5 }], ['Selu'], ['Celu', { alpha: 1.5 }],
  ['LeakyRelu', { alpha: 0.2 }], ['HardSigmoid'], ['HardSwish'], ['Sin'], ['Cos'], ['Atan'], ['ThresholdedRelu', { alpha: 0.3 }],
  ['Shrink', { lambd: 0.7, bias: 0.25 }], ['IsNaN'], ['IsInf'],
];
const INT_UNARY = ['Abs', 'Neg', 'Sign', 'Relu'];

function unaryModel(op: string, dtype: DType, shape: number[], attrs: Record<string, number> = {}) {
  const out: DType = op === 'IsNaN' || op === 'IsInf' ? 'bool' : dtype;
  const opset = dtype === 'bf16' || op === 'Relu' ? 14 : 13;
  return modelOf({
    inputs: [{ name: 'x', dtype, shape }], outputs: [{ name: 'y', dtype: out, shape }],
    nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs }], opset: op === 'HardSwish' ? 14 : opset,
  });
}

describe('unary ops', () => {
  it('float ops over every float dtype agree with the reference', () => {
    fc.assert(fc.property(fc.constantFrom(...FLOAT_UNARY), fc.constantFrom(...FLOATS), shapeArb(4), seedArb, ([op, attrs], dtype, shape, seed) => {
      if (dtype === 'bf16' && ['Sin', 'Cos', 'Atan', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'LeakyRelu', 'HardSigmoid', 'ThresholdedRelu', 'Shrink', 'IsInf'].includes(op)) return;
      const m = unaryModel(op, dtype, shape, attrs);
      expect(mismatch(m, { x: randomValues(dtype, shape, seed) })).toBeUndefined();
    }), RUNS);
  });

  it('integer ops wrap like C', () => {
    fc.assert(fc.property(fc.constantFrom(...INT_UNARY), fc.constantFrom(...SIGNED_INTS), shapeArb(3), seedArb, (op, dtype, shape, seed) => {
      const m = unaryModel(op, dtype, shape);
      expect(mismatch(m, { x: randomValues(dtype, shape, seed) })).toBeUndefined();
    }), RUNS);
    expectSame(unaryModel('Abs', 'i8', [3]), { x: Tensor.from('i8', [3], [-128, -5, 7]) });
    expectSame(unaryModel('Neg', 'i32', [2]), { x: Tensor.from('i32', [2], [-(2 ** 31), 5]) });
  });

  it('NaN and infinities pass through Relu, Clip and Max as the reference lets them', () => {
    const x = Tensor.from('f32', [6], [NaN, -0, Infinity, -Infinity, -1, 2]);
    for (const op of ['Relu', 'Abs', 'Sign', 'Sigmoid', 'Tanh', 'Exp', 'Softplus', 'Elu']) expectSame(unaryModel(op, 'f32', [6]), { x });
  });

  it('expm1/log1p forms stay accurate near 0 in f32', () => {
    const x = Tensor.from('f32', [4], [1e-6, -1e-6, 3e-8, -20]);
    for (const op of ['Elu', 'Softplus', 'Celu']) expect(mismatch(unaryModel(op, 'f32', [4]), { x }, { rtol: 1e-5 })).toBeUndefined();
  });
});

const BINARY_ALL = ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual'];

function binaryModel(op: string, dtype: DType, a: readonly number[], b: readonly number[], attrs: Record<string, number | string> = {}, bDtype = dtype) {
  const cmp = ['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual'].includes(op);
  return modelOf({
    inputs: [{ name: 'a', dtype, shape: [...a] }, { name: 'b', dtype: bDtype, shape: [...b] }],
    outputs: [{ name: 'y', dtype: cmp ? 'bool' : dtype }],
    nodes: [{ op, inputs: ['a', 'b'], outputs: ['y'], attrs }], opset: dtype === 'bf16' ? 14 : 16,
  });
}

describe('binary ops with numpy broadcasting', () => {
  it('every dtype, random broadcast shapes', () => {
    fc.assert(fc.property(fc.constantFrom(...BINARY_ALL), fc.constantFrom<DType>(...FLOATS, ...INTS), broadcastPairArb, seedArb, (op, dtype, [sa, sb], seed) => {
      if (dtype === 'bf16' && ['Max', 'Min', 'GreaterOrEqual', 'LessOrEqual'].includes(op)) return;
      if (['Max', 'Min'].includes(op) && ['i16', 'u16'].includes(dtype)) return;
      const m = binaryModel(op, dtype, sa, sb);
      const feeds = { a: randomValues(dtype, [...sa], seed), b: randomValues(dtype, [...sb], seed + 1, { nonzero: op === 'Div' }) };
      expect(mismatch(m, feeds)).toBeUndefined();
    }), RUNS);
  });

  it('Mod: floor remainder (fmod=0) and C fmod (fmod=1)', () => {
    fc.assert(fc.property(fc.constantFrom<DType>('i8', 'i32', 'i64', 'u16', 'f32'), broadcastPairArb, seedArb, (dtype, [sa, sb], seed) => {
      const fmod = dtype === 'f32' ? 1 : seed % 2;
      const m = binaryModel('Mod', dtype, sa, sb, { fmod });
      const feeds = { a: randomValues(dtype, [...sa], seed), b: randomValues(dtype, [...sb], seed + 7, { nonzero: true }) };
      expect(mismatch(m, feeds)).toBeUndefined();
    }), RUNS);
  });

  it('Pow: float bases, integer powers by squaring with wrap-around, mixed types', () => {
    const base = Tensor.from('i32', [6], [3, -2, 7, 1, -1, 0]);
    const exp = Tensor.from('i32', [6], [21, 5, -1, -3, -3, 0]);
    expectSame(binaryModel('Pow', 'i32', [6], [6]), { a: base, b: exp });
    expectSame(binaryModel('Pow', 'i64', [3], [3]), { a: Tensor.from('i64', [3], [3n, -5n, 2n]), b: Tensor.from('i64', [3], [40n, 3n, 63n]) });
    expectSame(binaryModel('Pow', 'f32', [5], [5]), { a: Tensor.from('f32', [5], [2, -2, 1, -1, 0.5]), b: Tensor.from('f32', [5], [0.5, 3, NaN, Infinity, -2]) });
    expectSame(binaryModel('Pow', 'f32', [3], [3], {}, 'i64'), { a: Tensor.from('f32', [3], [2, 3, -1.5]), b: Tensor.from('i64', [3], [3n, -2n, 2n]) });
  });

  it('integer division truncates; division by zero is an error, as in the reference', () => {
    expectSame(binaryModel('Div', 'i32', [4], [4]), { a: Tensor.from('i32', [4], [7, -7, 7, -(2 ** 31)]), b: Tensor.from('i32', [4], [2, 2, -2, -1]) });
    const m = binaryModel('Div', 'i32', [1], [1]);
    expect(() => mismatch(m, { a: Tensor.from('i32', [1], [1]), b: Tensor.from('i32', [1], [0]) })).toThrow(/division by zero/);
  });

  it('BitShift, And/Or/Xor/Not', () => {
    const m = binaryModel('BitShift', 'u8', [4], [4], { direction: 'LEFT' });
    expectSame(m, { a: Tensor.from('u8', [4], [1, 255, 3, 128]), b: Tensor.from('u8', [4], [1, 1, 9, 7]) });
    const r = binaryModel('BitShift', 'u64', [2], [2], { direction: 'RIGHT' });
    expectSame(r, { a: Tensor.from('u64', [2], [2n ** 63n, 5n]), b: Tensor.from('u64', [2], [63n, 64n]) });
    for (const op of ['And', 'Or', 'Xor']) {
      expectSame(binaryModel(op, 'bool', [2, 3], [3]), { a: randomValues('bool', [2, 3], 3), b: randomValues('bool', [3], 4) });
    }
  });

  it('legacy (opset < 7) broadcast with axis', () => {
    const m = modelOf({
      inputs: [{ name: 'a', dtype: 'f32', shape: [2, 3, 4] }, { name: 'b', dtype: 'f32', shape: [3] }],
      outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'], attrs: { broadcast: 1, axis: 1 } }], opset: 6,
    });
    expectSame(m, { a: randomValues('f32', [2, 3, 4], 1), b: randomValues('f32', [3], 2) });
  });
});

describe('variadic, Where, Clip, Cast', () => {
  it('Sum/Mean/Max/Min of several broadcast inputs', () => {
    fc.assert(fc.property(fc.constantFrom('Sum', 'Mean', 'Max', 'Min'), fc.constantFrom<DType>('f32', 'f16', 'f64'), broadcastPairArb, seedArb, (op, dtype, [sa, sb], seed) => {
      const m = modelOf({
        inputs: [{ name: 'a', dtype, shape: [...sa] }, { name: 'b', dtype, shape: [...sb] }, { name: 'c', dtype, shape: [...sb] }],
        outputs: [{ name: 'y', dtype }], nodes: [{ op, inputs: ['a', 'b', 'c'], outputs: ['y'] }], opset: 13,
      });
      expect(mismatch(m, { a: randomValues(dtype, [...sa], seed), b: randomValues(dtype, [...sb], seed + 1), c: randomValues(dtype, [...sb], seed + 2) })).toBeUndefined();
    }), RUNS);
  });

  it('Where with a broadcast condition', () => {
    fc.assert(fc.property(fc.constantFrom<DType>('f32', 'i64', 'u8', 'bool'), broadcastPairArb, seedArb, (dtype, [sa, sb], seed) => {
      const m = modelOf({
        inputs: [{ name: 'c', dtype: 'bool', shape: [...sb] }, { name: 'x', dtype, shape: [...sa] }, { name: 'y', dtype, shape: [...sb] }],
        outputs: [{ name: 'z', dtype }], nodes: [{ op: 'Where', inputs: ['c', 'x', 'y'], outputs: ['z'] }], opset: 16,
      });
      expect(mismatch(m, { c: randomValues('bool', [...sb], seed), x: randomValues(dtype, [...sa], seed + 1), y: randomValues(dtype, [...sb], seed + 2) })).toBeUndefined();
    }), RUNS);
  });

  it('Clip with attribute bounds (opset 6) and with input bounds (opset 13)', () => {
    const x = Tensor.from('f32', [6], [NaN, -3, -0.5, 0.5, 3, Infinity]);
    const m6 = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [6] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Clip', inputs: ['x'], outputs: ['y'], attrs: { min: { float: -1 }, max: { float: 2 } } }], opset: 6 });
    expectSame(m6, { x });
    const m13 = modelOf({ inputs: [{ name: 'x', dtype: 'i32', shape: [6] }, { name: 'lo', dtype: 'i32', shape: [] }], outputs: [{ name: 'y', dtype: 'i32' }],
      nodes: [{ op: 'Clip', inputs: ['x', 'lo'], outputs: ['y'] }], opset: 13 });
    expectSame(m13, { x: Tensor.from('i32', [6], [-9, -3, 0, 4, 100, 7]), lo: Tensor.scalar('i32', -2) });
  });

  it('Cast between every pair of numeric dtypes', () => {
    const all: DType[] = ['bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f16', 'bf16', 'f32', 'f64'];
    const code: Record<string, number> = { f32: 1, u8: 2, i8: 3, u16: 4, i16: 5, i32: 6, i64: 7, bool: 9, f16: 10, f64: 11, u32: 12, u64: 13, bf16: 16 };
    fc.assert(fc.property(fc.constantFrom(...all), fc.constantFrom(...all), seedArb, (from, to, seed) => {
      const m = modelOf({ inputs: [{ name: 'x', dtype: from, shape: [7] }], outputs: [{ name: 'y', dtype: to }],
        nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['y'], attrs: { to: code[to]! } }], opset: 13 });
      // In-range values: out-of-range float → int conversions are undefined in C and differ on purpose.
      let x = from.startsWith('f') || from === 'bf16' ? randomValues(from, [7], seed, { range: 100 }) : randomValues(from, [7], seed);
      if (x.dtype.startsWith('f') || x.dtype === 'bf16') {
        if (to.startsWith('u')) x = Tensor.from(from, [7], Array.from(x.data as Float32Array, Math.abs));
      }
      expect(mismatch(m, { x })).toBeUndefined();
    }), { numRuns: 40 });
  });
});

describe('loops', () => {
  it('the vector loop and its scalar tail cover every element (odd and even inner sizes, symbolic too)', () => {
    for (const n of [1, 3, 4, 7, 8, 9, 17]) {
      const m = binaryModel('Add', 'f32', [2, n], [n]);
      expectSame(m, { a: randomValues('f32', [2, n], n), b: randomValues('f32', [n], n + 1) });
    }
    const sym = modelOf({
      inputs: [{ name: 'a', dtype: 'f32', shape: ['N', 'L'] }, { name: 'b', dtype: 'f32', shape: ['L'] }],
      outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'Mul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13,
    });
    const p = lower(sym);
    for (const [N, L] of [[1, 5], [3, 8], [2, 13]] as const) {
      expect(mismatch(sym, { a: randomValues('f32', [N, L], L), b: randomValues('f32', [L], N) }, {}, p)).toBeUndefined();
    }
  });

  it('the outermost loop is parallel and the inner contiguous loop is a 4-lane vector loop', () => {
    const p = lower(binaryModel('Add', 'f32', [3, 16], [16]));
    const k = p.kernels[0]!;
    const outer = k.body.find((s) => s.kind === 'loop');
    expect(outer?.kind === 'loop' && outer.loopKind).toBe('parallel');
    const text = JSON.stringify(k.body);
    expect(text).toContain('"loopKind":"vector"');
    expect(text).toContain('"lanes":4');
  });
});
