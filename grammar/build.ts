// Syntax tree → graph IR: resolves names through lexical scopes (a sub-graph sees the values of enclosing
// graphs defined before it), converts literals exactly, and reports semantic errors at line:column.
import { ScopeChain } from '../ir/scope.ts';
import type { IToken } from 'chevrotain';
import { ALL_DTYPES, allocData, isBigInt, isFloat, roundFloatsInPlace, type DType } from '../ir/dtype.ts';
import { TesseraError, type ErrorPlace } from '../ir/errors.ts';
import { Graph, Node, Value, type Attr, type Model } from '../ir/graph.ts';
import { MAX_TENSOR_ELEMENTS, Tensor } from '../ir/tensor.ts';
import type { Dim, ValueType } from '../ir/types.ts';
import type { AttrValueAst, CallAst, GraphAst, ModelAst, ParamAst, TensorAst, TypeAst } from './ast.ts';
import { valueTypesEqual } from '../ir/equal.ts';
import { printType } from './printer.ts';
import {
  FloatLit, HexLit, Identifier, IntLit, KwFalse, KwInf, KwNan, KwTrue, NegInf, StringLit, tokenPlace, Underscore,
} from './lexer.ts';

class Scope extends ScopeChain<string, Value> {
  get names(): Map<string, Value> { return this.own; }
}

const INT_RANGES: Partial<Record<DType, [number, number]>> = {
  i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535], i32: [-(2 ** 31), 2 ** 31 - 1], u32: [0, 2 ** 32 - 1],
};
const BIG_RANGES: Partial<Record<DType, [bigint, bigint]>> = {
  i64: [-(2n ** 63n), 2n ** 63n - 1n], u64: [0n, 2n ** 64n - 1n],
};

export function buildModel(ast: ModelAst, blobs: ReadonlyMap<string, Tensor>, text: string, place: ErrorPlace): Model {
  return new Builder(blobs, text, place).model(ast);
}

class Builder {
  constructor(
    private readonly blobs: ReadonlyMap<string, Tensor>,
    private readonly text: string,
    private readonly place: ErrorPlace,
  ) {}

  private err(tok: IToken | undefined, reason: string): TesseraError {
    return new TesseraError(`${tokenPlace(tok, this.text)}: ${reason}`, this.place);
  }

  model(ast: ModelAst): Model {
    const opsets = new Map<string, number>();
    for (const block of ast.opsets) {
      for (const [k, v] of block.entries) {
        const domain = this.domain(k);
        if (opsets.has(domain)) throw this.err(k, `opset for domain '${domain || 'ai.onnx'}' is given twice`);
        opsets.set(domain, this.safeInt(v, 'an opset version'));
      }
    }
    const model: Model = { graph: undefined as unknown as Graph, opsets };
    const seen = new Set<string>();
    for (const f of ast.fields) {
      const key = this.name(f.key);
      if (seen.has(key)) throw this.err(f.key, `model field '${key}' is given twice`);
      seen.add(key);
      const v = f.value;
      if (key === 'ir_version') {
        if ('entries' in v || v.tokenType === StringLit) throw this.err(f.key, `ir_version must be a number`);
        model.irVersion = this.number(v);
      } else if (key === 'producer') {
        if ('entries' in v || v.tokenType !== StringLit) throw this.err(f.key, `producer must be a string`);
        model.producer = this.name(v);
      } else if (key === 'metadata') {
        if (!('entries' in v)) throw this.err(f.key, `metadata must be an object { "key": "value", … }`);
        const entries: [string, string][] = [];
        const keys = new Set<string>();
        for (const [mk, mv] of v.entries) {
          const k = this.name(mk);
          if (keys.has(k)) throw this.err(mk, `metadata key '${k}' is given twice`);
          keys.add(k);
          entries.push([k, this.name(mv)]);
        }
        model.metadata = Object.fromEntries(entries);
      } else {
        throw this.err(f.key, `unknown model field '${key}' (expected ir_version, producer or metadata)`);
      }
    }
    model.graph = this.graph(ast.graph, undefined);
    return model;
  }

  /** Domain names: `ai.onnx` and "" both mean the default domain, stored as ''. */
  private domain(tok: IToken): string {
    const d = this.name(tok);
    return d === 'ai.onnx' ? '' : d;
  }

