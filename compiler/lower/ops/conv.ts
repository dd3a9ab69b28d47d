// Conv and ConvTranspose. Fast forms first (f32): 2-D depthwise as vectorized direct loops; group 1 (or any
// group with one image) as im2col + a matmul kernel with a MatmulPattern (1×1 stride-1 convs read the input
// directly); ConvTranspose with group 1 as a matmul + a gather of the taps. Otherwise direct loops (any
// number of spatial axes, groups, pads, strides, dilations, auto_pad). Direct Conv: every output element
// sums its window; the kernel-offset loops run over exactly the taps that land inside the input (their
// bounds are computed per output position), so there are no branches in the inner loop. ConvTranspose gathers too: output position o receives input position
// i = (o + pad − k·dilation) / stride for the k where that is an integer inside the input.
import { TesseraError } from '../../../ir/errors.ts';
import { add, and, assign, broadcast, c, div, eq, ge, if_, let_, load, local, loop, lt, mod, mul, store, v } from '../../../ir/kernel/build.ts';
import type { Expr, Stmt } from '../../../ir/kernel/ir.ts';
import { viewAs, type KernelBuilder, type TensorRef } from '../context.ts';
import { ci, constOf, dot, iadd, iceildiv, idiv, ifloordiv, imax, imin, imod, imul, isConst, isub, prod, stridesOf } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';
import { matmulKernel } from './matmul.ts';
import { readWindow, tapRange, windowAxis, type WindowAttrs } from './window.ts';

const constDims = (w: TensorRef, what: string): number[] => w.shape.slice(2).map((d) => {
  if (d.kind !== 'const') throw new TesseraError(`${what} must have a static kernel shape`);
  return Number(d.value);
});

const group1 = (n: NodeLowering): boolean => n.attrs.int('group', 1) === 1;

const lowerConv: OpLowering = (n) => {
  const x = n.input(0), w = n.input(1), b = n.optInput(2);
  // On a GPU the direct form is already one thread per output (its nest is parallel over every output dim),
  // while the CPU forms put a whole channel or row in one iteration: they serve the WASM target.
  if (n.L.target === 'cuda') { n.output(0, conv(n, x, w, b)); return; }
  // WebGPU: im2col (one row per thread) + the tiled matmul template, or the direct form (depthwise, grouped).
  if (n.L.target === 'webgpu') { n.output(0, (group1(n) ? convAsMatmul(n, x, w, b) : undefined) ?? conv(n, x, w, b)); return; }
  n.output(0, depthwise2d(n, x, w, b) ?? convAsMatmul(n, x, w, b) ?? conv(n, x, w, b));
};

/**
 * f32 2-D depthwise Conv (one input and one output channel per group) as direct loops that SIMD-vectorize:
 * per output row, the taps' row range is computed once; the columns whose every tap lies inside the input
 * run without bounds checks, four at a time when the stride is 1 (each tap one broadcast weight times four
 * consecutive inputs), and only the border columns clip their taps. im2col would copy the input once per tap
 * for a matmul with a single row. Undefined when the node is not such a Conv.
 */
