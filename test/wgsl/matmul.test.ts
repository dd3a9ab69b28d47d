// The WGSL f32 matmul template (backends/wgsl/matmul.ts) on WebGPU (dawn.node over SwiftShader): every shader
// compiles without a message; results match an f64 reference within f32 rounding over odd shapes, tile edges,
// transposes, batches with a broadcast operand, K = 0 and 1, any number of workgroups; nothing outside Y is
// written. Then kernels as the lowering makes them (target webgpu) against the kernel interpreter running their
// body, which is the definition, and a compiled artifact through the runtime's Session. Skips (with the
// reason) where no adapter exists.
import { describe, expect, it } from 'vitest';
import { emitMatmul, matmulTile, tileFor, type WgslMatmul } from '../../backends/wgsl/matmul.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel } from '../../compiler/compile.ts';
import { prepare } from '../../compiler/driver.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { c, v } from '../../ir/kernel/build.ts';
import { interpretKernel } from '../../ir/kernel/interpret.ts';
import type { Kernel, MatmulPattern } from '../../ir/kernel/ir.ts';
import { Tensor } from '../../ir/tensor.ts';
import { evalSize } from '../../runtime/plan.ts';
import { Session } from '../../runtime/session.ts';
import { modelOf, randomValues } from '../lower/helpers.ts';
import {
  bindParams, compileShader, dispatch, GUARD, gpuDevice, makeArena, patternKernel, readWords, referenceMatmul, type MatmulVariant,
} from './matmul-harness.ts';

const device = await gpuDevice().catch((e: Error) => e);
const why = device instanceof Error ? device.message : '';
if (why) console.log(`SKIP WGSL matmul template tests: ${why}`);

/** A deterministic f32 array in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 31 - 1;
  });
}

const pipelines = new Map<string, Promise<GPUComputePipeline>>();
/** One pipeline per shader text; the compilation must report nothing at all (no error, warning or info). */
function pipelineOf(wgsl: string): Promise<GPUComputePipeline> {
  let p = pipelines.get(wgsl);
  if (!p) {
    p = compileShader(device as GPUDevice, wgsl).then(({ pipeline, messages }) => {
      expect(messages).toEqual([]);
      return pipeline;
    });
    pipelines.set(wgsl, p);
  }
  return p;
}

/**
 * Runs the kernel's template over `data` (one array per global buffer, kernel order; the written one's
 * content is ignored) with each workgroup count of `grids` (default: the launch's); every run must give the
 * same Y and leave every other word of the arena — the operands and the guard words after each buffer — as
 * it was. Returns Y.
 */
async function run(k: Kernel, mm: WgslMatmul, sizes: Record<string, number>, data: Float32Array[], grids?: number[]): Promise<Float32Array> {
  const dev = device as GPUDevice;
  const pipeline = await pipelineOf(mm.wgsl);
  const globals = k.buffers.filter((b) => b.space === 'global');
  const yAt = globals.findIndex((b) => b.name === k.pattern!.y);
  const words = data.map((d, i) => (i === yAt ? new Uint32Array(d.length).fill(GUARD) : new Uint32Array(d.buffer, d.byteOffset, d.length)));
  const arena = makeArena(dev, words, 5);
  const group = bindParams(dev, pipeline, arena, k.sizes.map((s) => sizes[s.name]!));
  const launch = evalSize(mm.launch.grid, sizes);
  expect(launch).toBeGreaterThanOrEqual(1);
  let y: Float32Array | undefined;
  for (const grid of grids ?? [launch]) {
    dev.queue.writeBuffer(arena.buffer, 0, arena.initial);
    await dispatch(dev, pipeline, group, grid);
    const after = await readWords(dev, arena);
    const yWords = after.slice(arena.offsets[yAt]!, arena.offsets[yAt]! + data[yAt]!.length);
    const expected = arena.initial.slice();
    expected.set(yWords, arena.offsets[yAt]!);
    expect(after, `grid ${grid}: words outside Y changed`).toEqual(expected);
    const got = new Float32Array(yWords.buffer);
    if (y) expect(got, `grid ${grid} differs from grid ${(grids ?? [launch])[0]}`).toEqual(y);
    y = got;
  }
  arena.buffer.destroy();
  return y!;
}

interface Case {
  vr: MatmulVariant; nb: number; m: number; n: number; k: number;
  /** Writes non-finite values into the operands (A, B as stored). */
  poison?: (a: Float32Array, b: Float32Array) => void;
}
const NN = { transA: false, transB: false, aBroadcast: false, bBroadcast: false };
const nameOf = (cs: Case) => `${cs.vr.transA ? 't' : 'n'}${cs.vr.transB ? 't' : 'n'}${cs.vr.aBroadcast ? ' A broadcast' : cs.vr.bBroadcast ? ' B broadcast' : ''} ` +
  `${cs.nb}×${cs.m}×${cs.n}×${cs.k}`;

