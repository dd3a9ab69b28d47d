// Reductions: Reduce* over any set of axes, ArgMax/ArgMin, the softmax family (numerically stable: the
// row maximum is subtracted before exp), CumSum.
//
// Loop structure: the kept dims are the (parallel) outer loops, the reduced dims serial inner loops
// accumulating into a local. Floats accumulate in f32 (f64 for f64), the type a real target uses; the
// reference accumulates in f64, which the conformance tolerance covers. Integer sums and products wrap
// in the element type (a ring: the same bits as the reference's wider accumulation); integer means and
// the float-valued reductions of integers (L2, LogSum, LogSumExp) go through f64 and truncate.
import { isFloat } from '../../../ir/dtype.ts';
import { TesseraError } from '../../../ir/errors.ts';
import {
  abs, add, and, assign, broadcast, c, cast, div, eq, ge, gt, if_, le, isFloatElem, let_, load, local, loop, lt, max, min, mul, ne, not, or,
  reduceLanes, select, store, sub, unary, v, type BufferRef,
} from '../../../ir/kernel/build.ts';
import type { Expr, KScalar, Stmt } from '../../../ir/kernel/ir.ts';
import { intRange } from '../../../ir/kernel/build.ts';
import { normAxis } from '../../../ir/ops/util.ts';
import { viewAs, type KernelBuilder, type Lowering, type TensorRef } from '../context.ts';
import { ci, constOf, dot, iadd, idiv, imul, isConst, isGpuTarget, isub, prod, stridesOf } from '../index-math.ts';
import { computeElem, nest, to, widen } from '../loops.ts';
import type { OpLowering } from '../node.ts';

type ReduceKind = 'l1' | 'l2' | 'logsum' | 'logsumexp' | 'max' | 'mean' | 'min' | 'prod' | 'sum' | 'sumsquare';

const big = (e: KScalar) => e === 'i64' || e === 'u64';
const num = (e: KScalar, x: number): Expr => c(e, big(e) ? BigInt(x) : x);

/** The identity of max/min: −∞, or the type's minimum (maximum) where it has no infinity. */
function extreme(e: KScalar, lowest: boolean): Expr {
  if (isFloatElem(e)) return c(e, lowest ? -Infinity : Infinity);
  const [lo, hi] = intRange(e);
  return c(e, big(e) ? (lowest ? lo : hi) : Number(lowest ? lo : hi));
}

export interface ReduceSpec {
  /** Accumulator element type. */
  acc: KScalar;
  init: Expr;
  /** acc ← step(acc, x) with x the loaded element widened to `acc`. */
  step: (acc: Expr, x: Expr) => Expr;
  /** The stored value from the accumulator and the element count (i32). */
  finish?: (acc: Expr, count: Expr) => Expr;
  /**
   * The step is acc + g(x) with g lane-wise and the init 0: partial sums may run in SIMD lanes and be
   * added up at the end (the sum's order changes within float rounding, which the tolerance covers).
   */
  sums?: boolean;
}

/**
 * Reduces `x` over the masked axes into a new tensor of the keepdims shape (dtype `outElem`).
 * `twoPass` (logsumexp) first finds the maximum, then accumulates relative to it.
 */
