// NumPy .npy (format 1.0/2.0/3.0) reading and writing for tensors, little-endian C order.
import type { DType } from '../ir/dtype.ts';
import { TesseraError } from '../ir/errors.ts';
import { checkShape, Tensor } from '../ir/tensor.ts';
import { decodeValueProto, tensorBytes } from './onnx/tensor-proto.ts';

const DESCR: Record<string, DType> = {
  '|b1': 'bool', '|i1': 'i8', '|u1': 'u8', '<i2': 'i16', '<u2': 'u16', '<i4': 'i32', '<u4': 'u32',
  '<i8': 'i64', '<u8': 'u64', '<f2': 'f16', '<f4': 'f32', '<f8': 'f64',
};

export function readNpy(bytes: Uint8Array, what = '.npy file'): Tensor {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new TesseraError(`${what} is not a .npy file (bad magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + hlen > bytes.length) throw new TesseraError(`${what} is truncated (header)`);
  const header = Buffer.from(bytes.subarray(start, start + hlen)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new TesseraError(`${what} has an unreadable header: ${header.trim()}`);
  if (fortran === 'True') throw new TesseraError(`${what} is in Fortran order, which is not supported`);
  const dtype = DESCR[descr];
  if (!dtype) throw new TesseraError(`${what} has unsupported dtype '${descr}'`);
  const shape = shapeStr.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const n = checkShape(shape, what);
  const body = bytes.subarray(start + hlen);
  const size = { bool: 1, i8: 1, u8: 1, i16: 2, u16: 2, f16: 2, i32: 4, u32: 4, f32: 4, i64: 8, u64: 8, f64: 8 }[dtype as 'u8']!;
  if (body.length < n * size) throw new TesseraError(`${what} is truncated: needs ${n * size} data bytes, has ${body.length}`);
  // Reuse the TensorProto raw decoder by building a minimal TensorProto byte layout is overkill:
  // decode through a temporary TensorProto instead.
  const { onnx } = proto;
  const tp = onnx.TensorProto.encode({ dataType: dtypeCode(dtype), dims: shape, rawData: body.subarray(0, n * size) }).finish();
  return decodeValueProto(tp, undefined, what) as Tensor;
}

export function writeNpy(t: Tensor): Uint8Array {
  if (t.dtype === 'string' || t.dtype === 'bf16') throw new TesseraError(`cannot write ${t.dtype} tensors as .npy`);
  const descr = Object.entries(DESCR).find(([, d]) => d === t.dtype)![0];
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(tensorBytes(t))]);
}

import * as proto from './onnx/proto.ts';
import { dtypeToOnnx as dtypeCode } from '../ir/dtype.ts';
