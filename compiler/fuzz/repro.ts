// Writes a shrunk divergence so it reproduces without the fuzzer: the graph as textual IR (model.tir) and as
// an ONNX backend-test case folder that `tessera conformance` reruns (model.onnx + test_data_set_0/).
//
// Which outputs a case expects depends on what was under test. Against a tessera backend, the reference
// interpreter is the spec: the case expects the reference's outputs (and fails on that backend while the
// bug lasts). Against an external oracle (onnxruntime) it is the reference that is tested: the case expects
// the oracle's outputs, so `tessera conformance DIR --backend reference` fails until the reference is fixed
// (or the divergence is documented as intended). Both sides' outputs are kept beside it either way.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../../ir/errors.ts';
import type { RuntimeValue, Tensor } from '../../ir/tensor.ts';
import { writeTirFile } from '../../grammar/blobs.ts';
import { printModel } from '../../grammar/printer.ts';
import { exportOnnxFile } from '../onnx/export.ts';
import { decodeValueProto, tensorToProto } from '../onnx/tensor-proto.ts';
import type { FuzzCase } from './builder.ts';
import { FUZZ_OPS } from './ops.ts';
import type { FuzzDivergence } from './runner.ts';
import type { FuzzTarget } from './targets.ts';

export interface ReproInfo {
  /** The command line that reproduces the run (printed in divergence.txt). */
  command?: string;
  seed?: number;
}

export interface WrittenRepro {
  dir: string;
  /** Whose outputs test_data_set_0 expects. */
  expected: string;
}

function encode(v: RuntimeValue, name: string): Uint8Array {
  if (v.kind !== 'tensor') throw new Error(`output '${name}' is a ${v.kind}; only tensors are written`);
  const tp = tensorToProto(v, name);
  return (tp.constructor as unknown as { encode(x: unknown): { finish(): Uint8Array } }).encode(tp).finish();
}

/** A fresh folder under `out` named after the seed and the diverging op. */
export function reproDir(out: string, d: FuzzDivergence, seed: number): string {
  const f = d.outcome.findings[0];
  const base = `fuzz-${seed}-${f?.op ?? d.case.nodes[0]?.node.op ?? 'graph'}-${f?.target ?? 'target'}`.replace(/[^A-Za-z0-9_.-]/g, '_');
  let dir = join(out, base);
  for (let k = 2; existsSync(dir); k++) dir = join(out, `${base}-${k}`);
  return dir;
}

export function writeRepro(dir: string, d: FuzzDivergence, target: FuzzTarget, info: ReproInfo = {}): WrittenRepro {
  const { model, feeds } = d.case;
  const g = model.graph;
  mkdirSync(join(dir, 'test_data_set_0'), { recursive: true });
  exportOnnxFile(model, join(dir, 'model.onnx'));
  writeTirFile(join(dir, 'model.tir'), model);
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  formals.forEach((v, i) => writeFileSync(join(dir, 'test_data_set_0', `input_${i}.pb`), encode(feeds[v.name]!, v.name)));
  const writeOutputs = (sub: string, outs: Record<string, RuntimeValue>) => {
    mkdirSync(join(dir, sub), { recursive: true });
    g.outputs.forEach((v, i) => { if (outs[v.name]) writeFileSync(join(dir, sub, `output_${i}.pb`), encode(outs[v.name]!, v.name)); });
  };
  const ref = d.outcome.reference;
  const theirs = d.outcome.outputs[target.name];
  const useTarget = target.oracle ? theirs !== undefined : ref === undefined;
  const expected = useTarget ? target.name : 'the reference interpreter';
  const expectedOuts = useTarget ? theirs : ref;
  if (expectedOuts) writeOutputs('test_data_set_0', expectedOuts);
  if (ref) writeOutputs('reference_outputs', ref);
  if (theirs) writeOutputs(`${target.name}_outputs`, theirs);
  const lines = [
    `tessera fuzz: a divergence between ${target.name} and the reference interpreter${info.seed !== undefined ? ` (seed ${info.seed})` : ''}`,
    '',
    ...d.outcome.findings.map((f) => `${f.kind}: ${f.message}`),
    '',
    `test_data_set_0/ expects the outputs of ${expected}; reference_outputs/ and ${target.name}_outputs/ hold both sides.`,
    `rerun:      npx tessera conformance ${dir} --backend ${target.oracle ? 'reference' : target.name}`,
    ...(info.command ? [`reproduce:  ${info.command}`] : []),
    '',
    'graph:',
    printModel(model).text,
  ];
  writeFileSync(join(dir, 'divergence.txt'), lines.join('\n'));
  return { dir, expected };
}

/**
 * Reads a written case back (model.tir and test_data_set_0's inputs) as a case `checkCase` compares the way
 * the fuzzer did: node by node against the reference, each op with its fuzz tolerance (exact where the
 * fuzzer is exact, where `tessera conformance` allows ONNX's rtol 1e-3 + atol 1e-7). For the regression
 * cases of compiled backends, whose bug may hide under the conformance tolerance.
 */
export async function readRepro(dir: string): Promise<FuzzCase> {
  const { loadModel } = await import('../driver.ts'); // the driver is heavy: loaded when needed, as targets.ts does
  const model = loadModel(join(dir, 'model.tir'));
  const g = model.graph;
  const feeds: Record<string, Tensor> = {};
  g.inputs.filter((v) => !g.initializers.has(v)).forEach((v, i) => {
    const file = join(dir, 'test_data_set_0', `input_${i}.pb`);
    feeds[v.name] = decodeValueProto(readFileSync(file), v.type, file) as Tensor;
  });
  const nodes = g.nodes.map((node) => {
    const spec = FUZZ_OPS.find((s) => s.op === node.op);
    if (!spec) throw new TesseraError(`no fuzz spec for ${node.op}`, { file: dir });
    const t = (node.inputs[0] ?? node.outputs[0])?.type;
    return { node, spec, dtype: t?.kind === 'tensor' ? t.dtype : spec.dtypes[0]! };
  });
  return { recipe: { opset: model.opsets.get('') ?? 0, steps: [], dataSeed: 0 }, model, feeds, inputs: [], nodes, rejected: [] };
}
