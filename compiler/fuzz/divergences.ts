// Known divergences: cases where a target and the reference interpreter differ and the reference is not
// wrong: ONNX leaves the case undefined or open (tessera then follows ONNX's own reference implementation),
// or the target has a bug or a limitation of its own. Each entry says why, and how the fuzzer keeps it out:
//   generator   ops.ts never builds the case (the domain of an input or an attribute excludes it);
//   comparison  the elements that hit it are not compared (`exclude` says which), and are counted;
//   unsupported the target refuses the case with this error (`error`): the case counts as unsupported
//               there; or, with `dtypes`, the target is never asked to run the op on those dtypes.
// An entry is never a tolerance: it names the exact case. A mismatch outside these is a divergence.
import { byteSize, isInt, isSigned, roundBf16, roundF16, type DType } from '../../ir/dtype.ts';
import type { Node } from '../../ir/graph.ts';
import { Tensor, type RuntimeValue } from '../../ir/tensor.ts';
import { mvnAxes, sliceStd } from './bounds.ts';

export interface KnownDivergence {
  id: string;
  /** The ops it concerns ('*': every op; only for 'comparison' entries). */
  ops: readonly string[];
  /** Targets it concerns ('*': every target). */
  targets: readonly string[];
  handling: 'generator' | 'comparison' | 'unsupported';
  reason: string;
  /** For 'comparison': which elements of output `k` hit the case (undefined: none; 'node': all of them). */
  exclude?(ctx: ExcludeContext): ((k: number, i: number) => boolean) | 'node' | undefined;
  /** For 'unsupported': the target's error message. */
  error?: RegExp;
  /** For 'unsupported': the op's dtypes the target is not asked to run. */
  dtypes?: readonly DType[];
}

export interface ExcludeContext {
  node: Node;
  inputs: readonly (RuntimeValue | undefined)[];
  /** The reference's results of the node on these inputs. */
  expected: readonly (Tensor | undefined)[];
  /** The target's results. */
  actual: readonly (RuntimeValue | undefined)[];
  /** The reference semantics of the node on other inputs. */
  evaluate(inputs: readonly (RuntimeValue | undefined)[]): readonly (RuntimeValue | undefined)[];
}

/** Integer ops that accumulate, and which of their inputs are data (the rest are axes). */
const INTEGER_ACCUMULATORS = new Map<string, number[]>([
  ['ReduceSum', [0]], ['ReduceSumSquare', [0]], ['ReduceL1', [0]], ['ReduceL2', [0]], ['ReduceMean', [0]], ['ReduceProd', [0]],
  ['CumSum', [0]], ['MatMul', [0, 1]], ['Gemm', [0, 1, 2]], ['Einsum', [0, 1, 2]],
]);

const isNaNAt = (t: RuntimeValue | undefined, i: number) => t?.kind === 'tensor' && Number.isNaN(t.data[i] as number);
const floatTensor = (v: RuntimeValue | undefined): v is Tensor => v?.kind === 'tensor' && v.data instanceof Float32Array || v?.kind === 'tensor' && v.data instanceof Float64Array;

/**
 * The elements whose value depends on a NaN input (for max/min kernels, whose NaN handling is order-
 * dependent): the node is evaluated with every NaN as +Inf (resp. -Inf) and every other value as 0, so a
 * result that is not 0 was reached by a NaN.
 */
function nanReach(ctx: ExcludeContext): ((k: number, i: number) => boolean) | undefined {
  if (!ctx.inputs.some((v) => floatTensor(v) && (v.data as Float32Array).some(Number.isNaN))) return undefined;
  const taint = (fill: number) => ctx.evaluate(ctx.inputs.map((v) => {
    if (!floatTensor(v)) return v;
    const data = (v.data as Float32Array).map((x) => (Number.isNaN(x) ? fill : 0));
    return new Tensor(v.dtype, v.shape, data);
  }));
  const hi = taint(Infinity), lo = taint(-Infinity);
  const reached = (i: number) => [hi[0], lo[0]].some((t) => t?.kind === 'tensor' && t.data[i] !== 0);
  return (_k, i) => reached(i);
}

