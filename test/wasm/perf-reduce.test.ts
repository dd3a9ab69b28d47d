// Sums over trailing axes (ReduceSum/Mean/L1/L2/SumSquare, GlobalAveragePool) accumulate in 4 SIMD lanes
// plus a scalar tail: against the reference on odd, unit and empty-tail extents and symbolic dimensions,
// on the kernel-IR interpreter and through WASM.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../compiler/compile.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { Tensor } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { Session } from '../../runtime/session.ts';
import { mismatch, modelOf, randomValues, seedArb } from '../lower/helpers.ts';

const OPS = ['ReduceSum', 'ReduceMean', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'GlobalAveragePool'] as const;

const reduce = (op: string, axes: number[]) => modelOf({
  inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 3, 'H', 'W'] }],
  outputs: [{ name: 'y', dtype: 'f32' }],
  initializers: op === 'ReduceSum' ? { axes: Tensor.from('i64', [axes.length], axes.map(BigInt)) } : {},
  nodes: [{
    op, inputs: op === 'ReduceSum' ? ['x', 'axes'] : ['x'], outputs: ['y'],
    attrs: op === 'GlobalAveragePool' || op === 'ReduceSum' ? {} : { axes },
  }],
  opset: 13,
});

describe('lane-wise sums over trailing axes', () => {
  it('agree with the reference (kernel interpreter)', () => {
    fc.assert(fc.property(fc.constantFrom(...OPS), fc.constantFrom([3], [2, 3], [1, 2, 3], [0, 1, 2, 3], [1, 3]),
      fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 13 }), seedArb, (op, axes, n, h, w, seed) => {
        expect(mismatch(reduce(op, [...axes]), { x: randomValues('f32', [n, 3, h, w], seed) }, { rtol: 1e-5, atol: 1e-5 })).toBeUndefined();
      }), { numRuns: 60 });
  });

  it('agree with the reference through WASM (one artifact, several shapes)', async () => {
    for (const [op, axes] of [['GlobalAveragePool', [2, 3]], ['ReduceMean', [2, 3]], ['ReduceL2', [1, 2, 3]]] as const) {
      const model = reduce(op, [...axes]);
      const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
      for (const [h, w] of [[1, 1], [1, 3], [3, 5], [8, 8], [13, 7]] as const) {
        const feeds = { x: randomValues('f32', [2, 3, h, w], h * 31 + w) };
        const got = (await session.run(feeds)).y!;
        expect(compareTensors(got, new ReferenceInterpreter(model).run(feeds).y as Tensor, { rtol: 1e-5, atol: 1e-5 }), `${op} ${h}x${w}`).toBeUndefined();
      }
    }
  });
});
