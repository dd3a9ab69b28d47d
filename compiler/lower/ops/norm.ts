// Normalizations: BatchNormalization (inference), InstanceNormalization, LayerNormalization (with its
// Mean / InvStdDev outputs), MeanVarianceNormalization, LpNormalization, LRN.
//
// The statistics-based ones share one kernel shape: the kept axes are the (parallel) outer loops; per
// group, one pass sums for the mean, a second sums squared deviations (the two-pass variance the
// reference uses: never negative from rounding), a third writes the normalized values.
import { TesseraError } from '../../../ir/errors.ts';
import {
  abs, add, assign, c, cast, div, let_, load, local, loop, mul, pow, store, sub, unary, v, type BufferRef,
} from '../../../ir/kernel/build.ts';
import type { Expr, KScalar, Stmt } from '../../../ir/kernel/ir.ts';
import { normAxis } from '../../../ir/ops/util.ts';
import { Tensor } from '../../../ir/tensor.ts';
import { viewAs, type KernelBuilder, type Lowering, type TensorRef } from '../context.ts';
import { ci, dot, iadd, imax, imin, isub, prod, stridesOf } from '../index-math.ts';
import { broadcastStrides, computeElem, emitMap, nest, to, widen } from '../loops.ts';
import type { OpLowering } from '../node.ts';

interface NormParts {
  kb: KernelBuilder;
  ins: BufferRef[];
  /** The element, widened. */
  x: Expr;
  mean: Expr;
  /** Population variance (Σ(x − mean)² / count). */
  variance: Expr;
  /** Full coordinates of the element. */
  coords: Expr[];
}

/**
 * y = value(x, mean, var, …) where mean and var are taken over the masked axes. `stats` receives the
 * kernel builder, the group's coordinates (kept axes; reduced ones 0) and mean/var, and may store them.
 */
function normalizeOver(
  L: Lowering, x: TensorRef, mask: readonly boolean[], extra: TensorRef[], value: (p: NormParts) => Expr,
  stats?: (kb: KernelBuilder, keptIdx: Expr[], mean: Expr, variance: Expr) => Stmt[],
  prepareStats?: (kb: KernelBuilder) => void,
): TensorRef {
  const out = L.temp(x.dtype, x.shape);
  const kb = L.kernel();
  const X = kb.input(x);
  const ins = extra.map((t, i) => kb.input(t, `p${i}`));
  prepareStats?.(kb);
  const Y = kb.output(out);
  const st = stridesOf(x.shape);
  const ce = computeElem(x.dtype);
  const kept = x.shape.map((d, i) => (mask[i] ? ci(1) : d));
  const reduced = x.shape.filter((_, i) => mask[i]);
  const count = L.dim(prod(reduced));
  const body = nest(kb, kept, (keptIdx) => {
    const coordsOf = (ri: Expr[]) => { let r = 0; return x.shape.map((_, i) => (mask[i] ? ri[r++]! : keptIdx[i]!)); };
    const at = (ri: Expr[]) => dot(coordsOf(ri), st);
    const sum = kb.fresh('sum'), sq = kb.fresh('sq'), mean = kb.fresh('mean'), vr = kb.fresh('var');
    const M = v(mean, ce), S = v(sum, ce), Q = v(sq, ce), V = v(vr, ce);
    const n = cast(ce, count);
    return [
      local(sum, ce, c(ce, 0)),
      ...nest(kb, reduced, (ri) => [assign(sum, add(S, widen(load(X, at(ri)))))], { parallel: false }),
      let_(mean, div(S, n)),
      local(sq, ce, c(ce, 0)),
      ...nest(kb, reduced, (ri) => {
        const d = kb.fresh('d');
        return [let_(d, sub(widen(load(X, at(ri))), M)), assign(sq, add(Q, mul(v(d, ce), v(d, ce))))];
      }, { parallel: false }),
      let_(vr, div(Q, n)),
      ...(stats ? stats(kb, keptIdx, M, V) : []),
      ...nest(kb, reduced, (ri) => [
        store(Y, at(ri), to(x.dtype, value({ kb, ins, x: widen(load(X, at(ri))), mean: M, variance: V, coords: coordsOf(ri) }))),
      ], { parallel: false }),
    ];
  });
  kb.finish(body);
  return out;
}

// ---------------------------------------------------------------- BatchNormalization (inference)