export function reduceAxes(L: Lowering, x: TensorRef, mask: readonly boolean[], outElem: KScalar, spec: ReduceSpec, twoPass = false): TensorRef {
  const outShape = x.shape.map((d, i) => (mask[i] ? ci(1) : d));
  const out = L.temp(outElem, outShape);
  const kb = L.kernel();
  const src = kb.input(x);
  const y = kb.output(out);
  const st = stridesOf(x.shape), ost = stridesOf(outShape);
  const kept = x.shape.map((d, i) => (mask[i] ? ci(1) : d));
  const reduced = x.shape.filter((_, i) => mask[i]);
  const count = L.dim(prod(reduced));
  // A sum over trailing axes reads one contiguous run per output: 4-lane partial sums on CPU targets.
  const firstReduced = mask.indexOf(true);
  const lanes = !twoPass && !!spec.sums && spec.acc === 'f32' && x.dtype === 'f32' && !isGpuTarget(L.target) &&
    firstReduced >= 0 && mask.every((m, i) => m === i >= firstReduced) && spec.init.kind === 'const' && Number(spec.init.value) === 0;
  const body = nest(kb, kept, (keptIdx) => {
    const at = (redIdx: Expr[]) => {
      let r = 0;
      return dot(x.shape.map((_, i) => (mask[i] ? redIdx[r++]! : keptIdx[i]!)), st);
    };
    const accName = kb.fresh('acc');
    const acc = v(accName, spec.acc);
    const stmts: Stmt[] = [];
    let shifted: Expr | undefined;
    if (twoPass) {
      const m = kb.fresh('mx');
      stmts.push(local(m, spec.acc, extreme(spec.acc, true)));
      stmts.push(...nest(kb, reduced, (ri) => [assign(m, max(v(m, spec.acc), to(spec.acc, widen(load(src, at(ri))))))], { parallel: false }));
      shifted = v(m, spec.acc);
    }
    if (lanes) {
      stmts.push(...laneSum(kb, src, at(reduced.map(() => ci(0))), count, accName, spec));
    } else {
    stmts.push(local(accName, spec.acc, spec.init));
    stmts.push(...nest(kb, reduced, (ri) => {
      let xv = to(spec.acc, widen(load(src, at(ri))));
      if (shifted) xv = unary('exp', sub(xv, shifted));
      return [assign(accName, spec.step(acc, xv))];
    }, { parallel: false }));
    }
    let result = spec.finish ? spec.finish(acc, count) : acc;
    if (shifted) {
      const m = shifted;
      result = select(and(not(unary('isinf', m)), eq(m, m)), add(m, unary('log', acc)), m);
    }
    stmts.push(store(y, dot(keptIdx, ost), to(outElem, result)));
    return stmts;
  });
  kb.finish(body);
  return out;
}

/** acc = Σ g(x[base + t]) for t < count: a 4-lane accumulator over the contiguous run, then a scalar tail. */
function laneSum(kb: KernelBuilder, src: BufferRef, base: Expr, count: Expr, accName: string, spec: ReduceSpec): Stmt[] {
  const V4 = { elem: spec.acc, lanes: 4 } as const;
  const vacc = kb.fresh('vacc'), j = kb.fresh('j'), t = kb.fresh('t');
  const main = imul(idiv(count, 4), 4);
  const acc = v(accName, spec.acc);
  return [
    local(vacc, V4, c(V4, 0)),
    loop(j, 0, main, [assign(vacc, spec.step(v(vacc, V4), load(src, iadd(base, v(j)), 4)))], { kind: 'serial', step: 4 }),
    local(accName, spec.acc, reduceLanes('add', v(vacc, V4))),
    loop(t, main, count, [assign(accName, spec.step(acc, load(src, iadd(base, v(t)))))], { kind: 'serial' }),
  ];
}

function specFor(kind: ReduceKind, e: KScalar): { spec: ReduceSpec; twoPass?: boolean } {
  const floatAcc = isFloat(e) ? computeElem(e) : 'f64';
  const ringAcc = isFloat(e) ? computeElem(e) : e;
  const cnt = (t: KScalar, n: Expr) => (t === 'i32' ? n : cast(t, n));
  switch (kind) {
    case 'sum': return { spec: { acc: ringAcc, init: num(ringAcc, 0), step: add, sums: true } };
    case 'prod': return { spec: { acc: ringAcc, init: num(ringAcc, 1), step: mul } };
    case 'sumsquare': return { spec: { acc: ringAcc, init: num(ringAcc, 0), step: (a, x) => add(a, mul(x, x)), sums: true } };
    case 'l1': return { spec: { acc: ringAcc, init: num(ringAcc, 0), step: (a, x) => add(a, abs(x)), sums: true } };
    case 'max': return { spec: { acc: ringAcc, init: extreme(ringAcc, true), step: max } };
    case 'min': return { spec: { acc: ringAcc, init: extreme(ringAcc, false), step: min } };
    case 'mean':
      if (big(e)) return { spec: { acc: e, init: num(e, 0), step: add, finish: (a, n) => div(a, cnt(e, n)) } };
      return { spec: { acc: floatAcc, init: num(floatAcc, 0), step: add, finish: (a, n) => div(a, cnt(floatAcc, n)), sums: true } };
    case 'l2': return { spec: { acc: floatAcc, init: num(floatAcc, 0), step: (a, x) => add(a, mul(x, x)), finish: (a) => unary('sqrt', a), sums: true } };
    case 'logsum': return { spec: { acc: floatAcc, init: num(floatAcc, 0), step: add, finish: (a) => unary('log', a) } };
    case 'logsumexp': return { spec: { acc: floatAcc, init: num(floatAcc, 0), step: add }, twoPass: true };
  }
}

