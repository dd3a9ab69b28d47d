// The `tessera` command line: inspect, run, conformance.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { isBigInt, isFloat, isInt, type DType } from '../ir/dtype.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Model } from '../ir/graph.ts';
import { DEFAULT_INLINE_LIMIT, printModel, writeTirFile } from '../grammar/index.ts';
import { Tensor, type RuntimeValue } from '../ir/tensor.ts';
import type { Dim } from '../ir/types.ts';
import { seededRandom } from '../ir/random.ts';
import { findCases, readExpectedFailures, runConformance, type CaseResult } from './conformance.ts';
import { checkBackend, loadModel, prepareAsync } from './driver.ts';
import { compileModel, TARGETS, writeArtifact } from './compile.ts';
import { PTX_ARCHS, type PtxArch } from '../backends/ptx/index.ts';
import type { ArtifactTarget } from '../runtime/artifact.ts';
import { readNpy, writeNpy } from './npy.ts';
import { decodeValueProto, tensorToProto } from './onnx/tensor-proto.ts';
import { DECODE_USAGE, exportCommand, generateCommand } from './decode-commands.ts';
import { FUZZ_USAGE, fuzzCommand } from './fuzz-command.ts';

const USAGE = `usage:
  tessera inspect MODEL.onnx|MODEL.tir [--save OUT.tir]
  tessera run MODEL.onnx [--backend reference|kernel|wasm|webgpu|cuda] [--input NAME=FILE.pb|FILE.npy]... [--random SEED]
                         [--shape NAME=d0,d1,...]... [--value NAME=v0,v1,...]... [--output-dir DIR] [--repeat N]
  tessera compile MODEL|DIR... --target wasm|webgpu|ptx -o OUT [--sm 80|90] [--shape NAME=d0,d1,...]... [--value NAME=v0,v1,...]...
  tessera conformance DIR... [--backend reference] [--expected FILE] [--json FILE]
${DECODE_USAGE}
${FUZZ_USAGE}

  MODEL may be a .onnx file or a textual-IR .tir file (its blobs, if any, in MODEL.tir.bin beside it).
  inspect prints the textual IR; --save writes it as OUT.tir (+ OUT.tir.bin).
  run: inputs not given by --input are filled with seeded random values when --random is set
  (symbolic dimensions need --shape). With --repeat N the model runs N times after one warm-up and
  'median_ms: X' is printed (time per run, loading excluded).
  --value compiles an input as a constant (its dtype from the model, its values listed flat): needed when
  the input decides a shape (a Reshape target, Slice bounds, axes). The artifact still takes the input;
  a feed must then equal the value. run: the value is also the input's feed.
  conformance: DIR is an ONNX backend-test case (model.onnx + test_data_set_N/) or a folder of them.
  The expected-failure list defaults to test/expected-failures/<backend>.txt ('case: reason' lines).`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'inspect': return inspect(rest);
    case 'run': return run(rest);
    case 'conformance': return conformance(rest);
    case 'compile': return compile(rest);
    case 'export': return exportCommand(rest);
    case 'generate': return generateCommand(rest);
    case 'fuzz': return fuzzCommand(rest);
    case undefined: case '-h': case '--help': case 'help':
      console.log(USAGE); return cmd === undefined ? 1 : 0;
    default:
      throw new TesseraError(`unknown command '${cmd}'\n${USAGE}`);
  }
}

function parse(args: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new TesseraError(`${(e as Error).message}\n${USAGE}`);
  }
}

function inspect(args: string[]): number {
  const { values, positionals } = parse(args, { save: { type: 'string' } });
  if (positionals.length !== 1) throw new TesseraError(`inspect takes one model\n${USAGE}`);
  const model = loadModel(positionals[0]!);
  const { text, blobs } = printModel(model);
  if (blobs.size > 0) {
    console.log(`# ${blobs.size} tensor(s) with more than ${DEFAULT_INLINE_LIMIT} elements are shown by reference (@blob("name")), without their values;\n` +
      `# --save FILE.tir writes the text and FILE.tir.bin with their values (loadable wherever a .onnx is)`);
  }
  process.stdout.write(text);
  if (values.save) writeTirFile(values.save as string, model);
  return 0;
}

