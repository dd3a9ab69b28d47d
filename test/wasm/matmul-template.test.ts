// The register-tiled matmul template (backends/wasm/matmul.ts) against the kernel-IR interpreter running the
// kernel's own body, which is the definition: fast-check over shapes (0, 1, odd sizes, tile edges), batch with
// broadcast operands, transposes, plain and relaxed SIMD. Then through the compiler: MatMul and Gemm models
// carry the pattern, and a compiled artifact matches the reference interpreter.
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildWasmModule } from '../../backends/wasm/index.ts';
import { hasMatmulTemplate } from '../../backends/wasm/matmul.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel } from '../../compiler/compile.ts';
import { prepare } from '../../compiler/driver.ts';
import { lower } from '../../compiler/lower/lower.ts';
import { parseKernel } from '../../grammar/kernel-parser.ts';
import { printKernel } from '../../grammar/kernel-printer.ts';
import { kernelDiff } from '../../ir/kernel/equal.ts';
import { interpretKernel } from '../../ir/kernel/interpret.ts';
import type { Expr, Kernel, MatmulPattern } from '../../ir/kernel/ir.ts';
import { kernelProblem } from '../../ir/kernel/verify.ts';
import { Tensor } from '../../ir/tensor.ts';
import { Session } from '../../runtime/session.ts';
import { WasmExecutor, relaxedSimdSupport, sequentialPlan } from '../../runtime/wasm/executor.ts';
import { modelOf, randomValues } from '../lower/helpers.ts';

// Node 20 runs relaxed SIMD only with this flag (the runtime's probe decides whether it is usable).
v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
const RUNS = Number(process.env.WASM_TEMPLATE_RUNS ?? 40);
const [B, M, N, K] = ['nb', 'm', 'n', 'k'].map((s) => d.v(s));

interface Variant { transA: boolean; transB: boolean; aBroadcast: boolean; bBroadcast: boolean }

/** A matmul kernel as the lowering writes one: a naive body (the definition) plus its pattern. */
function patternKernel(name: string, vr: Variant): Kernel {
  const aMat = d.mul(M, K), bMat = d.mul(K, N);
  const sa = vr.aBroadcast ? d.c(0) : aMat, sb = vr.bBroadcast ? d.c(0) : bMat;
  const aAt = (b: Expr, m: Expr, k: Expr) => d.add(d.mul(b, sa), vr.transA ? d.add(d.mul(k, M), m) : d.add(d.mul(m, K), k));
  const bAt = (b: Expr, k: Expr, n: Expr) => d.add(d.mul(b, sb), vr.transB ? d.add(d.mul(n, K), k) : d.add(d.mul(k, N), n));
  const [bi, mi, ni, ki] = ['bi', 'mi', 'ni', 'ki'].map((s) => d.v(s));
  const body = [d.loop('bi', 0, B, [d.loop('mi', 0, M, [d.loop('ni', 0, N, [
    d.local('acc', d.ty('f32'), d.c(0, 'f32')),
    d.loop('ki', 0, K, [d.assign('acc', d.add(d.v('acc', 'f32'), d.mul(d.load('a', 'f32', aAt(bi!, mi!, ki!)), d.load('b', 'f32', bAt(bi!, ki!, ni!)))))]),
    d.store('y', d.add(d.mul(bi!, d.mul(M, N)), d.add(d.mul(mi!, N), ni!)), d.v('acc', 'f32')),
  ])])], { kind: 'parallel' })];
  const pattern: MatmulPattern = {
    kind: 'matmul', a: 'a', b: 'b', y: 'y', batch: B!, m: M!, n: N!, k: K!, aBatchStride: sa, bBatchStride: sb,
    transA: vr.transA, transB: vr.transB, elem: 'f32', acc: 'f32', scratch: 's',
  };
  const buf = (n: string, access: 'read' | 'write' | 'readwrite', size: Expr) => ({ name: n, elem: 'f32' as const, access, size, space: 'global' as const });
  return {
    name, sizes: ['nb', 'm', 'n', 'k'].map((s) => ({ name: s })), body, pattern,
    buffers: [buf('a', 'read', vr.aBroadcast ? aMat : d.mul(B, aMat)), buf('b', 'read', vr.bBroadcast ? bMat : d.mul(B, bMat)),
      buf('y', 'write', d.mul(B, d.mul(M, N))), buf('s', 'readwrite', d.mul(K, d.add(M, d.c(16))))],
  };
}