function depthwise2d(n: NodeLowering, x: TensorRef, w: TensorRef, b: TensorRef | undefined): TensorRef | undefined {
  if (x.dtype !== 'f32' || x.shape.length !== 4) return undefined;
  const group = n.attrs.int('group', 1);
  const [N, C, H, W] = x.shape as [Expr, Expr, Expr, Expr];
  if (group === 1 || !isConst(C, group) || !isConst(w.shape[0]!, group) || !isConst(w.shape[1]!, 1)) return undefined;
  const L = n.L;
  const win = readWindow(n.attrs, 2, constDims(w, 'the weights'));
  const [KH, KW] = win.kernel as [number, number];
  const [sh, sw] = win.strides as [number, number], [dh, dw] = win.dilations as [number, number];
  const [ah, aw] = [windowAxis(L, win, 0, H), windowAxis(L, win, 1, W)];
  const [OH, OW] = [ah.out, aw.out];
  const out = L.temp('f32', [N, C, OH, OW]);
  const kb = L.kernel('DepthwiseConv');
  const X = kb.input(x), Wt = kb.input(w, 'w'), B = b ? kb.input(b, 'bias') : undefined, Y = kb.output(out);
  // Symbolic sizes are evaluated once, not in the inner loops (the index math would recompute them).
  const [lets, [Nv, Hv, Wv, OHv, OWv, pbh, pbw]] = hoist(kb, [N, H, W, OH, OW, ah.pb, aw.pb]) as [Stmt[], Expr[]];
  const f = (name: string) => kb.fresh(name);
  const [oh, kh, acc] = [f('oh'), f('kh'), f('acc')];
  const [klo, khi, xRow, yRow, owA, owB, owV] = ['khlo', 'khhi', 'xrow', 'yrow', 'owa', 'owb', 'owv'].map(f) as string[];
  const body = nest(kb, [Nv!, C], ([img, ch]) => {
    const plane = imul(iadd(imul(img!, C), ch!), imul(Hv!, Wv!));
    const yPlane = imul(iadd(imul(img!, C), ch!), imul(OHv!, OWv!));
    const rg = tapRange(v(oh), sh, dh, pbh!, Hv!, KH);
    const wAt = (khE: Expr, kw: Expr | number) => iadd(imul(ch!, KH * KW), iadd(imul(khE, KW), kw));
    const init = (lanes: 1 | 4) => {
      const b0 = B ? load(B, ch!) : c('f32', 0);
      return lanes === 1 ? b0 : broadcast(b0, 4);
    };
    /** acc += Σ taps at column ow (kw from kwLo to kwHi, or every kw when inside). */
    const taps = (owE: Expr, lanes: 1 | 4, kwRange?: { lo: Expr; hi: Expr }): Stmt[] => {
      const col = (kw: Expr | number) => iadd(isub(imul(owE, sw), pbw!), imul(kw, dw));
      const term = (kw: Expr | number) => mul(lanes === 1 ? load(Wt, wAt(v(kh), kw)) : broadcast(load(Wt, wAt(v(kh), kw)), 4),
        load(X, iadd(v(xRow), col(kw)), lanes));
      const accT = lanes === 1 ? v(acc, 'f32') : v(acc, { elem: 'f32', lanes: 4 });
      const kwVar = f('kw');
      const inner: Stmt[] = kwRange
        ? [loop(kwVar, kwRange.lo, kwRange.hi, [assign(acc, add(accT, term(v(kwVar))))])]
        : Array.from({ length: KW }, (_, kw) => assign(acc, add(accT, term(kw))));
      return [loop(kh, v(klo), v(khi), [let_(xRow, iadd(plane, imul(iadd(isub(imul(v(oh), sh), pbh!), imul(v(kh), dh)), Wv!))), ...inner])];
    };
    const scalarAt = (owE: Expr, clip: boolean): Stmt[] => [
      local(acc, 'f32', init(1)),
      ...taps(owE, 1, clip ? tapRange(owE, sw, dw, pbw!, Wv!, KW) : undefined),
      store(Y, iadd(v(yRow), owE), v(acc, 'f32')),
    ];
    // Columns whose taps all lie inside: ow·sw − pb ≥ 0 and ow·sw − pb + (KW − 1)·dw ≤ W − 1.
    const first = imin(iceildiv(pbw!, sw), OWv!);
    const last = imax(v(owA), imin(OWv!, iadd(ifloordiv(iadd(isub(isub(Wv!, 1), (KW - 1) * dw), pbw!), sw), 1)));
    const [o1, o2, o3, o4] = [f('ow'), f('ow'), f('ow'), f('ow')];
    const row: Stmt[] = [
      let_(klo, rg.lo), let_(khi, rg.hi), let_(yRow, iadd(yPlane, imul(v(oh), OWv!))),
      let_(owA, first), let_(owB, last),
      loop(o1, 0, v(owA), scalarAt(v(o1), true)),
    ];
    if (sw === 1) {
      row.push(
        let_(owV, iadd(v(owA), imul(idiv(isub(v(owB), v(owA)), 4), 4))),
        loop(o2, v(owA), v(owV), [
          local(acc, { elem: 'f32', lanes: 4 }, init(4)),
          ...taps(v(o2), 4),
          store(Y, iadd(v(yRow), v(o2)), v(acc, { elem: 'f32', lanes: 4 })),
        ], { step: 4 }),
        loop(o3, v(owV), v(owB), scalarAt(v(o3), false)),
      );
    } else {
      row.push(loop(o3, v(owA), v(owB), scalarAt(v(o3), false)));
    }
    row.push(loop(o4, v(owB), OWv!, scalarAt(v(o4), true)));
    return [loop(oh, 0, OHv!, row)];
  });
  kb.finish([...lets, ...body]);
  return out;
}

