// Output comparison with the tolerances of ONNX's backend tests (rtol 1e-3, atol 1e-7 by default).
import { isFloat } from '../ir/dtype.ts';
import { describeValue, type RuntimeValue, type Tensor } from '../ir/tensor.ts';

export interface Tolerance { rtol: number; atol: number }
export const ONNX_TOLERANCE: Tolerance = { rtol: 1e-3, atol: 1e-7 };

/** Returns undefined when equal within tolerance, else a reason naming the first mismatch. */
export function compareValues(actual: RuntimeValue | undefined, expected: RuntimeValue | undefined, tol = ONNX_TOLERANCE): string | undefined {
  if (actual === undefined || expected === undefined) {
    return actual === expected ? undefined : `expected ${describeValue(expected)}, got ${describeValue(actual)}`;
  }
  if (expected.kind === 'tensor') {
    if (actual.kind !== 'tensor') return `expected a tensor, got ${describeValue(actual)}`;
    return compareTensors(actual, expected, tol);
  }
  if (expected.kind === 'sequence') {
    if (actual.kind !== 'sequence') return `expected a sequence, got ${describeValue(actual)}`;
    if (actual.items.length !== expected.items.length) return `sequence length ${actual.items.length}, expected ${expected.items.length}`;
    for (let i = 0; i < expected.items.length; i++) {
      const r = compareTensors(actual.items[i]!, expected.items[i]!, tol);
      if (r) return `sequence item ${i}: ${r}`;
    }
    return undefined;
  }
  if (actual.kind !== 'optional') {
    // An optional output whose value is present compares equal to the bare value.
    return compareValues(actual, expected.value, tol);
  }
  return compareValues(actual.value, expected.value, tol);
}

export function compareTensors(a: Tensor, e: Tensor, tol = ONNX_TOLERANCE): string | undefined {
  if (a.dtype !== e.dtype) return `dtype ${a.dtype}, expected ${e.dtype}`;
  if (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape[i])) {
    return `shape [${a.shape.join(',')}], expected [${e.shape.join(',')}]`;
  }
  const n = e.size;
  let bad = 0, first = -1, worst = 0;
  const fl = isFloat(e.dtype);
  for (let i = 0; i < n; i++) {
    const x = a.data[i]!, y = e.data[i]!;
    let ok: boolean;
    if (fl) {
      const xf = x as number, yf = y as number;
      if (Number.isNaN(yf)) ok = Number.isNaN(xf);
      else if (!Number.isFinite(yf)) ok = xf === yf;
      else {
        const err = Math.abs(xf - yf);
        ok = err <= tol.atol + tol.rtol * Math.abs(yf);
        if (!ok) worst = Math.max(worst, err);
      }
    } else ok = x === y;
    if (!ok) { bad++; if (first < 0) first = i; }
  }
  if (bad === 0) return undefined;
  const fmt = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
  return `${bad}/${n} elements differ; first at flat index ${first}: got ${fmt(a.data[first])}, expected ${fmt(e.data[first])}` +
    (fl ? `; max abs error ${worst.toPrecision(3)}` : '');
}
