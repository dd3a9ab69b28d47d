// Builds the contexts an op definition sees (shared by the interpreter and type inference).
import { TesseraError } from './errors.ts';
import type { Graph, Node } from './graph.ts';
import { AttrView, type InferContext, type OpSchema, type RunContext } from './registry.ts';
import type { RuntimeValue, SequenceValue, Tensor } from './tensor.ts';
import type { Dim, TensorType, ValueType } from './types.ts';

function trimmedCount(node: Node): number {
  let n = node.inputs.length;
  while (n > 0 && node.inputs[n - 1] === null) n--;
  return n;
}

export function makeRunContext(
  node: Node, schema: OpSchema, opset: number, inputs: (RuntimeValue | undefined)[],
  runGraph: RunContext['runGraph'], random: () => number,
): RunContext {
  const attrs = new AttrView(node, schema);
  return {
    node, opset, attrs, inputs, inputCount: trimmedCount(node), runGraph, random,
    tensor(i: number): Tensor {
      const v = inputs[i];
      if (v === undefined) throw new TesseraError(`input ${i} is required but missing`);
      if (v.kind !== 'tensor') throw new TesseraError(`input ${i} must be a tensor, got a ${v.kind}`);
      return v;
    },
    optTensor(i: number): Tensor | undefined {
      const v = inputs[i];
      if (v === undefined) return undefined;
      if (v.kind !== 'tensor') throw new TesseraError(`input ${i} must be a tensor, got a ${v.kind}`);
      return v;
    },
    sequence(i: number): SequenceValue {
      const v = inputs[i];
      if (v === undefined || v.kind !== 'sequence') throw new TesseraError(`input ${i} must be a sequence`);
      return v;
    },
  };
}

export function makeInferContext(
  node: Node, schema: OpSchema, opset: number, types: (ValueType | undefined)[],
  constants: (Tensor | undefined)[], freshDim: () => Dim,
  inferGraph: InferContext['inferGraph'],
): InferContext {
  const attrs = new AttrView(node, schema);
  return {
    node, opset, attrs, inputCount: trimmedCount(node), freshDim, inferGraph,
    inputType: (i) => types[i],
    tensorInput(i: number): TensorType {
      const t = types[i];
      if (node.inputs[i] == null) throw new TesseraError(`input ${i} is required but missing`);
      if (t === undefined) throw new TesseraError(`input ${i} ('${node.inputs[i]!.name}') has no known type`);
      if (t.kind !== 'tensor') throw new TesseraError(`input ${i} must be a tensor, got a ${t.kind}`);
      return t;
    },
    constant: (i) => constants[i],
  };
}

export type { Graph };
