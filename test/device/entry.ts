// The GPU device check's entry point. test/device/prepare.sh bundles it (with the compiler and runtime) into
// one ESM file, so a GPU machine with a bare `node` and no npm can run it:
//   info                                   the driver and device, as JSON (exit 1 with the reason if none)
//   cli ARGS...                            the `tessera` command line
//   conformance --backend B --expected F --json OUT [--case-timeout S] [--deadline S] [--workers N] DIR...
//   models --backend B --dir D --json OUT [--case-timeout S] [--deadline S] [--workers N]
//   matmul [--json OUT] [--size N]         MatMul N³ models (f16, bf16) compiled for cuda and run through the
//                                          Session: checks sampled outputs, times the kernel launches
//   worker                                 (internal) runs the jobs a supervisor sends over IPC
// A supervisor runs jobs in worker processes, so a kernel that hangs the GPU or poisons its context costs one
// case: the worker is killed (timeout) or exits (any CUDA error), the case is recorded, and a fresh worker goes on.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { main as cliMain } from '../../compiler/cli.ts';
import { findCases, readExpectedFailures, runCase } from '../../compiler/conformance.ts';
import { checkBackend, loadModel, prepareAsync, type BackendName } from '../../compiler/driver.ts';
import { readNpy } from '../../compiler/npy.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { RuntimeValue, Tensor } from '../../ir/tensor.ts';
import { cudaDriver } from '../../runtime/cuda/driver.ts';
import { compileModel } from '../../compiler/compile.ts';
import { Session } from '../../runtime/session.ts';
import { Tensor as TensorClass } from '../../ir/tensor.ts';
import { seededRandom } from '../../ir/random.ts';
import { tmpdir } from 'node:os';
import { buildModel } from '../util/onnx-builder.ts';
import { REAL_MODELS } from '../util/real-models.ts';
import { tensorSha256, type ModelSpec } from './spec.ts';

/** A unit of work for a worker: one conformance case folder, or one real model with its inputs and outputs. */
type Job =
  | { id: number; kind: 'case'; dir: string; backend: BackendName }
  | { id: number; kind: 'model'; spec: ModelSpec; dir: string; backend: BackendName };


interface OutputError { name: string; n: number; bad: number; maxAbs: number; maxRel: number; shape?: string }
interface Reply {
  id: number;
  /** undefined: passed. */
  reason?: string;
  ms: number;
  compileMs?: number;
  firstRunMs?: number;
  medianRunMs?: number;
  outputs?: OutputError[];
}

const TOL = { rtol: 1e-3, atol: 1e-5 };
const firstLine = (s: string) => s.split('\n')[0]!;
const CUDA_FAILURE = /CUDA \S+.* failed: /;

function describe(e: unknown): string {
  return e instanceof TesseraError ? e.message : `internal error: ${(e as Error)?.stack ?? String(e)}`;
}

// ---- worker side ----

/** Max abs / rel error of a float output, and how many elements miss rtol/atol (exact match for integers). */
function measure(name: string, got: RuntimeValue | undefined, want: Tensor): OutputError {
  const n = want.size;
  if (!got || got.kind !== 'tensor') return { name, n, bad: n, maxAbs: Infinity, maxRel: Infinity, shape: `missing (${got?.kind ?? 'absent'})` };
  if (got.dtype !== want.dtype || got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i])) {
    return { name, n, bad: n, maxAbs: Infinity, maxRel: Infinity, shape: `${got.dtype}[${got.shape}] vs expected ${want.dtype}[${want.shape}]` };
  }
  let bad = 0, maxAbs = 0, maxRel = 0;
  for (let i = 0; i < n; i++) {
    const x = got.num(i), y = want.num(i);
    if (Number.isNaN(y) || !Number.isFinite(y)) { if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)))) bad++; continue; }
    const err = Math.abs(x - y);
    if (!(err <= TOL.atol + TOL.rtol * Math.abs(y))) bad++;
    if (err > maxAbs || Number.isNaN(err)) maxAbs = Number.isNaN(err) ? Infinity : err;
    if (Math.abs(y) > TOL.atol) maxRel = Math.max(maxRel, err / Math.abs(y));
  }
  return { name, n, bad, maxAbs, maxRel };
}

