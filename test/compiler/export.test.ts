// ONNX export: import → export → import is structurally equal (names, types, attributes, weights,
// sub-graphs, opsets, metadata) for every libonnx-testdata model and the real models; a sample of ~100
// node cases re-imported from the exported bytes passes its test data on the reference interpreter; the
// exported real models run in onnxruntime-node with the outputs of the originals.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareTensors, compareValues } from '../../compiler/compare.ts';
import { readExpectedFailures } from '../../compiler/conformance.ts';
import { exportOnnx } from '../../compiler/onnx/export.ts';
import { importOnnx, importOnnxFile } from '../../compiler/onnx/import.ts';
import { decodeValueProto } from '../../compiler/onnx/tensor-proto.ts';
import { modelDiff } from '../../ir/equal.ts';
import { Graph, Node, Value, type Attr, type Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { Tensor, type RuntimeValue } from '../../ir/tensor.ts';
import { tensorType } from '../../ir/types.ts';
import { verifyModel } from '../../ir/verify.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { available, REAL_MODELS, ROOT, runOrt } from '../util/real-models.ts';

const DATA = join(ROOT, '.data/onnx/usr/share/libonnx-testdata/data');
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];
const caseDirs = (suite: string): string[] => {
  const dir = join(DATA, suite);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).sort().map((c) => join(dir, c)).filter((d) => existsSync(join(d, 'model.onnx')));
};

/** Imports, infers when it can, exports and imports again; returns the re-imported model and any difference. */
function roundTrip(path: string): { first: Model; back: Model; diff: string | undefined; bytes: Uint8Array } {
  const first = importOnnxFile(path);
  try { inferModel(first); } catch { /* a few test models are meant to fail inference (bad shapes): types stay as declared */ }
  const bytes = exportOnnx(first);
  const back = importOnnx(bytes);
  return { first, back, diff: modelDiff(first, back), bytes };
}

describe('ONNX export round trip of libonnx-testdata', () => {
  for (const suite of SUITES) {
    const cases = caseDirs(suite);
    it.skipIf(cases.length === 0)(`${suite}/ (${cases.length} models): import → export → import is equal, export is a fixed point`, () => {
      const failures: string[] = [];
      for (const dir of cases) {
        const { back, diff, bytes } = roundTrip(join(dir, 'model.onnx'));
        if (diff) failures.push(`${dir}: ${diff}`);
        else if (Buffer.compare(Buffer.from(exportOnnx(back)), Buffer.from(bytes)) !== 0) failures.push(`${dir}: export(import(export(m))) differs from export(m)`);
      }
      expect(failures).toEqual([]);
    });
  }

  const node = caseDirs('node');
  const expected = readExpectedFailures(join(ROOT, 'test', 'expected-failures', 'reference.txt'));
  const step = Math.max(1, Math.floor(node.length / 100));
  const sample = node.filter((d, i) => i % step === 0 && !expected.has(d.split('/').pop()!));
  it.skipIf(sample.length === 0)(`${sample.length} node cases, re-imported from the exported bytes, pass their test data on the reference interpreter`, () => {
    const failures: string[] = [];
    for (const dir of sample) {
      const { back } = roundTrip(join(dir, 'model.onnx'));
      verifyModel(back);
      inferModel(back);
      const g = back.graph;
      const formals = g.inputs.filter((v) => !g.initializers.has(v));
      const interp = new ReferenceInterpreter(back);
      for (const set of readdirSync(dir).filter((s) => s.startsWith('test_data_set_'))) {
        const files = readdirSync(join(dir, set));
        const feeds: Record<string, RuntimeValue> = {};
        formals.forEach((v, i) => {
          if (files.includes(`input_${i}.pb`)) feeds[v.name] = decodeValueProto(readFileSync(join(dir, set, `input_${i}.pb`)), v.type, `input_${i}`);
        });
        const outs = interp.run(feeds);
        g.outputs.forEach((v, i) => {
          if (!files.includes(`output_${i}.pb`)) return;
          const want = decodeValueProto(readFileSync(join(dir, set, `output_${i}.pb`)), v.type, `output_${i}`);
          const why = compareValues(outs[v.name], want);
          if (why) failures.push(`${dir} ${set} output ${i}: ${why}`);
        });
      }
    }
    expect(failures).toEqual([]);
    expect(sample.length).toBeGreaterThanOrEqual(90);
  });
});

describe('ONNX export of the real models', () => {
  for (const m of REAL_MODELS) {
    it.skipIf(!available(m))(`${m.name}: round trip equal; onnxruntime-node runs the export with the original's outputs`, async () => {
      const { back, diff, bytes } = roundTrip(m.path);
      expect(diff).toBeUndefined();
      const dir = mkdtempSync(join(tmpdir(), 'tessera-export-real-'));
      const exported = join(dir, 'model.onnx');
      writeFileSync(exported, bytes);
      const feeds = m.feeds();
      const want = await runOrt(m.path, feeds);
      const got = await runOrt(exported, feeds);
      // Not bit-identical: with the inferred shapes in value_info onnxruntime may pick other kernels/fusions.
      for (const [k, t] of Object.entries(want)) expect(compareTensors(got[k]!, t, { rtol: 1e-4, atol: 1e-6 }), `${m.name} output ${k}`).toBeUndefined();
      if (m.name.includes('silero') || m.name.includes('cls')) {
        // The reference interpreter gives bit-identical outputs on the original and the re-imported model.
        const first = importOnnxFile(m.path);
        inferModel(first); inferModel(back);
        const a = new ReferenceInterpreter(first).run(feeds), b = new ReferenceInterpreter(back).run(feeds);
        for (const k of Object.keys(a)) expect(compareTensors(b[k] as Tensor, a[k] as Tensor, { rtol: 0, atol: 0 })).toBeUndefined();
      }
    }, 300_000);
  }
});