/**
 * f32 Conv as matmuls a backend can replace with its tuned template (a MatmulPattern): per image and group,
 * Y[m, p] = Σ_r W[m, r] · col[r, p] with r = (c, taps…) and p the output positions, where col is the
 * im2col copy of the input windows (zero in the padding) — or the input itself for a 1×…×1 kernel with
 * stride 1 and no padding. The bias is added in place afterwards. Applies to group 1, and to any group when
 * the batch is 1 (the groups then are the matmul's batch); undefined otherwise (the direct loops apply).
 */
function convAsMatmul(n: NodeLowering, x: TensorRef, w: TensorRef, b: TensorRef | undefined): TensorRef | undefined {
  const r = x.shape.length;
  if (x.dtype !== 'f32' || r < 3) return undefined;
  const D = r - 2;
  const group = n.attrs.int('group', 1);
  const L = n.L;
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  if (group !== 1 && !isConst(N, 1)) return undefined;
  const win = readWindow(n.attrs, D, constDims(w, 'the weights'));
  const M = w.shape[0]!;
  const Cg = L.dim(idiv(C, group)), Mg = L.dim(idiv(M, group));
  const axes = x.shape.slice(2).map((d, i) => windowAxis(L, win, i, d));
  const outSp = axes.map((a) => a.out), inSp = x.shape.slice(2);
  const P = L.dim(prod(outSp)), taps = win.kernel.reduce((a, k) => a * k, 1);
  const K = L.dim(imul(Cg, taps));
  if (w.constant && (constOf(Mg) === undefined || constOf(K) === undefined)) return undefined; // weights need a static view
  const out = L.temp('f32', [N, M, ...outSp]);
  const pointwise = taps === 1 && win.strides.every((s) => s === 1) && axes.every((a) => isConst(a.pb, 0) && isConst(a.pe, 0));
  let col = x;
  if (!pointwise) {
    // col[img, g, c, taps…, outSp…] = x[img, g·Cg + c, o·s − pb + k·d…] inside the input, else 0.
    col = L.temp('f32', [N, ci(group), Cg, ...win.kernel.map(ci), ...outSp]);
    const kb = L.kernel('im2col');
    const X = kb.input(x), Y = kb.output(col);
    const [lets, [Nv, Cv, Cgv, ...sp]] = hoist(kb, [N, C, Cg, ...outSp, ...inSp, ...axes.map((a) => a.pb)]);
    const [outV, inV, pbV] = [sp.slice(0, D), sp.slice(D, 2 * D), sp.slice(2 * D)];
    const colShape = [Nv!, ci(group), Cgv!, ...win.kernel.map(ci), ...outV];
    const xst = stridesOf([Nv!, Cv!, ...inV]), cst = stridesOf(colShape);
    // Per row of col (all coordinates but the last output axis): the outer axes' taps are inside or the row
    // is zero; along the last axis the columns whose tap is inside form one range [lo, hi), copied (four at a
    // time for stride 1) between zero-filled ends.
    const last = D - 1, sL = win.strides[last]!;
    kb.finish([...lets, ...nest(kb, colShape.slice(0, -1), (idx) => {
      const [img, g, c] = [idx[0]!, idx[1]!, idx[2]!];
      const ks = idx.slice(3, 3 + D), os = idx.slice(3 + D);
      const at = os.map((o, d) => isub(iadd(imul(o, win.strides[d]!), imul(ks[d]!, win.dilations[d]!)), pbV[d]!));
      const rowInside = at.length ? at.map((a, d) => and(ge(a, 0), lt(a, inV[d]!))).reduce((p, q) => and(p, q)) : undefined;
      const [row, src, lo, hi, mid, j0, j1, j2, j3] = ['row', 'src', 'lo', 'hi', 'mid', 'j', 'j', 'j', 'j'].map((h) => kb.fresh(h)) as string[];
      const shift = isub(imul(ks[last]!, win.dilations[last]!), pbV[last]!); // input column = j·s + shift
      const OWL = outV[last]!;
      const zeros = (name: string, from: Expr, to: Expr) => loop(name, from, to, [store(Y, iadd(v(row), v(name)), c0)]);
      const srcAt = (j: Expr) => iadd(v(src), iadd(imul(j, sL), shift));
      const copy: Stmt[] = [
        // lo = ⌈−shift / s⌉ and hi = ⌊(W − 1 − shift) / s⌋ + 1, clamped to [0, OW].
        let_(lo, imin(imax(isub(0, ifloordiv(shift, sL)), 0), OWL)),
        let_(hi, imax(imin(iadd(ifloordiv(isub(isub(inV[last]!, 1), shift), sL), 1), OWL), v(lo))),
        let_(src, dot([img, iadd(imul(g, Cgv!), c), ...at, ci(0)], xst)),
        zeros(j0, ci(0), v(lo)),
      ];
      if (sL === 1) {
        copy.push(
          let_(mid, iadd(v(lo), imul(idiv(isub(v(hi), v(lo)), 4), 4))),
          loop(j1, v(lo), v(mid), [store(Y, iadd(v(row), v(j1)), load(X, srcAt(v(j1)), 4))], { step: 4 }),
          loop(j2, v(mid), v(hi), [store(Y, iadd(v(row), v(j2)), load(X, srcAt(v(j2))))]),
        );
      } else {
        copy.push(loop(j2, v(lo), v(hi), [store(Y, iadd(v(row), v(j2)), load(X, srcAt(v(j2))))]));
      }
      copy.push(zeros(j3, v(hi), OWL));
      return [
        let_(row, dot([...idx, ci(0)], cst)),
        ...(rowInside ? [if_(rowInside, copy, [zeros(j0, ci(0), OWL)])] : copy),
      ];
    })]);
  }
  // One matmul per (image, group): A = W[g] (broadcast over images), B = col[img, g], Y = out[img, g].
  const batch = L.dim(imul(N, group));
  const aBatchStride = group === 1 ? ci(0) : L.dim(imul(Mg, K));
  const bBatchStride = L.dim(imul(K, P));
  const wm = viewAs(w, [ci(group), Mg, K]), cm = viewAs(col, [batch, K, P]);
  matmulKernel(L, wm, cm, out, { batch: [batch], M: Mg, N: P, K },
    ([bi], m, k) => iadd(imul(bi!, aBatchStride), iadd(imul(m, K), k)),
    ([bi], k, p) => iadd(imul(bi!, bBatchStride), iadd(imul(k, P), p)),
    undefined, 'Conv', { aBatchStride, bBatchStride, transA: false, transB: false });
  if (b) {
    const kb = L.kernel('Conv_bias');
    const B = kb.input(b, 'bias'), Y = kb.inout(out);
    const [lets, [Nv, Mv, Pv]] = hoist(kb, [N, M, P]);
    // Per (image, channel) row: one broadcast bias added four outputs at a time, then the tail.
    const [p4, row, pv, pt, bv] = [kb.fresh('p4'), kb.fresh('row'), kb.fresh('p'), kb.fresh('p'), kb.fresh('bias')];
    kb.finish([...lets, let_(p4, imul(idiv(Pv!, 4), 4)), ...nest(kb, [Nv!, Mv!], ([img, m]) => [
      let_(row, imul(iadd(imul(img!, Mv!), m!), Pv!)), let_(bv, load(B, m!)),
      loop(pv, 0, v(p4), [store(Y, iadd(v(row), v(pv)), add(load(Y, iadd(v(row), v(pv)), 4), broadcast(v(bv, 'f32'), 4)))], { step: 4 }),
      loop(pt, v(p4), Pv!, [store(Y, iadd(v(row), v(pt)), add(load(Y, iadd(v(row), v(pt))), v(bv, 'f32')))]),
    ])]);
  }
  return out;
}
const c0 = c('f32', 0);

