// Resize (opsets 10–19) and Upsample: nearest, linear and cubic interpolation, separable per axis.
//
// Each resized axis maps an output position to a few (input index, weight) taps. When the axis has a
// static input and output length the taps are computed at compile time in f64 — exactly the reference's
// plan — and stored as small weight tables; an axis with a symbolic length computes its taps in the
// kernel (f32; nearest and linear only). The kernel sums, per output element, the product of the axes'
// weights over the tap combinations.
import { TesseraError } from '../../../ir/errors.ts';
import {
  add, c, cast, div, eq, ge, le, load, lt, max, min, mul, or, select, sub, unary, v,
} from '../../../ir/kernel/build.ts';
import type { Expr, KScalar, Stmt } from '../../../ir/kernel/ir.ts';
import { assign, local, loop, store } from '../../../ir/kernel/build.ts';
import { Tensor } from '../../../ir/tensor.ts';
import type { KernelBuilder } from '../context.ts';
import { ci, constOf, dot, iadd, idiv, imod, imul, stridesOf } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';

type Mode = 'nearest' | 'linear' | 'cubic';
type Coord = 'half_pixel' | 'pytorch_half_pixel' | 'align_corners' | 'asymmetric' | 'tf_half_pixel_for_nn' | 'tf_crop_and_resize';
type Nearest = 'round_prefer_floor' | 'round_prefer_ceil' | 'floor' | 'ceil' | 'legacy';

interface Config { mode: Mode; coord: Coord; nearest: Nearest; cubicA: number; exclude: boolean; extrapolation: number }

function readConfig(n: NodeLowering): Config {
  const m = n.attrs.string('mode', 'nearest');
  const mode = (m === 'bilinear' ? 'linear' : m) as Mode;
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw new TesseraError(`unsupported mode '${m}'`);
  if (n.op === 'Upsample' || n.opset < 11) {
    return { mode, coord: 'asymmetric', nearest: 'legacy', cubicA: -0.75, exclude: false, extrapolation: 0 };
  }
  return {
    mode,
    coord: n.attrs.string('coordinate_transformation_mode', 'half_pixel') as Coord,
    nearest: n.attrs.string('nearest_mode', 'round_prefer_floor') as Nearest,
    cubicA: n.attrs.float('cubic_coeff_a', -0.75),
    exclude: n.attrs.int('exclude_outside', 0) !== 0,
    extrapolation: n.attrs.float('extrapolation_value', 0),
  };
}

// ---------------------------------------------------------------- compile-time axis plans (f64)

function nearestIndex(x: number, mode: Nearest, scale: number): number {
  if (mode === 'legacy') return scale < 1 ? Math.ceil(x) : Math.floor(x);
  if (Number.isInteger(x)) return x;
  const lo = Math.floor(x), frac = x - lo;
  switch (mode) {
    case 'round_prefer_floor': return frac <= 0.5 ? lo : lo + 1;
    case 'round_prefer_ceil': return frac < 0.5 ? lo : lo + 1;
    case 'floor': return lo;
    case 'ceil': return lo + 1;
  }
}

function cubic(r: number, a: number): number[] {
  const r1 = r + 1, s = 1 - r, s1 = s + 1;
  return [
    ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a,
    ((a + 2) * r - (a + 3)) * r * r + 1,
    ((a + 2) * s - (a + 3)) * s * s + 1,
    ((a * s1 - 5 * a) * s1 + 8 * a) * s1 - 4 * a,
  ];
}

function sourceCoord(o: number, cfg: Config, scale: number, resized: number, inLen: number, roi: [number, number]): number {
  const last = inLen - 1;
  switch (cfg.coord) {
    case 'half_pixel': return (o + 0.5) / scale - 0.5;
    case 'pytorch_half_pixel': return resized > 1 ? (o + 0.5) / scale - 0.5 : 0;
    case 'align_corners': return resized === 1 ? 0 : (o * last) / (resized - 1);
    case 'asymmetric': return o / scale;
    case 'tf_half_pixel_for_nn': return (o + 0.5) / scale;
    case 'tf_crop_and_resize':
      return resized > 1 ? roi[0] * last + (o * (roi[1] - roi[0]) * last) / (resized - 1) : 0.5 * (roi[0] + roi[1]) * last;
  }
}

interface StaticPlan { taps: number; index: number[]; weight: number[]; outside: number[] | undefined; identity: boolean }

