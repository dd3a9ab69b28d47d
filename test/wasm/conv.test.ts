// The fast Conv lowerings (compiler/lower/ops/conv.ts) compiled to WASM against the reference interpreter,
// with fast-check over the window: depthwise direct loops (borders, stride 1 vector columns, strides,
// dilations, pads, auto_pad, bias), im2col + the matmul template (group 1, 1×1 pointwise, groups with one
// image, 1-D and 3-D), and the direct loops where neither applies (groups with a symbolic batch).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel } from '../../compiler/compile.ts';
import { prepare } from '../../compiler/driver.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { Tensor } from '../../ir/tensor.ts';
import { Session } from '../../runtime/session.ts';
import { modelOf, randomValues } from '../lower/helpers.ts';

const RUNS = Number(process.env.WASM_CONV_RUNS ?? 12);

interface ConvCase {
  n: number; c: number; m: number; group: number; spatial: number[]; kernel: number[];
  strides: number[]; dilations: number[]; pads: number[] | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID'; bias: boolean; symbolicBatch?: boolean;
}

/** Compiles a one-Conv model, runs the artifact and the reference; returns the kernel names and a mismatch. */
async function check(cs: ConvCase, seed: number): Promise<{ kernels: string[]; why: string | undefined }> {
  const xShape = [cs.n, cs.c, ...cs.spatial];
  const wShape = [cs.m, cs.c / cs.group, ...cs.kernel];
  const attrs: Record<string, unknown> = { group: cs.group, strides: cs.strides, dilations: cs.dilations, kernel_shape: cs.kernel };
  if (typeof cs.pads === 'string') attrs.auto_pad = cs.pads;
  else attrs.pads = cs.pads;
  const initializers: Record<string, Tensor> = { w: randomValues('f32', wShape, seed + 1, { range: 1 }) };
  if (cs.bias) initializers.b = randomValues('f32', [cs.m], seed + 2, { range: 1 });
  const model = modelOf({
    inputs: [{ name: 'x', dtype: 'f32', shape: cs.symbolicBatch ? ['N', ...xShape.slice(1)] : xShape }],
    outputs: [{ name: 'y', dtype: 'f32' }],
    initializers,
    nodes: [{ op: 'Conv', inputs: cs.bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attrs: attrs as never }],
    opset: 13,
  });
  const kernels = lower(model, { target: 'wasm' }).kernels.map((k) => k.name.replace(/_\d+$/, ''));
  const feeds = { x: randomValues('f32', xShape, seed, { range: 2 }) };
  const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
  const got = await session.run(feeds);
  const want = prepare(model, 'reference').run(feeds);
  return { kernels, why: compareTensors(got.y!, want.y as Tensor, { rtol: 1e-4, atol: 1e-5 }) };
}

const small = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });
/** A 2-D window whose padded input is at least one dilated kernel wide. */
const window2d = fc.record({
  h: small(1, 12), w: small(1, 19), kh: small(1, 5), kw: small(1, 5), sh: small(1, 3), sw: small(1, 3), dh: small(1, 2), dw: small(1, 2),
  pads: fc.oneof(fc.tuple(small(0, 2), small(0, 2), small(0, 2), small(0, 2)).map((p) => p as number[]), fc.constantFrom('SAME_UPPER', 'SAME_LOWER', 'VALID') as fc.Arbitrary<ConvCase['pads']>),
}).filter((r) => {
  const [pt, pl, pb, pr] = typeof r.pads === 'string' ? [0, 0, 0, 0] : r.pads;
  if (r.pads === 'VALID' || typeof r.pads !== 'string') {
    return r.h + pt + pb >= (r.kh - 1) * r.dh + 1 && r.w + pl + pr >= (r.kw - 1) * r.dw + 1;
  }
  return true;
});

