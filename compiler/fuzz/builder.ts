// Builds a random graph from a recipe of choice streams, valid by construction: every step asks one op's
// fuzz spec (ops.ts) to add a node, and the spec draws its dtype, operand shapes, attributes and constant
// inputs so that the op is defined on them. Each node's output types come from the op registry's own
// inference (the same code the compiler runs); a step whose node the registry still rejects is dropped
// (counted in `rejected`: a last-resort filter, not the way graphs are made valid).
import { makeInferContext } from '../../ir/context.ts';
import type { DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Graph, Node, Value, type Attr, type Model } from '../../ir/graph.ts';
import { inferModel } from '../../ir/infer.ts';
import { seededRandom } from '../../ir/random.ts';
import { lookupOp } from '../../ir/registry.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { isStaticShape } from '../../ir/types.ts';
import { verifyModel } from '../../ir/verify.ts';
import '../../ir/ops/index.ts';
import { Choices } from './choices.ts';
import { broadcastable, broadcastPartner, capShape, fuzzShape, MAX_FUZZ_ELEMENTS, product, unidirectionalPartner } from './shapes.ts';
import type { ToleranceClass } from './tolerance.ts';
import { FINITE_PROFILES, fuzzTensor, tensorOf, VALUE_PROFILES, type Domain, type ValueProfile } from './values.ts';

/** How one op is fuzzed: its dtypes (the first is where shrinking goes), tolerance class and node builder. */
export interface FuzzOpSpec {
  op: string;
  /** The op's primary element types (what the targets' capabilities are keyed by). */
  dtypes: readonly DType[];
  tol: ToleranceClass;
  /** First ai.onnx opset with this form of the op. */
  since?: number;
  /** First opset at which the op accepts a dtype, where later than the op itself. */
  dtypeSince?: Partial<Record<DType, number>>;
  /** Finite inputs can give huge or non-finite results (Exp, Div, Pow, Log, Sqrt, Asin, ...): its outputs are not fed to ops that need finite inputs. */
  explosive?: boolean;
  /** Adds one node (through b.emit) or throws Reject. */
  build(b: NodeBuilder, dtype: DType): void;
}

/** A value the next nodes can consume. `special`: may hold NaN, ±Inf or values near the type's limits. */
export interface Operand { value: Value; dtype: DType; shape: number[]; special: boolean }

export interface InputSpec { value: Value; dtype: DType; shape: number[]; profile: ValueProfile; domain: Domain }

/** A step that cannot be built (or that the op registry rejects): the builder drops it. */
export class Reject extends Error {}

export interface OperandRequest {
  /** Rank range [min, max] of a fresh operand (default [0, 4]). */
  rank?: [number, number];
  /** Shape of a fresh operand (instead of a random one of `rank`). */
  shape?: number[];
  /** Only finite, moderate values (no 'wide'/'extreme' profiles, no results of explosive ops). */
  finite?: boolean;
  /** At least one element. */
  nonEmpty?: boolean;
  /** Extra condition on the shape of a reused value. */
  fits?: (shape: readonly number[]) => boolean;
  /** A constrained fresh input (never an earlier result). */
  domain?: Domain;
  profiles?: readonly ValueProfile[];
}

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: Tensor): Attr => ({ kind: 'tensor', value }),
};

export interface BuildOptions {
  opset: number;
  /** Node results of these dtypes are never operands of later nodes. */
  unchained?: readonly DType[];
  /** Whether every target runs `op` with primary dtype `dtype` at `opset` (default: all do). */
  supports?: (op: string, dtype: DType, opset: number) => boolean;
}

export interface BuiltNode { node: Node; spec: FuzzOpSpec; dtype: DType }

export class GraphBuilder {
  readonly graph = new Graph('fuzz');
  readonly model: Model;
  readonly inputs: InputSpec[] = [];
  readonly pool: Operand[] = [];
  readonly nodes: BuiltNode[] = [];
  readonly rejected: string[] = [];
  private counter = 0;