/** Is x an f32/f64 value WGSL lets an implementation mishandle: ±Inf, NaN, or subnormal in f32? */
const offFinite = (x: number) => !Number.isFinite(x) || (x !== 0 && Math.abs(x) < 2 ** -126);

export const KNOWN_DIVERGENCES: readonly KnownDivergence[] = [
  // ---------- Limitations of a target ----------
  {
    id: 'webgpu-finite-math', ops: ['*'], targets: ['webgpu'], handling: 'comparison',
    reason: 'WGSL lets an implementation flush subnormal f32 values to zero and assume finite math (no IEEE ' +
      'Inf/NaN rules on computed values); SwiftShader does both. Nodes with a non-finite or subnormal float input, ' +
      'and elements whose reference result is one, are not compared on webgpu (counted as excluded)',
    exclude(ctx) {
      const bad = (v: RuntimeValue | undefined) => floatTensor(v) && Array.prototype.some.call(v.data, offFinite);
      if (ctx.inputs.some(bad)) return 'node';
      if (!ctx.expected.some(bad)) return undefined;
      return (k, i) => { const t = ctx.expected[k]; return !!t && floatTensor(t) && offFinite(t.data[i] as number); };
    },
  },
  {
    id: 'webgpu-f64-formula-on-integers', ops: ['Shrink', 'Pow', 'ReduceMean', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'QuantizeLinear', 'DequantizeLinear', 'Resize'],
    targets: ['webgpu'], handling: 'comparison',
    reason: 'the lowering evaluates these ops on integer tensors through f64, which WebGPU computes in f32 (WGSL has ' +
      'no 64-bit floats): exact only while the integers stay below 2^24. Nodes with a larger integer are not compared on webgpu',
    exclude(ctx) {
      const big = (v: RuntimeValue | undefined) => v?.kind === 'tensor' && isInt(v.dtype)
        && Array.prototype.some.call(v.data, (x: number | bigint) => Math.abs(Number(x)) >= 2 ** 24);
      return ctx.inputs.some(big) || ctx.expected.some(big) ? 'node' : undefined;
    },
  },
  // ---------- Undefined or open in ONNX: the generator never builds these (for every target) ----------
  {
    id: 'integer-division-by-zero', ops: ['Div', 'Mod'], targets: ['*'], handling: 'generator',
    reason: 'integer division or remainder by zero is undefined in ONNX; tessera raises an error, onnxruntime ' +
      'executes the C++ division (x86 traps with SIGFPE and kills the process). Integer divisors are nonzero.',
  },
  {
    id: 'integer-division-overflow', ops: ['Div', 'Mod'], targets: ['*'], handling: 'generator',
    reason: 'INT_MIN / -1 and INT_MIN % -1 overflow (undefined in C++, a SIGFPE trap on x86). Signed integer ' +
      'dividends never hold the type\'s minimum.',
  },
  {
    id: 'float-to-int-cast-out-of-range', ops: ['Cast', 'CastLike'], targets: ['*'], handling: 'generator',
    reason: 'casting NaN, ±Inf or a float outside the integer type\'s range is undefined in ONNX (and in C++); ' +
      'float inputs of float→integer casts lie inside the target type\'s range.',
  },
  {
    id: 'shift-by-type-width', ops: ['BitShift'], targets: ['*'], handling: 'generator',
    reason: 'shifting by the type\'s bit width or more is undefined in C++; shift amounts are in [0, bits − 1].',
  },
  {
    id: 'integer-pow-range', ops: ['Pow'], targets: ['*'], handling: 'generator',
    reason: 'integer Pow with a negative exponent, or a result outside the type, is undefined; integer bases are ' +
      'in [-4, 4] and exponents in [0, 5].',
  },
  {
    id: 'topk-nan-and-unsorted', ops: ['TopK'], targets: ['*'], handling: 'generator',
    reason: 'ONNX does not order NaN in TopK, and sorted=0 leaves the order open: inputs are finite and sorted=1.',
  },
  {
    id: 'clip-min-above-max', ops: ['Clip'], targets: ['*'], handling: 'generator',
    reason: 'Clip with min > max changed meaning across opsets; generated bounds satisfy min ≤ max.',
  },
  {
    id: 'accumulation-overflow', ops: ['ReduceSum', 'ReduceMean', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare',
      'ReduceLogSum', 'ReduceLogSumExp', 'Sum', 'Mean', 'CumSum', 'MatMul', 'Gemm', 'Conv', 'AveragePool', 'LpPool',
      'GlobalAveragePool', 'Softmax', 'LogSoftmax', 'BatchNormalization', 'InstanceNormalization', 'LayerNormalization',
      'LpNormalization', 'MeanVarianceNormalization', 'ArgMax', 'ArgMin'], targets: ['*'], handling: 'generator',
    reason: 'whether a float accumulation overflows to ±Inf, or where NaN enters a sum, depends on the precision and ' +
      'order of the accumulator (tessera accumulates in float64): these ops get finite, moderate inputs.',
  },
  {
    id: 'split-empty-last-chunk', ops: ['Split'], targets: ['*'], handling: 'generator',
    reason: 'Split with num_outputs where the last chunk would be empty is not specified by ONNX 18 (onnxruntime ' +
      'refuses num_outputs above the axis length, even 1 on an empty axis); num_outputs ≤ the axis length.',
  },
  {
    id: 'same-padding-negative', ops: ['Conv', 'MaxPool', 'AveragePool', 'LpPool'], targets: ['*'], handling: 'generator',
    reason: 'with auto_pad SAME_* and a stride larger than the dilated kernel, the total padding formula goes negative, ' +
      'which ONNX does not define: tessera pads nothing, onnxruntime refuses some such nodes ("padding values must be ' +
      'non-negative") and crops others. SAME_* is generated with strides ≤ the dilated kernel.',
  },
  {
    id: 'pool-pads-below-kernel', ops: ['MaxPool', 'AveragePool', 'LpPool'], targets: ['*'], handling: 'generator',
    reason: 'pooling pads must be smaller than the kernel (onnxruntime: "Pad should be smaller than kernel"; a pad ' +
      'as large as the dilated kernel makes windows that hold only padding). Generated pads are below the kernel size.',
  },
  {
    id: 'pool-window-of-padding-only', ops: ['MaxPool', 'AveragePool', 'LpPool'], targets: ['*'], handling: 'generator',
    reason: 'with dilations, a pooling window can hold only padding (taps at -1 and +1 of a length-1 axis); its max, ' +
      'mean and argmax are undefined (onnxruntime returns arbitrary indices). Pool inputs are at least as long as ' +
      'the dilated kernel, which keeps every window on the input.',
  },
  {
    id: 'conv-transpose-output-padding', ops: ['ConvTranspose'], targets: ['*'], handling: 'generator',
    reason: 'ONNX says output_padding must be "less than the corresponding stride/dilation"; onnxruntime requires it ' +
      'below the stride (and refuses output_padding 1 with stride 1, dilation 2). Generated output_padding is below the stride.',
  },
  {
    id: 'conv-transpose-empty-output', ops: ['ConvTranspose'], targets: ['*'], handling: 'generator',
    reason: 'pads that leave a ConvTranspose output dim ≤ 0: tessera returns an empty tensor for 0, onnxruntime ' +
      'refuses ("Computed output dimension is <= 0"). Generated ConvTranspose outputs have every dim ≥ 1.',
  },
  {
    id: 'onehot-scalar-indices', ops: ['OneHot'], targets: ['*'], handling: 'generator',
    reason: 'ONNX\'s shape inference (and onnxruntime) want OneHot indices of rank ≥ 1; tessera also takes a scalar.',
  },
  {
    id: 'shrink-integer-result-out-of-range', ops: ['Shrink'], targets: ['kernel', 'wasm', 'cuda'], handling: 'comparison',
    reason: 'Shrink on integers is a float formula (x ± the float bias, computed in float64 as ONNX\'s numpy reference ' +
      'does) converted back; when that float lies outside the integer type (x near the limits of int64: float64 ' +
      'rounds 2^63 − 2 up to 2^63), the conversion is undefined in ONNX as in C++ and numpy. The reference wraps it ' +
      '(2^63 → −2^63, as x86 and numpy do), the kernel IR\'s float→int casts saturate (2^63 − 1). Those elements ' +
      'are not compared (they come from chained integer arithmetic, which the generator cannot bound).',
    exclude: ({ node, inputs }) => {
      const x = inputs[0];
      if (x?.kind !== 'tensor' || !isInt(x.dtype)) return undefined;
      const num = (name: string, d: number) => { const a = node.attrs.get(name); return a?.kind === 'float' ? a.value : d; };
      const bias = num('bias', 0), lambd = num('lambd', 0.5);
      const bits = 8 * byteSize(x.dtype), signed = isSigned(x.dtype);
      const lo = signed ? -(2 ** (bits - 1)) : 0, hi = signed ? 2 ** (bits - 1) : 2 ** bits;
      return (k, i) => {
        const v = Number(x.data[i]);
        const f = v < -lambd ? v + bias : v > lambd ? v - bias : 0;
        return k === 0 && !(f >= lo && f < hi);
      };
    },
  },
  // ---------- Open in ONNX, where tessera follows ONNX's reference implementation (numpy) and onnxruntime differs ----------
  {
    id: 'lpnormalization-zero-norm', ops: ['LpNormalization'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'a slice whose Lp norm is 0 divides 0 by 0: tessera returns NaN, as ONNX\'s reference implementation ' +
      '(x / norm) does; onnxruntime returns 0. ONNX does not say which.',
    exclude: ({ inputs, expected, actual }) => {
      const x = inputs[0], y = actual[0];
      if (x?.kind !== 'tensor' || y?.kind !== 'tensor') return undefined;
      return (k, i) => k === 0 && isNaNAt(expected[0], i) && y.data[i] === 0 && x.data[i] === 0;
    },
  },
  {
    id: 'mvn-epsilon', ops: ['MeanVarianceNormalization'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'ONNX defines MVN as (X − mean) / (sqrt(variance) + 1e-9), so a slice with zero variance (a size-1 axis, ' +
      'or equal values) gives 0, which tessera returns; onnxruntime divides by sqrt(variance) alone (NaN there, and ' +
      '±1 instead of ±0.998 when the deviation is 1e-6). Elements of slices whose deviation is below 1e-5 (where ' +
      'the 1e-9 matters at the tolerance) are not compared.',
    exclude: ({ node, inputs }) => {
      const x = inputs[0];
      if (x?.kind !== 'tensor' || x.size === 0) return undefined;
      const std = sliceStd(x, mvnAxes(node));
      return (k, i) => k === 0 && std[i]! < 1e-5;
    },
  },
  {
    id: 'clip-infinity-without-bounds', ops: ['Clip'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'Clip without max (or min) on ±Inf: the ONNX text says an absent bound is the type\'s max (lowest), so ' +
      'onnxruntime returns ±max; ONNX\'s reference implementation does not clip at all and returns ±Inf, as tessera does.',
    exclude: ({ node, inputs, expected }) => {
      const x = inputs[0];
      if (x?.kind !== 'tensor') return undefined;
      return (k, i) => k === 0 && !Number.isFinite(x.data[i] as number) && !Number.isNaN(x.data[i] as number) && expected[0]?.data[i] === x.data[i] &&
        (node.inputs[1] == null || node.inputs[2] == null);
    },
  },
  {
    id: 'resize-fractional-output-length', ops: ['Resize'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'align_corners and pytorch_half_pixel divide by the resized length; when input·scale is not an integer, ' +
      'ONNX\'s reference (and tessera) use that real length (4.5 for 6 × 0.75), onnxruntime the integer output ' +
      'length (4). Such Resize nodes are not compared.',
    exclude: ({ node, inputs }) => {
      const coord = node.attrs.get('coordinate_transformation_mode');
      if (coord?.kind !== 'string' || !['align_corners', 'pytorch_half_pixel'].includes(coord.value)) return undefined;
      const x = inputs[0], scales = inputs[2];
      if (x?.kind !== 'tensor' || scales?.kind !== 'tensor' || scales.size === 0) return undefined;
      return x.shape.some((d, i) => !Number.isInteger(d * Number(scales.data[i]))) ? 'node' : undefined;
    },
  },
  {
    id: 'resize-unit-scale-half-pixel-for-nn', ops: ['Resize'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'tf_half_pixel_for_nn maps output o to input (o + 0.5) / scale, so on an axis of scale 1 nearest_mode ceil ' +
      'reads the next element: tessera applies the formula on every axis (as ONNX\'s reference does), onnxruntime ' +
      'copies axes of scale 1 unchanged. Such nodes are not compared.',
    exclude: ({ node, inputs, expected }) => {
      const coord = node.attrs.get('coordinate_transformation_mode');
      const x = inputs[0], y = expected[0];
      if (coord?.kind !== 'string' || coord.value !== 'tf_half_pixel_for_nn' || x?.kind !== 'tensor' || !y) return undefined;
      return x.shape.some((d, i) => d > 1 && y.shape[i] === d) ? 'node' : undefined;
    },
  },
  {
    id: 'slice-negative-step-max-end', ops: ['Slice'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'Slice with a negative step and an end equal to the index type\'s maximum (INT32_MAX for int32 indices, ' +
      'INT64_MAX for int64): ONNX clamps the end into [-1, dim-1] (tessera: an empty slice from start 0), onnxruntime ' +
      'reads the sentinel as "to the beginning". Such nodes are not compared.',
    exclude: ({ inputs }) => {
      const ends = inputs[2], steps = inputs[4];
      if (ends?.kind !== 'tensor' || steps?.kind !== 'tensor') return undefined;
      const max = ends.dtype === 'i32' ? 2 ** 31 - 1 : 2 ** 63 - 1;
      return ends.toNumbers().some((e, i) => e >= max && steps.num(i) < 0) ? 'node' : undefined;
    },
  },
  {
    id: 'nan-in-max', ops: ['ReduceMax', 'ReduceMin', 'MaxPool', 'GlobalMaxPool', 'Max', 'Min'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'a NaN among the values a max/min picks from: ONNX does not say what results. tessera propagates NaN in ' +
      'ReduceMax/Min and Max/Min (as ONNX\'s numpy reference does) and skips it in pooling windows; onnxruntime\'s ' +
      'SIMD kernels keep or drop the NaN, and can even drop a neighbouring ±Inf, depending on lane order. ' +
      'Results a NaN can reach are not compared.',
    exclude: nanReach,
  },
  {
    id: 'nan-in-argmax', ops: ['Hardmax', 'ArgMax', 'ArgMin'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'the position of the maximum of values that include NaN is not defined by ONNX (tessera and onnxruntime ' +
      'pick different ones); such nodes are not compared.',
    exclude: ({ inputs }) => (inputs.some((v) => floatTensor(v) && (v.data as Float32Array).some(Number.isNaN)) ? 'node' : undefined),
  },
  {
    id: 'quantize-nan', ops: ['QuantizeLinear'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'QuantizeLinear of NaN is not defined by ONNX (rounding NaN to an integer): tessera gives the zero point, ' +
      'onnxruntime the type\'s lowest value.',
    exclude: ({ inputs }) => {
      const x = inputs[0];
      if (!floatTensor(x)) return undefined;
      return (k, i) => k === 0 && Number.isNaN(x.data[i] as number);
    },
  },
  {
    id: 'integer-accumulation-overflow', ops: [...INTEGER_ACCUMULATORS.keys()], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'an integer sum, product or matrix product whose running value overflows the type: tessera wraps around ' +
      '(two\'s complement, like every integer op), onnxruntime does not (it saturates, or returns INT_MIN, even when ' +
      'a later 0 makes a product 0), and its int64 products go through double, losing the low bits beyond 2^53 ' +
      '(an onnxruntime imprecision). ONNX does not say how integers overflow. Results whose magnitude bound (the node ' +
      'on |x| in float64; for products with zeros as 1) reaches 2^31 (2^53 for 64-bit types) are not compared.',
    exclude: ({ node, inputs, evaluate }) => {
      const data = INTEGER_ACCUMULATORS.get(node.op)!;
      const x = inputs[0];
      if (x?.kind !== 'tensor' || x.dtype.startsWith('f') || x.dtype === 'bool') return undefined;
      const product = node.op === 'ReduceProd';
      const mags = inputs.map((v, i) => {
        if (!data.includes(i) || v?.kind !== 'tensor') return v;
        return new Tensor('f64', v.shape, Float64Array.from(v.data as ArrayLike<number | bigint>, (e) => {
          const m = Math.abs(Number(e));
          return product ? Math.max(1, m) : m;
        }));
      });
      const bound = evaluate(mags)[0];
      if (bound?.kind !== 'tensor') return undefined;
      const limit = x.dtype === 'i64' || x.dtype === 'u64' ? 2 ** 53 : 2 ** 31;
      return (k, i) => k === 0 && Math.abs(Number(bound.data[i])) >= limit;
    },
  },
  {
    id: 'ill-conditioned-log-sum', ops: ['ReduceLogSum'], targets: ['*'], handling: 'comparison',
    reason: 'log of a sum that cancels to about 0: any accumulation order may flip its sign (NaN in one, a finite ' +
      'value in the other) or change its magnitude arbitrarily. Elements whose sum is below 1e-4·Σ|x| are not compared.',
    exclude: ({ inputs, expected, evaluate }) => {
      const x = inputs[0];
      if (!floatTensor(x)) return undefined;
      const abs = evaluate([new Tensor(x.dtype, x.shape, (x.data as Float32Array).map(Math.abs)), ...inputs.slice(1)])[0];
      if (abs?.kind !== 'tensor') return undefined;
      return (k, i) => {
        const y = expected[0]?.data[i] as number;
        return k === 0 && (Number.isNaN(y) || Math.exp(y) <= 1e-4 * Math.exp(abs.data[i] as number));
      };
    },
  },
  // ---------- onnxruntime bugs and imprecisions (tessera is right by the ONNX spec) ----------
  {
    id: 'gather-strings', ops: ['Gather'], targets: ['onnxruntime'], handling: 'unsupported', dtypes: ['string'],
    reason: 'onnxruntime\'s Gather on string tensors copies only the first string of each gathered slice and leaves ' +
      'the others empty (Gather(["a","b"] of shape [1,2], 0) gives ["a",""]): an onnxruntime bug.',
  },
  {
    id: 'reduce-empty-axis-shape', ops: ['ReduceSum', 'ReduceMean', 'ReduceProd', 'ReduceMax', 'ReduceMin', 'ReduceL1', 'ReduceL2',
      'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp'], targets: ['onnxruntime'], handling: 'generator',
    reason: 'reducing an empty tensor: onnxruntime keeps a reduced axis of size 0 at size 0 (ReduceSum over axis 1 of ' +
      '[1,0] gives shape [1,0]), where ONNX reduces it to 1 with the reduction\'s identity (shape [1,1], 0 for a sum); ' +
      'the wrong shape then breaks the nodes after it; and it gives 0 for the mean of nothing, tessera NaN (0/0, as ' +
      'numpy). Reductions get non-empty inputs.',
  },
  {
    id: 'max-pool-of-minus-infinity', ops: ['MaxPool', 'GlobalMaxPool'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'a pooling window that holds only -Inf: onnxruntime starts its max at the lowest finite value and returns ' +
      '-max (an onnxruntime bug); tessera returns -Inf.',
    exclude: ({ expected, actual }) => {
      const y = actual[0];
      if (y?.kind !== 'tensor') return undefined;
      return (k, i) => k === 0 && expected[0]?.data[i] === -Infinity && Number.isFinite(y.data[i] as number);
    },
  },
  {
    id: 'sign-of-nan-f16', ops: ['Sign'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'Sign(NaN) is NaN (numpy, ONNX\'s reference, tessera, and onnxruntime in f32/f64); onnxruntime\'s f16 ' +
      'kernel returns 0: an onnxruntime bug.',
    exclude: ({ inputs }) => {
      const x = inputs[0];
      if (x?.kind !== 'tensor' || x.dtype !== 'f16') return undefined;
      return (k, i) => k === 0 && Number.isNaN(x.data[i] as number);
    },
  },
  {
    id: 'gemm-empty-inner-dimension', ops: ['Gemm'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'Gemm with an inner dimension K of 0 is beta·C (tessera); onnxruntime returns C without beta, an ' +
      'onnxruntime bug. Such nodes are not compared.',
    exclude: ({ node, inputs }) => {
      const a = inputs[0];
      const transA = node.attrs.get('transA');
      if (a?.kind !== 'tensor' || a.rank !== 2) return undefined;
      const k = transA?.kind === 'int' && transA.value ? a.shape[0] : a.shape[1];
      return k === 0 ? 'node' : undefined;
    },
  },
  {
    id: 'matmul-empty-inner-dimension', ops: ['MatMul'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'MatMul with an inner dimension K of 0 is a sum over nothing, all zeros (tessera); onnxruntime leaves the ' +
      'output uninitialized (arbitrary values), an onnxruntime bug. Such nodes are not compared.',
    exclude: ({ inputs }) => {
      const a = inputs[0];
      return a?.kind === 'tensor' && a.shape[a.shape.length - 1] === 0 ? 'node' : undefined;
    },
  },
  {
    id: 'topk-empty-input', ops: ['TopK'], targets: ['onnxruntime'], handling: 'generator',
    reason: 'TopK of an empty tensor (shape [0,1], k=1 along axis 1) kills onnxruntime with SIGFPE (an integer ' +
      'division by zero in its kernel); tessera returns empty results. TopK inputs are non-empty.',
  },
  {
    id: 'pool-same-padding-with-dilations', ops: ['MaxPool', 'AveragePool', 'LpPool', 'Conv'], targets: ['*'], handling: 'generator',
    reason: 'auto_pad SAME_* with dilations > 1: ONNX gives ceil(in / stride) outputs; onnxruntime computes fewer for ' +
      'MaxPool (3 → 2 for kernel 2, dilation 2) and refuses Conv. SAME_* is generated with dilations 1.',
  },
  {
    id: 'softplus-overflow', ops: ['Softplus'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'Softplus(x) = log(1 + exp(x)) is x for large x; tessera returns that, onnxruntime evaluates exp(x) first ' +
      'and returns +Inf once it overflows (x > 88.7 in f32, > 709.8 in f64).',
    exclude: ({ expected, actual }) => {
      const y = actual[0];
      if (y?.kind !== 'tensor') return undefined;
      return (k, i) => k === 0 && y.data[i] === Infinity && Number.isFinite(expected[0]?.data[i] as number) && (expected[0]?.data[i] as number) > 10;
    },
  },
  {
    id: 'shrink-in-float32', ops: ['Shrink'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'onnxruntime computes Shrink in float32 for every type: f64 results are rounded to float32, and integers ' +
      'beyond 2^24 lose their low bits; tessera computes x ± bias exactly (as ONNX\'s numpy reference, in float64). ' +
      'f64 Shrink, and integer elements beyond 2^24, are not compared.',
    exclude: ({ inputs }) => {
      const x = inputs[0];
      if (x?.kind !== 'tensor') return undefined;
      if (x.dtype === 'f64') return 'node';
      return (k, i) => k === 0 && x.dtype !== 'f32' && x.dtype !== 'f16' && Math.abs(Number(x.data[i])) >= 2 ** 24;
    },
  },
  {
    id: 'fmod-64-bit-in-double', ops: ['Mod'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'Mod with fmod=1 on int64/uint64: onnxruntime computes std::fmod in double, so operands beyond 2^53 are ' +
      'rounded first (-(2^63-1) fmod 2 gives 0, not -1); tessera computes the exact truncated remainder.',
    exclude: ({ inputs }) => {
      const [a, b] = inputs;
      if (a?.kind !== 'tensor' || b?.kind !== 'tensor' || (a.dtype !== 'i64' && a.dtype !== 'u64')) return undefined;
      const big = (t: Tensor) => (t.data as BigInt64Array).some((v) => v >= 2n ** 53n || v <= -(2n ** 53n));
      return big(a) || big(b) ? 'node' : undefined;
    },
  },
  {
    id: 'double-to-half-rounds-twice', ops: ['Cast', 'CastLike'], targets: ['onnxruntime'], handling: 'comparison',
    reason: 'casting f64 to f16 (or bf16), onnxruntime rounds to f32 first, so 1 + 2^-11 + 2^-40 lands on the f16 tie ' +
      'and rounds to 1; tessera (like numpy) rounds once, to 1 + 2^-10. Elements where the two roundings differ are ' +
      'not compared.',
    exclude: ({ inputs, expected }) => {
      const x = inputs[0], y = expected[0];
      if (x?.kind !== 'tensor' || x.dtype !== 'f64' || !y || (y.dtype !== 'f16' && y.dtype !== 'bf16')) return undefined;
      const narrow = y.dtype === 'f16' ? roundF16 : roundBf16;
      return (k, i) => k === 0 && narrow(Math.fround(x.data[i] as number)) !== y.data[i];
    },
  },
  // ---------- onnxruntime limitations: valid models it does not run, or runs differently by design ----------
  {
    id: 'types-of-later-versions', ops: ['*'], targets: ['onnxruntime'], handling: 'generator',
    reason: 'tessera\'s registry accepts, for some ops, element types that ONNX allows only from a later version ' +
      '(e.g. Add-13 takes int8, which ONNX added in Add-14); onnxruntime rejects such models as invalid. The ' +
      'generator draws an (op, dtype, opset) only when onnxruntime loads that single node.',
  },
  {
    id: 'f16-chains-in-f32', ops: ['*'], targets: ['onnxruntime'], handling: 'generator',
    reason: 'onnxruntime\'s CPU provider runs f16 ops that lack an f16 kernel in f32 between inserted Casts, and drops ' +
      'the Cast pair between two such ops, so an f16 intermediate is not rounded to f16 inside the chain; a node-local ' +
      'check would then see inputs that differ from the ones the kernel used. For this target f16 results are not ' +
      'fed to later nodes.',
  },
  {
    id: 'mvn-double-and-half', ops: ['MeanVarianceNormalization'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'onnxruntime expands MeanVarianceNormalization into its ONNX function body with a float epsilon, which ' +
      'fails to load for double and f16 inputs ("bound to different types (tensor(double) and tensor(float))").',
    error: /bound to different types \(tensor\((double|float16)\) and tensor\(float\)/,
    dtypes: ['f64', 'f16'],
  },
  {
    id: 'layernorm-empty-axes', ops: ['LayerNormalization'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'LayerNormalization over an empty set of elements (a 0 in X.shape[axis:]): tessera returns the empty ' +
      'result, onnxruntime refuses the node ("Size of X.shape[axis:] must be at least 1").',
    error: /Size of X\.shape\[axis:\] must be at least 1/,
  },
  {
    id: 'scatter-reduction-f16', ops: ['ScatterElements', 'ScatterND'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'onnxruntime does not implement ScatterElements/ScatterND reductions on f16 ("MLFloat16 data type is not ' +
      'supported ... when reduction is \'add\'").',
    error: /data type is not supported with Scatter/,
  },
  {
    id: 'lrn-even-size', ops: ['LRN'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'onnxruntime accepts only an odd LRN size; ONNX defines even sizes too (floor and ceil of (size-1)/2 ' +
      'channels on either side), which tessera computes.',
    error: /size_ % 2 == 1 was false/,
  },
  {
    id: 'rnn-batchwise-layout', ops: ['RNN', 'GRU', 'LSTM'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'onnxruntime does not implement layout=1 (batch-first) recurrent ops.',
    error: /Batchwise recurrent operations/,
  },
  {
    id: 'rnn-double', ops: ['GRU', 'LSTM'], targets: ['onnxruntime'], handling: 'unsupported', dtypes: ['f64'],
    reason: 'onnxruntime does not implement GRU and LSTM in double ("does not support double yet").',
  },
  {
    id: 'matmul-empty-times-vector', ops: ['MatMul'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'MatMul of an empty matrix by a vector ([0,1] × [1], result [0]): onnxruntime fails ("left operand cannot ' +
      'broadcast on dim 0"), an onnxruntime bug; tessera returns the empty result.',
    error: /cannot broadcast on dim/,
  },
  {
    id: 'matmul-empty-unsigned', ops: ['MatMul'], targets: ['onnxruntime'], handling: 'unsupported',
    reason: 'onnxruntime\'s MatMul with an inner dimension of 0 on uint32/uint64 fails ("Tensor type mismatch"): an ' +
      'onnxruntime bug (the result is all zeros, which tessera returns).',
    error: /Tensor type mismatch/,
  },
];