function parseShapes(specs: string[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const s of specs) {
    const eq = s.indexOf('=');
    const dims = s.slice(eq + 1).split(',').map(Number);
    if (eq <= 0 || dims.some((d) => !Number.isInteger(d) || d < 0)) throw new TesseraError(`--shape '${s}' must be NAME=d0,d1,...`);
    m.set(s.slice(0, eq), dims);
  }
  return m;
}

/** Integer ranges for --value (64-bit ones checked as bigints). */
const INT_RANGE: Partial<Record<DType, [bigint, bigint]>> = {
  i8: [-128n, 127n], u8: [0n, 255n], i16: [-32768n, 32767n], u16: [0n, 65535n], i32: [-(2n ** 31n), 2n ** 31n - 1n],
  u32: [0n, 2n ** 32n - 1n], i64: [-(2n ** 63n), 2n ** 63n - 1n], u64: [0n, 2n ** 64n - 1n],
};

/**
 * Parses `--value NAME=v0,v1,…` flags against a model: the dtype comes from the declared input, the shape
 * from --shape, else the declared static shape, else [count] for a rank-1 input. Elements are listed flat.
 */
export function parseValues(specs: string[], model: Model, shapes: Map<string, number[]> = new Map()): Map<string, Tensor> {
  const g = model.graph;
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  const out = new Map<string, Tensor>();
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new TesseraError(`--value '${spec}' must be NAME=v0,v1,...`);
    const name = spec.slice(0, eq);
    const v = formals.find((x) => x.name === name);
    if (!v) throw new TesseraError(`--value names '${name}', but the model's inputs are ${formals.map((x) => x.name).join(', ') || 'none'}`);
    if (out.has(name)) throw new TesseraError(`--value gives '${name}' twice`);
    const ty = v.type;
    if (ty?.kind !== 'tensor' || ty.dtype === 'string') throw new TesseraError(`--value ${name}: the input is not a numeric tensor`);
    const text = spec.slice(eq + 1).trim();
    const items = text === '' ? [] : text.split(',').map((x) => x.trim());
    const shape = shapes.get(name)
      ?? (ty.shape?.every((d) => typeof d === 'number') ? ty.shape as number[] : undefined)
      ?? (ty.shape?.length === 1 ? [items.length] : undefined);
    if (!shape) throw new TesseraError(`--value ${name}: the input's shape [${ty.shape?.join(',') ?? '?'}] is not fixed; give it with --shape ${name}=d0,d1,...`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (items.length !== n) throw new TesseraError(`--value ${name} lists ${items.length} value(s), the input of shape [${shape.join(',')}] has ${n}`);
    const parsed = items.map((x): number | bigint => {
      const badValue = (): never => { throw new TesseraError(`--value ${name}: '${x}' is not a ${ty.dtype} value`); };
      if (isFloat(ty.dtype)) {
        const f = /^[+-]?(inf|infinity)$/i.test(x) ? (x.startsWith('-') ? -Infinity : Infinity) : /^nan$/i.test(x) ? NaN : Number(x);
        if (Number.isNaN(f) && !/^nan$/i.test(x)) badValue();
        return f;
      }
      if (ty.dtype === 'bool') {
        if (/^(1|true)$/i.test(x)) return 1;
        if (/^(0|false)$/i.test(x)) return 0;
        return badValue();
      }
      if (!/^[+-]?[0-9]+$/.test(x)) badValue();
      const b = BigInt(x);
      const [lo, hi] = INT_RANGE[ty.dtype]!;
      if (b < lo || b > hi) throw new TesseraError(`--value ${name}: ${x} is out of range for ${ty.dtype}`);
      return isBigInt(ty.dtype) ? b : Number(b);
    });
    out.set(name, Tensor.from(ty.dtype, shape, parsed));
  }
  return out;
}

