// Bad input gets a clear error naming the node, op and reason — never a crash, a stack trace or a hang.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../compiler/driver.ts';
import { onnx } from '../../compiler/onnx/proto.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Tensor } from '../../ir/tensor.ts';
import { buildModel, valueInfo, type ModelSpec } from '../util/onnx-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-bad-'));
let counter = 0;
function write(bytes: Uint8Array, name = `m${counter++}.onnx`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
function errorOf(fn: () => unknown): TesseraError {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected an error');
}
const loadErr = (spec: ModelSpec | Uint8Array) => errorOf(() => loadModel(write(spec instanceof Uint8Array ? spec : buildModel(spec))));

const addModel: ModelSpec = {
  inputs: [{ name: 'a', dtype: 'f32', shape: [2, 3] }, { name: 'b', dtype: 'f32', shape: [2, 3] }],
  outputs: [{ name: 'c', dtype: 'f32', shape: [2, 3] }],
  nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['c'], name: 'the_add' }],
};

describe('bad models are rejected with the node, op and reason', () => {
  it('accepts the well-formed base model', () => {
    expect(loadModel(write(buildModel(addModel))).graph.nodes).toHaveLength(1);
  });

  it('truncated protobuf', () => {
    const bytes = buildModel(addModel);
    const e = loadErr(bytes.subarray(0, bytes.length - 7));
    expect(e.message).toMatch(/not a valid ONNX model|not defined|no graph|malformed/);
  });

  it('garbage bytes', () => {
    const e = loadErr(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
    expect(e.message).toMatch(/not a valid ONNX model/);
  });

  it('unknown op', () => {
    const e = loadErr({ ...addModel, nodes: [{ op: 'Frobnicate', inputs: ['a', 'b'], outputs: ['c'], name: 'n1' }] });
    expect(e.message).toContain("node 'n1' (Frobnicate)");
    expect(e.message).toContain('unknown op Frobnicate');
  });

  it('unknown domain', () => {
    const e = loadErr({ ...addModel, nodes: [{ op: 'Add', domain: 'com.example', inputs: ['a', 'b'], outputs: ['c'], name: 'n2' }] });
    expect(e.message).toContain("node 'n2' (Add)");
    expect(e.message).toMatch(/domain 'com.example' is not imported/);
  });

  it('missing initializer', () => {
    const e = loadErr({ ...addModel, nodes: [{ op: 'Add', inputs: ['a', 'W'], outputs: ['c'], name: 'uses_w' }] });
    expect(e.message).toContain("node 'uses_w' (Add)");
    expect(e.message).toContain("input 'W' is not defined");
  });

  it('type mismatch between inputs', () => {
    const e = loadErr({ ...addModel, inputs: [{ name: 'a', dtype: 'f32', shape: [2, 3] }, { name: 'b', dtype: 'i64', shape: [2, 3] }] });
    expect(e.message).toContain("node 'the_add' (Add)");
    expect(e.message).toMatch(/input types differ: f32 and i64/);
  });

  it('shape mismatch between inputs', () => {
    const e = loadErr({ ...addModel, inputs: [{ name: 'a', dtype: 'f32', shape: [2, 3] }, { name: 'b', dtype: 'f32', shape: [4] }] });
    expect(e.message).toContain("node 'the_add' (Add)");
    expect(e.message).toMatch(/cannot be broadcast/);
  });

  it('declared output type disagrees with the op', () => {
    const e = loadErr({ ...addModel, outputs: [{ name: 'c', dtype: 'f32', shape: [3, 2] }] });
    expect(e.message).toMatch(/declared f32\[3,2\] but the op computes f32\[2,3\]/);
  });

  it('a cycle', () => {
    const e = loadErr({
      ...addModel,
      nodes: [
        { op: 'Add', inputs: ['a', 'y'], outputs: ['x'], name: 'first' },
        { op: 'Add', inputs: ['x', 'b'], outputs: ['y'], name: 'second' },
        { op: 'Add', inputs: ['x', 'y'], outputs: ['c'], name: 'third' },
      ],
    });
    expect(e.message).toMatch(/cycle through 'first' \(Add\), 'second' \(Add\)/);
  });

  it('a value defined twice', () => {
    const e = loadErr({
      ...addModel,
      nodes: [
        { op: 'Add', inputs: ['a', 'b'], outputs: ['c'], name: 'one' },
        { op: 'Add', inputs: ['a', 'b'], outputs: ['c'], name: 'two' },
      ],
    });
    expect(e.message).toContain("node 'two' (Add)");
    expect(e.message).toMatch(/defined more than once/);
  });

  it('absurd dimensions (2^40 elements) in an initializer', () => {
    const bytes = buildModel(addModel);
    const m = onnx.ModelProto.decode(bytes);
    m.graph!.initializer!.push(onnx.TensorProto.create({ name: 'huge', dataType: 1, dims: [2 ** 20, 2 ** 20] }));
    const e = loadErr(onnx.ModelProto.encode(m).finish());
    expect(e.message).toMatch(/tensor 'huge' shape \[1048576,1048576\] has 1099511627776 elements, more than the limit/);
  });

  it('absurd dimensions (2^40 elements) in a declared input', () => {
    const e = errorOf(() => {
      const m = loadModel(write(buildModel({ ...addModel, inputs: [{ name: 'a', dtype: 'f32', shape: [2 ** 20, 2 ** 20] }, { name: 'b', dtype: 'f32', shape: [1] }], outputs: [{ name: 'c', dtype: 'f32' }] })));
      return m;
    });
    expect(e.message).toMatch(/elements, more than the limit/);
  });

  it('a missing external-data file', () => {
    const m = onnx.ModelProto.decode(buildModel(addModel));
    m.graph!.initializer!.push(onnx.TensorProto.create({
      name: 'w', dataType: 1, dims: [2, 3], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: 'weights.bin' }],
    }));
    const e = loadErr(onnx.ModelProto.encode(m).finish());
    expect(e.message).toMatch(/tensor 'w': external data file 'weights.bin' not found beside the model/);
  });

  it('external data is read from a file beside the model', () => {
    const sub = mkdtempSync(join(dir, 'ext-'));
    writeFileSync(join(sub, 'w.bin'), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer));
    const m = onnx.ModelProto.decode(buildModel({ ...addModel, inputs: [addModel.inputs[0]!], nodes: [{ op: 'Add', inputs: ['a', 'w'], outputs: ['c'] }] }));
    m.graph!.initializer!.push(onnx.TensorProto.create({
      name: 'w', dataType: 1, dims: [2, 3], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: 'w.bin' }],
    }));
    const p = join(sub, 'model.onnx');
    writeFileSync(p, onnx.ModelProto.encode(m).finish());
    const model = loadModel(p);
    const w = [...model.graph.initializers.values()][0]!;
    expect(Array.from(w.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('external data outside the model folder is refused', () => {
    const m = onnx.ModelProto.decode(buildModel(addModel));
    m.graph!.initializer!.push(onnx.TensorProto.create({
      name: 'w', dataType: 1, dims: [1], dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: '../../etc/passwd' }],
    }));
    expect(loadErr(onnx.ModelProto.encode(m).finish()).message).toMatch(/must be a relative path inside the model's folder/);
  });

  it('raw data of the wrong length', () => {
    const m = onnx.ModelProto.decode(buildModel(addModel));
    m.graph!.initializer!.push(onnx.TensorProto.create({ name: 'w', dataType: 1, dims: [2, 3], rawData: new Uint8Array(5) }));
    expect(loadErr(onnx.ModelProto.encode(m).finish()).message).toMatch(/tensor 'w' of type f32 and shape \[2,3\] needs 24 bytes of data, has 5/);
  });

  it('a graph output nobody produces', () => {
    const e = loadErr({ ...addModel, outputs: [{ name: 'nope', dtype: 'f32' }] });
    expect(e.message).toMatch(/graph output 'nope' is not produced/);
  });

  it('wrong input count for an op', () => {
    const e = loadErr({ ...addModel, nodes: [{ op: 'Add', inputs: ['a'], outputs: ['c'], name: 'lonely' }] });
    expect(e.message).toContain("node 'lonely' (Add)");
    expect(e.message).toMatch(/has 1 inputs, expected 2/);
  });

  it('unsupported element type', () => {
    const m = onnx.ModelProto.decode(buildModel(addModel));
    m.graph!.input![0] = onnx.ValueInfoProto.create({ ...valueInfo({ name: 'a', dtype: 'f32' }), type: { tensorType: { elemType: 14 } } });
    expect(loadErr(onnx.ModelProto.encode(m).finish()).message).toMatch(/unsupported element type COMPLEX64/);
  });

  it('initializer tensor holds fewer values than its shape', () => {
    const m = onnx.ModelProto.decode(buildModel(addModel));
    m.graph!.initializer!.push(onnx.TensorProto.create({ name: 'w', dataType: 1, dims: [4], floatData: [1, 2] }));
    expect(loadErr(onnx.ModelProto.encode(m).finish()).message).toMatch(/declares 4 elements but holds 2/);
  });
});

