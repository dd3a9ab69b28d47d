// CI check of the PTX backend without a GPU: compiles every ONNX test case (libonnx-testdata node/,
// pytorch-converted/, pytorch-operator/, simple/) and the real npm models with --target ptx, and assembles
// each module with ptxas for sm_80 and for sm_90 (2 processes at a time). Cases that cannot be compiled and
// modules ptxas rejects are failures unless test/expected-failures/ptx.txt lists them (`case: reason`).
//
//   npx tsx scripts/ptx-check.ts [DIR...] [--expected FILE] [--jobs N] [--keep DIR] [--no-models] [--write-expected FILE]
//
// Without DIRs it checks the four suites under .data/onnx/…/data and the models of test/util/real-models.ts.
// Prints a SKIP line (exit 0) when ptxas is not on the PATH; exit 1 on an unexpected failure or on a listed
// case that now passes (remove it from the list).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { PtxArch } from '../backends/ptx/index.ts';
import type { Model } from '../ir/graph.ts';
import type { RuntimeValue, Tensor } from '../ir/tensor.ts';

// The compiler is imported after the ptxas check, so a machine without ptxas skips at once.
let C: Awaited<ReturnType<typeof loadCompiler>>;
async function loadCompiler() {
  const [ptx, compile, conformance, driver, context, specialize, proto, errors, models] = await Promise.all([
    import('../backends/ptx/index.ts'), import('../compiler/compile.ts'), import('../compiler/conformance.ts'),
    import('../compiler/driver.ts'), import('../compiler/lower/context.ts'), import('../compiler/lower/specialize.ts'),
    import('../compiler/onnx/tensor-proto.ts'), import('../ir/errors.ts'), import('../test/util/real-models.ts'),
  ]);
  return {
    buildPtxModule: ptx.buildPtxModule, compileModel: compile.compileModel, findCases: conformance.findCases,
    readExpectedFailures: conformance.readExpectedFailures, loadModel: driver.loadModel, isDataDependent: context.isDataDependent,
    specializer: specialize.specializer, decodeValueProto: proto.decodeValueProto, TesseraError: errors.TesseraError,
    REAL_MODELS: models.REAL_MODELS, available: models.available,
  };
}

const ROOT = join(import.meta.dirname, '..');
const DATA = join(ROOT, '.data/onnx/usr/share/libonnx-testdata/data');
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

interface Item { name: string; load: () => Model; feeds: (m: Model) => Record<string, RuntimeValue> | undefined }
interface Outcome { name: string; kernels: number; via: Record<'grid' | 'block' | 'gemm', number>; error?: string; kind?: 'compile' | 'ptxas' }

/** The feeds of a case's first test data set (to specialize inputs that decide shapes, as the conformance runner does). */
function caseFeeds(dir: string, model: Model): Record<string, RuntimeValue> | undefined {
  const set = readdirSync(dir).filter((s) => s.startsWith('test_data_set_')).sort()[0];
  if (!set) return undefined;
  const g = model.graph;
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  const feeds: Record<string, RuntimeValue> = {};
  const files = readdirSync(join(dir, set));
  formals.forEach((v, i) => {
    const f = `input_${i}.pb`;
    if (files.includes(f)) feeds[v.name] = C.decodeValueProto(readFileSync(join(dir, set, f)), v.type, `${set}/${f}`);
  });
  return feeds;
}

/** Compiles for target 'cuda'; when a shape depends on an input's value, specializes on the feeds. */
async function compileCase(item: Item): Promise<{ sm80: string; program: import('../ir/kernel/program.ts').Program }> {
  const model = item.load();
  const go = async (shapes?: Map<string, number[]>, values?: Map<string, Tensor>) => {
    const { files, program } = await C.compileModel(model, { target: 'cuda', shapes, values, name: item.name });
    const manifest = JSON.parse(new TextDecoder().decode(files.get('manifest.json')!)) as { code: Record<string, string> };
    return { sm80: new TextDecoder().decode(files.get(manifest.code.ptx!)!), program };
  };
  try {
    return await go();
  } catch (e) {
    if (!C.isDataDependent(e)) throw e;
    const feeds = item.feeds(model);
    if (!feeds) throw e;
    const s = C.specializer(model)(feeds);
    return go(s.shapes, s.values);
  }
}

