// Image-space ops: Resize / Upsample interpolation, GridSample, RoiAlign, NonMaxSuppression.
import { allocData, isBigInt, isFloat, roundFloatsInPlace, type DType, type TensorData } from '../dtype.ts';
import { TesseraError } from '../errors.ts';
import { registerOps, type InferContext, type OpSchema, type RunContext } from '../registry.ts';
import { checkShape, sizeOf, stridesOf, Tensor } from '../tensor.ts';
import { tensorType, type Dim, type TensorType } from '../types.ts';

const FLOAT_TYPES: readonly DType[] = ['f16', 'bf16', 'f32', 'f64'];

// ---------- numeric conversions shared by the interpolating ops ----------

/** Element values as a plain number array (bigints converted once, so hot loops stay monomorphic). */
function numericView(t: Tensor, what: string): ArrayLike<number> {
  if (t.dtype === 'string') throw new TesseraError(`${what} cannot interpolate string tensors`);
  if (isBigInt(t.dtype)) {
    const src = t.data as BigInt64Array | BigUint64Array;
    const out = new Float64Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
    return out;
  }
  return t.data as ArrayLike<number>;
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535],
  i32: [-2147483648, 2147483647], u32: [0, 4294967295],
  i64: [-(2 ** 63), 2 ** 63 - 1], u64: [0, 2 ** 64 - 1],
};

/**
 * Stores float results in dtype d. Integers take the value cast like ONNX Cast (truncation toward
 * zero), saturated because cubic weights can overshoot the input range; bool is "nonzero".
 */
function storeFloats(d: DType, values: ArrayLike<number>): TensorData {
  const n = values.length;
  const out = allocData(d, n);
  if (isFloat(d)) {
    (out as Float32Array | Float64Array).set(values);
    roundFloatsInPlace(d, out);
    return out;
  }
  if (d === 'bool') {
    const o = out as Uint8Array;
    for (let i = 0; i < n; i++) o[i] = values[i] !== 0 ? 1 : 0;
    return out;
  }
  const [lo, hi] = INT_RANGE[d]!;
  if (isBigInt(d)) {
    // lo/hi as doubles round to ±2^63 and 2^64, one past the range: clamp again as bigints.
    const o = out as BigInt64Array | BigUint64Array;
    const bigLo = d === 'i64' ? -(2n ** 63n) : 0n, bigHi = d === 'i64' ? 2n ** 63n - 1n : 2n ** 64n - 1n;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (Number.isNaN(v)) { o[i] = 0n; continue; }
      const b = BigInt(Math.trunc(Math.min(hi, Math.max(lo, v))));
      o[i] = b > bigHi ? bigHi : b < bigLo ? bigLo : b;
    }
    return out;
  }
  const o = out as Int32Array;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    o[i] = Number.isNaN(v) ? 0 : Math.trunc(Math.min(hi, Math.max(lo, v)));
  }
  return out;
}

/** A scalar (e.g. an extrapolation value) in the storage domain of dtype d. */
function storeScalar(d: DType, v: number): number | bigint | string {
  if (d === 'string') throw new TesseraError('extrapolation is not defined for string tensors');
  const s = storeFloats(d, [v]);
  return s[0]!;
}

function requireRank(t: TensorType, rank: number, what: string): void {
  if (t.shape && t.shape.length !== rank) {
    throw new TesseraError(`${what} must have rank ${rank}, got shape [${t.shape.join(',')}]`);
  }
}

function requireFloatInput(ctx: InferContext, i: number, what: string): TensorType {
  const t = ctx.tensorInput(i);
  if (!FLOAT_TYPES.includes(t.dtype)) throw new TesseraError(`${what} must be a float tensor, got ${t.dtype}`);
  return t;
}

// ---------- Resize / Upsample ----------

type InterpMode = 'nearest' | 'linear' | 'cubic';
type CoordMode =
  | 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';
/**
 * 'legacy' is the rule of Resize-10 and Upsample (which predate nearest_mode): floor when upsampling,
 * ceil when downsampling an axis, as onnxruntime does and the opset-10 test data expect.
 */
type NearestMode = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil' | 'legacy';

const COORD_MODES: readonly string[] = [
  'half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize',
];
const NEAREST_MODES: readonly string[] = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

interface ResizeConfig {
  mode: InterpMode;
  coord: CoordMode;
  nearest: NearestMode;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
}

/** How each output position along one axis reads the input: `taps` (index, weight) pairs per position. */
interface AxisPlan {
  inLen: number;
  outLen: number;
  taps: number;
  index: Int32Array;
  weight: Float64Array;
  /** tf_crop_and_resize positions outside the input: they take the extrapolation value. */
  outside: Uint8Array | undefined;
  /** Output position i reads exactly input position i: the axis can be skipped. */
  identity: boolean;
}

function nearestIndex(x: number, mode: NearestMode, scale: number): number {
  if (mode === 'legacy') return scale < 1 ? Math.ceil(x) : Math.floor(x);
  if (Number.isInteger(x)) return x;
  const lo = Math.floor(x);
  const frac = x - lo;
  switch (mode) {
    case 'round_prefer_floor': return frac <= 0.5 ? lo : lo + 1;
    case 'round_prefer_ceil': return frac < 0.5 ? lo : lo + 1;
    case 'floor': return lo;
    case 'ceil': return lo + 1;
  }
}

function cubicCoeffs(r: number, a: number, out: Float64Array, at: number): void {
  const r1 = r + 1, s = 1 - r, s1 = s + 1;
  out[at] = ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a;
  out[at + 1] = ((a + 2) * r - (a + 3)) * r * r + 1;
  out[at + 2] = ((a + 2) * s - (a + 3)) * s * s + 1;
  out[at + 3] = ((a * s1 - 5 * a) * s1 + 8 * a) * s1 - 4 * a;
}

/**
 * Plans one axis. `scale` is output/input as the op sees it (given, or sizes/input); `resizedLength`
 * is the real-valued output length that align_corners and tf_crop_and_resize divide by (ONNX uses
 * input*scale, which is not always an integer); roi is [start, end] normalized.
 */
