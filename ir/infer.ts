// Type and shape inference over static and symbolic dimensions, with constant propagation of small
// shape computations (Shape → Gather → Concat → Reshape chains become static shapes).
import { makeInferContext, makeRunContext } from './context.ts';
import { TesseraError } from './errors.ts';
import type { Graph, Model, Node, Value } from './graph.ts';
import { lookupOp } from './registry.ts';
import { MAX_TENSOR_ELEMENTS, type Tensor } from './tensor.ts';
import { typeToString, type Dim, type TensorType, type ValueType } from './types.ts';

/** Constants up to this many elements are propagated through inference (shape math, not weights). */
const FOLD_LIMIT = 4096;

export interface InferResult {
  /** Known constant values (initializers, Constant nodes and folded shape computations). */
  constants: Map<Value, Tensor>;
}

/**
 * Infers the type of every value in the model (in place, on Value.type), checking declared types
 * (graph inputs/outputs, value_info) against inferred ones. Errors name the node and op.
 */
export function inferModel(model: Model): InferResult {
  const engine = new InferEngine(model);
  engine.graph(model.graph, undefined);
  return { constants: engine.constants };
}

class InferEngine {
  readonly constants = new Map<Value, Tensor>();
  private dimCounter = 0;
  constructor(private readonly model: Model) {}

  private freshDim = (): Dim => `_d${this.dimCounter++}`;

  graph(g: Graph, inputTypes: (ValueType | undefined)[] | undefined): (ValueType | undefined)[] {
    if (inputTypes) {
      g.inputs.forEach((v, i) => {
        const t = inputTypes[i];
        if (t && (!v.type || isLessSpecific(v.type, t))) v.type = t;
      });
    }
    for (const v of g.inputs) checkSize(v, undefined);
    for (const [v, t] of g.initializers) {
      // An initializer that is also a graph input can be overridden by a feed: not a constant.
      if (!g.inputs.includes(v)) this.constants.set(v, t);
    }
    for (const node of g.nodes) this.node(node);
    return g.outputs.map((v) => v.type);
  }

  private node(node: Node): void {
    const place = { node: node.name, op: node.op };
    const opset = this.model.opsets.get(node.domain === 'ai.onnx' ? '' : node.domain);
    if (opset === undefined) throw new TesseraError(`no opset imported for domain '${node.domain}'`, place);
    const schema = lookupOp(node.domain, node.op, opset);
    if (!schema) throw new TesseraError(`unknown op ${node.domain ? node.domain + '.' : ''}${node.op} (opset ${opset})`, place);
    if (schema.unsupported) throw new TesseraError(schema.unsupported, place);
    const n = node.inputs.length;
    let last = n; while (last > 0 && node.inputs[last - 1] === null) last--;
    if (last < schema.inputs[0] || last > schema.inputs[1]) {
      throw new TesseraError(`has ${last} inputs, expected ${fmtRange(schema.inputs)}`, place);
    }
    const nOut = node.outputs.length;
    if (nOut < schema.outputs[0] || nOut > schema.outputs[1]) {
      throw new TesseraError(`has ${nOut} outputs, expected ${fmtRange(schema.outputs)}`, place);
    }
    if (schema.attrs) {
      for (const name of node.attrs.keys()) {
        if (!(name in schema.attrs)) throw new TesseraError(`unknown attribute '${name}'`, place);
      }
      for (const [name, spec] of Object.entries(schema.attrs)) {
        if (spec.required && !node.attrs.has(name)) throw new TesseraError(`required attribute '${name}' is missing`, place);
        const a = node.attrs.get(name);
        if (a && a.kind !== spec.kind && !compatibleAttr(a.kind, spec.kind)) {
          throw new TesseraError(`attribute '${name}' must be ${spec.kind}, got ${a.kind}`, place);
        }
      }
    }
    const types = node.inputs.map((v) => (v ? v.type : undefined));
    const consts = node.inputs.map((v) => (v ? this.constants.get(v) : undefined));
    let out: (ValueType | undefined)[];
    try {
      const ctx = makeInferContext(node, schema, opset, types, consts, this.freshDim,
        (g, ts) => this.graph(g, ts));
      out = schema.infer(ctx);
    } catch (e) {
      if (e instanceof TesseraError) throw e.at(place);
      throw new Error(`internal error inferring types of node '${node.name}' (${node.op}): ${(e as Error).message}`, { cause: e });
    }
    node.outputs.forEach((v, i) => {
      if (!v) return;
      const inferred = out[i];
      if (!inferred) return;
      if (v.type && !compatible(v.type, inferred)) {
        throw new TesseraError(`output '${v.name}' is declared ${typeToString(v.type)} but the op computes ${typeToString(inferred)}`, place);
      }
      v.type = v.type ? mostSpecific(v.type, inferred) : inferred;
      checkSize(v, place);
    });

    if (schema.constantOutputs) {
      const ctx = makeInferContext(node, schema, opset, types, consts, this.freshDim, (g, ts) => this.graph(g, ts));
      schema.constantOutputs(ctx).forEach((c, i) => {
        const v = node.outputs[i];
        if (v && c && c.size <= FOLD_LIMIT) this.constants.set(v, c);
      });
    }

    // Fold small computations on constants (deterministic ops without sub-graphs only).
    const foldable = !schema.nondeterministic && consts.every((c, i) => c !== undefined || node.inputs[i] === null)
      && ![...node.attrs.values()].some((a) => a.kind === 'graph' || a.kind === 'graphs')
      && consts.reduce((s, c) => s + (c?.size ?? 0), 0) <= FOLD_LIMIT * 4;
    if (foldable) {
      try {
        const ctx = makeRunContext(node, schema, opset, consts, () => { throw new Error('no sub-graphs'); }, () => 0.5);
        const res = schema.run(ctx);
        node.outputs.forEach((v, i) => {
          const r = res[i];
          if (v && r && r.kind === 'tensor' && r.size <= FOLD_LIMIT) this.constants.set(v, r);
        });
      } catch (e) {
        if (e instanceof TesseraError) throw e.at(place);
        throw new Error(`internal error folding node '${node.name}' (${node.op}): ${(e as Error).message}`, { cause: e });
      }
    }
  }
}

