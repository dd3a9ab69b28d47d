import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, roundF16 } from '../../ir/dtype.ts';

describe('f16 / bf16 conversions', () => {
  it('every f16 bit pattern survives f16 → f32 → f16 (NaNs stay NaN)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = f16BitsToF32(h);
      if (Number.isNaN(f)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(f)))).toBe(true);
      else expect(f32ToF16Bits(f)).toBe(h);
    }
  });
  it('rounds to nearest even, overflows to infinity, underflows through subnormals', () => {
    expect(roundF16(1 + 2 ** -11)).toBe(1); // tie → even
    expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundF16(65520)).toBe(Infinity);
    expect(roundF16(65519)).toBe(65504);
    expect(roundF16(2 ** -25)).toBe(0); // tie with 0 → even (0)
    expect(roundF16(3 * 2 ** -26)).toBe(2 ** -24);
  });
  it('f32 → f16 is monotone (property)', () => {
    fc.assert(fc.property(fc.float({ noNaN: true }), fc.float({ noNaN: true }), (a, b) => {
      const [x, y] = a <= b ? [a, b] : [b, a];
      return roundF16(x) <= roundF16(y);
    }), { numRuns: 2000 });
  });
  it('every bf16 bit pattern survives bf16 → f32 → bf16', () => {
    for (let h = 0; h < 0x10000; h++) {
      const f = bf16BitsToF32(h);
      if (!Number.isNaN(f)) expect(f32ToBf16Bits(f)).toBe(h);
    }
  });
});
