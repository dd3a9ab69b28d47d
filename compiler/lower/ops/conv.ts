// Conv and ConvTranspose as direct loops (any number of spatial axes, groups, pads, strides, dilations,
// auto_pad). Conv: every output element sums its window; the kernel-offset loops run over exactly the
// taps that land inside the input (their bounds are computed per output position), so there are no
// branches in the inner loop. ConvTranspose gathers too: output position o receives input position
// i = (o + pad − k·dilation) / stride for the k where that is an integer inside the input.
import { TesseraError } from '../../../ir/errors.ts';
import { add, and, assign, c, div, eq, ge, if_, let_, load, local, loop, lt, mod, mul, store, v } from '../../../ir/kernel/build.ts';
import type { Expr, Stmt } from '../../../ir/kernel/ir.ts';
import type { TensorRef } from '../context.ts';
import { ci, dot, iadd, idiv, imax, imod, imul, isub, stridesOf } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';
import { readWindow, tapRange, windowAxis, type WindowAttrs } from './window.ts';

const constDims = (w: TensorRef, what: string): number[] => w.shape.slice(2).map((d) => {
  if (d.kind !== 'const') throw new TesseraError(`${what} must have a static kernel shape`);
  return Number(d.value);
});

const lowerConv: OpLowering = (n) => n.output(0, conv(n, n.input(0), n.input(1), n.optInput(2)));

