// Value types of the graph IR: tensors with static or symbolic dimensions, sequences and optionals.
import type { DType } from './dtype.ts';

/** A dimension: a non-negative integer, or a symbolic name (equal names denote equal sizes). */
export type Dim = number | string;

export interface TensorType {
  kind: 'tensor';
  dtype: DType;
  /** undefined: rank unknown. */
  shape: Dim[] | undefined;
}
export interface SequenceType {
  kind: 'sequence';
  elem: ValueType | undefined;
}
export interface OptionalType {
  kind: 'optional';
  elem: ValueType | undefined;
}
export type ValueType = TensorType | SequenceType | OptionalType;

export const tensorType = (dtype: DType, shape: Dim[] | undefined): TensorType => ({ kind: 'tensor', dtype, shape });

export function isStaticShape(shape: Dim[] | undefined): shape is number[] {
  return shape !== undefined && shape.every((d) => typeof d === 'number');
}

export function shapeToString(shape: Dim[] | undefined): string {
  return shape === undefined ? '?' : `[${shape.join(',')}]`;
}

export function typeToString(t: ValueType | undefined): string {
  if (!t) return '?';
  switch (t.kind) {
    case 'tensor': return `${t.dtype}${shapeToString(t.shape)}`;
    case 'sequence': return `seq<${typeToString(t.elem)}>`;
    case 'optional': return `opt<${typeToString(t.elem)}>`;
  }
}

export function typesEqual(a: ValueType | undefined, b: ValueType | undefined): boolean {
  return typeToString(a) === typeToString(b);
}
