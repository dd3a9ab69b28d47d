// Value specialization as a compile option (--value): an input that decides a shape (here a Reshape
// target) is compiled as a constant; the artifact records it, still takes it as an input, and refuses a
// feed with another value.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main, parseValues } from '../../compiler/cli.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel } from '../../compiler/compile.ts';
import { loadModel, prepare, prepareAsync } from '../../compiler/driver.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Tensor } from '../../ir/tensor.ts';
import { validateManifest } from '../../runtime/artifact.ts';
import { Session } from '../../runtime/session.ts';
import { buildModel } from '../util/onnx-builder.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-specialize-'));
const modelPath = join(dir, 'reshape.onnx');
writeFileSync(modelPath, buildModel({
  inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 4] }, { name: 'shape', dtype: 'i64', shape: [2] }],
  outputs: [{ name: 'y', dtype: 'f32' }],
  nodes: [
    { op: 'Relu', inputs: ['x'], outputs: ['r'] },
    { op: 'Reshape', inputs: ['r', 'shape'], outputs: ['y'] },
  ],
}));

const x = Tensor.from('f32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => (i % 5) - 2.5));
const target = (a: number, b: number) => Tensor.from('i64', [2], [BigInt(a), BigInt(b)]);
const manifestOf = (files: Map<string, Uint8Array>) => JSON.parse(new TextDecoder().decode(files.get('manifest.json')));

describe('value specialization (--value)', () => {
  it('without a value the Reshape target is data-dependent; the error names the input and --value', async () => {
    await expect(compileModel(loadModel(modelPath), { target: 'wasm' }))
      .rejects.toThrow(/data-dependent output shape cannot be compiled ahead of time; it depends on the value of input 'shape': compile with --value shape=v0,v1/);
  });

  it('compiles with the value, runs, matches the reference; the feed may be given or omitted', async () => {
    const model = loadModel(modelPath);
    const { files } = await compileModel(model, { target: 'wasm', values: new Map([['shape', target(6, -1)]]) });
    const session = await Session.create(files, { backend: 'wasm' });
    expect(session.inputNames).toEqual(['x', 'shape']);
    const want = prepare(loadModel(modelPath), 'reference').run({ x, shape: target(6, -1) }).y as Tensor;
    for (const feeds of [{ x, shape: target(6, -1) }, { x }] as Record<string, Tensor>[]) {
      const got = await session.run(feeds);
      expect(got.y!.shape).toEqual([6, 4]);
      expect(compareTensors(got.y!, want, { rtol: 0, atol: 0 })).toBeUndefined();
    }
  });

  it('a feed with another value is refused with a message naming both values and --value', async () => {
    const { files } = await compileModel(loadModel(modelPath), { target: 'wasm', values: new Map([['shape', target(6, -1)]]) });
    const session = await Session.create(files, { backend: 'wasm' });
    const err = await session.run({ x, shape: target(4, 6) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as Error).message).toMatch(/input 'shape' was compiled as the constant i64\[2\] \[6, -1\] but was fed i64\[2\] \[4, 6\]; recompile with --value shape=/);
    await expect(session.run({ x, shape: Tensor.from('i32', [2], [6, -1]) })).rejects.toThrow(/input 'shape' was compiled as the constant/);
  });

  it('the manifest records the value and round-trips; malformed entries are refused', async () => {
    const { files } = await compileModel(loadModel(modelPath), { target: 'wasm', values: new Map([['shape', target(6, -1)]]) });
    const m = manifestOf(files);
    expect(m.version).toBe(1);
    expect(m.specialized).toEqual([{ name: 'shape', dtype: 'i64', shape: [2], data: ['6', '-1'] }]);
    expect(m.inputs.map((i: { name: string }) => i.name)).toEqual(['x']);
    expect(validateManifest(JSON.parse(JSON.stringify(m))).specialized).toEqual(m.specialized);
    const { specialized: _, ...plain } = m;
    expect(validateManifest(plain).specialized).toBeUndefined();
    const edit = (s: unknown) => () => validateManifest({ ...m, specialized: s });
    expect(edit('no')).toThrow(/'specialized' must be a list/);
    expect(edit([{ name: 'x', dtype: 'i64', shape: [1], data: ['1'] }])).toThrow(/input 'x' is declared twice/);
    expect(edit([{ name: 's', dtype: 'i64', shape: [2], data: ['1'] }])).toThrow(/must list 2 values/);
    expect(edit([{ name: 's', dtype: 'i64', shape: [1], data: ['1.5'] }])).toThrow(/holds "1.5", not a i64 value/);
    expect(edit([{ name: 's', dtype: 'str', shape: [1], data: [1] }])).toThrow(/unknown dtype 'str'/);
  });

  it('float values with NaN and infinities survive the manifest', async () => {
    const path = join(dir, 'add.onnx');
    writeFileSync(path, buildModel({
      inputs: [{ name: 'a', dtype: 'f32', shape: [3] }, { name: 'b', dtype: 'f32', shape: [3] }],
      outputs: [{ name: 'c', dtype: 'f32', shape: [3] }],
      nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['c'] }],
    }));
    const b = Tensor.from('f32', [3], [NaN, Infinity, -0.25]);
    const { files } = await compileModel(loadModel(path), { target: 'wasm', values: new Map([['b', b]]) });
    expect(manifestOf(files).specialized[0].data).toEqual(['NaN', 'Infinity', -0.25]);
    const session = await Session.create(files, { backend: 'wasm' });
    const got = await session.run({ a: Tensor.from('f32', [3], [1, 2, 3]), b });
    expect(Array.from(got.c!.data as Float32Array)).toEqual([NaN, Infinity, 2.75]);
  });

  it('compileModel checks a value against the declared input', async () => {
    const model = loadModel(modelPath);
    await expect(compileModel(model, { target: 'wasm', values: new Map([['nope', target(1, 2)]]) })).rejects.toThrow(/'nope', which is not an input of the model/);
    await expect(compileModel(model, { target: 'wasm', values: new Map([['shape', Tensor.from('i32', [2], [6, -1])]]) })).rejects.toThrow(/is i32, the input is declared i64/);
    await expect(compileModel(model, { target: 'wasm', values: new Map([['shape', Tensor.from('i64', [3], [1n, 6n, -1n])]]) })).rejects.toThrow(/has shape \[3\], the input is declared \[2\]/);
  });

  it('the wasm driver specializes at the first run when a shape is data-dependent, one artifact per value', async () => {
    const runner = await prepareAsync(loadModel(modelPath), 'wasm');
    const ref = prepare(loadModel(modelPath), 'reference');
    for (const [a, b] of [[6, -1], [4, 6], [6, -1]] as const) {
      const feeds = { x, shape: target(a, b) };
      const got = (await runner.run(feeds)).y as Tensor;
      expect(compareTensors(got, ref.run(feeds).y as Tensor, { rtol: 0, atol: 0 })).toBeUndefined();
    }
  });
});

