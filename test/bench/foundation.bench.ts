// Benchmarks of the foundation (run by `npm run bench`, never by the test command):
//  1. import + verify + type inference of the PP-OCRv4 recognizer (target < 1 s);
//  2. reference-interpreter time per inference against onnxruntime-node (1 thread), A/B interleaved in
//     one process, reported as a ratio — the machines are shared and noisy, so only ratios are compared.
import { readFileSync } from 'node:fs';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { prepare } from '../../compiler/driver.ts';
import { inferModel } from '../../ir/infer.ts';
import { verifyModel } from '../../ir/verify.ts';
import { available, REAL_MODELS, toOrt } from '../util/real-models.ts';

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const only = process.env.BENCH_MODELS?.split(',');

async function main() {
  const rec = REAL_MODELS[0]!;
  if (available(rec)) {
    const bytes = readFileSync(rec.path);
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const model = importOnnx(bytes, { source: rec.path });
      verifyModel(model);
      inferModel(model);
      times.push(performance.now() - t0);
    }
    console.log(`import+verify+infer ${rec.name}: median ${median(times).toFixed(1)} ms over ${times.length} runs (target < 1000 ms)`);
  }

  const ort = await import('onnxruntime-node');
  console.log(`\nreference interpreter vs onnxruntime-node 1.30 (1 thread), ${rounds} interleaved rounds, median ms per inference`);
  console.log('model | tessera reference | onnxruntime-node | ratio (reference / ort)');
  for (const m of REAL_MODELS) {
    if (!available(m) || (only && !only.some((o) => m.name.includes(o)))) continue;
    const feeds = m.feeds();
    const model = importOnnx(readFileSync(m.path), { source: m.path });
    verifyModel(model); inferModel(model);
    const runner = prepare(model, 'reference');
    const session = await ort.InferenceSession.create(m.path, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', logSeverityLevel: 3 });
    const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(ort, t)]));
    runner.run(feeds); await session.run(ortFeeds); // warm-up
    const a: number[] = [], b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now(); runner.run(feeds); a.push(performance.now() - t0);
      t0 = performance.now(); await session.run(ortFeeds); b.push(performance.now() - t0);
    }
    await session.release();
    console.log(`${m.name} | ${median(a).toFixed(2)} | ${median(b).toFixed(2)} | ${(median(a) / median(b)).toFixed(1)}x`);
  }
}
await main();