describe('fast Conv lowerings on WASM', () => {
  it('depthwise 2-D: direct loops, every window', async () => {
    await fc.assert(fc.asyncProperty(window2d, small(1, 2), small(1, 5), fc.boolean(), fc.integer(), async (r, n, c, bias, seed) => {
      const { kernels, why } = await check({ n, c, m: c, group: c, spatial: [r.h, r.w], kernel: [r.kh, r.kw], strides: [r.sh, r.sw], dilations: [r.dh, r.dw], pads: r.pads, bias }, seed);
      expect(why).toBeUndefined();
      if (c > 1) expect(kernels).toContain('DepthwiseConv');
    }), { numRuns: RUNS });
  });

  it('group 1: im2col + the matmul template, every window', async () => {
    await fc.assert(fc.asyncProperty(window2d, small(1, 2), small(1, 6), small(1, 9), fc.boolean(), fc.integer(), async (r, n, c, m, bias, seed) => {
      const { kernels, why } = await check({ n, c, m, group: 1, spatial: [r.h, r.w], kernel: [r.kh, r.kw], strides: [r.sh, r.sw], dilations: [r.dh, r.dw], pads: r.pads, bias }, seed);
      expect(why).toBeUndefined();
      expect(kernels).toContain('Conv');
    }), { numRuns: RUNS });
  });

  const fixed: [string, ConvCase, string[]][] = [
    ['1×1 pointwise reads the input directly (no im2col)', { n: 2, c: 7, m: 13, group: 1, spatial: [5, 9], kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], bias: true }, ['Conv', 'Conv_bias']],
    ['grouped with one image: the groups are the batch', { n: 1, c: 6, m: 9, group: 3, spatial: [7, 6], kernel: [3, 2], strides: [1, 2], dilations: [1, 1], pads: [1, 0, 1, 1], bias: true }, ['im2col', 'Conv', 'Conv_bias']],
    ['depthwise with a channel multiplier (direct loops)', { n: 1, c: 3, m: 6, group: 3, spatial: [6, 6], kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], bias: false, symbolicBatch: true }, ['Conv']],
    ['grouped with a symbolic batch (direct loops)', { n: 2, c: 4, m: 4, group: 2, spatial: [5, 5], kernel: [3, 3], strides: [1, 1], dilations: [1, 1], pads: [1, 1, 1, 1], bias: true, symbolicBatch: true }, ['Conv']],
    ['1-D', { n: 2, c: 3, m: 5, group: 1, spatial: [17], kernel: [4], strides: [2], dilations: [1], pads: [1, 2], bias: true }, ['im2col', 'Conv', 'Conv_bias']],
    ['3-D', { n: 1, c: 2, m: 3, group: 1, spatial: [4, 5, 6], kernel: [2, 3, 2], strides: [1, 2, 1], dilations: [1, 1, 2], pads: [0, 1, 0, 1, 0, 1], bias: false }, ['im2col', 'Conv']],
    ['depthwise wide rows (vector columns)', { n: 1, c: 4, m: 4, group: 4, spatial: [9, 40], kernel: [5, 5], strides: [1, 1], dilations: [1, 1], pads: [2, 2, 2, 2], bias: true }, ['DepthwiseConv']],
  ];
  for (const [name, cs, kernels] of fixed) {
    it(name, async () => {
      const r = await check(cs, 3);
      expect(r.why).toBeUndefined();
      expect(r.kernels).toEqual(kernels);
    });
  }

  const transposed: [string, { n: number; c: number; m: number; spatial: number[]; attrs: Record<string, unknown>; bias: boolean; group?: number }][] = [
    ['2×2 stride 2 (upsampling)', { n: 1, c: 6, m: 5, spatial: [5, 7], attrs: { kernel_shape: [2, 2], strides: [2, 2] }, bias: true }],
    ['3×3 stride 2, pads, output_padding, dilations', { n: 2, c: 3, m: 4, spatial: [4, 5], attrs: { kernel_shape: [3, 3], strides: [2, 3], pads: [1, 0, 1, 2], output_padding: [1, 0], dilations: [1, 2] }, bias: true }],
    ['output_shape and SAME_UPPER', { n: 1, c: 2, m: 3, spatial: [3, 4], attrs: { kernel_shape: [3, 3], strides: [2, 2], output_shape: [7, 9] }, bias: false }],
    ['auto_pad SAME_LOWER, 1-D', { n: 1, c: 3, m: 2, spatial: [6], attrs: { kernel_shape: [4], strides: [2], auto_pad: 'SAME_LOWER' }, bias: true }],
    ['3-D', { n: 1, c: 2, m: 2, spatial: [2, 3, 2], attrs: { kernel_shape: [2, 2, 3], strides: [1, 2, 1] }, bias: false }],
    ['groups (direct loops)', { n: 1, c: 4, m: 4, spatial: [3, 3], attrs: { kernel_shape: [3, 3], strides: [2, 2] }, bias: true, group: 2 }],
  ];
  for (const [name, cs] of transposed) {
    it(`ConvTranspose: ${name}`, async () => {
      const group = cs.group ?? 1;
      const xShape = [cs.n, cs.c, ...cs.spatial];
      const wShape = [cs.c, cs.m / group, ...(cs.attrs.kernel_shape as number[])];
      const initializers: Record<string, Tensor> = { w: randomValues('f32', wShape, 5, { range: 1 }) };
      if (cs.bias) initializers.b = randomValues('f32', [cs.m], 6, { range: 1 });
      const model = modelOf({
        inputs: [{ name: 'x', dtype: 'f32', shape: xShape }], outputs: [{ name: 'y', dtype: 'f32' }], initializers,
        nodes: [{ op: 'ConvTranspose', inputs: cs.bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], attrs: { ...cs.attrs, group } as never }], opset: 13,
      });
      const kernels = lower(model, { target: 'wasm' }).kernels.map((k) => k.name.replace(/_\d+$/, ''));
      expect(kernels).toEqual(group === 1 ? ['ConvTranspose', 'col2im'] : ['ConvTranspose']);
      const feeds = { x: randomValues('f32', xShape, 4, { range: 2 }) };
      const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
      const got = await session.run(feeds);
      expect(compareTensors(got.y!, prepare(model, 'reference').run(feeds).y as Tensor, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined();
    });
  }
});
