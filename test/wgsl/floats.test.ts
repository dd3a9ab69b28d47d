// Float semantics of the WGSL emitter on real WebGPU, against the kernel interpreter: f16 and bf16 computed in f32
// and rounded to nearest even after every inexact op (ties, subnormals, overflow), conversions to f16/bf16 from
// wide integers without double rounding, NaN-propagating min/max ordering −0 < +0, float → int conversions that
// truncate and saturate with NaN → 0, and the math functions (mathlib expansions and the exact-reduction
// sin/cos/tan) within tolerance, huge arguments included. Special values come from buffers (see
// random-kernels.property.test.ts on why).
import { describe, expect, it } from 'vitest';
import * as K from '../../ir/kernel/build.ts';
import { f16BitsToF32, roundBf16, roundF16 } from '../../ir/dtype.ts';
import type { BinaryOp, KScalar, UnaryOp } from '../../ir/kernel/ir.ts';
import { webgpuUnavailable } from './harness.ts';
import { check, elementwise, pairs, type Output } from './check.ts';

const why = await webgpuUnavailable();
if (why) console.log(`SKIP WGSL tests: ${why}`);

const SPECIAL = [0, -0, 1, -1, 0.5, 1.5, -2.5, 3.25, 1e-3, 65504, -65520, 1e30, -1e-30, NaN, Infinity, -Infinity];

/** f32 values around the f16 rounding boundaries: ties, subnormals, the overflow edge. */
function f16Boundaries(): number[] {
  const out: number[] = [];
  for (const h of [0x0001, 0x0002, 0x03ff, 0x0400, 0x3c00, 0x3c01, 0x7bff, 0x5555, 0x1234]) {
    const a = f16BitsToF32(h), b = f16BitsToF32(h + 1);
    out.push(a, b, (a + b) / 2, Math.fround(a + (b - a) * 0.25), Math.fround(a + (b - a) * 0.75), -a, -((a + b) / 2));
  }
  out.push(65519, 65520, 65536, 2 ** -25, 2 ** -25 * 1.5, 2 ** -26);
  return out.map(Math.fround);
}

