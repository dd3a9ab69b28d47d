import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../compiler/npy.ts';
import { onnx } from '../../compiler/onnx/proto.ts';
import { decodeValueProto, tensorFromProto, tensorToProto } from '../../compiler/onnx/tensor-proto.ts';
import { compareTensors } from '../../compiler/compare.ts';
import type { DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';

const dtypes: DType[] = ['bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f16', 'f32', 'f64'];
const tensorArb = fc.constantFrom(...dtypes).chain((dtype) =>
  fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = dtype === 'bool' ? fc.boolean() : dtype.startsWith('f') ? fc.double({ min: -1000, max: 1000, noNaN: true }) : fc.integer({ min: 0, max: 100 });
    return fc.array(v as fc.Arbitrary<number | boolean>, { minLength: n, maxLength: n }).map((vals) => Tensor.from(dtype, shape, vals));
  }));

describe('tensor I/O round trips', () => {
  it('TensorProto encode → decode is exact for every dtype (property)', () => {
    fc.assert(fc.property(tensorArb, (t) => {
      const bytes = onnx.TensorProto.encode(tensorToProto(t, 'x')).finish();
      const back = decodeValueProto(bytes, undefined, 't') as Tensor;
      expect(compareTensors(back, t, { rtol: 0, atol: 0 })).toBeUndefined();
    }), { numRuns: 300 });
  });
  it('.npy write → read is exact (property)', () => {
    fc.assert(fc.property(tensorArb, (t) => {
      expect(compareTensors(readNpy(writeNpy(t)), t, { rtol: 0, atol: 0 })).toBeUndefined();
    }), { numRuns: 300 });
  });
  it('typed fields (int64_data, int32_data for f16 bits) decode', () => {
    const t = tensorFromProto({ dataType: 7, dims: [3], int64Data: [1, -2, 3] });
    expect(Array.from(t.data as BigInt64Array)).toEqual([1n, -2n, 3n]);
    const h = tensorFromProto({ dataType: 10, dims: [2], int32Data: [0x3c00, 0xc000] });
    expect(Array.from(h.data as Float32Array)).toEqual([1, -2]);
  });
  it('strings round-trip through TensorProto', () => {
    const t = Tensor.from('string', [2], ['héllo', '']);
    const back = tensorFromProto(tensorToProto(t));
    expect(back.data).toEqual(['héllo', '']);
  });
  it('a truncated .npy is a clear error', () => {
    const b = writeNpy(Tensor.from('f32', [4], [1, 2, 3, 4]));
    expect(() => readNpy(b.subarray(0, b.length - 3))).toThrow(/truncated/);
    expect(() => readNpy(new Uint8Array([1, 2, 3]))).toThrow(/not a .npy file/);
  });
});
