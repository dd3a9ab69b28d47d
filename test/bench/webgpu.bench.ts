// Whole-model inference through tessera's WebGPU artifact (compiled ahead of time, run by the runtime's
// Session) against onnxruntime-web 1.30's WebGPU execution provider, both on one GPUDevice of dawn.node over
// SwiftShader, A/B interleaved in one process and reported as ratios (the machines are shared and noisy).
// Cases: MatMul 512³ f32 as a one-node model, and PP-OCRv4 rec at W=320 (tessera compiles it with
// `--shape x=1,3,48,320`; onnxruntime gets the same model file and input). Target: tessera ≥ 3× faster.
//
// An inference is timed from feeds on the CPU to outputs read back on the CPU (awaited). Per inference it also
// counts what each side asked of the GPU — compute dispatches, queue submits, buffer readbacks (mapAsync) — by
// wrapping dawn.node's prototypes (webgpu-node.ts), and the compute pipelines each side compiled. Outputs are
// compared first (max abs diff between the two, and each against onnxruntime-node), so a fast wrong answer
// cannot pass; onnxruntime's node placement (WebGPU vs its CPU fallback) is printed, and a session that
// dispatched nothing on the GPU fails.
//
// Run: source scripts/webgpu-env.sh && node --import tsx test/bench/webgpu.bench.ts  (BENCH_ROUNDS, default 3;
// BENCH_CASES=matmul,rec). On SwiftShader the first inference of each side compiles its shaders (and V8 tiers
// up onnxruntime's 27 MB WASM, which competes with the shader compiler for the cores): it is reported apart from
// the rounds. Without 'webgpu' in compileModel's TARGETS the onnxruntime-web figures are printed alone.
import { cpus, loadavg } from 'node:os';
import { readFileSync } from 'node:fs';
import { compileModel, TARGETS } from '../../compiler/compile.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { compareTensors } from '../../compiler/compare.ts';
import type { Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { verifyModel } from '../../ir/verify.ts';
import { Session, type SessionOptions } from '../../runtime/session.ts';
import { MATMUL_512, type BenchCase } from './cases.ts';
import { available, REAL_MODELS, runOrt } from '../util/real-models.ts';
import { nodeWebGpu, snapshot, type GpuCounts, type NodeWebGpu } from './webgpu-node.ts';
import { ortWebGpuSession } from './webgpu-ort.ts';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const only = process.env.BENCH_CASES?.split(',');
const TARGET_SPEEDUP = 3;
const min = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));
const TOLERANCE = { rtol: 1e-3, atol: 1e-4 };

type Case = BenchCase;

const rec = REAL_MODELS.find((m) => m.name === 'PP-OCRv4 rec (W=320)')!;

const CASES: Case[] = [
  MATMUL_512,
  {
    key: 'rec', name: 'PP-OCRv4 rec W=320',
    onnx: () => new Uint8Array(readFileSync(rec.path)), feeds: rec.feeds, shapes: new Map([['x', [1, 3, 48, 320]]]), file: rec.path,
  },
];

type Outputs = Record<string, Tensor>;
type Runner = (feeds: Record<string, Tensor>) => Promise<Outputs>;

interface Contender {
  name: string;
  run: Runner;
  /** Session creation (and compile, for tessera) before the first inference, ms. */
  setupMs: number;
  firstMs: number;
  first: GpuCounts;
  times: number[];
  perRun: GpuCounts[];
  note?: string;
}

function maxAbsDiff(a: Outputs, b: Outputs): string {
  let worst = 0;
  for (const [k, t] of Object.entries(b)) {
    const u = a[k];
    if (!u) return `output '${k}' missing`;
    if (u.size !== t.size) return `output '${k}' has ${u.size} elements, expected ${t.size}`;
    for (let i = 0; i < t.size; i++) {
      const d = Math.abs(Number(u.data[i]) - Number(t.data[i]));
      worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    }
  }
  return worst.toExponential(2);
}