/** Binds each non-trivial size expression to a `let` at the kernel's top; returns the lets and the names. */
function hoist(kb: KernelBuilder, es: Expr[]): [Stmt[], Expr[]] {
  const lets: Stmt[] = [];
  const vars = es.map((e) => {
    if (e.kind === 'const' || e.kind === 'var') return e;
    const name = kb.fresh('sz');
    lets.push(let_(name, e));
    return v(name);
  });
  return [lets, vars];
}

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
  if (n.L.target !== 'cuda' && group === 1 && x.dtype === 'f32' && constOf(Mg) !== undefined && constOf(C) !== undefined) {
    n.output(0, convTransposeAsMatmul(n, x, w, b, win, axes, outShape));
    return;
  }
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

/**
 * f32 ConvTranspose with group 1 as a matmul a backend may replace with its template, then a gather:
 * col[img, (m, taps…), i] = Σ_c W[c, (m, taps…)] · x[img, c, i] (A = W transposed, B = the image), and each
 * output position sums, over the taps that land on it, the column entry of the input position
 * i = (o + pad − k·dilation) / stride where that is an integer inside the input (plus the bias). The direct
 * form would sum channels × taps per output element; this sums taps only.
 */
function convTransposeAsMatmul(n: NodeLowering, x: TensorRef, w: TensorRef, b: TensorRef | undefined, win: WindowAttrs,
  axes: TransposeAxis[], outShape: Expr[]): TensorRef {
  const L = n.L;
  const D = win.kernel.length;
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  const Mg = w.shape[1]!;
  const taps = win.kernel.reduce((a, k) => a * k, 1);
  const inDims = x.shape.slice(2);
  const Mt = L.dim(imul(Mg, taps)), P = L.dim(prod(inDims));
  const col = L.temp('f32', [N, Mt, P]);
  const bStride = L.dim(imul(C, P));
  matmulKernel(L, viewAs(w, [C, Mt]), viewAs(x, [N, C, P]), col, { batch: [N], M: Mt, N: P, K: C },
    (_bi, m, k) => iadd(imul(k, Mt), m),
    ([bi], k, p) => iadd(imul(bi!, bStride), iadd(imul(k, P), p)),
    undefined, 'ConvTranspose', { aBatchStride: ci(0), bBatchStride: bStride, transA: true, transB: false });
  const out = L.temp('f32', outShape);
  const kb = L.kernel('col2im');
  const Cl = kb.input(col, 'col'), B = b ? kb.input(b, 'bias') : undefined, Y = kb.output(out);
  const [lets, [Nv, Pv, ...sp]] = hoist(kb, [N, P, ...inDims, ...axes.map((a) => a.out), ...axes.map((a) => a.pb)]);
  const [inV, outV, pbV] = [sp.slice(0, D), sp.slice(D, 2 * D), sp.slice(2 * D)];
  const yst = stridesOf([Nv!, Mg, ...outV]), ist = stridesOf(inV);
  const body = nest(kb, [Nv!, Mg, ...outV], (idx) => {
    const [img, m] = [idx[0]!, idx[1]!];
    const o = idx.slice(2);
    const acc = kb.fresh('acc');
    const ks = win.kernel.map(() => kb.fresh('k'));
    const ts = win.kernel.map(() => kb.fresh('t'));
    const tap = dot(ks.map((k) => v(k)), stridesOf(win.kernel.map(ci)));
    const at = ts.map((t, d) => (win.strides[d] === 1 ? v(t) : div(v(t), win.strides[d]!)));
    let inner: Stmt[] = [assign(acc, add(v(acc, 'f32'), load(Cl, iadd(imul(iadd(imul(img, Mt), iadd(imul(m, taps), tap)), Pv!), dot(at, ist)))))];
    for (let d = D - 1; d >= 0; d--) {
      const s = win.strides[d]!;
      const t = v(ts[d]!);
      const inside = s === 1 ? and(ge(t, 0), lt(t, inV[d]!))
        : and(and(ge(t, 0), eq(mod(t, s), 0)), lt(div(t, s), inV[d]!));
      inner = [loop(ks[d]!, 0, win.kernel[d]!, [let_(ts[d]!, isub(iadd(o[d]!, pbV[d]!), imul(v(ks[d]!), win.dilations[d]!))), if_(inside, inner)])];
    }
    return [local(acc, 'f32', B ? load(B, m) : c0), ...inner, store(Y, dot(idx, yst), v(acc, 'f32'))];
  });
  kb.finish([...lets, ...body]);
  return out;
}

export const convLowerings: Record<string, OpLowering> = {
  Conv: lowerConv,
  ConvTranspose: lowerConvTranspose,
};
