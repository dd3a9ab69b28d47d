// Resize of symbolic axes by an integer factor (nearest): the index is q + offset(r) for o = q·k + r, the
// offsets computed at compile time. Every coordinate mode × nearest mode × factor against the reference
// interpreter, on the kernel-IR interpreter over odd and unit extents, and one artifact through WASM.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../compiler/compile.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { Tensor } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { Session } from '../../runtime/session.ts';
import { mismatch, modelOf, randomValues, seedArb } from '../lower/helpers.ts';

const COORDS = ['asymmetric', 'half_pixel', 'pytorch_half_pixel', 'tf_half_pixel_for_nn'] as const;
const NEAREST = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'] as const;

const resize = (k: number, coord: string, nearest: string) => modelOf({
  inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 2, 'H', 'W'] }],
  outputs: [{ name: 'y', dtype: 'f32' }],
  initializers: { scales: Tensor.from('f32', [4], [1, 1, k, k]) },
  nodes: [{ op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['y'], attrs: { mode: 'nearest', coordinate_transformation_mode: coord, nearest_mode: nearest } }],
  opset: 13,
});

describe('nearest Resize of symbolic axes by an integer factor', () => {
  it('agrees with the reference for every coordinate and nearest mode (kernel interpreter)', () => {
    fc.assert(fc.property(fc.constantFrom(1, 2, 3, 4, 5), fc.constantFrom(...COORDS), fc.constantFrom(...NEAREST),
      fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }), seedArb, (k, coord, nearest, n, h, w, seed) => {
        expect(mismatch(resize(k, coord, nearest), { x: randomValues('f32', [n, 2, h, w], seed) }, { rtol: 0, atol: 0 })).toBeUndefined();
      }), { numRuns: 60 });
  });

  it('agrees with the reference through WASM (one artifact, several shapes)', async () => {
    for (const [k, coord, nearest] of [[2, 'asymmetric', 'floor'], [3, 'half_pixel', 'round_prefer_floor']] as const) {
      const model = resize(k, coord, nearest);
      const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
      for (const [h, w] of [[1, 1], [3, 5], [8, 7]] as const) {
        const feeds = { x: randomValues('f32', [1, 2, h, w], h * 31 + w) };
        const got = (await session.run(feeds)).y!;
        expect(compareTensors(got, new ReferenceInterpreter(model).run(feeds).y as Tensor, { rtol: 0, atol: 0 })).toBeUndefined();
      }
    }
  });
});
