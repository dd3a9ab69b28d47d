// An erf oracle for the WASM math tests, independent of the reference interpreter's implementation.
/** erf in double precision: its Taylor series below 2.5, the continued fraction for erfc above. */
export function erfRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    let term = a, sum = a;
    for (let n = 1; n < 200; n++) { term *= (-a * a) / n; const t = term / (2 * n + 1); sum += t; if (Math.abs(t) < 1e-18 * Math.abs(sum)) break; }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else if (a < 30) {
    let f = a;
    for (let k = 400; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - Math.exp(-a * a) / (Math.sqrt(Math.PI) * f);
  } else r = 1;
  return x < 0 ? -r : r;
}