const lowerBatchNorm: OpLowering = (n) => {
  const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map((i) => n.input(i)) as TensorRef[];
  const r = x!.shape.length;
  if (r < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got rank ${r}`);
  const training = n.since >= 14 ? n.attrs.int('training_mode', 0) !== 0
    : n.since < 7 ? n.attrs.int('is_test', 0) === 0 && n.node.outputs.filter((o) => o && o.name).length > 1
      : n.node.outputs.filter((o) => o && o.name).length > 1;
  if (training) throw new TesseraError(`BatchNormalization in training mode cannot be compiled for target ${n.L.target} yet`);
  const eps = n.attrs.float('epsilon', 1e-5);
  const perFeature = n.since < 9 && n.attrs.int('spatial', 1) === 0;
  // Parameters per channel, viewed as [C, 1, …] (or per feature: the whole non-batch shape).
  const pshape = perFeature ? x!.shape.slice(1) : [x!.shape[1]!, ...new Array<Expr>(r - 2).fill(ci(1))];
  const params = [scale!, bias!, mean!, variance!];
  const ce = computeElem(x!.dtype);
  if (params.every((p) => p.constant)) {
    // Fold mul = scale / √(var + ε) and add = B − mean·mul at compile time (in f64, as the reference).
    const [s, b, m, vv] = params.map((p) => p.constant!.toNumbers());
    const F = s!.length;
    const mulT = new Array<number>(F), addT = new Array<number>(F);
    for (let f = 0; f < F; f++) { mulT[f] = s![f]! / Math.sqrt(vv![f]! + eps); addT[f] = b![f]! - m![f]! * mulT[f]!; }
    const dims = pshape.map((d) => Number((d as { value: number }).value));
    if (pshape.some((d) => d.kind !== 'const')) throw new TesseraError('per-feature BatchNormalization needs a static shape');
    const asRef = (vals: number[]): TensorRef => {
      const t = Tensor.from(ce, dims, vals);
      return { dtype: ce, shape: pshape, constant: t };
    };
    n.output(0, emitMap(n.L, [x!, asRef(mulT), asRef(addT)], x!.dtype, ([xv, mv, av]) => add(mul(xv!, mv!), av!)));
    return;
  }
  const views = params.map((p) => viewAs(p, pshape));
  n.output(0, emitMap(n.L, [x!, ...views], x!.dtype, ([xv, sv, bv, mv, vv]) => {
    const mulv = div(sv!, unary('sqrt', add(vv!, c(vv!.type, eps))));
    return add(mul(xv!, mulv), sub(bv!, mul(mv!, mulv)));
  }));
};

// ---------------------------------------------------------------- InstanceNormalization

const lowerInstanceNorm: OpLowering = (n) => {
  const x = n.input(0), scale = n.input(1), bias = n.input(2);
  const r = x.shape.length;
  if (r < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got rank ${r}`);
  const eps = n.attrs.float('epsilon', 1e-5);
  const mask = x.shape.map((_, i) => i >= 2);
  n.output(0, normalizeOver(n.L, x, mask, [scale, bias], ({ x: xv, mean, variance, coords, ins }) => {
    const ch = coords[1]!;
    const mulv = div(widen(load(ins[0]!, ch)), unary('sqrt', add(variance, c(variance.type, eps))));
    return add(mul(sub(xv, mean), mulv), widen(load(ins[1]!, ch)));
  }));
};

// ---------------------------------------------------------------- LayerNormalization

const lowerLayerNorm: OpLowering = (n) => {
  const x = n.input(0), scale = n.input(1), bias = n.optInput(2);
  const r = x.shape.length;
  const axis = normAxis(n.attrs.int('axis', -1), r);
  const eps = n.attrs.float('epsilon', 1e-5);
  const stash: KScalar = n.attrs.int('stash_type', 1) === 16 ? 'bf16' : 'f32';
  const mask = x.shape.map((_, i) => i >= axis);
  const normShape = x.shape.slice(axis);
  const sStr = broadcastStrides(scale.shape, normShape);
  const bStr = bias ? broadcastStrides(bias.shape, normShape) : [];
  const statShape = x.shape.map((d, i) => (i < axis ? d : ci(1)));
  const meanOut = n.hasOutput(1) ? n.L.temp(stash, statShape) : undefined;
  const invOut = n.hasOutput(2) ? n.L.temp(stash, statShape) : undefined;
  let mB: BufferRef | undefined, iB: BufferRef | undefined;
  const sst = stridesOf(statShape);
  const inv = (variance: Expr) => div(c(variance.type, 1), unary('sqrt', add(variance, c(variance.type, eps))));
  const y = normalizeOver(n.L, x, mask, bias ? [scale, bias] : [scale], ({ x: xv, mean, variance, coords, ins }) => {
    const j = coords.slice(axis);
    let r_ = mul(mul(sub(xv, mean), inv(variance)), widen(load(ins[0]!, dot(j, sStr))));
    if (bias) r_ = add(r_, widen(load(ins[1]!, dot(j, bStr))));
    return r_;
  }, (_kb, keptIdx, mean, variance) => [
    ...(mB ? [store(mB, dot(keptIdx, sst), to(stash, mean))] : []),
    ...(iB ? [store(iB, dot(keptIdx, sst), to(stash, inv(variance)))] : []),
  ], (kb) => {
    if (meanOut) mB = kb.output(meanOut, 'mean');
    if (invOut) iB = kb.output(invOut, 'invstd');
  });
  n.output(0, y);
  if (meanOut) n.output(1, meanOut);
  if (invOut) n.output(2, invOut);
};

