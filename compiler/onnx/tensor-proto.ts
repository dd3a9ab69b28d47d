// TensorProto ⇄ Tensor, plus the SequenceProto / OptionalProto forms used by ONNX test data.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, normalize, resolve } from 'node:path';
import {
  bf16BitsToF32, byteSize, dtypeFromOnnx, dtypeToOnnx, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits,
  type DType,
} from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import { checkShape, Tensor, type OptionalValue, type RuntimeValue, type SequenceValue } from '../../ir/tensor.ts';
import type { ValueType } from '../../ir/types.ts';
import { longToBigInt, longToNumber, onnx, Reader, type TensorProto } from './proto.ts';

export interface TensorLoadOptions {
  /** Directory external-data locations are resolved against (the model's folder). */
  baseDir?: string;
}

function tensorDtype(tp: TensorProto, what: string): DType {
  const d = dtypeFromOnnx(tp.dataType ?? 0);
  if (typeof d === 'object') throw new TesseraError(`${what} has unsupported data type ${d.unsupported}`);
  return d;
}

/** Decodes a TensorProto (raw_data, typed fields or external data) into a Tensor. */
export function tensorFromProto(tp: TensorProto, opts: TensorLoadOptions = {}): Tensor {
  const what = `tensor '${tp.name ?? ''}'`;
  const dtype = tensorDtype(tp, what);
  const shape = (tp.dims ?? []).map((d) => longToNumber(d));
  const n = checkShape(shape, what);
  if (tp.segment) throw new TesseraError(`${what} is segmented, which is not supported`);
  let raw: Uint8Array | undefined;
  if (tp.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = readExternal(tp, opts, what);
  else if (tp.rawData && tp.rawData.length > 0) raw = tp.rawData;

  if (dtype === 'string') {
    const vals = (tp.stringData ?? []).map((b) => Buffer.from(b).toString('utf8'));
    if (vals.length !== n) throw new TesseraError(`${what} declares ${n} strings but holds ${vals.length}`);
    return new Tensor('string', shape, vals);
  }
  if (raw) {
    const need = n * byteSize(dtype);
    if (raw.length !== need) {
      throw new TesseraError(`${what} of type ${dtype} and shape [${shape.join(',')}] needs ${need} bytes of data, has ${raw.length}`);
    }
    return new Tensor(dtype, shape, decodeRaw(dtype, raw, n));
  }
  return new Tensor(dtype, shape, decodeTyped(tp, dtype, n, what));
}

function readExternal(tp: TensorProto, opts: TensorLoadOptions, what: string): Uint8Array {
  const kv = new Map((tp.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const loc = kv.get('location');
  if (!loc) throw new TesseraError(`${what} uses external data but names no location`);
  if (isAbsolute(loc) || normalize(loc).startsWith('..')) {
    throw new TesseraError(`${what}: external data location '${loc}' must be a relative path inside the model's folder`);
  }
  if (!opts.baseDir) throw new TesseraError(`${what}: external data '${loc}' cannot be resolved (model was not loaded from a file)`);
  const file = resolve(opts.baseDir, loc);
  if (!existsSync(file)) throw new TesseraError(`${what}: external data file '${loc}' not found beside the model (looked for ${file})`);
  const size = statSync(file).size;
  const offset = Number(kv.get('offset') ?? '0');
  const length = kv.has('length') ? Number(kv.get('length')) : size - offset;
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new TesseraError(`${what}: external data range offset=${offset} length=${length} is outside '${loc}' (${size} bytes)`);
  }
  const buf = readFileSync(file);
  return new Uint8Array(buf.buffer, buf.byteOffset + offset, length);
}

function decodeRaw(dtype: DType, raw: Uint8Array, n: number): Tensor['data'] {
  // Copy into an aligned buffer first: raw_data views are not aligned to the element size.
  const bytes = new Uint8Array(raw.length);
  bytes.set(raw);
  const buf = bytes.buffer;
  switch (dtype) {
    case 'bool': { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = bytes[i] ? 1 : 0; return a; }
    case 'u8': return new Uint8Array(buf);
    case 'i8': return new Int8Array(buf);
    case 'i16': return new Int16Array(buf);
    case 'u16': return new Uint16Array(buf);
    case 'i32': return new Int32Array(buf);
    case 'u32': return new Uint32Array(buf);
    case 'i64': return new BigInt64Array(buf);
    case 'u64': return new BigUint64Array(buf);
    case 'f32': return new Float32Array(buf);
    case 'f64': return new Float64Array(buf);
    case 'f16': case 'bf16': {
      const h = new Uint16Array(buf);
      const out = new Float32Array(n);
      const conv = dtype === 'f16' ? f16BitsToF32 : bf16BitsToF32;
      for (let i = 0; i < n; i++) out[i] = conv(h[i]!);
      return out;
    }
    case 'string': throw new Error('unreachable');
  }
}

function decodeTyped(tp: TensorProto, dtype: DType, n: number, what: string): Tensor['data'] {
  let src: ArrayLike<unknown>;
  switch (dtype) {
    case 'f32': src = tp.floatData ?? []; break;
    case 'f64': src = tp.doubleData ?? []; break;
    case 'i64': src = tp.int64Data ?? []; break;
    case 'u32': case 'u64': src = tp.uint64Data ?? []; break;
    default: src = tp.int32Data ?? []; // bool, (u)int8/16, int32, f16/bf16 bits
  }
  if (src.length !== n) {
    throw new TesseraError(`${what} of shape [${(tp.dims ?? []).join(',')}] declares ${n} elements but holds ${src.length}`);
  }
  const out = Tensor.zeros(dtype, [n]).data as any;
  for (let i = 0; i < n; i++) {
    const v = src[i];
    if (dtype === 'i64') out[i] = longToBigInt(v);
    else if (dtype === 'u64') out[i] = longToBigInt(v, true);
    else if (dtype === 'u32') out[i] = longToNumber(v) >>> 0;
    else if (dtype === 'f16') out[i] = f16BitsToF32(longToNumber(v) & 0xffff);
    else if (dtype === 'bf16') out[i] = bf16BitsToF32(longToNumber(v) & 0xffff);
    else if (dtype === 'bool') out[i] = longToNumber(v) ? 1 : 0;
    else out[i] = longToNumber(v);
  }
  return out;
}

/** Encodes a Tensor as a TensorProto (raw_data for numbers, string_data for strings). */
export function tensorToProto(t: Tensor, name = ''): InstanceType<typeof onnx.TensorProto> {
  const tp = new onnx.TensorProto({ name, dataType: dtypeToOnnx(t.dtype), dims: t.shape.slice() });
  if (t.dtype === 'string') {
    tp.stringData = (t.data as string[]).map((s) => Buffer.from(s, 'utf8'));
    return tp;
  }
  tp.rawData = tensorBytes(t);
  return tp;
}

/** The little-endian bytes of a numeric tensor as ONNX raw_data / .npy store them. */
export function tensorBytes(t: Tensor): Uint8Array {
  const n = t.size;
  if (t.dtype === 'f16' || t.dtype === 'bf16') {
    const h = new Uint16Array(n);
    const conv = t.dtype === 'f16' ? f32ToF16Bits : f32ToBf16Bits;
    const src = t.data as Float32Array;
    for (let i = 0; i < n; i++) h[i] = conv(src[i]!);
    return new Uint8Array(h.buffer);
  }
  const d = t.data as Exclude<Tensor['data'], string[]>;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

export function decodeTensorProtoBytes(bytes: Uint8Array, what = 'tensor file'): Tensor {
  let tp: TensorProto;
  try { tp = onnx.TensorProto.decode(bytes); } catch (e) {
    throw new TesseraError(`${what} is not a valid TensorProto: ${(e as Error).message}`);
  }
  return tensorFromProto(tp);
}

// ----- SequenceProto / OptionalProto (onnx-data.proto; not in onnx-proto, decoded by hand) -----
const ELEM_TENSOR = 1;

function decodeSequence(bytes: Uint8Array, what: string): SequenceValue {
  const r = Reader.create(bytes);
  const items: Tensor[] = [];
  let elemType = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: r.string(); break;
      case 2: elemType = r.int32(); break;
      case 3: items.push(tensorFromProto(onnx.TensorProto.decode(r.bytes()))); break;
      default:
        if ((tag >>> 3) >= 4 && (tag >>> 3) <= 7) throw new TesseraError(`${what}: nested sequences/maps/optionals inside a sequence are not supported`);
        r.skipType(tag & 7);
    }
  }
  if (elemType !== ELEM_TENSOR && elemType !== 0) throw new TesseraError(`${what}: sequence element type ${elemType} not supported`);
  return { kind: 'sequence', dtype: items[0]?.dtype, items };
}

function decodeOptional(bytes: Uint8Array, what: string): OptionalValue {
  const r = Reader.create(bytes);
  let value: OptionalValue['value'];
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: r.string(); break;
      case 2: r.int32(); break;
      case 3: value = tensorFromProto(onnx.TensorProto.decode(r.bytes())); break;
      case 5: value = decodeSequence(r.bytes(), what); break;
      default: r.skipType(tag & 7);
    }
  }
  return { kind: 'optional', value };
}

/**
 * Reads a serialized value (.pb) whose kind follows the expected type: TensorProto, SequenceProto or
 * OptionalProto. Without an expected type a TensorProto is assumed.
 */
export function decodeValueProto(bytes: Uint8Array, expected: ValueType | undefined, what: string): RuntimeValue {
  try {
    if (expected?.kind === 'sequence') return decodeSequence(bytes, what);
    if (expected?.kind === 'optional') return decodeOptional(bytes, what);
    const t = decodeTensorProtoBytes(bytes, what);
    // ONNX ≤ 1.13 wrote bfloat16 test data as uint16 tensors holding the bf16 bits: read them as bf16.
    if (expected?.kind === 'tensor' && expected.dtype === 'bf16' && t.dtype === 'u16') {
      return new Tensor('bf16', t.shape, Float32Array.from(t.data as Uint16Array, bf16BitsToF32));
    }
    return t;
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    throw new TesseraError(`${what} could not be decoded: ${(e as Error).message}`);
  }
}

