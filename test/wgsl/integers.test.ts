// Integer semantics of the WGSL emitter on real WebGPU, against the kernel interpreter: 64-bit integers emulated on
// vec2<u32> (every op against BigInt, at the edges: MIN, MAX, ±2^32, carries), 32-bit div/mod/floordiv/floormod
// with MIN / −1, mulhi, packed dot products, narrow integers re-wrapped after every op, int ↔ int casts.
import { describe, it } from 'vitest';
import * as K from '../../ir/kernel/build.ts';
import type { BinaryOp, Expr, KScalar } from '../../ir/kernel/ir.ts';
import { webgpuUnavailable } from './harness.ts';
import { check, elementwise, pairs, type Output } from './check.ts';

const why = await webgpuUnavailable();
if (why) console.log(`SKIP WGSL tests: ${why}`);

const I64_EDGES = [0n, 1n, -1n, 2n, -3n, 7n, 2n ** 31n, 2n ** 32n, 2n ** 32n - 1n, -(2n ** 32n), 2n ** 62n + 12345n,
  -(2n ** 63n), 2n ** 63n - 1n, 12345678901234n, -98765432109n, 0xdeadbeefcafen];
const I32_EDGES = [0, 1, -1, 2, -2, 3, -7, 255, -128, 65535, 2 ** 31 - 1, -(2 ** 31), 123456789, -987654321, 0x7f7f7f7f];

const BIN_OPS: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'floordiv', 'floormod', 'min', 'max', 'and', 'or', 'xor', 'shl', 'shr'];
const CMP_OPS: BinaryOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const DIVS = new Set<BinaryOp>(['div', 'mod', 'floordiv', 'floormod']);

/** One kernel with an output per binary op and comparison of element type e, over every pair of edge values. */
async function binaryOps(e: KScalar, edges: (number | bigint)[], make: (xs: (number | bigint)[]) => ArrayLike<number | bigint> & object) {
  const [a, b] = pairs(edges);
  const nonzero = b.map((x) => (x === 0 || x === 0n ? (typeof x === 'bigint' ? 1n : 1) : x));
  const outputs: Output[] = [
    ...BIN_OPS.map((op): Output => ({ name: `y_${op}`, elem: e, f: ([x, y, d]) => K.binary(op, x!, DIVS.has(op) ? d! : y!) })),
    ...CMP_OPS.map((op): Output => ({ name: `c_${op}`, elem: 'bool', f: ([x, y]) => K.binary(op, x!, y!) })),
  ];
  const k = elementwise(`ops_${e}`, [e, e, e], outputs, a.length);
  const zeros = (el: KScalar) => (el === 'bool' ? new Uint8Array(a.length) : make(a.map(() => (typeof a[0] === 'bigint' ? 0n : 0))));
  await check(k, {
    x0: make(a) as never, x1: make(b) as never, x2: make(nonzero) as never,
    ...Object.fromEntries(outputs.map((o) => [o.name, zeros(o.elem)])),
  });
}

describe.skipIf(why)('64-bit integers on vec2<u32>', () => {
  it('i64: every binary op and comparison at the edges, against BigInt', async () => {
    await binaryOps('i64', I64_EDGES, (xs) => BigInt64Array.from(xs as bigint[]));
  });
  it('u64: every binary op and comparison at the edges, against BigInt', async () => {
    await binaryOps('u64', I64_EDGES.map((x) => BigInt.asUintN(64, x)), (xs) => BigUint64Array.from(xs as bigint[]));
  });
  it('neg, abs, not, sign, and casts to and from every integer and float type', async () => {
    const xs = BigInt64Array.from(I64_EDGES);
    const n = xs.length;
    const un = (op: 'neg' | 'abs' | 'not' | 'sign') => ({ name: `y_${op}`, elem: 'i64' as KScalar, f: ([x]: Expr[]) => K.unary(op, x!) });
    const to = (el: KScalar) => ({ name: `to_${el}`, elem: el, f: ([x]: Expr[]) => K.cast(el, x!) });
    const outputs: Output[] = [
      un('neg'), un('abs'), un('not'), un('sign'),
      ...(['i32', 'u32', 'i8', 'u8', 'i16', 'u16', 'u64', 'bool', 'f32', 'f16', 'bf16'] as KScalar[]).map(to),
      { name: 'u_f32', elem: 'f32', f: ([x]) => K.cast('f32', K.cast('u64', x!)) },
      { name: 'u_bf16', elem: 'bf16', f: ([x]) => K.cast('bf16', K.cast('u64', x!)) },
    ];
    const k = elementwise('i64_unary', ['i64'], outputs, n);
    const empty = (el: KScalar) => (el === 'bool' || el === 'u8' ? new Uint8Array(n) : el === 'i8' ? new Int8Array(n) : el === 'i16' ? new Int16Array(n)
      : el === 'u16' ? new Uint16Array(n) : el === 'i32' ? new Int32Array(n) : el === 'u32' ? new Uint32Array(n) : el === 'i64' ? new BigInt64Array(n)
        : el === 'u64' ? new BigUint64Array(n) : new Float32Array(n));
    await check(k, { x0: xs, ...Object.fromEntries(outputs.map((o) => [o.name, empty(o.elem)])) });
  });
  it('from i32, u32, f32 (truncating, saturating, NaN → 0) to i64 and u64', async () => {
    const ints = Int32Array.from(I32_EDGES);
    const floats = Float32Array.from([0, -0, 1.5, -1.5, 2 ** 40 + 2 ** 20, -(2 ** 50), 2 ** 63, -(2 ** 63), 2 ** 64, 1e30, -1e30, NaN, Infinity, -Infinity, 4294967295.5]);
    const n = ints.length;
    const k = elementwise('to_i64', ['i32', 'u32', 'f32'], [
      { name: 'a', elem: 'i64', f: ([x]) => K.cast('i64', x!) },
      { name: 'b', elem: 'u64', f: ([x]) => K.cast('u64', x!) },
      { name: 'c', elem: 'i64', f: ([, y]) => K.cast('i64', y!) },
      { name: 'd', elem: 'i64', f: ([, , z]) => K.cast('i64', z!) },
      { name: 'e', elem: 'u64', f: ([, , z]) => K.cast('u64', z!) },
    ], n);
    await check(k, {
      x0: ints, x1: Uint32Array.from(I32_EDGES, (x) => x >>> 0), x2: floats,
      a: new BigInt64Array(n), b: new BigUint64Array(n), c: new BigInt64Array(n), d: new BigInt64Array(n), e: new BigUint64Array(n),
    });
  });
});