function lowerReduce(kind: ReduceKind, axesInputSince: number): OpLowering {
  return (n) => {
    const x = n.input(0);
    const r = x.shape.length;
    const keep = n.attrs.int('keepdims', 1) !== 0;
    let axes: number[] | undefined;
    if (n.since >= axesInputSince) axes = n.has(1) ? n.constInts(1, 'axes') : undefined;
    else axes = n.attrs.ints('axes');
    const noop = (axes === undefined || axes.length === 0) && n.since >= axesInputSince && n.attrs.int('noop_with_empty_axes', 0) !== 0;
    if (noop && ['sum', 'mean', 'max', 'min', 'prod'].includes(kind)) { n.output(0, x); return; }
    const mask = new Array<boolean>(r).fill(noop ? false : !axes || axes.length === 0);
    if (!noop && axes) for (const a of axes) {
      const k = normAxis(a, r);
      if (mask[k]) throw new TesseraError(`axis ${a} is repeated in axes [${axes.join(',')}]`);
      mask[k] = true;
    }
    const { spec, twoPass } = specFor(kind, x.dtype);
    const out = reduceAxes(n.L, x, mask, x.dtype, spec, twoPass);
    n.output(0, keep ? out : viewAs(out, x.shape.filter((_, i) => !mask[i])));
  };
}

// ---------------------------------------------------------------- ArgMax / ArgMin

function lowerArg(isMax: boolean): OpLowering {
  return (n) => {
    const x = n.input(0);
    const axis = normAxis(n.attrs.int('axis', 0), x.shape.length);
    const last = n.since >= 12 && n.attrs.int('select_last_index', 0) !== 0;
    const keep = n.attrs.int('keepdims', 1) !== 0;
    const outShape = x.shape.map((d, i) => (i === axis ? ci(1) : d));
    const out = n.L.temp('i64', outShape);
    const kb = n.L.kernel();
    const src = kb.input(x);
    const y = kb.output(out);
    const st = stridesOf(x.shape), ost = stridesOf(outShape);
    const ce = computeElem(x.dtype);
    const body = nest(kb, outShape, (idx) => {
      const at = (j: Expr) => dot(idx.map((v_, d) => (d === axis ? j : v_)), st);
      const best = kb.fresh('best'), bi = kb.fresh('bi'), kk = kb.fresh('k'), val = kb.fresh('v');
      const B = v(best, ce), K = v(kk), V = v(val, ce);
      const cmp = isMax ? (last ? ge : gt) : (last ? le : lt);
      const inner: Stmt[] = [let_(val, widen(load(src, at(K))))];
      if (isFloatElem(ce)) {
        // NaN wins (as numpy's argmax/argmin); once it has won, only select_last_index moves it.
        const bestNaN = ne(B, B), vNaN = ne(V, V);
        const better = and(not(bestNaN), or(vNaN, cmp(V, B)));
        inner.push(if_(better, [assign(best, V), assign(bi, K)], last ? [if_(and(bestNaN, vNaN), [assign(bi, K)])] : []));
      } else {
        inner.push(if_(cmp(V, B), [assign(best, V), assign(bi, K)]));
      }
      return [
        local(best, ce, widen(load(src, at(ci(0))))),
        local(bi, 'i32', 0),
        loop(kk, 1, x.shape[axis]!, inner),
        store(y, dot(idx, ost), cast('i64', v(bi))),
      ];
    });
    kb.finish(body);
    n.output(0, keep ? out : viewAs(out, x.shape.filter((_, i) => i !== axis)));
  };
}


// ---------------------------------------------------------------- Softmax family

type SoftKind = 'softmax' | 'logsoftmax' | 'hardmax';