describe.skipIf(why)('f16 and bf16', () => {
  it('casts from f32 round to nearest even (ties, subnormals, overflow)', async () => {
    const xs = Float32Array.from(f16Boundaries());
    const bf = Float32Array.from(xs, (x, i) => Math.fround(x * (1 + i / 7)));
    const n = xs.length;
    const k = elementwise('to_half', ['f32', 'f32'], [
      { name: 'h', elem: 'f16', f: ([x]) => K.cast('f16', x!) },
      { name: 'b', elem: 'bf16', f: ([, y]) => K.cast('bf16', y!) },
      { name: 'hb', elem: 'bf16', f: ([x]) => K.cast('bf16', K.cast('f16', x!)) },
    ], n);
    await check(k, { x0: xs, x1: bf, h: new Float32Array(n), b: new Float32Array(n), hb: new Float32Array(n) });
  });

  for (const e of ['f16', 'bf16'] as KScalar[]) {
    it(`${e}: arithmetic rounds after every op (exactly: f32 has the 2p + 2 bits that make double rounding harmless)`, async () => {
      const vals = [0, -0, 1, -1, 0.1, 3, 1 / 3, 1000.5, -7.75, 2 ** -14, 2 ** -20, 60000, 1e-3, Infinity, NaN].map((x) => (e === 'f16' ? roundF16(x) : roundBf16(x)));
      const [a, b] = pairs(vals);
      const n = a.length;
      const exact: Output[] = [
        ...(['add', 'sub', 'mul', 'div', 'min', 'max', 'mod'] as BinaryOp[]).map((op): Output => ({ name: `y_${op}`, elem: e, f: ([x, y]) => K.binary(op, x!, y!) })),
        ...(['sqrt', 'neg', 'floor'] as UnaryOp[]).map((op): Output => ({ name: `u_${op}`, elem: e, f: ([x]) => K.unary(op, x!) })),
        { name: 'fma', elem: e, f: ([x, y]) => K.add(K.mul(x!, y!), x!) },
        { name: 'to_f32', elem: 'f32', f: ([x, y]) => K.add(K.cast('f32', x!), K.cast('f32', y!)) },
      ];
      const zeros = (os: Output[]) => Object.fromEntries(os.map((o) => [o.name, new Float32Array(n)]));
      const x0 = Float32Array.from(a), x1 = Float32Array.from(b);
      await check(elementwise(`arith_${e}`, [e, e], exact, n), { x0, x1, ...zeros(exact) });
      // Math in f32 (mathlib), then rounded: within an ulp of the type.
      const math: Output[] = [
        { name: 'pow', elem: e, f: ([x, y]) => K.pow(x!, y!) },
        ...(['recip', 'exp', 'tanh', 'log'] as UnaryOp[]).map((op): Output => ({ name: `m_${op}`, elem: e, f: ([x]) => K.unary(op, x!) })),
      ];
      await check(elementwise(`math_${e}`, [e, e], math, n), { x0, x1, ...zeros(math) }, {}, { tol: { rtol: e === 'f16' ? 1e-3 : 8e-3, atol: 0 } });
    });
  }

  // (and u32 → f32 rounds to nearest even: SwiftShader's own conversion truncates above 2^31)
  it('from i32, u32, i64 to bf16 and f16 round once (no double rounding through f32)', async () => {
    // 2^24 + 2^16 + 1 rounds up in bf16; through f32 it would first lose the 1 and tie to even.
    const ints = [0, 1, -1, 255, 256 + 1, 0xeb79a2a1 | 0, 2 ** 24 + 2 ** 16 + 1, -(2 ** 24 + 2 ** 16 + 1), 0x7fffffff, -(2 ** 31), 65519, 65520, 123456789, 2 ** 25 + 2 ** 17 + 3];
    const n = ints.length;
    const k = elementwise('int_half', ['i32', 'u32', 'i64'], [
      { name: 'a', elem: 'bf16', f: ([x]) => K.cast('bf16', x!) },
      { name: 'b', elem: 'bf16', f: ([, y]) => K.cast('bf16', y!) },
      { name: 'c', elem: 'bf16', f: ([, , z]) => K.cast('bf16', z!) },
      { name: 'd', elem: 'f16', f: ([x]) => K.cast('f16', x!) },
      { name: 'e', elem: 'f16', f: ([, , z]) => K.cast('f16', z!) },
      { name: 'f', elem: 'f32', f: ([, , z]) => K.cast('f32', z!) },
      { name: 'g', elem: 'f32', f: ([, y]) => K.cast('f32', y!) },
    ], n);
    const wide = ints.map((x, i) => BigInt(x) * (i % 3 === 0 ? 1n : 2n ** 33n + 1n));
    await check(k, {
      x0: Int32Array.from(ints), x1: Uint32Array.from(ints, (x) => x >>> 0), x2: BigInt64Array.from(wide),
      a: new Float32Array(n), b: new Float32Array(n), c: new Float32Array(n), d: new Float32Array(n), e: new Float32Array(n), f: new Float32Array(n), g: new Float32Array(n),
    });
  });
});

describe.skipIf(why)('special values (loaded from buffers)', () => {
  it('min/max propagate NaN and order −0 < +0; ne, isnan, isinf, sign; → bool', async () => {
    const [a, b] = pairs(SPECIAL);
    const n = a.length;
    const k = elementwise('special', ['f32', 'f32'], [
      { name: 'mn', elem: 'f32', f: ([x, y]) => K.min(x!, y!) },
      { name: 'mx', elem: 'f32', f: ([x, y]) => K.max(x!, y!) },
      { name: 'ne', elem: 'bool', f: ([x, y]) => K.ne(x!, y!) },
      { name: 'eq', elem: 'bool', f: ([x, y]) => K.eq(x!, y!) },
      { name: 'lt', elem: 'bool', f: ([x, y]) => K.lt(x!, y!) },
      { name: 'ge', elem: 'bool', f: ([x, y]) => K.ge(x!, y!) },
      { name: 'nan', elem: 'bool', f: ([x]) => K.unary('isnan', x!) },
      { name: 'inf', elem: 'bool', f: ([x]) => K.unary('isinf', x!) },
      { name: 'sg', elem: 'f32', f: ([x]) => K.unary('sign', x!) },
      { name: 'tb', elem: 'bool', f: ([x]) => K.cast('bool', x!) },
      { name: 'rd', elem: 'f32', f: ([x]) => K.unary('round_even', K.mul(x!, K.c('f32', 2.5))) },
      { name: 'ab', elem: 'f32', f: ([x]) => K.abs(x!) },
    ], n);
    const f = () => new Float32Array(n), bl = () => new Uint8Array(n);
    await check(k, {
      x0: Float32Array.from(a), x1: Float32Array.from(b),
      mn: f(), mx: f(), ne: bl(), eq: bl(), lt: bl(), ge: bl(), nan: bl(), inf: bl(), sg: f(), tb: bl(), rd: f(), ab: f(),
    });
  });

  it('float → int truncates toward zero and saturates, NaN → 0 (every integer type)', async () => {
    const xs = Float32Array.from([...SPECIAL, 2 ** 31, -(2 ** 31), 2 ** 31 - 128, -(2 ** 31) - 256, 4294967296, 4294967040, 127.9, -128.9, 255.5, -0.9, 32767.5, -32768.7, 65535.9]);
    const n = xs.length;
    const ints: KScalar[] = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64'];
    const arr = (e: KScalar) => new ({ i8: Int8Array, u8: Uint8Array, i16: Int16Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array, i64: BigInt64Array, u64: BigUint64Array }[e as 'i8'])(n);
    const k = elementwise('f2i', ['f32', 'f16'], ints.flatMap((e): Output[] => [
      { name: `a_${e}`, elem: e, f: ([x]) => K.cast(e, x!) },
      { name: `b_${e}`, elem: e, f: ([, h]) => K.cast(e, h!) },
    ]), n);
    await check(k, { x0: xs, x1: xs.map(roundF16), ...Object.fromEntries(ints.flatMap((e) => [[`a_${e}`, arr(e)], [`b_${e}`, arr(e)]])) });
  });
});

