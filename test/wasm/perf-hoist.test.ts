// Loop-invariant hoisting (compiler/lower/index-math.ts, applied to every kernel a CPU target finishes):
// the hoisted kernels compute what the reference interpreter computes — through the WASM backend, with one
// artifact over symbolic dimensions fed odd and unit extents, broadcasts and every op family of the
// PP-OCR detector's neck (Resize, broadcast Add/Mul, Concat, GlobalAveragePool, BatchNormalization) —
// and the hoisting itself moves what it may and nothing else.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../compiler/compile.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { hoistInvariants } from '../../compiler/lower/index-math.ts';
import { add, c, div, load, loop, store, v } from '../../ir/kernel/build.ts';
import type { Stmt } from '../../ir/kernel/ir.ts';
import { Tensor } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { Session } from '../../runtime/session.ts';
import { modelOf, randomValues, seedArb } from '../lower/helpers.ts';

const C = 3;
const neck = (mode: 'nearest' | 'linear', coord: string) => modelOf({
  inputs: [{ name: 'x', dtype: 'f32', shape: ['N', C, 'H', 'W'] }, { name: 'b', dtype: 'f32', shape: [1, C, 1, 1] }],
  outputs: [{ name: 'g', dtype: 'f32' }, { name: 'y', dtype: 'f32' }, { name: 'm', dtype: 'f32' }],
  initializers: {
    scales: Tensor.from('f32', [4], [1, 1, 2, 2]),
    s: Tensor.from('f32', [2 * C], [1, 0.5, -2, 1.5, 1, 0.25]), bb: Tensor.from('f32', [2 * C], [0, 1, -1, 0.5, 2, 0]),
    mu: Tensor.from('f32', [2 * C], [0.1, -0.2, 0, 1, 0.5, -1]), va: Tensor.from('f32', [2 * C], [1, 2, 0.5, 0.1, 3, 1]),
  },
  nodes: [
    { op: 'Resize', inputs: ['x', '', 'scales'], outputs: ['r'], attrs: { mode, coordinate_transformation_mode: coord } },
    { op: 'Add', inputs: ['r', 'b'], outputs: ['a'] },
    { op: 'Mul', inputs: ['r', 'b'], outputs: ['p'] },
    { op: 'Concat', inputs: ['a', 'p'], outputs: ['cat'], attrs: { axis: 1 } },
    { op: 'GlobalAveragePool', inputs: ['cat'], outputs: ['g'] },
    { op: 'BatchNormalization', inputs: ['cat', 's', 'bb', 'mu', 'va'], outputs: ['y'] },
    // A broadcast of two symbolic operands against each other (the detector's FPN adds).
    { op: 'Add', inputs: ['y', 'g'], outputs: ['m'] },
  ],
  opset: 13,
});

describe('hoisted kernels through WASM', () => {
  for (const [mode, coord] of [['nearest', 'asymmetric'], ['nearest', 'half_pixel'], ['linear', 'half_pixel'], ['linear', 'align_corners']] as const) {
    it(`Resize ${mode}/${coord} → broadcast Add/Mul → Concat → GlobalAveragePool, BatchNormalization over symbolic N, H, W`, async () => {
      const model = neck(mode, coord);
      const { files } = await compileModel(model, { target: 'wasm' });
      const session = await Session.create(files, { backend: 'wasm' });
      const ref = new ReferenceInterpreter(model);
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 11 }), seedArb, async (n, h, w, seed) => {
        const feeds = { x: randomValues('f32', [n, C, h, w], seed), b: randomValues('f32', [1, C, 1, 1], seed + 1) };
        const got = await session.run(feeds);
        const want = ref.run(feeds);
        for (const k of ['g', 'y', 'm']) {
          expect(compareTensors(got[k]!, want[k] as Tensor, { rtol: 1e-4, atol: 1e-5 }), `${k} at [${n},${C},${h},${w}]`).toBeUndefined();
        }
      }), { numRuns: 8 });
    });
  }
});

describe('hoistInvariants', () => {
  const fresh = (() => { let i = 0; return (h: string) => `${h}_${i++}`; })();
  const N = v('N'), D = v('D');
  const io = { name: 'x', elem: 'f32' as const };
  const flat = (stmts: Stmt[]): Stmt[] => stmts.flatMap((s) => (s.kind === 'loop' ? [s, ...flat(s.body)] : [s]));

  it('moves symbolic index math out of the loops it does not depend on, level by level', () => {
    const body = [loop('i', 0, N, [loop('j', 0, N, [store(io, add(add(v('i'), div(N, c('i32', 4))), v('j')), c('f32', 1))])])];
    const out = hoistInvariants(body, fresh);
    expect(out[0]).toMatchObject({ kind: 'let', value: { op: 'div' } });
    const inner = flat(out).filter((s) => s.kind === 'let');
    expect(inner).toHaveLength(2); // N/4 before i, i + N/4 before j
    const j = flat(out).find((s) => s.kind === 'loop' && s.var === 'j') as Extract<Stmt, { kind: 'loop' }>;
    expect(j.body[0]).toMatchObject({ kind: 'store', index: { op: 'add', a: { kind: 'var' }, b: { name: 'j' } } });
  });

  it('never hoists a division by a non-constant, a load or a mutable local (a loop of no trips must not fail)', () => {
    const body: Stmt[] = [loop('i', 0, N, [
      { kind: 'local', name: 'acc', type: { elem: 'i32', lanes: 1 }, init: c('i32', 0) },
      { kind: 'assign', name: 'acc', value: add(v('acc'), div(N, D)) },
      store(io, add(v('acc'), load({ name: 'k', elem: 'i32' }, c('i32', 0))), c('f32', 1)),
    ])];
    expect(hoistInvariants(body, fresh)).toEqual(body);
  });
});
