// MatMul 512³ f32 on WebGPU: the WGSL matmul template (backends/wgsl/matmul.ts) for each tile of
// WGSL_MATMUL_TILES (the first is the default), timed on whatever adapter dawn.node finds — SwiftShader here
// (`source scripts/webgpu-env.sh`), where onnxruntime-web's WebGPU MatMul took 720 ms for 512³ on an idle
// machine (test-data-and-toolchain.md).
//
// The machine is shared and often loaded several times over, so wall times are noisy. Rounds interleave the
// tiles and the per-dispatch minimum is kept; the process CPU time of each dispatch is measured too, and a
// naive shader (one output per invocation) runs in the same rounds: it took 1167 ms (0.23 GFLOP/s) on the
// idle machine, so `idle est.` = 1167 ms × cpu(tile) / cpu(naive) estimates each tile's idle wall time. The
// classic 4×4-per-invocation tile, measured at 185 ms on the idle machine, checks the estimate.
//
//   source scripts/webgpu-env.sh && node --import tsx test/bench/wgsl-matmul.bench.ts
//   env: BENCH_N (512), BENCH_ROUNDS (5), BENCH_REPEAT (dispatches per round, 1), BENCH_TILES (names,
//   comma-separated), BENCH_VARIANT (nn | nt | tn | tt: transA, transB)
import { emitMatmul, WGSL_MATMUL_TILES } from '../../backends/wgsl/matmul.ts';
import { evalSize } from '../../runtime/plan.ts';
import { bindParams, compileShader, dispatch, gpuDevice, makeArena, patternKernel, readWords, referenceMatmul } from '../wgsl/matmul-harness.ts';

const n = Number(process.env.BENCH_N ?? 512);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const repeat = Number(process.env.BENCH_REPEAT ?? 1);
const only = process.env.BENCH_TILES?.split(',');
const vname = process.env.BENCH_VARIANT ?? 'nn';
const ORT_MS_512 = 720;
const flops = 2 * n * n * n;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2; };

let device: GPUDevice;
try {
  device = await gpuDevice();
} catch (e) {
  console.log(`skipped: ${(e as Error).message}`);
  process.exit(0);
}
const vr = { transA: vname[0] === 't', transB: vname[1] === 't', aBroadcast: false, bBroadcast: false };
const kernel = patternKernel(`mm_${vname}`, vr);
const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 13) / 13 - 0.5);
const b = Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 17) / 17 - 0.5);
const ref = referenceMatmul(vr, 1, n, n, n, a, b).y;
const sizes = { nb: 1, m: n, n, k: n };
console.log(`matmul ${n}³ f32 (${vname}), ${rounds} rounds × ${repeat} dispatches`);
const NAIVE_IDLE_MS_512 = 1167;
// Square n only: its size params (nb, m, n, k) are read as m = n = k.
const NAIVE = `@group(0) @binding(0) var<storage, read_write> arena: array<u32>;
@group(0) @binding(1) var<uniform> P: array<vec4<u32>, 2>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let n = i32(P[1].x);
  let i = i32(gid.x + gid.y * nwg.x * 64u);
  if (i >= n * n) { return; }
  let m = i / n;
  let j = i - m * n;
  var acc = 0.0;
  for (var k = 0; k < n; k++) {
    acc = acc + bitcast<f32>(arena[i32(P[0].x) + m * n + k]) * bitcast<f32>(arena[i32(P[0].y) + k * n + j]);
  }
  arena[i32(P[0].z) + i] = bitcast<u32>(acc);
}
`;
const runs = [];
{
  const { pipeline } = await compileShader(device, NAIVE);
  const arena = makeArena(device, [new Uint32Array(a.buffer), new Uint32Array(b.buffer), new Uint32Array(n * n)]);
  const group = bindParams(device, pipeline, arena, [1, n, n, n]);
  runs.push({ tile: { name: 'naive' }, pipeline, group, grid: n * n / 64, err: 0, compileMs: 0, wall: [] as number[], cpu: [] as number[] });
}
for (const tile of WGSL_MATMUL_TILES) {
  if (only && !only.includes(tile.name)) continue;
  const mm = emitMatmul(kernel, { tile })!;
  const t0 = performance.now();
  const { pipeline } = await compileShader(device, mm.wgsl);
  const compileMs = performance.now() - t0;
  const arena = makeArena(device, [new Uint32Array(a.buffer), new Uint32Array(b.buffer), new Uint32Array(n * n)]);
  const group = bindParams(device, pipeline, arena, [1, n, n, n]);
  const grid = evalSize(mm.launch.grid, sizes);
  await dispatch(device, pipeline, group, grid, 1); // warm-up, and the result checked
  const y = new Float32Array((await readWords(device, arena, arena.offsets[2]!, n * n)).buffer);
  let err = 0;
  for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i]! - ref[i]!));
  runs.push({ tile, pipeline, group, grid, err, compileMs, wall: [] as number[], cpu: [] as number[] });
}
// Rounds interleave the tiles: the machine is shared, so each tile sees the same background load.
for (let r = 0; r < rounds; r++) {
  for (const x of runs) {
    const c0 = process.cpuUsage();
    x.wall.push((await dispatch(device, x.pipeline, x.group, x.grid, repeat)) / repeat);
    const c = process.cpuUsage(c0);
    x.cpu.push((c.user + c.system) / 1000 / repeat);
  }
}
const gf = (ms: number) => (flops / ms / 1e6).toFixed(2);
const scale = (n / 512) ** 3;
const naiveCpu = Math.min(...runs[0]!.cpu);
console.log('tile           wall min (GFLOP/s)     median   cpu min   idle est. (GFLOP/s, × ort-web)   max|err|  compile  grid');
for (const x of runs) {
  const best = Math.min(...x.wall), med = median(x.wall), cpu = Math.min(...x.cpu);
  const idle = NAIVE_IDLE_MS_512 * scale * cpu / naiveCpu;
  console.log(`${x.tile.name.padEnd(14)} ${best.toFixed(1).padStart(7)} ms (${gf(best).padStart(5)})  ${med.toFixed(1).padStart(7)} ms  ${cpu.toFixed(0).padStart(5)} ms  ` +
    `${idle.toFixed(0).padStart(6)} ms (${gf(idle).padStart(5)}, ${(ORT_MS_512 * scale / idle).toFixed(1).padStart(4)}×)  ` +
    `${x.err.toExponential(1)}  ${x.compileMs.toFixed(0).padStart(5)} ms  ${x.grid}`);
}
process.exit(0);