/** '' when every output of `a` matches `expected` within TOLERANCE, else why not. */
function disagreement(a: Outputs, expected: Outputs): string {
  return Object.entries(expected).map(([k, t]) => {
    const why = a[k] ? compareTensors(a[k]!, t, TOLERANCE) : 'missing';
    return why ? `${k}: ${why}` : '';
  }).filter((s) => s).join('; ');
}

function modelFrom(bytes: Uint8Array): Model {
  const m = importOnnx(bytes);
  verifyModel(m);
  inferModel(m);
  return m;
}

/** Times one inference and counts the GPU work it caused. */
async function timed(gpu: NodeWebGpu, run: Runner, feeds: Record<string, Tensor>): Promise<{ ms: number; counts: GpuCounts; out: Outputs }> {
  const start = snapshot(gpu);
  const t = performance.now();
  const out = await run(feeds);
  return { ms: performance.now() - t, counts: gpu.since(start), out };
}

async function ortContender(gpu: NodeWebGpu, onnx: Uint8Array, feeds: Record<string, Tensor>): Promise<{ c: Contender; out: Outputs }> {
  const session = await ortWebGpuSession(onnx, gpu.device);
  const first = await timed(gpu, (f) => session.run(f), feeds);
  const placed = [...session.placements].map(([ep, n]) => `${n} on ${ep.replace('ExecutionProvider', '')}`).join(', ');
  // onnxruntime falls back to its CPU provider silently: say where its nodes ran and that the GPU did work.
  if (first.counts.dispatches + first.counts.indirectDispatches === 0) throw new Error('onnxruntime-web dispatched nothing on WebGPU (it fell back to the CPU)');
  return {
    c: {
      name: 'onnxruntime-web webgpu', run: (f) => session.run(f), setupMs: session.createMs, firstMs: first.ms, first: first.counts,
      times: [], perRun: [], note: `nodes placed: ${placed || 'not logged'}`,
    },
    out: first.out,
  };
}

async function tesseraContender(gpu: NodeWebGpu, c: Case, onnx: Uint8Array, feeds: Record<string, Tensor>): Promise<{ c: Contender; out: Outputs }> {
  const t0 = performance.now();
  const { files, program } = await compileModel(modelFrom(onnx), { target: 'webgpu', shapes: c.shapes });
  const compileMs = performance.now() - t0;
  // One device for both sides: onnxruntime-web is bound to the same one (webgpu-ort.ts).
  const options: SessionOptions = { backend: 'webgpu', device: gpu.device };
  const t1 = performance.now();
  const session = await Session.create(files, options);
  const createMs = performance.now() - t1;
  const first = await timed(gpu, (f) => session.run(f), feeds);
  return {
    c: {
      name: 'tessera webgpu', run: (f) => session.run(f), setupMs: compileMs + createMs, firstMs: first.ms, first: first.counts,
      times: [], perRun: [],
      note: `compiled in ${compileMs.toFixed(0)} ms (${program.kernels.length} kernels, ${program.dispatches.length} dispatches in the program), session created in ${createMs.toFixed(0)} ms`,
    },
    out: first.out,
  };
}

const perInference = (cs: GpuCounts[], k: keyof GpuCounts): string => {
  const xs = cs.map((c) => c[k]);
  const lo = min(xs), hi = Math.max(...xs);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
};