function planStatic(inLen: number, outLen: number, scale: number, resized: number, roi: [number, number], cfg: Config): StaticPlan {
  if (inLen === 0 && outLen > 0) throw new TesseraError(`cannot resize an axis of length 0 to length ${outLen}`);
  const taps = cfg.mode === 'nearest' ? 1 : cfg.mode === 'linear' ? 2 : 4;
  const index: number[] = [], weight: number[] = [];
  let outside: number[] | undefined;
  let identity = inLen === outLen;
  const last = inLen - 1;
  for (let o = 0; o < outLen; o++) {
    const x = sourceCoord(o, cfg, scale, resized, inLen, roi);
    if (cfg.coord === 'tf_crop_and_resize' && !(x >= 0 && x <= last)) {
      (outside ??= new Array<number>(outLen).fill(0))[o] = 1;
      identity = false;
      for (let t = 0; t < taps; t++) { index.push(0); weight.push(0); }
      continue;
    }
    if (taps === 1) {
      const i = Math.min(last, Math.max(0, nearestIndex(x, cfg.nearest, scale)));
      index.push(i); weight.push(1);
      if (i !== o) identity = false;
      continue;
    }
    const i0 = Number.isInteger(x) ? x - 1 : Math.floor(x);
    const r = x - i0;
    const half = taps >> 1;
    let start = i0 - (half - 1);
    if (start < -half) start = -half;
    if (start + taps > inLen + half) start = inLen + half - taps;
    const w = taps === 2 ? [1 - r, r] : cubic(r, cfg.cubicA);
    if (cfg.exclude) {
      let sum = 0;
      for (let t = 0; t < taps; t++) { if (start + t < 0 || start + t > last) w[t] = 0; sum += w[t]!; }
      for (let t = 0; t < taps; t++) w[t]! /= sum;
    }
    for (let t = 0; t < taps; t++) {
      const p = Math.min(last, Math.max(0, start + t));
      index.push(p); weight.push(w[t]!);
      if (w[t] !== 0 && (p !== o || w[t] !== 1)) identity = false;
    }
  }
  return { taps, index, weight, outside, identity };
}

// ---------------------------------------------------------------- the lowering

interface AxisTaps {
  taps: number;
  /** Input index and weight of tap t at output coordinate o (weight undefined: 1). */
  at(kb: KernelBuilder, o: Expr, t: Expr): { index: Expr; weight?: Expr; outside?: Expr };
}

