// The differential runner: every target runs a generated case on the same seeded inputs, and each node's
// results are compared with the reference interpreter's evaluation of that node on the inputs the target
// itself produced (node-local, so rounding differences do not compound along a chain), with the tolerance
// of the op's class (tolerance.ts). fast-check generates cases, and shrinks a failing one to the smallest
// graph that still diverges; that graph is written as .tir text and an ONNX backend-test case folder.
import fc from 'fast-check';
import { makeRunContext } from '../../ir/context.ts';
import { isFloat, type DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Value } from '../../ir/graph.ts';
import { lookupOp } from '../../ir/registry.ts';
import { describeValue, stridesOf, Tensor, type RuntimeValue } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { availableSpecs, buildCase, type BuiltNode, type FuzzCase, type FuzzOpSpec, type GraphRecipe } from './builder.ts';
import { KNOWN_DIVERGENCES, type KnownDivergence } from './divergences.ts';
import { fuzzSpecs } from './ops.ts';
import { TargetUnsupported, type FuzzTarget } from './targets.ts';
import { nodeBound } from './bounds.ts';
import { toleranceFor, type FuzzTolerance } from './tolerance.ts';

// ---------- generation ----------

export const DEFAULT_OPSETS: readonly number[] = [17, 13, 18];

export interface FuzzCaseOptions {
  /** Op names to fuzz (default: every op of the fuzz table). */
  ops?: readonly string[];
  /** Opsets to draw from; shrinking goes to the first (default 17, 13, 18). */
  opsets?: readonly number[];
  /** Most nodes per graph (default 4). */
  maxNodes?: number;
  /** The targets' capabilities: only these (op, dtype, opset) triples are generated. */
  supports?: (op: string, dtype: DType, opset: number) => boolean;
  /** Results of these dtypes are not fed to later nodes (a target that does not round them between nodes). */
  unchained?: readonly DType[];
}

/** Decisions one step may draw before its stream reads zeros (the largest specs draw about 40). */
const CHOICES_PER_STEP = 64;

/** Recipes: an opset, 1..maxNodes steps (op index + choice stream), and a data seed. */
export function graphRecipeArb(opts: FuzzCaseOptions = {}): fc.Arbitrary<GraphRecipe> {
  const specs = fuzzSpecs(opts.ops);
  // Unbiased, full-length choice streams: fast-check's default bias towards small values and short arrays
  // would leave most decisions of a step at their simplest option (0). Shrinking still goes there.
  return fc.record({
    opset: fc.constantFrom(...(opts.opsets ?? DEFAULT_OPSETS)),
    steps: fc.array(fc.record({
      op: fc.noBias(fc.nat(specs.length - 1)),
      choices: fc.array(fc.noBias(fc.nat({ max: 0x7fffffff })), { maxLength: CHOICES_PER_STEP, size: 'max' }),
    }), { minLength: 1, maxLength: opts.maxNodes ?? 4, size: 'max' }),
    dataSeed: fc.noBias(fc.nat()),
  });
}

/** Random valid graphs with seeded inputs (see builder.ts and ops.ts). */
export function fuzzCaseArb(opts: FuzzCaseOptions = {}): fc.Arbitrary<FuzzCase> {
  const specs = fuzzSpecs(opts.ops);
  return graphRecipeArb(opts).map((r) => buildCase(r, specs, { supports: opts.supports, unchained: opts.unchained }));
}

// ---------- comparison ----------

export type FindingKind = 'mismatch' | 'reference-error' | 'target-error';

export interface Finding {
  kind: FindingKind;
  target: string;
  /** The node whose result differs (mismatch). */
  node?: string;
  op?: string;
  dtype?: DType;
  output?: string;
  message: string;
}

export interface CaseOutcome {
  status: 'pass' | 'diverged' | 'unsupported' | 'invalid';
  findings: Finding[];
  /** The reference interpreter's outputs (when it ran). */
  reference?: Record<string, RuntimeValue>;
  referenceError?: string;
  /** Each target's outputs (when it ran). */
  outputs: Record<string, Record<string, RuntimeValue>>;
  /** Nodes not compared because of a known divergence (by id). */
  excluded: string[];
}

const errorText = (e: unknown) => (e instanceof TesseraError ? e.message : `${(e as Error).message ?? e}`);

