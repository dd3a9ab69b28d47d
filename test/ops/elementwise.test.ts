// Tricky semantics of the elementwise ops: C-like integer wrap-around, 64-bit integers, integer division
// and modulo signs, the opset 1–6 broadcast/axis form, Pow across types, Cast formatting and parsing as
// numpy does, and the error messages for bad input.
import { describe, expect, it } from 'vitest';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { makeInferContext, makeRunContext } from '../../ir/context.ts';
import type { DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Node, Value, type Attr } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { erf, formatFloatLikeNumpy } from '../../ir/ops/elementwise.ts';
import '../../ir/ops/index.ts';
import { lookupOp } from '../../ir/registry.ts';
import { Tensor } from '../../ir/tensor.ts';
import { tensorType, typeToString, type Dim } from '../../ir/types.ts';
import { buildModel } from '../util/onnx-builder.ts';

type Attrs = Record<string, Attr>;
const int = (value: number): Attr => ({ kind: 'int', value });
const str = (value: string): Attr => ({ kind: 'string', value });

function makeNode(op: string, nIn: number, attrs: Attrs): Node {
  const inputs = Array.from({ length: nIn }, (_, i) => new Value(`in${i}`, undefined));
  return new Node('n', op, '', inputs, [new Value('out', undefined)], new Map(Object.entries(attrs)));
}

function run(op: string, inputs: Tensor[], attrs: Attrs = {}, opset = 17): Tensor {
  const schema = lookupOp('', op, opset)!;
  const ctx = makeRunContext(makeNode(op, inputs.length, attrs), schema, opset, inputs, () => [], () => 0.5);
  return schema.run(ctx)[0] as Tensor;
}

function infer(op: string, types: [DType, Dim[]][], attrs: Attrs = {}, opset = 17): string {
  const schema = lookupOp('', op, opset)!;
  let n = 0;
  const ctx = makeInferContext(makeNode(op, types.length, attrs), schema, opset,
    types.map(([d, s]) => tensorType(d, s)), [], () => `s${n++}`, () => []);
  return typeToString(schema.infer(ctx)[0]);
}

const T = (dtype: DType, shape: number[], values: (number | bigint | boolean | string)[]) => Tensor.from(dtype, shape, values);
const values = (t: Tensor) => Array.from(t.data as ArrayLike<unknown>);

function errorOf(fn: () => unknown): string {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as TesseraError).message;
  }
  throw new Error('expected an error');
}

describe('integer arithmetic wraps like C', () => {
  it('32-bit and narrower', () => {
    expect(values(run('Add', [T('i32', [1], [2 ** 31 - 1]), T('i32', [1], [1])]))).toEqual([-(2 ** 31)]);
    expect(values(run('Mul', [T('i32', [2], [65536, 123456789]), T('i32', [2], [65536, 987654321])])))
      .toEqual([0, Math.imul(123456789, 987654321)]);
    expect(values(run('Sub', [T('u8', [1], [3]), T('u8', [1], [5])]))).toEqual([254]);
    expect(values(run('Mul', [T('u32', [1], [4294967295]), T('u32', [1], [4294967295])]))).toEqual([1]);
    expect(values(run('Abs', [T('i8', [2], [-128, -5])]))).toEqual([-128, 5]);
  });
  it('64-bit with bigints', () => {
    expect(values(run('Add', [T('i64', [1], [2n ** 63n - 1n]), T('i64', [1], [1n])]))).toEqual([-(2n ** 63n)]);
    expect(values(run('Sub', [T('u64', [1], [0n]), T('u64', [1], [1n])]))).toEqual([2n ** 64n - 1n]);
    expect(values(run('Mul', [T('i64', [1], [2n ** 40n + 3n]), T('i64', [1], [2n ** 40n])]))).toEqual([3n * 2n ** 40n]);
  });
  it('integer division truncates; modulo follows the divisor unless fmod=1', () => {
    expect(values(run('Div', [T('i32', [2], [-7, 7]), T('i32', [2], [2, -2])]))).toEqual([-3, -3]);
    expect(values(run('Div', [T('i64', [1], [-7n]), T('i64', [1], [2n])]))).toEqual([-3n]);
    expect(values(run('Mod', [T('i32', [2], [-7, 7]), T('i32', [2], [3, -3])]))).toEqual([2, -2]);
    expect(values(run('Mod', [T('i64', [2], [-7n, 7n]), T('i64', [2], [3n, -3n])]))).toEqual([2n, -2n]);
    expect(values(run('Mod', [T('i32', [1], [-7]), T('i32', [1], [3])], { fmod: int(1) }))).toEqual([-1]);
    expect(values(run('Mod', [T('f32', [1], [-7.5]), T('f32', [1], [2])], { fmod: int(1) }))).toEqual([-1.5]);
  });
  it('rejects division by zero and float Mod without fmod', () => {
    expect(errorOf(() => run('Div', [T('i32', [1], [1]), T('i32', [1], [0])]))).toMatch(/division by zero/);
    expect(errorOf(() => run('Mod', [T('i64', [1], [1n]), T('i64', [1], [0n])]))).toMatch(/division by zero/);
    expect(errorOf(() => run('Mod', [T('f32', [1], [1]), T('f32', [1], [2])]))).toMatch(/fmod must be 1/);
  });
  it('BitShift drops bits shifted past the width', () => {
    expect(values(run('BitShift', [T('u8', [3], [200, 1, 255]), T('u8', [3], [1, 8, 7])], { direction: str('LEFT') }))).toEqual([144, 0, 128]);
    expect(values(run('BitShift', [T('u32', [2], [1, 4294967295]), T('u32', [2], [31, 32])], { direction: str('LEFT') }))).toEqual([2147483648, 0]);
    expect(values(run('BitShift', [T('u64', [2], [1n, 2n ** 64n - 1n]), T('u64', [2], [63n, 60n])], { direction: str('RIGHT') }))).toEqual([0n, 15n]);
  });
});

