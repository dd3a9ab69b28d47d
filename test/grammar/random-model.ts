// A fast-check generator of random graph-IR models for the textual-IR round trip: random op names,
// domains, node and value names (plain, dotted, keywords, any characters), every value type (symbolic dims,
// unknown rank, sequence, optional, unknown), every attribute kind (empty lists included), tensors of every
// dtype with raw bit patterns (NaN payloads, -0, ±inf), graph inputs with defaults, plain initializers,
// omitted inputs/outputs, and nested regions that read values of enclosing graphs.
import fc from 'fast-check';
import { ALL_DTYPES, allocData, bf16BitsToF32, f16BitsToF32, type DType } from '../../ir/dtype.ts';
import { Graph, Node, Value, type Attr, type Model } from '../../ir/graph.ts';
import { Tensor } from '../../ir/tensor.ts';
import type { Dim, ValueType } from '../../ir/types.ts';

type Gen = fc.GeneratorValue;

const ODD_NAMES = ['graph', 'f32', '_', '', '3', 'a b', 'p2o.DynamicDimension.0', 'onnx::Add_3', '/model/Conv_output_0',
  'nan', 'inf', 'ints', 'type', 'seq', 'x.', '.x', 'é', '"q"', 'back\\slash', 'new\nline', '#hash', 'ai.onnx', '@', 'true'];

export class RandomModel {
  private readonly used = new Set<string>();
  private counter = 0;
  constructor(private readonly g: Gen) {}

  private int(min: number, max: number): number { return this.g(fc.integer, { min, max }); }
  private chance(p: number): boolean { return this.int(0, 999) < p * 1000; }
  private pick<T>(xs: readonly T[]): T { return xs[this.int(0, xs.length - 1)]!; }

  /** A name of any shape; `unique` makes it unique in the whole model (no shadowing). */
  name(unique: boolean): string {
    let base: string;
    const r = this.int(0, 9);
    if (r < 5) base = `v${this.counter++}`;
    else if (r < 7) base = this.pick(ODD_NAMES);
    else if (r < 8) base = `m.${this.int(0, 3)}.w_${this.int(0, 9)}`;
    else base = this.g(fc.string, { unit: 'binary', maxLength: 6 });
    if (!unique) return base;
    let name = base;
    while (this.used.has(name)) name = `${base}~${this.counter++}`;
    this.used.add(name);
    return name;
  }

  dim(): Dim { return this.chance(0.5) ? this.int(0, 7) : this.name(false); }

  type(depth = 0): ValueType | undefined {
    const r = this.int(0, 9);
    if (r === 0) return undefined;
    if (r === 1 && depth < 2) return { kind: 'sequence', elem: this.type(depth + 1) };
    if (r === 2 && depth < 2) return { kind: 'optional', elem: this.type(depth + 1) };
    const shape = this.chance(0.15) ? undefined : Array.from({ length: this.int(0, 3) }, () => this.dim());
    return { kind: 'tensor', dtype: this.pick(ALL_DTYPES), shape };
  }

  definedType(): ValueType {
    return this.type() ?? { kind: 'tensor', dtype: 'f32', shape: [] };
  }

  tensor(): Tensor {
    const dtype = this.pick(ALL_DTYPES) as DType;
    const shape = this.chance(0.1) ? [this.int(17, 40)] : Array.from({ length: this.int(0, 3) }, () => this.int(0, 3));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = allocData(dtype, n);
    const bits32 = () => this.g(fc.integer, { min: 0, max: 0xffffffff });
    for (let i = 0; i < n; i++) {
      switch (dtype) {
        case 'f32': new Uint32Array((data as Float32Array).buffer)[i] = this.chance(0.5) ? bits32() : 0x7fc00000 + this.int(0, 2); break;
        case 'f16': (data as Float32Array)[i] = f16BitsToF32(this.int(0, 0xffff)); break;
        case 'bf16': (data as Float32Array)[i] = bf16BitsToF32(this.int(0, 0xffff)); break;
        case 'f64': {
          const u = new Uint32Array((data as Float64Array).buffer);
          if (this.chance(0.3)) (data as Float64Array)[i] = this.g(fc.double, {});
          else { u[2 * i] = bits32(); u[2 * i + 1] = this.chance(0.2) ? 0x7ff80000 + this.int(0, 3) : bits32(); }
          break;
        }
        case 'i64': (data as BigInt64Array)[i] = this.g(fc.bigInt, { min: -(2n ** 63n), max: 2n ** 63n - 1n }); break;
        case 'u64': (data as BigUint64Array)[i] = this.g(fc.bigInt, { min: 0n, max: 2n ** 64n - 1n }); break;
        case 'string': (data as string[])[i] = this.chance(0.3) ? this.pick(ODD_NAMES) : this.g(fc.string, { unit: 'binary', maxLength: 5 }); break;
        case 'bool': (data as Uint8Array)[i] = this.int(0, 1); break;
        case 'i8': (data as Int8Array)[i] = this.int(-128, 127); break;
        case 'u8': (data as Uint8Array)[i] = this.int(0, 255); break;
        case 'i16': (data as Int16Array)[i] = this.int(-32768, 32767); break;
        case 'u16': (data as Uint16Array)[i] = this.int(0, 65535); break;
        case 'i32': (data as Int32Array)[i] = this.int(-(2 ** 31), 2 ** 31 - 1); break;
        case 'u32': (data as Uint32Array)[i] = this.int(0, 2 ** 32 - 1); break;
      }
    }
    return new Tensor(dtype, shape, data);
  }

