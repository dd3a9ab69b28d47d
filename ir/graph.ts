// The graph IR: SSA values, nodes with typed attributes, graphs with nested regions (If/Loop/Scan bodies).
import type { Tensor } from './tensor.ts';
import type { ValueType } from './types.ts';

/** An SSA value. Identity is the object; `name` is for printing and for ONNX round trips. */
export class Value {
  /** The node that defines it, or undefined for graph inputs and initializers. */
  producer: Node | undefined = undefined;
  constructor(
    public name: string,
    public type: ValueType | undefined,
  ) {}
}

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: Tensor }
  | { kind: 'tensors'; value: Tensor[] }
  | { kind: 'graph'; value: Graph }
  | { kind: 'graphs'; value: Graph[] }
  | { kind: 'type'; value: ValueType }
  | { kind: 'types'; value: ValueType[] };

export type AttrKind = Attr['kind'];

export class Node {
  constructor(
    public name: string,
    public op: string,
    /** '' is the default ONNX domain (ai.onnx). */
    public domain: string,
    /** null marks an omitted optional input. */
    public inputs: (Value | null)[],
    public outputs: (Value | null)[],
    public attrs: Map<string, Attr> = new Map(),
  ) {}
}

export class Graph {
  /** Constant tensors bound to values (ONNX initializers): weights, and folded constants. */
  readonly initializers = new Map<Value, Tensor>();
  constructor(
    public name: string,
    public inputs: Value[] = [],
    public outputs: Value[] = [],
    public nodes: Node[] = [],
  ) {}

  /** Sub-graphs held by the attributes of the nodes of this graph (one level). */
  *regions(): Iterable<{ node: Node; attr: string; graph: Graph }> {
    for (const node of this.nodes) {
      for (const [attr, a] of node.attrs) {
        if (a.kind === 'graph') yield { node, attr, graph: a.value };
        else if (a.kind === 'graphs') for (const g of a.value) yield { node, attr, graph: g };
      }
    }
  }
}

/** A whole model: the main graph plus the opset versions it was written against. */
export interface Model {
  graph: Graph;
  /** domain ('' for ai.onnx) → opset version. */
  opsets: Map<string, number>;
  producer?: string;
  irVersion?: number;
  /** Free-form metadata carried from the source model. */
  metadata?: Record<string, string>;
}
