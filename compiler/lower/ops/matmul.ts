// MatMul (batched, numpy-broadcast batch dims, 1-D operands promoted) and Gemm (transposes, alpha/beta,
// unidirectionally broadcast C), as a dot product per output element: the outer loops run over the batch
// and rows (parallel) and columns, the inner loop over K accumulates in a local (f32 for f32/f16/bf16,
// the element type for integers: its wrap-around is the reference's). This is the portable, obviously correct
// form; when the operands' layout fits, the kernel also states a MatmulPattern (ir/kernel/ir.ts) so a backend
// may substitute a tuned template (the WASM register-tiled micro-kernel, backends/wasm/matmul.ts). Gemm with
// a C term on f32 is split into a plain matmul and an add, so it gets the pattern too.
import { TesseraError } from '../../../ir/errors.ts';
import { add, assign, c, load, local, loop, mul, store, v } from '../../../ir/kernel/build.ts';
import { exprsEqual } from '../../../ir/kernel/equal.ts';
import type { Expr, KScalar, MatmulPattern } from '../../../ir/kernel/ir.ts';
import { viewAs, type Lowering, type TensorRef } from '../context.ts';
import { ci, dot, iadd, imul, isConst, prod, stridesOf } from '../index-math.ts';
import { broadcastShapes, broadcastStrides, computeElem, nest, to, widen } from '../loops.ts';
import type { OpLowering } from '../node.ts';

const zero = (e: KScalar): Expr => c(e, e === 'i64' || e === 'u64' ? 0n : 0);

/**
 * C[b, m, n] = Σ_k A[b, m, k] · B[b, k, n] for 3-D views (batch already broadcast by the strides given).
 * `aAt(b, m, k)` / `bAt(b, k, n)` give element offsets, so transposed and broadcast operands need no copy.
 */
export function matmulKernel(
  L: Lowering, a: TensorRef, b: TensorRef, out: TensorRef, dims: { batch: Expr[]; M: Expr; N: Expr; K: Expr },
  aAt: (bi: Expr[], m: Expr, k: Expr) => Expr, bAt: (bi: Expr[], k: Expr, n: Expr) => Expr,
  epilogue?: { f: (acc: Expr, bi: Expr[], m: Expr, n: Expr, loadC: (at: Expr) => Expr) => Expr; c?: TensorRef },
  hint = 'MatMul',
  layout?: MatmulLayout,
): TensorRef {
  const kb = L.kernel(hint);
  const A = kb.input(a, 'a'), B = kb.input(b, 'b');
  const C = epilogue?.c ? kb.input(epilogue.c, 'c') : undefined;
  const Y = kb.output(out);
  const ce = computeElem(out.dtype);
  const { batch, M, N, K } = dims;
  let pattern: MatmulPattern | undefined;
  if (layout && !epilogue) {
    pattern = {
      kind: 'matmul', a: A.name, b: B.name, y: Y.name,
      batch: L.dim(prod(batch)), m: M, n: N, k: K, aBatchStride: L.dim(layout.aBatchStride), bBatchStride: L.dim(layout.bBatchStride),
      transA: layout.transA, transB: layout.transB, elem: out.dtype, acc: ce,
    };
    // The WASM template packs A and panels of B (see backends/wasm/matmul.ts); other targets need no scratch.
    if (L.target === 'wasm' && out.dtype === 'f32') pattern.scratch = kb.inout(L.temp('f32', [K, iadd(M, 16)]), 'scratch').name;
  }
  const ost = stridesOf([...batch, M, N]);
  const body = nest(kb, [...batch, M], (idx) => {
    const bi = idx.slice(0, batch.length), m = idx[batch.length]!;
    const nn = kb.fresh('n'), kk = kb.fresh('k'), acc = kb.fresh('acc');
    const n = v(nn), k = v(kk), ACC = v(acc, ce);
    const r = epilogue ? epilogue.f(ACC, bi, m, n, (at) => widen(load(C!, at))) : ACC;
    return [loop(nn, 0, N, [
      local(acc, ce, zero(ce)),
      loop(kk, 0, K, [assign(acc, add(ACC, mul(widen(load(A, aAt(bi, m, k))), widen(load(B, bAt(bi, k, n))))))]),
      store(Y, dot([...bi, m, n], ost), to(out.dtype, r)),
    ], { kind: 'parallel' })]; // the accumulator is declared per n: its iterations are independent
  });
  kb.finish(body, pattern);
  return out;
}

