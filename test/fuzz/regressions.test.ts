// Real bugs the fuzzer found keep their shrunk case: each folder under test/fuzz-regressions/ is an ONNX
// backend-test case written by `tessera fuzz` (divergence.txt says what differed, how it was fixed and how it
// reproduces). A reference-interpreter bug (found against onnxruntime) expects onnxruntime's outputs; a
// compiled-backend bug (found against the reference) expects the reference's. Every case runs on the
// reference, and on wasm and the backend it was found on as the fuzzer compares; each failed before its fix.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCase } from '../../compiler/conformance.ts';
import { checkCase } from '../../compiler/fuzz/runner.ts';
import { buildCase } from '../../compiler/fuzz/builder.ts';
import { FUZZ_OPS } from '../../compiler/fuzz/ops.ts';
import { readRepro } from '../../compiler/fuzz/repro.ts';
import { tesseraBackendTarget } from '../../compiler/fuzz/targets.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { decodeValueProto } from '../../compiler/onnx/tensor-proto.ts';
import type { BackendName } from '../../compiler/driver.ts';
import { inferModel } from '../../ir/infer.ts';
import { Tensor, type RuntimeValue } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';
import { ROOT } from '../util/real-models.ts';

const DIR = join(ROOT, 'test', 'fuzz-regressions');
/** The backend whose bug a case records ('reference' for the cases found against onnxruntime). */
function foundOn(name: string): BackendName {
  const m = /^tessera fuzz: a divergence between (\S+) and/.exec(readFileSync(join(DIR, name, 'divergence.txt'), 'utf8'));
  return m && m[1] !== 'onnxruntime' ? m[1] as BackendName : 'reference';
}

describe('fuzz regressions (shrunk cases)', () => {
  for (const name of readdirSync(DIR).sort()) {
    it(`${name} on the reference (as a conformance case)`, async () => {
      expect(await runCase(join(DIR, name), 'reference')).toBeUndefined();
    });
    // A compiled backend is compared as the fuzzer compares it: node by node with the op's fuzz tolerance,
    // which is exact where conformance's tolerance would hide a bug (fmod's tiny wrong remainders).
    for (const backend of new Set<BackendName>(['wasm', foundOn(name)])) {
      if (backend === 'reference') continue;
      it(`${name} on ${backend} (as the fuzzer compares)`, async () => {
        const outcome = await checkCase(await readRepro(join(DIR, name)), [tesseraBackendTarget(backend)]);
        expect(outcome.findings.map((f) => f.message)).toEqual([]);
        expect(outcome.status).toBe('pass');
      });
    }
    // And the comparison does catch the bug: the outputs the buggy backend gave, recorded beside the case, diverge.
    const found = foundOn(name);
    if (found !== 'reference') {
      it(`${name}: ${found}'s recorded outputs from before the fix diverge`, async () => {
        const c = await readRepro(join(DIR, name));
        const recorded = (): Record<string, RuntimeValue> => Object.fromEntries(c.model.graph.outputs.map((v, i) => {
          const file = join(DIR, name, `${found}_outputs`, `output_${i}.pb`);
          return [v.name, decodeValueProto(readFileSync(file), v.type, file)];
        }));
        const outcome = await checkCase(c, [{ name: found, oracle: false, prepare: async () => ({ run: async () => recorded() }) }]);
        expect(outcome.status).toBe('diverged');
      });
    }
  }
});

function run1(spec: ModelSpec, x: Tensor): Tensor {
  const model = importOnnx(buildModel(spec));
  inferModel(model);
  return new ReferenceInterpreter(model).run({ x }).y as Tensor;
}
const unary = (op: string, from: Tensor['dtype'], to: Tensor['dtype'], n: number, attrs?: NonNullable<ModelSpec['nodes'][number]['attrs']>, opset = 17): ModelSpec => ({
  inputs: [{ name: 'x', dtype: from, shape: [n] }], outputs: [{ name: 'y', dtype: to }], nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs }], opset,
});

describe('the reference bugs the fuzzer found, as unit tests', () => {
  it('FLOAT attribute defaults are float32 (LeakyRelu alpha 0.01 in f64)', () => {
    expect(run1(unary('LeakyRelu', 'f64', 'f64', 1), Tensor.from('f64', [1], [-3])).data[0]).toBe(-3 * Math.fround(0.01));
  });

  it('HardSwish uses the float32 alpha 1/6 of its ONNX function body', () => {
    const x = -0.08088741917163134;
    expect(run1(unary('HardSwish', 'f64', 'f64', 1), Tensor.from('f64', [1], [x])).data[0]).toBe(x * (x * Math.fround(1 / 6) + 0.5));
  });

  it('Cast from int64 rounds once to f32, f16 and bf16', () => {
    const v = [(1n << 60n) + (1n << 36n) + 1n, -((1n << 40n) + (1n << 16n) + 1n), (1n << 40n) + (1n << 32n) + 1n];
    const f32 = run1(unary('Cast', 'i64', 'f32', 3, { to: 1 }), Tensor.from('i64', [3], v));
    expect(Array.from(f32.data as Float32Array)).toEqual([2 ** 60 + 2 ** 37, -(2 ** 40 + 2 ** 17), 2 ** 40 + 2 ** 32]);
    const bf16 = run1(unary('Cast', 'i64', 'bf16', 1, { to: 16 }), Tensor.from('i64', [1], [(1n << 40n) + (1n << 32n) + 1n]));
    expect(bf16.data[0]).toBe(2 ** 40 + 2 ** 33); // 2^40 + 2^32 is the bf16 tie; the +1 rounds it up
  });

  it('LpPool-18 takes ceil_mode and dilations', () => {
    const y = run1({ ...unary('LpPool', 'f32', 'f32', 5, { kernel_shape: [2], dilations: [2], ceil_mode: 1, strides: [2] }, 18),
      inputs: [{ name: 'x', dtype: 'f32', shape: [1, 1, 5] }] }, Tensor.from('f32', [1, 1, 5], [1, 2, 3, 4, 5]));
    expect(y.shape).toEqual([1, 1, 2]);
    expect(Array.from(y.data as Float32Array)).toEqual([Math.fround(Math.sqrt(10)), Math.fround(Math.sqrt(34))]);
  });
});

describe('fuzz runner', () => {
  it('a target that throws where the reference runs is a finding, not a crash of the fuzzer', async () => {
    const c = buildCase({ opset: 17, steps: [{ op: 0, choices: [] }], dataSeed: 0 }, FUZZ_OPS);
    const outcome = await checkCase(c, [{ name: 'broken', oracle: false, prepare: async () => ({ run: async () => { throw new Error('boom'); } }) }]);
    expect(outcome.status).toBe('diverged');
    expect(outcome.findings[0]).toMatchObject({ kind: 'target-error', target: 'broken' });
    expect(outcome.findings[0]!.message).toContain('boom');
  });

  it('a target that returns the reference results passes', async () => {
    const c = buildCase({ opset: 17, steps: [{ op: 3, choices: [5, 7, 9, 11] }], dataSeed: 3 }, FUZZ_OPS);
    const { ReferenceInterpreter } = await import('../../runtime/reference.ts');
    const outcome = await checkCase(c, [{ name: 'same', oracle: false, prepare: async (m) => ({ run: async (f) => new ReferenceInterpreter(m).run(f) }) }]);
    expect(outcome.status).toBe('pass');
  });
});