async function runModelJob(job: Extract<Job, { kind: 'model' }>): Promise<Omit<Reply, 'id' | 'ms'>> {
  const path = (f: string) => join(job.dir, f);
  const t0 = performance.now();
  const model = loadModel(path(job.spec.file));
  const real = REAL_MODELS.find((m) => m.name === job.spec.name) ?? fail(`no model '${job.spec.name}' in test/util/real-models.ts`);
  const feeds = real.feeds();
  for (const [k, sha] of Object.entries(job.spec.inputs)) {
    const t = feeds[k] ?? fail(`the regenerated feeds lack input '${k}'`);
    if (tensorSha256(t) !== sha) fail(`input '${k}' regenerated here differs from the one the expected outputs were computed on`);
  }
  const runner = await prepareAsync(model, job.backend);
  try {
    const compileMs = performance.now() - t0;
    let t = performance.now();
    const outs = await runner.run(feeds);
    const firstRunMs = performance.now() - t;
    const times: number[] = [];
    const until = performance.now() + 3000;
    while (times.length < 20 && performance.now() < until) {
      t = performance.now();
      await runner.run(feeds);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const outputs = Object.entries(job.spec.outputs).map(([k, f]) => measure(k, outs[k], readNpy(readFileSync(path(f)), f)));
    const bad = outputs.filter((o) => o.bad > 0);
    const reason = bad.length === 0 ? undefined : bad.map((o) => o.shape
      ? `output '${o.name}': ${o.shape}`
      : `output '${o.name}': ${o.bad}/${o.n} elements outside rtol ${TOL.rtol} atol ${TOL.atol} (max abs ${o.maxAbs.toPrecision(3)}, max rel ${o.maxRel.toPrecision(3)})`).join('; ');
    return { reason, compileMs, firstRunMs, medianRunMs: times[times.length >> 1], outputs };
  } finally {
    runner.dispose?.();
  }
}

function worker(): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (job: Job) => {
    void (async () => {
      const t0 = performance.now();
      let reply: Reply;
      try {
        if (job.kind === 'case') reply = { id: job.id, reason: await runCase(job.dir, job.backend), ms: 0 };
        else reply = { id: job.id, ...(await runModelJob(job)), ms: 0 };
      } catch (e) {
        reply = { id: job.id, reason: describe(e), ms: 0 };
      }
      reply.ms = performance.now() - t0;
      // After any CUDA error the context may be poisoned (sticky faults): start the next job in a fresh process.
      const exit = reply.reason !== undefined && CUDA_FAILURE.test(reply.reason);
      process.send!(reply, () => { if (exit) process.exit(3); });
    })();
  });
  process.send!({ ready: true });
}

// ---- supervisor side ----

interface JobResult { job: Job; status: 'PASS' | 'FAIL' | 'XFAIL' | 'XPASS' | 'TIMEOUT' | 'NOT_RUN'; reason?: string; reply?: Reply }

interface PoolOptions { workers: number; caseTimeoutS: number; deadlineS: number; onResult: (r: JobResult) => void }

/** Runs jobs on a pool of worker processes with a per-job timeout and an overall deadline. */
async function runPool(jobs: Job[], opts: PoolOptions): Promise<JobResult[]> {
  const results: JobResult[] = [];
  const queue = [...jobs];
  const deadline = Date.now() + opts.deadlineS * 1000;
  const self = process.argv[1]!;
  const record = (r: JobResult) => { results.push(r); opts.onResult(r); };

  const lane = async (): Promise<void> => {
    let child: ChildProcess | undefined;
    let ready: Promise<void> | undefined;
    const start = () => {
      // 'advanced' serialization keeps Infinity and NaN (max errors of a wrong output) intact.
      child = fork(self, ['worker'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
      const c = child;
      c.on('error', () => { /* a send to a worker that just died: its 'exit' reports it */ });
      ready = new Promise((resolve) => c.once('message', () => resolve()));
    };
    try {
      while (queue.length > 0) {
        if (Date.now() > deadline) return;
        const job = queue.shift()!;
        if (!child || child.exitCode !== null || child.signalCode !== null) start();
        const c = child!;
        const left = Math.min(opts.caseTimeoutS * 1000, deadline - Date.now() + 1000);
        const outcome = await new Promise<Reply | 'timeout' | 'exit'>((resolve) => {
          const timer = setTimeout(() => resolve('timeout'), Math.max(left, 1000));
          const onMessage = (m: Reply) => { if (m.id === job.id) { cleanup(); resolve(m); } };
          const onExit = () => { cleanup(); resolve('exit'); };
          const cleanup = () => { clearTimeout(timer); c.off('message', onMessage); c.off('exit', onExit); };
          c.on('message', onMessage);
          c.once('exit', onExit);
          void ready!.then(() => c.send(job));
        });
        if (outcome === 'timeout' || outcome === 'exit') {
          const how = outcome === 'timeout' ? `timed out after ${(left / 1000).toFixed(0)} s (worker killed)` : `the worker process died (exit ${c.exitCode ?? c.signalCode})`;
          c.kill('SIGKILL');
          child = undefined;
          record({ job, status: outcome === 'timeout' ? 'TIMEOUT' : 'FAIL', reason: how });
          continue;
        }
        record({ job, status: outcome.reason === undefined ? 'PASS' : 'FAIL', reason: outcome.reason, reply: outcome });
        if (outcome.reason !== undefined && CUDA_FAILURE.test(outcome.reason)) {
          await new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(undefined) : c.once('exit', r)));
          child = undefined;
        }
      }
    } finally {
      child?.kill('SIGKILL');
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, jobs.length)) }, lane));
  for (const job of queue) record({ job, status: 'NOT_RUN', reason: `stage deadline of ${opts.deadlineS} s reached` });
  return results;
}

