// Data movement lowered to kernels (and views) agrees with the reference: random permutations, slices,
// concatenations, gathers, pads, expands, tiles, depth/space shuffles.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lower } from '../../compiler/lower/lower.ts';
import type { DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';
import { expectSame, mismatch, modelOf, randomValues, RUNS, seedArb, shapeArb } from './helpers.ts';

const i64 = (vals: number[]) => Tensor.from('i64', [vals.length], vals);
const DTYPES: DType[] = ['f32', 'i64', 'u8', 'f16', 'bool'];

describe('views and copies', () => {
  it('Reshape/Flatten/Squeeze/Unsqueeze are views: no kernel at all', () => {
    const m = modelOf({
      inputs: [{ name: 'x', dtype: 'f32', shape: [2, 1, 3, 4] }], outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { s: i64([4, -1]), ax: i64([1]), ax0: i64([0]) },
      nodes: [
        { op: 'Squeeze', inputs: ['x', 'ax'], outputs: ['a'] },
        { op: 'Reshape', inputs: ['a', 's'], outputs: ['b'] },
        { op: 'Flatten', inputs: ['b'], outputs: ['c'], attrs: { axis: 1 } },
        { op: 'Unsqueeze', inputs: ['c', 'ax0'], outputs: ['d'] },
        { op: 'Relu', inputs: ['d'], outputs: ['y'] },
      ], opset: 13,
    });
    const p = lower(m);
    expect(p.kernels.length).toBe(1);
    expectSame(m, { x: randomValues('f32', [2, 1, 3, 4], 1) });
  });

  it('Transpose: random permutations and dtypes', () => {
    fc.assert(fc.property(shapeArb(4).filter((s) => s.length > 0).chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }))),
      fc.constantFrom(...DTYPES), seedArb, ([shape, perm], dtype, seed) => {
        const m = modelOf({ inputs: [{ name: 'x', dtype, shape }], outputs: [{ name: 'y', dtype }],
          nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm } }], opset: 13 });
        expect(mismatch(m, { x: randomValues(dtype, shape, seed) })).toBeUndefined();
      }), RUNS);
  });

  it('Slice: random starts/ends/steps including negative steps and out-of-range bounds', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), seedArb, fc.array(fc.tuple(fc.integer({ min: -8, max: 8 }), fc.integer({ min: -8, max: 8 }), fc.constantFrom(1, 2, -1, -2)), { minLength: 3, maxLength: 3 }),
      (shape, seed, specs) => {
        const axes = shape.map((_, i) => i);
        const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape }], outputs: [{ name: 'y', dtype: 'f32' }],
          initializers: { s: i64(axes.map((a) => specs[a]![0])), e: i64(axes.map((a) => specs[a]![1])), a: i64(axes), st: i64(axes.map((a) => specs[a]![2])) },
          nodes: [{ op: 'Slice', inputs: ['x', 's', 'e', 'a', 'st'], outputs: ['y'] }], opset: 13 });
        expect(mismatch(m, { x: randomValues('f32', shape, seed) })).toBeUndefined();
      }), RUNS);
  });

  it('Concat and Split along every axis', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.nat(), seedArb, (shape, axisSeed, seed) => {
      const axis = axisSeed % shape.length;
      const other = shape.map((d, i) => (i === axis ? d + 1 : d));
      const m = modelOf({
        inputs: [{ name: 'a', dtype: 'f32', shape }, { name: 'b', dtype: 'f32', shape: other }],
        outputs: [{ name: 'y', dtype: 'f32' }, { name: 'p', dtype: 'f32' }, { name: 'q', dtype: 'f32' }],
        initializers: { sp: i64([shape[axis]!, other[axis]!]) },
        nodes: [
          { op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis } },
          { op: 'Split', inputs: ['y', 'sp'], outputs: ['p', 'q'], attrs: { axis } },
        ], opset: 13,
      });
      expect(mismatch(m, { a: randomValues('f32', shape, seed), b: randomValues('f32', other, seed + 1) })).toBeUndefined();
    }), RUNS);
  });

  it('Gather, GatherElements, GatherND with negative indices', () => {
    const x = randomValues('f32', [3, 4, 2], 5);
    const g = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4, 2] }, { name: 'i', dtype: 'i64', shape: [2, 2] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'Gather', inputs: ['x', 'i'], outputs: ['y'], attrs: { axis: 1 } }], opset: 13 });
    expectSame(g, { x, i: Tensor.from('i64', [2, 2], [0, -1, 3, -4]) });
    const ge = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4, 2] }, { name: 'i', dtype: 'i32', shape: [3, 2, 2] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'GatherElements', inputs: ['x', 'i'], outputs: ['y'], attrs: { axis: 1 } }], opset: 13 });
    expectSame(ge, { x, i: Tensor.from('i32', [3, 2, 2], [0, 1, 2, 3, -1, -2, 1, 1, 0, 0, 3, 2]) });
    const gnd = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 4, 2] }, { name: 'i', dtype: 'i64', shape: [2, 2] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'GatherND', inputs: ['x', 'i'], outputs: ['y'] }], opset: 13 });
    expectSame(gnd, { x, i: Tensor.from('i64', [2, 2], [0, 1, 2, -1]) });
  });

  it('Pad: constant, reflect and edge, with negative pads', () => {
    fc.assert(fc.property(fc.constantFrom('constant', 'reflect', 'edge'), fc.array(fc.integer({ min: 2, max: 4 }), { minLength: 1, maxLength: 3 }), seedArb,
      fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 6, maxLength: 6 }), (mode, shape, seed, raw) => {
        const pads = [...shape.map((_, i) => raw[i]!), ...shape.map((_, i) => raw[i + 3]!)];
        const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape }], outputs: [{ name: 'y', dtype: 'f32' }],
          initializers: { p: i64(pads), v: Tensor.scalar('f32', 1.5) },
          nodes: [{ op: 'Pad', inputs: ['x', 'p', 'v'], outputs: ['y'], attrs: { mode } }], opset: 13 });
        expect(mismatch(m, { x: randomValues('f32', shape, seed) })).toBeUndefined();
      }), RUNS);
  });

  it('Expand, Tile, DepthToSpace (DCR and CRD), SpaceToDepth', () => {
    const x = randomValues('f32', [1, 8, 2, 3], 9);
    const expand = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 1] }], outputs: [{ name: 'y', dtype: 'f32' }],
      initializers: { s: i64([2, 1, 4]) }, nodes: [{ op: 'Expand', inputs: ['x', 's'], outputs: ['y'] }], opset: 13 });
    expectSame(expand, { x: randomValues('f32', [3, 1], 1) });
    const tile = modelOf({ inputs: [{ name: 'x', dtype: 'i32', shape: [2, 3] }], outputs: [{ name: 'y', dtype: 'i32' }],
      initializers: { r: i64([3, 2]) }, nodes: [{ op: 'Tile', inputs: ['x', 'r'], outputs: ['y'] }], opset: 13 });
    expectSame(tile, { x: randomValues('i32', [2, 3], 2) });
    for (const mode of ['DCR', 'CRD']) {
      const d2s = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [1, 8, 2, 3] }], outputs: [{ name: 'y', dtype: 'f32' }],
        nodes: [{ op: 'DepthToSpace', inputs: ['x'], outputs: ['y'], attrs: { blocksize: 2, mode } }], opset: 13 });
      expectSame(d2s, { x });
    }
    const s2d = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [1, 2, 4, 6] }], outputs: [{ name: 'y', dtype: 'f32' }],
      nodes: [{ op: 'SpaceToDepth', inputs: ['x'], outputs: ['y'], attrs: { blocksize: 2 } }], opset: 13 });
    expectSame(s2d, { x: randomValues('f32', [1, 2, 4, 6], 3) });
  });

  it('ScatterND and ScatterElements apply updates in order', () => {
    const m = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [4, 3] }, { name: 'i', dtype: 'i64', shape: [2, 1] }, { name: 'u', dtype: 'f32', shape: [2, 3] }],
      outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'ScatterND', inputs: ['x', 'i', 'u'], outputs: ['y'] }], opset: 13 });
    expectSame(m, { x: randomValues('f32', [4, 3], 1), i: Tensor.from('i64', [2, 1], [2, -4]), u: randomValues('f32', [2, 3], 2) });
    const e = modelOf({ inputs: [{ name: 'x', dtype: 'f32', shape: [3, 3] }, { name: 'i', dtype: 'i64', shape: [2, 3] }, { name: 'u', dtype: 'f32', shape: [2, 3] }],
      outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'ScatterElements', inputs: ['x', 'i', 'u'], outputs: ['y'], attrs: { axis: 0, reduction: 'add' } }], opset: 16 });
    expectSame(e, { x: randomValues('f32', [3, 3], 3), i: Tensor.from('i64', [2, 3], [1, 0, 2, 1, 2, 0]), u: randomValues('f32', [2, 3], 4) });
  });
});