  private name(tok: IToken): string {
    if (tok.tokenType === StringLit) return JSON.parse(tok.image) as string;
    return tok.image;
  }

  private safeInt(tok: IToken, what: string): number {
    const n = Number(tok.image);
    if (tok.tokenType !== IntLit || !Number.isSafeInteger(n)) throw this.err(tok, `${what} must be an integer, got '${tok.image}'`);
    return n;
  }

  private number(tok: IToken): number {
    switch (tok.tokenType) {
      case KwNan: return NaN;
      case KwInf: return Infinity;
      case NegInf: return -Infinity;
      default: return Number(tok.image);
    }
  }

  private dtype(tok: IToken): DType {
    if (tok.tokenType === Identifier) throw this.err(tok, `unknown dtype '${tok.image}' (known: ${ALL_DTYPES.join(', ')})`);
    return tok.image as DType;
  }

  private type(ast: TypeAst): ValueType | undefined {
    switch (ast.kind) {
      case 'unknown': return undefined;
      case 'tensor': {
        const dims: Dim[] | undefined = ast.dims?.map((d) => {
          if (d.tokenType === IntLit) {
            const n = Number(d.image);
            if (!Number.isSafeInteger(n) || n < 0) throw this.err(d, `a dimension must be a non-negative integer or a name, got '${d.image}'`);
            return n;
          }
          return this.name(d);
        });
        return { kind: 'tensor', dtype: this.dtype(ast.tok), shape: dims };
      }
      case 'sequence': case 'optional':
        return { kind: ast.kind, elem: this.type(ast.elem) };
    }
  }

  private define(scope: Scope, tok: IToken, v: Value): void {
    if (scope.names.has(v.name)) throw this.err(tok, `value '${v.name}' is defined twice in this graph`);
    scope.names.set(v.name, v);
  }

  private lookup(scope: Scope, tok: IToken): Value {
    const name = this.name(tok);
    const v = scope.lookup(name);
    if (!v) throw this.err(tok, `value '${name}' is not defined (no graph input, initializer or earlier node output has this name)`);
    return v;
  }

  private graph(ast: GraphAst, parent: Scope | undefined): Graph {
    const scope = new Scope(parent);
    const g = new Graph(ast.name ? this.name(ast.name) : '');
    for (const p of ast.inputs) {
      const v = new Value(this.name(p.name), this.type(p.type));
      this.define(scope, p.name, v);
      g.inputs.push(v);
      if (p.init) g.initializers.set(v, this.tensor(p.init));
    }
    for (const s of ast.body) {
      if (s.rhs.kind === 'tensor') {
        const [lhs, extra] = s.lhs;
        if (!lhs || extra || lhs.name.tokenType === Underscore) {
          throw this.err(s.lhs[0]?.name, `a tensor literal defines exactly one named value`);
        }
        const t = this.tensor(s.rhs.tensor);
        const v = new Value(this.name(lhs.name), lhs.type ? this.type(lhs.type) : { kind: 'tensor', dtype: t.dtype, shape: [...t.shape] });
        this.define(scope, lhs.name, v);
        g.initializers.set(v, t);
      } else {
        g.nodes.push(this.node(s.rhs, s.lhs, scope));
      }
    }
    for (const p of ast.outputs) this.output(p, scope, g);
    return g;
  }

  private output(p: ParamAst, scope: Scope, g: Graph): void {
    if (p.init) throw this.err(p.init.tok, `a graph output cannot have a default value`);
    const v = this.lookup(scope, p.name);
    const t = this.type(p.type);
    if (t) {
      if (!v.type) v.type = t;
      else if (!valueTypesEqual(v.type, t)) {
        throw this.err(p.type.tok, `graph output '${v.name}' is declared as ${printType(t)} but its value has type ${printType(v.type)}`);
      }
    }
    g.outputs.push(v);
  }