function lowerSoftmax(kind: SoftKind): OpLowering {
  return (n) => {
    const x = n.input(0);
    const r = x.shape.length;
    let axis = n.attrs.int('axis', n.since < 13 ? 1 : -1);
    if (!(n.since === 1 && axis === r)) axis = normAxis(axis, r);
    // Before opset 13 the input is viewed as 2-D [prod(dims < axis), prod(dims ≥ axis)].
    const view: Expr[] = n.since < 13
      ? [n.L.dim(prod(x.shape.slice(0, axis))), n.L.dim(prod(x.shape.slice(axis))), ci(1)]
      : [n.L.dim(prod(x.shape.slice(0, axis))), x.shape[axis]!, n.L.dim(prod(x.shape.slice(axis + 1)))];
    const out = n.L.temp(x.dtype, x.shape);
    softmaxKernel(n.L, viewAs(x, view), viewAs(out, view), kind);
    n.output(0, out);
  };
}

/** Softmax along axis 1 of a [outer, len, inner] view, written into `out`. */
export function softmaxKernel(L: Lowering, x: TensorRef, out: TensorRef, kind: SoftKind): void {
  const kb = L.kernel(kind === 'softmax' ? 'Softmax' : kind === 'logsoftmax' ? 'LogSoftmax' : 'Hardmax');
  const [outer, len, inner] = x.shape as [Expr, Expr, Expr];
  const src = kb.input(x);
  const rows = L.target === 'wasm' && kind !== 'hardmax' && x.dtype === 'f32' && isConst(inner, 1);
  // A softmax row rescales y in place (rowSoftmaxLanes): y is read as well.
  const y = rows && kind === 'softmax' ? kb.inout(out) : kb.output(out);
  if (rows) {
    kb.finish(nest(kb, [outer], ([o]) => rowSoftmaxLanes(kb, src, y, imulx(o!, len), len, kind)));
    return;
  }
  const ce = computeElem(x.dtype);
  const at = (o: Expr, k: Expr, i: Expr) => iadd(imulx(iadd(imulx(o, len), k), inner), i);
  const body = nest(kb, [outer, inner], ([o, i]) => {
    const mx = kb.fresh('mx'), arg = kb.fresh('arg'), sum = kb.fresh('sum');
    const M = v(mx, ce), S = v(sum, ce);
    const xk = (k: Expr) => widen(load(src, at(o!, k, i!)));
    const stmts: Stmt[] = [local(mx, ce, c(ce, -Infinity))];
    if (kind === 'hardmax') {
      stmts.push(local(arg, 'i32', 0));
      stmts.push(loopK(kb, len, (k) => [if_(gt(xk(k), M), [assign(mx, xk(k)), assign(arg, k)])]));
      stmts.push(loopK(kb, len, (k) => [store(y, at(o!, k, i!), to(x.dtype, select(eq(k, v(arg)), c(ce, 1), c(ce, 0))))]));
      return stmts;
    }
    stmts.push(loopK(kb, len, (k) => [assign(mx, max(M, xk(k)))]));
    stmts.push(local(sum, ce, c(ce, 0)));
    stmts.push(loopK(kb, len, (k) => [assign(sum, add(S, unary('exp', sub(xk(k), M))))]));
    if (kind === 'softmax') {
      const inv = kb.fresh('inv');
      stmts.push(let_(inv, div(c(ce, 1), S)));
      stmts.push(loopK(kb, len, (k) => [store(y, at(o!, k, i!), to(x.dtype, mul(unary('exp', sub(xk(k), M)), v(inv, ce))))]));
    } else {
      const lse = kb.fresh('lse');
      stmts.push(let_(lse, add(M, unary('log', S))));
      stmts.push(loopK(kb, len, (k) => [store(y, at(o!, k, i!), to(x.dtype, sub(xk(k), v(lse, ce))))]));
    }
    return stmts;
  });
  kb.finish(body);
}

/**
 * Softmax / LogSoftmax of the contiguous f32 row y[base, base + len) on the WASM target: passes over 4 lanes
 * (then a scalar tail) — the maximum; e^(x − max), stored into y (softmax) while it is summed; then y·(1/sum),
 * or x − (max + log sum). exp runs once per element where the general kernel runs it twice, and the row's
 * masked slots (−∞ after a causal mask) leave exp through its underflow guard four at a time
 * (backends/wasm/emit.ts). The sum's order changes within float rounding; every element's value does not.
 */