/** How a matmul's operands are laid out, when the kernel can state it as a MatmulPattern (ir/kernel/ir.ts). */
export interface MatmulLayout { aBatchStride: Expr; bBatchStride: Expr; transA: boolean; transB: boolean }

/**
 * The one batch stride of an operand whose per-dim batch strides are `strides` (from broadcastStrides, in
 * elements): 0 when it is broadcast over every batch dim, `matrix` when it steps one matrix per flat batch
 * index, undefined when it is broadcast over some dims only (no single stride describes it).
 */
function flatBatchStride(L: Lowering, strides: Expr[], batch: Expr[], matrix: Expr): Expr | undefined {
  const full = stridesOf(batch).map((s) => L.dim(imul(s, matrix)));
  let zero = true, dense = true;
  strides.forEach((s, i) => {
    if (isConst(batch[i]!, 1)) return;
    const d = L.dim(s);
    if (!isConst(d, 0)) zero = false;
    if (!exprsEqual(d, full[i]!)) dense = false;
  });
  return zero ? ci(0) : dense ? matrix : undefined;
}

const lowerMatMul: OpLowering = (n) => n.output(0, matmul(n.L, n.input(0), n.input(1)));

/** numpy matmul: batched with broadcast batch dims, 1-D operands promoted (and their dim dropped). */
export function matmul(L: Lowering, a0: TensorRef, b0: TensorRef): TensorRef {
  if (a0.shape.length === 0 || b0.shape.length === 0) throw new TesseraError('MatMul operands must have rank at least 1, got a scalar');
  const a = a0.shape.length === 1 ? viewAs(a0, [ci(1), a0.shape[0]!]) : a0;
  const b = b0.shape.length === 1 ? viewAs(b0, [b0.shape[0]!, ci(1)]) : b0;
  const ra = a.shape.length, rb = b.shape.length;
  const M = a.shape[ra - 2]!, K = a.shape[ra - 1]!, N = b.shape[rb - 1]!;
  const batch = broadcastShapes(L, [a.shape.slice(0, -2), b.shape.slice(0, -2)]);
  // Batch strides in elements of the operand: a step of one matrix (M·K or K·N) per batch index.
  const aBatch = broadcastStrides(a.shape.slice(0, -2), batch).map((s) => imul(s, imul(M, K)));
  const bBatch = broadcastStrides(b.shape.slice(0, -2), batch).map((s) => imul(s, imul(K, N)));
  const ast = stridesOf(a.shape), bst = stridesOf(b.shape);
  const out = L.temp(a.dtype, [...batch, M, N]);
  const aFlat = flatBatchStride(L, aBatch, batch, L.dim(imul(M, K))), bFlat = flatBatchStride(L, bBatch, batch, L.dim(imul(K, N)));
  matmulKernel(L, a, b, out, { batch, M, N, K },
    (bi, m, k) => iadd(dot(bi, aBatch), iadd(imul(m, ast[ra - 2]!), k)),
    (bi, k, nn) => iadd(dot(bi, bBatch), iadd(imul(k, bst[rb - 2]!), nn)),
    undefined, 'MatMul',
    aFlat && bFlat ? { aBatchStride: aFlat, bBatchStride: bFlat, transA: false, transB: false } : undefined);
  const shape = [...batch];
  if (a0.shape.length > 1) shape.push(M);
  if (b0.shape.length > 1) shape.push(N);
  return viewAs(out, shape);
}

