// The AOT path end to end: compile to a WASM artifact, load it with the runtime's Session, run; the
// artifact is validated before anything executes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel, writeArtifact } from '../../compiler/compile.ts';
import { loadModel, prepare } from '../../compiler/driver.ts';
import { randomTensor } from '../../compiler/cli.ts';
import { seededRandom } from '../../ir/random.ts';
import { Tensor } from '../../ir/tensor.ts';
import { Session } from '../../runtime/session.ts';
import { buildModel } from '../util/onnx-builder.ts';
import { available, REAL_MODELS } from '../util/real-models.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-session-'));
const modelPath = join(dir, 'm.onnx');
writeFileSync(modelPath, buildModel({
  inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 4] }, { name: 'b', dtype: 'f32', shape: [4] }],
  outputs: [{ name: 'y', dtype: 'f32', shape: ['N', 4] }],
  nodes: [
    { op: 'Add', inputs: ['x', 'b'], outputs: ['s'] },
    { op: 'Relu', inputs: ['s'], outputs: ['r'] },
    { op: 'Softmax', inputs: ['r'], outputs: ['y'], attrs: { axis: -1 } },
  ],
}));

const feeds = (n: number) => ({
  x: randomTensor('f32', [n, 4], seededRandom(n)),
  b: Tensor.from('f32', [4], [0.5, -1, 0, 2]),
});

async function compiled() {
  const { files } = await compileModel(loadModel(modelPath), { target: 'wasm' });
  return files;
}

describe('Session over a compiled WASM artifact', () => {
  it('matches the reference interpreter, one artifact for several batch sizes (symbolic N)', async () => {
    const session = await Session.create(await compiled(), { backend: 'wasm' });
    const ref = prepare(loadModel(modelPath), 'reference');
    for (const n of [1, 3, 17]) {
      const f = feeds(n);
      const got = await session.run(f);
      expect(got.y!.shape).toEqual([n, 4]);
      expect(compareTensors(got.y!, ref.run(f).y as Tensor, { rtol: 1e-5, atol: 1e-6 })).toBeUndefined();
    }
  });

  it('loads from a folder written by the compiler', async () => {
    const out = join(dir, 'artifact');
    writeArtifact(out, await compiled());
    const session = await Session.create(out, { backend: 'wasm' });
    expect(session.inputNames).toEqual(['x', 'b']);
    expect((await session.run(feeds(2))).y!.shape).toEqual([2, 4]);
  });

  it('refuses a corrupted or version-mismatched artifact before running anything', async () => {
    const files = await compiled();
    const flipped = new Map(files);
    const wasm = files.get('model.wasm')!.slice();
    wasm[wasm.length >> 1] ^= 0x40;
    flipped.set('model.wasm', wasm);
    await expect(Session.create(flipped, { backend: 'wasm' })).rejects.toThrow(/file 'model.wasm' is corrupted/);

    const manifest = JSON.parse(new TextDecoder().decode(files.get('manifest.json')));
    const v2 = new Map(files);
    v2.set('manifest.json', new TextEncoder().encode(JSON.stringify({ ...manifest, version: 2 })));
    await expect(Session.create(v2, { backend: 'wasm' })).rejects.toThrow(/manifest version 2 is not supported by this runtime/);

    const missing = new Map(files);
    missing.delete('weights.bin');
    await expect(Session.create(missing, { backend: 'wasm' })).rejects.toThrow(/file 'weights.bin' named by the manifest is missing/);

    const badDispatch = new Map(files);
    badDispatch.set('manifest.json', new TextEncoder().encode(JSON.stringify({ ...manifest, dispatches: [{ kernel: 'nope', buffers: {}, sizes: {} }] })));
    await expect(Session.create(badDispatch, { backend: 'wasm' })).rejects.toThrow(/dispatch 0 calls unknown kernel 'nope'/);

    const garbage = new Map(files);
    garbage.set('manifest.json', new Uint8Array([1, 2, 3]));
    await expect(Session.create(garbage, { backend: 'wasm' })).rejects.toThrow(/manifest.json is not valid JSON/);
  });

  it('validates feeds: names, dtypes, shapes and symbolic consistency', async () => {
    const session = await Session.create(await compiled(), { backend: 'wasm' });
    await expect(session.run({ ...feeds(2), z: Tensor.from('f32', [1], [0]) })).rejects.toThrow(/unknown input 'z'/);
    await expect(session.run({ x: feeds(2).x } as never)).rejects.toThrow(/input 'b' is missing/);
    await expect(session.run({ ...feeds(2), b: Tensor.from('f64', [4], [0, 0, 0, 0]) })).rejects.toThrow(/input 'b' must have dtype f32, got f64/);
    await expect(session.run({ ...feeds(2), x: randomTensor('f32', [2, 5], seededRandom(1)) })).rejects.toThrow(/input 'x' must have shape \[2,4\], got \[2,5\]/);
  });

  it('describes its inputs and outputs; readInputs reads carried state without running', async () => {
    const session = await Session.create(await compiled(), { backend: 'wasm' });
    expect(session.signature).toEqual({
      inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 4] }, { name: 'b', dtype: 'f32', shape: [4] }],
      outputs: [{ name: 'y', dtype: 'f32', shape: ['N', 4] }],
    });
    await expect(session.readInputs(['x'])).rejects.toThrow(/no run yet: the symbolic dimensions N are bound by the first run/);
    const f = feeds(3);
    const { y } = await session.run(f, { carry: { y: 'x' } });
    const { x, b } = await session.readInputs(['x', 'b']);
    expect(x!.shape).toEqual([3, 4]);
    expect(Array.from(x!.data as Float32Array)).toEqual(Array.from(y!.data as Float32Array)); // y was carried into x
    expect(Array.from(b!.data as Float32Array)).toEqual([0.5, -1, 0, 2]); // b holds its last feed
    await expect(session.readInputs(['q'])).rejects.toThrow(/unknown input 'q'/);
  });

  const cls = REAL_MODELS.find((m) => m.name.startsWith('PP-OCR cls'))!;
  it.skipIf(!available(cls))('the PP-OCR classifier compiled to WASM matches the reference', async () => {
    const model = loadModel(cls.path);
    const { files } = await compileModel(model, { target: 'wasm' });
    const session = await Session.create(files, { backend: 'wasm' });
    const f = cls.feeds();
    const got = await session.run(f);
    const ref = prepare(loadModel(cls.path), 'reference').run(f);
    for (const [k, v] of Object.entries(got)) expect(compareTensors(v, ref[k] as Tensor, { rtol: 1e-3, atol: 1e-5 })).toBeUndefined();
    const mem = await session.memoryReport(f);
    expect(mem.arenaBytes).toBeGreaterThanOrEqual(mem.peakLiveBytes);
  }, 300_000);
});