describe('--value on the command line', () => {
  const model = loadModel(modelPath);
  it('parses values with the dtype of the declared input', () => {
    const v = parseValues(['shape=6,-1'], model).get('shape')!;
    expect(v.dtype).toBe('i64');
    expect(v.shape).toEqual([2]);
    expect(Array.from(v.data as BigInt64Array)).toEqual([6n, -1n]);
    const f = parseValues(['x=' + Array(24).fill('1.5').join(',')], model).get('x')!;
    expect(f.dtype).toBe('f32');
    expect(f.shape).toEqual([2, 3, 4]);
  });

  it('reports a bad name, count or value clearly', () => {
    expect(() => parseValues(['nope=1,2'], model)).toThrow(/--value names 'nope', but the model's inputs are x, shape/);
    expect(() => parseValues(['shape=1,2,3'], model)).toThrow(/--value shape lists 3 value\(s\), the input of shape \[2\] has 2/);
    expect(() => parseValues(['shape=1,2.5'], model)).toThrow(/--value shape: '2.5' is not a i64 value/);
    expect(() => parseValues(['shape=1,abc'], model)).toThrow(/'abc' is not a i64 value/);
    expect(() => parseValues(['shape'], model)).toThrow(/must be NAME=v0,v1/);
    expect(() => parseValues(['shape=1,2', 'shape=3,4'], model)).toThrow(/gives 'shape' twice/);
    expect(() => parseValues(['shape=1,99999999999999999999'], model)).toThrow(/out of range for i64/);
  });

  it('tessera compile --value writes an artifact that runs; tessera run --value runs the wasm backend', async () => {
    const out = join(dir, 'artifact');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['compile', modelPath, '--target', 'wasm', '-o', out, '--value', 'shape=4,6'])).toBe(0);
      expect(log.mock.calls.flat().join('\n')).toMatch(/specialized on shape/);
      expect(await main(['run', modelPath, '--backend', 'wasm', '--random', '1', '--value', 'shape=3,-1'])).toBe(0);
      expect(log.mock.calls.flat().join('\n')).toMatch(/y: f32\[3,8\]/);
    } finally {
      log.mockRestore();
    }
    const session = await Session.create(out, { backend: 'wasm' });
    expect((await session.run({ x })).y!.shape).toEqual([4, 6]);
    await expect(main(['compile', modelPath, '-o', join(dir, 'bad'), '--value', 'shape=1,2,3'])).rejects.toThrow(/lists 3 value/);
  });
});