const lowerResize: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  const cfg = readConfig(n);
  const ce = computeElem(x.dtype);
  const wf: KScalar = ce === 'f64' ? 'f64' : 'f32';
  // Output sizes and scales.
  let scales: number[] | undefined, sizes: Expr[] | undefined;
  let roi: number[] | undefined;
  if (n.op === 'Upsample' && n.since < 9) scales = n.attrs.floats('scales');
  else if (n.since < 11 || n.op === 'Upsample') scales = n.constant(1)?.toNumbers() ?? undefined;
  else {
    if (n.has(3) && (n.input(3).constant?.size !== 0)) sizes = n.ints(3);
    else if (n.has(2)) {
      const s = n.constant(2);
      if (!s) throw new TesseraError(`op Resize with data-dependent output shape cannot be compiled ahead of time`);
      if (s.size > 0) scales = s.toNumbers();
    }
    if (cfg.coord === 'tf_crop_and_resize') {
      const rt = n.constant(1);
      if (!rt) throw new TesseraError('tf_crop_and_resize needs a constant roi');
      roi = rt.toNumbers();
    }
  }
  if (!scales && !sizes) throw new TesseraError(`op ${n.op} with data-dependent output shape cannot be compiled ahead of time`);
  if ((scales ?? sizes)!.length !== r) throw new TesseraError(`scales/sizes have ${(scales ?? sizes)!.length} values but the input has rank ${r}`);
  const extent = (i: number) => (roi ? roi[r + i]! - roi[i]! : 1);
  const outShape = x.shape.map((d, i) => {
    if (sizes) return n.L.dim(sizes[i]!);
    const f = extent(i) * scales![i]!;
    if (Number.isInteger(f)) return n.L.dim(imul(d, f));
    const dc = constOf(d);
    if (dc !== undefined) return ci(Math.floor(dc * extent(i) * scales![i]!));
    return n.L.dim(cast({ elem: 'i32', lanes: 1 }, unary('floor', mul(cast('f64', d), c('f64', f)))));
  });

  const axes: (AxisTaps | undefined)[] = x.shape.map((d, i) => {
    const inLen = constOf(d), outLen = constOf(outShape[i]!);
    if (inLen !== undefined && outLen !== undefined) {
      const scale = sizes ? outLen / inLen : scales![i]!;
      const resized = sizes ? outLen : inLen * extent(i) * scales![i]!;
      const plan = planStatic(inLen, outLen, scale, resized, roi ? [roi[i]!, roi[r + i]!] : [0, 1], cfg);
      if (plan.identity) return undefined;
      const T = plan.taps;
      const idxT = { dtype: 'i32' as const, shape: [ci(plan.index.length)], constant: Tensor.from('i32', [plan.index.length], plan.index) };
      const wT = { dtype: wf, shape: [ci(plan.weight.length)], constant: Tensor.from(wf, [plan.weight.length], plan.weight) };
      const outsideT = plan.outside ? { dtype: 'u8' as const, shape: [ci(outLen)], constant: Tensor.from('u8', [outLen], plan.outside) } : undefined;
      return {
        taps: T,
        at(kb, o, t) {
          const at = iadd(imul(o, T), t);
          const index = load(kb.input(idxT, `idx${i}`), at);
          const weight = T === 1 ? undefined : load(kb.input(wT, `w${i}`), at);
          const outside = outsideT ? eq(load(kb.input(outsideT, `out${i}`), o), c('u8', 1)) : undefined;
          return { index, weight, outside };
        },
      };
    }
    // Same length is the identity except where the coordinate map shifts (x = o + 0.5 rounds up under ceil).
    if (sameDims(d, outShape[i]!) && cfg.coord !== 'tf_half_pixel_for_nn' && cfg.coord !== 'tf_crop_and_resize') return undefined;
    if (cfg.mode === 'cubic' || cfg.coord === 'tf_crop_and_resize') {
      throw new TesseraError(`${cfg.mode === 'cubic' ? 'cubic' : 'tf_crop_and_resize'} resizing of an axis of symbolic length cannot be compiled for target ${n.L.target} yet; use --shape`);
    }
    return dynamicAxis(cfg, d, outShape[i]!, sizes ? undefined : scales![i]!);
  });

  const out = n.L.temp(x.dtype, outShape);
  const kb = n.L.kernel();
  const X = kb.input(x);
  const Y = kb.output(out);
  const xst = stridesOf(x.shape), yst = stridesOf(outShape);
  const body = nest(kb, outShape, (idx) => {
    const active = axes.map((a, i) => (a ? i : -1)).filter((i) => i >= 0);
    const tapVars = active.map((i) => (axes[i]!.taps === 1 ? undefined : kb.fresh(`t${i}`)));
    const parts = active.map((i, k) => axes[i]!.at(kb, idx[i]!, tapVars[k] ? v(tapVars[k]!) : ci(0)));
    const coords = x.shape.map((_, i) => {
      const k = active.indexOf(i);
      return k < 0 ? idx[i]! : parts[k]!.index;
    });
    const xv = widen(load(X, dot(coords, xst)));
    const outsides = parts.map((p) => p.outside).filter((e): e is Expr => e !== undefined);
    const outsideAny = outsides.length ? outsides.reduce((a, b) => or(a, b)) : undefined;
    const fill = c(ce, ce === 'i64' || ce === 'u64' ? BigInt(Math.trunc(cfg.extrapolation)) : cfg.extrapolation);
    const at = dot(idx, yst);
    if (cfg.mode === 'nearest') {
      const val = outsideAny ? select(outsideAny, fill, xv) : xv;
      return [store(Y, at, to(x.dtype, val))];
    }
    const acc = kb.fresh('acc');
    const wprod = parts.reduce<Expr | undefined>((w, p) => (p.weight ? (w ? mul(w, p.weight) : p.weight) : w), undefined);
    const term = wprod ? mul(to(wf, wprod), to(wf, xv)) : to(wf, xv);
    let inner: Stmt[] = [assign(acc, add(v(acc, wf), term))];
    active.forEach((i, k) => { if (tapVars[k]) inner = [loop(tapVars[k]!, 0, axes[i]!.taps, inner)]; });
    const result = outsideAny ? select(outsideAny, to(wf, fill), v(acc, wf)) : v(acc, wf);
    // Integers take the value truncated and saturated (cubic weights overshoot), as the reference stores.
    return [local(acc, wf, c(wf, 0)), ...inner, store(Y, at, to(x.dtype, result))];
  });
  kb.finish(body);
  n.output(0, out);
};

