// The one printer of the graph IR; grammar/parser.ts reads its output back (parse(print(m)) equals m).
// The format is close in spirit to ONNX's textual syntax:
//
//   opset { ai.onnx: 17 }
//   graph main (f32[N,3,48,W] x, f32[3] bias = f32[3] {0.5, 1, -0}) => (f32[N,6625] y) {
//     w = f32[64,3,3,3] @blob("w")                 # large tensors by reference to a blob
//     t: f32[N,64] = Conv<pads=[1, 1, 1, 1]>(x, w, _) @conv1
//     y = Softmax<axis=-1>(t)
//   }
//
// Lossless by construction: ints and floats are told apart (3 vs 3.0), floats print with enough digits to
// read back bit for bit (NaNs with a non-default payload as nan(0x…)), i64/u64 print as exact integers,
// names that are not plain identifiers (or are keywords) are JSON strings, empty lists carry their kind.
import { ScopeChain } from '../ir/scope.ts';
import { TesseraError } from '../ir/errors.ts';
import type { Attr, Graph, Model, Node, Value } from '../ir/graph.ts';
import type { Tensor } from '../ir/tensor.ts';
import type { ValueType } from '../ir/types.ts';
import { valueTypesEqual } from '../ir/equal.ts';
import { printName, RESERVED } from './lexer.ts';

export interface PrintOptions {
  /** Tensors with more elements than this are printed by reference (`@blob("name")`); default 16. */
  inlineLimit?: number;
}

export interface PrintResult {
  text: string;
  /** The tensors printed by reference, by blob name; parseModel takes this map back. */
  blobs: Map<string, Tensor>;
}

export const DEFAULT_INLINE_LIMIT = 16;

export function printModel(model: Model, opts: PrintOptions = {}): PrintResult {
  const p = new Printer(opts);
  const head: string[] = [];
  const opsets = [...model.opsets].map(([d, v]) => `${d === '' ? 'ai.onnx' : printName(d)}: ${v}`);
  head.push(`opset { ${opsets.join(', ')} }`.replace('{  }', '{}'));
  const fields: string[] = [];
  if (model.irVersion !== undefined) fields.push(`ir_version: ${numberStr(model.irVersion)}`);
  if (model.producer !== undefined) fields.push(`producer: ${JSON.stringify(model.producer)}`);
  const meta = Object.entries(model.metadata ?? {});
  if (meta.length > 0) fields.push(`metadata: { ${meta.map(([k, v]) => `${printName(k)}: ${JSON.stringify(v)}`).join(', ')} }`);
  if (fields.length > 0) head.push(`model { ${fields.join(', ')} }`);
  const text = `${head.join('\n')}\n${p.graph(model.graph, '', undefined)}\n`;
  return { text, blobs: p.blobs };
}

/** Prints one graph (no opset header); values of enclosing graphs it reads are printed by name. */
export function printGraph(g: Graph, opts: PrintOptions = {}): PrintResult {
  const p = new Printer(opts);
  return { text: `${p.graph(g, '', undefined)}\n`, blobs: p.blobs };
}

export function printType(t: ValueType | undefined): string {
  if (!t) return '?';
  switch (t.kind) {
    case 'tensor': return `${t.dtype}[${t.shape === undefined ? '*' : t.shape.map((d) => (typeof d === 'number' ? String(d) : printName(d))).join(',')}]`;
    case 'sequence': return `seq<${printType(t.elem)}>`;
    case 'optional': return `opt<${printType(t.elem)}>`;
  }
}

const SIMPLE_OP = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `Relu`, `com.microsoft.FusedConv`, or `"domain"."op"` when either part is not a plain name. */
export function printOp(domain: string, op: string): string {
  const simple = SIMPLE_OP.test(op) && !RESERVED.has(op);
  if (domain === '') return simple ? op : JSON.stringify(op);
  if (simple && /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/.test(domain)) return `${domain}.${op}`;
  return `${JSON.stringify(domain)}.${JSON.stringify(op)}`;
}