/** Runs a case on the reference and on each target, and compares node by node. */
export async function checkCase(c: FuzzCase, targets: readonly FuzzTarget[]): Promise<CaseOutcome> {
  const out: CaseOutcome = { status: 'pass', findings: [], outputs: {}, excluded: [] };
  try {
    out.reference = new ReferenceInterpreter(c.model).run(c.feeds);
  } catch (e) {
    out.referenceError = errorText(e);
  }
  let ran = 0, unsupported = 0;
  for (const target of targets) {
    let outs: Record<string, RuntimeValue>;
    try {
      const prepared = await target.prepare(c.model);
      try { outs = await prepared.run(c.feeds); } finally { await prepared.dispose?.(); }
    } catch (e) {
      const refused = KNOWN_DIVERGENCES.find((k) => k.handling === 'unsupported' && appliesTo(k, target.name) && k.error?.test(errorText(e)));
      if (refused) out.excluded.push(refused.id);
      if (e instanceof TargetUnsupported || refused) { unsupported++; continue; }
      // Both reject the graph: the case is invalid, not a divergence (each side says why).
      if (out.referenceError) continue;
      out.findings.push({ kind: 'target-error', target: target.name, message: `${target.name} failed where the reference ran: ${errorText(e)}` });
      continue;
    }
    ran++;
    out.outputs[target.name] = outs;
    if (out.referenceError) {
      out.findings.push({ kind: 'reference-error', target: target.name, message: `the reference interpreter failed where ${target.name} ran: ${out.referenceError}` });
      continue;
    }
    compareNodeByNode(c, target.name, outs, out);
  }
  if (out.findings.length > 0) out.status = 'diverged';
  else if (ran === 0 && unsupported > 0) out.status = 'unsupported';
  else if (out.referenceError) out.status = 'invalid';
  return out;
}

function compareNodeByNode(c: FuzzCase, target: string, outs: Record<string, RuntimeValue>, out: CaseOutcome): void {
  const g = c.model.graph;
  const opset = c.model.opsets.get('')!;
  const valueOf = (v: Value): RuntimeValue | undefined => g.initializers.get(v) ?? c.feeds[v.name] ?? outs[v.name];
  for (const built of c.nodes) {
    const { node } = built;
    const inputs = node.inputs.map((v) => (v ? valueOf(v) : undefined));
    let expected: (RuntimeValue | undefined)[];
    try {
      expected = evalNode(built, inputs, opset);
    } catch (e) {
      out.findings.push({ kind: 'reference-error', target, node: node.name, op: node.op, dtype: built.dtype,
        message: `the reference fails on node '${node.name}' (${node.op}) with ${target}'s inputs: ${errorText(e)}` });
      return;
    }
    const tensors = expected.map((t) => (t?.kind === 'tensor' ? t : undefined)) as Tensor[];
    const skips: { id: string; skip: (k: number, i: number) => boolean }[] = [];
    let skipNode: string | undefined;
    for (const k of KNOWN_DIVERGENCES) {
      if (k.handling !== 'comparison' || !(k.ops.includes(node.op) || k.ops.includes('*')) || !appliesTo(k, target)) continue;
      const skip = k.exclude?.({
        node, inputs, expected: tensors, actual: node.outputs.map((v) => (v ? outs[v.name] : undefined)),
        evaluate: (xs) => evalNode(built, [...xs], opset),
      });
      if (skip === 'node') skipNode = k.id;
      else if (skip) skips.push({ id: k.id, skip });
    }
    if (skipNode) { out.excluded.push(skipNode); continue; }
    const tolOf = (d: DType) => toleranceFor(built.spec.tol, d);
    let bound: (RuntimeValue | undefined)[] | undefined;
    node.outputs.forEach((v, i) => {
      if (!v) return;
      const want = expected[i];
      if (!want || want.kind !== 'tensor') return;
      const tol = tolOf(want.dtype);
      if (tol.sum > 0 && !bound) {
        // A node-specific bound (normalizations, interpolation: bounds.ts), else the node on |inputs|.
        const own = i === 0 ? nodeBound(node, inputs) : undefined;
        bound = own ? [new Tensor('f64', want.shape, Float64Array.from({ length: want.size }, (_, j) => own(j)))]
          : evalNode(built, inputs.map(absolute), opset);
      }
      const hits = new Set<string>();
      const skip = skips.length === 0 ? undefined : (j: number) => {
        const hit = skips.find((s) => s.skip(i, j));
        if (hit) hits.add(hit.id);
        return hit !== undefined;
      };
      const why = compareResult(outs[v.name], want, tol, bound?.[i], skip);
      out.excluded.push(...hits);
      if (why) {
        out.findings.push({ kind: 'mismatch', target, node: node.name, op: node.op, dtype: built.dtype, output: v.name,
          message: `node '${node.name}' (${node.op}, ${built.dtype}) output '${v.name}': ${why}` });
      }
    });
    if (out.findings.length > 0) return; // the first diverging node is the one to report
  }
}