function readValueFile(file: string, type: Model['graph']['inputs'][number]['type']): RuntimeValue {
  let bytes: Uint8Array;
  try { bytes = readFileSync(file); } catch (e) {
    throw new TesseraError(`cannot read input file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file });
  }
  return file.endsWith('.npy') ? readNpy(bytes, file) : decodeValueProto(bytes, type, file);
}

/** Seeded random tensor: floats in [-1, 1), ints in [0, 10), bools at 50%. */
export function randomTensor(dtype: DType, shape: number[], rand: () => number): Tensor {
  const t = Tensor.zeros(dtype, shape);
  const vals = new Array(t.size);
  for (let i = 0; i < vals.length; i++) {
    const r = rand();
    vals[i] = isFloat(dtype) ? r * 2 - 1 : isInt(dtype) ? Math.floor(r * 10) : dtype === 'bool' ? r < 0.5 : String(Math.floor(r * 10));
  }
  return Tensor.from(dtype, shape, vals);
}

function summarize(name: string, v: RuntimeValue): string {
  if (v.kind !== 'tensor') return `${name}: ${v.kind}`;
  const n = v.size;
  let line = `${name}: ${v.dtype}[${v.shape.join(',')}]`;
  if (n > 0 && v.dtype !== 'string') {
    let min = Infinity, max = -Infinity, sum = 0;
    for (let i = 0; i < n; i++) { const x = v.num(i); if (x < min) min = x; if (x > max) max = x; sum += x; }
    line += ` min=${min.toPrecision(5)} max=${max.toPrecision(5)} mean=${(sum / n).toPrecision(5)}`;
  }
  const head = Array.from({ length: Math.min(n, 6) }, (_, i) => (v.dtype === 'string' ? JSON.stringify(v.data[i]) : v.num(i).toPrecision(5)));
  line += ` first=[${head.join(', ')}${n > 6 ? ', …' : ''}]`;
  // For score-like outputs (e.g. per-timestep class probabilities), the argmax over the last axis is
  // what a user reads: the recognized class sequence.
  const last = v.shape[v.rank - 1] ?? 0;
  if (v.rank >= 2 && last > 1 && v.dtype !== 'string' && n > 0) {
    const rows = Math.min(n / last, 40);
    const arg: number[] = [];
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < last; j++) if (v.num(r * last + j) > v.num(r * last + best)) best = j;
      arg.push(best);
    }
    line += `\n  argmax over the last axis (first ${rows} rows): [${arg.join(' ')}]`;
  }
  return line;
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    backend: { type: 'string', default: 'reference' },
    input: { type: 'string', multiple: true, default: [] },
    shape: { type: 'string', multiple: true, default: [] },
    value: { type: 'string', multiple: true, default: [] },
    random: { type: 'string' },
    'output-dir': { type: 'string' },
    repeat: { type: 'string' },
  });
  if (positionals.length !== 1) throw new TesseraError(`run takes one model\n${USAGE}`);
  const backend = checkBackend(values.backend as string);
  const repeat = values.repeat === undefined ? 0 : Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 0) throw new TesseraError(`--repeat must be a non-negative integer`);
  const t0 = performance.now();
  const model = loadModel(positionals[0]!);
  const loadMs = performance.now() - t0;
  const g = model.graph;
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  const given = new Map<string, string>();
  for (const spec of values.input as string[]) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new TesseraError(`--input '${spec}' must be NAME=FILE`);
    const name = spec.slice(0, eq);
    if (!g.inputs.some((v) => v.name === name)) {
      throw new TesseraError(`--input names '${name}', but the model's inputs are ${formals.map((v) => v.name).join(', ')}`);
    }
    given.set(name, spec.slice(eq + 1));
  }
  const shapes = parseShapes(values.shape as string[]);
  const fixed = parseValues(values.value as string[], model, shapes);
  const rand = values.random !== undefined ? seededRandom(Number(values.random)) : undefined;
  const feeds: Record<string, RuntimeValue> = {};
  for (const v of formals) {
    const value = fixed.get(v.name);
    if (value) {
      if (given.has(v.name)) throw new TesseraError(`input '${v.name}' is given by both --input and --value`);
      feeds[v.name] = value;
      continue;
    }
    const file = given.get(v.name);
    if (file) { feeds[v.name] = readValueFile(file, v.type); continue; }
    if (!rand) throw new TesseraError(`input '${v.name}' is not given (use --input ${v.name}=FILE, or --random SEED)`);
    if (v.type?.kind !== 'tensor' || !v.type.shape) throw new TesseraError(`input '${v.name}' has no known tensor shape; give it with --input`);
    const shape = shapes.get(v.name) ?? v.type.shape.map((d: Dim) => {
      if (typeof d === 'number') return d;
      throw new TesseraError(`input '${v.name}' has symbolic dimension '${d}': give --shape ${v.name}=d0,d1,...`);
    });
    if (shape.length !== v.type.shape.length) throw new TesseraError(`--shape for '${v.name}' has rank ${shape.length}, the input has rank ${v.type.shape.length}`);
    feeds[v.name] = randomTensor(v.type.dtype, shape, rand);
  }
  const runner = await prepareAsync(model, backend, { shapes, values: fixed });
  const t1 = performance.now();
  let outs = await runner.run(feeds);
  const firstMs = performance.now() - t1;
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const s = performance.now();
    outs = await runner.run(feeds);
    times.push(performance.now() - s);
  }
  console.log(`model: ${basename(positionals[0]!)} (backend ${backend}, load+verify ${loadMs.toFixed(1)} ms, first run ${firstMs.toFixed(1)} ms)`);
  for (const [name, v] of Object.entries(outs)) console.log(summarize(name, v));
  if (values['output-dir']) {
    const dir = values['output-dir'] as string;
    mkdirSync(dir, { recursive: true });
    for (const [name, v] of Object.entries(outs)) {
      if (v.kind !== 'tensor') throw new TesseraError(`output '${name}' is a ${v.kind}; only tensors can be written`);
      const safe = name.replace(/[^A-Za-z0-9_.-]/g, '_');
      writeFileSync(join(dir, `${safe}.pb`), onnxEncode(v, name));
      if (v.dtype !== 'string' && v.dtype !== 'bf16') writeFileSync(join(dir, `${safe}.npy`), writeNpy(v));
    }
    console.log(`wrote ${Object.keys(outs).length} output(s) to ${dir} (.pb and .npy)`);
  }
  if (repeat > 0) {
    times.sort((a, b) => a - b);
    const mid = times.length >> 1;
    const median = times.length % 2 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2;
    console.log(`median_ms: ${median.toFixed(3)}`);
  }
  return 0;
}