  constructor(readonly opts: BuildOptions) {
    this.model = { graph: this.graph, opsets: new Map([['', opts.opset]]), producer: 'tessera fuzz', irVersion: 8 };
  }

  name(prefix: string): string { return `${prefix}${this.counter++}`; }

  /** Adds one node of `spec` driven by `choices`; false when the step was dropped. */
  addStep(spec: FuzzOpSpec, choices: readonly number[], dtype?: DType): boolean {
    const opset = this.opts.opset;
    const dtypes = dtype ? [dtype] : spec.dtypes.filter((d) => (spec.dtypeSince?.[d] ?? 0) <= opset && (this.opts.supports?.(spec.op, d, opset) ?? true));
    if (dtypes.length === 0 || (spec.since ?? 1) > this.opts.opset) {
      this.rejected.push(`${spec.op}: not available (opset ${this.opts.opset} or target dtypes)`);
      return false;
    }
    const c = new Choices(choices);
    // Often the dtype of an earlier result, so that nodes chain (a random dtype rarely matches one).
    const chainable = dtypes.filter((t) => !this.opts.unchained?.includes(t) && this.pool.some((o) => o.dtype === t));
    const d = chainable.length > 0 && c.chance(60) ? c.pick(chainable) : c.pick(dtypes);
    const mark = {
      inputs: this.inputs.length, pool: this.pool.length, nodes: this.nodes.length,
      graphInputs: this.graph.inputs.length, graphNodes: this.graph.nodes.length, graphOutputs: this.graph.outputs.length,
      inits: [...this.graph.initializers.keys()],
    };
    try {
      spec.build(new NodeBuilder(this, c, spec, d), d);
      return true;
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      this.inputs.length = mark.inputs; this.pool.length = mark.pool; this.nodes.length = mark.nodes;
      this.graph.inputs.length = mark.graphInputs; this.graph.nodes.length = mark.graphNodes; this.graph.outputs.length = mark.graphOutputs;
      for (const v of [...this.graph.initializers.keys()]) if (!mark.inits.includes(v)) this.graph.initializers.delete(v);
      this.rejected.push(`${spec.op}(${d}): ${e.message}`);
      return false;
    }
  }
}

export class NodeBuilder {
  constructor(private readonly g: GraphBuilder, readonly c: Choices, readonly spec: FuzzOpSpec, readonly dtype: DType) {}

  get opset(): number { return this.g.opts.opset; }

  /** Whether the targets run `op` with this primary dtype (for secondary types such as Cast's `to`). */
  supports(op: string, dtype: DType): boolean { return this.g.opts.supports?.(op, dtype, this.opset) ?? true; }

  /** An operand: an earlier result that fits (two times in three, when one exists) or a fresh graph input. */
  operand(dtype: DType, req: OperandRequest = {}): Operand {
    const reused = req.shape ? undefined : this.reuse(dtype, req);
    if (reused) return reused;
    let shape = req.shape;
    if (!shape) {
      const [lo, hi] = req.rank ?? [0, 4];
      shape = fuzzShape(this.c, this.c.int(lo, hi));
      if (req.nonEmpty) shape = shape.map((d) => Math.max(d, 1));
      if (req.fits && !req.fits(shape)) throw new Reject(`no fresh shape fits (${JSON.stringify(shape)})`);
    }
    return this.input(dtype, shape, req);
  }

  /** An earlier result that fits the request, two times in three when there is one (never for a domain). */
  reuse(dtype: DType, req: OperandRequest = {}): Operand | undefined {
    if (req.domain || this.c.below(3) === 0) return undefined;
    const [lo, hi] = req.rank ?? [0, 4];
    if (this.g.opts.unchained?.includes(dtype)) return undefined;
    const fits = this.g.pool.filter((o) => o.dtype === dtype && o.shape.length >= lo && o.shape.length <= hi &&
      (!req.finite || !o.special) && (!req.nonEmpty || product(o.shape) > 0) && (!req.fits || req.fits(o.shape)));
    return fits.length > 0 ? this.c.pick(fits) : undefined;
  }

