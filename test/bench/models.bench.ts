// Whole-model inference through tessera's WASM artifact (compiled ahead of time, run by the runtime's Session)
// against onnxruntime-web 1.30 (wasm backend, SIMD, 1 thread) and onnxruntime-node 1.30 (CPU, 1 thread),
// A/B interleaved in one process and reported as ratios (the machines are shared and noisy). Cases: MatMul
// 512³ f32 and Conv 64→64 3×3 on 56×56 as one-node models, PP-OCRv4 rec at W=320 (symbolic artifact and the
// `--shape x=1,3,48,320` one), the detector at 640×640, silero-vad. Also printed: compile time of each
// artifact, the arena (peak bytes vs the largest simultaneously-live set) and the CPU.
//
// Run: node --import tsx test/bench/models.bench.ts  (BENCH_ROUNDS, BENCH_CASES=matmul,conv,rec,rec-fixed,det,cls,vad,vad16,vad18)
// Relaxed SIMD needs --experimental-wasm-relaxed-simd on Node 20: the script turns it on (the runtime's probe
// then picks the relaxed variant, as a browser with relaxed SIMD would).
import { cpus, loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import v8 from 'node:v8';
import { compileModel } from '../../compiler/compile.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import type { Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { seededRandom } from '../../ir/random.ts';
import { Tensor } from '../../ir/tensor.ts';
import { verifyModel } from '../../ir/verify.ts';
import { Session } from '../../runtime/session.ts';
import { randomTensor } from '../../compiler/cli.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';
import { MATMUL_512, type BenchCase } from './cases.ts';
import { available, REAL_MODELS, runOrt } from '../util/real-models.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { readFileSync } from 'node:fs';

v8.setFlagsFromString('--experimental-wasm-relaxed-simd');

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const only = process.env.BENCH_CASES?.split(',');
const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

type Case = BenchCase;

function modelFrom(bytes: Uint8Array): Model {
  const m = importOnnx(bytes);
  verifyModel(m);
  inferModel(m);
  return m;
}

const real = (name: string) => REAL_MODELS.find((m) => m.name === name)!;
const fileCase = (key: string, name: string, model: string, shapes?: Map<string, number[]>, values?: Map<string, Tensor>): Case => {
  const m = real(model);
  return { key, name, onnx: () => readFileSync(m.path), feeds: m.feeds, shapes, values };
};

const rand = seededRandom(5);
const weights = (shape: number[], scale: number) => Tensor.from('f32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() - 0.5) * scale));

const CASES: Case[] = [
  MATMUL_512,
  {
    key: 'conv', name: 'Conv 64→64 3×3 pad 1 on 56×56 (+bias)',
    onnx: () => buildModel({
      inputs: [{ name: 'x', dtype: 'f32', shape: [1, 64, 56, 56] }],
      outputs: [{ name: 'y', dtype: 'f32', shape: [1, 64, 56, 56] }],
      initializers: { w: weights([64, 64, 3, 3], 0.1), b: weights([64], 1) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1], kernel_shape: [3, 3] } }],
    } as ModelSpec),
    feeds: () => ({ x: randomTensor('f32', [1, 64, 56, 56], seededRandom(3)) }),
  },
  fileCase('rec', 'PP-OCRv4 rec W=320 (symbolic artifact)', 'PP-OCRv4 rec (W=320)'),
  fileCase('rec-fixed', 'PP-OCRv4 rec W=320 (--shape x=1,3,48,320)', 'PP-OCRv4 rec (W=320)', new Map([['x', [1, 3, 48, 320]]])),
  fileCase('det', 'PP-OCRv4 det 640×640', 'PP-OCRv4 det (640x640)'),
  fileCase('cls', 'PP-OCR cls 48×192', 'PP-OCR cls (48x192)'),
  fileCase('vad', 'silero-vad (--value sr=16000)', 'silero-vad', undefined, new Map([['sr', Tensor.scalar('i64', 16000n)]])),
  fileCase('vad16', 'silero-vad 16k op15 (--value sr=16000)', 'silero-vad 16k op15', undefined, new Map([['sr', Tensor.scalar('i64', 16000n)]])),
  fileCase('vad18', 'silero-vad op18 ifless (--value sr=16000)', 'silero-vad op18 ifless', undefined, new Map([['sr', Tensor.scalar('i64', 16000n)]])),
];

type Runner = (feeds: Record<string, Tensor>) => Promise<unknown>;