function onnxEncode(t: Tensor, name: string): Uint8Array {
  const tp = tensorToProto(t, name);
  return (tp.constructor as unknown as { encode(x: unknown): { finish(): Uint8Array } }).encode(tp).finish();
}

/**
 * AOT compilation: one model → an artifact folder OUT; several models, or folders of ONNX backend-test
 * cases → one artifact folder per model under OUT, named after the model's case folder (or file).
 */
async function compile(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    target: { type: 'string', default: 'wasm' },
    sm: { type: 'string' },
    o: { type: 'string', short: 'o' },
    shape: { type: 'string', multiple: true, default: [] },
    value: { type: 'string', multiple: true, default: [] },
  });
  if (positionals.length === 0 || !values.o) throw new TesseraError(`compile needs models and -o OUT\n${USAGE}`);
  // 'ptx' names the code, 'cuda' the runtime that loads it: both build the PTX artifact.
  const target = values.target === 'ptx' ? 'cuda' : values.target as string;
  if (!TARGETS.includes(target as never)) throw new TesseraError(`unknown target '${target}' (available: ${TARGETS.join(', ')}, ptx)`);
  const sm = values.sm === undefined ? undefined : Number(values.sm);
  if (sm !== undefined && (target !== 'cuda' || !(PTX_ARCHS as readonly number[]).includes(sm))) {
    throw new TesseraError(`--sm takes ${PTX_ARCHS.join(' or ')}, with --target ptx`);
  }
  const shapes = parseShapes(values.shape as string[]);
  const out = values.o as string;
  const models: { path: string; name: string }[] = [];
  for (const p of positionals) {
    if (existsSync(p) && statSync(p).isDirectory()) {
      for (const dir of findCases([p])) {
        const file = ['model.onnx', 'model.tir'].map((f) => join(dir, f)).find((f) => existsSync(f))!;
        models.push({ path: file, name: basename(dir) });
      }
    } else models.push({ path: p, name: basename(p).replace(/\.(onnx|tir)$/, '') });
  }
  const single = models.length === 1 && !(existsSync(positionals[0]!) && statSync(positionals[0]!).isDirectory());
  let failed = 0;
  for (const m of models) {
    const t0 = performance.now();
    try {
      const model = loadModel(m.path);
      const specialized = parseValues(values.value as string[], model, shapes);
      const { files, program, notes } = await compileModel(model, { target: target as ArtifactTarget, shapes, values: specialized, name: m.name, sm: sm as PtxArch | undefined });
      for (const n of notes) console.log(`note: ${m.name}: ${n}`);
      const dir = single ? out : join(out, m.name);
      writeArtifact(dir, files);
      const bytes = [...files.values()].reduce((a, b) => a + b.byteLength, 0);
      const note = specialized.size > 0 ? `, specialized on ${[...specialized.keys()].join(', ')}` : '';
      console.log(`compiled ${m.name}: ${program.kernels.length} kernels, ${program.dispatches.length} dispatches, ${bytes} bytes${note} → ${dir} (${(performance.now() - t0).toFixed(0)} ms)`);
    } catch (e) {
      if (!(e instanceof TesseraError) || single) throw e;
      failed++;
      console.log(`FAILED ${m.name}: ${e.message}`);
    }
  }
  if (models.length > 1) console.log(`${models.length - failed} of ${models.length} models compiled`);
  return failed > 0 ? 1 : 0;
}

