// The hand-written examples/add-relu.tir loads wherever a .onnx does and computes exactly what the
// equivalent ONNX model (built with the test ONNX builder) computes on the reference backend.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../compiler/cli.ts';
import { tensorToProto } from '../../compiler/onnx/tensor-proto.ts';
import { onnx } from '../../compiler/onnx/proto.ts';
import { Session } from '../../runtime/session.ts';
import { compareValues } from '../../compiler/compare.ts';
import { loadModel, prepare } from '../../compiler/driver.ts';
import { parseModel, printModel } from '../../grammar/index.ts';
import { Tensor } from '../../ir/tensor.ts';
import { buildModel } from '../util/onnx-builder.ts';
import { ROOT } from '../util/real-models.ts';

const TIR = join(ROOT, 'examples/add-relu.tir');

function equivalentOnnx(): string {
  const bytes = buildModel({
    name: 'add_relu',
    opset: 17,
    inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 4] }, { name: 'bias', dtype: 'f32', shape: [4] }],
    outputs: [{ name: 'y', dtype: 'f32', shape: ['N', 4] }, { name: 'p', dtype: 'f32', shape: ['N', 4] }],
    initializers: { bias: Tensor.from('f32', [4], [0.5, -1, 0, 2]), scale: Tensor.scalar('f32', 3) },
    nodes: [
      { op: 'Add', inputs: ['x', 'bias'], outputs: ['s'] },
      { op: 'Relu', inputs: ['s'], outputs: ['r'] },
      { op: 'Mul', inputs: ['r', 'scale'], outputs: ['y'] },
      { op: 'Softmax', inputs: ['y'], outputs: ['p'], attrs: { axis: -1 } },
    ],
  });
  const path = join(mkdtempSync(join(tmpdir(), 'tessera-tir-')), 'add_relu.onnx');
  writeFileSync(path, bytes);
  return path;
}

describe('hand-written .tir example', () => {
  const x = Tensor.from('f32', [3, 4], [0.3, -2, 1.5, 0, 7, -0.25, 2, -1, 0.1, 0.2, -0.3, 4]);
  it('runs on the reference backend and matches the equivalent ONNX model exactly', () => {
    const fromText = prepare(loadModel(TIR), 'reference');
    const fromOnnx = prepare(loadModel(equivalentOnnx()), 'reference');
    const feedSets: Record<string, Tensor>[] = [{ x }, { x, bias: Tensor.from('f32', [4], [1, 1, 1, 1]) }];
    for (const feeds of feedSets) {
      const a = fromText.run(feeds), b = fromOnnx.run(feeds);
      expect(Object.keys(a)).toEqual(['y', 'p']);
      for (const k of ['y', 'p']) expect(compareValues(a[k]!, b[k]!, { rtol: 0, atol: 0 })).toBeUndefined();
    }
    const y = fromText.run({ x }).y as Tensor;
    expect(Array.from(y.data as Float32Array).slice(0, 4)).toEqual([Math.fround(2.4), 0, 4.5, 6]);
  });
  it('prints back to the same program (with inferred types added)', () => {
    const m = loadModel(TIR);
    const text = printModel(m).text;
    expect(text).toContain('s: f32[N,4] = Add(x, bias)');
    expect(text).toContain('p = Softmax<axis=-1>(y) @softmax');
    expect(printModel(parseModel(text)).text).toBe(text);
  });
});

const pb = (t: Tensor) => onnx.TensorProto.encode(tensorToProto(t)).finish();

describe('.tir wherever .onnx goes: conformance and compile', () => {
  const x = Tensor.from('f32', [2, 4], [0.3, -2, 1.5, 0, 7, -0.25, 2, -1]);
  it('a backend-test case folder holding model.tir passes conformance (reference and wasm)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-tir-case-'));
    const caseDir = join(dir, 'test_add_relu_tir');
    mkdirSync(join(caseDir, 'test_data_set_0'), { recursive: true });
    copyFileSync(TIR, join(caseDir, 'model.tir'));
    const out = prepare(loadModel(TIR), 'reference').run({ x });
    writeFileSync(join(caseDir, 'test_data_set_0', 'input_0.pb'), pb(x));
    writeFileSync(join(caseDir, 'test_data_set_0', 'output_0.pb'), pb(out.y as Tensor));
    writeFileSync(join(caseDir, 'test_data_set_0', 'output_1.pb'), pb(out.p as Tensor));
    for (const backend of ['reference', 'wasm']) {
      const lines: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => { lines.push(String(s)); });
      try {
        const rc = await main(['conformance', dir, '--backend', backend, '--expected', join(dir, 'none.txt')]);
        expect(rc, lines.join('\n')).toBe(0);
      } finally { log.mockRestore(); }
      expect(lines, lines.join('\n')).toContain('PASS test_add_relu_tir');
    }
  }, 120_000);
  it('compiles to an artifact that computes what the reference computes', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'tessera-tir-out-')), 'artifact');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      expect(await main(['compile', TIR, '--target', 'wasm', '-o', out])).toBe(0);
    } finally { log.mockRestore(); }
    const session = await Session.create(out, { backend: 'wasm' });
    const got = await session.run({ x });
    const want = prepare(loadModel(TIR), 'reference').run({ x });
    for (const k of ['y', 'p']) expect(compareValues(got[k]!, want[k]!, { rtol: 1e-6, atol: 0 })).toBeUndefined();
  }, 120_000);
});
