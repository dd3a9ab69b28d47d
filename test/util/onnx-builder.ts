// Builds small ONNX models in tests (through onnx-proto, the same library the importer reads with).
import { dtypeToOnnx, type DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';
import { onnx } from '../../compiler/onnx/proto.ts';
import { tensorToProto } from '../../compiler/onnx/tensor-proto.ts';

export type DimSpec = number | string;
export interface IOSpec { name: string; dtype: DType; shape?: DimSpec[] }
export interface NodeSpec {
  op: string; inputs: string[]; outputs: string[]; name?: string; domain?: string;
  attrs?: Record<string, number | number[] | string | string[] | Tensor | { floats: number[] } | { float: number }>;
}
export interface ModelSpec {
  inputs: IOSpec[]; outputs: IOSpec[]; nodes: NodeSpec[];
  initializers?: Record<string, Tensor>;
  opset?: number; extraOpsets?: Record<string, number>; name?: string;
}

export function valueInfo(io: IOSpec) {
  return {
    name: io.name,
    type: {
      tensorType: {
        elemType: dtypeToOnnx(io.dtype),
        shape: io.shape ? { dim: io.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
      },
    },
  };
}

function attr(name: string, v: NonNullable<NodeSpec['attrs']>[string]) {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof Tensor) return { name, type: T.TENSOR, t: tensorToProto(v) };
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: Buffer.from(v) };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { name, type: T.STRINGS, strings: (v as string[]).map((s) => Buffer.from(s)) };
    return { name, type: T.INTS, ints: v as number[] };
  }
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  return { name, type: T.FLOAT, f: v.float };
}

export function buildModel(spec: ModelSpec): Uint8Array {
  const graph = {
    name: spec.name ?? 'g',
    input: spec.inputs.map(valueInfo),
    output: spec.outputs.map(valueInfo),
    initializer: Object.entries(spec.initializers ?? {}).map(([n, t]) => tensorToProto(t, n)),
    node: spec.nodes.map((n, i) => ({
      opType: n.op, name: n.name ?? `${n.op}_${i}`, domain: n.domain ?? '', input: n.inputs, output: n.outputs,
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attr(k, v)),
    })),
  };
  const opsetImport = [{ domain: '', version: spec.opset ?? 17 },
    ...Object.entries(spec.extraOpsets ?? {}).map(([domain, version]) => ({ domain, version }))];
  return onnx.ModelProto.encode({ irVersion: 8, producerName: 'tessera-test', opsetImport, graph }).finish();
}
