// Structural equality of graph IR: two models are equal when names, types, ops, domains, attributes
// (deep; tensors bit for bit, so NaN payloads and -0 count), initializers, sub-graphs and opsets agree and
// the values correspond one-to-one (inputs refer to the corresponding definitions, not just equal names).
// The diff functions say where the first difference is; the *Equal functions only answer yes or no.
import type { Attr, Graph, Model, Node, Value } from './graph.ts';
import type { Tensor } from './tensor.ts';
import type { ValueType } from './types.ts';

export function valueTypesEqual(a: ValueType | undefined, b: ValueType | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'tensor') {
    const bt = b as typeof a;
    if (a.dtype !== bt.dtype) return false;
    if (a.shape === undefined || bt.shape === undefined) return a.shape === bt.shape;
    return a.shape.length === bt.shape.length && a.shape.every((d, i) => d === bt.shape![i]);
  }
  return valueTypesEqual(a.elem, (b as typeof a).elem);
}

/** Same dtype, shape and storage bits (strings compared as strings). */
export function tensorsEqual(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (Array.isArray(a.data) || Array.isArray(b.data)) {
    const x = a.data as string[], y = b.data as string[];
    return x.length === y.length && x.every((s, i) => s === y[i]);
  }
  if (a.data.constructor !== b.data.constructor || a.data.length !== b.data.length) return false;
  const x = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const y = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function modelsEqual(a: Model, b: Model): boolean { return modelDiff(a, b) === undefined; }
export function graphsEqual(a: Graph, b: Graph): boolean { return graphDiff(a, b) === undefined; }

/** Where two models differ first, or undefined when they are structurally equal. */
export function modelDiff(a: Model, b: Model): string | undefined {
  const fmt = (m: Map<string, number>) => [...m].map(([d, v]) => `${d || 'ai.onnx'}:${v}`).sort().join(', ');
  if (fmt(a.opsets) !== fmt(b.opsets)) return `opsets differ: {${fmt(a.opsets)}} vs {${fmt(b.opsets)}}`;
  if (a.producer !== b.producer) return `producer differs: ${JSON.stringify(a.producer)} vs ${JSON.stringify(b.producer)}`;
  if (!Object.is(a.irVersion, b.irVersion)) return `ir_version differs: ${a.irVersion} vs ${b.irVersion}`;
  const ma = Object.entries(a.metadata ?? {}).sort(), mb = Object.entries(b.metadata ?? {}).sort();
  if (JSON.stringify(ma) !== JSON.stringify(mb)) return `metadata differs: ${JSON.stringify(ma)} vs ${JSON.stringify(mb)}`;
  return graphDiff(a.graph, b.graph);
}

/** Where two graphs differ first, or undefined when they are structurally equal. */
export function graphDiff(a: Graph, b: Graph): string | undefined {
  try {
    new Matcher().graph(a, b, `graph '${a.name}'`);
    return undefined;
  } catch (e) {
    if (e instanceof Difference) return e.message;
    throw e;
  }
}

class Difference extends Error {}

class Matcher {
  private readonly a2b = new Map<Value, Value>();
  private readonly b2a = new Map<Value, Value>();

  private fail(path: string, what: string): never {
    throw new Difference(`${path}: ${what}`);
  }

  /** Records (or checks) that value a corresponds to value b. */
  private value(a: Value, b: Value, path: string): void {
    const mapped = this.a2b.get(a);
    if (mapped) {
      if (mapped !== b) this.fail(path, `'${a.name}' refers to a different value than '${b.name}'`);
      return;
    }
    if (this.b2a.has(b)) this.fail(path, `'${b.name}' stands for two different values on the left`);
    if (a.name !== b.name) this.fail(path, `value name ${JSON.stringify(a.name)} vs ${JSON.stringify(b.name)}`);
    if (!valueTypesEqual(a.type, b.type)) this.fail(path, `type of '${a.name}': ${typeStr(a.type)} vs ${typeStr(b.type)}`);
    this.a2b.set(a, b);
    this.b2a.set(b, a);
  }

  private values(as: (Value | null)[], bs: (Value | null)[], path: string): void {
    if (as.length !== bs.length) this.fail(path, `${as.length} vs ${bs.length} values`);
    as.forEach((a, i) => {
      const b = bs[i]!;
      if (a === null || b === null) {
        if (a !== b) this.fail(`${path}[${i}]`, `${a ? `'${a.name}'` : 'omitted'} vs ${b ? `'${b.name}'` : 'omitted'}`);
        return;
      }
      this.value(a, b, `${path}[${i}]`);
    });
  }

  graph(a: Graph, b: Graph, path: string): void {
    if (a.name !== b.name) this.fail(path, `graph name ${JSON.stringify(a.name)} vs ${JSON.stringify(b.name)}`);
    this.values(a.inputs, b.inputs, `${path} inputs`);
    if (a.initializers.size !== b.initializers.size) this.fail(path, `${a.initializers.size} vs ${b.initializers.size} initializers`);
    // Plain initializers have no order that matters: pair them by name (then by order among equal names).
    const plainB = new Map<string, Value[]>();
    for (const v of b.initializers.keys()) {
      if (b.inputs.includes(v)) continue;
      const l = plainB.get(v.name) ?? [];
      l.push(v);
      plainB.set(v.name, l);
    }
    for (const [va, ta] of a.initializers) {
      let vb: Value | undefined;
      if (a.inputs.includes(va)) vb = this.a2b.get(va);
      else vb = plainB.get(va.name)?.shift();
      const ipath = `${path} initializer '${va.name}'`;
      const tb = vb && b.initializers.get(vb);
      if (!vb || !tb) this.fail(ipath, `missing on the right`);
      this.value(va, vb, ipath);
      if (!tensorsEqual(ta, tb)) this.fail(ipath, `tensors differ: ${tensorStr(ta)} vs ${tensorStr(tb)}`);
    }
    if (a.nodes.length !== b.nodes.length) this.fail(path, `${a.nodes.length} vs ${b.nodes.length} nodes`);
    a.nodes.forEach((na, i) => this.node(na, b.nodes[i]!, `${path} › node ${i} '${na.name}' (${na.op})`));
    this.values(a.outputs, b.outputs, `${path} outputs`);
  }

  private node(a: Node, b: Node, path: string): void {
    if (a.name !== b.name) this.fail(path, `node name ${JSON.stringify(a.name)} vs ${JSON.stringify(b.name)}`);
    if (a.op !== b.op || a.domain !== b.domain) this.fail(path, `op '${a.domain}'.'${a.op}' vs '${b.domain}'.'${b.op}'`);
    this.values(a.inputs, b.inputs, `${path} inputs`);
    if (a.attrs.size !== b.attrs.size) this.fail(path, `attributes {${[...a.attrs.keys()]}} vs {${[...b.attrs.keys()]}}`);
    for (const [k, x] of a.attrs) {
      const y = b.attrs.get(k);
      if (!y) this.fail(path, `attribute '${k}' missing on the right`);
      this.attr(x, y, `${path} attr '${k}'`);
    }
    this.values(a.outputs, b.outputs, `${path} outputs`);
    a.outputs.forEach((v, i) => {
      if (v && (v.producer === a) !== (b.outputs[i]!.producer === b)) this.fail(path, `output '${v.name}' has a different producer`);
    });
  }

  private attr(x: Attr, y: Attr, path: string): void {
    if (x.kind !== y.kind) this.fail(path, `kind ${x.kind} vs ${y.kind}`);
    const list = <T>(xs: T[], ys: T[], eq: (p: T, q: T, i: number) => boolean) => {
      if (xs.length !== ys.length) this.fail(path, `${xs.length} vs ${ys.length} items`);
      xs.forEach((p, i) => { if (!eq(p, ys[i]!, i)) this.fail(`${path}[${i}]`, `${String(p)} vs ${String(ys[i])}`); });
    };
    switch (x.kind) {
      case 'int': case 'float': case 'string':
        if (!Object.is(x.value, y.value)) this.fail(path, `${String(x.value)} vs ${String(y.value)}`);
        return;
      case 'ints': case 'floats': case 'strings':
        return list<unknown>(x.value, y.value as unknown[], Object.is);
      case 'tensor':
        if (!tensorsEqual(x.value, y.value as Tensor)) this.fail(path, `tensors differ: ${tensorStr(x.value)} vs ${tensorStr(y.value as Tensor)}`);
        return;
      case 'tensors':
        return list(x.value, y.value as Tensor[], tensorsEqual);
      case 'graph':
        return this.graph(x.value, y.value as Graph, `${path} › graph '${x.value.name}'`);
      case 'graphs':
        if (x.value.length !== (y.value as Graph[]).length) this.fail(path, `${x.value.length} vs ${(y.value as Graph[]).length} graphs`);
        x.value.forEach((g, i) => this.graph(g, (y.value as Graph[])[i]!, `${path}[${i}] › graph '${g.name}'`));
        return;
      case 'type':
        if (!valueTypesEqual(x.value, y.value as ValueType)) this.fail(path, `${typeStr(x.value)} vs ${typeStr(y.value as ValueType)}`);
        return;
      case 'types':
        return list(x.value, y.value as ValueType[], valueTypesEqual);
    }
  }
}

function typeStr(t: ValueType | undefined): string {
  if (!t) return '?';
  if (t.kind === 'tensor') return `${t.dtype}${t.shape ? `[${t.shape.map((d) => (typeof d === 'string' ? JSON.stringify(d) : d)).join(',')}]` : '[*]'}`;
  return `${t.kind === 'sequence' ? 'seq' : 'opt'}<${typeStr(t.elem)}>`;
}

function tensorStr(t: Tensor): string {
  const head = Array.from({ length: Math.min(t.size, 4) }, (_, i) => String(t.data[i]));
  return `${t.dtype}[${t.shape.join(',')}] {${head.join(', ')}${t.size > 4 ? ', …' : ''}}`;
}
