// The llama2.c decoder: stories260K greedy decoding on the reference backend agrees with onnxruntime-node
// running the exported ONNX step graph (same cache handling: present tensors fed back as past) and with
// a plain transcription of run.c; the decode session API; checkpoint validation.
//
// Logit tolerance: |ours − theirs| ≤ atol + rtol·|theirs| with rtol 1e-3 and atol 1e-4 (atol only matters
// for logits near zero, where float32 rounding of the two computation orders dominates).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importLlama2c, readLlama2cCheckpoint } from '../../compiler/llama2c.ts';
import { exportOnnx } from '../../compiler/onnx/export.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { getDecoderSpec, type DecoderSpec } from '../../ir/decoder.ts';
import { modelDiff } from '../../ir/equal.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { verifyModel } from '../../ir/verify.ts';
import { availableDecodeBackends, DECODE_BACKENDS, DecodeSession } from '../../runtime/decode.ts';
import { argmax } from '../../runtime/sampler.ts';
import { Tokenizer } from '../../runtime/tokenizer.ts';
import { OrtDecoder } from '../util/ort-decode.ts';
import { ROOT } from '../util/real-models.ts';
import { CHECKPOINT, haveStories, readCheckpoint, readTokenizer, SKIP_REASON, syntheticCheckpoint, TOKENIZER } from './files.ts';
import { RunC } from './runc.ts';

const TOL = { rtol: 1e-3, atol: 1e-4 };

/** Largest |a − b| and the largest ratio of the error to the allowed error (≤ 1 passes). */
function logitError(a: Float32Array, b: Float32Array): { maxAbs: number; worst: number } {
  expect(a.length).toBe(b.length);
  let maxAbs = 0, worst = 0;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    maxAbs = Math.max(maxAbs, err);
    worst = Math.max(worst, err / (TOL.atol + TOL.rtol * Math.abs(b[i]!)));
  }
  return { maxAbs, worst };
}

function errorOf(fn: () => unknown): TesseraError {
  try { fn(); } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected an error');
}