function ptxasVersion(): string | undefined {
  const r = spawnSync('ptxas', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split('\n').find((l) => l.includes('release'))?.trim() ?? 'ptxas';
}

function ptxas(file: string, arch: PtxArch): Promise<string | undefined> {
  return new Promise((resolve) => {
    const p = spawn('ptxas', [`-arch=sm_${arch}`, '-o', '/dev/null', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => resolve(code === 0 ? undefined : (err.trim() || `ptxas exited with ${code}`)));
    p.on('error', (e) => resolve(e.message));
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2), allowPositionals: true,
    options: {
      expected: { type: 'string', default: join(ROOT, 'test/expected-failures/ptx.txt') },
      jobs: { type: 'string', default: '2' },
      keep: { type: 'string' },
      'no-models': { type: 'boolean', default: false },
      'write-expected': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const version = ptxasVersion();
  if (!version) {
    console.log('SKIP ptx-check: ptxas is not on the PATH (install the CUDA toolkit to assemble the emitted PTX)');
    return 0;
  }
  const t0 = performance.now();
  C = await loadCompiler();
  const items: Item[] = [];
  const dirs = positionals.length ? positionals : SUITES.map((s) => join(DATA, s)).filter((d) => existsSync(d));
  if (dirs.length === 0) console.log(`ptx-check: no test data under ${DATA} (run bash scripts/fetch-data.sh); checking the models only`);
  for (const dir of C.findCases(dirs)) {
    const file = ['model.onnx', 'model.tir'].map((f) => join(dir, f)).find((f) => existsSync(f))!;
    items.push({ name: basename(dir), load: () => C.loadModel(file), feeds: (m) => caseFeeds(dir, m) });
  }
  if (!values['no-models'] && positionals.length === 0) {
    for (const m of C.REAL_MODELS.filter(C.available)) {
      items.push({ name: `model:${basename(m.path, '.onnx')}`, load: () => C.loadModel(m.path), feeds: () => m.feeds() });
    }
  }
  const expected = C.readExpectedFailures(values.expected as string);
  const out = values.keep ? (mkdirSync(values.keep as string, { recursive: true }), values.keep as string) : mkdtempSync(join(tmpdir(), 'tessera-ptx-'));
  const jobs = Math.max(1, Number(values.jobs) || 2);

  // Compile on the main thread while ptxas runs (at most `jobs` processes) on the emitted files.
  const outcomes: Outcome[] = [];
  const queue: { file: string; arch: PtxArch; outcome: Outcome }[] = [];
  let running = 0;
  let wake: (() => void) | undefined;
  const pump = () => {
    while (running < jobs && queue.length) {
      const job = queue.shift()!;
      running++;
      void ptxas(job.file, job.arch).then((err) => {
        if (err && !job.outcome.error) {
          job.outcome.error = `ptxas -arch=sm_${job.arch}: ${err.split('\n').slice(0, 3).join(' | ')}`;
          job.outcome.kind = 'ptxas';
        }
        running--;
        pump();
        wake?.();
      });
    }
  };
  let assembled = 0, kernels = 0;
  for (const item of items) {
    const outcome: Outcome = { name: item.name, kernels: 0, via: { grid: 0, block: 0, gemm: 0 } };
    outcomes.push(outcome);
    try {
      const { sm80, program } = await compileCase(item);
      outcome.kernels = program.kernels.length;
      const m90 = C.buildPtxModule(program.kernels, { sm: 90 });
      const sm90 = m90.text;
      for (const k of m90.kernels) outcome.via[k.via]++;
      const safe = item.name.replace(/[^A-Za-z0-9_.-]/g, '_');
      for (const [arch, text] of [[80, sm80], [90, sm90]] as const) {
        const file = join(out, `${safe}.sm_${arch}.ptx`);
        writeFileSync(file, text);
        queue.push({ file, arch, outcome });
      }
      pump();
    } catch (e) {
      outcome.error = e instanceof C.TesseraError ? e.message.split('\n')[0]! : `internal error: ${(e as Error).stack ?? e}`;
      outcome.kind = 'compile';
    }
    // Let ptxas finish before the queue grows long (keeps memory flat on big suites).
    while (queue.length > 4 * jobs) await new Promise<void>((r) => { wake = r; });
  }
  while (running > 0 || queue.length) await new Promise<void>((r) => { wake = r; pump(); });

  let failed = 0, xfail = 0, xpass = 0, notCompiled = 0, modules = 0;
  const via = { grid: 0, block: 0, gemm: 0 };
  for (const o of outcomes) {
    const listed = expected.get(o.name);
    if (o.kind === 'compile') notCompiled++;
    if (!o.error) {
      modules++;
      kernels += o.kernels;
      for (const k of ['grid', 'block', 'gemm'] as const) via[k] += o.via[k];
      assembled++;
      if (listed) { xpass++; console.log(`XPASS ${o.name}: listed (${listed}) but compiles and assembles: remove it from the list`); }
      continue;
    }
    if (listed) { xfail++; if (!values.quiet) console.log(`XFAIL ${o.name}: ${listed}`); continue; }
    failed++;
    console.log(`FAIL ${o.name}: ${o.error}`);
  }
  if (values['write-expected']) {
    const lines = outcomes.filter((o) => o.error).map((o) => `${o.name}: ${expected.get(o.name) ?? o.error}`);
    writeFileSync(values['write-expected'] as string, lines.join('\n') + '\n');
  }
  if (!values.keep) rmSync(out, { recursive: true, force: true });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`ptx-check (${version}): ${kernels} kernels in ${modules} modules assembled for sm_80 and sm_90, ` +
    `${notCompiled} cases not compiled; ${xfail} expected failures (listed in ${values.expected}), ${failed} unexpected failures, ` +
    `${xpass} listed cases now pass; ${assembled}/${outcomes.length} cases, ${secs} s`);
  console.log(`schedules: ${via.grid} grid-stride, ${via.block} block-0 (barriers, dependent phases, no parallel loop), ${via.gemm} tensor-core GEMM`);
  return failed > 0 || xpass > 0 ? 1 : 0;
}

process.exitCode = await main();
