// The op registry: one place where each op's signature, attributes, type/shape inference and reference
// semantics are defined together, versioned by opset. Lookup picks the newest definition whose `since`
// is ≤ the model's opset for the op's domain (ONNX's own versioning rule).
import type { DType } from './dtype.ts';
import { TesseraError } from './errors.ts';
import type { Attr, AttrKind, Graph, Node } from './graph.ts';
import type { RuntimeValue, SequenceValue, Tensor } from './tensor.ts';
import type { Dim, TensorType, ValueType } from './types.ts';

export interface AttrSpec {
  kind: AttrKind;
  /** Value used when the attribute is absent. */
  default?: Attr['value'];
  required?: boolean;
}

export interface OpSchema {
  /** '' is ai.onnx. */
  domain?: string;
  name: string;
  /** First opset version this definition applies to. */
  since: number;
  /** Allowed input count [min, max] (max may be Infinity for variadic ops). */
  inputs: [number, number];
  outputs: [number, number];
  attrs?: Record<string, AttrSpec>;
  /** Computes output types from input types (and constant inputs when known). */
  infer(ctx: InferContext): (ValueType | undefined)[];
  /** Reference semantics: the spec every backend is tested against. */
  run(ctx: RunContext): (RuntimeValue | undefined)[];
  /**
   * Outputs known from input types alone (Shape, Size of a static shape), so shape computations fold even
   * when the data of the input is not constant.
   */
  constantOutputs?(ctx: InferContext): (Tensor | undefined)[];
  /** Ops whose results differ run to run (random): never constant-folded, skipped by oracles. */
  nondeterministic?: boolean;
  /** Training-only or otherwise out-of-scope; the message says why it is rejected. */
  unsupported?: string;
}

/** Typed attribute access with schema defaults; missing required attributes are clear errors. */
export class AttrView {
  constructor(
    private readonly node: Node,
    private readonly schema: OpSchema,
  ) {}

  has(name: string): boolean { return this.node.attrs.has(name); }

  raw(name: string): Attr | undefined { return this.node.attrs.get(name); }

  private get<K extends AttrKind>(name: string, kind: K): Extract<Attr, { kind: K }>['value'] | undefined {
    const a = this.node.attrs.get(name);
    if (a) {
      if (a.kind !== kind) {
        // ONNX writers sometimes store a one-element list as a scalar kind and vice versa.
        if (kind === 'ints' && a.kind === 'int') return [a.value] as never;
        if (kind === 'floats' && a.kind === 'float') return [a.value] as never;
        if (kind === 'float' && a.kind === 'int') return a.value as never;
        throw new TesseraError(`attribute '${name}' must be ${kind}, got ${a.kind}`);
      }
      return a.value as never;
    }
    const spec = this.schema.attrs?.[name];
    if (spec?.required) throw new TesseraError(`required attribute '${name}' is missing`);
    return spec?.default as never;
  }

  int(name: string): number;
  int(name: string, fallback: number): number;
  int(name: string, fallback?: number): number {
    const v = this.get(name, 'int');
    if (v === undefined) {
      if (fallback === undefined) throw new TesseraError(`attribute '${name}' is missing`);
      return fallback;
    }
    return v;
  }
  /** ONNX FLOAT attributes are float32: a default written 0.01 reads as the float32 nearest it, as from a model. */
  float(name: string, fallback?: number): number {
    const v = this.get(name, 'float');
    if (v === undefined) {
      if (fallback === undefined) throw new TesseraError(`attribute '${name}' is missing`);
      return Math.fround(fallback);
    }
    return Math.fround(v);
  }
  string(name: string, fallback?: string): string {
    const v = this.get(name, 'string');
    if (v === undefined) {
      if (fallback === undefined) throw new TesseraError(`attribute '${name}' is missing`);
      return fallback;
    }
    return v;
  }
  ints(name: string): number[] | undefined { return this.get(name, 'ints'); }
  floats(name: string): number[] | undefined { return this.get(name, 'floats'); }
  strings(name: string): string[] | undefined { return this.get(name, 'strings'); }
  tensor(name: string): Tensor | undefined { return this.get(name, 'tensor'); }
  tensors(name: string): Tensor[] | undefined { return this.get(name, 'tensors'); }
  graph(name: string): Graph | undefined { return this.get(name, 'graph'); }
  type(name: string): ValueType | undefined { return this.get(name, 'type'); }
}

interface BaseContext {
  readonly node: Node;
  /** The model's opset for this node's domain. */
  readonly opset: number;
  readonly attrs: AttrView;
  /** Number of inputs the node was given (trailing omitted ones excluded). */
  readonly inputCount: number;
}

export interface InferContext extends BaseContext {
  /** Type of input i, or undefined when omitted or unknown. */
  inputType(i: number): ValueType | undefined;
  /** Type of input i as a tensor; error if absent or not a tensor. */
  tensorInput(i: number): TensorType;
  /** The constant value of input i, when it is known at compile time. */
  constant(i: number): Tensor | undefined;
  /** A fresh symbolic dimension name. */
  freshDim(): Dim;
  /** Infers the output types of a sub-graph given its input types (for If/Loop/Scan bodies). */
  inferGraph(g: Graph, inputTypes: (ValueType | undefined)[]): (ValueType | undefined)[];
}

export interface RunContext extends BaseContext {
  readonly inputs: readonly (RuntimeValue | undefined)[];
  /** Input i as a tensor; clear error when absent or not a tensor. */
  tensor(i: number): Tensor;
  /** Input i as a tensor, or undefined when omitted (or an empty name). */
  optTensor(i: number): Tensor | undefined;
  sequence(i: number): SequenceValue;
  /** Executes a sub-graph in the scope of this node (outer values visible) and returns its outputs. */
  runGraph(g: Graph, inputs: (RuntimeValue | undefined)[]): RuntimeValue[];
  /** Seeded random source in [0, 1) for random ops. */
  random(): number;
}

const registry = new Map<string, OpSchema[]>();
const keyOf = (domain: string, name: string) => `${domain === 'ai.onnx' ? '' : domain}::${name}`;

export function registerOp(schema: OpSchema): void {
  const key = keyOf(schema.domain ?? '', schema.name);
  const list = registry.get(key) ?? [];
  if (list.some((s) => s.since === schema.since)) {
    throw new Error(`op ${schema.name} since ${schema.since} registered twice`);
  }
  list.push(schema);
  list.sort((a, b) => b.since - a.since);
  registry.set(key, list);
}

/** Registers several schemas at once (an op file's export). */
export function registerOps(schemas: OpSchema[]): void {
  for (const s of schemas) registerOp(s);
}

/** The newest definition with since ≤ opset, or undefined. */
export function lookupOp(domain: string, name: string, opset: number): OpSchema | undefined {
  const list = registry.get(keyOf(domain, name));
  return list?.find((s) => s.since <= opset);
}

export function knownOps(): { domain: string; name: string; versions: number[] }[] {
  return [...registry.entries()].map(([k, list]) => {
    const [domain, name] = k.split('::') as [string, string];
    return { domain, name, versions: list.map((s) => s.since).sort((a, b) => a - b) };
  });
}

export function isOpKnown(domain: string, name: string): boolean {
  return registry.has(keyOf(domain, name));
}

/** Dtypes a definition commonly accepts, for readable checks inside infer(). */
export function requireDtype(ctx: InferContext, i: number, allowed: readonly DType[]): TensorType {
  const t = ctx.tensorInput(i);
  if (!allowed.includes(t.dtype)) {
    throw new TesseraError(`input ${i} has type ${t.dtype}, expected one of ${allowed.join(', ')}`);
  }
  return t;
}