// ---------------------------------------------------------------- MeanVarianceNormalization

const lowerMVN: OpLowering = (n) => {
  const x = n.input(0);
  const axes = n.attrs.ints('axes') ?? [0, 2, 3];
  const mask = x.shape.map(() => false);
  for (const a of axes) mask[normAxis(a, x.shape.length)] = true;
  n.output(0, normalizeOver(n.L, x, mask, [], ({ x: xv, mean, variance }) =>
    div(sub(xv, mean), add(unary('sqrt', variance), c(variance.type, 1e-9)))));
};

// ---------------------------------------------------------------- LpNormalization

const lowerLpNorm: OpLowering = (n) => {
  const x = n.input(0);
  const p = n.attrs.int('p', 2);
  if (p !== 1 && p !== 2) throw new TesseraError(`p must be 1 or 2, got ${p}`);
  const axis = normAxis(n.attrs.int('axis', -1), x.shape.length);
  const out = n.L.temp(x.dtype, x.shape);
  const kb = n.L.kernel();
  const X = kb.input(x), Y = kb.output(out);
  const st = stridesOf(x.shape);
  const ce = computeElem(x.dtype);
  const body = nest(kb, x.shape.map((d, i) => (i === axis ? ci(1) : d)), (idx) => {
    const s = kb.fresh('s'), k = kb.fresh('k'), k2 = kb.fresh('k'), nrm = kb.fresh('norm');
    const at = (kv: Expr) => dot(idx.map((e, d) => (d === axis ? kv : e)), st);
    const xk = (kv: Expr) => widen(load(X, at(kv)));
    return [
      local(s, ce, c(ce, 0)),
      loop(k, 0, x.shape[axis]!, [assign(s, add(v(s, ce), p === 1 ? abs(xk(v(k))) : mul(xk(v(k)), xk(v(k)))))]),
      let_(nrm, p === 1 ? v(s, ce) : unary('sqrt', v(s, ce))),
      loop(k2, 0, x.shape[axis]!, [store(Y, at(v(k2)), to(x.dtype, div(xk(v(k2)), v(nrm, ce))))]),
    ];
  });
  kb.finish(body);
  n.output(0, out);
};

// ---------------------------------------------------------------- LRN

const lowerLRN: OpLowering = (n) => {
  const x = n.input(0);
  const size = n.attrs.int('size');
  const alpha = n.attrs.float('alpha', 1e-4), beta = n.attrs.float('beta', 0.75), bias = n.attrs.float('bias', 1);
  const C = x.shape[1]!;
  const before = Math.floor((size - 1) / 2), after = Math.ceil((size - 1) / 2);
  const out = n.L.temp(x.dtype, x.shape);
  const kb = n.L.kernel();
  const X = kb.input(x), Y = kb.output(out);
  const st = stridesOf(x.shape);
  const ce = computeElem(x.dtype);
  const body = nest(kb, x.shape, (idx) => {
    const s = kb.fresh('s'), cc = kb.fresh('c');
    const at = (ch: Expr) => dot(idx.map((e, d) => (d === 1 ? ch : e)), st);
    const xc = widen(load(X, at(v(cc))));
    return [
      local(s, ce, c(ce, 0)),
      loop(cc, imax(isub(idx[1]!, before), 0), imin(iadd(idx[1]!, after + 1), C), [assign(s, add(v(s, ce), mul(xc, xc)))]),
      store(Y, dot(idx, st), to(x.dtype, div(widen(load(X, dot(idx, st))),
        pow(add(c(ce, bias), mul(c(ce, alpha / size), v(s, ce))), c(ce, beta))))),
    ];
  });
  kb.finish(body);
  n.output(0, out);
};

export const normLowerings: Record<string, OpLowering> = {
  BatchNormalization: lowerBatchNorm,
  InstanceNormalization: lowerInstanceNorm,
  LayerNormalization: lowerLayerNorm,
  MeanVarianceNormalization: lowerMVN,
  LpNormalization: lowerLpNorm,
  LRN: lowerLRN,
};