/** The template of the variant's kernel (or a given tile) against the f64 reference. */
async function check(cs: Case, tile?: ReturnType<typeof matmulTile>, grids?: number[]): Promise<void> {
  const { vr, nb, m, n, k } = cs;
  const kernel = patternKernel(`mm_${nameOf(cs).replace(/\W+/g, '_')}`, vr);
  const mm = emitMatmul(kernel, tile ? { tile } : {});
  expect(mm).toBeDefined();
  const a = values((vr.aBroadcast ? 1 : nb) * m * k, 1 + m * 7 + k), b = values((vr.bBroadcast ? 1 : nb) * k * n, 2 + n * 5 + k);
  cs.poison?.(a, b);
  const y = await run(kernel, mm!, { nb, m, n, k }, [a, b, new Float32Array(nb * m * n)], grids);
  const ref = referenceMatmul(vr, nb, m, n, k, a, b);
  for (let i = 0; i < y.length; i++) {
    // f32 summation: |error| ≤ K·2⁻²⁴·Σ|a·b| (with room); fma only tightens it.
    const tol = (k + 2) * 2 ** -23 * ref.scale[i]! + 1e-30;
    if (!Number.isFinite(ref.y[i]!) ? !Object.is(y[i], ref.y[i]) : !(Math.abs(y[i]! - ref.y[i]!) <= tol)) {
      expect.fail(`${nameOf(cs)}: y[${i}] = ${y[i]}, reference ${ref.y[i]} (tolerance ${tol})`);
    }
  }
}

describe.skipIf(!!why)('the WGSL f32 matmul template', () => {
  const ab = { aBroadcast: true, bBroadcast: false }, bb = { aBroadcast: false, bBroadcast: true }, dense = { aBroadcast: false, bBroadcast: false };
  const cases: Case[] = [
    { vr: NN, nb: 1, m: 1, n: 1, k: 1 },
    { vr: NN, nb: 1, m: 7, n: 13, k: 5 },
    { vr: NN, nb: 1, m: 64, n: 64, k: 64 },
    { vr: NN, nb: 1, m: 65, n: 67, k: 33 },  // one past the 64×64 workgroup tile, K odd (the unrolled tail)
    { vr: NN, nb: 1, m: 17, n: 6, k: 1 },    // N not a multiple of 4, K = 1
    { vr: NN, nb: 1, m: 3, n: 5, k: 0 },     // K = 0: zeros
    { vr: NN, nb: 2, m: 0, n: 5, k: 3 },     // M = 0: nothing to do, one idle workgroup
    { vr: NN, nb: 3, m: 9, n: 30, k: 11 },
    { vr: { transA: false, transB: false, ...ab }, nb: 3, m: 19, n: 10, k: 7 },
    { vr: { transA: false, transB: false, ...bb }, nb: 3, m: 21, n: 18, k: 9 },
    { vr: { transA: true, transB: false, ...dense }, nb: 2, m: 23, n: 14, k: 9 },
    { vr: { transA: false, transB: true, ...dense }, nb: 2, m: 18, n: 23, k: 10 },
    { vr: { transA: true, transB: true, ...dense }, nb: 2, m: 33, n: 17, k: 1 },
    { vr: { transA: true, transB: true, ...bb }, nb: 3, m: 6, n: 70, k: 5 },
  ];
  for (const cs of cases) it(`${nameOf(cs)} matches the f64 reference`, () => check(cs));

  it('is correct for any number of workgroups (grid-stride over tiles)', async () => {
    // 2 × 2 × 2 = 8 tiles of 64×64: fewer, as many and more workgroups than tiles.
    await check({ vr: NN, nb: 2, m: 70, n: 100, k: 13 }, undefined, [1, 3, 8, 11]);
  });

  it('infinities and NaNs in the last k step propagate as in the body (the unrolled tail adds exact zeros)', async () => {
    // K odd: the last iteration's second step lies past K and must not multiply the clamped (infinite) A or B.
    await check({
      vr: NN, nb: 1, m: 5, n: 6, k: 3, poison: (a, b) => {
        a[1 * 3 + 2] = Infinity;   // A(1, K−1): row 1 is +∞ or −∞ …
        b[2 * 6 + 4] = 0;          // … or NaN (∞·0) in column 4
        b[2 * 6 + 5] = NaN;        // column 5 is NaN in every row
        a[3 * 3 + 0] = -Infinity;  // A(3, 0): row 3 is ∓∞ (NaN where it meets ∞ of the other sign)
      },
    });
  });

  it('other tiles: multiply-then-add without unrolling, and an unroll by 4 over K % 4 ≠ 0', async () => {
    await check({ vr: NN, nb: 2, m: 37, n: 29, k: 15 }, matmulTile(4, 4, 8, 8, 1, false));
    await check({ vr: { transA: true, transB: true, ...dense }, nb: 1, m: 20, n: 31, k: 7 }, matmulTile(8, 8, 8, 8, 4));
  });

  it('declines what it does not handle', () => {
    const k = patternKernel('mm', NN);
    const p = k.pattern as MatmulPattern;
    expect(emitMatmul({ ...k, pattern: undefined })).toBeUndefined();
    expect(emitMatmul({ ...k, pattern: { ...p, elem: 'f16', acc: 'f32' } })).toBeUndefined();
    expect(emitMatmul({ ...k, pattern: { ...p, elem: 'i8', acc: 'i32' } })).toBeUndefined();
    // An expression over something that is not a size param, or an op index math never needs.
    expect(emitMatmul({ ...k, pattern: { ...p, m: v('nope') } })).toBeUndefined();
    expect(emitMatmul({ ...k, pattern: { ...p, k: { kind: 'binary', type: { elem: 'i32', lanes: 1 }, op: 'shl', a: v('k'), b: c('i32', 1) } } })).toBeUndefined();
    expect(emitMatmul({ ...k, buffers: k.buffers.map((b) => (b.name === 'y' ? { ...b, elem: 'f16' as const } : b)) })).toBeUndefined();
  });

  it('narrows the tile when M or N is a small constant', () => {
    const p = patternKernel('mm', NN).pattern as MatmulPattern;
    expect(tileFor(p)).toMatchObject({ tm: 16, tn: 16 });
    expect(tileFor({ ...p, m: c('i32', 1) })).toMatchObject({ tm: 1, tn: 8, tx: 16, ty: 1 });
    expect(tileFor({ ...p, m: c('i32', 5) })).toMatchObject({ tm: 8, tx: 16, ty: 1 });
    expect(tileFor({ ...p, n: c('i32', 3) })).toMatchObject({ tm: 16, tn: 4, tx: 1, ty: 16 });
  });
});