describe('Pow', () => {
  it('integer powers wrap, negative exponents truncate, float exponents truncate the result', () => {
    expect(values(run('Pow', [T('i32', [1], [3]), T('i32', [1], [40])]))).toEqual([Number(BigInt.asIntN(32, 3n ** 40n))]);
    expect(values(run('Pow', [T('i64', [1], [3n]), T('i64', [1], [41n])]))).toEqual([BigInt.asIntN(64, 3n ** 41n)]);
    expect(values(run('Pow', [T('i32', [3], [2, -1, 1]), T('i64', [3], [-1n, -3n, -5n])]))).toEqual([0, -1, 1]);
    expect(values(run('Pow', [T('i64', [2], [2n, 10n]), T('f32', [2], [0.5, 1.5])]))).toEqual([1n, 31n]);
    expect(values(run('Pow', [T('f32', [2], [1, -1]), T('f32', [2], [NaN, Infinity])]))).toEqual([1, 1]);
  });
});

describe('opset 1–6 broadcasting', () => {
  const a = T('f32', [2, 3, 2], Array.from({ length: 12 }, (_, i) => i));
  it('aligns B at `axis`, or as a suffix without it', () => {
    const out = run('Add', [a, T('f32', [3], [100, 200, 300])], { broadcast: int(1), axis: int(1) }, 6);
    expect(values(out)).toEqual([100, 101, 202, 203, 304, 305, 106, 107, 208, 209, 310, 311]);
    expect(values(run('Mul', [a, T('f32', [2], [1, -1])], { broadcast: int(1) }, 6)).slice(0, 4)).toEqual([0, -1, 2, -3]);
    expect(infer('Sub', [['f32', ['N', 3, 2]], ['f32', [3]]], { broadcast: int(1), axis: int(1) }, 6)).toBe('f32[N,3,2]');
  });
  it('requires broadcast=1 for differing shapes and B to fit', () => {
    expect(errorOf(() => run('Add', [a, T('f32', [2], [1, 2])], {}, 6))).toMatch(/broadcast is 0/);
    expect(errorOf(() => run('Add', [a, T('f32', [3], [1, 2, 3])], { broadcast: int(1), axis: int(2) }, 6))).toMatch(/does not fit/);
  });
  it('PRelu before opset 7 applies a 1-D slope per channel', () => {
    const x = T('f32', [1, 2, 2], [-1, -1, -1, 1]);
    expect(values(run('PRelu', [x, T('f32', [2], [0.5, 0.25])], {}, 6))).toEqual([-0.5, -0.5, -0.25, 1]);
    expect(errorOf(() => run('PRelu', [x, T('f32', [3], [1, 2, 3])], {}, 7))).toMatch(/cannot be broadcast/);
  });
});

describe('unary math', () => {
  it('Round is half to even', () => {
    expect(values(run('Round', [T('f32', [7], [0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.6])]))).toEqual([0, 2, 2, -0, -2, 2, -3]);
  });
  it('erf matches reference values to double precision', () => {
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(-1.5)).toBeCloseTo(-0.9661051464753108, 15);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 15);
    expect(erf(1e-300)).toBeGreaterThan(0);
  });
  it('Clip: integer bounds from inputs, min > max gives max, NaN passes', () => {
    expect(values(run('Clip', [T('i64', [3], [-5n, 0n, 9n]), T('i64', [], [-1n]), T('i64', [], [3n])]))).toEqual([-1n, 0n, 3n]);
    expect(values(run('Clip', [T('f32', [2], [0, NaN]), T('f32', [], [2]), T('f32', [], [1])]))).toEqual([1, NaN]);
    expect(values(run('Clip', [T('f64', [2], [-1e300, 5])], { max: { kind: 'float', value: 1 } }, 6))).toEqual([-3.4028234663852886e38, 1]);
    expect(errorOf(() => run('Clip', [T('f32', [1], [0]), T('f32', [2], [0, 1])]))).toMatch(/min must be a scalar/);
  });
  it('Max/Min propagate NaN and broadcast across many inputs', () => {
    const out = run('Max', [T('f32', [2], [1, NaN]), T('f32', [1], [3]), T('f32', [2, 1], [0, 5])]);
    expect(out.shape).toEqual([2, 2]);
    expect(values(out)).toEqual([3, NaN, 5, NaN]);
    expect(values(run('Min', [T('u64', [2], [2n ** 64n - 1n, 3n]), T('u64', [2], [5n, 2n ** 63n])]))).toEqual([5n, 3n]);
  });
  it('Where broadcasts strings', () => {
    const out = run('Where', [T('bool', [2, 1], [true, false]), T('string', [2], ['a', 'b']), T('string', [], ['z'])]);
    expect(out.shape).toEqual([2, 2]);
    expect(values(out)).toEqual(['a', 'b', 'z', 'z']);
  });
});

