// The ONNX backend-test conformance runner: each case is model.onnx + test_data_set_N/{input,output}_K.pb.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TesseraError } from '../ir/errors.ts';
import type { RuntimeValue } from '../ir/tensor.ts';
import { compareValues } from './compare.ts';
import { loadModel, prepareAsync, type AsyncRunner, type BackendName } from './driver.ts';
import type { Model } from '../ir/graph.ts';
import { decodeValueProto } from './onnx/tensor-proto.ts';

export type CaseStatus = 'PASS' | 'FAIL' | 'SKIP' | 'XFAIL' | 'XPASS';
export interface CaseResult { name: string; dir: string; status: CaseStatus; reason?: string; ms: number }

/** Expands each argument into test-case folders (a case itself, or a folder of cases, sorted). */
export function findCases(dirs: string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new TesseraError(`not a folder`, { file: d });
    if (caseModel(d)) { out.push(d); continue; }
    const subs = readdirSync(d).sort().map((s) => join(d, s)).filter((p) => statSync(p).isDirectory());
    const cases = subs.filter((p) => caseModel(p));
    if (cases.length === 0) throw new TesseraError(`holds no test cases (no model.onnx or model.tir in it or its sub-folders)`, { file: d });
    out.push(...cases);
  }
  return out;
}

/** The model file of a case folder: model.onnx, or model.tir (textual IR). */
function caseModel(dir: string): string | undefined {
  for (const f of ['model.onnx', 'model.tir']) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

/** Parses an expected-failure list: `case_name: reason` per line, `#` comments. */
export function readExpectedFailures(path: string): Map<string, string> {
  const m = new Map<string, string>();
  if (!existsSync(path)) return m;
  for (const [i, raw] of readFileSync(path, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const c = line.indexOf(':');
    if (c <= 0 || !line.slice(c + 1).trim()) throw new TesseraError(`line ${i + 1}: expected 'case_name: reason'`, { file: path });
    m.set(line.slice(0, c).trim(), line.slice(c + 1).trim());
  }
  return m;
}

/** Runs one case; returns undefined on success or the reason for failure. */
export async function runCase(dir: string, backend: BackendName, deadlineMs = 60_000): Promise<string | undefined> {
  const file = caseModel(dir);
  if (!file) throw new TesseraError('case has no model.onnx or model.tir', { file: dir });
  const model = loadModel(file);
  const runner = await prepareAsync(model, backend, { deadlineMs });
  try {
    return await runSets(dir, model, runner);
  } finally {
    runner.dispose?.();
  }
}

/** Runs every test_data_set_N of a case through a prepared runner; undefined on success, else the reason. */
async function runSets(dir: string, model: Model, runner: AsyncRunner): Promise<string | undefined> {
  const g = model.graph;
  const formals = g.inputs.filter((v) => !g.initializers.has(v));
  const sets = readdirSync(dir).filter((s) => s.startsWith('test_data_set_')).sort();
  if (sets.length === 0) throw new TesseraError('case has no test_data_set_* folder', { file: dir });
  for (const set of sets) {
    const sd = join(dir, set);
    const files = readdirSync(sd);
    const count = (prefix: string) => files.filter((f) => f.startsWith(prefix) && f.endsWith('.pb')).length;
    const feeds: Record<string, RuntimeValue> = {};
    const nIn = count('input_');
    if (nIn > formals.length) throw new TesseraError(`${set} has ${nIn} inputs but the model takes ${formals.length}`);
    for (let i = 0; i < nIn; i++) {
      const v = formals[i]!;
      feeds[v.name] = decodeValueProto(readFileSync(join(sd, `input_${i}.pb`)), v.type, `${set}/input_${i}.pb`);
    }
    const outs = await runner.run(feeds);
    const nOut = count('output_');
    for (let i = 0; i < nOut; i++) {
      const v = g.outputs[i];
      if (!v) return `${set}: expected ${nOut} outputs, the model has ${g.outputs.length}`;
      const expected = decodeValueProto(readFileSync(join(sd, `output_${i}.pb`)), v.type, `${set}/output_${i}.pb`);
      const why = compareValues(outs[v.name], expected);
      if (why) return `${set}: output ${i} ('${v.name}'): ${why}`;
    }
  }
  return undefined;
}

export interface ConformanceOptions {
  backend: BackendName;
  expected: Map<string, string>;
  onResult?: (r: CaseResult) => void;
}

export async function runConformance(cases: string[], opts: ConformanceOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const dir of cases) {
    const name = basename(dir);
    const t0 = performance.now();
    let reason: string | undefined;
    try {
      reason = await runCase(dir, opts.backend);
    } catch (e) {
      reason = e instanceof TesseraError ? e.message : `internal error: ${(e as Error).stack ?? e}`;
    }
    const listed = opts.expected.get(name);
    let status: CaseStatus;
    if (reason === undefined) status = listed ? 'XPASS' : 'PASS';
    else status = listed ? 'XFAIL' : 'FAIL';
    const r: CaseResult = {
      name, dir, status, ms: performance.now() - t0,
      reason: status === 'XFAIL' ? `${listed} (got: ${reason!.split('\n')[0]})` : status === 'XPASS' ? `listed as expected failure (${listed}) but passed: remove it from the list` : reason,
    };
    results.push(r);
    opts.onResult?.(r);
  }
  return results;
}