describe.skipIf(!!why)('MatMul and Gemm lowered for webgpu take the template', () => {
  type Spec = Parameters<typeof modelOf>[0];
  const f32 = (name: string, shape: (number | string)[]) => ({ name, dtype: 'f32' as const, shape });
  const mm = (a: (number | string)[], b: (number | string)[]): Spec => ({
    inputs: [f32('a', a), f32('b', b)], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13,
  });
  const cases: { name: string; spec: Spec; sizes?: Record<string, number> }[] = [
    { name: 'MatMul with a symbolic batch and rows, B broadcast', spec: mm(['B', 'M', 7], [7, 9]), sizes: { B: 3, M: 21 } },
    { name: 'MatMul of a row vector (M = 1: the GEMV tile)', spec: mm([6], [3, 6, 10]) },
    { name: 'MatMul, M = 5 and a batch', spec: mm([2, 5, 12], [2, 12, 40]) },
    { name: 'MatMul, N = 3', spec: mm([37, 8], [8, 3]) },
    {
      name: 'Gemm transA transB with bias (split into a plain product)',
      spec: { inputs: [f32('a', [11, 25]), f32('b', [19, 11]), f32('c', [19])], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['y'], attrs: { transA: 1, transB: 1 } }], opset: 13 },
    },
  ];
  for (const cs of cases) {
    it(`${cs.name}: matches the kernel's body`, async () => {
      const program = lower(modelOf(cs.spec), { target: 'webgpu' });
      const kernels = program.kernels.filter((k) => k.pattern?.kind === 'matmul');
      expect(kernels.length).toBe(1);
      const k = kernels[0]!;
      const t = emitMatmul(k);
      expect(t).toBeDefined();
      const sizes = cs.sizes ?? {};
      const globals = k.buffers.filter((b) => b.space === 'global');
      const data = globals.map((b, i) => (b.access === 'read' ? values(evalSize(b.size, sizes), 11 + i) : new Float32Array(evalSize(b.size, sizes))));
      const got = await run(k, t!, sizes, data);
      const buffers = Object.fromEntries(globals.map((b, i) => [b.name, Float32Array.from(data[i]!)]));
      const want = interpretKernel(k, { buffers, sizes })[k.pattern!.y] as Float32Array;
      expect(got.length).toBe(want.length);
      const K = evalSize(k.pattern!.k, sizes);
      // Operands in [-1, 1): Σ|a·b| ≤ K bounds the f32 rounding of either order (fma or not).
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual((K + 2) * K * 2 ** -23);
    });
  }

  it('a compiled artifact runs the template through the runtime (Session, webgpu) and matches the reference', async () => {
    const model = modelOf(mm([3, 'M', 20], [20, 37]));
    const { files } = await compileModel(model, { target: 'webgpu' });
    expect(new TextDecoder().decode(files.get('kernels.wgsl.json'))).toContain('f32 matmul template');
    const session = await Session.create(files, { backend: 'webgpu' });
    const feeds = { a: randomValues('f32', [3, 45, 20], 7, { range: 2 }), b: randomValues('f32', [20, 37], 8, { range: 2 }) };
    const got = await session.run(feeds);
    const want = prepare(model, 'reference').run(feeds);
    expect(compareTensors(got.y!, want.y as Tensor, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined();
  });
});