const lowerGemm: OpLowering = (n) => {
  const a = n.input(0), b = n.input(1), cIn = n.optInput(2);
  if (a.shape.length !== 2 || b.shape.length !== 2) throw new TesseraError('A and B must be 2-D');
  const tA = n.attrs.int('transA', 0) !== 0, tB = n.attrs.int('transB', 0) !== 0;
  const alpha = n.attrs.float('alpha', 1), beta = n.attrs.float('beta', 1);
  const [M, K] = tA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const N = tB ? b.shape[0]! : b.shape[1]!;
  const ce = computeElem(a.dtype);
  const isInt = !(ce === 'f32' || ce === 'f64');
  const scalar = (x: number) => (isInt ? c(ce, ce === 'i64' || ce === 'u64' ? BigInt(Math.trunc(x)) : Math.trunc(x) | 0) : c(ce, x));
  const useC = cIn !== undefined && beta !== 0;
  const cStr = useC ? broadcastStrides(cIn.shape, [M, N]) : [];
  const out = n.L.temp(a.dtype, [M, N]);
  const aAt = (_b: Expr[], m: Expr, k: Expr) => (tA ? iadd(imul(k, M), m) : iadd(imul(m, K), k));
  const bAt = (_b: Expr[], k: Expr, nn: Expr) => (tB ? iadd(imul(nn, K), k) : iadd(imul(k, N), nn));
  const layout: MatmulLayout = { aBatchStride: ci(0), bBatchStride: ci(0), transA: tA, transB: tB };
  if (alpha === 1 && useC && a.dtype === 'f32') {
    // f32 rounds A·B + C the same whether C is added in the dot product's kernel or after it: split, so the
    // product is a plain matmul a backend may replace with its template.
    const ab = n.L.temp(a.dtype, [M, N]);
    matmulKernel(n.L, a, b, ab, { batch: [], M, N, K }, aAt, bAt, undefined, 'Gemm', layout);
    const kb = n.L.kernel('Gemm_bias');
    const P = kb.input(ab, 'p'), Cb = kb.input(cIn, 'c'), Y = kb.output(out);
    kb.finish(nest(kb, [M, N], ([m, nn]) => {
      const cv = load(Cb, dot([m!, nn!], cStr));
      return [store(Y, dot([m!, nn!], stridesOf([M, N])), add(load(P, dot([m!, nn!], stridesOf([M, N]))), beta === 1 ? cv : mul(c('f32', beta), cv)))];
    }));
    n.output(0, out);
    return;
  }
  matmulKernel(n.L, a, b, out, { batch: [], M, N, K }, aAt, bAt,
    (alpha !== 1 || useC) ? {
      c: useC ? cIn : undefined,
      f: (acc, _b, m, nn, loadC) => {
        let r = alpha === 1 ? acc : mul(scalar(alpha), acc);
        if (useC) r = add(r, beta === 1 ? loadC(dot([m, nn], cStr)) : mul(scalar(beta), loadC(dot([m, nn], cStr))));
        return r;
      },
    } : undefined, 'Gemm', layout);
  n.output(0, out);
};

// ---------------------------------------------------------------- Einsum