const appliesTo = (k: KnownDivergence, target: string) => k.targets.includes('*') || k.targets.includes(target);

/** The reference semantics of one node on the given inputs. */
function evalNode(built: BuiltNode, inputs: (RuntimeValue | undefined)[], opset: number): (RuntimeValue | undefined)[] {
  const schema = lookupOp('', built.node.op, opset)!;
  const ctx = makeRunContext(built.node, schema, opset, inputs, () => { throw new Error('no sub-graphs'); }, () => 0.5);
  return schema.run(ctx);
}

/** Float tensors with every element replaced by its magnitude (for the accumulation bound). */
function absolute(v: RuntimeValue | undefined): RuntimeValue | undefined {
  if (!v || v.kind !== 'tensor' || !isFloat(v.dtype)) return v;
  const data = (v.data as Float32Array).map(Math.abs);
  return new Tensor(v.dtype, v.shape, data);
}

function indexOf(flat: number, shape: readonly number[]): string {
  const st = stridesOf(shape);
  return `[${shape.map((_, i) => Math.floor(flat / st[i]!) % shape[i]!).join(',')}]`;
}

/** undefined when `actual` matches `expected` within the tolerance, else what differs (first element). */
export function compareResult(actual: RuntimeValue | undefined, expected: Tensor, tol: FuzzTolerance, bound?: RuntimeValue,
  skip?: (i: number) => boolean): string | undefined {
  if (!actual) return 'the target produced no value';
  if (actual.kind !== 'tensor') return `expected a tensor, got ${describeValue(actual)}`;
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, reference ${expected.dtype}`;
  if (actual.shape.length !== expected.shape.length || actual.shape.some((d, i) => d !== expected.shape[i])) {
    return `shape [${actual.shape.join(',')}], reference [${expected.shape.join(',')}]`;
  }
  const fl = isFloat(expected.dtype);
  const exact = tol.rtol === 0 && tol.atol === 0 && tol.sum === 0;
  const b = bound?.kind === 'tensor' ? (bound.data as Float64Array) : undefined;
  let bad = 0, first = -1;
  for (let i = 0; i < expected.size; i++) {
    const x = actual.data[i], y = expected.data[i];
    let ok: boolean;
    if (!fl) ok = x === y;
    else {
      const xf = x as number, yf = y as number;
      if (Number.isNaN(yf) || Number.isNaN(xf)) ok = Number.isNaN(yf) && Number.isNaN(xf);
      else if (!Number.isFinite(yf) || !Number.isFinite(xf) || exact) ok = xf === yf;
      else ok = Math.abs(xf - yf) <= tol.atol + tol.rtol * Math.abs(yf) + tol.sum * Math.abs(b?.[i] ?? 0);
    }
    if (!ok && !skip?.(i)) { bad++; if (first < 0) first = i; }
  }
  if (bad === 0) return undefined;
  const fmt = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : Object.is(v, -0) ? '-0' : String(v));
  const allowed = fl && !exact
    ? ` (tolerance rtol ${tol.rtol} atol ${tol.atol}${tol.sum ? ` + ${tol.sum}·Σ|terms| = ${fmt(tol.atol + tol.rtol * Math.abs(expected.data[first] as number) + tol.sum * Math.abs(b?.[first] ?? 0))}` : ''})`
    : ' (compared exactly)';
  return `${bad}/${expected.size} elements differ; first at ${indexOf(first, expected.shape)}: target ${fmt(actual.data[first])}, reference ${fmt(expected.data[first])}${allowed}`;
}

// ---------- the fuzzing loop ----------

export interface FuzzProgress { runs: number; total: number; divergences: number; shrinking: boolean; shrinkRuns: number }

export interface FuzzOptions extends FuzzCaseOptions {
  targets: readonly FuzzTarget[];
  runs: number;
  seed: number;
  /** fast-check replay path (printed with a divergence) to jump straight to the failing case. */
  path?: string;
  /** Called every few runs and while shrinking. */
  onProgress?: (p: FuzzProgress) => void;
}

export interface FuzzStats {
  runs: number;
  nodes: number;
  /** Nodes per op. */
  ops: Map<string, number>;
  /** Cases a target could not run (an op or dtype it lacks). */
  unsupported: number;
  /** Cases every side rejected. */
  invalid: number;
  /** Steps the op registry rejected (a last-resort filter; should stay rare). */
  rejectedSteps: number;
  /** Node comparisons skipped because of a known divergence, by id. */
  excluded: Map<string, number>;
  /** Ops of the table the registry does not define at any requested opset. */
  missingOps: string[];
}

export interface FuzzDivergence {
  case: FuzzCase;
  outcome: CaseOutcome;
  /** fast-check's path to the counterexample (for --replay). */
  path: string;
  shrinks: number;
}

export interface FuzzResult {
  seed: number;
  stats: FuzzStats;
  divergence?: FuzzDivergence;
}

/** Fuzzes the targets against the reference interpreter; returns the shrunk divergence, if any. */
export async function fuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const specs = fuzzSpecs(opts.ops);
  const opsets = opts.opsets ?? DEFAULT_OPSETS;
  const supports = await targetCapabilities(opts.targets, specs, opsets);
  const stats: FuzzStats = {
    runs: 0, nodes: 0, ops: new Map(), unsupported: 0, invalid: 0, rejectedSteps: 0, excluded: new Map(),
    missingOps: specs.map((s) => s.op).filter((op, i, all) => all.indexOf(op) === i &&
      opsets.every((o) => !availableSpecs(specs.filter((s) => s.op === op), o).length)),
  };
  let shrinking = false, shrinkRuns = 0;
  const every = Math.max(1, Math.round(opts.runs / 10));
  const unchained = [...new Set(opts.targets.flatMap((t) => t.unchained ?? []))];
  const property = fc.asyncProperty(fuzzCaseArb({ ...opts, opsets, supports, unchained }), async (c) => {
    const outcome = await checkCase(c, opts.targets);
    if (shrinking) {
      shrinkRuns++;
      if (shrinkRuns % 25 === 0) opts.onProgress?.({ runs: stats.runs, total: opts.runs, divergences: 1, shrinking, shrinkRuns });
      return outcome.status !== 'diverged';
    }
    stats.runs++;
    stats.nodes += c.nodes.length;
    stats.rejectedSteps += c.rejected.length;
    for (const n of c.nodes) stats.ops.set(n.node.op, (stats.ops.get(n.node.op) ?? 0) + 1);
    if (outcome.status === 'unsupported') stats.unsupported++;
    if (outcome.status === 'invalid') stats.invalid++;
    for (const id of outcome.excluded) stats.excluded.set(id, (stats.excluded.get(id) ?? 0) + 1);
    if (outcome.status === 'diverged') {
      shrinking = true;
      opts.onProgress?.({ runs: stats.runs, total: opts.runs, divergences: 1, shrinking, shrinkRuns });
      return false;
    }
    if (stats.runs % every === 0) opts.onProgress?.({ runs: stats.runs, total: opts.runs, divergences: 0, shrinking, shrinkRuns });
    return true;
  });
  const details = await fc.check(property, { seed: opts.seed, numRuns: opts.runs, path: opts.path });
  const result: FuzzResult = { seed: opts.seed, stats };
  if (details.failed && details.counterexample) {
    // fast-check shrinks arrays from the front; finish by dropping single steps anywhere while the case
    // still diverges (a few more runs), then rerun the result to keep its outcome.
    let c = details.counterexample[0];
    let extra = 0;
    for (let i = 0; i < c.recipe.steps.length && c.recipe.steps.length > 1;) {
      const recipe = { ...c.recipe, steps: c.recipe.steps.filter((_, k) => k !== i) };
      const smaller = buildCase(recipe, specs, { supports, unchained });
      extra++;
      if ((await checkCase(smaller, opts.targets)).status === 'diverged') c = smaller;
      else i++;
    }
    const outcome = await checkCase(c, opts.targets);
    result.divergence = { case: c, outcome, path: details.counterexamplePath ?? '', shrinks: details.numShrinks + extra };
  } else if (details.failed) {
    throw new Error(`the fuzzer failed outside the property: ${details.errorInstance ?? 'unknown error'}`);
  }
  return result;
}

/** The intersection of the targets' capabilities (everything for targets that do not say). */
export async function targetCapabilities(targets: readonly FuzzTarget[], specs: readonly FuzzOpSpec[], opsets: readonly number[]) {
  const caps = await Promise.all(targets.map((t) => t.capabilities?.(specs, opsets)));
  // Op × dtype pairs a target is known to get wrong on purpose or by a bug of its own (divergences.ts).
  const refused = KNOWN_DIVERGENCES.filter((k) => k.handling === 'unsupported' && k.dtypes && targets.some((t) => appliesTo(k, t.name)));
  return (op: string, d: DType, opset: number) => caps.every((f) => !f || f(op, d, opset)) &&
    !refused.some((k) => k.ops.includes(op) && k.dtypes!.includes(d));
}
