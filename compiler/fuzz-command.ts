// The `tessera fuzz` command (dispatched from cli.ts): differential fuzzing of targets against the
// reference interpreter, with shrinking and a written, rerunnable case on a divergence.
import { parseArgs } from 'node:util';
import { TesseraError } from '../ir/errors.ts';
import { printModel } from '../grammar/printer.ts';
import { FUZZ_OP_NAMES, fuzzSpecs } from './fuzz/ops.ts';
import { reproDir, writeRepro } from './fuzz/repro.ts';
import { DEFAULT_OPSETS, fuzz, type FuzzResult } from './fuzz/runner.ts';
import { fuzzTarget, type FuzzTarget } from './fuzz/targets.ts';

export const FUZZ_USAGE = `  tessera fuzz [--backend onnxruntime|kernel|wasm|webgpu|cuda[,...]] [--runs N] [--seed S] [--ops Add,Conv,...] [--out DIR]
               [--max-nodes N] [--opsets 17,13,18] [--replay PATH]

  fuzz generates random valid graphs (ops, dtypes, broadcast shapes with 0/1/odd dims, edge values, attributes),
  runs them on each target (onnxruntime, the oracle of the reference; or a compiled tessera backend) and on
  the reference interpreter with the same seeded inputs, and compares every node (tolerances:
  compiler/fuzz/tolerance.ts; intended divergences: compiler/fuzz/divergences.ts). On a divergence it shrinks
  the graph, writes it to DIR (default fuzz-failures/) as model.tir and as an ONNX test case folder for
  'tessera conformance', and exits with status 1. Without --seed a fresh seed is drawn and printed; --seed S
  reruns exactly. Defaults: --backend onnxruntime, --runs 300, --max-nodes 4.`;

function parse(args: string[]) {
  try {
    return parseArgs({
      args, allowPositionals: false, strict: true,
      options: {
        backend: { type: 'string', default: 'onnxruntime' }, runs: { type: 'string', default: '300' }, seed: { type: 'string' },
        ops: { type: 'string' }, out: { type: 'string', default: 'fuzz-failures' }, 'max-nodes': { type: 'string', default: '4' },
        opsets: { type: 'string' }, replay: { type: 'string' },
      },
    });
  } catch (e) {
    throw new TesseraError(`${(e as Error).message}\nusage:\n${FUZZ_USAGE}`);
  }
}

function integer(value: string, flag: string, min: number, max = 2 ** 31 - 1): number {
  const v = Number(value);
  if (!Number.isInteger(v) || v < min || v > max) throw new TesseraError(`--${flag} must be an integer in [${min}, ${max}], got '${value}'`);
  return v;
}

export async function fuzzCommand(args: string[]): Promise<number> {
  const { values } = parse(args);
  const runs = integer(values.runs!, 'runs', 1);
  const maxNodes = integer(values['max-nodes']!, 'max-nodes', 1, 32);
  const seed = values.seed !== undefined ? integer(values.seed, 'seed', -(2 ** 31)) : Math.floor(Math.random() * 2 ** 31);
  const ops = values.ops ? values.ops.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (ops) fuzzSpecs(ops); // unknown names are an error that lists the fuzzed ops
  const opsets = values.opsets ? values.opsets.split(',').map((s) => integer(s.trim(), 'opsets', 7, 30)) : [...DEFAULT_OPSETS];
  const targets: FuzzTarget[] = await Promise.all(values.backend!.split(',').map((s) => fuzzTarget(s.trim())));
  const out = values.out!;

  const rerun = ['npx tessera fuzz', `--backend ${values.backend}`, `--seed ${seed}`, `--runs ${runs}`,
    ...(values['max-nodes'] !== '4' ? [`--max-nodes ${maxNodes}`] : []), ...(ops ? [`--ops ${ops.join(',')}`] : []),
    ...(values.opsets ? [`--opsets ${opsets.join(',')}`] : [])].join(' ');
  console.log(`tessera fuzz: seed ${seed} (rerun with --seed ${seed})`);
  for (const t of targets) console.log(`target: ${t.describe ? await t.describe() : t.name}, against the reference interpreter`);
  console.log(`${ops?.length ?? FUZZ_OP_NAMES.length} ops, opsets ${opsets.join(', ')}, up to ${maxNodes} nodes per graph, ${runs} runs`);
  const t0 = performance.now();
  let result: FuzzResult;
  try {
    result = await fuzz({
      targets, runs, seed, ops, opsets, maxNodes, path: values.replay,
      onProgress: (p) => {
        if (p.shrinking) console.log(p.shrinkRuns === 0 ? `  divergence at run ${p.runs}: shrinking...` : `  shrinking: ${p.shrinkRuns} candidates tried`);
        else console.log(`  ${p.runs}/${p.total} runs`);
      },
    });
  } finally {
    for (const t of targets) t.dispose?.();
  }
  const s = result.stats;
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(`${s.runs} runs in ${seconds} s: ${s.nodes} nodes over ${s.ops.size} op kinds; ${s.unsupported} cases a target does not run, ` +
    `${s.invalid} rejected by every side`);
  if (s.excluded.size) {
    const met = [...s.excluded].sort((a, b) => b[1] - a[1]).map(([id, n]) => `${id} ×${n}`).join(', ');
    console.log(`known divergences met (not compared; compiler/fuzz/divergences.ts): ${met}`);
  }
  if (s.missingOps.length) console.log(`not in the op registry at these opsets (not fuzzed): ${s.missingOps.join(', ')}`);
  const d = result.divergence;
  if (!d) {
    console.log('no divergence');
    return 0;
  }
  const target = targets.find((t) => t.name === d.outcome.findings[0]?.target) ?? targets[0]!;
  console.log(`\nDIVERGENCE between ${target.name} and the reference interpreter (shrunk in ${d.shrinks} steps to ${d.case.nodes.length} node${d.case.nodes.length === 1 ? '' : 's'}):`);
  for (const f of d.outcome.findings) console.log(`  ${f.message}`);
  console.log('smallest failing graph:');
  console.log(printModel(d.case.model).text.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  for (const [name, t] of Object.entries(d.case.feeds)) {
    const shown = Array.from(t.data as ArrayLike<unknown>).slice(0, 12).map(String).join(', ');
    console.log(`  input ${name}: ${t.dtype}[${t.shape.join(',')}] {${shown}${t.size > 12 ? ', …' : ''}}`);
  }
  const written = writeRepro(reproDir(out, d, seed), d, target, { seed, command: rerun });
  console.log(`wrote ${written.dir}: model.tir, model.onnx, test_data_set_0/ (expects ${written.expected}'s outputs), divergence.txt`);
  // The case fails where the bug is: on the reference (oracle targets) or on the tessera backend.
  console.log(`rerun the case:   npx tessera conformance ${written.dir} --backend ${target.oracle ? 'reference' : target.name}`);
  console.log(`reproduce:        ${rerun}`);
  if (d.path) console.log(`jump to the case: ${rerun} --replay ${d.path}`);
  return 1;
}
