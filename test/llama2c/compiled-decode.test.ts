// Decoding on the compiled backends (wasm; webgpu and cuda where they exist): the step graph compiled
// ahead of time, the KV cache kept in the executor's memory and carried present → past by the Session,
// only the logits read back. stories260K greedy from BOS gives the same 256 tokens as the reference
// backend and onnxruntime-node (exported ONNX), with every step's logits within rtol 1e-3 of the
// reference; synthetic checkpoints agree with the run.c transcription; an app with only the runtime
// decodes an artifact compiled ahead of time (DecodeSession.fromArtifact).
//
// webgpu runs when compileModel has the target and a WebGPU adapter exists (in Node: `source
// scripts/webgpu-env.sh` for SwiftShader); cuda when a CUDA driver loads. Otherwise they skip, saying why.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel, TARGETS, writeArtifact } from '../../compiler/compile.ts';
import '../../compiler/decode-compiled.ts';
import { importLlama2c } from '../../compiler/llama2c.ts';
import { exportOnnx } from '../../compiler/onnx/export.ts';
import { getDecoderSpec, type DecoderSpec } from '../../ir/decoder.ts';
import type { Model } from '../../ir/graph.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { availableDecodeBackends, DecodeSession } from '../../runtime/decode.ts';
import { argmax } from '../../runtime/sampler.ts';
import type { SessionBackend } from '../../runtime/session.ts';
import { Tokenizer } from '../../runtime/tokenizer.ts';
import { OrtDecoder } from '../util/ort-decode.ts';
import { ROOT } from '../util/real-models.ts';
import { CHECKPOINT, haveStories, readCheckpoint, readTokenizer, SKIP_REASON, syntheticCheckpoint, TOKENIZER } from './files.ts';
import { RunC } from './runc.ts';

const TOL = { rtol: 1e-3, atol: 1e-4 }; // as test/llama2c/decoder.test.ts: atol only matters near zero
const STEPS = 256;

/** The largest ratio of |a − b| to the allowed error atol + rtol·|b| (≤ 1 passes), and where it is. */
function worstError(a: Float32Array, b: Float32Array): { worst: number; at: number; maxAbs: number } {
  expect(a.length).toBe(b.length);
  let worst = 0, at = -1, maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    maxAbs = Math.max(maxAbs, err);
    const r = err / (TOL.atol + TOL.rtol * Math.abs(b[i]!));
    if (!(r <= worst)) { worst = r; at = i; }
  }
  return { worst, at, maxAbs };
}

