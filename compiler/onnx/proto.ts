// Access to the generated ONNX protobuf classes (onnx-proto is CommonJS; one import point).
import onnxProto from 'onnx-proto';
import protobuf from 'protobufjs/minimal.js';

export const onnx = (onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx }).onnx;
export type ModelProto = import('onnx-proto').onnx.ModelProto;
export type GraphProto = import('onnx-proto').onnx.IGraphProto;
export type NodeProto = import('onnx-proto').onnx.INodeProto;
export type TensorProto = import('onnx-proto').onnx.ITensorProto;
export type AttributeProto = import('onnx-proto').onnx.IAttributeProto;
export type TypeProto = import('onnx-proto').onnx.ITypeProto;
export type ValueInfoProto = import('onnx-proto').onnx.IValueInfoProto;
export const Reader = protobuf.Reader;
export const Writer = protobuf.Writer;

/** Converts a protobuf int64 (Long | number) to a JS number, failing when it cannot be exact. */
export function longToNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean };
    const big = (BigInt(l.high) << 32n) | BigInt(l.low >>> 0);
    const signed = l.unsigned ? big : BigInt.asIntN(64, big);
    return Number(signed);
  }
  return Number(v);
}

export function longToBigInt(v: unknown, unsigned = false): bigint {
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number };
    const big = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
    return unsigned ? BigInt.asUintN(64, big) : BigInt.asIntN(64, big);
  }
  return BigInt(v as string);
}
