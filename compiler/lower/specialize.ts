// Value specialization: when an output shape depends on the value of an input (a Reshape target, Slice
// bounds, axes given as inputs), the model is compiled for the values of those inputs — what `--shape`
// is for dimensions, applied to values. This module decides which inputs to bind and keys the
// specializations, so the null device and the compiled targets share one policy.
import type { Model } from '../../ir/graph.ts';
import type { RuntimeValue, Tensor } from '../../ir/tensor.ts';

/** Inputs of at most this many elements may be specialized on their values. */
export const SPECIALIZE_LIMIT = 64;

/** Operand positions that decide an op's output shape or loop structure (its compile-time parameters). */
const SHAPE_OPERANDS: Record<string, number[]> = {
  Reshape: [1], Expand: [1], Tile: [1, 2], Slice: [1, 2, 3, 4], Squeeze: [1], Unsqueeze: [1], Pad: [1, 2, 3],
  ConstantOfShape: [0], Range: [0, 1, 2], Split: [1], OneHot: [1], Resize: [1, 2, 3], Upsample: [1], CumSum: [1],
  TopK: [1], Dropout: [1, 2], Trilu: [1], HannWindow: [0], HammingWindow: [0], BlackmanWindow: [0], MelWeightMatrix: [0, 1, 2, 3, 4], If: [0],
  ReduceSum: [1], ReduceMean: [1], ReduceMax: [1], ReduceMin: [1], ReduceProd: [1], ReduceL1: [1], ReduceL2: [1],
  ReduceLogSum: [1], ReduceLogSumExp: [1], ReduceSumSquare: [1],
};

/**
 * Graph inputs a shape-deciding operand depends on (directly, or through small computations such as
 * Cast/Sub/Concat on tensors of at most SPECIALIZE_LIMIT elements): the inputs value specialization binds.
 */
export function shapeInputs(model: Model): Set<string> {
  const g = model.graph;
  const formal = new Set(g.inputs.filter((v) => !g.initializers.has(v)));
  const producer = new Map<object, (typeof g.nodes)[number]>();
  for (const node of g.nodes) for (const o of node.outputs) if (o) producer.set(o, node);
  const small = (v: (typeof g.inputs)[number]) => {
    const t = v.type;
    return t?.kind === 'tensor' && !!t.shape && t.shape.every((d) => typeof d === 'number') && (t.shape as number[]).reduce((a, b) => a * b, 1) <= SPECIALIZE_LIMIT;
  };
  const out = new Set<string>();
  const seen = new Set<object>();
  const visit = (v: (typeof g.inputs)[number] | null | undefined) => {
    if (!v || seen.has(v) || !small(v)) return;
    seen.add(v);
    if (formal.has(v)) { out.add(v.name); return; }
    const p = producer.get(v);
    if (p) for (const i of p.inputs) visit(i);
  };
  for (const node of g.nodes) for (const i of SHAPE_OPERANDS[node.op] ?? []) visit(node.inputs[i]);
  return out;
}

/** What one set of feeds compiles to: the values and shapes to bind, and the key of that compilation. */
export interface Specialization {
  key: string;
  values: Map<string, Tensor>;
  shapes: Map<string, number[]>;
  /** The feeds that stay inputs of the specialized program (all but `values`). */
  rest: Record<string, RuntimeValue>;
}

/**
 * Returns the function that picks, for given feeds, the values of the model's shape-deciding inputs
 * (those of at most SPECIALIZE_LIMIT elements) and the shapes of all other inputs — a branch may depend
 * on them too, as with --shape. Equal keys mean the same compiled program may serve both feeds.
 */
export function specializer(model: Model, shapes?: Map<string, number[]>): (feeds: Record<string, RuntimeValue>) => Specialization {
  const names = shapeInputs(model);
  const candidates = model.graph.inputs.filter((v) => names.has(v.name));
  return (feeds) => {
    const values = new Map<string, Tensor>();
    for (const v of candidates) {
      const x = feeds[v.name];
      if (x?.kind === 'tensor' && x.size <= SPECIALIZE_LIMIT) values.set(v.name, x);
    }
    const bound = new Map(shapes ?? []);
    for (const [k, x] of Object.entries(feeds)) if (!values.has(k) && x.kind === 'tensor' && !bound.has(k)) bound.set(k, [...x.shape]);
    const key = JSON.stringify([[...bound], ...[...values].map(([k, t]) => [k, t.dtype, t.shape, Array.from(t.data as ArrayLike<number | bigint>, String)])]);
    const rest: Record<string, RuntimeValue> = {};
    for (const [k, x] of Object.entries(feeds)) if (!values.has(k)) rest[k] = x;
    return { key, values, shapes: bound, rest };
  };
}