/** Why a compiled backend cannot run here ('' when it can). */
async function skipReason(backend: SessionBackend): Promise<string> {
  if (!(TARGETS as readonly string[]).includes(backend)) return `compileModel has no '${backend}' target yet (compiler/compile.ts TARGETS: ${TARGETS.join(', ')})`;
  try {
    if (backend === 'webgpu') await (await import('../../runtime/webgpu/device.ts')).defaultDevice();
    if (backend === 'cuda') await (await import('../../runtime/cuda/driver.ts')).cudaDriver();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

const BACKENDS = await Promise.all((['wasm', 'webgpu', 'cuda'] as const).map(async (name) => ({ name, skip: await skipReason(name) })));
for (const b of BACKENDS) if (b.skip) console.log(`SKIP compiled decoding on ${b.name}: ${b.skip}`);

it('every compiled target is registered as a decode backend', () => {
  for (const t of TARGETS) expect(availableDecodeBackends()).toContain(t);
});

/** A decoding run: the tokens, every step's logits, and the cache at the end. */
interface Trace { tokens: number[]; logits: Float32Array[]; cache: Map<string, Tensor> }

async function greedyTrace(session: DecodeSession, steps: number): Promise<Trace> {
  session.reset();
  const tokens = [1], logits: Float32Array[] = [];
  for (let pos = 0; pos < steps; pos++) {
    const l = await session.step(tokens[pos]!);
    logits.push(l.slice());
    tokens.push(argmax(l));
  }
  return { tokens, logits, cache: await session.readCache() };
}

describe.skipIf(!haveStories)('stories260K on the compiled backends', () => {
  let model: Model;
  let spec: DecoderSpec;
  let reference: Trace;
  let ortTokens: number[];
  let tokenizer: Tokenizer;

  beforeAll(async () => {
    model = importLlama2c(readCheckpoint(), { source: CHECKPOINT });
    spec = getDecoderSpec(model)!;
    tokenizer = Tokenizer.fromBytes(readTokenizer(), { vocabSize: spec.vocabSize, source: TOKENIZER });
    reference = await greedyTrace(await DecodeSession.create(model, { backend: 'reference' }), STEPS);
    const ort = await OrtDecoder.create('onnxruntime-node', exportOnnx(model), spec);
    ortTokens = [1];
    for (let pos = 0; pos < STEPS; pos++) ortTokens.push(argmax(await ort.step(ortTokens[pos]!, pos)));
    await ort.release();
  });

  it('the reference backend and onnxruntime-node give the same 256 tokens (the baseline)', () => {
    expect(ortTokens).toEqual(reference.tokens);
  });

  for (const { name, skip } of BACKENDS) {
    describe.skipIf(!!skip)(name, () => {
      let session: DecodeSession;
      beforeAll(async () => {
        const t0 = performance.now();
        session = await DecodeSession.create(model, { backend: name });
        console.log(`stories260K step graph compiled for ${name} and loaded in ${(performance.now() - t0).toFixed(0)} ms`);
      });

      it(`greedy ${STEPS} steps from BOS: the reference's and onnxruntime-node's tokens, logits within rtol ${TOL.rtol}`, async () => {
        const t0 = performance.now();
        const got = await greedyTrace(session, STEPS);
        const ms = performance.now() - t0;
        let worst = { step: -1, worst: 0, at: -1, maxAbs: 0 };
        for (let s = 0; s < STEPS; s++) {
          const e = worstError(got.logits[s]!, reference.logits[s]!);
          if (e.worst > worst.worst) worst = { step: s, ...e };
          if (e.maxAbs > worst.maxAbs) worst.maxAbs = e.maxAbs;
        }
        console.log(`${name}: ${STEPS} steps in ${ms.toFixed(0)} ms; logits vs the reference: max abs error ${worst.maxAbs.toExponential(2)}, ` +
          `worst error / allowed = ${worst.worst.toFixed(3)} (step ${worst.step}, logit ${worst.at})`);
        expect(got.tokens).toEqual(reference.tokens);
        expect(got.tokens).toEqual(ortTokens);
        expect(worst.worst).toBeLessThanOrEqual(1);
        // The cache the executor holds after the run is the reference's (read without running a step).
        for (const [past, t] of reference.cache) {
          const e = worstError(got.cache.get(past)!.data as Float32Array, t.data as Float32Array);
          expect(e.worst, past).toBeLessThanOrEqual(1);
        }
        const gen = await session.generate({ steps: STEPS });
        expect(gen.tokens).toEqual(reference.tokens);
      }, 600_000); // 512 steps: ~30 s on SwiftShader alone, several times that while CI's conformance shares the cores

      it('reset zeroes the cache; the cache holds exactly the decoded slots', async () => {
        session.reset();
        const first = await session.step(1);
        await session.step(argmax(first));
        const k0 = (await session.readCache()).get('past_key_0')!.data as Float32Array; // [1, 4, 512, 8]
        const slotNonZero = (slot: number) => k0.subarray(slot * 8, slot * 8 + 8).some((x) => x !== 0);
        expect([0, 1, 2, 3].map(slotNonZero)).toEqual([true, true, false, false]);
        session.reset();
        expect(session.position).toBe(0);
        for (const t of (await session.readCache()).values()) expect((t.data as Float32Array).every((x) => x === 0)).toBe(true);
        const again = await session.step(1);
        expect(Array.from(again)).toEqual(Array.from(first));
        const after = (await session.readCache()).get('past_key_0')!.data as Float32Array;
        expect([0, 1].map((s) => after.subarray(s * 8, s * 8 + 8).some((x) => x !== 0))).toEqual([true, false]); // slot 1 was zeroed
      });

      it(`tessera generate --backend ${name} prints the reference backend's text`, () => {
        const text = execFileSync('node', [join(ROOT, 'bin', 'tessera.js'), 'generate', '--llama2c', CHECKPOINT, '--tokenizer', TOKENIZER, '--steps', '40', '--backend', name],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        expect(text.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
        expect(text).toBe(`${tokenizer.decode(reference.tokens.slice(0, 41))}\n`);
      });
    });
  }
});

if (!haveStories) describe('stories260K on the compiled backends', () => it.skip(SKIP_REASON, () => {}));

describe('synthetic checkpoints on the compiled backends', () => {
  const cases = [
    { name: 'unshared classifier, n_kv_heads = n_heads', c: { dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 32, seqLen: 8, shared: false } },
    { name: 'shared classifier, grouped-query attention (4 heads : 1 kv head)', c: { dim: 16, hiddenDim: 20, nLayers: 1, nHeads: 4, nKvHeads: 1, vocabSize: 20, seqLen: 6, shared: true } },
  ];
  for (const { name: backend, skip } of BACKENDS) {
    describe.skipIf(!!skip)(backend, () => {
      for (const { name, c } of cases) {
        it(`${name}: the run.c transcription's logits at every position`, async () => {
          const bytes = syntheticCheckpoint(c);
          const session = await DecodeSession.create(importLlama2c(bytes), { backend });
          const runc = new RunC(bytes);
          let token = 1;
          for (let pos = 0; pos < c.seqLen; pos++) {
            const a = await session.step(token);
            const b = runc.forward(token, pos);
            expect(worstError(a, b).worst).toBeLessThanOrEqual(1);
            token = (argmax(b) + pos) % c.vocabSize; // vary the tokens
          }
          await expect(session.step(1)).rejects.toThrow(/KV cache is full/);
          session.dispose();
        });
      }

      it('an artifact compiled ahead of time decodes with the runtime alone (DecodeSession.fromArtifact)', async () => {
        const bytes = syntheticCheckpoint(cases[0]!.c);
        const model = importLlama2c(bytes);
        const spec = getDecoderSpec(model)!;
        const dir = join(mkdtempSync(join(tmpdir(), 'tessera-decoder-')), 'artifact');
        writeArtifact(dir, (await compileModel(model, { target: backend })).files);
        const session = await DecodeSession.fromArtifact(dir, { backend, spec });
        const want = await (await DecodeSession.create(model)).generate({ steps: 8, stopAtBos: false });
        expect((await session.generate({ steps: 8, stopAtBos: false })).tokens).toEqual(want.tokens);
        session.dispose();
        // The descriptor must describe the artifact.
        await expect(DecodeSession.fromArtifact(dir, { backend, spec: { ...spec, capacity: 16 } }))
          .rejects.toThrow(/the compiled artifact does not match its decoder descriptor: .*cache tensor 'past_key_0' must be f32\[1,4,16,4\], got f32\[1,4,8,4\]/);
        await expect(DecodeSession.fromArtifact(dir, { backend, spec: { ...spec, logits: 'nope' } }))
          .rejects.toThrow(/logits output 'nope' is not an output of the graph/);
      });
    });
  }
});