describe('Cast', () => {
  const cast = (x: Tensor, to: number) => run('Cast', [x], { to: int(to) });
  it('formats floats as numpy str() does', () => {
    expect(values(cast(T('f32', [6], [0.9767611, 1e-5, 1234567, 300685.125, -0, 1e16]), 8)))
      .toEqual(['0.9767611', '1e-05', '1.234567e+06', '300685.12', '-0.0', '1e+16']);
    expect(formatFloatLikeNumpy(1234.5, 'f64')).toBe('1234.5');
    expect(formatFloatLikeNumpy(1234, 'f16')).toBe('1.234e+03');
    expect(values(cast(T('bool', [2], [true, false]), 8))).toEqual(['True', 'False']);
    expect(values(cast(T('i64', [1], [-(2n ** 63n)]), 8))).toEqual(['-9223372036854775808']);
  });
  it('parses strings, including INF and NaN spellings', () => {
    expect(values(cast(T('string', [5], ['0.5', ' -1e3 ', 'INF', '-inf', 'NaN']), 1))).toEqual([0.5, -1000, Infinity, -Infinity, NaN]);
    expect(values(cast(T('string', [1], ['-9223372036854775808']), 7))).toEqual([-(2n ** 63n)]);
    expect(errorOf(() => cast(T('string', [1], ['12abc']), 1))).toMatch(/cannot cast string '12abc'/);
  });
  it('truncates floats toward zero and wraps integers', () => {
    expect(values(cast(T('f32', [4], [300.7, -1.5, NaN, 2.9]), 3))).toEqual([44, -1, 0, 2]);
    expect(values(cast(T('i64', [1], [2n ** 40n + 65535n]), 5))).toEqual([-1]);
    expect(values(cast(T('f64', [2], [-3.9, 1e20]), 7))).toEqual([-3n, BigInt.asIntN(64, 100000000000000000000n)]);
    expect(values(cast(T('f32', [3], [NaN, 0, -0]), 9))).toEqual([1, 0, 0]);
    expect(values(cast(T('f32', [1], [1 + 2 ** -11]), 10))).toEqual([1]); // f16 rounds to nearest even
    // A double just off an f16 midpoint must not be rounded twice (via f32) onto the tie.
    expect(values(cast(T('f64', [2], [1 + 2 ** -11 + 2 ** -40, -(1 + 2 ** -11 + 2 ** -40)]), 10))).toEqual([1 + 2 ** -10, -(1 + 2 ** -10)]);
  });
  it('opset 1 names the target type; CastLike takes it from the second input', () => {
    const model = importOnnx(buildModel({
      opset: 1,
      inputs: [{ name: 'x', dtype: 'f32', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'i32', shape: [2] }],
      nodes: [{ op: 'Cast', inputs: ['x'], outputs: ['y'], attrs: { to: 'INT32' } }],
    }));
    inferModel(model);
    expect(typeToString(model.graph.outputs[0]!.type)).toBe('i32[2]');
    expect(infer('CastLike', [['f32', ['N', 2]], ['f16', [1]]])).toBe('f16[N,2]');
    expect(errorOf(() => infer('Cast', [['f32', [1]]], { to: int(14) }))).toMatch(/COMPLEX64/);
  });
});

describe('inference', () => {
  it('comparison results are bool and broadcast symbolically', () => {
    expect(infer('Less', [['f32', ['N', 1]], ['f32', [4]]])).toBe('bool[N,4]');
    expect(infer('Sum', [['f32', [2, 1]], ['f32', [3]], ['f32', [1, 1, 1]]])).toBe('f32[1,2,3]');
  });
  it('rejects mismatched or unsupported dtypes', () => {
    expect(errorOf(() => infer('Add', [['f32', [1]], ['f64', [1]]]))).toMatch(/input types differ: f32 and f64/);
    expect(errorOf(() => infer('Sqrt', [['i32', [1]]]))).toMatch(/Sqrt does not accept input of type i32/);
    expect(errorOf(() => infer('And', [['i32', [1]], ['i32', [1]]]))).toMatch(/And does not accept/);
  });
});
