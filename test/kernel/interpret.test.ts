// The kernel-IR interpreter is the definition of every op: these cases pin the semantics per op and dtype
// (wrap-around, truncating vs floor division, shifts modulo the width, rounding to f16/bf16/f32,
// saturating casts, bitcasts, packed dot products), and the behaviour of whole kernels (parallel loops
// with barriers in lock-step, atomics, bounds checks and their messages).
import { describe, expect, it } from 'vitest';
import { parseKernel } from '../../grammar/kernel-parser.ts';
import { TesseraError } from '../../ir/errors.ts';
import * as K from '../../ir/kernel/build.ts';
import { allocBuffer, castScalar, evalBinary, evalExpr, evalUnary, interpretKernel, type Scalar } from '../../ir/kernel/interpret.ts';
import type { BinaryOp, KScalar, UnaryOp } from '../../ir/kernel/ir.ts';

const I32_MIN = -(2 ** 31), I32_MAX = 2 ** 31 - 1, U32_MAX = 2 ** 32 - 1;
const I64_MIN = -(2n ** 63n), I64_MAX = 2n ** 63n - 1n;

describe('binary ops', () => {
  const cases: [BinaryOp, KScalar, Scalar, Scalar, Scalar][] = [
    ['add', 'i32', I32_MAX, 1, I32_MIN],
    ['sub', 'i32', I32_MIN, 1, I32_MAX],
    ['mul', 'i32', 65536, 65536, 0],
    ['mul', 'i32', 0x7fffffff, 3, 0x7ffffffd],
    ['mul', 'u32', U32_MAX, U32_MAX, 1],
    ['add', 'u32', U32_MAX, 2, 1],
    ['sub', 'u32', 0, 1, U32_MAX],
    ['add', 'i8', 127, 1, -128],
    ['mul', 'u8', 16, 17, 16],
    ['add', 'i16', 32767, 1, -32768],
    ['add', 'i64', I64_MAX, 1n, I64_MIN],
    ['mul', 'u64', 2n ** 63n, 2n, 0n],
    ['div', 'i32', -7, 2, -3],
    ['mod', 'i32', -7, 2, -1],
    ['floordiv', 'i32', -7, 2, -4],
    ['floormod', 'i32', -7, 2, 1],
    ['floormod', 'i32', 7, -2, -1],
    ['div', 'i32', I32_MIN, -1, I32_MIN],
    ['mod', 'i32', I32_MIN, -1, 0],
    ['floordiv', 'i32', I32_MIN, -1, I32_MIN],
    ['div', 'u32', U32_MAX, 2, 2147483647],
    ['div', 'i64', -7n, 2n, -3n],
    ['floordiv', 'i64', -7n, 2n, -4n],
    ['floormod', 'i64', -7n, 2n, 1n],
    ['div', 'i64', I64_MIN, -1n, I64_MIN],
    ['shl', 'i32', 1, 31, I32_MIN],
    ['shl', 'i32', 1, 32, 1], // amount modulo 32
    ['shl', 'i32', 1, -1, I32_MIN], // −1 & 31 = 31
    ['shr', 'i32', -8, 1, -4], // arithmetic
    ['shr', 'u32', 2 ** 31, 31, 1], // logical
    ['shl', 'u8', 1, 9, 2], // modulo 8
    ['shr', 'i64', -8n, 65n, -4n],
    ['shl', 'u64', 1n, 63n, 2n ** 63n],
    ['and', 'i32', -1, 0xff, 0xff],
    ['or', 'u32', 2 ** 31, 1, 2 ** 31 + 1],
    ['xor', 'bool', 1, 1, 0],
    ['min', 'u32', U32_MAX, 0, 0],
    ['max', 'i64', -1n, -2n, -1n],
    ['lt', 'u32', 1, U32_MAX, 1],
    ['lt', 'i32', 1, -1, 0],
    ['mulhi', 'u32', U32_MAX, U32_MAX, U32_MAX - 1],
    ['mulhi', 'i32', -1, 1, -1],
    ['mulhi', 'i32', I32_MIN, I32_MIN, 2 ** 30],
    ['dot4_u8', 'u32', 0xff02ff01, 0x01ff02ff, (1 * 255 + 255 * 2 + 2 * 255 + 255 * 1) >>> 0],
    ['dot4_i8', 'u32', 0xff02ff01, 0x01ff02ff, 1 * -1 + -1 * 2 + 2 * -1 + -1 * 1],
    ['add', 'f32', 1, 1e-8, 1],
    ['add', 'f16', 2048, 1, 2048], // 2049 is not an f16: ties to even
    ['add', 'f16', 2048, 3, 2052],
    ['mul', 'bf16', 1.0078125, 1.0078125, 1.015625],
    ['div', 'f64', 1, 3, 1 / 3],
    ['mod', 'f32', -7.5, 2, -1.5],
    ['min', 'f32', NaN, 1, NaN],
    ['min', 'f32', -0, 0, -0],
    ['max', 'f32', -0, 0, 0],
    ['eq', 'f32', NaN, NaN, 0],
    ['ne', 'f32', NaN, NaN, 1],
    ['pow', 'f32', 2, 0.5, Math.fround(Math.SQRT2)],
  ];
  it.each(cases)('%s %s (%s, %s) = %s', (op, elem, a, b, want) => {
    expect(Object.is(evalBinary(op, elem, a, b), want)).toBe(true);
  });

  it('integer division and modulo by zero are errors', () => {
    for (const op of ['div', 'mod', 'floordiv', 'floormod'] as const) {
      expect(() => evalBinary(op, 'i32', 1, 0)).toThrow(/integer division by zero/);
      expect(() => evalBinary(op, 'u64', 1n, 0n)).toThrow(/integer division by zero/);
    }
    expect(evalBinary('div', 'f32', 1, 0)).toBe(Infinity);
  });
});

