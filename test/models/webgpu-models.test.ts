// The real npm models compiled for WebGPU match onnxruntime-node (rtol 1e-3) — on dawn.node over SwiftShader in
// CI. Each is compiled for the shapes of its feeds (as `--shape` does) and run through the runtime's Session;
// every shader must compile without a message. Skips with the reason where no WebGPU adapter or model exists.
import { describe, expect, it } from 'vitest';
import { compareTensors } from '../../compiler/compare.ts';
import { compileModel } from '../../compiler/compile.ts';
import { loadModel, prepareAsync } from '../../compiler/driver.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { Session } from '../../runtime/session.ts';
import { defaultDevice } from '../../runtime/webgpu/device.ts';
import { shaderStats } from '../../runtime/webgpu/executor.ts';
import { available, REAL_MODELS, runOrt } from '../util/real-models.ts';

const TOL = { rtol: 1e-3, atol: 1e-5 };
const device = await defaultDevice().catch((e: Error) => e);
const why = device instanceof Error ? device.message : '';
if (why) console.log(`SKIP real models on webgpu: ${why}`);

describe.skipIf(!!why)('real models on webgpu match onnxruntime-node', () => {
  for (const m of REAL_MODELS) {
    it.skipIf(!available(m))(m.name, async () => {
      const feeds = m.feeds();
      const expected = await runOrt(m.path, feeds);
      const model = loadModel(m.path);
      // Static shapes from the feeds; inputs that decide shapes (silero's sr) are specialized at the first
      // run, as `tessera run` does (prepareAsync).
      const shapes = new Map(Object.entries(feeds).map(([k, t]) => [k, [...t.shape]]));
      const before = shaderStats.messages.length;
      const runner = await prepareAsync(model, 'webgpu', { shapes });
      try {
        const got = await runner.run(feeds);
        for (const [k, e] of Object.entries(expected)) {
          expect(got[k], `output ${k}`).toBeDefined();
          expect(compareTensors(got[k] as Tensor, e, TOL), `${m.name} output ${k}`).toBeUndefined();
        }
      } finally { runner.dispose?.(); }
      expect(shaderStats.messages.slice(before)).toEqual([]);
    }, 900_000);
  }

  it('a compiled artifact names f64 kernels computed in f32, and runs', async () => {
    const cls = REAL_MODELS.find((m) => m.name.startsWith('PP-OCR cls'))!;
    if (!available(cls)) return;
    const { files, notes } = await compileModel(loadModel(cls.path), { target: 'webgpu', shapes: new Map([['x', [1, 3, 48, 192]]]) });
    expect(notes).toEqual([]); // f32 only
    const session = await Session.create(files, { backend: 'webgpu' });
    const out = await session.run(cls.feeds(), { outputs: [session.outputNames[0]!] });
    expect(Object.keys(out)).toEqual([session.outputNames[0]]);
    session.dispose();
  }, 300_000);
});
