// ONNX export: graph IR → ModelProto (via onnx-proto), the inverse of import.ts. Any model: nested
// sub-graphs, every attribute kind, initializers as raw_data, value types with static and symbolic dims,
// opsets, metadata. import(export(m)) is structurally equal to m (ir/equal.ts), names included, unless two
// different values shared a name (ONNX needs unique value names across a graph and its sub-graphs) or two
// nodes of one graph did (onnxruntime rejects those): the later one is renamed `name__N`.
import { writeFileSync } from 'node:fs';
import { byteSize, dtypeToOnnx } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Attr, Graph, Model, Node, Value } from '../../ir/graph.ts';
import type { ValueType } from '../../ir/types.ts';
import { onnx, type GraphProto, type NodeProto, type TypeProto, type ValueInfoProto } from './proto.ts';
import { tensorToProto } from './tensor-proto.ts';

export interface ExportOptions {
  /** Write the known types of intermediate values as value_info (default true). */
  valueInfo?: boolean;
}

/** Protobuf's message size limit: larger models need ONNX external data, which export does not write. */
const PROTO_LIMIT = 2 ** 31 - 1;

type AttributeProto = import('onnx-proto').onnx.IAttributeProto;
type Long = { low: number; high: number; unsigned: boolean };

/** An int64 field from a JS number, saturating at the int64 range (numbers ≥ 2^63 are INT64_MAX). */
function int64(n: number): number | Long {
  if (Number.isSafeInteger(n)) return n;
  if (!Number.isFinite(n)) throw new TesseraError(`cannot write ${n} as an int64`);
  const big = n >= 2 ** 63 ? (1n << 63n) - 1n : n < -(2 ** 63) ? -(1n << 63n) : BigInt(n);
  const u = BigInt.asUintN(64, big);
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0, unsigned: false };
}

/** Default ir_version for the ai.onnx opset (the version ONNX released with that opset, capped at 10). */
function defaultIrVersion(opset: number): number {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
}

export function typeToProto(t: ValueType): TypeProto {
  switch (t.kind) {
    case 'tensor': {
      const shape = t.shape === undefined ? undefined
        : { dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: int64(d) } : { dimParam: d })) };
      return { tensorType: { elemType: dtypeToOnnx(t.dtype), shape } };
    }
    case 'sequence': return { sequenceType: { elemType: t.elem ? typeToProto(t.elem) : undefined } };
    case 'optional': return { optionalType: { elemType: t.elem ? typeToProto(t.elem) : undefined } };
  }
}

/** Unique ONNX names for the values of a model: a value keeps its name unless another value has it. */
class NameTable {
  private readonly names = new Map<Value, string>();
  private readonly used = new Set<string>();

  claim(v: Value): string {
    const have = this.names.get(v);
    if (have !== undefined) return have;
    let name = v.name;
    if (name !== '' && this.used.has(name)) {
      let k = 1;
      while (this.used.has(`${v.name}__${k}`)) k++;
      name = `${v.name}__${k}`;
    }
    if (name !== '') this.used.add(name);
    this.names.set(v, name);
    return name;
  }

  nameOf(v: Value | null): string {
    return v === null ? '' : this.claim(v);
  }
}

class Exporter {
  private readonly names = new NameTable();
  private bytes = 0;
  constructor(private readonly opts: Required<ExportOptions>, private readonly allInitsAsInputs: boolean) {}