describe.skipIf(why)('math functions', () => {
  const unary: UnaryOp[] = ['exp', 'log', 'tanh', 'erf', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh',
    'sqrt', 'rsqrt', 'recip', 'floor', 'ceil', 'trunc', 'round_even'];
  it('f32 unary math within 2e-6 of the interpreter (moderate arguments)', async () => {
    const xs: number[] = [];
    for (let i = 0; i < 64; i++) xs.push(Math.fround(Math.sin(i * 7.13) * (i % 4 === 0 ? 30 : i % 4 === 1 ? 3 : i % 4 === 2 ? 0.9 : 0.01)));
    xs.push(0, -0, 1, -1, 0.5, 88, -100, 1e-5);
    const n = xs.length;
    const k = elementwise('math', ['f32'], unary.map((op): Output => ({ name: op, elem: 'f32', f: ([x]) => K.unary(op, x!) })), n);
    await check(k, { x0: Float32Array.from(xs), ...Object.fromEntries(unary.map((op) => [op, new Float32Array(n)])) }, {}, { tol: { rtol: 2e-6, atol: 1e-7 } });
  });

  it('sin/cos/tan of huge arguments (exact reduction), pow, atan2, fmod', async () => {
    const big = [1e4, -3e5, 12345.678, 1e10, -2.5e15, 3e20, 1e30, -1e38, 3.4e38, 65536 * Math.PI, 2 ** 24 * Math.PI / 2, 7.5e7];
    const ys = [2, -3, 0.5, 1.7, 1e-3, 3, -1.25, 10, 0.1, 7, 3, 1e5];
    const n = big.length;
    const k = elementwise('math2', ['f32', 'f32'], [
      { name: 'sin', elem: 'f32', f: ([x]) => K.unary('sin', x!) },
      { name: 'cos', elem: 'f32', f: ([x]) => K.unary('cos', x!) },
      { name: 'tan', elem: 'f32', f: ([x]) => K.unary('tan', x!) },
      { name: 'pow', elem: 'f32', f: ([x, y]) => K.pow(K.abs(K.div(y!, K.c('f32', 3))), y!) },
      { name: 'atan2', elem: 'f32', f: ([x, y]) => K.atan2(y!, x!) },
      { name: 'fmod', elem: 'f32', f: ([x, y]) => K.mod(x!, y!) },
      { name: 'fmod2', elem: 'f32', f: ([x, y]) => K.mod(y!, K.div(x!, K.c('f32', 1e6))) },
    ], n);
    await check(k, {
      x0: Float32Array.from(big), x1: Float32Array.from(ys),
      sin: new Float32Array(n), cos: new Float32Array(n), tan: new Float32Array(n), pow: new Float32Array(n),
      atan2: new Float32Array(n), fmod: new Float32Array(n), fmod2: new Float32Array(n),
    }, {}, { tol: { rtol: 5e-6, atol: 1e-7 } });
  });

  it('f64 is computed in f32 and reported', async () => {
    const k = elementwise('f64', ['f64'], [{ name: 'y', elem: 'f64', f: ([x]) => K.add(K.mul(x!, x!), K.unary('exp', x!)) }], 8);
    const e = await check(k, { x0: Float64Array.from([0, 1, -1, 0.5, 2, 3, -3, 10]), y: new Float64Array(8) }, {}, { tol: { rtol: 1e-6, atol: 0 } });
    expect(e.f64AsF32).toBe(true);
  });
});
