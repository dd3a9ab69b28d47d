// Decoding benchmark (run by `npm run bench`, never by the test command): tokens per second for 256
// greedy steps of stories260K from BOS on each tessera backend that can decode — the reference
// interpreter, and the step graph compiled for wasm (webgpu, cuda where they exist and run here) with the
// KV cache kept in the executor's memory — against onnxruntime-node (1 thread) and onnxruntime-web's wasm
// backend (1 thread) running the exported ONNX step graph with the same cache handling (present key/values
// fed back as the next step's past). Rounds are interleaved in one process and reported as ratios — the
// machines are shared and noisy, so only ratios are compared. A backend that cannot run here is listed with
// the reason (webgpu in Node: `source scripts/webgpu-env.sh` first).
import { existsSync, readFileSync } from 'node:fs';
import { importLlama2c } from '../../compiler/llama2c.ts';
import '../../compiler/decode-compiled.ts'; // registers the compiled targets as decode backends
import { exportOnnx } from '../../compiler/onnx/export.ts';
import { getDecoderSpec } from '../../ir/decoder.ts';
import { availableDecodeBackends, DECODE_BACKENDS, DecodeSession } from '../../runtime/decode.ts';
import { argmax } from '../../runtime/sampler.ts';
import { CHECKPOINT, SKIP_REASON } from '../llama2c/files.ts';
import { OrtDecoder } from '../util/ort-decode.ts';

const STEPS = Number(process.env.BENCH_DECODE_STEPS ?? 256);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

interface Decoder { name: string; reset(): void; step(token: number, pos: number): Promise<Float32Array> }

/** Greedy decoding from BOS; returns the tokens and the wall time of the steps (ms). */
async function greedy(d: Decoder, steps: number): Promise<{ tokens: number[]; ms: number }> {
  d.reset();
  const tokens = [1];
  const t0 = performance.now();
  for (let pos = 0; pos < steps; pos++) tokens.push(argmax(await d.step(tokens[pos]!, pos)));
  return { tokens, ms: performance.now() - t0 };
}

async function main() {
  if (!existsSync(CHECKPOINT)) { console.log(`decode benchmark skipped: ${SKIP_REASON}`); return; }
  const model = importLlama2c(readFileSync(CHECKPOINT), { source: CHECKPOINT });
  const spec = getDecoderSpec(model)!;
  const onnx = exportOnnx(model);
  const decoders: Decoder[] = [];
  for (const backend of new Set([...DECODE_BACKENDS, ...availableDecodeBackends()])) {
    const t0 = performance.now();
    const s = await DecodeSession.create(model, { backend }).catch((e: Error) => e);
    if (s instanceof Error) { console.log(`tessera ${backend}: skipped (${s.message})`); continue; }
    if (backend !== 'reference') console.log(`tessera ${backend}: step graph compiled and loaded in ${(performance.now() - t0).toFixed(0)} ms (not in the timings)`);
    decoders.push({ name: `tessera ${backend}`, reset: () => s.reset(), step: (t) => s.step(t) });
  }
  const peers: Decoder[] = [];
  for (const flavor of ['onnxruntime-node', 'onnxruntime-web'] as const) {
    const o = await OrtDecoder.create(flavor, onnx, spec);
    peers.push({ name: flavor === 'onnxruntime-node' ? 'onnxruntime-node 1.30 (1 thread)' : 'onnxruntime-web 1.30 wasm (1 thread)', reset: () => o.reset(), step: (t, p) => o.step(t, p) });
  }
  const all = [...decoders, ...peers];
  for (const d of all) await greedy(d, 32); // warm-up (JIT, session initialization)

  const times = new Map<Decoder, number[]>(all.map((d) => [d, []]));
  const sequences = new Map<Decoder, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const d of all) {
      const { tokens, ms } = await greedy(d, STEPS);
      times.get(d)!.push(ms);
      sequences.set(d, tokens);
    }
  }
  const ref = sequences.get(all[0]!)!;
  const agree = all.every((d) => sequences.get(d)!.every((t, i) => t === ref[i]));
  console.log(`stories260K (dim 64, 5 layers, KV cache 5×2×[1,4,512,8]), ${STEPS} greedy steps from BOS, ${rounds} interleaved rounds (median)`);
  console.log(`all runners produce the same ${STEPS} tokens: ${agree ? 'yes' : 'NO'}`);
  console.log('runner | ms per 256 steps | tokens/s');
  for (const d of all) {
    const ms = median(times.get(d)!);
    console.log(`${d.name} | ${ms.toFixed(1)} | ${((STEPS / ms) * 1000).toFixed(1)}`);
  }
  console.log('ratios (tessera tokens/s ÷ peer tokens/s; > 1 means tessera is faster)');
  for (const d of decoders) {
    for (const p of peers) {
      console.log(`${d.name} / ${p.name}: ${(median(times.get(p)!) / median(times.get(d)!)).toFixed(2)}x`);
    }
  }
  if (!agree) process.exitCode = 1;
}
await main();