describe.skipIf(why)('32-bit and narrow integers', () => {
  it('i32 and u32: every binary op at the edges (MIN / −1 wraps), mulhi, dot4', async () => {
    await binaryOps('i32', I32_EDGES, (xs) => Int32Array.from(xs as number[]));
    await binaryOps('u32', I32_EDGES.map((x) => x >>> 0), (xs) => Uint32Array.from(xs as number[]));
    const [a, b] = pairs(I32_EDGES);
    const n = a.length;
    const k = elementwise('mulhi', ['i32', 'u32', 'u32'], [
      { name: 'hs', elem: 'i32', f: ([x, , ]) => K.mulhi(x!, K.cast('i32', K.unary('neg', x!))) },
      { name: 'hu', elem: 'u32', f: ([, y, z]) => K.mulhi(y!, z!) },
      { name: 'du', elem: 'u32', f: ([, y, z]) => K.dot4_u8(y!, z!) },
      { name: 'di', elem: 'i32', f: ([, y, z]) => K.dot4_i8(y!, z!) },
    ], n);
    await check(k, {
      x0: Int32Array.from(a), x1: Uint32Array.from(a, (x) => x >>> 0), x2: Uint32Array.from(b, (x) => x >>> 0),
      hs: new Int32Array(n), hu: new Uint32Array(n), du: new Uint32Array(n), di: new Int32Array(n),
    });
  });

  for (const e of ['i8', 'u8', 'i16', 'u16'] as KScalar[]) {
    it(`${e}: results wrap to the type after add/sub/mul/div/shl/neg/abs/not`, async () => {
      const bits = e.endsWith('8') ? 8 : 16;
      const lo = e.startsWith('i') ? -(2 ** (bits - 1)) : 0, hi = e.startsWith('i') ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
      const edges = [0, 1, 2, 3, 7, lo, hi, lo + 1, hi - 1, e.startsWith('i') ? -1 : 100];
      const [a, b] = pairs(edges);
      const n = a.length;
      const Arr = { i8: Int8Array, u8: Uint8Array, i16: Int16Array, u16: Uint16Array }[e as 'i8']!;
      const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'mod', 'floordiv', 'floormod', 'min', 'max', 'shl', 'shr', 'and', 'or', 'xor'];
      const outputs: Output[] = [
        ...ops.map((op): Output => ({ name: `y_${op}`, elem: e, f: ([x, y, d]) => K.binary(op, x!, DIVS.has(op) ? d! : y!) })),
        ...(['neg', 'abs', 'not', 'sign'] as const).map((op): Output => ({ name: `u_${op}`, elem: e, f: ([x]) => K.unary(op, x!) })),
        { name: 'lt', elem: 'bool', f: ([x, y]) => K.lt(x!, y!) },
        ...(['i8', 'u8', 'i16', 'u16', 'i32', 'u32'] as KScalar[]).filter((t) => t !== e).map((t): Output => ({ name: `to_${t}`, elem: t, f: ([x]) => K.cast(t, K.mul(x!, x!)) })),
      ];
      const k = elementwise(`narrow_${e}`, [e, e, e], outputs, n);
      const alloc = (el: KScalar) => (el === 'bool' ? new Uint8Array(n) : new ({ i8: Int8Array, u8: Uint8Array, i16: Int16Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array }[el as 'i8']!)(n));
      await check(k, {
        x0: Arr.from(a), x1: Arr.from(b), x2: Arr.from(b, (x) => x || 1),
        ...Object.fromEntries(outputs.map((o) => [o.name, alloc(o.elem)])),
      });
    });
  }

  it('integer division by zero gives some value without hanging (i32, u32, i64)', async () => {
    const { buildWgsl } = await import('../../backends/wgsl/index.ts');
    const { runWgsl } = await import('./harness.ts');
    const k = elementwise('divzero', ['i32', 'u32', 'i64'], [
      { name: 'a', elem: 'i32', f: ([x]) => K.div(x!, K.sub(x!, x!)) },
      { name: 'b', elem: 'u32', f: ([, y]) => K.binary('floormod', y!, K.sub(y!, y!)) },
      { name: 'c', elem: 'i64', f: ([, , z]) => K.binary('floordiv', z!, K.sub(z!, z!)) },
    ], 4);
    await runWgsl(k, buildWgsl([k]).kernels[0]!, {
      x0: Int32Array.from([1, -1, 0, 7]), x1: Uint32Array.from([1, 2, 0, 7]), x2: BigInt64Array.from([1n, -(2n ** 63n), 0n, 7n]),
      a: new Int32Array(4), b: new Uint32Array(4), c: new BigInt64Array(4),
    }, {});
  });
});