/** Labels of each input's dims and of the output; ellipsis dims get labels '0', '1', … (right-aligned). */
function planEinsum(equation: string, ranks: readonly number[]): { ins: string[][]; out: string[] } {
  const eq = equation.replace(/\s+/g, '');
  const arrow = eq.indexOf('->');
  const terms = (arrow < 0 ? eq : eq.slice(0, arrow)).split(',');
  if (terms.length !== ranks.length) throw new TesseraError(`equation '${equation}' has ${terms.length} input terms for ${ranks.length} inputs`);
  const parse = (t: string) => {
    const at = t.indexOf('...');
    const letters = t.replace('...', '').split('');
    if (letters.some((ch) => !/[a-zA-Z]/.test(ch))) throw new TesseraError(`equation '${equation}' has an invalid term '${t}'`);
    return { letters, at: at < 0 ? -1 : t.slice(0, at).length };
  };
  const parsed = terms.map(parse);
  let ell = 0;
  parsed.forEach((p, k) => { if (p.at >= 0) ell = Math.max(ell, ranks[k]! - p.letters.length); });
  const ellLabels = (e: number) => Array.from({ length: e }, (_, j) => String(ell - e + j));
  const ins = parsed.map((p, k) => {
    if (p.at < 0) {
      if (ranks[k] !== p.letters.length) throw new TesseraError(`input ${k} has rank ${ranks[k]} but term '${terms[k]}' names ${p.letters.length} dims`);
      return p.letters;
    }
    return [...p.letters.slice(0, p.at), ...ellLabels(ranks[k]! - p.letters.length), ...p.letters.slice(p.at)];
  });
  let out: string[];
  if (arrow < 0) {
    const counts = new Map<string, number>();
    for (const p of parsed) for (const ch of p.letters) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    out = [...ellLabels(ell), ...[...counts].filter(([, n]) => n === 1).map(([ch]) => ch).sort()];
  } else {
    const p = parse(eq.slice(arrow + 2));
    out = p.at < 0 ? p.letters : [...p.letters.slice(0, p.at), ...ellLabels(ell), ...p.letters.slice(p.at)];
  }
  return { ins, out };
}

const lowerEinsum: OpLowering = (n) => {
  const xs: TensorRef[] = [];
  for (let i = 0; i < n.inputCount; i++) xs.push(n.input(i));
  const plan = planEinsum(n.attrs.string('equation'), xs.map((t) => t.shape.length));
  // Each label's size: a dim that is not 1 wins (size-1 dims broadcast).
  const size = new Map<string, Expr>();
  plan.ins.forEach((labels, k) => labels.forEach((l, j) => {
    const d = xs[k]!.shape[j]!;
    const cur = size.get(l);
    if (!cur || (cur.kind === 'const' && Number(cur.value) === 1)) size.set(l, d);
  }));
  const summed = [...size.keys()].filter((l) => !plan.out.includes(l));
  const outShape = plan.out.map((l) => size.get(l) ?? ci(1));
  const dtype = xs[0]!.dtype;
  const out = n.L.temp(dtype, outShape);
  const kb = n.L.kernel();
  const X = xs.map((t, i) => kb.input(t, `x${i}`));
  const Y = kb.output(out);
  const ce = computeElem(dtype);
  const body = nest(kb, outShape, (oi) => {
    const acc = kb.fresh('acc');
    const inner = nest(kb, summed.map((l) => size.get(l)!), (si) => {
      const coord = (l: string) => { const o = plan.out.indexOf(l); return o >= 0 ? oi[o]! : si[summed.indexOf(l)]!; };
      const term = xs.map((t, k) => {
        const st = stridesOf(t.shape);
        // A size-1 dim broadcasts: its coordinate is 0 whatever the label's.
        return widen(load(X[k]!, dot(plan.ins[k]!.map((l, j) => (t.shape[j]!.kind === 'const' && Number(t.shape[j]!.value) === 1 ? ci(0) : coord(l))), st)));
      }).reduce((a, b) => mul(a, b));
      return [assign(acc, add(v(acc, ce), term))];
    }, { parallel: false });
    return [local(acc, ce, zero(ce)), ...inner, store(Y, dot(oi, stridesOf(outShape)), to(dtype, v(acc, ce)))];
  });
  kb.finish(body);
  n.output(0, out);
};

export const matmulLowerings: Record<string, OpLowering> = {
  MatMul: lowerMatMul,
  Gemm: lowerGemm,
  Einsum: lowerEinsum,
};