async function bench(gpu: NodeWebGpu, c: Case): Promise<void> {
  const onnx = c.onnx();
  const feeds = c.feeds();
  console.log(`\n${c.name}`);
  const oracle = await runOrt(onnx, feeds);
  const contenders: Contender[] = [];
  const outs = new Map<string, Outputs>();
  // Each side's line as soon as it is ready (a first inference on SwiftShader can take minutes).
  const ready = (x: { c: Contender; out: Outputs }) => {
    contenders.push(x.c);
    outs.set(x.c.name, x.out);
    const why = disagreement(x.out, oracle);
    console.log(`${x.c.name}: ${x.c.note}; first inference ${ms(x.c.firstMs)} ms; vs onnxruntime-node: max abs diff ${maxAbsDiff(x.out, oracle)}, ` +
      (why ? `OUTPUTS DIFFER (rtol ${TOLERANCE.rtol}, atol ${TOLERANCE.atol}): ${why}` : `match (rtol ${TOLERANCE.rtol}, atol ${TOLERANCE.atol})`));
  };
  if (TARGETS.includes('webgpu')) {
    try {
      ready(await tesseraContender(gpu, c, onnx, feeds));
    } catch (e) {
      console.log(`tessera webgpu: failed: ${(e as Error).message.split('\n')[0]}`);
    }
  } else {
    console.log(`tessera webgpu: not available yet (compileModel targets: ${TARGETS.join(', ')})`);
  }
  const ort = await ortContender(gpu, onnx, feeds);
  ready(ort);
  const ours = contenders.find((x) => x.name === 'tessera webgpu');
  if (ours) {
    const why = disagreement(outs.get(ours.name)!, ort.out);
    console.log(`tessera vs onnxruntime-web webgpu: max abs diff ${maxAbsDiff(outs.get(ours.name)!, ort.out)}${why ? `, OUTPUTS DIFFER: ${why}` : ', match'}`);
  }
  // A/B interleaved; the order alternates each round so neither side always runs on a freshly idle machine.
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...contenders].reverse() : contenders;
    for (const x of order) {
      const t = await timed(gpu, x.run, feeds);
      x.times.push(t.ms);
      x.perRun.push(t.counts);
    }
  }
  console.log('contender | setup ms | first inference ms (shader compiles) | best ms | median ms | dispatches / inference | submits / inference | readbacks (mapAsync) / inference | pipelines created | tessera speed vs it (best / median)');
  for (const x of contenders) {
    const vs = !ours || x === ours ? '—'
      : `${(min(x.times) / min(ours.times)).toFixed(2)}× / ${(median(x.times) / median(ours.times)).toFixed(2)}× (target ≥ ${TARGET_SPEEDUP}×)`;
    const indirect = x.perRun.some((p) => p.indirectDispatches) ? ` + ${perInference(x.perRun, 'indirectDispatches')} indirect` : '';
    console.log(`${x.name} | ${ms(x.setupMs)} | ${ms(x.firstMs)} | ${ms(min(x.times))} | ${ms(median(x.times))} | ` +
      `${perInference(x.perRun, 'dispatches')}${indirect} | ${perInference(x.perRun, 'submits')} | ${perInference(x.perRun, 'readbacks')} | ${x.first.pipelines} | ${vs}`);
  }
}

async function main() {
  const started = performance.now();
  let gpu: NodeWebGpu;
  try {
    gpu = await nodeWebGpu();
  } catch (e) {
    // No Vulkan driver for dawn.node: say so and let scripts/bench.sh go on with the other benches.
    console.log(`WebGPU benchmarks skipped: ${(e as Error).message}`);
    return;
  }
  console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} logical); node ${process.version}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; ` +
    `adapter: ${gpu.adapterName}; ${rounds} interleaved rounds after one warm-up inference each; ratios > 1: tessera is faster`);
  for (const c of CASES) {
    if (only && !only.includes(c.key)) continue;
    if (c.file && !available({ name: c.name, path: c.file, feeds: c.feeds })) { console.log(`\n${c.name}: skipped (model file not found: ${c.file})`); continue; }
    try {
      await bench(gpu, c);
    } catch (e) {
      console.log(`\n${c.name}: failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  console.log(`\n(whole run ${((performance.now() - started) / 1000).toFixed(0)} s)`);
  // dawn.node keeps the event loop alive while a device exists.
  gpu.device.destroy();
  process.exit(0);
}
await main();