describe('ONNX export of hand-built graph IR', () => {
  const attrs = (sub: Graph): [string, Attr][] => [
    ['i', { kind: 'int', value: -7 }],
    ['big', { kind: 'ints', value: [9223372036854775807, -9223372036854775808, 0, 2 ** 53 + 2] }],
    ['f', { kind: 'float', value: Math.fround(0.1) }],
    ['fs', { kind: 'floats', value: [1.5, -0, Infinity] }],
    ['s', { kind: 'string', value: 'héllo' }],
    ['ss', { kind: 'strings', value: ['a', ''] }],
    ['t', { kind: 'tensor', value: Tensor.from('f16', [2], [0.5, -2]) }],
    ['ts', { kind: 'tensors', value: [Tensor.from('string', [1], ['x']), Tensor.from('u64', [1], [18446744073709551615n]), Tensor.from('bool', [2], [true, false])] }],
    ['g', { kind: 'graph', value: sub }],
    ['gs', { kind: 'graphs', value: [] }],
    ['ty', { kind: 'type', value: { kind: 'sequence', elem: tensorType('i8', ['N', 3]) } }],
    ['tys', { kind: 'types', value: [{ kind: 'optional', elem: tensorType('bf16', undefined) }] }],
    ['empty', { kind: 'ints', value: [] }],
  ];

  it('every attribute kind, nested sub-graphs reading outer values, symbolic dims, metadata', () => {
    const x = new Value('x', tensorType('f32', ['batch', 4]));
    const w = new Value('w', tensorType('f32', [4]));
    const cond = new Value('cond', tensorType('bool', []));
    const g = new Graph('main', [x, cond], []);
    g.initializers.set(w, Tensor.from('f32', [4], [1, 2, 3, 4]));
    const y = new Value('y', tensorType('f32', ['batch', 4]));
    const add = new Node('add', 'Add', '', [x, w], [y]);
    y.producer = add;
    // Then-branch multiplies the outer y by the outer w; the else-branch returns the outer x itself.
    const t = new Value('t', tensorType('f32', ['batch', 4]));
    const mul = new Node('mul', 'Mul', '', [y, w], [t]);
    t.producer = mul;
    const thenG = new Graph('then', [], [t], [mul]);
    const elseG = new Graph('else', [], [x], []);
    const out = new Value('out', tensorType('f32', ['batch', 4]));
    const iff = new Node('if', 'If', '', [cond], [out], new Map<string, Attr>([['then_branch', { kind: 'graph', value: thenG }], ['else_branch', { kind: 'graph', value: elseG }]]));
    out.producer = iff;
    const custom = new Value('custom', undefined);
    const sub = new Graph('attr_graph', [new Value('s_in', tensorType('i64', []))], []);
    sub.outputs.push(sub.inputs[0]!);
    const weird = new Node('weird', 'AllAttrs', 'test.domain', [x, null, w], [custom, null], new Map(attrs(sub)));
    custom.producer = weird;
    g.nodes.push(add, iff, weird);
    g.outputs.push(out, custom);
    const model: Model = { graph: g, opsets: new Map([['', 17], ['test.domain', 3]]), irVersion: 8, producer: 'p', metadata: { k: 'v', 'tessera.x': '{"a":1}' } };
    const back = importOnnx(exportOnnx(model));
    expect(modelDiff(model, back)).toBeUndefined();

    // The ONNX-domain part runs: drop the custom node and execute both branches.
    g.nodes.pop(); g.outputs.pop();
    const runnable = importOnnx(exportOnnx(model));
    inferModel(runnable);
    const interp = new ReferenceInterpreter(runnable);
    const xs = Tensor.from('f32', [1, 4], [1, 1, 1, 1]);
    expect(Array.from(((interp.run({ x: xs, cond: Tensor.scalar('bool', true) }).out as Tensor).data as Float32Array))).toEqual([2, 6, 12, 20]);
    expect(Array.from(((interp.run({ x: xs, cond: Tensor.scalar('bool', false) }).out as Tensor).data as Float32Array))).toEqual([1, 1, 1, 1]);
  });

  it('values that share a name get unique ONNX names and still run', async () => {
    const a = new Value('a', tensorType('f32', [2]));
    const v1 = new Value('v', tensorType('f32', [2])), v2 = new Value('v', tensorType('f32', [2]));
    const n1 = new Node('n', 'Relu', '', [a], [v1]), n2 = new Node('n', 'Neg', '', [v1], [v2]);
    v1.producer = n1; v2.producer = n2;
    const model: Model = { graph: new Graph('g', [a], [v2], [n1, n2]), opsets: new Map([['', 17]]) };
    const bytes = exportOnnx(model);
    const back = importOnnx(bytes);
    expect(back.graph.nodes.map((n) => n.outputs[0]!.name)).toEqual(['v__1', 'v']);
    inferModel(back);
    const feeds = { a: Tensor.from('f32', [2], [-1, 3]) };
    expect(Array.from((new ReferenceInterpreter(back).run(feeds).v as Tensor).data as Float32Array)).toEqual([-0, -3]);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-export-names-'));
    writeFileSync(join(dir, 'm.onnx'), bytes);
    expect(Array.from((await runOrt(join(dir, 'm.onnx'), feeds)).v!.data as Float32Array)).toEqual([-0, -3]);
  });
});
