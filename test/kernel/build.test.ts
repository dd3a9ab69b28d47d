// The typed constructors: numbers take the other operand's type, results get their types (comparisons
// give bool with the operands' lanes, dot4 gives u32/i32), and every misuse fails where it is built.
import { describe, expect, it } from 'vitest';
import * as K from '../../ir/kernel/build.ts';
import { INDEX } from '../../ir/kernel/ir.ts';
import { verifyKernel } from '../../ir/kernel/verify.ts';

describe('expression constructors', () => {
  const i = K.v('i'), u = K.v('u', 'u32'), x = K.v('x', 'f32');
  it('give JS numbers the type of the other operand', () => {
    expect(K.add(i, 1)).toMatchObject({ type: INDEX, b: { kind: 'const', type: INDEX, value: 1 } });
    expect(K.mul(2, u)).toMatchObject({ type: K.T.u32, a: { type: K.T.u32, value: 2 } });
    expect(K.add(x, 1)).toMatchObject({ b: { type: K.T.f32, value: 1 } });
    expect(K.add(K.v('p', 'i64'), 1)).toMatchObject({ b: { type: K.T.i64, value: 1n } });
    expect(K.add(2, 3)).toMatchObject({ type: INDEX });
    expect(K.add(2, 0.5)).toMatchObject({ type: K.T.f32 });
  });

  it('type results: comparisons are bool with the lanes of the operands, dot4 is u32/i32', () => {
    const v = K.load({ name: 'a', elem: 'f32' }, i, 4);
    expect(K.lt(v, K.broadcast(x, 4)).type).toEqual({ elem: 'bool', lanes: 4 });
    expect(K.dot4_i8(u, u).type).toEqual(K.T.i32);
    expect(K.dot4_u8(u, u).type).toEqual(K.T.u32);
    expect(K.reduceLanes('add', v).type).toEqual(K.T.f32);
    expect(K.extract(v, 3).type).toEqual(K.T.f32);
    expect(K.bitcast({ elem: 'u8', lanes: 4 }, u).type).toEqual({ elem: 'u8', lanes: 4 });
    expect(K.unary('isnan', x).type).toEqual(K.T.bool);
  });

  it('round floats to their type and check integer ranges', () => {
    expect(K.c('f16', 0.1).kind === 'const' && K.c('f16', 0.1)).toMatchObject({ value: 0.0999755859375 });
    expect(K.c('f32', 0.1)).toMatchObject({ value: Math.fround(0.1) });
    expect(K.c('bool', true)).toMatchObject({ value: 1 });
    expect(() => K.c('u8', 256)).toThrow('256 is not a u8 value');
    expect(() => K.c('i32', 1.5)).toThrow('1.5 is not a i32 value');
    expect(() => K.c('i64', 2n ** 63n)).toThrow('9223372036854775808 is out of range for i64');
  });

  it('reject misuse with a message naming the op and the types', () => {
    expect(() => K.add(i, x)).toThrow('add needs operands of one type, got i32 and f32');
    expect(() => K.floordiv(x, x)).toThrow('floordiv needs integer operands, got f32');
    expect(() => K.pow(i, i)).toThrow('pow needs float operands, got i32');
    expect(() => K.and(x, x)).toThrow('and needs integer or bool operands, got f32');
    expect(() => K.lt(K.c('bool', 1), K.c('bool', 0))).toThrow('lt needs numeric operands, got bool');
    expect(() => K.mulhi(K.v('p', 'i64'), K.v('p', 'i64'))).toThrow('mulhi needs i32 or u32 operands, got i64');
    expect(() => K.dot4_u8(i, i)).toThrow('dot4_u8 needs u32 operands (4 packed bytes), got i32');
    expect(() => K.unary('sqrt', i)).toThrow('sqrt needs a float operand, got i32');
    expect(() => K.not(x)).toThrow('not needs a bool or integer operand, got f32');
    expect(() => K.cast({ elem: 'f32', lanes: 4 }, x)).toThrow('cast keeps the lane count');
    expect(() => K.bitcast('u16', x)).toThrow('bitcast keeps the bit count: f32 has 32 bits, u16 16');
    expect(() => K.select(i, x, x)).toThrow('select needs a bool condition with 1 or 1 lanes, got i32');
    expect(() => K.load({ name: 'a', elem: 'f32' }, x)).toThrow('a load index must be i32, got f32');
    expect(() => K.broadcast(K.broadcast(x, 4), 4)).toThrow('broadcast needs a scalar, got f32x4');
    expect(() => K.extract(x, 0)).toThrow('extract needs a lane of a vector: lane 0 of f32');
    expect(() => K.reduceLanes('add', x)).toThrow('reduce_add needs a numeric vector, got f32');
  });

  it('parse and print type names', () => {
    expect(K.parseTypeName('u8x16')).toEqual({ elem: 'u8', lanes: 16 });
    expect(K.parseTypeName('bf16')).toEqual({ elem: 'bf16', lanes: 1 });
    expect(K.parseTypeName('f32x3')).toBeUndefined();
    expect(K.parseTypeName('f32x1')).toBeUndefined();
    expect(K.parseTypeName('string')).toBeUndefined();
    expect(K.typeName({ elem: 'f16', lanes: 8 })).toBe('f16x8');
  });
});

describe('statement and kernel constructors', () => {
  it('build a verified kernel, loop bodies as functions of the variable', () => {
    const a = K.buffer('a', 'f32', K.v('n'), 'read'), y = K.buffer('y', 'f32', K.v('n'), 'write');
    const k = K.kernel('scale', {
      buffers: [a, y], sizes: ['n'],
      body: [K.parallel('i', 0, K.v('n'), (i) => [K.store(y, i, K.mul(K.load(a, i), 2))])],
    });
    verifyKernel(k);
    expect(k.body[0]).toMatchObject({ kind: 'loop', loopKind: 'parallel', step: 1, var: 'i' });
  });

  it('check what they can where they are built', () => {
    const y = K.buffer('y', 'f32', 4, 'write');
    expect(() => K.store(y, 0, K.c('i32', 1))).toThrow("store to 'y' (f32) needs a f32 value, got i32");
    expect(() => K.local('x', 'f32', K.c('i32', 0))).toThrow("local 'x' is f32 but its initial value is i32");
    expect(() => K.loop('i', 0, 4, [], { step: 0 })).toThrow("loop 'i' needs a positive integer step, got 0");
    expect(() => K.if_(K.c('i32', 1), [])).toThrow('an if condition must be bool, got i32');
    expect(K.store(y, 0, 1)).toMatchObject({ value: { type: K.T.f32, value: 1 } });
    expect(K.atomic('add', K.buffer('c', 'u32', 1, 'readwrite'), 0, 1, { result: 'old' })).toMatchObject({ order: 'relaxed', scope: 'device', result: 'old' });
  });
});