async function conformance(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    backend: { type: 'string', default: 'reference' },
    expected: { type: 'string' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  });
  if (positionals.length === 0) throw new TesseraError(`conformance needs at least one folder\n${USAGE}`);
  const backend = checkBackend(values.backend as string);
  const lists = join(import.meta.dirname, '..', 'test', 'expected-failures');
  const listFile = (values.expected as string | undefined) ?? join(lists, `${backend}.txt`);
  const expected = readExpectedFailures(listFile);
  // cuda runs the PTX backend's code: its compile-time failures (ptx.txt) are expected too; cuda.txt adds run-time ones.
  if (backend === 'cuda' && values.expected === undefined) {
    for (const [k, v] of readExpectedFailures(join(lists, 'ptx.txt'))) if (!expected.has(k)) expected.set(k, v);
  }
  const cases = findCases(positionals);
  const results = await runConformance(cases, {
    backend, expected,
    onResult: (r: CaseResult) => {
      if (values.quiet && r.status === 'PASS') return;
      console.log(r.reason ? `${r.status} ${r.name}: ${r.reason}` : `${r.status} ${r.name}`);
    },
  });
  const n = (s: string) => results.filter((r) => r.status === s).length;
  const passed = n('PASS') + n('XPASS');
  const failed = n('FAIL');
  const xfail = n('XFAIL');
  console.log(`conformance (${backend}): ${passed}/${results.length} cases pass (${((100 * passed) / results.length).toFixed(1)}%); ` +
    `${xfail} expected failures (listed in ${listFile}), ${failed} unexpected failures, ${n('XPASS')} listed cases now pass`);
  if (values.json) writeFileSync(values.json as string, JSON.stringify({ backend, results }, null, 1));
  // WebGPU: every shader the runs compiled must be free of compiler messages (errors already fail their case).
  let shaderIssues = 0;
  if (backend === 'webgpu') {
    const { shaderStats } = await import('../runtime/webgpu/executor.ts');
    const notes = shaderStats.messages.filter((m) => m.type !== 'error');
    const errors = shaderStats.messages.length - notes.length;
    for (const m of notes.slice(0, 20)) console.log(`SHADER ${m.type} in kernel '${m.kernel}' ${m.line}:${m.column}: ${m.message}`);
    console.log(`webgpu shaders: ${shaderStats.modules} modules compiled (${shaderStats.reused} reused by text), ` +
      `${errors} errors, ${notes.length} warnings or info messages`);
    shaderIssues = notes.length + errors;
  }
  // The closing line: expected failures are counted as skipped (each printed above with its reason).
  console.log(`${passed} passed, ${failed} failed, ${xfail + n('SKIP')} skipped`);
  return failed > 0 || n('XPASS') > 0 || shaderIssues > 0 ? 1 : 0;
}