async function ortRunners(onnx: Uint8Array, feeds: Record<string, Tensor>): Promise<[string, Runner][]> {
  const out: [string, Runner][] = [];
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  web.env.wasm.simd = true;
  const ws = await web.InferenceSession.create(onnx, { executionProviders: ['wasm'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  const node = await import('onnxruntime-node');
  const ns = await node.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const conv = <T>(ctor: new (t: string, d: unknown, s: number[]) => T) => Object.fromEntries(Object.entries(feeds).map(([k, t]) => {
    const type = { f32: 'float32', i64: 'int64', i32: 'int32' }[t.dtype as 'f32'];
    return [k, new ctor(type, t.data, [...t.shape])];
  }));
  const wf = conv(web.Tensor as unknown as new (t: string, d: unknown, s: number[]) => object);
  const nf = conv(node.Tensor as unknown as new (t: string, d: unknown, s: number[]) => object);
  out.push(['onnxruntime-web', () => ws.run(wf as never)]);
  out.push(['onnxruntime-node', () => ns.run(nf as never)]);
  return out;
}

async function bench(c: Case): Promise<void> {
  const onnx = c.onnx();
  const feeds = c.feeds();
  const t0 = performance.now();
  const model = modelFrom(onnx);
  const { files, program } = await compileModel(model, { target: 'wasm', shapes: c.shapes, values: c.values });
  const compileMs = performance.now() - t0;
  const session = await Session.create(files, { backend: 'wasm' });
  const mem = await session.memoryReport(feeds);
  const contenders: [string, Runner][] = [['tessera wasm', (f) => session.run(f)], ...await ortRunners(onnx, feeds)];
  const times = new Map<string, number[]>(contenders.map(([k]) => [k, []]));
  for (const [, run] of contenders) await run(feeds); // warm-up (WASM tier-up, allocations)
  // The outputs must agree before the times mean anything: tessera against onnxruntime-node.
  const ours0 = await session.run(feeds);
  const theirs = await runOrt(onnx, feeds);
  const agree = Object.entries(theirs).map(([k, t]) => {
    const why = ours0[k] ? compareTensors(ours0[k]!, t, { rtol: 1e-3, atol: 1e-4 }) : 'missing';
    return why ? `${k}: ${why}` : undefined;
  }).filter((x) => x);
  for (let r = 0; r < rounds; r++) {
    for (const [name, run] of contenders) {
      const t = performance.now();
      await run(feeds);
      times.get(name)!.push(performance.now() - t);
    }
  }
  const ours = times.get('tessera wasm')!;
  const wasmBytes = ['model.wasm', 'model.relaxed.wasm'].map((f) => files.get(f)?.length ?? 0).join(' / ');
  console.log(`\n${c.name}: compiled in ${compileMs.toFixed(0)} ms (${program.kernels.length} kernels, ${program.dispatches.length} dispatches, ` +
    `WASM ${wasmBytes} bytes simd / relaxed, ` +
    `${program.kernels.filter((k) => k.pattern).length} with a matmul pattern); arena ${mb(mem.arenaBytes)} vs largest live set ${mb(mem.peakLiveBytes)} ` +
    `(×${(mem.arenaBytes / Math.max(1, mem.peakLiveBytes)).toFixed(2)})`);
  console.log(agree.length ? `OUTPUTS DIFFER from onnxruntime-node: ${agree.join('; ')}` : 'outputs match onnxruntime-node (rtol 1e-3, atol 1e-4)');
  console.log('contender | best ms | median ms | tessera speed vs it (best / median)');
  for (const [name, ts] of times) {
    console.log(`${name} | ${min(ts).toFixed(2)} | ${median(ts).toFixed(2)} | ${name === 'tessera wasm' ? '—' : `${(min(ts) / min(ours)).toFixed(2)}× / ${(median(ts) / median(ours)).toFixed(2)}×`}`);
  }
}

/** Minified + gzip bytes of a runtime entry point bundled alone (what an app embedding it ships). */
async function bundleSize(entry: string): Promise<string> {
  const { build } = await import('esbuild');
  const r = await build({ entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'neutral', write: false, logLevel: 'silent', external: ['node:*'] });
  const code = r.outputFiles[0]!.contents;
  return `${entry}: ${code.length} bytes minified, ${gzipSync(code).length} bytes minified + gzip`;
}

async function main() {
  console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical); node ${process.version}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; ` +
    `${rounds} interleaved rounds; ratios > 1: tessera is faster`);
  for (const entry of ['runtime/wasm/executor.ts']) {
    try { console.log(await bundleSize(entry)); } catch (e) { console.log(`${entry}: not bundled (${(e as Error).message.split('\n')[0]})`); }
  }
  for (const c of CASES) {
    if (only && !only.includes(c.key)) continue;
    const m = REAL_MODELS.find((r) => c.name.startsWith(r.name.split(' (')[0]!) && c.key !== 'matmul' && c.key !== 'conv');
    if (m && !available(m)) { console.log(`\n${c.name}: skipped (model file not found: ${m.path})`); continue; }
    try {
      await bench(c);
    } catch (e) {
      console.log(`\n${c.name}: failed: ${(e as Error).message}`);
    }
  }
}
await main();
