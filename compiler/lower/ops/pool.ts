// Pooling: MaxPool (with its optional argmax Indices output), AveragePool (count_include_pad), LpPool,
// and the global forms (reductions over every spatial axis). Windows loop over exactly the taps inside
// the input, as Conv does; padding never contributes a value.
import { TesseraError } from '../../../ir/errors.ts';
import {
  abs, add, assign, c, cast, div, gt, if_, isFloatElem, let_, load, local, loop, lt, pow, select, store, v,
} from '../../../ir/kernel/build.ts';
import type { Expr, KScalar, Stmt } from '../../../ir/kernel/ir.ts';
import { intRange } from '../../../ir/kernel/build.ts';
import { ci, dot, iadd, imax, imin, imul, isub, prod, stridesOf } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';
import { reduceAxes } from './reduce.ts';
import { readWindow, tapRange, windowAxis } from './window.ts';
import { ifloordiv } from '../index-math.ts';

type PoolMode = 'max' | 'avg' | 'lp';

const lowest = (e: KScalar): Expr => {
  if (isFloatElem(e)) return c(e, -Infinity);
  const [lo] = intRange(e);
  return c(e, e === 'i64' ? lo : Number(lo));
};

function lowerPool(mode: PoolMode): OpLowering {
  return (n: NodeLowering) => {
    const x = n.input(0);
    const r = x.shape.length;
    if (r < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got rank ${r}`);
    const D = r - 2;
    const win = readWindow(n.attrs, D);
    const inDims = x.shape.slice(2);
    const axes = inDims.map((d, i) => windowAxis(n.L, win, i, d));
    const outShape = [x.shape[0]!, x.shape[1]!, ...axes.map((a) => a.out)];
    const out = n.L.temp(x.dtype, outShape);
    const wantIdx = mode === 'max' && n.hasOutput(1);
    const idxOut = wantIdx ? n.L.temp('i64', outShape) : undefined;
    const storageOrder = n.attrs.int('storage_order', 0);
    const countPad = mode === 'avg' && n.attrs.int('count_include_pad', 0) !== 0;
    const p = mode === 'lp' ? n.attrs.float('p', 2) : 2;
    const kb = n.L.kernel();
    const X = kb.input(x), Y = kb.output(out), I = idxOut ? kb.output(idxOut, 'indices') : undefined;
    const ce = computeElem(x.dtype);
    const xst = stridesOf(x.shape), yst = stridesOf(outShape);
    // Column-major spatial strides for storage_order = 1 indices.
    const colSt: Expr[] = [];
    for (let d = 0, acc: Expr = ci(1); d < D; d++) { colSt.push(acc); acc = imul(acc, inDims[d]!); }
    const inPlane = prod(inDims);
    const body = nest(kb, outShape, (idx) => {
      const o = idx.slice(2);
      const acc = kb.fresh('acc');
      const A = v(acc, ce);
      const stmts: Stmt[] = [];
      const lo: Expr[] = [], hi: Expr[] = [];
      o.forEach((od, d) => {
        const rg = tapRange(od, win.strides[d]!, win.dilations[d]!, axes[d]!.pb, inDims[d]!, win.kernel[d]!);
        const l = kb.fresh(`lo${d}`), h = kb.fresh(`hi${d}`);
        stmts.push(let_(l, rg.lo), let_(h, rg.hi));
        lo.push(v(l)); hi.push(v(h));
      });
      const ks = win.kernel.map((_, d) => kb.fresh(`k${d}`));
      const pos = ks.map((kn, d) => isub(iadd(imul(o[d]!, win.strides[d]!), imul(v(kn), win.dilations[d]!)), axes[d]!.pb));
      const xv = widen(load(X, dot([idx[0]!, idx[1]!, ...pos], xst)));
      const best = I ? kb.fresh('bi') : undefined;
      let inner: Stmt[];
      if (mode === 'max') {
        // `v > best` keeps the first maximum and skips NaN, as the reference does; the index starts at the
        // first tap, which stays when no tap beats the initial value (all NaN or −Inf, or the integer minimum).
        const val = kb.fresh('v');
        const spatial = storageOrder === 1 ? dot(pos, colSt) : dot(pos, stridesOf(inDims));
        inner = [let_(val, xv), if_(gt(v(val, ce), A), [assign(acc, v(val, ce)), ...(best ? [assign(best, spatial)] : [])],
          best ? [assign(best, select(lt(v(best), ci(0)), spatial, v(best)))] : [])];
        stmts.push(local(acc, ce, lowest(ce)));
        if (best) stmts.push(local(best, 'i32', -1));
      } else if (mode === 'avg') {
        inner = [assign(acc, add(A, xv))];
        stmts.push(local(acc, ce, c(ce, 0)));
      } else {
        inner = [assign(acc, add(A, pow(abs(xv), c(ce, p))))];
        stmts.push(local(acc, ce, c(ce, 0)));
      }
      for (let d = D - 1; d >= 0; d--) inner = [loop(ks[d]!, lo[d]!, hi[d]!, inner)];
      stmts.push(...inner);
      let result: Expr = A;
      if (mode === 'avg') {
        let count: Expr = ci(1);
        o.forEach((od, d) => {
          if (countPad) {
            // Taps inside the padded extent [−pb, n + pe).
            const start = isub(imul(od, win.strides[d]!), axes[d]!.pb);
            const k = win.kernel[d]!, dil = win.dilations[d]!;
            const end = isub(iadd(inDims[d]!, axes[d]!.pe), 1);
            const taps = imax(imin(iadd(ifloordiv(isub(end, start), dil), 1), k), 0);
            count = imul(count, taps);
          } else count = imul(count, imax(isub(hi[d]!, lo[d]!), 0));
        });
        result = div(A, cast(ce, count));
      } else if (mode === 'lp') {
        result = pow(A, c(ce, 1 / p));
      }
      stmts.push(store(Y, dot(idx, yst), to(x.dtype, result)));
      if (I && best) {
        const plane = iadd(imul(idx[0]!, x.shape[1]!), idx[1]!);
        stmts.push(store(I, dot(idx, yst), cast('i64', select(gt(v(best), -1), iadd(imul(plane, inPlane), v(best)), ci(-1)))));
      }
      return stmts;
    });
    kb.finish(body);
    n.output(0, out);
    if (idxOut) n.output(1, idxOut);
  };
}

function lowerGlobal(mode: PoolMode): OpLowering {
  return (n) => {
    const x = n.input(0);
    const r = x.shape.length;
    if (r < 2) throw new TesseraError(`input must have rank at least 2 (N, C), got rank ${r}`);
    const mask = x.shape.map((_, i) => i >= 2);
    const ce = computeElem(x.dtype);
    const p = mode === 'lp' ? n.attrs.float('p', 2) : 2;
    const spec = mode === 'max'
      ? { acc: ce, init: lowest(ce), step: (a: Expr, y: Expr) => select(gt(y, a), y, a) }
      : mode === 'avg'
        ? { acc: ce, init: c(ce, 0), step: add, finish: (a: Expr, cnt: Expr) => div(a, cast(ce, cnt)), sums: true }
        : { acc: ce, init: c(ce, 0), step: (a: Expr, y: Expr) => add(a, pow(abs(y), c(ce, p))), finish: (a: Expr) => pow(a, c(ce, 1 / p)) };
    n.output(0, reduceAxes(n.L, x, mask, x.dtype, spec));
  };
}

export const poolLowerings: Record<string, OpLowering> = {
  MaxPool: lowerPool('max'),
  AveragePool: lowerPool('avg'),
  LpPool: lowerPool('lp'),
  GlobalMaxPool: lowerGlobal('max'),
  GlobalAveragePool: lowerGlobal('avg'),
  GlobalLpPool: lowerGlobal('lp'),
};