function planAxis(
  inLen: number, outLen: number, scale: number, resizedLength: number, roi: [number, number], cfg: ResizeConfig,
): AxisPlan {
  if (inLen === 0 && outLen > 0) throw new TesseraError(`cannot resize an axis of length 0 to length ${outLen}`);
  const taps = cfg.mode === 'nearest' ? 1 : cfg.mode === 'linear' ? 2 : 4;
  const index = new Int32Array(outLen * taps);
  const weight = new Float64Array(outLen * taps);
  let outside: Uint8Array | undefined;
  let identity = inLen === outLen;
  const last = inLen - 1;
  const [roiStart, roiEnd] = roi;
  for (let o = 0; o < outLen; o++) {
    let x: number;
    switch (cfg.coord) {
      case 'half_pixel': x = (o + 0.5) / scale - 0.5; break;
      case 'pytorch_half_pixel': x = resizedLength > 1 ? (o + 0.5) / scale - 0.5 : 0; break;
      case 'align_corners': x = resizedLength === 1 ? 0 : (o * last) / (resizedLength - 1); break;
      case 'asymmetric': x = o / scale; break;
      case 'tf_half_pixel_for_nn': x = (o + 0.5) / scale; break;
      case 'tf_crop_and_resize':
        x = resizedLength > 1
          ? roiStart * last + (o * (roiEnd - roiStart) * last) / (resizedLength - 1)
          : 0.5 * (roiStart + roiEnd) * last;
        break;
    }
    const at = o * taps;
    if (cfg.coord === 'tf_crop_and_resize' && !(x >= 0 && x <= last)) {
      (outside ??= new Uint8Array(outLen))[o] = 1;
      identity = false;
      continue;
    }
    if (taps === 1) {
      const i = Math.min(last, Math.max(0, nearestIndex(x, cfg.nearest, scale)));
      index[at] = i;
      weight[at] = 1;
      if (i !== o) identity = false;
      continue;
    }
    // The taps are the `taps` input positions nearest to x, preferring lower ones (the left one of
    // a pair holds weight 1 - r with r in (0, 1]); positions past the edges repeat the edge value,
    // and the window stays within half a window of padding around the input, as ONNX defines it.
    const i0 = Number.isInteger(x) ? x - 1 : Math.floor(x);
    const r = x - i0;
    const half = taps >> 1;
    let start = i0 - (half - 1);
    if (start < -half) start = -half;
    if (start + taps > inLen + half) start = inLen + half - taps;
    if (taps === 2) { weight[at] = 1 - r; weight[at + 1] = r; }
    else cubicCoeffs(r, cfg.cubicA, weight, at);
    if (cfg.excludeOutside) {
      let sum = 0;
      for (let t = 0; t < taps; t++) {
        const p = start + t;
        if (p < 0 || p > last) weight[at + t] = 0;
        sum += weight[at + t]!;
      }
      for (let t = 0; t < taps; t++) weight[at + t]! /= sum;
    }
    for (let t = 0; t < taps; t++) {
      const p = Math.min(last, Math.max(0, start + t));
      index[at + t] = p;
      const w = weight[at + t]!;
      if (w !== 0 && (p !== o || w !== 1)) identity = false;
    }
  }
  return { inLen, outLen, taps, index, weight, outside, identity };
}

/** Interpolates along one axis: src has shape [outer, plan.inLen, inner], dst [outer, plan.outLen, inner]. */
function interpolateAxis(
  src: ArrayLike<number>, dst: Float64Array | Float32Array, outer: number, inner: number, plan: AxisPlan,
): void {
  const { inLen, outLen, taps, index, weight } = plan;
  for (let b = 0; b < outer; b++) {
    const srcBase = b * inLen * inner;
    const dstBase = b * outLen * inner;
    if (inner === 1) {
      for (let o = 0; o < outLen; o++) {
        let acc = 0;
        for (let t = o * taps, e = t + taps; t < e; t++) {
          const w = weight[t]!;
          if (w !== 0) acc += w * src[srcBase + index[t]!]!;
        }
        dst[dstBase + o] = acc;
      }
      continue;
    }
    for (let o = 0; o < outLen; o++) {
      const row = dstBase + o * inner;
      const t0 = o * taps;
      if (taps === 2 && weight[t0] !== 0 && weight[t0 + 1] !== 0) {
        // The common linear case in one sweep over the row.
        const w0 = weight[t0]!, w1 = weight[t0 + 1]!;
        const s0 = srcBase + index[t0]! * inner, s1 = srcBase + index[t0 + 1]! * inner;
        for (let i = 0; i < inner; i++) dst[row + i] = w0 * src[s0 + i]! + w1 * src[s1 + i]!;
        continue;
      }
      let first = true;
      for (let t = t0, e = t0 + taps; t < e; t++) {
        const w = weight[t]!;
        if (w === 0) continue;
        const s = srcBase + index[t]! * inner;
        if (first) for (let i = 0; i < inner; i++) dst[row + i] = w * src[s + i]!;
        else for (let i = 0; i < inner; i++) dst[row + i]! += w * src[s + i]!;
        first = false;
      }
      if (first) dst.fill(0, row, row + inner);
    }
  }
}

