// The fuzz graph generator (compiler/fuzz): graphs valid by construction, deterministic from their recipe,
// covering the op table, with the edge values and shapes the fuzzer promises.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildCase, makeFeeds, type FuzzCase } from '../../compiler/fuzz/builder.ts';
import { FUZZ_OPS, FUZZ_OP_NAMES } from '../../compiler/fuzz/ops.ts';
import { graphRecipeArb } from '../../compiler/fuzz/runner.ts';
import { broadcastable, broadcastShapesArb, FUZZ_DIMS, shapeArb } from '../../compiler/fuzz/shapes.ts';
import { fuzzTensor } from '../../compiler/fuzz/values.ts';
import { exportOnnx } from '../../compiler/onnx/export.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { parseModel, printModel } from '../../grammar/index.ts';
import { modelsEqual } from '../../ir/equal.ts';
import { seededRandom } from '../../ir/random.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';

const OPSETS = [11, 12, 13, 14, 15, 16, 17, 18];
const sample = (n: number, seed: number) => fc.sample(graphRecipeArb({ opsets: OPSETS, maxNodes: 5 }), { seed, numRuns: n }).map((r) => buildCase(r, FUZZ_OPS));

describe('fuzz graph generator', () => {
  const cases: FuzzCase[] = sample(1200, 2026);

  it('makes graphs that pass verifyModel + inferModel and that the reference interpreter runs', () => {
    // buildCase itself throws when verifyModel or inferModel reject a graph.
    for (const c of cases) expect(() => new ReferenceInterpreter(c.model).run(c.feeds)).not.toThrow();
  });

  it('builds valid by construction: the registry rejects under 2% of the steps', () => {
    const nodes = cases.reduce((n, c) => n + c.nodes.length, 0);
    const rejected = cases.reduce((n, c) => n + c.rejected.length, 0);
    expect(nodes).toBeGreaterThan(3000);
    expect(rejected / (nodes + rejected)).toBeLessThan(0.02);
  });

  it('covers the op table: elementwise, integer, Where, Cast, reductions, Softmax, MatMul/Gemm, Conv, pools, data movement', () => {
    const seen = new Set(cases.flatMap((c) => c.nodes.map((n) => n.node.op)));
    expect(seen.size).toBeGreaterThanOrEqual(100);
    for (const op of ['Add', 'Div', 'Mod', 'BitShift', 'Where', 'Cast', 'ReduceSum', 'ReduceMax', 'ArgMax', 'Softmax', 'MatMul', 'Gemm',
      'Conv', 'MaxPool', 'AveragePool', 'Transpose', 'Reshape', 'Slice', 'Concat', 'Gather', 'Pad', 'Expand', 'Tile', 'Split', 'Resize', 'LSTM']) {
      expect(seen, op).toContain(op);
    }
    expect(FUZZ_OP_NAMES.length).toBeGreaterThanOrEqual(100);
    const dtypes = new Set(cases.flatMap((c) => c.nodes.map((n) => n.dtype)));
    for (const d of ['f32', 'f64', 'f16', 'bf16', 'i8', 'u8', 'i32', 'i64', 'u64', 'bool', 'string']) expect(dtypes, d).toContain(d);
  });

  it('draws size-0, size-1 and odd dims, and chains nodes', () => {
    const dims = new Set(cases.flatMap((c) => c.inputs.flatMap((i) => i.shape)));
    for (const d of [0, 1, 3, 5, 7, 17, 33]) expect(dims, `dim ${d}`).toContain(d);
    const chained = cases.filter((c) => c.nodes.some((n) => n.node.inputs.some((v) => v?.producer !== undefined)));
    expect(chained.length).toBeGreaterThan(cases.length / 5);
  });

  it('is deterministic: a recipe builds the same graph and the same inputs', () => {
    for (const c of cases.slice(0, 100)) {
      const again = buildCase(c.recipe, FUZZ_OPS);
      expect(printModel(again.model).text).toBe(printModel(c.model).text);
      expect(makeFeeds(again.inputs, c.recipe.dataSeed)).toEqual(c.feeds);
    }
  });

  it('shrinks towards the simplest graph: an all-zero recipe is one small node', () => {
    const c = buildCase({ opset: 17, steps: [{ op: 0, choices: [] }], dataSeed: 0 }, FUZZ_OPS);
    expect(c.nodes).toHaveLength(1);
    expect(c.inputs.every((i) => i.shape.every((d) => d <= 1) && i.profile === 'small')).toBe(true);
  });

  it('round-trips through the textual IR and ONNX export', () => {
    for (const c of cases.slice(0, 150)) {
      const { text, blobs } = printModel(c.model);
      expect(modelsEqual(parseModel(text, blobs), c.model)).toBe(true);
      expect(() => importOnnx(exportOnnx(c.model))).not.toThrow();
    }
  });
});

describe('fuzz shapes and values', () => {
  it('broadcast partners broadcast, and shapes stay within the element cap', () => {
    fc.assert(fc.property(broadcastShapesArb(), ([a, b]) => broadcastable(a, b)), { seed: 1, numRuns: 500 });
    fc.assert(fc.property(shapeArb(0, 4), (s) => s.reduce((x, y) => x * y, 1) <= 2048 && s.every((d) => FUZZ_DIMS.includes(d) || d < 33)), { seed: 1, numRuns: 300 });
  });

  it('the extreme profile holds the edge values of each type', () => {
    const f = fuzzTensor('f32', [4096], 'extreme', {}, seededRandom(1)).data as Float32Array;
    expect(f.some(Number.isNaN)).toBe(true);
    expect(f.includes(Infinity) && f.includes(-Infinity)).toBe(true);
    expect(f.some((x) => x !== 0 && Math.abs(x) < 1.1754943508222875e-38)).toBe(true); // subnormal
    expect(f.some((x) => Object.is(x, -0))).toBe(true);
    const i = fuzzTensor('i32', [4096], 'extreme', {}, seededRandom(1)).data as Int32Array;
    expect(i.includes(-(2 ** 31)) && i.includes(2 ** 31 - 1)).toBe(true);
    const u = fuzzTensor('u64', [4096], 'extreme', {}, seededRandom(1)).data as BigUint64Array;
    expect(u.includes(2n ** 64n - 1n)).toBe(true);
  });

  it('domains hold: divisors are nonzero, indices in range, no INT_MIN dividends', () => {
    const d = fuzzTensor('i8', [4096], 'extreme', { nonzero: true }, seededRandom(2)).data as Int8Array;
    expect(d.includes(0)).toBe(false);
    const m = fuzzTensor('i32', [4096], 'extreme', { noMin: true }, seededRandom(2)).data as Int32Array;
    expect(m.includes(-(2 ** 31))).toBe(false);
    const idx = fuzzTensor('i64', [4096], 'extreme', { range: [-3, 2], integer: true }, seededRandom(2)).data as BigInt64Array;
    expect([...idx].every((v) => v >= -3n && v <= 2n)).toBe(true);
  });
});