  /** A fresh graph input of this dtype and shape. */
  input(dtype: DType, shape: readonly number[], req: Pick<OperandRequest, 'finite' | 'domain' | 'profiles'> = {}): Operand {
    const profiles = req.profiles ?? (req.finite ? FINITE_PROFILES : VALUE_PROFILES);
    const profile = this.c.pick(profiles);
    const value = new Value(this.g.name('in'), { kind: 'tensor', dtype, shape: [...shape] });
    this.g.graph.inputs.push(value);
    const domain = req.domain ?? {};
    this.g.inputs.push({ value, dtype, shape: [...shape], profile, domain });
    const special = !domain.range && (profile === 'wide' || profile === 'extreme');
    return { value, dtype, shape: [...shape], special };
  }

  /** An operand that broadcasts with `shape` (numpy rules, either side may grow). */
  partner(dtype: DType, shape: readonly number[], req: Omit<OperandRequest, 'rank' | 'shape' | 'fits'> = {}): Operand {
    return this.reuse(dtype, { ...req, fits: (s) => broadcastable(s, shape) }) ?? this.input(dtype, broadcastPartner(this.c, shape), req);
  }

  /** A seeded random source drawn from the stream (for index tensors too long to draw number by number). */
  rng(): () => number { return seededRandom(this.c.below(0x7fffffff)); }

  /** A shape that broadcasts with `shape` (numpy rules, either side may grow). */
  partnerShape(shape: readonly number[]): number[] { return broadcastPartner(this.c, shape); }

  /** A fresh operand that broadcasts to `target` without growing it (PRelu slope, Gemm C, Expand). */
  into(dtype: DType, target: readonly number[], req: Omit<OperandRequest, 'rank' | 'shape' | 'fits'> = {}): Operand {
    return this.input(dtype, unidirectionalPartner(this.c, target), req);
  }

  /** A fresh shape of rank in [lo, hi] (capped), for operands built around it. */
  shape(lo: number, hi: number, cap = MAX_FUZZ_ELEMENTS): number[] {
    return fuzzShape(this.c, this.c.int(lo, hi), cap);
  }

  cap(shape: number[], cap = MAX_FUZZ_ELEMENTS): number[] { return capShape(shape, cap); }

  /** A constant input (an initializer of the graph). */
  constant(t: Tensor, prefix = 'c'): Value {
    const v = new Value(this.g.name(prefix), { kind: 'tensor', dtype: t.dtype, shape: [...t.shape] });
    this.g.graph.initializers.set(v, t);
    return v;
  }

  /** A 1-D i64 constant (axes, shapes, pads, repeats, ...). */
  ints(values: readonly number[], dtype: DType = 'i64'): Value {
    return this.constant(tensorOf(dtype, [values.length], values.map((x) => (dtype === 'i64' ? BigInt(x) : x))));
  }

  /** A scalar constant. */
  scalar(dtype: DType, v: number | bigint, shape: number[] = []): Value {
    return this.constant(tensorOf(dtype, shape, [v]));
  }