const VARIANTS: Variant[] = [];
for (const transA of [false, true]) for (const transB of [false, true]) for (const [aBroadcast, bBroadcast] of [[false, false], [true, false], [false, true]] as const) {
  VARIANTS.push({ transA, transB, aBroadcast, bBroadcast });
}
const nameOf = (v: Variant) => `mm_${v.transA ? 't' : 'n'}${v.transB ? 't' : 'n'}_${v.aBroadcast ? 'ab' : v.bBroadcast ? 'bb' : 'dense'}`;
const kernels = VARIANTS.map((v) => patternKernel(nameOf(v), v));
const relaxedRuns = relaxedSimdSupport().madd;

describe('the matmul template', () => {
  it('the test kernels verify and take the template', () => {
    for (const k of kernels) {
      expect(kernelProblem(k)).toBeUndefined();
      expect(hasMatmulTemplate(k)).toBe(true);
    }
    // Without scratch the body is emitted.
    expect(hasMatmulTemplate({ ...kernels[0]!, pattern: { ...kernels[0]!.pattern!, scratch: undefined } })).toBe(false);
    // The template is what runs: SIMD multiply-adds on splatted A; the naive body has none.
    expect(buildWasmModule([kernels[0]!], { text: true }).text).toMatch(/v128\.load32_splat[\s\S]*f32x4\.mul/);
    expect(buildWasmModule([kernels[0]!], { text: true, templates: false }).text).not.toMatch(/f32x4/);
  });

  it(`matches the interpreter over shapes, batch broadcast and transposes (simd128${relaxedRuns ? ' and relaxed' : ''})`, async () => {
    const builds = [buildWasmModule(kernels).binary, ...(relaxedRuns ? [buildWasmModule(kernels, { relaxed: true }).binary] : [])];
    const dim = fc.oneof(fc.constantFrom(0, 1, 3, 4, 5, 7, 8, 9, 16, 17), fc.integer({ min: 0, max: 40 }));
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: VARIANTS.length - 1 }), fc.integer({ min: 0, max: 3 }), dim, dim, dim, fc.integer(),
      async (vi, nb, m, n, k, seed) => {
        const kern = kernels[vi]!, vr = VARIANTS[vi]!;
        let s = seed >>> 0;
        const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5);
        const a = Float32Array.from({ length: (vr.aBroadcast ? 1 : nb) * m * k }, r);
        const b = Float32Array.from({ length: (vr.bBroadcast ? 1 : nb) * k * n }, r);
        const sizes = { nb, m, n, k };
        const want = interpretKernel(kern, { buffers: { a, b, y: new Float32Array(nb * m * n), s: new Float32Array(k * (m + 16)) }, sizes }).y as Float32Array;
        for (const binary of builds) {
          const plan = sequentialPlan({ a: a.byteLength, b: b.byteLength, y: 4 * nb * m * n + 64, s: 4 * k * (m + 16) });
          const ex = await WasmExecutor.create({ simd: binary }, plan);
          ex.write('a', a); ex.write('b', b);
          // Poison the output and scratch: the template must write every element and must not read Y.
          ex.write('y', new Float32Array(nb * m * n + 16).fill(NaN));
          ex.write('s', new Float32Array(k * (m + 16)).fill(NaN));
          ex.call({ kernel: kern.name, buffers: ['a', 'b', 'y', 's'], sizes: [nb, m, n, k] });
          const got = ex.read('y', Float32Array);
          for (let i = 0; i < nb * m * n; i++) {
            expect(Math.abs(got[i]! - want[i]!), `${kern.name} ${nb}×${m}×${n}×${k} at ${i}`).toBeLessThanOrEqual(1e-5 * (k + 1));
          }
          // Nothing past Y is written.
          for (let i = nb * m * n; i < nb * m * n + 16; i++) expect(got[i]).toBeNaN();
        }
      }), { numRuns: RUNS });
  });
});

