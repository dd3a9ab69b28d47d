// The fuzzer's tolerances: one table, per op class and float dtype. Integer, bool and string results are
// always compared exactly, and NaN positions must match everywhere (a NaN where the reference has a number,
// or the reverse, is a divergence); ±Inf must match exactly; +0 and -0 compare equal.
//
// An element passes when |actual − expected| ≤ atol + rtol·|expected| + sum·bound, where `bound` is the
// node evaluated by the reference interpreter on the absolute values of its float inputs: for sums,
// products and convolutions that is Σ|xᵢ·wᵢ|, the classic forward-error bound of a float accumulation in
// any order (the reference accumulates in float64 and rounds once; other targets accumulate in the
// element type, in their own order). For normalizations it is |scale|·(|x| + |mean|)/sqrt(var + eps),
// the rounding of x·k − mean·k, and for Resize 2·max|x| (bounds.ts). Every check is node-local: a node is evaluated by the reference on
// the inputs the target itself produced, so rounding differences do not compound along a chain.
//
// A tolerance is the precision the op can be expected to have, never a way to hide a mismatch: when a
// target differs on purpose (or the spec leaves a case open), the case goes in the documented table of
// known divergences (divergences.ts), and the generator or the comparison excludes exactly that case.
import type { DType } from '../../ir/dtype.ts';

export type ToleranceClass = 'exact' | 'rounded' | 'transcendental' | 'accumulate' | 'normalize' | 'recurrent';

export interface FuzzTolerance {
  rtol: number;
  atol: number;
  /** Factor of the accumulation bound (the node on |inputs|); 0 when the op does not accumulate. */
  sum: number;
}

type FloatDType = 'f16' | 'bf16' | 'f32' | 'f64';
const t = (rtol: number, atol: number, sum = 0): FuzzTolerance => ({ rtol, atol, sum });
const EXACT = t(0, 0);

export const FUZZ_TOLERANCES: Record<ToleranceClass, { what: string; float: Record<FloatDType, FuzzTolerance> }> = {
  exact: {
    what: 'data movement, comparisons, selection, sign/abs/neg/relu, floor/ceil/round, max/min, fmod, casts: bit-exact (NaN payloads aside)',
    float: { f16: EXACT, bf16: EXACT, f32: EXACT, f64: EXACT },
  },
  rounded: {
    what: 'one correctly rounded operation per element (+ − × ÷ √, affine activations): a few ulps',
    float: { f16: t(1e-3, 1e-7), bf16: t(8e-3, 1e-7), f32: t(1e-5, 1e-6), f64: t(1e-12, 1e-15) },
  },
  transcendental: {
    what: 'exp, log, tanh, sigmoid, erf, pow, trigonometry: targets use vectorized approximations',
    float: { f16: t(2e-3, 1e-4), bf16: t(1.6e-2, 1e-3), f32: t(1e-4, 1e-6), f64: t(1e-10, 1e-14) },
  },
  accumulate: {
    what: 'sums, means, products, matmul/gemm/conv/pool accumulations: order-dependent rounding, bounded by Σ|terms|',
    float: { f16: t(2e-3, 1e-4, 2e-3), bf16: t(1.6e-2, 1e-3, 1.6e-2), f32: t(1e-5, 1e-6, 1e-5), f64: t(1e-11, 1e-14, 1e-11) },
  },
  normalize: {
    what: 'softmax, log-softmax, layer/instance/batch/Lp/mean-variance normalization: a reduction then a transcendental; ' +
      'for the four normalizations with a mean, the bound is |scale|·(|x| + |mean|)/sqrt(var + eps) (bounds.ts)',
    float: { f16: t(1e-2, 1e-3, 4e-3), bf16: t(3e-2, 1e-2, 3e-2), f32: t(1e-4, 1e-5, 1e-6), f64: t(1e-10, 1e-12, 1e-14) },
  },
  recurrent: {
    what: 'RNN, GRU, LSTM: gates of sigmoid/tanh over several steps; tessera rounds the state to the element type ' +
      'after every step, a target may keep it wider (onnxruntime runs f16 recurrences in f32): up to about one f16 ' +
      'ulp of 1 per step (sequences are at most 4 long)',
    float: { f16: t(1e-2, 5e-3), bf16: t(3e-2, 1e-2), f32: t(1e-4, 1e-5), f64: t(1e-10, 1e-12) },
  },
};

/** The tolerance of a result of dtype `d` from an op of class `cls` (exact for non-float results). */
export function toleranceFor(cls: ToleranceClass, d: DType): FuzzTolerance {
  if (d !== 'f16' && d !== 'bf16' && d !== 'f32' && d !== 'f64') return EXACT;
  return FUZZ_TOLERANCES[cls].float[d];
}