const sameDims = (a: Expr, b: Expr) => JSON.stringify(a) === JSON.stringify(b);

/** Taps computed in the kernel for an axis whose length is symbolic (nearest, linear). */
function dynamicAxis(cfg: Config, inLen: Expr, outLen: Expr, scaleConst: number | undefined): AxisTaps {
  const f = (e: Expr) => cast('f32', e);
  const scale = scaleConst !== undefined ? c('f32', scaleConst) : div(f(outLen), f(inLen));
  const resized = scaleConst !== undefined ? mul(f(inLen), c('f32', scaleConst)) : f(outLen);
  const last = sub(inLen, 1);
  const coord = (o: Expr): Expr => {
    const of = f(o);
    const half = c('f32', 0.5);
    switch (cfg.coord) {
      case 'half_pixel': return sub(div(add(of, half), scale), half);
      case 'pytorch_half_pixel': return select(gt1(resized), sub(div(add(of, half), scale), half), c('f32', 0));
      case 'align_corners': return select(eq(resized, c('f32', 1)), c('f32', 0), div(mul(of, f(last)), sub(resized, c('f32', 1))));
      case 'asymmetric': return div(of, scale);
      case 'tf_half_pixel_for_nn': return div(add(of, half), scale);
      default: throw new TesseraError(`coordinate mode ${cfg.coord} on a symbolic axis`);
    }
  };
  const clampIdx = (e: Expr) => min(max(e, ci(0)), last);
  const i32 = (e: Expr) => cast({ elem: 'i32', lanes: 1 }, e);
  if (cfg.mode === 'nearest' && scaleConst !== undefined && PERIODIC.has(cfg.coord) && Number.isInteger(scaleConst) && scaleConst >= 1 && scaleConst <= 64) {
    // An integer upscale k: for o = q·k + r the source coordinate is q + x(r), so the index is q plus an
    // offset per remainder, known at compile time (exact, like the reference's f64 plan; no float per element).
    const k = scaleConst;
    const off = Array.from({ length: k }, (_, r) => nearestIndex(sourceCoord(r, cfg, k, 2, 0, [0, 1]), cfg.nearest, k));
    return {
      taps: 1,
      at(_kb, o) {
        const rem = imod(o, k);
        let e = iadd(idiv(o, k), off[0]!);
        for (let r = 1; r < k; r++) if (off[r] !== off[r - 1]) e = iadd(e, select(ge(rem, ci(r)), ci(off[r]! - off[r - 1]!), ci(0)));
        return { index: clampIdx(e) };
      },
    };
  }
  if (cfg.mode === 'nearest') {
    return {
      taps: 1,
      at(_kb, o) {
        const xx = coord(o);
        const fl = unary('floor', xx), frac = sub(xx, fl);
        let ix: Expr;
        switch (cfg.nearest) {
          case 'legacy': ix = select(lt(scale, c('f32', 1)), unary('ceil', xx), fl); break;
          case 'round_prefer_floor': ix = select(le(frac, c('f32', 0.5)), fl, add(fl, c('f32', 1))); break;
          case 'round_prefer_ceil': ix = select(lt(frac, c('f32', 0.5)), fl, add(fl, c('f32', 1))); break;
          case 'floor': ix = fl; break;
          case 'ceil': ix = unary('ceil', xx); break;
        }
        return { index: clampIdx(i32(ix)) };
      },
    };
  }
  return {
    taps: 2,
    at(_kb, o, t) {
      const xx = coord(o);
      const fl = unary('floor', xx);
      const i0 = select(eq(fl, xx), sub(xx, c('f32', 1)), fl);
      const rr = sub(xx, i0);
      // start = clamp(i0, −1, inLen − 1); taps start, start+1
      const start = min(max(i32(i0), ci(-1)), last);
      const w = select(eq(t, ci(0)), sub(c('f32', 1), rr), rr);
      return { index: clampIdx(add(start, t)), weight: w };
    },
  };
}

const gt1 = (e: Expr) => lt(c('f32', 1), e);

/** Coordinate modes where x(q·k + r) = q + x(r) for an integer scale k (pytorch_half_pixel: when resized > 1). */
const PERIODIC = new Set<Coord>(['asymmetric', 'half_pixel', 'pytorch_half_pixel', 'tf_half_pixel_for_nn']);

export const resizeLowerings: Record<string, OpLowering> = {
  Resize: lowerResize,
  Upsample: lowerResize,
};