describe('the CLI reports user errors without a stack trace and exits non-zero', () => {
  const cli = join(import.meta.dirname, '..', '..', 'bin', 'tessera.js');
  const runCli = (args: string[]) => {
    try {
      const stdout = execFileSync('node', [cli, ...args], { encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
      return { code: 0, stdout, stderr: '' };
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      return { code: err.status, stdout: err.stdout, stderr: err.stderr };
    }
  };

  it('unknown op', () => {
    const p = write(buildModel({ ...addModel, nodes: [{ op: 'Frobnicate', inputs: ['a', 'b'], outputs: ['c'], name: 'n1' }] }));
    const r = runCli(['inspect', p]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*node 'n1' \(Frobnicate\): unknown op Frobnicate/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('missing model file and bad flags', () => {
    const r = runCli(['run', join(dir, 'nope.onnx')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model file not found/);
    const r2 = runCli(['run', '--frobnicate']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/Unknown option '--frobnicate'/);
  });

  it('wrong input name, and a runnable model end to end', () => {
    const p = write(buildModel(addModel));
    const r = runCli(['run', p, '--input', 'zzz=x.pb']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--input names 'zzz', but the model's inputs are a, b/);
    const ok = runCli(['run', p, '--random', '3', '--repeat', '3']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^c: f32\[2,3\]/m);
    expect(ok.stdout).toMatch(/^median_ms: \d+\.\d+$/m);
  });
});

export { Tensor };