/** A static shape with more elements than any tensor may hold is an error at compile time. */
function checkSize(v: Value, place: { node: string; op: string } | undefined): void {
  const t = v.type;
  if (t?.kind !== 'tensor' || !t.shape) return;
  let n = 1;
  for (const d of t.shape) if (typeof d === 'number') n *= d;
  if (n > MAX_TENSOR_ELEMENTS) {
    throw new TesseraError(`value '${v.name}' has shape [${t.shape.join(',')}] with ${n} elements, more than the limit of ${MAX_TENSOR_ELEMENTS}`, place);
  }
}

function fmtRange([a, b]: [number, number]): string {
  return a === b ? `${a}` : b === Infinity ? `at least ${a}` : `${a} to ${b}`;
}

function compatibleAttr(have: string, want: string): boolean {
  return (want === 'ints' && have === 'int') || (want === 'floats' && have === 'float') || (want === 'float' && have === 'int');
}

function dimsCompatible(a: Dim, b: Dim): boolean {
  return typeof a !== 'number' || typeof b !== 'number' || a === b;
}

/** Declared and inferred types agree when dtypes match and every static dim pair is equal. */
export function compatible(a: ValueType, b: ValueType): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'tensor') {
    const bt = b as TensorType;
    if (a.dtype !== bt.dtype) return false;
    if (!a.shape || !bt.shape) return true;
    return a.shape.length === bt.shape.length && a.shape.every((d, i) => dimsCompatible(d, bt.shape![i]!));
  }
  const ae = a.elem, be = (b as typeof a).elem;
  return !ae || !be || compatible(ae, be);
}

function isLessSpecific(have: ValueType, got: ValueType): boolean {
  return have.kind === 'tensor' && got.kind === 'tensor' && !have.shape && !!got.shape;
}

/** Combines two compatible types, preferring static dims over symbolic ones. */
function mostSpecific(a: ValueType, b: ValueType): ValueType {
  if (a.kind === 'tensor' && b.kind === 'tensor') {
    if (!a.shape) return { ...a, shape: b.shape };
    if (!b.shape) return a;
    return { ...a, shape: a.shape.map((d, i) => (typeof d === 'number' ? d : typeof b.shape![i] === 'number' ? b.shape![i]! : d)) };
  }
  return a;
}