  private node(call: CallAst, lhs: { name: IToken; type: TypeAst | undefined }[], scope: Scope): Node {
    let domain = '';
    let op: string;
    const [first, second] = call.op;
    if (second) {
      domain = this.name(first!);
      op = this.name(second);
    } else if (first!.tokenType === Identifier && first!.image.includes('.')) {
      const dot = first!.image.lastIndexOf('.');
      domain = first!.image.slice(0, dot);
      op = first!.image.slice(dot + 1);
    } else {
      op = this.name(first!);
    }
    if (domain === 'ai.onnx') domain = '';
    const inputs = call.args.map((a) => (a.tokenType === Underscore ? null : this.lookup(scope, a)));
    const attrs = new Map<string, Attr>();
    for (const a of call.attrs) {
      const name = this.name(a.name);
      if (attrs.has(name)) throw this.err(a.name, `attribute '${name}' is given twice`);
      attrs.set(name, this.attr(a.value, scope));
    }
    const node = new Node(call.nodeName ? this.name(call.nodeName) : '', op, domain, inputs, [], attrs);
    for (const o of lhs) {
      if (o.name.tokenType === Underscore) {
        if (o.type) throw this.err(o.name, `an omitted output ('_') cannot have a type`);
        node.outputs.push(null);
        continue;
      }
      const v = new Value(this.name(o.name), o.type ? this.type(o.type) : undefined);
      v.producer = node;
      this.define(scope, o.name, v);
      node.outputs.push(v);
    }
    return node;
  }

  private attr(ast: AttrValueAst, scope: Scope): Attr {
    switch (ast.kind) {
      case 'scalar':
        if (ast.tok.tokenType === StringLit) return { kind: 'string', value: this.name(ast.tok) };
        if (ast.tok.tokenType === IntLit) return { kind: 'int', value: Number(ast.tok.image) };
        return { kind: 'float', value: this.number(ast.tok) };
      case 'tensor': return { kind: 'tensor', value: this.tensor(ast.tensor) };
      case 'graph': return { kind: 'graph', value: this.graph(ast.graph, scope) };
      case 'type': return { kind: 'type', value: this.type(ast.type)! };
      case 'list': return this.list(ast, scope);
    }
  }

  private list(ast: Extract<AttrValueAst, { kind: 'list' }>, scope: Scope): Attr {
    const items = ast.items.map((i) => {
      if (i.kind === 'list') throw this.err(i.tok, `attribute lists cannot be nested`);
      return { ast: i, attr: this.attr(i, scope) };
    });
    let kind = ast.tag?.image as 'ints' | 'floats' | 'strings' | 'tensors' | 'graphs' | 'types' | undefined;
    if (!kind) {
      if (items.length === 0) throw this.err(ast.tok, `an empty list needs its kind: ints[], floats[], strings[], tensors[], graphs[] or types[]`);
      const k = items[0]!.attr.kind;
      // A list of numbers with at least one float is a float list ([1, 2.5]).
      kind = k === 'int' || k === 'float' ? (items.some((i) => i.attr.kind === 'float') ? 'floats' : 'ints') : `${k}s` as unknown as typeof kind;
    }
    const elemKind = kind!.slice(0, -1);
    for (const { ast: ia, attr } of items) {
      const ok = attr.kind === elemKind || (kind === 'floats' && attr.kind === 'int');
      if (!ok) throw this.err(ia.tok, `a list of ${kind} cannot hold ${attr.kind === 'int' ? 'an' : 'a'} ${attr.kind}`);
    }
    const values = items.map((i) => i.attr.value);
    switch (kind!) {
      case 'ints': return { kind: 'ints', value: values as number[] };
      case 'floats': return { kind: 'floats', value: values as number[] };
      case 'strings': return { kind: 'strings', value: values as string[] };
      case 'tensors': return { kind: 'tensors', value: values as Tensor[] };
      case 'graphs': return { kind: 'graphs', value: values as Graph[] };
      case 'types': return { kind: 'types', value: values as ValueType[] };
    }
  }