function rowSoftmaxLanes(kb: KernelBuilder, src: BufferRef, y: BufferRef, base: Expr, len: Expr, kind: 'softmax' | 'logsoftmax'): Stmt[] {
  const V = { elem: 'f32', lanes: 4 } as const;
  const main = imul(idiv(len, 4), 4);
  const mx = kb.fresh('mx'), vmx = kb.fresh('vmx'), sum = kb.fresh('sum'), vsum = kb.fresh('vsum');
  const M = v(mx, 'f32'), S = v(sum, 'f32'), VM = v(vmx, V), VS = v(vsum, V);
  /** Loops over the 4-lane part and over the tail, with the lane count of each. */
  const passes = (body: (at: Expr, lanes: 1 | 4) => Stmt[]): Stmt[] => {
    const j = kb.fresh('j'), t = kb.fresh('t');
    const out = [loop(j, 0, main, body(iadd(base, v(j)), 4), { kind: 'serial', step: 4 })];
    if (!(constOf(len) !== undefined && constOf(len)! % 4 === 0)) out.push(loop(t, main, len, body(iadd(base, v(t)), 1), { kind: 'serial' }));
    return out;
  };
  const splat = (e: Expr, lanes: 1 | 4) => (lanes === 1 ? e : broadcast(e, lanes));
  const e = (at: Expr, lanes: 1 | 4) => unary('exp', sub(load(src, at, lanes), splat(M, lanes)));
  // The lanes keep x > max ? x : max (one pmax on WASM; f32x4.max costs several instructions for NaN and −0):
  // a NaN is skipped there, but it reaches the sum through its exp, and the whole row is NaN either way.
  const stmts: Stmt[] = [local(vmx, V, c(V, -Infinity)), local(mx, 'f32', c('f32', -Infinity))];
  stmts.push(...passes((at, lanes) => {
    const xv = load(src, at, lanes);
    return [lanes === 4 ? assign(vmx, select(gt(xv, VM), xv, VM)) : assign(mx, max(M, xv))];
  }));
  stmts.push(assign(mx, max(M, reduceLanes('max', VM))));
  stmts.push(local(vsum, V, c(V, 0)), local(sum, 'f32', c('f32', 0)));
  stmts.push(...passes((at, lanes) => {
    const name = lanes === 4 ? vsum : sum, A = lanes === 4 ? VS : S;
    if (kind !== 'softmax') return [assign(name, add(A, e(at, lanes)))];
    const ex = kb.fresh('e');
    return [let_(ex, e(at, lanes)), store(y, at, v(ex, A.type)), assign(name, add(A, v(ex, A.type)))];
  }));
  stmts.push(assign(sum, add(S, reduceLanes('add', VS))));
  if (kind === 'softmax') {
    const inv = kb.fresh('inv');
    stmts.push(let_(inv, div(c('f32', 1), S)));
    stmts.push(...passes((at, lanes) => [store(y, at, mul(load(y, at, lanes), splat(v(inv, 'f32'), lanes)))]));
  } else {
    const lse = kb.fresh('lse');
    stmts.push(let_(lse, add(M, unary('log', S))));
    stmts.push(...passes((at, lanes) => [store(y, at, sub(load(src, at, lanes), splat(v(lse, 'f32'), lanes)))]));
  }
  return stmts;
}

const imulx = (a: Expr, b: Expr): Expr => (b.kind === 'const' && Number(b.value) === 1 ? a : a.kind === 'const' && Number(a.value) === 0 ? a : mul(a, b));

function loopK(kb: KernelBuilder, len: Expr, body: (k: Expr) => Stmt[]): Stmt {
  const name = kb.fresh('k');
  return loop(name, 0, len, body(v(name)));
}

// ---------------------------------------------------------------- CumSum

const lowerCumSum: OpLowering = (n) => {
  const x = n.input(0);
  const axis = normAxis(n.constInts(1, 'axis')[0]!, x.shape.length);
  const exclusive = n.attrs.int('exclusive', 0) !== 0, reverse = n.attrs.int('reverse', 0) !== 0;
  const out = n.L.temp(x.dtype, x.shape);
  const kb = n.L.kernel();
  const src = kb.input(x), y = kb.output(out);
  const st = stridesOf(x.shape);
  const ce = computeElem(x.dtype);
  const len = x.shape[axis]!;
  const body = nest(kb, x.shape.map((d, i) => (i === axis ? ci(1) : d)), (idx) => {
    const acc = kb.fresh('acc'), s = kb.fresh('s');
    const A = v(acc, ce);
    const j = reverse ? isub(isub(len, 1), v(s)) : v(s);
    const at = dot(idx.map((e, d) => (d === axis ? j : e)), st);
    // The running sum rounds to the element type each step, as the reference's does.
    const next = to(ce, to(x.dtype, add(A, widen(load(src, at)))));
    return [
      local(acc, ce, big(ce) ? c(ce, 0n) : c(ce, 0)),
      loop(s, 0, len, exclusive
        ? [store(y, at, to(x.dtype, A)), assign(acc, next)]
        : [assign(acc, next), store(y, at, to(x.dtype, A))]),
    ];
  });
  kb.finish(body);
  n.output(0, out);
};