/** Nearest-neighbour resize as one gather (any dtype, no arithmetic); repeated source rows are copied. */
function gatherNearest(x: Tensor, outShape: number[], plans: AxisPlan[]): TensorData {
  const rank = outShape.length;
  const n = sizeOf(outShape);
  const out = allocData(x.dtype, n);
  if (n === 0) return out;
  const src = x.data as any;
  const dst = out as any;
  if (rank === 0) { dst[0] = src[0]; return out; }
  const inStrides = stridesOf(x.shape);
  const offsets = plans.map((p, d) => {
    const a = new Int32Array(p.outLen);
    for (let o = 0; o < p.outLen; o++) a[o] = p.index[o]! * inStrides[d]!;
    return a;
  });
  const rowLen = outShape[rank - 1]!;
  const lastOffsets = offsets[rank - 1]!;
  const typed = !Array.isArray(dst);
  const idx = new Array<number>(rank).fill(0);
  let prevBase = -1;
  for (let k = 0; k < n; k += rowLen) {
    let base = 0;
    for (let d = 0; d < rank - 1; d++) base += offsets[d]![idx[d]!]!;
    if (base === prevBase && typed) {
      dst.copyWithin(k, k - rowLen, k);
    } else {
      for (let j = 0; j < rowLen; j++) dst[k + j] = src[base + lastOffsets[j]!];
    }
    prevBase = base;
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Overwrites every output element whose position is outside the crop on some axis. */
function fillOutside(data: TensorData, outShape: number[], plans: AxisPlan[], value: number | bigint | string): void {
  for (let d = 0; d < plans.length; d++) {
    const flags = plans[d]!.outside;
    if (!flags) continue;
    const outer = sizeOf(outShape.slice(0, d));
    const len = outShape[d]!;
    const inner = sizeOf(outShape.slice(d + 1));
    for (let b = 0; b < outer; b++) {
      for (let o = 0; o < len; o++) {
        if (!flags[o]) continue;
        const start = (b * len + o) * inner;
        (data as any).fill(value, start, start + inner);
      }
    }
  }
}

function resizeTensor(
  x: Tensor, outShape: number[], scales: number[], resizedLengths: number[], roi: number[] | undefined, cfg: ResizeConfig,
): Tensor {
  // An empty output needs no plan (and a zero-length axis leaves the others unbounded).
  if (checkShape(outShape, 'Resize output') === 0) return new Tensor(x.dtype, outShape, allocData(x.dtype, 0));
  const rank = x.rank;
  const plans = outShape.map((len, d) =>
    planAxis(x.shape[d]!, len, scales[d]!, resizedLengths[d]!, roi ? [roi[d]!, roi[rank + d]!] : [0, 1], cfg));
  const hasOutside = plans.some((p) => p.outside);
  if (plans.every((p) => p.identity)) return new Tensor(x.dtype, outShape, x.data);

  let data: TensorData;
  if (cfg.mode === 'nearest') {
    data = gatherNearest(x, outShape, plans);
  } else {
    // Separable: one axis at a time, shrinking axes first so later passes touch less data.
    const order = plans.map((_, d) => d).filter((d) => !plans[d]!.identity)
      .sort((a, b) => (plans[a]!.outLen / plans[a]!.inLen) - (plans[b]!.outLen / plans[b]!.inLen) || b - a);
    const shape = [...x.shape];
    let cur: ArrayLike<number> = numericView(x, 'Resize');
    // Intermediate passes keep double precision; float outputs take the last pass directly.
    const directOut = isFloat(x.dtype);
    for (const [step, d] of order.entries()) {
      const plan = plans[d]!;
      const outer = sizeOf(shape.slice(0, d));
      const inner = sizeOf(shape.slice(d + 1));
      shape[d] = plan.outLen;
      const n = outer * plan.outLen * inner;
      const next = directOut && step === order.length - 1 ? allocData(x.dtype, n) as Float32Array | Float64Array : new Float64Array(n);
      interpolateAxis(cur, next, outer, inner, plan);
      cur = next;
    }
    if (directOut) {
      data = cur as Float32Array | Float64Array;
      roundFloatsInPlace(x.dtype, data);
    } else {
      data = storeFloats(x.dtype, cur);
    }
  }
  if (hasOutside) fillOutside(data, outShape, plans, storeScalar(x.dtype, cfg.extrapolation));
  return new Tensor(x.dtype, outShape, data);
}

function readResizeConfig(ctx: InferContext | RunContext, dtype: DType): ResizeConfig {
  const a = ctx.attrs;
  const mode = a.string('mode', 'nearest');
  // Upsample-1 spells linear "bilinear".
  const interp = mode === 'bilinear' && ctx.node.op === 'Upsample' ? 'linear' : mode;
  if (interp !== 'nearest' && interp !== 'linear' && (interp !== 'cubic' || ctx.node.op === 'Upsample' || ctx.opset < 11)) {
    throw new TesseraError(`unsupported mode '${mode}'`);
  }
  if (interp !== 'nearest' && dtype === 'string') throw new TesseraError(`${mode} mode cannot interpolate string tensors`);
  if (ctx.node.op === 'Upsample' || ctx.opset < 11) {
    return { mode: interp, coord: 'asymmetric', nearest: 'legacy', cubicA: -0.75, excludeOutside: false, extrapolation: 0 };
  }
  const coord = a.string('coordinate_transformation_mode', 'half_pixel');
  if (!COORD_MODES.includes(coord)) throw new TesseraError(`unknown coordinate_transformation_mode '${coord}'`);
  const nearest = a.string('nearest_mode', 'round_prefer_floor');
  if (!NEAREST_MODES.includes(nearest)) throw new TesseraError(`unknown nearest_mode '${nearest}'`);
  return {
    mode: interp, coord: coord as CoordMode, nearest: nearest as NearestMode,
    cubicA: a.float('cubic_coeff_a', -0.75),
    excludeOutside: a.int('exclude_outside', 0) !== 0,
    extrapolation: a.float('extrapolation_value', 0),
  };
}

function checkScales(scales: number[], rank: number, atLeastOne: boolean): void {
  if (scales.length !== rank) throw new TesseraError(`scales has ${scales.length} values but the input has rank ${rank}`);
  for (const s of scales) {
    if (!(s > 0) || !Number.isFinite(s)) throw new TesseraError(`scale ${s} is invalid: scales must be positive and finite`);
    if (atLeastOne && s < 1) throw new TesseraError(`scale ${s} is less than 1: Upsample only enlarges`);
  }
}

function checkSizes(sizes: number[], rank: number): void {
  if (sizes.length !== rank) throw new TesseraError(`sizes has ${sizes.length} values but the input has rank ${rank}`);
  for (const s of sizes) if (!Number.isInteger(s) || s < 0) throw new TesseraError(`size ${s} is invalid: sizes must be non-negative integers`);
}

/** Where the output size comes from, after validating which of scales / sizes a node uses. */
type SizeSource =
  | { kind: 'scales'; scales: number[] }
  | { kind: 'sizes'; sizes: number[] }
  | { kind: 'unknown' };

/** Output length along an axis from a scale; roi narrows it under tf_crop_and_resize (ONNX's formula). */
function scaledLength(dim: number, scale: number, roiExtent: number): number {
  return Math.floor(dim * roiExtent * scale);
}

/** The Resize-11+ inputs (roi, scales, sizes): at most one of scales and sizes may be non-empty. */
function resizeSizeSource(
  scales: Tensor | undefined, sizes: Tensor | undefined, scalesKnown: boolean, sizesKnown: boolean,
): SizeSource {
  const hasScales = scales !== undefined && scales.size > 0;
  const hasSizes = sizes !== undefined && sizes.size > 0;
  if (hasScales && hasSizes) throw new TesseraError('only one of scales and sizes may be given');
  if (hasScales) return { kind: 'scales', scales: scales.toNumbers() };
  if (hasSizes) return { kind: 'sizes', sizes: sizes.toNumbers() };
  if (scalesKnown && sizesKnown) throw new TesseraError('one of scales and sizes must be given');
  return { kind: 'unknown' };
}

function upsampleScales(ctx: InferContext | RunContext, scalesInput: Tensor | undefined): number[] | undefined {
  if (ctx.node.op !== 'Upsample') return scalesInput?.toNumbers();
  if (ctx.opset < 7) return [1, 1, ctx.attrs.float('height_scale'), ctx.attrs.float('width_scale')];
  if (ctx.opset < 9) return ctx.attrs.floats('scales');
  return scalesInput?.toNumbers();
}

/** Resize-10 and Upsample: output = floor(input * scale), scales from an input or attributes. */
function legacyResizeSchema(name: string, since: number, inputs: [number, number], attrs: OpSchema['attrs']): OpSchema {
  return {
    name, since, inputs, outputs: [1, 1], attrs,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      readResizeConfig(ctx, x.dtype);
      if (inputs[1] > 1) {
        const s = ctx.tensorInput(1);
        if (s.dtype !== 'f32') throw new TesseraError(`scales must be f32, got ${s.dtype}`);
      }
      if (!x.shape) return [tensorType(x.dtype, undefined)];
      const scales = upsampleScales(ctx, inputs[1] > 1 ? ctx.constant(1) : undefined);
      if (name === 'Upsample' && since < 7) requireRank(x, 4, 'Upsample-1 input');
      if (!scales) return [tensorType(x.dtype, x.shape.map(() => ctx.freshDim()))];
      checkScales(scales, x.shape.length, name === 'Upsample');
      return [tensorType(x.dtype, x.shape.map((d, i): Dim =>
        typeof d === 'number' ? scaledLength(d, scales[i]!, 1) : scales[i] === 1 ? d : ctx.freshDim()))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const cfg = readResizeConfig(ctx, x.dtype);
      const scales = upsampleScales(ctx, inputs[1] > 1 ? ctx.tensor(1) : undefined)!;
      if (name === 'Upsample' && since < 7 && x.rank !== 4) throw new TesseraError(`Upsample-1 input must have rank 4, got rank ${x.rank}`);
      checkScales(scales, x.rank, name === 'Upsample');
      const outShape = x.shape.map((d, i) => scaledLength(d, scales[i]!, 1));
      return [resizeTensor(x, outShape, scales, x.shape.map((d, i) => d * scales[i]!), undefined, cfg)];
    },
  };
}

const RESIZE11_ATTRS: OpSchema['attrs'] = {
  coordinate_transformation_mode: { kind: 'string', default: 'half_pixel' },
  cubic_coeff_a: { kind: 'float', default: -0.75 },
  exclude_outside: { kind: 'int', default: 0 },
  extrapolation_value: { kind: 'float', default: 0 },
  mode: { kind: 'string', default: 'nearest' },
  nearest_mode: { kind: 'string', default: 'round_prefer_floor' },
};

function resizeSchema(since: number): OpSchema {
  return {
    name: 'Resize', since, inputs: [since >= 13 ? 1 : 3, 4], outputs: [1, 1], attrs: RESIZE11_ATTRS,
    infer(ctx) {
      const x = ctx.tensorInput(0);
      const cfg = readResizeConfig(ctx, x.dtype);
      if (ctx.inputType(1)) requireFloatInput(ctx, 1, 'roi');
      if (ctx.inputType(2) && ctx.tensorInput(2).dtype !== 'f32') throw new TesseraError(`scales must be f32, got ${ctx.tensorInput(2).dtype}`);
      if (ctx.inputType(3) && ctx.tensorInput(3).dtype !== 'i64') throw new TesseraError(`sizes must be i64, got ${ctx.tensorInput(3).dtype}`);
      const present = (i: number) => ctx.inputCount > i && ctx.node.inputs[i] != null;
      const scalesConst = present(2) ? ctx.constant(2) : undefined;
      const sizesConst = present(3) ? ctx.constant(3) : undefined;
      const src = resizeSizeSource(scalesConst, sizesConst, !present(2) || scalesConst !== undefined, !present(3) || sizesConst !== undefined);
      if (!x.shape) {
        const rank = src.kind === 'sizes' ? src.sizes.length : src.kind === 'scales' ? src.scales.length : undefined;
        return [tensorType(x.dtype, rank === undefined ? undefined : Array.from({ length: rank }, () => ctx.freshDim()))];
      }
      const rank = x.shape.length;
      if (src.kind === 'sizes') { checkSizes(src.sizes, rank); return [tensorType(x.dtype, src.sizes)]; }
      if (src.kind === 'unknown') return [tensorType(x.dtype, x.shape.map(() => ctx.freshDim()))];
      checkScales(src.scales, rank, false);
      const crop = cfg.coord === 'tf_crop_and_resize';
      const roi = crop ? (present(1) ? ctx.constant(1) : undefined) : undefined;
      if (crop && roi === undefined) {
        return [tensorType(x.dtype, x.shape.map(() => ctx.freshDim()))];
      }
      const roiValues = roi?.toNumbers();
      if (roiValues && roiValues.length !== 2 * rank) throw new TesseraError(`roi has ${roiValues.length} values, expected ${2 * rank} for rank ${rank}`);
      return [tensorType(x.dtype, x.shape.map((d, i): Dim => {
        const extent = roiValues ? roiValues[rank + i]! - roiValues[i]! : 1;
        if (typeof d === 'number') return scaledLength(d, src.scales[i]!, extent);
        return src.scales[i] === 1 && extent === 1 ? d : ctx.freshDim();
      }))];
    },
    run(ctx) {
      const x = ctx.tensor(0);
      const cfg = readResizeConfig(ctx, x.dtype);
      const rank = x.rank;
      const src = resizeSizeSource(ctx.optTensor(2), ctx.optTensor(3), true, true);
      let roi: number[] | undefined;
      if (cfg.coord === 'tf_crop_and_resize') {
        const r = ctx.optTensor(1);
        if (!r || r.size === 0) throw new TesseraError('tf_crop_and_resize needs a roi input');
        roi = r.toNumbers();
        if (roi.length !== 2 * rank) throw new TesseraError(`roi has ${roi.length} values, expected ${2 * rank} for rank ${rank}`);
      }
      const extent = (i: number) => (roi ? roi[rank + i]! - roi[i]! : 1);
      let outShape: number[], scales: number[], resized: number[];
      if (src.kind === 'sizes') {
        checkSizes(src.sizes, rank);
        outShape = src.sizes;
        scales = outShape.map((o, i) => o / x.shape[i]!);
        resized = outShape;
      } else if (src.kind === 'scales') {
        checkScales(src.scales, rank, false);
        scales = src.scales;
        outShape = x.shape.map((d, i) => scaledLength(d, scales[i]!, extent(i)));
        resized = x.shape.map((d, i) => d * extent(i) * scales[i]!);
      } else {
        throw new TesseraError('one of scales and sizes must be given');
      }
      return [resizeTensor(x, outShape, scales, resized, roi, cfg)];
    },
  };
}

// ---------- GridSample ----------

/** Reflects x into [low, high] by repeated mirroring at the bounds (PyTorch's reflect_coordinates, halved). */
function reflect(x: number, low: number, high: number): number {
  const span = high - low;
  if (span <= 0) return 0;
  const d = Math.abs(x - low);
  const extra = d % span;
  const flips = Math.floor(d / span);
  return flips % 2 === 0 ? low + extra : high - extra;
}

const PAD_ZEROS = 0, PAD_BORDER = 1, PAD_REFLECTION = 2;
type Padding = typeof PAD_ZEROS | typeof PAD_BORDER | typeof PAD_REFLECTION;

/** Applies the padding mode to a source coordinate (PyTorch's compute_coordinates). */
function padCoordinate(x: number, size: number, padding: Padding, alignCorners: boolean): number {
  if (padding === PAD_BORDER) return Math.min(size - 1, Math.max(0, x));
  if (padding === PAD_REFLECTION) {
    const r = alignCorners ? reflect(x, 0, size - 1) : reflect(x, -0.5, size - 0.5);
    return Math.min(size - 1, Math.max(0, r));
  }
  return x;
}

/** Round half to even (C nearbyint), as PyTorch's nearest grid sampling does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function gridSample(x: Tensor, grid: Tensor, mode: string, padding: Padding, alignCorners: boolean): Tensor {
  if (x.rank !== 4) throw new TesseraError(`X must have rank 4 (N, C, H, W), got shape [${x.shape.join(',')}]`);
  if (grid.rank !== 4 || grid.shape[3] !== 2) throw new TesseraError(`grid must have shape (N, H_out, W_out, 2), got [${grid.shape.join(',')}]`);
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [gN, Ho, Wo] = grid.shape as [number, number, number];
  if (gN !== N) throw new TesseraError(`grid batch ${gN} differs from X batch ${N}`);
  const outShape = [N, C, Ho, Wo];
  const n = checkShape(outShape, 'GridSample output');
  const src = numericView(x, 'GridSample');
  const g = grid.data as ArrayLike<number>;
  const out = new Float64Array(n);
  const plane = H * W, outPlane = Ho * Wo;
  const unnormalize = alignCorners
    ? (v: number, size: number) => ((v + 1) / 2) * (size - 1)
    : (v: number, size: number) => ((v + 1) * size - 1) / 2;
  const cx = new Float64Array(4), cy = new Float64Array(4);
  // Float storage: a far-away tap must stay out of bounds, not wrap into range as an int32 would.
  const tapX = new Float64Array(4), tapY = new Float64Array(4);
  for (let b = 0; b < N; b++) {
    for (let p = 0; p < outPlane; p++) {
      const gi = (b * outPlane + p) * 2;
      let ix = unnormalize(g[gi]!, W);
      let iy = unnormalize(g[gi + 1]!, H);
      const outBase = b * C * outPlane + p;
      const inBase = b * C * plane;
      if (mode === 'nearest') {
        ix = roundHalfEven(padCoordinate(ix, W, padding, alignCorners));
        iy = roundHalfEven(padCoordinate(iy, H, padding, alignCorners));
        if (!(ix >= 0 && ix < W && iy >= 0 && iy < H)) continue;
        const off = inBase + iy * W + ix;
        for (let c = 0; c < C; c++) out[outBase + c * outPlane] = src[off + c * plane]!;
      } else if (mode === 'bilinear') {
        ix = padCoordinate(ix, W, padding, alignCorners);
        iy = padCoordinate(iy, H, padding, alignCorners);
        const x0 = Math.floor(ix), y0 = Math.floor(iy);
        const tx = ix - x0, ty = iy - y0;
        const inX0 = x0 >= 0 && x0 < W, inX1 = x0 + 1 >= 0 && x0 + 1 < W;
        const inY0 = y0 >= 0 && y0 < H, inY1 = y0 + 1 >= 0 && y0 + 1 < H;
        if (!(inX0 || inX1) || !(inY0 || inY1)) continue;
        // Taps outside the input read 0 (they are skipped, so an Inf elsewhere cannot leak in as NaN).
        const nw = inY0 && inX0, ne = inY0 && inX1, sw = inY1 && inX0, se = inY1 && inX1;
        const wNW = (1 - tx) * (1 - ty), wNE = tx * (1 - ty), wSW = (1 - tx) * ty, wSE = tx * ty;
        const oNW = inBase + y0 * W + x0, oSW = oNW + W;
        for (let c = 0; c < C; c++) {
          const co = c * plane;
          let acc = 0;
          if (nw) acc += wNW * src[oNW + co]!;
          if (ne) acc += wNE * src[oNW + 1 + co]!;
          if (sw) acc += wSW * src[oSW + co]!;
          if (se) acc += wSE * src[oSW + 1 + co]!;
          out[outBase + c * outPlane] = acc;
        }
      } else {
        // Bicubic pads each of the 4x4 taps rather than the sampling point (as PyTorch does).
        const x0 = Math.floor(ix), y0 = Math.floor(iy);
        cubicCoeffs(ix - x0, -0.75, cx, 0);
        cubicCoeffs(iy - y0, -0.75, cy, 0);
        for (let t = 0; t < 4; t++) {
          tapX[t] = Math.trunc(padCoordinate(x0 - 1 + t, W, padding, alignCorners));
          tapY[t] = Math.trunc(padCoordinate(y0 - 1 + t, H, padding, alignCorners));
        }
        for (let ty = 0; ty < 4; ty++) {
          const yt = tapY[ty]!;
          if (!(yt >= 0 && yt < H)) continue;
          for (let tx = 0; tx < 4; tx++) {
            const xt = tapX[tx]!;
            if (!(xt >= 0 && xt < W)) continue;
            const w = cx[tx]! * cy[ty]!;
            const off = inBase + yt * W + xt;
            for (let c = 0; c < C; c++) out[outBase + c * outPlane] += w * src[off + c * plane]!;
          }
        }
      }
    }
  }
  return new Tensor(x.dtype, outShape, storeFloats(x.dtype, out));
}

// ---------- RoiAlign ----------

interface RoiAlignParams {
  outH: number; outW: number; samplingRatio: number; spatialScale: number; max: boolean; halfPixel: boolean;
}

function roiAlign(x: Tensor, rois: Tensor, batchIndices: Tensor, p: RoiAlignParams): Tensor {
  if (x.rank !== 4) throw new TesseraError(`X must have rank 4 (N, C, H, W), got shape [${x.shape.join(',')}]`);
  if (rois.rank !== 2 || rois.shape[1] !== 4) throw new TesseraError(`rois must have shape (num_rois, 4), got [${rois.shape.join(',')}]`);
  const numRois = rois.shape[0]!;
  if (batchIndices.rank !== 1 || batchIndices.shape[0] !== numRois) {
    throw new TesseraError(`batch_indices must have shape [${numRois}], got [${batchIndices.shape.join(',')}]`);
  }
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const { outH, outW } = p;
  const outShape = [numRois, C, outH, outW];
  const out = new Float64Array(checkShape(outShape, 'RoiAlign output'));
  const src = x.data as ArrayLike<number>;
  const boxes = rois.data as ArrayLike<number>;
  const offset = p.halfPixel ? 0.5 : 0;
  if (numRois > 0 && C > 0 && (H === 0 || W === 0)) throw new TesseraError(`X has an empty spatial extent [${H},${W}]: there is nothing to pool`);
  for (let r = 0; r < numRois; r++) {
    const batch = batchIndices.num(r);
    if (!(batch >= 0 && batch < N)) throw new TesseraError(`batch_indices value ${batch} is out of bounds for batch size ${N}`);
    const startW = boxes[r * 4]! * p.spatialScale - offset;
    const startH = boxes[r * 4 + 1]! * p.spatialScale - offset;
    let roiW = boxes[r * 4 + 2]! * p.spatialScale - offset - startW;
    let roiH = boxes[r * 4 + 3]! * p.spatialScale - offset - startH;
    if (!p.halfPixel) {
      // The legacy mode forces malformed RoIs to 1x1.
      roiW = Math.max(roiW, 1);
      roiH = Math.max(roiH, 1);
    }
    const binH = roiH / outH, binW = roiW / outW;
    const gridH = p.samplingRatio > 0 ? p.samplingRatio : Math.ceil(roiH / outH);
    const gridW = p.samplingRatio > 0 ? p.samplingRatio : Math.ceil(roiW / outW);
    const samples = Math.max(0, gridH) * Math.max(0, gridW);
    const count = Math.max(gridH * gridW, 1);
    checkShape([outH * outW, samples, 4], 'RoiAlign sampling grid');
    // Bilinear taps of every sample point, shared by all channels.
    const pos = new Int32Array(outH * outW * samples * 4);
    const wts = new Float64Array(outH * outW * samples * 4);
    let k = 0;
    for (let ph = 0; ph < outH; ph++) {
      for (let pw = 0; pw < outW; pw++) {
        for (let iy = 0; iy < gridH; iy++) {
          const y = startH + ph * binH + ((iy + 0.5) * binH) / gridH;
          for (let ix = 0; ix < gridW; ix++, k += 4) {
            let xx = startW + pw * binW + ((ix + 0.5) * binW) / gridW;
            if (y < -1 || y > H || xx < -1 || xx > W) continue; // weights stay 0
            let yy = Math.max(y, 0);
            xx = Math.max(xx, 0);
            let yLow = Math.trunc(yy), xLow = Math.trunc(xx), yHigh: number, xHigh: number;
            if (yLow >= H - 1) { yHigh = yLow = H - 1; yy = yLow; } else yHigh = yLow + 1;
            if (xLow >= W - 1) { xHigh = xLow = W - 1; xx = xLow; } else xHigh = xLow + 1;
            const ly = yy - yLow, lx = xx - xLow, hy = 1 - ly, hx = 1 - lx;
            pos[k] = yLow * W + xLow; pos[k + 1] = yLow * W + xHigh;
            pos[k + 2] = yHigh * W + xLow; pos[k + 3] = yHigh * W + xHigh;
            wts[k] = hy * hx; wts[k + 1] = hy * lx; wts[k + 2] = ly * hx; wts[k + 3] = ly * lx;
          }
        }
      }
    }
    for (let c = 0; c < C; c++) {
      const base = (batch * C + c) * H * W;
      const outBase = (r * C + c) * outH * outW;
      for (let b = 0, kk = 0; b < outH * outW; b++) {
        let acc = 0;
        for (let s = 0; s < samples; s++, kk += 4) {
          if (p.max) {
            // ONNX (like onnxruntime) takes the largest weighted tap, not the interpolated value.
            const v = Math.max(wts[kk]! * src[base + pos[kk]!]!, wts[kk + 1]! * src[base + pos[kk + 1]!]!,
              wts[kk + 2]! * src[base + pos[kk + 2]!]!, wts[kk + 3]! * src[base + pos[kk + 3]!]!);
            acc = s === 0 ? v : Math.max(acc, v);
          } else {
            acc += wts[kk]! * src[base + pos[kk]!]! + wts[kk + 1]! * src[base + pos[kk + 1]!]!
              + wts[kk + 2]! * src[base + pos[kk + 2]!]! + wts[kk + 3]! * src[base + pos[kk + 3]!]!;
          }
        }
        out[outBase + b] = p.max ? acc : acc / count;
      }
    }
  }
  return new Tensor(x.dtype, outShape, storeFloats(x.dtype, out));
}

function roiAlignSchema(since: number): OpSchema {
  const attrs: OpSchema['attrs'] = {
    mode: { kind: 'string', default: 'avg' },
    output_height: { kind: 'int', default: 1 },
    output_width: { kind: 'int', default: 1 },
    sampling_ratio: { kind: 'int', default: 0 },
    spatial_scale: { kind: 'float', default: 1 },
  };
  if (since >= 16) attrs.coordinate_transformation_mode = { kind: 'string', default: 'half_pixel' };
  const params = (ctx: InferContext | RunContext): RoiAlignParams => {
    const a = ctx.attrs;
    const mode = a.string('mode', 'avg');
    if (mode !== 'avg' && mode !== 'max') throw new TesseraError(`unknown mode '${mode}' (expected avg or max)`);
    const ctm = since >= 16 ? a.string('coordinate_transformation_mode', 'half_pixel') : 'output_half_pixel';
    if (ctm !== 'half_pixel' && ctm !== 'output_half_pixel') {
      throw new TesseraError(`unknown coordinate_transformation_mode '${ctm}' (expected half_pixel or output_half_pixel)`);
    }
    const outH = a.int('output_height', 1), outW = a.int('output_width', 1);
    if (outH < 1 || outW < 1) throw new TesseraError(`output_height and output_width must be positive, got ${outH} and ${outW}`);
    const samplingRatio = a.int('sampling_ratio', 0);
    if (samplingRatio < 0) throw new TesseraError(`sampling_ratio must be non-negative, got ${samplingRatio}`);
    return { outH, outW, samplingRatio, spatialScale: a.float('spatial_scale', 1), max: mode === 'max', halfPixel: ctm === 'half_pixel' };
  };
  return {
    name: 'RoiAlign', since, inputs: [3, 3], outputs: [1, 1], attrs,
    infer(ctx) {
      const p = params(ctx);
      const x = requireFloatInput(ctx, 0, 'X');
      const rois = ctx.tensorInput(1);
      if (rois.dtype !== x.dtype) throw new TesseraError(`rois has type ${rois.dtype} but X has ${x.dtype}`);
      const bi = ctx.tensorInput(2);
      if (bi.dtype !== 'i64') throw new TesseraError(`batch_indices must be i64, got ${bi.dtype}`);
      requireRank(x, 4, 'X');
      requireRank(rois, 2, 'rois');
      requireRank(bi, 1, 'batch_indices');
      const numRois = rois.shape?.[0] ?? bi.shape?.[0] ?? ctx.freshDim();
      const channels = x.shape?.[1] ?? ctx.freshDim();
      return [tensorType(x.dtype, [numRois, channels, p.outH, p.outW])];
    },
    run(ctx) {
      return [roiAlign(ctx.tensor(0), ctx.tensor(1), ctx.tensor(2), params(ctx))];
    },
  };
}

// ---------- NonMaxSuppression ----------

function nonMaxSuppression(
  boxes: Tensor, scores: Tensor, maxPerClass: number, iouThreshold: number, scoreThreshold: number | undefined,
  centerPointBox: boolean,
): Tensor {
  if (boxes.rank !== 3 || boxes.shape[2] !== 4) throw new TesseraError(`boxes must have shape (num_batches, num_boxes, 4), got [${boxes.shape.join(',')}]`);
  if (scores.rank !== 3) throw new TesseraError(`scores must have shape (num_batches, num_classes, num_boxes), got [${scores.shape.join(',')}]`);
  const [B, M] = boxes.shape as [number, number];
  const [sB, C, sM] = scores.shape as [number, number, number];
  if (sB !== B || sM !== M) {
    throw new TesseraError(`scores shape [${scores.shape.join(',')}] does not match boxes shape [${boxes.shape.join(',')}]`);
  }
  const bx = boxes.data as ArrayLike<number>;
  const sc = scores.data as ArrayLike<number>;
  // Corners (x min/max, y min/max) and area of each box, computed as ONNX's reference does.
  const xMin = new Float64Array(M), xMax = new Float64Array(M), yMin = new Float64Array(M), yMax = new Float64Array(M);
  const area = new Float64Array(M);
  const selected: number[] = [];
  const order: number[] = [];
  const kept: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < M; i++) {
      const o = (b * M + i) * 4;
      const v0 = bx[o]!, v1 = bx[o + 1]!, v2 = bx[o + 2]!, v3 = bx[o + 3]!;
      if (centerPointBox) {
        xMin[i] = v0 - v2 / 2; xMax[i] = v0 + v2 / 2; yMin[i] = v1 - v3 / 2; yMax[i] = v1 + v3 / 2;
      } else {
        xMin[i] = Math.min(v1, v3); xMax[i] = Math.max(v1, v3); yMin[i] = Math.min(v0, v2); yMax[i] = Math.max(v0, v2);
      }
      area[i] = (xMax[i]! - xMin[i]!) * (yMax[i]! - yMin[i]!);
    }
    const suppresses = (i: number, j: number): boolean => {
      const ix0 = Math.max(xMin[i]!, xMin[j]!), ix1 = Math.min(xMax[i]!, xMax[j]!);
      if (ix1 <= ix0) return false;
      const iy0 = Math.max(yMin[i]!, yMin[j]!), iy1 = Math.min(yMax[i]!, yMax[j]!);
      if (iy1 <= iy0) return false;
      const inter = (ix1 - ix0) * (iy1 - iy0);
      if (inter <= 0) return false;
      const union = area[i]! + area[j]! - inter;
      if (area[i]! <= 0 || area[j]! <= 0 || union <= 0) return false;
      return inter / union > iouThreshold;
    };
    for (let c = 0; c < C; c++) {
      const so = (b * C + c) * M;
      order.length = 0;
      for (let i = 0; i < M; i++) if (scoreThreshold === undefined || sc[so + i]! > scoreThreshold) order.push(i);
      // Highest score first; equal scores keep the lower box index first.
      order.sort((i, j) => sc[so + j]! - sc[so + i]! || i - j);
      kept.length = 0;
      for (const i of order) {
        if (kept.length >= maxPerClass) break;
        if (kept.some((j) => suppresses(i, j))) continue;
        kept.push(i);
        selected.push(b, c, i);
      }
    }
  }
  return Tensor.from('i64', [selected.length / 3, 3], selected);
}

function nmsSchema(since: number): OpSchema {
  return {
    name: 'NonMaxSuppression', since, inputs: [2, 5], outputs: [1, 1],
    attrs: { center_point_box: { kind: 'int', default: 0 } },
    infer(ctx) {
      const cpb = ctx.attrs.int('center_point_box', 0);
      if (cpb !== 0 && cpb !== 1) throw new TesseraError(`center_point_box must be 0 or 1, got ${cpb}`);
      const boxes = requireFloatInput(ctx, 0, 'boxes');
      const scores = ctx.tensorInput(1);
      if (scores.dtype !== boxes.dtype) throw new TesseraError(`scores has type ${scores.dtype} but boxes has ${boxes.dtype}`);
      requireRank(boxes, 3, 'boxes');
      requireRank(scores, 3, 'scores');
      if (ctx.inputType(2) && ctx.tensorInput(2).dtype !== 'i64') throw new TesseraError(`max_output_boxes_per_class must be i64, got ${ctx.tensorInput(2).dtype}`);
      if (ctx.inputType(3)) requireFloatInput(ctx, 3, 'iou_threshold');
      if (ctx.inputType(4)) requireFloatInput(ctx, 4, 'score_threshold');
      return [tensorType('i64', [ctx.freshDim(), 3])];
    },
    run(ctx) {
      const scalar = (i: number, what: string): number | undefined => {
        const t = ctx.optTensor(i);
        if (!t || t.size === 0) return undefined;
        if (t.size !== 1) throw new TesseraError(`${what} must be a scalar, got shape [${t.shape.join(',')}]`);
        return t.num(0);
      };
      const maxPerClass = Math.max(0, scalar(2, 'max_output_boxes_per_class') ?? 0);
      return [nonMaxSuppression(ctx.tensor(0), ctx.tensor(1), maxPerClass, scalar(3, 'iou_threshold') ?? 0,
        scalar(4, 'score_threshold'), ctx.attrs.int('center_point_box', 0) === 1)];
    },
  };
}

// ---------- registration ----------

const PADDING_MODES: Record<string, Padding> = { zeros: PAD_ZEROS, border: PAD_BORDER, reflection: PAD_REFLECTION };

const unsupportedSchema = (name: string, since: number, why: string): OpSchema => ({
  name, since, inputs: [0, Infinity], outputs: [0, Infinity], unsupported: why,
  infer() { throw new TesseraError(why); },
  run() { throw new TesseraError(why); },
});

registerOps([
  legacyResizeSchema('Upsample', 1, [1, 1], {
    height_scale: { kind: 'float', required: true },
    width_scale: { kind: 'float', required: true },
    mode: { kind: 'string', default: 'nearest' },
  }),
  legacyResizeSchema('Upsample', 7, [1, 1], {
    mode: { kind: 'string', default: 'nearest' },
    scales: { kind: 'floats', required: true },
  }),
  legacyResizeSchema('Upsample', 9, [2, 2], { mode: { kind: 'string', default: 'nearest' } }),
  unsupportedSchema('Upsample', 10, 'Upsample is deprecated since opset 10: use Resize'),
  legacyResizeSchema('Resize', 10, [2, 2], { mode: { kind: 'string', default: 'nearest' } }),
  resizeSchema(11),
  resizeSchema(13),
  {
    name: 'GridSample', since: 16, inputs: [2, 2], outputs: [1, 1],
    attrs: {
      align_corners: { kind: 'int', default: 0 },
      mode: { kind: 'string', default: 'bilinear' },
      padding_mode: { kind: 'string', default: 'zeros' },
    },
    infer(ctx) {
      const mode = ctx.attrs.string('mode', 'bilinear');
      if (!['bilinear', 'nearest', 'bicubic'].includes(mode)) throw new TesseraError(`unknown mode '${mode}'`);
      const padding = ctx.attrs.string('padding_mode', 'zeros');
      if (!(padding in PADDING_MODES)) throw new TesseraError(`unknown padding_mode '${padding}'`);
      const x = ctx.tensorInput(0);
      if (x.dtype === 'string') throw new TesseraError('GridSample cannot interpolate string tensors');
      const grid = requireFloatInput(ctx, 1, 'grid');
      requireRank(x, 4, 'X');
      requireRank(grid, 4, 'grid');
      if (grid.shape && typeof grid.shape[3] === 'number' && grid.shape[3] !== 2) {
        throw new TesseraError(`grid must have shape (N, H_out, W_out, 2), got [${grid.shape.join(',')}]`);
      }
      const batch = x.shape?.[0] ?? grid.shape?.[0] ?? ctx.freshDim();
      return [tensorType(x.dtype, [batch, x.shape?.[1] ?? ctx.freshDim(), grid.shape?.[1] ?? ctx.freshDim(), grid.shape?.[2] ?? ctx.freshDim()])];
    },
    run(ctx) {
      const mode = ctx.attrs.string('mode', 'bilinear');
      if (!['bilinear', 'nearest', 'bicubic'].includes(mode)) throw new TesseraError(`unknown mode '${mode}'`);
      const padding = PADDING_MODES[ctx.attrs.string('padding_mode', 'zeros')];
      if (padding === undefined) throw new TesseraError(`unknown padding_mode '${ctx.attrs.string('padding_mode')}'`);
      return [gridSample(ctx.tensor(0), ctx.tensor(1), mode, padding, ctx.attrs.int('align_corners', 0) !== 0)];
    },
  },
  roiAlignSchema(10),
  roiAlignSchema(16),
  nmsSchema(10),
  nmsSchema(11),
]);