/** The direct convolution of x by w (+ bias), accumulating in the compute type of x. */
export function conv(n: NodeLowering, x: TensorRef, w: TensorRef, b: TensorRef | undefined): TensorRef {
  const r = x.shape.length;
  if (r < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got rank ${r}`);
  const D = r - 2;
  const group = n.attrs.int('group', 1);
  const win = readWindow(n.attrs, D, constDims(w, 'the weights'));
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  const M = w.shape[0]!;
  const Cg = n.L.dim(idiv(C, group)), Mg = n.L.dim(idiv(M, group));
  const axes = x.shape.slice(2).map((d, i) => windowAxis(n.L, win, i, d));
  const outShape = [N, M, ...axes.map((a) => a.out)];
  const out = n.L.temp(x.dtype, outShape);
  const kb = n.L.kernel();
  const X = kb.input(x), W = kb.input(w, 'w'), B = b ? kb.input(b, 'bias') : undefined, Y = kb.output(out);
  const ce = computeElem(x.dtype);
  const xst = stridesOf(x.shape), wst = stridesOf(w.shape), yst = stridesOf(outShape);
  const inDims = x.shape.slice(2);
  const body = nest(kb, outShape, (idx) => {
    const [nn, m] = [idx[0]!, idx[1]!];
    const o = idx.slice(2);
    const acc = kb.fresh('acc'), cc = kb.fresh('c');
    const stmts: Stmt[] = [local(acc, ce, B ? widen(load(B, m)) : c(ce, 0))];
    const ranges = o.map((od, d) => tapRange(od, win.strides[d]!, win.dilations[d]!, axes[d]!.pb, inDims[d]!, win.kernel[d]!));
    const lo: Expr[] = [], hi: Expr[] = [];
    ranges.forEach((rg, d) => {
      const l = kb.fresh(`lo${d}`), h = kb.fresh(`hi${d}`);
      stmts.push(let_(l, rg.lo), let_(h, rg.hi));
      lo.push(v(l)); hi.push(v(h));
    });
    const g = group === 1 ? ci(0) : idiv(m, Mg);
    const ks = win.kernel.map((_, d) => kb.fresh(`k${d}`));
    let inner: Stmt[] = [assign(acc, add(v(acc, ce), mul(
      widen(load(X, dot([nn, iadd(imul(g, Cg), v(cc)), ...ks.map((kn, d) => isub(iadd(imul(o[d]!, win.strides[d]!), imul(v(kn), win.dilations[d]!)), axes[d]!.pb))], xst))),
      widen(load(W, dot([m, v(cc), ...ks.map((kn) => v(kn))], wst))),
    )))];
    for (let d = D - 1; d >= 0; d--) inner = [loop(ks[d]!, lo[d]!, hi[d]!, inner)];
    stmts.push(loop(cc, 0, Cg, inner));
    stmts.push(store(Y, dot(idx, yst), to(x.dtype, v(acc, ce))));
    return stmts;
  });
  kb.finish(body);
  return out;
}

// ---------------------------------------------------------------- ConvTranspose

interface TransposeAxis { out: Expr; pb: Expr }

function transposeAxis(n: NodeLowering, win: WindowAttrs, outPad: number[], outShape: number[] | undefined, i: number, inSize: Expr): TransposeAxis {
  const D = win.kernel.length;
  const s = win.strides[i]!;
  const full = n.L.dim(iadd(imul(s, isub(inSize, 1)), outPad[i]! + (win.kernel[i]! - 1) * win.dilations[i]! + 1));
  const same = win.autoPad === 'SAME_UPPER' || win.autoPad === 'SAME_LOWER';
  if (outShape || same) {
    const out = outShape ? ci(outShape[i]!) : n.L.dim(imul(inSize, s));
    const total = imax(isub(full, out), 0);
    const half = idiv(total, 2);
    const upper = win.autoPad === 'SAME_UPPER';
    const opset = n.opset;
    const pb = opset >= 11 ? (upper ? half : isub(total, half)) : (upper ? isub(total, half) : half);
    return { out, pb: n.L.dim(pb) };
  }
  const pb = win.autoPad === 'VALID' ? 0 : win.pads[i]!;
  const pe = win.autoPad === 'VALID' ? 0 : win.pads[i + D]!;
  return { out: n.L.dim(isub(full, pb + pe)), pb: ci(pb) };
}

const lowerConvTranspose: OpLowering = (n) => {
  const x = n.input(0), w = n.input(1), b = n.optInput(2);
  const r = x.shape.length;
  if (r < 3) throw new TesseraError(`input must have rank at least 3 (N, C and a spatial axis), got rank ${r}`);
  const D = r - 2;
  const group = n.attrs.int('group', 1);
  const win = readWindow(n.attrs, D, constDims(w, 'the weights'));
  const outPad = n.attrs.ints('output_padding') ?? new Array<number>(D).fill(0);
  let outShapeAttr = n.attrs.ints('output_shape');
  if (outShapeAttr && outShapeAttr.length === D + 2) outShapeAttr = outShapeAttr.slice(2);
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  const Mg = w.shape[1]!;
  const M = n.L.dim(imul(Mg, group));
  const Cg = n.L.dim(idiv(C, group));
  const inDims = x.shape.slice(2);
  const axes = inDims.map((d, i) => transposeAxis(n, win, outPad, outShapeAttr, i, d));
  const outShape = [N, M, ...axes.map((a) => a.out)];
  const out = n.L.temp(x.dtype, outShape);
  const kb = n.L.kernel();
  const X = kb.input(x), W = kb.input(w, 'w'), B = b ? kb.input(b, 'bias') : undefined, Y = kb.output(out);
  const ce = computeElem(x.dtype);
  const xst = stridesOf(x.shape), wst = stridesOf(w.shape), yst = stridesOf(outShape);
  const body = nest(kb, outShape, (idx) => {
    const [nn, m] = [idx[0]!, idx[1]!];
    const o = idx.slice(2);
    const acc = kb.fresh('acc'), cc = kb.fresh('c');
    const g = group === 1 ? ci(0) : idiv(m, Mg);
    const ml = group === 1 ? m : imod(m, Mg);
    const ks = win.kernel.map((_, d) => kb.fresh(`k${d}`));
    const ts = win.kernel.map((_, d) => kb.fresh(`t${d}`));
    // Innermost: the channel sum for one tap (all axes valid).
    let inner: Stmt[] = [loop(cc, 0, Cg, [assign(acc, add(v(acc, ce), mul(
      widen(load(X, dot([nn, iadd(imul(g, Cg), v(cc)), ...ts.map((t, d) => (win.strides[d] === 1 ? v(t) : div(v(t), win.strides[d]!)))], xst))),
      widen(load(W, dot([iadd(imul(g, Cg), v(cc)), ml, ...ks.map((kn) => v(kn))], wst))),
    )))])];
    for (let d = D - 1; d >= 0; d--) {
      const s = win.strides[d]!;
      const t = v(ts[d]!);
      const inside = s === 1 ? and(ge(t, 0), lt(t, inDims[d]!))
        : and(and(ge(t, 0), eq(mod(t, s), 0)), lt(div(t, s), inDims[d]!));
      inner = [loop(ks[d]!, 0, win.kernel[d]!, [
        let_(ts[d]!, isub(iadd(o[d]!, axes[d]!.pb), imul(v(ks[d]!), win.dilations[d]!))),
        if_(inside, inner),
      ])];
    }
    return [
      local(acc, ce, B ? widen(load(B, m)) : c(ce, 0)),
      ...inner,
      store(Y, dot(idx, yst), to(x.dtype, v(acc, ce))),
    ];
  });
  kb.finish(body);
  n.output(0, out);
};

export const convLowerings: Record<string, OpLowering> = {
  Conv: lowerConv,
  ConvTranspose: lowerConvTranspose,
};
