// ONNX import: ModelProto (via onnx-proto) → graph IR. Every failure is a TesseraError naming the place.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { dtypeFromOnnx } from '../../ir/dtype.ts';
import { ScopeChain } from '../../ir/scope.ts';
import { TesseraError } from '../../ir/errors.ts';
import { Graph, Node, Value, type Attr, type Model } from '../../ir/graph.ts';
import type { Dim, ValueType } from '../../ir/types.ts';
import { longToNumber, onnx, type AttributeProto, type GraphProto, type NodeProto, type TypeProto, type ValueInfoProto } from './proto.ts';
import { tensorFromProto, type TensorLoadOptions } from './tensor-proto.ts';

export interface ImportOptions extends TensorLoadOptions {
  /** Name shown in errors (the file path). */
  source?: string;
}

export function importOnnxFile(path: string): Model {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (e) {
    throw new TesseraError(`cannot read model: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
  return importOnnx(bytes, { baseDir: dirname(path), source: path });
}

export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Model {
  let mp: InstanceType<typeof onnx.ModelProto>;
  try {
    mp = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TesseraError(`not a valid ONNX model (protobuf decoding failed: ${(e as Error).message})`, { file: opts.source });
  }
  try {
    if (!mp.graph) throw new TesseraError('the model has no graph');
    const opsets = new Map<string, number>();
    for (const oi of mp.opsetImport ?? []) {
      const domain = oi.domain === 'ai.onnx' ? '' : (oi.domain ?? '');
      const v = longToNumber(oi.version);
      if (!Number.isInteger(v) || v < 1 || v > 1000) throw new TesseraError(`opset version ${v} for domain '${domain || 'ai.onnx'}' is invalid`);
      opsets.set(domain, v);
    }
    if (!opsets.has('')) opsets.set('', 1); // ONNX: absent default-domain import means opset 1
    if ((mp.functions ?? []).length > 0) {
      throw new TesseraError(`model-local functions (${mp.functions!.map((f) => f.name).join(', ')}) are not supported yet`);
    }
    const importer = new GraphImporter(opts);
    const graph = importer.importGraph(mp.graph, undefined);
    const metadata: Record<string, string> = {};
    for (const p of mp.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
    return { graph, opsets, producer: mp.producerName ?? undefined, irVersion: longToNumber(mp.irVersion), metadata };
  } catch (e) {
    if (e instanceof TesseraError) throw e.at({ file: opts.source });
    if (e instanceof RangeError) throw new TesseraError(`model is malformed: ${e.message}`, { file: opts.source });
    throw e;
  }
}

/** Name scopes: sub-graphs resolve names in enclosing graphs (ONNX lexical scoping). */
class NameScope extends ScopeChain<string, Value> {
  get names(): Map<string, Value> { return this.own; }
}

export function typeFromProto(tp: TypeProto | null | undefined, what: string): ValueType | undefined {
  if (!tp) return undefined;
  if (tp.tensorType) {
    const code = tp.tensorType.elemType ?? 0;
    if (code === 0) return undefined;
    const d = dtypeFromOnnx(code);
    if (typeof d === 'object') throw new TesseraError(`${what} has unsupported element type ${d.unsupported}`);
    const shapeProto = tp.tensorType.shape;
    let shape: Dim[] | undefined;
    if (shapeProto) {
      shape = (shapeProto.dim ?? []).map((dim, i) => {
        if (dim.dimValue !== undefined && dim.dimValue !== null && (dim as { value?: string }).value === 'dimValue') {
          const n = longToNumber(dim.dimValue);
          if (!Number.isInteger(n) || n < 0) throw new TesseraError(`${what} has invalid dimension ${n}`);
          return n;
        }
        if (dim.dimParam) return dim.dimParam;
        return `${what.replace(/[^A-Za-z0-9_]/g, '_')}_d${i}`;
      });
    }
    return { kind: 'tensor', dtype: d, shape };
  }
  if (tp.sequenceType) return { kind: 'sequence', elem: typeFromProto(tp.sequenceType.elemType, what) };
  if (tp.optionalType) return { kind: 'optional', elem: typeFromProto(tp.optionalType.elemType, what) };
  if (tp.mapType) throw new TesseraError(`${what} is a map, which is not supported`);
  if (tp.sparseTensorType) throw new TesseraError(`${what} is a sparse tensor, which is not supported as a graph value`);
  return undefined;
}

class GraphImporter {
  private anon = 0;
  constructor(private readonly opts: TensorLoadOptions) {}

  importGraph(gp: GraphProto, parent: NameScope | undefined): Graph {
    const scope = new NameScope(parent);
    const g = new Graph(gp.name ?? '');
    const declared = new Map<string, ValueType | undefined>();
    for (const vi of gp.valueInfo ?? []) declared.set(vi.name ?? '', typeFromProto(vi.type, `value '${vi.name}'`));

    // Initializers first: a graph input with an initializer of the same name is an overridable default.
    const inits = new Map<string, ReturnType<typeof tensorFromProto>>();
    for (const tp of gp.initializer ?? []) {
      const t = tensorFromProto(tp, this.opts);
      inits.set(tp.name ?? '', t);
    }
    if ((gp.sparseInitializer ?? []).length > 0) throw new TesseraError('sparse initializers are not supported');

    for (const vi of gp.input ?? []) {
      const name = vi.name ?? '';
      if (!name) throw new TesseraError('a graph input has no name');
      if (scope.names.has(name)) throw new TesseraError(`graph input '${name}' is declared twice`);
      const v = new Value(name, typeFromProto(vi.type, `input '${name}'`));
      scope.names.set(name, v);
      g.inputs.push(v);
      const init = inits.get(name);
      if (init) {
        g.initializers.set(v, init);
        v.type ??= { kind: 'tensor', dtype: init.dtype, shape: [...init.shape] };
      }
    }
    for (const [name, t] of inits) {
      if (scope.names.has(name)) continue;
      const v = new Value(name, { kind: 'tensor', dtype: t.dtype, shape: [...t.shape] });
      scope.names.set(name, v);
      g.initializers.set(v, t);
    }

    // Create output values of all nodes first so that the order of nodes in the file does not matter
    // (we sort topologically afterwards and report cycles).
    const nodes: { np: NodeProto; node: Node }[] = [];
    for (const [idx, np] of (gp.node ?? []).entries()) {
      const name = np.name || `${np.opType ?? 'node'}_${idx}`;
      const node = new Node(name, np.opType ?? '', np.domain === 'ai.onnx' ? '' : (np.domain ?? ''), [], []);
      if (!node.op) throw new TesseraError('node has no op type', { node: name });
      for (const out of np.output ?? []) {
        if (!out) { node.outputs.push(null); continue; }
        if (scope.names.has(out)) {
          throw new TesseraError(`output '${out}' is defined more than once (graphs must be in SSA form)`, { node: name, op: node.op });
        }
        const v = new Value(out, declared.get(out));
        v.producer = node;
        scope.names.set(out, v);
        node.outputs.push(v);
      }
      nodes.push({ np, node });
    }
    for (const { np, node } of nodes) {
      for (const inp of np.input ?? []) {
        if (!inp) { node.inputs.push(null); continue; }
        const v = scope.lookup(inp);
        if (!v) throw new TesseraError(`input '${inp}' is not defined (no graph input, initializer or node output has this name)`, { node: node.name, op: node.op });
        node.inputs.push(v);
      }
      for (const ap of np.attribute ?? []) {
        const aname = ap.name ?? '';
        try {
          node.attrs.set(aname, this.attr(ap, scope));
        } catch (e) {
          if (e instanceof TesseraError) throw e.at({ node: node.name, op: node.op });
          throw e;
        }
      }
    }
    g.nodes = topoSort(nodes.map((n) => n.node), g);

    for (const vi of gp.output ?? []) {
      const name = vi.name ?? '';
      const v = scope.lookup(name);
      if (!v) throw new TesseraError(`graph output '${name}' is not produced by any node, input or initializer`);
      const t = typeFromProto(vi.type, `output '${name}'`);
      if (t && !v.type) v.type = t;
      g.outputs.push(v);
    }
    return g;
  }

  private attr(ap: AttributeProto, scope: NameScope): Attr {
    const T = onnx.AttributeProto.AttributeType;
    const name = ap.name ?? '';
    if (ap.refAttrName) throw new TesseraError(`attribute '${name}' refers to a function attribute, which is only valid inside functions`);
    let type = ap.type ?? T.UNDEFINED;
    if (type === T.UNDEFINED) type = inferAttrType(ap);
    switch (type) {
      case T.FLOAT: return { kind: 'float', value: ap.f ?? 0 };
      case T.INT: return { kind: 'int', value: longToNumber(ap.i ?? 0) };
      case T.STRING: return { kind: 'string', value: Buffer.from(ap.s ?? new Uint8Array()).toString('utf8') };
      case T.TENSOR:
        if (!ap.t) throw new TesseraError(`attribute '${name}' is a tensor attribute without a tensor`);
        return { kind: 'tensor', value: tensorFromProto(ap.t, this.opts) };
      case T.GRAPH:
        if (!ap.g) throw new TesseraError(`attribute '${name}' is a graph attribute without a graph`);
        return { kind: 'graph', value: this.importGraph(ap.g, scope) };
      case T.FLOATS: return { kind: 'floats', value: [...(ap.floats ?? [])] };
      case T.INTS: return { kind: 'ints', value: (ap.ints ?? []).map(longToNumber) };
      case T.STRINGS: return { kind: 'strings', value: (ap.strings ?? []).map((s) => Buffer.from(s).toString('utf8')) };
      case T.TENSORS: return { kind: 'tensors', value: (ap.tensors ?? []).map((t) => tensorFromProto(t, this.opts)) };
      case T.GRAPHS: return { kind: 'graphs', value: (ap.graphs ?? []).map((g) => this.importGraph(g, scope)) };
      case T.TYPE_PROTO: {
        const t = typeFromProto(ap.tp, `attribute '${name}'`);
        if (!t) throw new TesseraError(`attribute '${name}' has an empty type`);
        return { kind: 'type', value: t };
      }
      case T.TYPE_PROTOS:
        return { kind: 'types', value: (ap.typeProtos ?? []).map((tp) => typeFromProto(tp, `attribute '${name}'`)!).filter(Boolean) };
      case T.SPARSE_TENSOR:
        if (!ap.sparseTensor) throw new TesseraError(`attribute '${name}' is a sparse tensor attribute without a value`);
        return { kind: 'tensor', value: densify(ap.sparseTensor, this.opts) };
      default:
        throw new TesseraError(`attribute '${name}' has unknown type ${type}`);
    }
  }

  fresh(): string { return `__anon${this.anon++}`; }
}

function inferAttrType(ap: AttributeProto): number {
  const T = onnx.AttributeProto.AttributeType;
  if (ap.floats?.length) return T.FLOATS;
  if (ap.ints?.length) return T.INTS;
  if (ap.strings?.length) return T.STRINGS;
  if (ap.graphs?.length) return T.GRAPHS;
  if (ap.tensors?.length) return T.TENSORS;
  if (ap.t) return T.TENSOR;
  if (ap.g) return T.GRAPH;
  if (ap.s?.length) return T.STRING;
  if (ap.f) return T.FLOAT;
  if (ap.i) return T.INT;
  throw new TesseraError(`attribute '${ap.name}' has no type and no value`);
}

function densify(sp: import('onnx-proto').onnx.ISparseTensorProto, opts: TensorLoadOptions) {
  if (!sp.values || !sp.indices) throw new TesseraError('sparse tensor lacks values or indices');
  const values = tensorFromProto(sp.values, opts);
  const indices = tensorFromProto(sp.indices, opts);
  const shape = (sp.dims ?? []).map(longToNumber);
  const dense = Tensor.zeros(values.dtype, shape);
  const n = values.size;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const total = dense.size;
  for (let k = 0; k < n; k++) {
    let flat: number;
    if (indices.rank === 1) flat = indices.num(k);
    else { flat = 0; for (let d = 0; d < shape.length; d++) flat += indices.num(k * shape.length + d) * strides[d]!; }
    if (flat < 0 || flat >= total) throw new TesseraError(`sparse tensor index ${flat} out of range`);
    (dense.data as any)[flat] = (values.data as any)[k];
  }
  return dense;
}
import { Tensor } from '../../ir/tensor.ts';

/** Orders nodes so every input is defined before use; reports the nodes on a cycle. */
function topoSort(nodes: Node[], g: Graph): Node[] {
  const inGraph = new Set(nodes);
  const pending = new Map<Node, number>();
  const users = new Map<Node, Node[]>();
  const producersOf = (n: Node): Node[] => {
    const ps: Node[] = [];
    const visit = (v: Value | null) => { if (v?.producer && inGraph.has(v.producer)) ps.push(v.producer); };
    n.inputs.forEach(visit);
    // Values captured by sub-graphs are dependencies too.
    for (const a of n.attrs.values()) {
      const gs = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
      for (const sg of gs) for (const v of outerReads(sg)) visit(v);
    }
    return ps;
  };
  // A file already in topological order keeps its order (so export → import is the identity).
  const seen = new Set<Node>();
  if (nodes.every((n) => { const ok = producersOf(n).every((p) => seen.has(p)); seen.add(n); return ok; })) return nodes;
  for (const n of nodes) {
    const ps = producersOf(n);
    pending.set(n, ps.length);
    for (const p of ps) { const u = users.get(p) ?? []; u.push(n); users.set(p, u); }
  }
  const ready = nodes.filter((n) => pending.get(n) === 0);
  const out: Node[] = [];
  // Keep the file order among ready nodes (stable): take from the front.
  let head = 0;
  while (head < ready.length) {
    const n = ready[head++]!;
    out.push(n);
    for (const u of users.get(n) ?? []) {
      const c = pending.get(u)! - 1;
      pending.set(u, c);
      if (c === 0) ready.push(u);
    }
  }
  if (out.length !== nodes.length) {
    const stuck = nodes.filter((n) => pending.get(n)! > 0);
    throw new TesseraError(`the graph${g.name ? ` '${g.name}'` : ''} has a cycle through ${stuck.slice(0, 5).map((n) => `'${n.name}' (${n.op})`).join(', ')}${stuck.length > 5 ? ', …' : ''}`,
      { node: stuck[0]!.name, op: stuck[0]!.op });
  }
  return out;
}

function outerReads(g: Graph): Value[] {
  const defined = new Set<Value>([...g.inputs, ...g.initializers.keys()]);
  for (const n of g.nodes) for (const v of n.outputs) if (v) defined.add(v);
  const res: Value[] = [];
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v && !defined.has(v)) res.push(v);
    for (const a of n.attrs.values()) {
      const gs = a.kind === 'graph' ? [a.value] : a.kind === 'graphs' ? a.value : [];
      for (const sg of gs) for (const v of outerReads(sg)) if (!defined.has(v)) res.push(v);
    }
  }
  for (const v of g.outputs) if (!defined.has(v)) res.push(v);
  return res;
}