// ---------------------------------------------------------------- TopK

/**
 * TopK by ranking: element i of a row lands at position rank(i) = #{j that order before i}, when that is
 * below k. The order is total (ties keep the lower index first; NaN counts as larger than every number),
 * so ranks are distinct and every output slot is written exactly once. O(len²) per row: the portable,
 * branch-light form; a sorting network can replace it for long rows.
 */
const lowerTopK: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  const axis = normAxis(n.attrs.int('axis', -1), r);
  const K = n.since < 10 ? ci(n.attrs.int('k')) : n.ints(1)[0]!;
  const largest = n.since < 11 || n.attrs.int('largest', 1) !== 0;
  const outShape = x.shape.map((d, i) => (i === axis ? n.L.dim(K) : d));
  const values = n.L.temp(x.dtype, outShape), indices = n.L.temp('i64', outShape);
  const kb = n.L.kernel();
  const X = kb.input(x), Vb = kb.output(values, 'values'), Ib = kb.output(indices, 'indices');
  const st = stridesOf(x.shape), ost = stridesOf(outShape);
  const ce = computeElem(x.dtype);
  const len = x.shape[axis]!;
  const body = nest(kb, x.shape.map((d, i) => (i === axis ? ci(1) : d)), (idx) => {
    const i = kb.fresh('i'), j = kb.fresh('j'), rank = kb.fresh('rank'), vi = kb.fresh('vi'), vj = kb.fresh('vj');
    const at = (e: Expr) => dot(idx.map((q, d) => (d === axis ? e : q)), st);
    const oat = (e: Expr) => dot(idx.map((q, d) => (d === axis ? e : q)), ost);
    const A = v(vi, ce), B = v(vj, ce);
    const isNaN_ = (e: Expr) => (isFloatElem(ce) ? ne(e, e) : c('bool', 0));
    const tie = isFloatElem(ce) ? or(eq(A, B), and(isNaN_(A), isNaN_(B))) : eq(A, B);
    const beats = largest ? or(gt(B, A), and(isNaN_(B), not(isNaN_(A)))) : or(lt(B, A), and(not(isNaN_(B)), isNaN_(A)));
    const before = or(beats, and(tie, lt(v(j), v(i))));
    return [loop(i, 0, len, [
      let_(vi, widen(load(X, at(v(i))))),
      local(rank, 'i32', 0),
      loop(j, 0, len, [let_(vj, widen(load(X, at(v(j))))), if_(before, [assign(rank, add(v(rank), 1))])]),
      if_(lt(v(rank), K), [
        store(Vb, oat(v(rank)), to(x.dtype, A)),
        store(Ib, oat(v(rank)), cast('i64', v(i))),
      ]),
    ])];
  });
  kb.finish(body);
  n.output(0, values);
  n.output(1, indices);
};

// ---------------------------------------------------------------- the table

const REDUCE: [string, ReduceKind][] = [
  ['ReduceSum', 'sum'], ['ReduceMean', 'mean'], ['ReduceMax', 'max'], ['ReduceMin', 'min'], ['ReduceProd', 'prod'],
  ['ReduceL1', 'l1'], ['ReduceL2', 'l2'], ['ReduceLogSum', 'logsum'], ['ReduceLogSumExp', 'logsumexp'], ['ReduceSumSquare', 'sumsquare'],
];

export const reduceLowerings: Record<string, OpLowering> = {
  ...Object.fromEntries(REDUCE.map(([op, kind]) => [op, lowerReduce(kind, op === 'ReduceSum' ? 13 : 18)])),
  ArgMax: lowerArg(true),
  ArgMin: lowerArg(false),
  Softmax: lowerSoftmax('softmax'),
  LogSoftmax: lowerSoftmax('logsoftmax'),
  Hardmax: lowerSoftmax('hardmax'),
  CumSum: lowerCumSum,
  TopK: lowerTopK,
};