describe('unary ops and casts', () => {
  const unary: [UnaryOp, KScalar, Scalar, Scalar][] = [
    ['neg', 'i32', I32_MIN, I32_MIN],
    ['neg', 'u32', 1, U32_MAX],
    ['neg', 'i64', I64_MIN, I64_MIN],
    ['abs', 'i32', I32_MIN, I32_MIN],
    ['not', 'i32', 0, -1],
    ['not', 'u8', 0, 255],
    ['not', 'bool', 1, 0],
    ['not', 'u64', 0n, 2n ** 64n - 1n],
    ['sign', 'i32', -5, -1],
    ['sign', 'f32', -0, -0],
    ['sign', 'f32', NaN, NaN],
    ['round_even', 'f32', 2.5, 2],
    ['round_even', 'f32', -0.5, -0],
    ['sqrt', 'f16', 2, 1.4140625],
    ['isnan', 'f32', NaN, 1],
    ['isinf', 'f64', -Infinity, 1],
    ['recip', 'f32', 3, Math.fround(1 / 3)],
  ];
  it.each(unary)('%s %s (%s) = %s', (op, elem, a, want) => {
    expect(Object.is(evalUnary(op, elem, a), want)).toBe(true);
  });

  const casts: [KScalar, KScalar, Scalar, Scalar][] = [
    ['f32', 'i32', 3.9, 3],
    ['f32', 'i32', -3.9, -3],
    ['f32', 'i32', 1e10, I32_MAX],
    ['f32', 'i32', -1e10, I32_MIN],
    ['f32', 'i32', NaN, 0],
    ['f32', 'u32', -1, 0],
    ['f32', 'u8', 300, 255],
    ['f64', 'i64', 1e30, I64_MAX],
    ['f64', 'i64', -1e30, I64_MIN],
    ['f32', 'i64', NaN, 0n],
    ['i32', 'u8', 257, 1],
    ['i32', 'i8', 200, -56],
    ['u32', 'i32', U32_MAX, -1],
    ['i32', 'u64', -1, 2n ** 64n - 1n],
    ['u64', 'i32', 2n ** 32n + 5n, 5],
    ['i64', 'u32', -1n, U32_MAX],
    ['i32', 'bool', -7, 1],
    ['f32', 'bool', NaN, 1],
    ['f32', 'bool', -0, 0],
    ['bool', 'f32', 1, 1],
    ['f64', 'f16', 65520, Infinity],
    ['f64', 'f16', 1 + 2 ** -11 + 2 ** -40, 1 + 2 ** -10], // just above the tie: rounds up, no double rounding
    ['u64', 'f32', 2n ** 64n - 1n, 2 ** 64],
    ['i64', 'f32', 2n ** 53n + 2n ** 29n + 1n, 2 ** 53 + 2 ** 30], // above the f32 midpoint by 1: rounds up
    ['i64', 'f64', 2n ** 53n + 1n, 2 ** 53],
  ];
  it.each(casts)('cast %s → %s (%s) = %s', (from, to, x, want) => {
    expect(Object.is(castScalar(from, to, x), want)).toBe(true);
  });

  it('bitcasts pack lanes little-endian', () => {
    expect(evalExpr(K.bitcast('u32', K.c('f32', 1)))).toBe(0x3f800000);
    expect(evalExpr(K.bitcast('f32', K.c('i32', -1)))).toBeNaN();
    expect(evalExpr(K.bitcast({ elem: 'u8', lanes: 4 }, K.c('u32', 0x04030201)))).toEqual([1, 2, 3, 4]);
    expect(evalExpr(K.bitcast('u16', K.c('f16', 1)))).toBe(0x3c00);
    expect(evalExpr(K.bitcast('i64', K.c('f64', -0)))).toBe(-(2n ** 63n));
  });
});