describe('the pattern in the textual kernel IR', () => {
  it('prints, parses back equal, and the verifier checks what it names', () => {
    for (const k of kernels) {
      const text = printKernel(k);
      expect(text).toMatch(/\) matmul \{a: a, b: b, y: y, scratch: s, batch: nb, m: m, n: n, k: k, /);
      expect(kernelDiff(parseKernel(text), k)).toBeUndefined();
    }
    const text = printKernel(kernels[0]!);
    expect(() => parseKernel(text.replace('scratch: s', 'scratch: q'))).toThrow(/buffer 'q' is not declared/);
    expect(() => parseKernel(text.replace('trans_a: false', 'trans_a: 1'))).toThrow(/must be true or false/);
    expect(() => parseKernel(text.replace(') matmul {', ') conv {'))).toThrow(/unknown pattern 'conv'/);
    expect(kernelProblem({ ...kernels[0]!, pattern: { ...kernels[0]!.pattern!, y: 'a' } })).toMatch(/pattern's y 'a' is read/);
    expect(kernelProblem({ ...kernels[0]!, pattern: { ...kernels[0]!.pattern!, elem: 'f16' } })).toMatch(/holds f32, the pattern says f16/);
    expect(kernelProblem({ ...kernels[0]!, pattern: { ...kernels[0]!.pattern!, m: d.v('nope') } })).toMatch(/nope/);
  });
});

describe('MatMul and Gemm lowered with a pattern', () => {
  const cases: { name: string; spec: Parameters<typeof modelOf>[0]; pattern: boolean }[] = [
    { name: 'MatMul batched', pattern: true, spec: { inputs: [{ name: 'a', dtype: 'f32', shape: [2, 3, 5, 7] }, { name: 'b', dtype: 'f32', shape: [2, 3, 7, 9] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13 } },
    { name: 'MatMul with B broadcast', pattern: true, spec: { inputs: [{ name: 'a', dtype: 'f32', shape: [4, 5, 6] }, { name: 'b', dtype: 'f32', shape: [6, 10] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13 } },
    { name: 'MatMul 1-D operands', pattern: true, spec: { inputs: [{ name: 'a', dtype: 'f32', shape: [6] }, { name: 'b', dtype: 'f32', shape: [3, 6, 10] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13 } },
    { name: 'MatMul with a partly broadcast batch (no single stride)', pattern: false, spec: { inputs: [{ name: 'a', dtype: 'f32', shape: [2, 1, 3, 4] }, { name: 'b', dtype: 'f32', shape: [1, 3, 4, 5] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }], opset: 13 } },
    { name: 'Gemm transposed with bias', pattern: true, spec: { inputs: [{ name: 'a', dtype: 'f32', shape: [11, 5] }, { name: 'b', dtype: 'f32', shape: [9, 11] }, { name: 'c', dtype: 'f32', shape: [9] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['y'], attrs: { transA: 1, transB: 1, beta: { float: 0.5 } } }], opset: 13 } },
    { name: 'Gemm with alpha (an epilogue: no pattern)', pattern: false, spec: { inputs: [{ name: 'a', dtype: 'f32', shape: [5, 6] }, { name: 'b', dtype: 'f32', shape: [6, 7] }], outputs: [{ name: 'y', dtype: 'f32' }], nodes: [{ op: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attrs: { alpha: { float: 2 } } }], opset: 13 } },
  ];
  for (const cs of cases) {
    it(`${cs.name}: ${cs.pattern ? 'a pattern' : 'no pattern'}, and the artifact matches the reference`, async () => {
      const model = modelOf(cs.spec);
      const p = lower(model, { target: 'wasm' });
      expect(p.kernels.some((k) => hasMatmulTemplate(k))).toBe(cs.pattern);
      for (const k of p.kernels) {
        expect(kernelProblem(k)).toBeUndefined();
        expect(kernelDiff(parseKernel(printKernel(k)), k)).toBeUndefined();
      }
      const feeds: Record<string, Tensor> = {};
      cs.spec.inputs.forEach((inp, i) => { feeds[inp.name] = randomValues('f32', inp.shape as number[], 7 + i, { range: 2 }); });
      const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
      const got = await session.run(feeds);
      const want = prepare(model, 'reference').run(feeds);
      expect(compareTensors(got.y!, want.y as Tensor, { rtol: 1e-4, atol: 1e-5 })).toBeUndefined();
    });
  }
});