/** A JS number as written in the text: integers plain, everything else as a float literal. */
function numberStr(v: number): string {
  return Number.isInteger(v) && !Object.is(v, -0) ? intStr(v) : floatStr(v);
}

function intStr(v: number): string {
  if (Object.is(v, -0)) return '-0';
  // Beyond 1e21 String() switches to exponent form, which would read back as a float.
  return Math.abs(v) < 1e21 ? String(v) : BigInt(v).toString();
}

/** A float attribute: always recognisable as a float (3.0, not 3), exact for any double. */
function floatStr(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0.0';
  const s = String(v);
  return /^-?[0-9]+$/.test(s) ? `${s}.0` : s;
}

/** The shortest decimal that reads back (through Math.fround) as the same f32 value. */
function f32Str(v: number): string {
  const s = String(v);
  if (s.length <= 8) return s;
  for (let p = 1; p <= 9; p++) {
    const d = Number(v.toPrecision(p));
    if (Math.fround(d) === v) return String(d);
  }
  return s;
}

const F32_QNAN = 0x7fc00000;
const F64_QNAN = 0x7ff8000000000000n;

/** The element values of a tensor as text (no braces). */
function elementsStr(t: Tensor): string {
  const out = new Array<string>(t.size);
  const d = t.data;
  switch (t.dtype) {
    case 'string':
      for (let i = 0; i < out.length; i++) out[i] = JSON.stringify((d as string[])[i]);
      break;
    case 'bool':
      for (let i = 0; i < out.length; i++) { const b = (d as Uint8Array)[i]!; out[i] = b === 1 ? 'true' : b === 0 ? 'false' : String(b); }
      break;
    case 'f16': case 'bf16': case 'f32': case 'f64': {
      const f = d as Float32Array | Float64Array;
      const is32 = f instanceof Float32Array;
      let bits32: Uint32Array | undefined, bits64: BigUint64Array | undefined;
      for (let i = 0; i < out.length; i++) {
        const v = f[i]!;
        if (v !== v) {
          let b: bigint | number;
          if (is32) b = (bits32 ??= new Uint32Array(f.buffer, f.byteOffset, f.length))[i]!;
          else b = (bits64 ??= new BigUint64Array(f.buffer, f.byteOffset, f.length))[i]!;
          out[i] = b === F32_QNAN || b === F64_QNAN ? 'nan' : `nan(0x${b.toString(16)})`;
        } else if (v === Infinity) out[i] = 'inf';
        else if (v === -Infinity) out[i] = '-inf';
        else if (v === 0) out[i] = Object.is(v, -0) ? '-0' : '0';
        else out[i] = is32 ? f32Str(v) : String(v);
      }
      break;
    }
    default:
      for (let i = 0; i < out.length; i++) out[i] = String(d[i]);
  }
  return out.join(', ');
}

/** Names defined so far in one graph; the printer checks every name reads back as the same value. */
class Scope extends ScopeChain<string, Value> {
  get names(): Map<string, Value> { return this.own; }
}

class Printer {
  readonly blobs = new Map<string, Tensor>();
  private readonly limit: number;
  constructor(opts: PrintOptions) {
    this.limit = opts.inlineLimit ?? DEFAULT_INLINE_LIMIT;
  }

  private define(scope: Scope, v: Value, g: Graph): string {
    if (scope.names.has(v.name)) {
      throw new TesseraError(`cannot print graph '${g.name}': two values are named '${v.name}' (names must be unique in a graph)`);
    }
    scope.names.set(v.name, v);
    return printName(v.name);
  }

  private ref(scope: Scope, v: Value, g: Graph): string {
    const found = scope.lookup(v.name);
    if (found && found !== v) {
      throw new TesseraError(`cannot print graph '${g.name}': the name '${v.name}' refers to a value of an enclosing graph that an inner value of the same name hides`);
    }
    return printName(v.name);
  }

  private blobName(base: string): string {
    let name = base;
    for (let i = 2; this.blobs.has(name); i++) name = `${base}~${i}`;
    return name;
  }