  /** Adds the node; its outputs (types from the op registry) become operands and graph outputs. */
  emit(inputs: (Operand | Value | null)[], attrs: Record<string, Attr | undefined> = {}, nOutputs = 1, op = this.spec.op): Operand[] {
    const g = this.g;
    const ins = inputs.map((x) => (x === null ? null : x instanceof Value ? x : x.value));
    while (ins.length > 0 && ins[ins.length - 1] === null) ins.pop();
    const outs = Array.from({ length: nOutputs }, () => new Value(g.name('t'), undefined));
    const attrMap = new Map<string, Attr>();
    for (const [k, a] of Object.entries(attrs)) if (a) attrMap.set(k, a);
    const node = new Node(g.name(`${op}_`), op, '', ins, outs, attrMap);
    for (const v of outs) v.producer = node;
    const schema = lookupOp('', op, this.opset);
    if (!schema) throw new Reject(`no ${op} in opset ${this.opset}`);
    for (const name of attrMap.keys()) {
      if (schema.attrs && !(name in schema.attrs)) throw new Reject(`the op registry rejects the node: unknown attribute '${name}' at opset ${this.opset}`);
    }
    let types;
    try {
      const ctx = makeInferContext(node, schema, this.opset, ins.map((v) => v?.type), ins.map((v) => (v ? g.graph.initializers.get(v) : undefined)),
        () => { throw new Reject('the result has a data-dependent shape'); }, () => { throw new Reject('no sub-graphs'); });
      types = schema.infer(ctx);
    } catch (e) {
      if (e instanceof TesseraError) throw new Reject(`the op registry rejects the node: ${e.message}`);
      throw e;
    }
    const special = this.spec.explosive === true || inputs.some((x) => x !== null && !(x instanceof Value) && x.special);
    const results: Operand[] = [];
    outs.forEach((v, i) => {
      const t = types[i];
      if (!t || t.kind !== 'tensor' || !isStaticShape(t.shape)) throw new Reject(`output ${i} has no static tensor type`);
      if (product(t.shape) > 4 * MAX_FUZZ_ELEMENTS) throw new Reject(`output ${i} is too large ([${t.shape.join(',')}])`);
      v.type = t;
      results.push({ value: v, dtype: t.dtype, shape: [...t.shape], special });
    });
    g.graph.nodes.push(node);
    g.graph.outputs.push(...outs);
    g.pool.push(...results);
    g.nodes.push({ node, spec: this.spec, dtype: this.dtype });
    return results;
  }
}

// ---------- recipes and cases ----------

/** What fast-check generates and shrinks: an opset, one choice stream per step, and the data seed. */
export interface GraphRecipe {
  opset: number;
  steps: { op: number; choices: number[] }[];
  dataSeed: number;
}

/** A built case: the model, its seeded feeds, and what each node was built from. */
export interface FuzzCase {
  recipe: GraphRecipe;
  model: Model;
  feeds: Record<string, Tensor>;
  inputs: InputSpec[];
  nodes: BuiltNode[];
  rejected: string[];
}

/** Deterministic data for the inputs of a case. */
export function makeFeeds(inputs: readonly InputSpec[], dataSeed: number): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  inputs.forEach((inp, i) => {
    const rand = seededRandom((dataSeed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
    feeds[inp.value.name] = fuzzTensor(inp.dtype, inp.shape, inp.profile, inp.domain, rand);
  });
  return feeds;
}

/** Builds the graph of a recipe over the given op specs; the model always passes verifyModel and inferModel. */
export function buildCase(recipe: GraphRecipe, specs: readonly FuzzOpSpec[], opts: Omit<BuildOptions, 'opset'> = {}): FuzzCase {
  const b = new GraphBuilder({ ...opts, opset: recipe.opset });
  const here = availableSpecs(specs, recipe.opset);
  for (const step of recipe.steps) if (here.length > 0) b.addStep(here[step.op % here.length]!, step.choices);
  if (b.nodes.length === 0) b.addStep(IDENTITY, []);
  try {
    verifyModel(b.model);
    inferModel(b.model);
  } catch (e) {
    throw new Error(`internal error: the fuzz builder made an invalid graph: ${(e as Error).message}`, { cause: e });
  }
  return { recipe, model: b.model, feeds: makeFeeds(b.inputs, recipe.dataSeed), inputs: b.inputs, nodes: b.nodes, rejected: b.rejected };
}

/** The specs whose op the registry defines at this opset (ops of later opsets are not fuzzed there). */
export function availableSpecs(specs: readonly FuzzOpSpec[], opset: number): FuzzOpSpec[] {
  return specs.filter((s) => (s.since ?? 1) <= opset && lookupOp('', s.op, opset) !== undefined);
}

/** The fallback node of a recipe whose steps were all dropped. */
const IDENTITY: FuzzOpSpec = {
  op: 'Identity', dtypes: ['f32'], tol: 'exact',
  build(b, d) { b.emit([b.input(d, [3], { profiles: ['small'] })]); },
};
