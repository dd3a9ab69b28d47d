// The WGSL emitter's structure on real WebGPU, against the kernel interpreter: vectors (scalarized lanes, vector
// loads/stores of consecutive elements, broadcast/extract/reduce, bitcasts that repack lanes), the two schedules
// (grid-stride loops correct for any number of workgroups, including a nest whose iteration count is not
// provably 32-bit; workgroup 0 running uniform code, workgroup-stride loops and lock-step loops with barriers),
// atomics (native and compare-exchange loops, old values broadcast), identifiers that are WGSL keywords, and
// the documented refusals.
import { describe, expect, it } from 'vitest';
import { buildWgsl } from '../../backends/wgsl/index.ts';
import { TesseraError } from '../../ir/errors.ts';
import * as K from '../../ir/kernel/build.ts';
import { roundF16 } from '../../ir/dtype.ts';
import { webgpuUnavailable } from './harness.ts';
import { check, elementwise } from './check.ts';

const why = await webgpuUnavailable();
if (why) console.log(`SKIP WGSL tests: ${why}`);

const f32s = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => Math.fround(f(i)));

function refusal(k: Parameters<typeof buildWgsl>[0][number]): string {
  try { buildWgsl([k]); } catch (e) {
    if (e instanceof TesseraError) return e.message;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe.skipIf(why)('vectors', () => {
  for (const lanes of [2, 4, 8, 16] as const) {
    it(`f32x${lanes}: loads, arithmetic, select, stores of consecutive elements`, async () => {
      const n = 64;
      const k = elementwise(`vec${lanes}`, ['f32', 'f32'], [
        { name: 'y', elem: 'f32', f: ([a, b]) => K.select(K.lt(a!, b!), K.mul(a!, b!), K.max(K.sub(a!, b!), K.broadcast(K.c('f32', 0.5), lanes))) },
        { name: 'z', elem: 'f32', f: ([a]) => K.add(a!, K.broadcast(K.reduceLanes('max', a!), lanes)) },
      ], n, lanes);
      await check(k, { x0: f32s(n, (i) => Math.sin(i) * 4), x1: f32s(n, (i) => Math.cos(i * 3) * 4), y: new Float32Array(n), z: new Float32Array(n) });
    });
  }

  it('bitcasts repack lanes little-endian: u8x4 ↔ u32, f16x2 ↔ u32, f32x2 ↔ i64, i16x4 ↔ f32x2', async () => {
    const n = 8;
    const u8 = K.buffer('u8', 'u8', 4 * n, 'read'), h = K.buffer('h', 'f16', 2 * n, 'read'), f = K.buffer('f', 'f32', 2 * n, 'read'), w = K.buffer('w', 'i16', 4 * n, 'read');
    const a = K.buffer('a', 'u32', n, 'write'), b = K.buffer('b', 'u32', n, 'write'), c = K.buffer('c', 'i64', n, 'write');
    const d = K.buffer('d', 'u8', 4 * n, 'write'), e = K.buffer('e', 'f16', 2 * n, 'write'), g = K.buffer('g', 'f32', 2 * n, 'write'), r = K.buffer('r', 'i16', 4 * n, 'write');
    const k = K.kernel('bitcasts', {
      buffers: [u8, h, f, w, a, b, c, d, e, g, r],
      body: [K.parallel('i', 0, n, (i) => [
        K.store(a, i, K.bitcast('u32', K.load(u8, K.mul(i, 4), 4))),
        K.store(b, i, K.bitcast('u32', K.load(h, K.mul(i, 2), 2))),
        K.store(c, i, K.bitcast('i64', K.load(f, K.mul(i, 2), 2))),
        K.store(d, K.mul(i, 4), K.bitcast({ elem: 'u8', lanes: 4 }, K.add(K.bitcast('u32', K.load(u8, K.mul(i, 4), 4)), K.c('u32', 0x01010101)))),
        K.store(e, K.mul(i, 2), K.bitcast({ elem: 'f16', lanes: 2 }, K.bitcast('u32', K.load(h, K.mul(i, 2), 2)))),
        K.store(g, K.mul(i, 2), K.bitcast({ elem: 'f32', lanes: 2 }, K.bitcast({ elem: 'i16', lanes: 4 }, K.load(f, K.mul(i, 2), 2)))),
        K.store(r, K.mul(i, 4), K.bitcast({ elem: 'i16', lanes: 4 }, K.bitcast('i64', K.load(w, K.mul(i, 4), 4)))),
      ])],
    });
    await check(k, {
      u8: Uint8Array.from({ length: 4 * n }, (_, i) => (i * 37 + 11) & 255),
      h: Float32Array.from([1, -2, 0.5, 65504, -0, 2 ** -24, 3.140625, -1e-3, 100, 0.1, 7, -7, 1024, 2048, 0.25, -0.75].map(roundF16)),
      f: f32s(2 * n, (i) => (i - 5) * 1.37e-3 + i * 1e5), w: Int16Array.from({ length: 4 * n }, (_, i) => (i * 4099) - 30000),
      a: new Uint32Array(n), b: new Uint32Array(n), c: new BigInt64Array(n), d: new Uint8Array(4 * n), e: new Float32Array(2 * n), g: new Float32Array(2 * n), r: new Int16Array(4 * n),
    });
  });

  it('i64x2 and bool lanes: reduce, extract, broadcast, vector select', async () => {
    const n = 8;
    const x = K.buffer('x', 'i64', 2 * n, 'read'), y = K.buffer('y', 'i64', n, 'write'), z = K.buffer('z', 'bool', 2 * n, 'write');
    const k = K.kernel('wide_lanes', {
      buffers: [x, y, z],
      body: [K.parallel('i', 0, n, (i) => {
        const v = K.load(x, K.mul(i, 2), 2);
        return [
          K.store(y, i, K.add(K.reduceLanes('min', v), K.extract(K.mul(v, K.broadcast(K.c('i64', 3n), 2)), 1))),
          K.store(z, K.mul(i, 2), K.lt(v, K.broadcast(K.c('i64', 0n), 2))),
        ];
      })],
    });
    await check(k, { x: BigInt64Array.from({ length: 2 * n }, (_, i) => BigInt(i - 7) * 3000000000n), y: new BigInt64Array(n), z: new Uint8Array(2 * n) });
  });
});

describe.skipIf(why)('schedules', () => {
  // y[b, i, j] = x[b, i, j] * s[j] + b over symbolic sizes: one flattened grid-stride space.
  const nest = () => {
    const x = K.buffer('x', 'f32', K.mul(K.mul(K.v('B'), K.v('M')), K.v('N')), 'read');
    const s = K.buffer('s', 'f32', K.v('N'), 'read');
    const y = K.buffer('y', 'f32', K.mul(K.mul(K.v('B'), K.v('M')), K.v('N')), 'write');
    return K.kernel('nest', {
      buffers: [x, s, y], sizes: ['B', 'M', 'N'],
      body: [K.parallel('b', 0, K.v('B'), (b) => [K.parallel('i', 0, K.v('M'), (i) => [K.parallel('j', 0, K.v('N'), (j) => {
        const at = K.add(K.mul(K.add(K.mul(b, K.v('M')), i), K.v('N')), j);
        return [K.store(y, at, K.add(K.mul(K.load(x, at), K.load(s, j)), K.cast('f32', b)))];
      })])])],
    });
  };

  it('a perfect parallel nest is one grid-stride space, correct for any number of workgroups', async () => {
    const sizes = { B: 3, M: 17, N: 29 };
    const n = 3 * 17 * 29;
    const bufs = () => ({ x: f32s(n, (i) => i * 0.25), s: f32s(29, (j) => j - 3), y: new Float32Array(n) });
    const e = await check(nest(), bufs(), sizes);
    expect(e.via).toBe('grid');
    expect(e.wgsl).not.toContain('} else {'); // the space is the size of y: no 64-bit fallback
    for (const workgroups of [1, 2, 5]) await check(nest(), bufs(), sizes, { workgroups });
  });

  it('a nest not bounded by a buffer size checks for 32-bit overflow and has a fallback', async () => {
    const n = K.v('n');
    const y = K.buffer('y', 'i32', 64, 'readwrite');
    const k = K.kernel('unbounded', {
      buffers: [y], sizes: ['n'],
      body: [K.parallel('i', 0, n, (i) => [K.parallel('j', 0, K.add(n, 1), (j) => [
        K.if_(K.lt(K.add(K.mul(i, K.add(n, 1)), j), 64), [K.store(y, K.add(K.mul(i, K.add(n, 1)), j), K.add(K.mul(i, 100), j))]),
      ])])],
    });
    const e = await check(k, { y: new Int32Array(64) }, { n: 6 });
    expect(e.wgsl).toContain('} else {');
  });

  it('workgroup schedule: uniform stores, atomics with broadcast results, workgroup-stride and serial loops', async () => {
    const y = K.buffer('y', 'i32', 300, 'readwrite'), cnt = K.buffer('cnt', 'u32', 4, 'readwrite'), m = K.buffer('m', 'i32', 2, 'readwrite');
    const f = K.buffer('f', 'f32', 2, 'readwrite');
    const k = K.kernel('uniform', {
      buffers: [y, cnt, m, f], sizes: ['n'],
      body: [
        K.store(y, 0, K.v('n')),
        K.atomic('add', cnt, 0, K.c('u32', 5), { result: 'old' }),
        K.parallel('i', 1, K.add(K.load(y, 0), 1), (i) => [
          K.store(y, i, K.add(K.mul(i, 2), K.cast('i32', K.v('old', 'u32')))),
          K.atomic('add', cnt, 1, K.c('u32', 1)),
          K.atomic('max', m, 0, K.sub(K.mul(i, 7), K.mul(K.v('n'), 3))),
          K.atomic('min', m, 1, K.sub(K.mul(i, 7), K.mul(K.v('n'), 3))),
          K.atomic('add', f, 0, K.cast('f32', i)),
        ]),
        K.loop('r', 0, 3, (r) => [
          K.if_(K.gt(K.load(y, 5), 0), [
            K.parallel('j', 0, 10, (j) => [K.store(y, K.add(K.add(K.mul(r, 10), j), 260), K.add(K.load(y, K.add(j, 1)), r))]),
          ]),
        ]),
        K.atomic('exchange', f, 1, K.load(f, 0), { result: 'prev' }),
        K.store(y, 299, K.cast('i32', K.v('prev', 'f32'))),
      ],
    });
    const e = await check(k, { y: new Int32Array(300), cnt: Uint32Array.from([10, 0, 0, 0]), m: Int32Array.from([-(2 ** 31), 2 ** 31 - 1]), f: Float32Array.from([0.5, 9]) }, { n: 250 });
    expect(e.via).toBe('workgroup');
  });

  it('workgroup schedule: a lock-step loop with barriers exchanging through workgroup memory', async () => {
    const x = K.buffer('x', 'f32', 64, 'read'), y = K.buffer('y', 'f32', 64, 'write'), t = K.buffer('t', 'f32', 64, 'readwrite', 'workgroup');
    // A tree reduction in workgroup memory, then each iteration reads a neighbour's partial.
    const k = K.kernel('lockstep', {
      buffers: [x, y, t],
      body: [K.parallel('i', 0, 64, (i) => [
        K.store(t, i, K.load(x, i)),
        K.barrier(),
        K.loop('s', 0, 6, (s) => [
          K.let_('w', K.shl(K.c('i32', 1), s)),
          K.let_('v', K.add(K.load(t, i), K.load(t, K.floormod(K.add(i, K.v('w')), 64)))),
          K.barrier(),
          K.store(t, i, K.v('v', 'f32')),
          K.barrier(),
        ]),
        K.store(y, i, K.sub(K.load(t, i), K.load(t, K.floormod(K.add(i, 1), 64)))),
      ])],
    });
    const e = await check(k, { x: f32s(64, (i) => (i % 7) - 3), y: new Float32Array(64) });
    expect(e.via).toBe('workgroup');
    expect(e.launch.block).toBe(64);
  });
});

describe.skipIf(why)('names', () => {
  it('IR names that are WGSL keywords or not identifiers are renamed', async () => {
    const x = K.buffer('var', 'f32', 8, 'read'), y = K.buffer('loop.out', 'f32', 8, 'write');
    const k = K.kernel('names', {
      buffers: [x, y], sizes: ['let'],
      body: [K.parallel('fn', 0, K.v('let'), (i) => [
        K.let_('π', K.load(x, i)),
        K.local('__x', 'f32', K.v('π', 'f32')),
        K.let_('a_b', K.c('f32', 2)),
        K.let_('a.b', K.c('f32', 3)),
        K.assign('__x', K.add(K.mul(K.v('__x', 'f32'), K.v('a_b', 'f32')), K.v('a.b', 'f32'))),
        K.store(y, i, K.v('__x', 'f32')),
      ])],
    });
    await check(k, { var: f32s(8, (i) => i), 'loop.out': new Float32Array(8) }, { let: 8 });
  });

});

describe('refusals (no GPU needed)', () => {
  it('refuses what WebGPU cannot do, naming the kernel', () => {
    const r = K.buffer('r', 'i64', 4, 'readwrite');
    expect(refusal(K.kernel('a64', { buffers: [r], body: [K.atomic('add', r, 0, K.c('i64', 1n))] })))
      .toBe("kernel 'a64': atomics on the i64 buffer 'r': WebGPU has no 64-bit atomics");
    const t = K.buffer('t', 'f32', 512, 'readwrite', 'workgroup');
    expect(refusal(K.kernel('wide', { buffers: [t], body: [K.parallel('i', 0, 300, (i) => [K.store(t, i, K.c('f32', 1)), K.barrier()])] })))
      .toBe("kernel 'wide': the parallel loop over 'i' holds a barrier and has 300 iterations; at most 256 run in lock-step");
    expect(refusal(K.kernel('sym', { buffers: [t], sizes: ['n'], body: [K.parallel('i', 0, K.v('n'), (i) => [K.store(t, i, K.c('f32', 1)), K.barrier()])] })))
      .toMatch(/^kernel 'sym': the parallel loop over 'i' holds a barrier: it needs constant bounds/);
    const big = K.buffer('big', 'f32', 5000, 'readwrite', 'workgroup');
    expect(refusal(K.kernel('wgmem', { buffers: [big], body: [K.store(big, 0, K.c('f32', 1))] })))
      .toBe("kernel 'wgmem': workgroup buffers need 20000 bytes, more than WebGPU's 16384");
    const many = Array.from({ length: 65 }, (_, i) => K.buffer(`b${i}`, 'f32', 1, 'read'));
    expect(refusal(K.kernel('params', { buffers: many, body: [] })))
      .toBe("kernel 'params': 65 buffers and 0 sizes; WebGPU kernels take at most 64 parameter words");
  });
});
