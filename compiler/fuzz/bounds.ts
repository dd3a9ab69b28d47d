// Node-specific error bounds for the 'sum' term of a tolerance (tolerance.ts), where evaluating the node on
// |inputs| is not a bound. A normalization y = scale·(x − mean)/sqrt(var + eps) + B computed in precision u
// (a target may form x·k − mean·k with k = scale/sqrt(var + eps)) is off by about
// u·|scale|·(|x| + |mean|)/sqrt(var + eps): large where a slice is nearly constant and far from 0.
// An interpolation (Resize) is off by about u·Σ|wᵢ|·max|x| ≤ u·2·max|x| (cubic weights can be negative).
import type { Node } from '../../ir/graph.ts';
import { stridesOf, type RuntimeValue, type Tensor } from '../../ir/tensor.ts';

const num = (t: Tensor, i: number) => Number(t.data[i]);

function attrFloat(node: Node, name: string, fallback: number): number {
  const a = node.attrs.get(name);
  return a && (a.kind === 'float' || a.kind === 'int') ? a.value : fallback;
}
function attrInts(node: Node, name: string): number[] | undefined {
  const a = node.attrs.get(name);
  return a?.kind === 'ints' ? a.value : a?.kind === 'int' ? [a.value] : undefined;
}

/** Per element, the standard deviation of its slice over `axes` (population variance). */
export function sliceStd(x: Tensor, axes: readonly number[]): Float64Array {
  const out = normalizationBound(x, axes, 0, () => 1, true, true);
  return out;
}

/** |scale(i)|·(|x_i| + |mean|)/sqrt(var + eps), with mean and variance over `axes` (population variance). */
export function normalizationBound(x: Tensor, axes: readonly number[], eps: number, scale: (i: number, idx: number[]) => number,
  addEpsToStd = false, stdOnly = false): Float64Array {
  const r = x.rank, n = x.size;
  const st = stridesOf(x.shape);
  const reduced = new Set(axes.map((a) => (a < 0 ? a + r : a)));
  const keyOf = (i: number, idx: number[]) => {
    let k = 0;
    for (let d = 0; d < r; d++) { idx[d] = Math.floor(i / st[d]!) % x.shape[d]!; if (!reduced.has(d)) k = k * x.shape[d]! + idx[d]!; }
    return k;
  };
  const sums = new Map<number, [number, number, number]>();
  const idx = new Array<number>(r).fill(0);
  for (let i = 0; i < n; i++) {
    const k = keyOf(i, idx), v = num(x, i);
    const s = sums.get(k) ?? [0, 0, 0];
    s[0] += v; s[1] += v * v; s[2]++;
    sums.set(k, s);
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [s, s2, c] = sums.get(keyOf(i, idx))!;
    const mean = s / c, variance = Math.max(0, s2 / c - mean * mean);
    const denom = addEpsToStd ? Math.sqrt(variance) + eps : Math.sqrt(variance + eps);
    if (stdOnly) { out[i] = Math.sqrt(variance); continue; }
    out[i] = Math.abs(scale(i, idx)) * (Math.abs(num(x, i)) + Math.abs(mean)) / denom;
  }
  return out;
}

/** The axes attribute of MeanVarianceNormalization (default [0, 2, 3]). */
export const mvnAxes = (node: Node): number[] => attrInts(node, 'axes') ?? [0, 2, 3];

const tensorAt = (inputs: readonly (RuntimeValue | undefined)[], i: number) => {
  const v = inputs[i];
  return v?.kind === 'tensor' ? v : undefined;
};

/** The bound of a normalization (or interpolation) node's first output at element i; undefined for other ops. */
export function nodeBound(node: Node, inputs: readonly (RuntimeValue | undefined)[]): ((i: number) => number) | undefined {
  const x = tensorAt(inputs, 0);
  if (!x || x.size === 0) return undefined;
  const r = x.rank;
  const of = (a: Float64Array) => (i: number) => a[i]!;
  switch (node.op) {
    case 'InstanceNormalization': {
      const s = tensorAt(inputs, 1)!;
      return of(normalizationBound(x, Array.from({ length: r - 2 }, (_, i) => i + 2), attrFloat(node, 'epsilon', 1e-5), (_i, idx) => num(s, idx[1]!)));
    }
    case 'BatchNormalization': {
      const [s, mean, variance] = [tensorAt(inputs, 1)!, tensorAt(inputs, 3)!, tensorAt(inputs, 4)!];
      const eps = attrFloat(node, 'epsilon', 1e-5);
      const st = stridesOf(x.shape);
      return (i) => {
        const c = Math.floor(i / st[1]!) % x.shape[1]!;
        return Math.abs(num(s, c)) * (Math.abs(num(x, i)) + Math.abs(num(mean, c))) / Math.sqrt(Math.max(0, num(variance, c)) + eps);
      };
    }
    case 'LayerNormalization': {
      const s = tensorAt(inputs, 1)!;
      const axisAttr = node.attrs.get('axis');
      const axis = axisAttr?.kind === 'int' ? (axisAttr.value < 0 ? axisAttr.value + r : axisAttr.value) : r - 1;
      return of(normalizationBound(x, Array.from({ length: r - axis }, (_, i) => i + axis), attrFloat(node, 'epsilon', 1e-5),
        (i) => num(s, i % s.size)));
    }
    case 'MeanVarianceNormalization':
      return of(normalizationBound(x, mvnAxes(node), 1e-9, () => 1, true));
    case 'Resize': {
      // Interpolation weights have magnitudes summing to at most 2 (cubic's negative lobes): 2·max|x|.
      let m = 0;
      for (let i = 0; i < x.size; i++) m = Math.max(m, Math.abs(num(x, i)));
      return () => 2 * m;
    }
    default:
      return undefined;
  }
}