const POOL_OPTIONS = {
  backend: { type: 'string', default: 'cuda' },
  json: { type: 'string' },
  'case-timeout': { type: 'string', default: '60' },
  deadline: { type: 'string', default: '180' },
  workers: { type: 'string', default: String(Math.max(1, Math.min(12, availableParallelism() - 2))) },
} as const;

function poolOptions(values: Record<string, unknown>, onResult: (r: JobResult) => void): PoolOptions {
  return { workers: Number(values.workers), caseTimeoutS: Number(values['case-timeout']), deadlineS: Number(values.deadline), onResult };
}

function count(results: JobResult[]) {
  const n = (s: JobResult['status']) => results.filter((r) => r.status === s).length;
  return { total: results.length, pass: n('PASS'), fail: n('FAIL'), xfail: n('XFAIL'), xpass: n('XPASS'), timeout: n('TIMEOUT'), notRun: n('NOT_RUN') };
}

async function conformance(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...POOL_OPTIONS, expected: { type: 'string' } } });
  const backend = checkBackend(values.backend);
  const expected = values.expected ? readExpectedFailures(values.expected) : new Map<string, string>();
  const cases = findCases(positionals);
  const jobs: Job[] = cases.map((dir, id) => ({ id, kind: 'case', dir, backend }));
  const t0 = Date.now();
  const results = await runPool(jobs, poolOptions(values, (r) => {
    const name = basename(r.job.dir);
    const listed = expected.get(name);
    if (listed !== undefined && r.status !== 'NOT_RUN') {
      r.reason = r.status === 'PASS' ? `listed as expected failure (${listed}) but passed: remove it from the list` : `${listed} (got: ${firstLine(r.reason ?? '')})`;
      r.status = r.status === 'PASS' ? 'XPASS' : 'XFAIL';
    }
    if (r.status !== 'PASS') console.log(`${r.status} ${basename(dirname(r.job.dir))}/${name}: ${r.reason}`);
  }));
  results.sort((a, b) => a.job.id - b.job.id);
  const suites = new Map<string, JobResult[]>();
  for (const r of results) {
    const s = basename(dirname(r.job.dir));
    suites.set(s, [...(suites.get(s) ?? []), r]);
  }
  const summary = Object.fromEntries([...suites].map(([s, rs]) => [s, count(rs)]));
  for (const [s, c] of Object.entries(summary)) {
    console.log(`conformance (${backend}) ${s}: ${c.pass + c.xpass}/${c.total} pass; ${c.xfail} expected failures, ${c.fail} unexpected failures, ` +
      `${c.timeout} timeouts, ${c.xpass} listed cases now pass, ${c.notRun} not run`);
  }
  const all = count(results);
  console.log(`conformance (${backend}) took ${((Date.now() - t0) / 1000).toFixed(1)} s with ${values.workers} workers`);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({
      backend, summary, seconds: (Date.now() - t0) / 1000,
      results: results.map((r) => ({ suite: basename(dirname(r.job.dir)), name: basename(r.job.dir), status: r.status, reason: r.reason, ms: r.reply?.ms })),
    }, null, 1));
  }
  console.log(`${all.pass + all.xpass} passed, ${all.fail + all.timeout} failed, ${all.xfail + all.notRun} skipped`);
  return all.fail + all.timeout + all.xpass + all.notRun > 0 ? 1 : 0;
}