describe.skipIf(!haveStories)('stories260K decoder', () => {
  let model: Model;
  let spec: DecoderSpec;
  let onnxBytes: Uint8Array;
  let tokenizer: Tokenizer;

  beforeAll(() => {
    model = importLlama2c(readCheckpoint(), { source: CHECKPOINT });
    spec = getDecoderSpec(model)!;
    onnxBytes = exportOnnx(model);
    tokenizer = Tokenizer.fromBytes(readTokenizer(), { vocabSize: spec.vocabSize, source: TOKENIZER });
  });

  it('imports as a verified step graph with an explicit fixed-capacity cache', () => {
    expect(spec).toMatchObject({ vocabSize: 512, capacity: 512, layers: 5, heads: 8, kvHeads: 4, headSize: 8, bos: 1 });
    expect(spec.cache).toHaveLength(10);
    const ops = new Set(model.graph.nodes.map((n) => n.op));
    expect(ops.has('ScatterND')).toBe(true);
    expect(ops.has('Concat') && model.graph.nodes.some((n) => n.op === 'Concat' && n.inputs.some((v) => v?.name.startsWith('past')))).toBe(false);
    verifyModel(model);
  });

  it('greedy 256 steps from BOS: the reference backend and onnxruntime-node (exported ONNX) agree', async () => {
    const session = await DecodeSession.create(model, { backend: 'reference' });
    const ort = await OrtDecoder.create('onnxruntime-node', onnxBytes, spec);
    const ours = [1], theirs = [1];
    let maxAbs = 0, worst = 0;
    for (let pos = 0; pos < 256; pos++) {
      const a = await session.step(ours[pos]!);
      const b = await ort.step(theirs[pos]!, pos);
      const e = logitError(a, b);
      maxAbs = Math.max(maxAbs, e.maxAbs);
      worst = Math.max(worst, e.worst);
      ours.push(argmax(a));
      theirs.push(argmax(b));
    }
    await ort.release();
    const story = tokenizer.decode(ours);
    console.log(`stories260K, greedy, 256 steps from BOS (reference backend):\n${story}\n` +
      `logits vs onnxruntime-node: max abs error ${maxAbs.toExponential(2)}, worst error / allowed (rtol ${TOL.rtol}, atol ${TOL.atol}) = ${worst.toFixed(3)}`);
    expect(theirs).toEqual(ours);
    expect(worst).toBeLessThanOrEqual(1);
    expect(story.startsWith('Once upon a time')).toBe(true);
    expect(story).toContain('Lily');

    // generate() runs the same loop (BOS never comes up in these 256 steps).
    const gen = await session.generate({ steps: 256 });
    expect(gen.tokens).toEqual(ours);
    expect(gen.stop).toBe('steps');
  });

  it('the first 20 steps match a plain transcription of run.c', async () => {
    const runc = new RunC(readCheckpoint());
    const session = await DecodeSession.create(model);
    let token = 1, worst = 0, maxAbs = 0;
    for (let pos = 0; pos < 20; pos++) {
      const a = await session.step(token);
      const b = runc.forward(token, pos);
      const e = logitError(a, b);
      worst = Math.max(worst, e.worst);
      maxAbs = Math.max(maxAbs, e.maxAbs);
      expect(argmax(a)).toBe(argmax(b));
      token = argmax(b);
    }
    console.log(`logits vs the run.c transcription, 20 steps: max abs error ${maxAbs.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('the exported ONNX imports back equal, and decodes from its metadata descriptor', async () => {
    const back = importOnnx(onnxBytes);
    verifyModel(back);
    inferModel(back);
    expect(modelDiff(model, back)).toBeUndefined();
    expect(getDecoderSpec(back)).toEqual(spec);
    const a = await DecodeSession.create(model), b = await DecodeSession.create(back);
    const ra = await a.generate({ steps: 24 }), rb = await b.generate({ steps: 24 });
    expect(rb.tokens).toEqual(ra.tokens);
  });

  it('a prompt is fed before sampling starts; sampling is reproducible from its seed', async () => {
    const session = await DecodeSession.create(model);
    const prompt = tokenizer.encode('Tom had a red ball');
    const greedy = await session.generate({ steps: 40, prompt });
    expect(greedy.tokens.slice(0, prompt.length)).toEqual(prompt);
    expect(tokenizer.decode(greedy.tokens).startsWith('Tom had a red ball')).toBe(true);
    const opts = { steps: 60, temperature: 0.9, topP: 0.9, seed: 42 };
    const s1 = await session.generate(opts), s2 = await session.generate(opts);
    expect(s2.tokens).toEqual(s1.tokens);
    const s3 = await session.generate({ ...opts, seed: 43 });
    expect(s3.tokens).not.toEqual(s1.tokens);
    const full = await session.generate({ steps: 60, temperature: 1, topP: 0, seed: 5 }); // whole-distribution sampling
    expect(full.tokens.length).toBeGreaterThan(1);
    console.log(`sampled (T=0.9, top-p 0.9, seed 42): ${tokenizer.decode(s1.tokens)}`);
  });

  it('step/reset keep the state in the session; the cache holds exactly the decoded slots', async () => {
    const session = await DecodeSession.create(model);
    const first = await session.step(1);
    await session.step(argmax(first));
    expect(session.position).toBe(2);
    const cache = await session.readCache();
    const k0 = cache.get('past_key_0')!.data as Float32Array; // [1, 4, 512, 8]
    const slotNonZero = (slot: number) => k0.subarray(slot * 8, slot * 8 + 8).some((x) => x !== 0);
    expect([0, 1, 2, 3].map(slotNonZero)).toEqual([true, true, false, false]);
    session.reset();
    expect(session.position).toBe(0);
    expect(Array.from(await session.step(1))).toEqual(Array.from(first));
    await expect(session.step(512)).rejects.toThrow(/outside the vocabulary/);
  });

  it('a planned backend that is not registered says so; an unknown one is named', async () => {
    // The compiled targets register as compileModel gains them (compiler/decode-compiled.ts; they are
    // tested in compiled-decode.test.ts): the planned ones not registered yet say so.
    for (const b of DECODE_BACKENDS.filter((x) => !availableDecodeBackends().includes(x))) {
      await expect(DecodeSession.create(model, { backend: b })).rejects.toThrow(new RegExp(`backend '${b}' is not available for decoding yet \\(available: reference`));
    }
    await expect(DecodeSession.create(model, { backend: 'tpu' })).rejects.toThrow(/unknown backend 'tpu'/);
  });

  it('tessera generate and tessera export', () => {
    const bin = join(ROOT, 'bin', 'tessera.js');
    const out = execFileSync('node', [bin, 'generate', '--llama2c', CHECKPOINT, '--tokenizer', TOKENIZER, '--steps', '30', '--backend', 'reference'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out.startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-export-'));
    execFileSync('node', [bin, 'export', '--llama2c', CHECKPOINT, '--onnx', join(dir, 'd.onnx')], { stdio: 'pipe' });
    const viaModel = execFileSync('node', [bin, 'generate', '--model', join(dir, 'd.onnx'), '--tokenizer', TOKENIZER, '--steps', '30'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(viaModel).toBe(out);
  });
});

if (!haveStories) describe('stories260K decoder', () => it.skip(SKIP_REASON, () => {}));

describe('synthetic checkpoints against the run.c transcription', () => {
  const cases = [
    { name: 'unshared classifier, n_kv_heads = n_heads', c: { dim: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 4, vocabSize: 32, seqLen: 8, shared: false } },
    { name: 'shared classifier, grouped-query attention (4 heads : 1 kv head)', c: { dim: 16, hiddenDim: 20, nLayers: 1, nHeads: 4, nKvHeads: 1, vocabSize: 20, seqLen: 6, shared: true } },
  ];
  for (const { name, c } of cases) {
    it(name, async () => {
      const bytes = syntheticCheckpoint(c);
      const model = importLlama2c(bytes);
      const session = await DecodeSession.create(model);
      const runc = new RunC(bytes);
      let token = 1;
      for (let pos = 0; pos < c.seqLen; pos++) {
        const a = await session.step(token);
        const b = runc.forward(token, pos);
        expect(logitError(a, b).worst).toBeLessThanOrEqual(1);
        token = (argmax(b) + pos) % c.vocabSize; // vary the tokens
      }
      await expect(session.step(1)).rejects.toThrow(/KV cache is full: 6|KV cache is full: 8/);
    });
  }
});

describe('bad checkpoints give clear errors', () => {
  const base = { dim: 16, hiddenDim: 24, nLayers: 1, nHeads: 4, nKvHeads: 2, vocabSize: 32, seqLen: 8, shared: true };
  const good = syntheticCheckpoint(base);
  const withHeader = (i: number, v: number) => { const b = good.slice(); new DataView(b.buffer).setInt32(4 * i, v, true); return b; };

  it('the base checkpoint is accepted', () => {
    expect(readLlama2cCheckpoint(good).config).toMatchObject({ dim: 16, nKvHeads: 2, sharedClassifier: true });
  });
  it('shorter than the header', () => {
    expect(errorOf(() => importLlama2c(good.subarray(0, 10), { source: 'x.bin' })).message)
      .toMatch(/x\.bin: not a valid llama2.c checkpoint: the file has 10 bytes, fewer than the 28-byte header/);
  });
  it('truncated weights', () => {
    expect(errorOf(() => importLlama2c(good.subarray(0, good.length - 100))).message)
      .toMatch(/the file is truncated: the header \(dim=16, .*\) describes \d+ bytes .*, the file has \d+/);
  });
  it('more bytes than the header describes', () => {
    const longer = new Uint8Array(good.length + 64); longer.set(good);
    expect(errorOf(() => importLlama2c(longer)).message).toMatch(/64 bytes more than the header .* describes/);
  });
  it('a header that does not match the weights (wrong hidden_dim)', () => {
    expect(errorOf(() => importLlama2c(withHeader(1, 25))).message).toMatch(/the file (is truncated|has \d+ bytes more)/);
  });
  it('absurd or inconsistent header fields', () => {
    expect(errorOf(() => importLlama2c(withHeader(0, 0))).message).toMatch(/dim = 0 is outside 1\.\.65536/);
    expect(errorOf(() => importLlama2c(withHeader(0, 1e9))).message).toMatch(/dim = 1000000000 is outside/);
    expect(errorOf(() => importLlama2c(withHeader(3, 3))).message).toMatch(/dim is not a multiple of n_heads/);
    expect(errorOf(() => importLlama2c(withHeader(4, 3))).message).toMatch(/n_heads is not a multiple of n_kv_heads/);
    expect(errorOf(() => importLlama2c(withHeader(3, 16))).message).toMatch(/head size 1 is odd/);
    expect(errorOf(() => importLlama2c(withHeader(6, -5))).message).toMatch(/seq_len = -5 is outside/);
  });
  it("llama2.c's versioned export format", () => {
    const v1 = good.slice(); new DataView(v1.buffer).setUint32(0, 0x616b3432, true); new DataView(v1.buffer).setInt32(4, 1, true);
    expect(errorOf(() => importLlama2c(v1)).message).toMatch(/magic "ak42" .* \(version 1\); only the legacy format/);
  });
  it('non-finite weights', () => {
    const nan = good.slice(); new DataView(nan.buffer).setFloat32(28 + 4 * 40, NaN, true);
    expect(errorOf(() => importLlama2c(nan)).message).toMatch(/weight 40 \(in tokenEmbedding\) is NaN/);
  });
  it('vocabulary mismatch with the tokenizer', () => {
    expect(errorOf(() => importLlama2c(good, { tokenizerVocabSize: 512, source: 'm.bin' })).message)
      .toMatch(/m\.bin: the checkpoint's vocabulary has 32 tokens but the tokenizer has 512/);
  });
  it.skipIf(!haveStories)('tessera generate with a mismatched or truncated file exits 1 with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-badckpt-'));
    const bin = join(ROOT, 'bin', 'tessera.js');
    writeFileSync(join(dir, 'small.bin'), good);
    writeFileSync(join(dir, 'cut.bin'), readCheckpoint().subarray(0, 5000));
    const run = (ckpt: string) => {
      try {
        execFileSync('node', [bin, 'generate', '--llama2c', ckpt, '--tokenizer', TOKENIZER, '--steps', '4'], { stdio: 'pipe', encoding: 'utf8' });
      } catch (e) {
        const err = e as { status: number; stderr: string };
        return { status: err.status, stderr: err.stderr };
      }
      return { status: 0, stderr: '' };
    };
    const mismatch = run(join(dir, 'small.bin'));
    expect(mismatch.status).toBe(1);
    expect(mismatch.stderr).toMatch(/^error: .*small\.bin: the checkpoint's vocabulary has 32 tokens but the tokenizer has 512/);
    const cut = run(join(dir, 'cut.bin'));
    expect(cut.status).toBe(1);
    expect(cut.stderr).toMatch(/^error: .*cut\.bin: not a valid llama2.c checkpoint: the file is truncated/);
    expect(cut.stderr).not.toMatch(/at .*\.ts/); // no stack trace
  });
  it.skipIf(!haveStories)('tessera generate --model with a tokenizer of another vocabulary exits 1 with the reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-badmodel-'));
    writeFileSync(join(dir, 'small.onnx'), exportOnnx(importLlama2c(good)));
    let failure = { status: 0, stderr: '' };
    try {
      execFileSync('node', [join(ROOT, 'bin', 'tessera.js'), 'generate', '--model', join(dir, 'small.onnx'), '--tokenizer', TOKENIZER, '--steps', '4', '--backend', 'wasm'],
        { stdio: 'pipe', encoding: 'utf8' });
    } catch (e) {
      failure = e as { status: number; stderr: string };
    }
    expect(failure.status).toBe(1);
    expect(failure.stderr).toMatch(/^error: .*small\.onnx: the model's vocabulary has 32 tokens but the tokenizer .*tok512\.bin has 512: they do not belong together/);
  });
});
