// The one printer of the graph IR (the grammar issue gives it a parser). Close in spirit to ONNX's
// textual syntax: `graph name (f32[N,3,48,W] x) => (f32[N,T,6625] y) { y = Softmax<axis=-1>(t) }`.
import type { Attr, Graph, Model, Value } from './graph.ts';
import type { Tensor } from './tensor.ts';
import { typeToString, type ValueType } from './types.ts';

export interface PrintOptions {
  /** Tensors with at most this many elements are printed inline; larger ones by reference. */
  inlineLimit?: number;
}

const ident = (s: string) => (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(s) ? s : JSON.stringify(s));

export function printModel(model: Model, opts: PrintOptions = {}): string {
  const opsets = [...model.opsets].map(([d, v]) => `${d || 'ai.onnx'}: ${v}`).join(', ');
  return `opset { ${opsets} }\n${printGraph(model.graph, opts, '')}`;
}

export function printGraph(g: Graph, opts: PrintOptions = {}, indent = ''): string {
  const inner = indent + '  ';
  const sig = (vs: Value[]) => vs.map((v) => `${printType(v.type)} ${ident(v.name)}`).join(', ');
  const lines: string[] = [];
  lines.push(`${indent}graph ${ident(g.name || 'main')} (${sig(g.inputs.filter((v) => !g.initializers.has(v)))}) => (${sig(g.outputs)}) {`);
  for (const [v, t] of g.initializers) {
    lines.push(`${inner}${g.inputs.includes(v) ? 'default ' : ''}${ident(v.name)} = ${printTensor(t, opts)}`);
  }
  for (const n of g.nodes) {
    const outs = n.outputs.map((v) => (v ? ident(v.name) : '_')).join(', ');
    const attrs = [...n.attrs].map(([k, a]) => `${ident(k)}=${printAttr(a, opts, inner)}`).join(', ');
    const ins = n.inputs.map((v) => (v ? ident(v.name) : '_')).join(', ');
    const op = (n.domain ? `${n.domain}.` : '') + n.op;
    const name = n.name ? ` @${ident(n.name)}` : '';
    lines.push(`${inner}${outs} = ${ident(op)}${attrs ? `<${attrs}>` : ''}(${ins})${name}`);
  }
  lines.push(`${indent}}`);
  return lines.join('\n');
}

export function printType(t: ValueType | undefined): string {
  return typeToString(t);
}

export function printTensor(t: Tensor, opts: PrintOptions = {}): string {
  const limit = opts.inlineLimit ?? 16;
  const head = `${t.dtype}[${t.shape.join(',')}]`;
  if (t.size > limit) return `${head} <${t.size} elements>`;
  const vals = Array.from(t.data as ArrayLike<unknown>, (v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  return `${head} {${vals.join(', ')}}`;
}

function printAttr(a: Attr, opts: PrintOptions, indent: string): string {
  switch (a.kind) {
    case 'int': case 'float': return String(a.value);
    case 'string': return JSON.stringify(a.value);
    case 'ints': case 'floats': return `[${a.value.join(', ')}]`;
    case 'strings': return `[${a.value.map((s) => JSON.stringify(s)).join(', ')}]`;
    case 'tensor': return printTensor(a.value, opts);
    case 'tensors': return `[${a.value.map((t) => printTensor(t, opts)).join(', ')}]`;
    case 'graph': return `\n${printGraph(a.value, opts, indent + '  ')}`;
    case 'graphs': return `[${a.value.map((g) => `\n${printGraph(g, opts, indent + '  ')}`).join(',')}]`;
    case 'type': return typeToString(a.value);
    case 'types': return `[${a.value.map(typeToString).join(', ')}]`;
  }
}