  private intValue(): number {
    return this.chance(0.8) ? this.int(-1000, 1000) : this.pick([-0, 2 ** 53, -(2 ** 63), 2 ** 63, 1e21, 2 ** 70, Number.MAX_SAFE_INTEGER]);
  }

  private floatValue(): number {
    return this.chance(0.7) ? this.g(fc.double, {}) : this.pick([0, -0, 3, 1e21, 1e-7, NaN, Infinity, -Infinity, Math.fround(0.1)]);
  }

  attr(visible: Value[], depth: number): Attr {
    const kinds = ['int', 'ints', 'float', 'floats', 'string', 'strings', 'tensor', 'tensors', 'type', 'types',
      ...(depth < 2 ? ['graph', 'graphs'] : [])] as const;
    const k = this.pick(kinds);
    const list = <T>(f: () => T) => Array.from({ length: this.int(0, 3) }, f);
    switch (k) {
      case 'int': return { kind: 'int', value: this.intValue() };
      case 'ints': return { kind: 'ints', value: list(() => this.intValue()) };
      case 'float': return { kind: 'float', value: this.floatValue() };
      case 'floats': return { kind: 'floats', value: list(() => this.floatValue()) };
      case 'string': return { kind: 'string', value: this.name(false) };
      case 'strings': return { kind: 'strings', value: list(() => this.name(false)) };
      case 'tensor': return { kind: 'tensor', value: this.tensor() };
      case 'tensors': return { kind: 'tensors', value: list(() => this.tensor()) };
      case 'type': return { kind: 'type', value: this.definedType() };
      case 'types': return { kind: 'types', value: list(() => this.definedType()) };
      case 'graph': return { kind: 'graph', value: this.graph(visible, depth + 1) };
      case 'graphs': return { kind: 'graphs', value: Array.from({ length: this.int(0, 2) }, () => this.graph(visible, depth + 1)) };
      default: throw new Error(`unknown attribute kind ${k}`);
    }
  }

  /** A graph that may read `outer` (values of enclosing graphs defined before it). */
  graph(outer: Value[], depth: number, domains: string[] = ['']): Graph {
    const g = new Graph(this.chance(0.2) ? '' : this.name(false));
    const visible = [...outer];
    for (let i = this.int(0, 3); i > 0; i--) {
      const v = new Value(this.name(true), this.type());
      g.inputs.push(v);
      visible.push(v);
      if (this.chance(0.25)) g.initializers.set(v, this.tensor());
    }
    for (let i = this.int(0, 2); i > 0; i--) {
      const t = this.tensor();
      const type = this.chance(0.8) ? { kind: 'tensor' as const, dtype: t.dtype, shape: [...t.shape] } : this.type();
      const v = new Value(this.name(true), type);
      g.initializers.set(v, t);
      visible.push(v);
    }
    for (let i = this.int(0, depth === 0 ? 6 : 3); i > 0; i--) {
      const op = this.chance(0.7) ? this.pick(['Relu', 'Add', 'If', 'Loop', 'Conv', 'MyOp', 'Scan']) : this.name(false) || 'Op';
      const domain = this.chance(0.6) ? '' : this.pick(domains.length > 1 ? domains : ['', 'com.microsoft', 'my domain']);
      const inputs = Array.from({ length: this.int(0, 3) }, () => (visible.length === 0 || this.chance(0.15) ? null : this.pick(visible)));
      const attrs = new Map<string, Attr>();
      for (let j = this.int(0, 3); j > 0; j--) attrs.set(this.name(false), this.attr(visible, depth));
      const node = new Node(this.chance(0.2) ? '' : this.name(false), op, domain, inputs, [], attrs);
      for (let j = this.int(0, 3); j > 0; j--) {
        if (this.chance(0.15)) { node.outputs.push(null); continue; }
        const v = new Value(this.name(true), this.type());
        v.producer = node;
        node.outputs.push(v);
      }
      g.nodes.push(node);
      for (const v of node.outputs) if (v) visible.push(v);
    }
    for (let i = this.int(0, 3); i > 0 && visible.length > 0; i--) g.outputs.push(this.pick(visible));
    return g;
  }

  model(): Model {
    const opsets = new Map<string, number>([['', this.int(1, 21)]]);
    for (let i = this.int(0, 2); i > 0; i--) opsets.set(this.pick(['com.microsoft', 'ai.onnx.ml', 'my domain', 'x']), this.int(1, 5));
    const model: Model = { graph: this.graph([], 0, [...opsets.keys()]), opsets };
    if (this.chance(0.5)) model.producer = this.name(false);
    if (this.chance(0.5)) model.irVersion = this.int(0, 10);
    if (this.chance(0.3)) model.metadata = Object.fromEntries(Array.from({ length: this.int(0, 2) }, () => [this.name(false), this.name(false)]));
    return model;
  }
}