  graph(g: Graph): GraphProto {
    // Interface names first, so the main graph's inputs and outputs keep theirs.
    for (const v of g.inputs) this.names.claim(v);
    for (const v of g.outputs) this.names.claim(v);
    for (const v of g.initializers.keys()) this.names.claim(v);
    const valueInfo = (v: Value): ValueInfoProto => ({ name: this.names.claim(v), type: v.type ? typeToProto(v.type) : undefined });
    const inputs = [...g.inputs];
    if (this.allInitsAsInputs) for (const v of g.initializers.keys()) if (!inputs.includes(v)) inputs.push(v);
    const nodeNames = new Set<string>(); // onnxruntime wants node names unique within a graph
    const nodes = g.nodes.map((n) => this.node(n, nodeNames));
    const declared = new Set<Value>([...g.inputs, ...g.outputs]);
    const info: ValueInfoProto[] = [];
    if (this.opts.valueInfo) {
      for (const n of g.nodes) for (const v of n.outputs) if (v && v.type && v.name !== '' && !declared.has(v)) info.push(valueInfo(v));
    }
    const initializer = [...g.initializers].map(([v, t]) => {
      this.bytes += t.dtype === 'string' ? (t.data as string[]).reduce((n, x) => n + x.length, 0) : t.size * byteSize(t.dtype);
      if (this.bytes > PROTO_LIMIT) throw new TesseraError('the model\'s weights exceed the 2 GB protobuf limit (ONNX external data is not written yet)');
      return tensorToProto(t, this.names.claim(v));
    });
    return {
      name: g.name, node: nodes, initializer,
      input: inputs.map(valueInfo), output: g.outputs.map(valueInfo), valueInfo: info,
    };
  }

  private node(n: Node, nodeNames: Set<string>): NodeProto {
    // Outputs are named before sub-graphs so that a sub-graph value cannot take an outer output's name.
    const output = n.outputs.map((v) => this.names.nameOf(v));
    const input = n.inputs.map((v) => this.names.nameOf(v));
    let name = n.name;
    for (let k = 1; name !== '' && nodeNames.has(name); k++) name = `${n.name}__${k}`;
    nodeNames.add(name);
    const attribute = [...n.attrs].map(([k, a]) => {
      try { return this.attr(k, a); } catch (e) {
        throw e instanceof TesseraError ? e.at({ node: n.name, op: n.op }) : e;
      }
    });
    return { name, opType: n.op, domain: n.domain, input, output, attribute };
  }

  private attr(name: string, a: Attr): AttributeProto {
    const T = onnx.AttributeProto.AttributeType;
    switch (a.kind) {
      case 'int': return { name, type: T.INT, i: int64(a.value) };
      case 'ints': return { name, type: T.INTS, ints: a.value.map(int64) };
      case 'float': return { name, type: T.FLOAT, f: a.value };
      case 'floats': return { name, type: T.FLOATS, floats: a.value };
      case 'string': return { name, type: T.STRING, s: Buffer.from(a.value, 'utf8') };
      case 'strings': return { name, type: T.STRINGS, strings: a.value.map((s) => Buffer.from(s, 'utf8')) };
      case 'tensor': return { name, type: T.TENSOR, t: tensorToProto(a.value) };
      case 'tensors': return { name, type: T.TENSORS, tensors: a.value.map((t) => tensorToProto(t)) };
      case 'graph': return { name, type: T.GRAPH, g: this.graph(a.value) };
      case 'graphs': return { name, type: T.GRAPHS, graphs: a.value.map((g) => this.graph(g)) };
      case 'type': return { name, type: T.TYPE_PROTO, tp: typeToProto(a.value) };
      case 'types': return { name, type: T.TYPE_PROTOS, typeProtos: a.value.map(typeToProto) };
    }
  }
}

/** The ModelProto of a model (as the plain object onnx-proto encodes). */
export function modelToProto(model: Model, opts: ExportOptions = {}): import('onnx-proto').onnx.IModelProto {
  const opset = model.opsets.get('') ?? 1;
  const irVersion = model.irVersion && model.irVersion > 0 ? model.irVersion : defaultIrVersion(opset);
  const exporter = new Exporter({ valueInfo: opts.valueInfo ?? true }, irVersion < 4);
  const graph = exporter.graph(model.graph);
  return {
    irVersion: int64(irVersion),
    producerName: model.producer ?? 'tessera',
    opsetImport: [...model.opsets].map(([domain, version]) => ({ domain, version: int64(version) })),
    metadataProps: Object.entries(model.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph,
  };
}

/** Serializes a model as ONNX (ModelProto bytes). */
export function exportOnnx(model: Model, opts: ExportOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(modelToProto(model, opts)).finish();
}

export function exportOnnxFile(model: Model, path: string, opts: ExportOptions = {}): void {
  const bytes = exportOnnx(model, opts);
  try { writeFileSync(path, bytes); } catch (e) {
    throw new TesseraError(`cannot write ONNX model: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: path });
  }
}