async function models(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...POOL_OPTIONS, dir: { type: 'string' } } });
  const backend = checkBackend(values.backend);
  const dir = values.dir ?? fail('models needs --dir');
  const specs = JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8')) as ModelSpec[];
  const jobs: Job[] = specs.map((spec, id) => ({ id, kind: 'model', spec, dir, backend }));
  const results = await runPool(jobs, poolOptions(values, (r) => {
    const spec = (r.job as Extract<Job, { kind: 'model' }>).spec;
    const rep = r.reply;
    const errs = rep?.outputs?.map((o) => `${o.name}: max abs ${o.maxAbs.toPrecision(3)}, max rel ${o.maxRel.toPrecision(3)}${o.bad ? ` (${o.bad}/${o.n} outside tolerance)` : ''}`).join('; ');
    const times = rep?.compileMs !== undefined
      ? ` [compile ${rep.compileMs.toFixed(0)} ms, first run ${rep.firstRunMs!.toFixed(1)} ms, median run ${rep.medianRunMs?.toFixed(2) ?? '-'} ms]` : '';
    console.log(`${r.status} ${spec.name}${times}${errs ? `: ${errs}` : ''}${r.status !== 'PASS' ? `\n  ${r.reason}` : ''}`);
  }));
  results.sort((a, b) => a.job.id - b.job.id);
  const c = count(results);
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({
      backend, tolerance: TOL, summary: c,
      results: results.map((r) => ({ name: (r.job as Extract<Job, { kind: 'model' }>).spec.name, status: r.status, reason: r.reason, ...r.reply, id: undefined })),
    }, (_, v) => (v === Infinity ? 'Infinity' : v), 1));
  }
  console.log(`real models (${backend}): ${c.pass} passed, ${c.fail + c.timeout} failed, ${c.notRun} skipped`);
  return c.pass === c.total ? 0 : 1;
}

function fail(reason: string): never {
  throw new TesseraError(reason);
}

async function info(): Promise<number> {
  const cu = await cudaDriver();
  console.log(JSON.stringify({ ...cu.info(), node: process.version }));
  return 0;
}

/** Lists what models.json names that is missing (prepare.sh runs this as a self-check). */
function checkModelsDir(dir: string): string[] {
  const specs = JSON.parse(readFileSync(join(dir, 'models.json'), 'utf8')) as ModelSpec[];
  return specs.flatMap((s) => [s.file, ...Object.values(s.outputs)]).filter((f) => !existsSync(join(dir, f)));
}

/**
 * MatMul N×N×N through the whole path a user takes: an ONNX MatMul model is lowered (the kernel carries a matmul
 * pattern), compiled for cuda (the tensor-core GEMM template replaces the body), and run by Session over the
 * CUDA executor. 64 sampled outputs are checked against a float64 dot product on the CPU. The timing repeats the
 * executor's launches on the data already on the device (the Session's per-run copies of 2·N² inputs and N²
 * outputs over PCIe are reported separately, as one whole session.run).
 */