describe('vectors', () => {
  const v4 = (xs: number[]) => ({ a: Float32Array.from(xs) });
  it('loads lanes, broadcasts, reduces and selects lane by lane', () => {
    const bufs = { a: { elem: 'f32' as const, data: v4([1, 2, 3, 4, 5]).a } };
    const x = K.load({ name: 'a', elem: 'f32' }, 1, 4);
    expect(evalExpr(x, {}, bufs)).toEqual([2, 3, 4, 5]);
    expect(evalExpr(K.reduceLanes('add', K.mul(x, K.broadcast(K.c('f32', 2), 4))), {}, bufs)).toBe(28);
    expect(evalExpr(K.extract(x, 3), {}, bufs)).toBe(5);
    const cond = K.lt(x, K.broadcast(K.c('f32', 3.5), 4));
    expect(evalExpr(K.select(cond, x, K.c({ elem: 'f32', lanes: 4 }, 0)), {}, bufs)).toEqual([2, 3, 0, 0]);
  });
});

describe('kernels', () => {
  const run = (text: string, buffers: Record<string, ReturnType<typeof allocBuffer>>, sizes: Record<string, number> = {}) =>
    interpretKernel(parseKernel(text), { buffers, sizes });

  it('runs the add_relu example', () => {
    const y = new Float32Array(4);
    run(`kernel add_relu(buf f32 a[n] read, buf f32 b[n] read, buf f32 y[n] write; size n) {
      parallel for i in 0..n { let v = max(load a[i] + load b[i], 0.0); store y[i] = v; }
    }`, { a: Float32Array.of(1, -2, 3, 0.5), b: Float32Array.of(1, 1, -5, 0.25), y }, { n: 4 });
    expect([...y]).toEqual([2, 0, 0, 0.75]);
  });

  it('runs a tiled reduction with vector loads and a serial accumulator', () => {
    const y = new Float32Array(1);
    run(`kernel sum(buf f32 x[n] read, buf f32 y[1] write; size n) {
      local acc: f32x4 = broadcast<f32x4>(0.0);
      for i in 0..n // 4 { acc = acc + load<f32x4> x[i * 4]; }
      local tail: f32 = reduce_add(acc);
      for i in n // 4 * 4..n { tail = tail + load x[i]; }
      store y[0] = tail;
    }`, { x: Float32Array.from({ length: 10 }, (_, i) => i + 1), y }, { n: 10 });
    expect(y[0]).toBe(55);
  });

  it('runs parallel iterations in lock-step across barriers (workgroup shared memory)', () => {
    // Each iteration writes its slot, then reads its neighbour's: serial execution without the
    // barrier would read stale zeros for every neighbour that has not run yet.
    const y = new Int32Array(4);
    run(`kernel rotate(buf i32 x[4] read, buf i32 y[4] write, buf i32 t[4] readwrite workgroup) {
      parallel for i in 0..4 {
        store t[i] = load x[i] * 10;
        barrier workgroup;
        store y[i] = load t[(i + 1) %% 4];
      }
    }`, { x: Int32Array.of(1, 2, 3, 4), y });
    expect([...y]).toEqual([20, 30, 40, 10]);
  });

  it('barriers in uniform serial loops inside a parallel loop', () => {
    const y = new Int32Array(4);
    run(`kernel scan(buf i32 y[4] readwrite, buf i32 t[4] readwrite workgroup) {
      parallel for i in 0..4 {
        store t[i] = i + 1;
        barrier workgroup;
        for s in 0..2 {
          let d = 1 << s;
          let v = select(i >= d, load t[i] + load t[max(i - d, 0)], load t[i]);
          barrier workgroup;
          store t[i] = v;
          barrier workgroup;
        }
        store y[i] = load t[i];
      }
    }`, { y });
    expect([...y]).toEqual([1, 3, 6, 10]); // inclusive prefix sum
  });

  it('atomics return the old value', () => {
    const r = new Uint32Array(1);
    const y = new Uint32Array(4);
    run(`kernel tickets(buf u32 r[1] readwrite, buf u32 y[4] write) {
      parallel for i in 0..4 { let t = atomic add r[0], 1 acq_rel device; store y[i] = t; }
    }`, { r, y });
    expect([...y]).toEqual([0, 1, 2, 3]);
    expect(r[0]).toBe(4);
  });

  it('stores round and wrap to the buffer type (f16 in Float32Array, i64 as bigint)', () => {
    const h = new Float32Array(1), s = new BigInt64Array(1);
    run(`kernel k(buf f16 h[1] write, buf i64 s[1] write) {
      store h[0] = cast<f16>(0.1);
      store s[0] = 9223372036854775807:i64 + 1;
    }`, { h, s });
    expect(h[0]).toBe(0.0999755859375);
    expect(s[0]).toBe(I64_MIN);
  });

  function fails(text: string, buffers: Record<string, ReturnType<typeof allocBuffer>>, sizes: Record<string, number> = {}): string {
    try { run(text, buffers, sizes); } catch (e) {
      if (e instanceof TesseraError) return e.message;
      throw e;
    }
    throw new Error('expected an error');
  }

  it('reports out-of-bounds accesses with the buffer, index and loop iteration', () => {
    const msg = fails(`kernel oob(buf f32 a[n] read, buf f32 y[n] write; size n) {
      parallel for i in 0..n { store y[i] = load a[i + 1]; }
    }`, { a: new Float32Array(4), y: new Float32Array(4) }, { n: 4 });
    expect(msg).toBe(`kernel 'oob': load from 'a' at index 4 is out of bounds ('a' has 4 elements) (at statement 0 (parallel for i), i = 3, statement 0 (store y[…]))`);
    expect(fails(`kernel v(buf f32 a[6] read, buf f32 y[4] write) { store y[0] = reduce_add(load<f32x4> a[3]); }`, { a: new Float32Array(6), y: new Float32Array(4) }))
      .toMatch(/load from 'a' at elements 3\.\.6 is out of bounds \('a' has 6 elements\)/);
  });

  it('reports division by zero, missing inputs and runaway loops', () => {
    expect(fails(`kernel d(buf i32 y[1] write; size n) { store y[0] = 7 / n; }`, { y: new Int32Array(1) }, { n: 0 }))
      .toBe(`kernel 'd': integer division by zero (at statement 0 (store y[…]))`);
    expect(fails(`kernel m(buf i32 x[n] read; size n) {}`, {}, { n: 1 })).toBe(`kernel 'm': buffer 'x' is not given`);
    expect(fails(`kernel m(buf i32 x[n] read; size n) {}`, { x: new Int32Array(1) }, {})).toBe(`kernel 'm': size 'n' is not given`);
    expect(fails(`kernel m(buf i32 x[n] read; size n) {}`, { x: new Float32Array(2) }, { n: 2 })).toMatch(/buffer 'x' \(i32\) must be a Int32Array, got a Float32Array/);
    expect(fails(`kernel m(buf i32 x[n] read; size n) {}`, { x: new Int32Array(1) }, { n: 2 })).toMatch(/buffer 'x' needs 2 elements, got 1/);
    expect(() => interpretKernel(parseKernel(`kernel spin(buf i32 y[1] write) { for i in 0..100000 { for j in 0..100000 { store y[0] = j; } } }`),
      { buffers: { y: new Int32Array(1) }, maxIterations: 1000 })).toThrow(/ran more than 1000 loop iterations/);
  });

  it('rejects barriers reached by only some iterations when the verifier is skipped', () => {
    const k = parseKernel(`kernel bad(buf i32 y[4] write) { parallel for i in 0..4 { if i < 2 { barrier workgroup; } store y[i] = i; } }`);
    expect(() => interpretKernel(k, { buffers: { y: new Int32Array(4) }, verified: true }))
      .toThrow(/a barrier was reached by i = 0 but not by i = 2, which finished/);
    expect(() => interpretKernel(k, { buffers: { y: new Int32Array(4) } })).toThrow(/a barrier inside an if whose condition varies/);
  });
});