  tensor(t: Tensor, blobBase: string): string {
    const head = `${t.dtype}[${t.shape.join(',')}]`;
    if (t.size > this.limit) {
      const name = this.blobName(blobBase);
      this.blobs.set(name, t);
      return `${head} @blob(${JSON.stringify(name)})`;
    }
    return `${head} {${elementsStr(t)}}`;
  }

  graph(g: Graph, indent: string, parent: Scope | undefined): string {
    const scope = new Scope(parent);
    const inner = indent + '  ';
    const ins = g.inputs.map((v) => {
      const init = g.initializers.get(v);
      const decl = `${printType(v.type)} ${this.define(scope, v, g)}`;
      return init ? `${decl} = ${this.tensor(init, v.name)}` : decl;
    });
    const lines: string[] = [];
    for (const [v, t] of g.initializers) {
      if (g.inputs.includes(v)) continue;
      const name = this.define(scope, v, g);
      const annot = valueTypesEqual(v.type, { kind: 'tensor', dtype: t.dtype, shape: [...t.shape] }) ? '' : `: ${printType(v.type)}`;
      lines.push(`${inner}${name}${annot} = ${this.tensor(t, v.name)}`);
    }
    const graphOutputs = new Set(g.outputs);
    for (const n of g.nodes) lines.push(this.node(n, g, scope, inner, graphOutputs));
    const outs = g.outputs.map((v) => `${printType(v.type)} ${this.ref(scope, v, g)}`);
    const name = g.name === '' ? '' : ` ${printName(g.name)}`;
    const body = lines.length > 0 ? `\n${lines.join('\n')}\n${indent}}` : '}';
    return `graph${name} (${ins.join(', ')}) => (${outs.join(', ')}) {${body}`;
  }

  private node(n: Node, g: Graph, scope: Scope, indent: string, graphOutputs: Set<Value>): string {
    const ins = n.inputs.map((v) => (v ? this.ref(scope, v, g) : '_')).join(', ');
    const attrs = [...n.attrs].map(([k, a]) => `${printName(k)}=${this.attr(a, `${n.name || n.op}.${k}`, indent, scope)}`);
    const outs = n.outputs.map((v) => {
      if (!v) return '_';
      const name = this.define(scope, v, g);
      return v.type && !graphOutputs.has(v) ? `${name}: ${printType(v.type)}` : name;
    });
    const lhs = outs.length > 0 ? `${outs.join(', ')} = ` : '';
    const at = attrs.length > 0 ? `<${attrs.join(', ')}>` : '';
    const name = n.name === '' ? '' : ` @${printName(n.name)}`;
    return `${indent}${lhs}${printOp(n.domain, n.op)}${at}(${ins})${name}`;
  }

  private attr(a: Attr, blobBase: string, indent: string, scope: Scope): string {
    const list = (tag: string, items: string[]) => (items.length === 0 ? `${tag}[]` : `[${items.join(', ')}]`);
    switch (a.kind) {
      case 'int': return this.int(a.value, blobBase);
      case 'float': return floatStr(a.value);
      case 'string': return JSON.stringify(a.value);
      case 'ints': return list('ints', a.value.map((v) => this.int(v, blobBase)));
      case 'floats': return list('floats', a.value.map(floatStr));
      case 'strings': return list('strings', a.value.map((s) => JSON.stringify(s)));
      case 'tensor': return this.tensor(a.value, blobBase);
      case 'tensors': return list('tensors', a.value.map((t, i) => this.tensor(t, `${blobBase}.${i}`)));
      case 'graph': return this.graph(a.value, indent, scope);
      case 'graphs': return list('graphs', a.value.map((sg) => this.graph(sg, indent, scope)));
      case 'type': return `type ${printType(a.value)}`;
      case 'types': return list('types', a.value.map((t) => `type ${printType(t)}`));
    }
  }

  private int(v: number, where: string): string {
    if (!Number.isInteger(v)) throw new TesseraError(`cannot print attribute '${where}': an int attribute holds ${v}`);
    return intStr(v);
  }
}