async function matmul(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'string' }, size: { type: 'string', default: '4096' } } });
  const N = Number(values.size);
  const results: Record<string, unknown>[] = [];
  let bad = 0;
  // (i8: MatMulInteger centres its operands to i32 first, so no s8 tensor-core kernel arises from the graph yet;
  // the s8 template is timed directly by gemm_bench.py.)
  for (const dtype of ['f16', 'bf16'] as const) {
    try {
      const out = dtype;
      const bytes = buildModel({
        inputs: [{ name: 'a', dtype, shape: [N, N] }, { name: 'b', dtype, shape: [N, N] }], outputs: [{ name: 'y', dtype: out, shape: [N, N] }],
        nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
        opset: 17, name: `matmul_${dtype}`,
      });
      const path = join(tmpdir(), `tessera-matmul-${dtype}.onnx`);
      writeFileSync(path, bytes);
      const model = loadModel(path);
      const t0 = performance.now();
      const { files, program } = await compileModel(model, { target: 'cuda', sm: 90 });
      const compileMs = performance.now() - t0;
      const via = program.kernels.map((k) => (k.pattern ? 'pattern' : 'body')).join(',');
      const ptx = new TextDecoder().decode(files.get('kernels.ptx'));
      const tensorCore = ptx.includes('mma.sync');
      const rnd = seededRandom(7);
      const gen = (n: number) => Array.from({ length: n }, () => rnd() * 2 - 1);
      const A = TensorClass.from(dtype, [N, N], gen(N * N)), B = TensorClass.from(dtype, [N, N], gen(N * N));
      const session = await Session.create(files, { backend: 'cuda' });
      const t1 = performance.now();
      const y = (await session.run({ a: A, b: B })).y as Tensor;
      const runMs = performance.now() - t1;
      const a = A.data as ArrayLike<number>, b = B.data as ArrayLike<number>, yd = y.data as ArrayLike<number>;
      let maxRel = 0;
      for (let s = 0; s < 64; s++) {
        const i = Math.floor(rnd() * N), j = Math.floor(rnd() * N);
        let ref = 0, mag = 0;
        for (let k = 0; k < N; k++) { ref += a[i * N + k]! * b[k * N + j]!; mag += Math.abs(a[i * N + k]! * b[k * N + j]!); }
        const err = Math.abs(yd[i * N + j]! - ref) / Math.max(mag, 1e-30);
        maxRel = Math.max(maxRel, err);
      }
      // f32 accumulation; the output rounds to bf16 (8 bits) or f16 (11 bits), relative to Σ|a·b|.
      const ok = maxRel <= (dtype === 'bf16' ? 8e-3 : 1e-3);
      // Kernel timing: the session's executor for this shape, its launches repeated on the device-resident data.
      const inst = [...(session as unknown as { instances: Map<string, { executor: { run(c: unknown): void }; calls: unknown }> }).instances.values()][0]!;
      for (let w = 0; w < 3; w++) inst.executor.run(inst.calls);
      const times: number[] = [];
      for (let r = 0; r < 10; r++) { const t = performance.now(); inst.executor.run(inst.calls); times.push(performance.now() - t); }
      times.sort((x, z) => x - z);
      const ms = times[5]!;
      const tflops = (2 * N ** 3) / (ms / 1000) / 1e12;
      session.dispose();
      const r = { dtype, N, kernels: program.kernels.length, via, tensorCore, compileMs: Math.round(compileMs), firstRunMs: Math.round(runMs), kernelMedianMs: +ms.toFixed(3), tflops: +tflops.toFixed(1), maxRelErrSampled: maxRel, correct: ok };
      results.push(r);
      if (!ok) bad++;
      console.log(`matmul ${dtype} ${N}^3 via Session(cuda): ${ok ? 'correct' : 'WRONG'} (sampled max rel err ${maxRel.toExponential(2)}), kernels ${via}, mma.sync ${tensorCore ? 'yes' : 'no'}, kernel ${ms.toFixed(3)} ms = ${tflops.toFixed(1)} T(FL)OP/s; session.run with copies ${runMs.toFixed(0)} ms; compile ${compileMs.toFixed(0)} ms`);
    } catch (e) {
      bad++;
      results.push({ dtype, error: describe(e) });
      console.log(`matmul ${dtype}: ERROR ${describe(e)}`);
    }
  }
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 1));
  return bad ? 1 : 0;
}

async function entry(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'worker': worker(); return -1;
    case 'info': return info();
    case 'cli': return cliMain(rest);
    case 'conformance': return conformance(rest);
    case 'models': return models(rest);
    case 'matmul': return matmul(rest);
    case 'check-models': {
      const missing = checkModelsDir(rest[0] ?? fail('check-models needs a folder'));
      if (missing.length) console.log(`missing: ${missing.join(', ')}`);
      else console.log(`models.json: ${readdirSync(rest[0]!).length} files present`);
      return missing.length ? 1 : 0;
    }
    default:
      console.error('usage: entry (info | cli ARGS... | conformance ... | models ... | check-models DIR)');
      return 1;
  }
}

try {
  const code = await entry(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
} catch (e) {
  console.error(e instanceof TesseraError ? `error: ${e.message}` : `internal error: ${(e as Error)?.stack ?? e}`);
  process.exitCode = e instanceof TesseraError ? 1 : 2;
}