  private tensor(ast: TensorAst): Tensor {
    const dtype = this.dtype(ast.tok);
    const shape = ast.dims.map((d) => {
      const n = Number(d.image);
      if (!Number.isSafeInteger(n) || n < 0) throw this.err(d, `a tensor dimension must be a non-negative integer, got '${d.image}'`);
      return n;
    });
    const count = shape.reduce((a, b) => a * b, 1);
    const head = `${dtype}[${shape.join(',')}]`;
    if (ast.blob) {
      const name = this.name(ast.blob);
      const t = this.blobs.get(name);
      if (!t) throw this.err(ast.blob, `blob "${name}" is not among the ${this.blobs.size} blobs given to the parser`);
      const has = `${t.dtype}[${t.shape.join(',')}]`;
      if (has !== head) throw this.err(ast.blob, `blob "${name}" is ${has}, but the text says ${head}`);
      return t;
    }
    const elems = ast.elems!;
    if (count > MAX_TENSOR_ELEMENTS) throw this.err(ast.tok, `tensor ${head} has more than ${MAX_TENSOR_ELEMENTS} elements`);
    if (elems.length !== count) throw this.err(ast.tok, `tensor ${head} needs ${count} values, got ${elems.length}`);
    const data = allocData(dtype, count);
    const bad = (tok: IToken) => this.err(tok, `'${tok.image}' is not a valid ${dtype} value`);
    if (dtype === 'string') {
      const a = data as string[];
      for (let i = 0; i < count; i++) {
        const tok = elems[i]!;
        if (tok.tokenType !== StringLit) throw bad(tok);
        a[i] = JSON.parse(tok.image) as string;
      }
    } else if (isFloat(dtype)) {
      const a = data as Float32Array | Float64Array;
      for (let i = 0; i < count; i++) {
        const tok = elems[i]!;
        const tt = tok.tokenType;
        if (tt !== IntLit && tt !== FloatLit && tt !== KwNan && tt !== KwInf && tt !== NegInf) throw bad(tok);
        a[i] = this.number(tok);
      }
      roundFloatsInPlace(dtype, data);
      for (const { index, bits } of ast.nans) this.nanBits(elems[index]!, bits, data as Float32Array | Float64Array, index);
    } else if (isBigInt(dtype)) {
      const a = data as BigInt64Array | BigUint64Array;
      const [lo, hi] = BIG_RANGES[dtype]!;
      for (let i = 0; i < count; i++) {
        const tok = elems[i]!;
        if (tok.tokenType !== IntLit) throw bad(tok);
        const v = BigInt(tok.image);
        if (v < lo || v > hi) throw this.err(tok, `${tok.image} is out of range for ${dtype}`);
        a[i] = v;
      }
    } else {
      const a = data as Uint8Array;
      const [lo, hi] = dtype === 'bool' ? [0, 255] : INT_RANGES[dtype]!;
      for (let i = 0; i < count; i++) {
        const tok = elems[i]!;
        let v: number;
        if (dtype === 'bool' && (tok.tokenType === KwTrue || tok.tokenType === KwFalse)) v = tok.tokenType === KwTrue ? 1 : 0;
        else if (tok.tokenType === IntLit) v = Number(tok.image);
        else throw bad(tok);
        if (v < lo || v > hi || Object.is(v, -0)) throw this.err(tok, `${tok.image} is out of range for ${dtype}`);
        a[i] = v;
      }
    }
    if (!isFloat(dtype) && ast.nans.length > 0) throw this.err(ast.nans[0]!.bits, `NaN bit patterns are only valid in float tensors`);
    return new Tensor(dtype, shape, data);
  }

  /** `nan(0x…)`: a NaN with an explicit bit pattern of the storage type (f32 bits for f16/bf16/f32). */
  private nanBits(elem: IToken, bits: IToken, data: Float32Array | Float64Array, index: number): void {
    if (elem.tokenType !== KwNan || bits.tokenType !== HexLit) throw this.err(bits, `only 'nan' takes a bit pattern: nan(0x7fc00001)`);
    const b = BigInt(bits.image);
    if (data instanceof Float32Array) {
      if (b > 0xffffffffn || (Number(b) & 0x7f800000) !== 0x7f800000 || (Number(b) & 0x7fffff) === 0) {
        throw this.err(bits, `${bits.image} is not the bit pattern of a 32-bit NaN`);
      }
      new Uint32Array(data.buffer, data.byteOffset, data.length)[index] = Number(b);
    } else {
      if (b > 0xffffffffffffffffn || (b & 0x7ff0000000000000n) !== 0x7ff0000000000000n || (b & 0xfffffffffffffn) === 0n) {
        throw this.err(bits, `${bits.image} is not the bit pattern of a 64-bit NaN`);
      }
      new BigUint64Array(data.buffer, data.byteOffset, data.length)[index] = b;
    }
  }
}
