// Data movement: views without a copy (Identity, Reshape, Flatten, Squeeze, Unsqueeze, Dropout at
// inference), and copies that compute each output element's source from its coordinates (Transpose,
// Slice, Concat, Split, Gather, GatherElements, GatherND, Pad, Expand, Tile, DepthToSpace, SpaceToDepth,
// Trilu, EyeLike, OneHot, ScatterND/ScatterElements).
//
// Reads at computed coordinates are clamped into the input (the value is discarded by a select where it
// is outside), so a target that evaluates both arms of a select never reads outside a buffer.
import { TesseraError } from '../../../ir/errors.ts';
import { add, and, c, cast, eq, extract, ge, le, let_, load, lt, max, min, mul, or, select, store } from '../../../ir/kernel/build.ts';
import type { Expr, KScalar, Stmt } from '../../../ir/kernel/ir.ts';
import { normAxis } from '../../../ir/ops/util.ts';
import { viewAs, type Lowering, type TensorRef } from '../context.ts';
import {
  ci, constOf, dot, iadd, iceildiv, idiv, imax, imin, imod, imul, iselect, isConst, isub, prod, sameIndex, stridesOf,
} from '../index-math.ts';
import { emitByIndex, emitMap, nest, scalarConst, to } from '../loops.ts';
import type { KernelBuilder } from '../context.ts';
import type { BufferRef } from '../../../ir/kernel/build.ts';
import { clampI32, type NodeLowering, type OpLowering } from '../node.ts';

const INDEX = { elem: 'i32', lanes: 1 } as const;
const i32 = (e: Expr): Expr => (e.type.elem === 'i32' ? e : cast(INDEX, e));

// ---------------------------------------------------------------- views

/** Divides a product of dims by another, cancelling equal factors symbolically ([N,C,H,W] / [N] → C·H·W). */
export function divideDims(L: Lowering, num: readonly Expr[], den: readonly Expr[]): Expr {
  const rest = [...num];
  const left: Expr[] = [];
  for (const d of den) {
    const i = rest.findIndex((r) => sameIndex(r, d));
    if (i >= 0) rest.splice(i, 1); else left.push(d);
  }
  return L.dim(idiv(prod(rest), prod(left)));
}

/** Resolves a Reshape target (0 copies a dim unless allowzero, −1 is inferred). */
export function reshapeTarget(L: Lowering, inShape: readonly Expr[], target: readonly Expr[], allowZero: boolean): Expr[] {
  let inferAt = -1;
  const out = target.map((d, i) => {
    const v = constOf(d);
    if (v === -1) {
      if (inferAt >= 0) throw new TesseraError(`the shape has more than one -1`);
      inferAt = i;
      return d;
    }
    if (v === 0 && !allowZero) {
      if (i >= inShape.length) throw new TesseraError(`the shape copies dimension ${i} (0) but the input has rank ${inShape.length}`);
      return inShape[i]!;
    }
    if (v !== undefined && v < 0) throw new TesseraError(`the shape has invalid dimension ${v}`);
    if (v === undefined) {
      // A symbolic entry could be 0 or -1 at run time; shape arithmetic exports only produce sizes here.
      return d;
    }
    return d;
  });
  if (inferAt >= 0) out[inferAt] = divideDims(L, inShape, out.filter((_, i) => i !== inferAt));
  return out.map((d) => L.dim(d));
}

const lowerReshape: OpLowering = (n) => {
  const x = n.input(0);
  const target = n.since < 5 ? (n.attrs.ints('shape') ?? []).map(ci) : n.ints(1);
  const allowZero = n.since >= 14 && n.attrs.int('allowzero', 0) !== 0;
  n.output(0, viewAs(x, reshapeTarget(n.L, x.shape, target, allowZero)));
};

const lowerFlatten: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  let a = n.attrs.int('axis', 1);
  if (a < 0) a += r;
  if (a < 0 || a > r) throw new TesseraError(`axis ${n.attrs.int('axis', 1)} is out of range for rank ${r}`);
  n.output(0, viewAs(x, [n.L.dim(prod(x.shape.slice(0, a))), n.L.dim(prod(x.shape.slice(a)))]));
};

const normAxes = (axes: readonly number[], rank: number): number[] => axes.map((a) => normAxis(a, rank));

const lowerSqueeze: OpLowering = (n) => {
  const x = n.input(0);
  const axes = n.since < 13 ? n.attrs.ints('axes') : n.has(1) ? n.constInts(1, 'axes') : undefined;
  if (axes === undefined) {
    // Symbolic dims are taken as not 1 (inference cannot tell either; exporters give explicit axes).
    n.output(0, viewAs(x, x.shape.filter((d) => !isConst(d, 1))));
    return;
  }
  const drop = new Set(normAxes(axes, x.shape.length));
  for (const a of drop) {
    const d = constOf(x.shape[a]!);
    if (d !== undefined && d !== 1) throw new TesseraError(`cannot squeeze axis ${a} of size ${d}`);
  }
  n.output(0, viewAs(x, x.shape.filter((_, i) => !drop.has(i))));
};

const lowerUnsqueeze: OpLowering = (n) => {
  const x = n.input(0);
  const axes = n.since < 13 ? n.attrs.ints('axes')! : n.constInts(1, 'axes');
  const rank = x.shape.length + axes.length;
  const ins = new Set(normAxes(axes, rank));
  const out: Expr[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ins.has(i) ? ci(1) : x.shape[j++]!);
  n.output(0, viewAs(x, out));
};

const lowerIdentity: OpLowering = (n) => n.output(0, n.input(0));

const lowerDropout: OpLowering = (n) => {
  const x = n.input(0);
  // Inference: training_mode (opset 12+) must be false; before opset 7, is_test=0 means training.
  const training = n.since >= 12 ? n.has(2) && (n.constInts(2, 'training_mode')[0] ?? 0) !== 0
    : n.since < 7 ? n.attrs.int('is_test', 0) === 0 : false;
  const ratio = n.since >= 12 ? (n.constant(1)?.num(0) ?? 0.5) : n.attrs.float('ratio', 0.5);
  if (training && ratio !== 0) throw new TesseraError(`Dropout in training mode is random and cannot be compiled`);
  n.output(0, x);
  if (n.hasOutput(1)) {
    const maskElem: KScalar = n.since >= 10 ? 'bool' : x.dtype;
    n.output(1, emitMap(n.L, [x], maskElem, ([v]) => c({ elem: maskElem === 'bool' ? 'bool' : v!.type.elem, lanes: v!.type.lanes }, 1), { hint: 'mask' }));
  }
};

// ---------------------------------------------------------------- Transpose

export function transpose(L: Lowering, x: TensorRef, perm: readonly number[]): TensorRef {
  const st = stridesOf(x.shape);
  const out = L.temp(x.dtype, perm.map((p) => x.shape[p]!));
  const r = x.shape.length, rowLen = constOf(x.shape[r - 1]!);
  if (L.target === 'wasm' && WORDS.has(x.dtype) && perm[r - 1] !== r - 1 && rowLen !== undefined && rowLen % 4 === 0 && rowLen <= 16) {
    return transposeShortRows(L, x, perm, out, rowLen);
  }
  return emitByIndex(L, out, (kb) => {
    const src = kb.input(x);
    return (idx) => load(src, dot(idx, perm.map((p) => st[p]!)));
  }, 'Transpose');
}

/** Element types held in 32-bit lanes of a native f32x4 / i32x4 / u32x4 vector. */
const WORDS = new Set<KScalar>(['f32', 'i32', 'u32']);

/**
 * A transpose that moves a short input row (the last axis, `len` = 4, 8, 12 or 16 elements: a KV cache's
 * head dimension) off the end, on the WASM target: the input is read in order, a 4-lane vector at a time,
 * and its lanes are stored one by one at their output places (len apart on the output's row). That is two
 * instructions per element where the general copy, walking the output in order, recomputes the strided
 * input index of every element.
 */
function transposeShortRows(L: Lowering, x: TensorRef, perm: readonly number[], out: TensorRef, len: number): TensorRef {
  const kb = L.kernel('Transpose');
  const src = kb.input(x), y = kb.output(out);
  const r = x.shape.length;
  const ist = stridesOf(x.shape), ost = stridesOf(out.shape);
  const outStride = (axis: number) => ost[perm.indexOf(axis)]!; // the output stride of input axis `axis`
  const body = nest(kb, x.shape.slice(0, r - 1), (idx) => {
    const from = dot(idx, ist.slice(0, r - 1)), to = dot(idx, idx.map((_, a) => outStride(a)));
    const stmts: Stmt[] = [];
    for (let q = 0; q < len; q += 4) {
      const name = kb.fresh('row');
      const row: Expr = { kind: 'var', type: { elem: x.dtype, lanes: 4 }, name };
      stmts.push(let_(name, load(src, iadd(from, q), 4)));
      for (let l = 0; l < 4; l++) stmts.push(store(y, iadd(to, imul(q + l, outStride(r - 1))), extract(row, l)));
    }
    return stmts;
  });
  kb.finish(body);
  return out;
}

const lowerTranspose: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  const perm = n.attrs.ints('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  if (perm.length !== r) throw new TesseraError(`perm [${perm.join(',')}] has ${perm.length} entries for rank ${r}`);
  // Moving only unit dims is a view.
  const kept = perm.filter((p) => !isConst(x.shape[p]!, 1));
  if (kept.every((p, i) => i === 0 || p > kept[i - 1]!)) {
    n.output(0, viewAs(x, perm.map((p) => x.shape[p]!)));
    return;
  }
  n.output(0, transpose(n.L, x, perm));
};

// ---------------------------------------------------------------- Slice

interface AxisSlice { start: Expr; count: Expr; step: number }

/** numpy slice bounds of one axis over a (possibly symbolic) dim: negative bounds count from the end. */
function sliceAxis(L: Lowering, dim: Expr, start: Expr, end: Expr, step: number): AxisSlice {
  if (step === 0) throw new TesseraError('slice step cannot be 0');
  const wrap = (e: Expr) => iselect(lt(e, 0), iadd(e, dim), e);
  const s0 = wrap(start), e0 = wrap(end);
  const clamp = (e: Expr, lo: Expr | number, hi: Expr) => imin(imax(e, lo), hi);
  if (step > 0) {
    const s = clamp(s0, 0, dim), e = clamp(e0, 0, dim);
    return { start: L.dim(s), count: L.dim(iceildiv(imax(isub(e, s), 0), step)), step };
  }
  const s = clamp(s0, 0, isub(dim, 1)), e = clamp(e0, -1, isub(dim, 1));
  return { start: L.dim(s), count: L.dim(iceildiv(imax(isub(s, e), 0), -step)), step };
}

const lowerSlice: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  let starts: Expr[], ends: Expr[], axes: number[], steps: number[];
  if (n.since < 10) {
    starts = n.attrs.ints('starts')!.map(clampI32).map(ci);
    ends = n.attrs.ints('ends')!.map(clampI32).map(ci);
    axes = n.attrs.ints('axes') ?? starts.map((_, i) => i);
    steps = starts.map(() => 1);
  } else {
    starts = n.ints(1);
    ends = n.ints(2);
    axes = n.has(3) ? n.constInts(3, 'axes') : starts.map((_, i) => i);
    steps = n.has(4) ? n.constInts(4, 'steps') : starts.map(() => 1);
  }
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw new TesseraError(`starts, ends, axes and steps must have the same length`);
  }
  const shape = [...x.shape];
  const first: Expr[] = x.shape.map(() => ci(0));
  const step: number[] = x.shape.map(() => 1);
  normAxes(axes, r).forEach((a, k) => {
    const s = sliceAxis(n.L, x.shape[a]!, starts[k]!, ends[k]!, clampI32(steps[k]!));
    shape[a] = s.count; first[a] = s.start; step[a] = s.step;
  });
  if (shape.every((d, i) => sameIndex(d, x.shape[i]!)) && step.every((s) => s === 1)) { n.output(0, x); return; }
  const st = stridesOf(x.shape);
  const out = n.L.temp(x.dtype, shape);
  n.output(0, emitByIndex(n.L, out, (kb) => {
    const src = kb.input(x);
    return (idx) => load(src, dot(idx.map((i, d) => iadd(first[d]!, imul(i, step[d]!))), st));
  }));
};

// ---------------------------------------------------------------- Concat / Split

export function concat(L: Lowering, xs: readonly TensorRef[], axis: number): TensorRef {
  const first = xs[0]!;
  const shape = [...first.shape];
  shape[axis] = L.dim(xs.reduce((s, t) => iadd(s, t.shape[axis]!), ci(0) as Expr));
  const out = L.temp(first.dtype, shape);
  const kb = L.kernel('Concat');
  const srcs = xs.map((t) => kb.input(t));
  const y = kb.output(out);
  const ost = stridesOf(shape);
  const body: Stmt[] = [];
  let at: Expr = ci(0);
  xs.forEach((t, i) => {
    const ist = stridesOf(t.shape);
    const off = at;
    body.push(...nest(kb, t.shape, (idx) => [
      store(y, dot(idx.map((v, d) => (d === axis ? iadd(v, off) : v)), ost), load(srcs[i]!, dot(idx, ist))),
    ]));
    at = L.dim(iadd(at, t.shape[axis]!));
  });
  kb.finish(body);
  return out;
}

const lowerConcat: OpLowering = (n) => {
  const xs: TensorRef[] = [];
  for (let i = 0; i < n.inputCount; i++) xs.push(n.input(i));
  const axis = normAxis(n.attrs.int('axis', n.since < 4 ? 1 : 0), xs[0]!.shape.length);
  if (xs.length === 1) { n.output(0, xs[0]!); return; }
  n.output(0, concat(n.L, xs, axis));
};

/** A contiguous range [start, start+len) of one axis. */
export function sliceRange(L: Lowering, x: TensorRef, axis: number, start: Expr, len: Expr): TensorRef {
  const shape = [...x.shape];
  shape[axis] = len;
  const st = stridesOf(x.shape);
  return emitByIndex(L, L.temp(x.dtype, shape), (kb) => {
    const src = kb.input(x);
    return (idx) => load(src, dot(idx.map((v, d) => (d === axis ? iadd(v, start) : v)), st));
  });
}

const lowerSplit: OpLowering = (n) => {
  const x = n.input(0);
  const axis = normAxis(n.attrs.int('axis', 0), x.shape.length);
  const count = n.outputCount;
  let split: Expr[] | undefined;
  if (n.since < 13 && n.attrs.ints('split')) split = n.attrs.ints('split')!.map(ci);
  if ((n.since < 2 || n.since >= 13) && n.has(1)) split = n.ints(1);
  const dim = x.shape[axis]!;
  if (!split) {
    const chunk = n.L.dim(iceildiv(dim, count));
    split = Array.from({ length: count }, (_, i) => (i < count - 1 ? chunk : n.L.dim(isub(dim, imul(chunk, count - 1)))));
  }
  if (split.length !== count) throw new TesseraError(`split has ${split.length} entries but the node has ${count} outputs`);
  let at: Expr = ci(0);
  split.forEach((len, i) => {
    if (n.hasOutput(i)) n.output(i, sliceRange(n.L, x, axis, at, len));
    at = n.L.dim(iadd(at, len));
  });
};

// ---------------------------------------------------------------- Gather family

/** An index read from a buffer, normalized against `dim` (negative counts from the end). */
const normIndex = (raw: Expr, dim: Expr): Expr => {
  const j = i32(raw);
  return select(lt(j, 0), add(j, dim), j);
};

const lowerGather: OpLowering = (n) => {
  const x = n.input(0), ind = n.input(1);
  const r = x.shape.length;
  if (r === 0) throw new TesseraError('data must have rank at least 1');
  const axis = normAxis(n.attrs.int('axis', 0), r);
  const q = ind.shape.length;
  const shape = [...x.shape.slice(0, axis), ...ind.shape, ...x.shape.slice(axis + 1)];
  const st = stridesOf(x.shape), ist = stridesOf(ind.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, shape), (kb) => {
    const src = kb.input(x), ib = kb.input(ind, 'indices');
    return (idx) => {
      const j = normIndex(load(ib, dot(idx.slice(axis, axis + q), ist)), x.shape[axis]!);
      const coords = [...idx.slice(0, axis), j, ...idx.slice(axis + q)];
      return load(src, dot(coords, st));
    };
  }));
};

const lowerGatherElements: OpLowering = (n) => {
  const x = n.input(0), ind = n.input(1);
  const axis = normAxis(n.attrs.int('axis', 0), x.shape.length);
  const st = stridesOf(x.shape), ist = stridesOf(ind.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, ind.shape), (kb) => {
    const src = kb.input(x), ib = kb.input(ind, 'indices');
    return (idx) => {
      const j = normIndex(load(ib, dot(idx, ist)), x.shape[axis]!);
      return load(src, dot(idx.map((v, d) => (d === axis ? j : v)), st));
    };
  }));
};

const lowerGatherND: OpLowering = (n) => {
  const x = n.input(0), ind = n.input(1);
  const b = n.since >= 12 ? n.attrs.int('batch_dims', 0) : 0;
  const q = ind.shape.length;
  const kDim = constOf(ind.shape[q - 1]!);
  if (kDim === undefined) throw new TesseraError('the last dimension of indices must be static');
  const shape = [...ind.shape.slice(0, q - 1), ...x.shape.slice(b + kDim)];
  const st = stridesOf(x.shape), ist = stridesOf(ind.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, shape), (kb) => {
    const src = kb.input(x), ib = kb.input(ind, 'indices');
    return (idx) => {
      const batch = idx.slice(0, b);
      const rowAt = (m: number) => dot([...idx.slice(0, q - 1), ci(m)], ist);
      const picked = Array.from({ length: kDim }, (_, m) => normIndex(load(ib, rowAt(m)), x.shape[b + m]!));
      return load(src, dot([...batch, ...picked, ...idx.slice(q - 1)], st));
    };
  }));
};

// ---------------------------------------------------------------- Pad

type PadMode = 'constant' | 'reflect' | 'edge' | 'wrap';

const lowerPad: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  const mode = n.attrs.string('mode', 'constant') as PadMode;
  if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw new TesseraError(`unknown pad mode '${mode}'`);
  if (mode === 'wrap') throw new TesseraError(`pad mode 'wrap' cannot be compiled for target ${n.L.target} yet`);
  let pads: Expr[];
  let fill: Expr;
  const ce = x.dtype === 'f16' || x.dtype === 'bf16' ? 'f32' : x.dtype;
  if (n.since < 11) {
    pads = (n.attrs.ints(n.since < 2 ? 'paddings' : 'pads') ?? []).map(ci);
    const v = n.attrs.float('value', 0);
    fill = ce === 'i64' || ce === 'u64' ? c(ce, BigInt(Math.trunc(v))) : ce === 'bool' ? c('bool', v !== 0) : c(ce, ce.startsWith('f') ? v : Math.trunc(v));
  } else {
    pads = n.ints(1);
    if (n.has(3)) {
      const axes = normAxes(n.constInts(3, 'axes'), r);
      const full: Expr[] = new Array<Expr>(2 * r).fill(ci(0));
      axes.forEach((a, k) => { full[a] = pads[k]!; full[a + r] = pads[k + axes.length]!; });
      pads = full;
    }
    const cv = n.optInput(2);
    if (cv && cv.constant && cv.constant.size > 0) fill = scalarConst(cv.constant, x.dtype);
    else if (cv && !cv.constant) throw new TesseraError(`a constant_value computed at run time cannot be compiled for target ${n.L.target} yet`);
    else fill = ce === 'i64' || ce === 'u64' ? c(ce, 0n) : c(ce, 0);
  }
  if (pads.length !== 2 * r) throw new TesseraError(`pads has ${pads.length} entries, expected ${2 * r}`);
  const shape = x.shape.map((d, i) => n.L.dim(iadd(iadd(d, pads[i]!), pads[i + r]!)));
  const st = stridesOf(x.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, shape), (kb) => {
    const src = kb.input(x);
    return (idx) => {
      let inside: Expr | undefined;
      const coords = idx.map((o, d) => {
        const dim = x.shape[d]!;
        const i = isub(o, pads[d]!);
        if (isConst(pads[d]!, 0) && sameIndex(shape[d]!, dim)) return o;
        if (mode === 'edge') return imin(imax(i, 0), isub(dim, 1));
        if (mode === 'reflect') {
          const period = imax(imul(isub(dim, 1), 2), 1);
          const m = imod(iadd(imod(i, period), period), period); // i may be negative: floor modulo
          return iselect(ge(m, dim), isub(period, m), m);
        }
        const ok = and(ge(i, 0), lt(i, dim));
        inside = inside ? and(inside, ok) : ok;
        return imin(imax(i, 0), isub(dim, 1));
      });
      const v = to(fill.type.elem, load(src, dot(coords, st)));
      return inside ? select(inside, v, fill) : v;
    };
  }));
};

// ---------------------------------------------------------------- Expand / Tile

const lowerExpand: OpLowering = (n) => {
  const x = n.input(0);
  const target = n.ints(1);
  const rank = Math.max(target.length, x.shape.length);
  const shape: Expr[] = [];
  for (let o = 0; o < rank; o++) {
    const a = x.shape[o - (rank - x.shape.length)], b = target[o - (rank - target.length)];
    if (a === undefined) shape.push(b!);
    else if (b === undefined || isConst(b, 1)) shape.push(a);
    else if (isConst(a, 1) || sameIndex(a, b)) shape.push(b);
    else if (constOf(a) !== undefined && constOf(b) !== undefined) throw new TesseraError(`cannot expand dimension ${constOf(a)} to ${constOf(b)}`);
    else shape.push(n.L.dim(imax(a, b)));
  }
  if (shape.length === x.shape.length && shape.every((d, i) => sameIndex(d, x.shape[i]!))) { n.output(0, x); return; }
  n.output(0, emitMap(n.L, [x], x.dtype, ([v]) => v!, { into: n.L.temp(x.dtype, shape) }));
};

const lowerTile: OpLowering = (n) => {
  const x = n.input(0);
  let reps: Expr[];
  if (n.since < 6) {
    const tiles = n.ints(1)[0]!, axis = normAxis(n.constInts(2, 'axis')[0]!, x.shape.length);
    reps = x.shape.map((_, i) => (i === axis ? tiles : ci(1)));
  } else reps = n.ints(1);
  if (reps.length !== x.shape.length) throw new TesseraError(`repeats has ${reps.length} entries for input rank ${x.shape.length}`);
  const shape = x.shape.map((d, i) => n.L.dim(imul(d, reps[i]!)));
  const st = stridesOf(x.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, shape), (kb) => {
    const src = kb.input(x);
    return (idx) => load(src, dot(idx.map((o, d) => (isConst(reps[d]!, 1) ? o : imod(o, x.shape[d]!))), st));
  }));
};

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

const lowerDepthToSpace: OpLowering = (n) => {
  const x = n.input(0);
  if (x.shape.length !== 4) throw new TesseraError(`input must have rank 4 (N, C, H, W), got rank ${x.shape.length}`);
  const b = n.attrs.int('blocksize');
  const mode = n.since >= 11 ? n.attrs.string('mode', 'DCR') : 'DCR';
  const [N, C, H, W] = x.shape as [Expr, Expr, Expr, Expr];
  const c2 = n.L.dim(idiv(C, b * b));
  const [view, perm] = mode === 'DCR'
    ? [[N, ci(b), ci(b), c2, H, W], [0, 3, 4, 1, 5, 2]]
    : [[N, c2, ci(b), ci(b), H, W], [0, 1, 4, 2, 5, 3]];
  const t = transpose(n.L, viewAs(x, view), perm);
  n.output(0, viewAs(t, [N, c2, n.L.dim(imul(H, b)), n.L.dim(imul(W, b))]));
};

const lowerSpaceToDepth: OpLowering = (n) => {
  const x = n.input(0);
  if (x.shape.length !== 4) throw new TesseraError(`input must have rank 4 (N, C, H, W), got rank ${x.shape.length}`);
  const b = n.attrs.int('blocksize');
  const [N, C, H, W] = x.shape as [Expr, Expr, Expr, Expr];
  const h = n.L.dim(idiv(H, b)), w = n.L.dim(idiv(W, b));
  const t = transpose(n.L, viewAs(x, [N, C, h, ci(b), w, ci(b)]), [0, 3, 5, 1, 2, 4]);
  n.output(0, viewAs(t, [N, n.L.dim(imul(C, b * b)), h, w]));
};

// ---------------------------------------------------------------- Trilu, EyeLike, OneHot

const lowerTrilu: OpLowering = (n) => {
  const x = n.input(0);
  const r = x.shape.length;
  if (r < 2) throw new TesseraError(`input must have rank at least 2, got ${r}`);
  const kIn = n.optInput(1);
  const upper = n.attrs.int('upper', 1) !== 0;
  const st = stridesOf(x.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, x.shape), (kb) => {
    const src = kb.input(x);
    // k does not change the shape: a run-time k is read from its buffer.
    const kk = !kIn ? ci(0) : kIn.constant || kIn.sym ? n.ints(1)[0]! : i32(load(kb.input(kIn, 'k'), 0));
    return (idx) => {
      const d = isub(idx[r - 1]!, idx[r - 2]!);
      const keep = upper ? ge(d, kk) : le(d, kk);
      const v = load(src, dot(idx, st));
      return select(keep, v, c(v.type, v.type.elem === 'i64' || v.type.elem === 'u64' ? 0n : 0));
    };
  }));
};

const lowerEyeLike: OpLowering = (n) => {
  const x = n.input(0);
  const t = n.node.outputs[0]!.type;
  const dtype = (t?.kind === 'tensor' ? t.dtype : x.dtype) as KScalar;
  const kk = n.attrs.int('k', 0);
  const big = dtype === 'i64' || dtype === 'u64';
  n.output(0, emitByIndex(n.L, n.L.temp(dtype, x.shape), () => (idx) =>
    select(eq(isub(idx[1]!, idx[0]!), kk), c(dtype, big ? 1n : 1), c(dtype, big ? 0n : 0))));
};

const lowerOneHot: OpLowering = (n) => {
  const ind = n.input(0), values = n.input(2);
  const depth = n.constant(1);
  if (!depth) throw new TesseraError(`op OneHot with data-dependent output shape cannot be compiled ahead of time`);
  const D = Math.trunc(depth.num(0));
  const r = ind.shape.length;
  let axis = n.attrs.int('axis', -1);
  if (axis < 0) axis += r + 1;
  const shape = [...ind.shape];
  shape.splice(axis, 0, ci(D));
  const ist = stridesOf(ind.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(values.dtype, shape), (kb) => {
    const ib = kb.input(ind, 'indices'), vb = kb.input(values, 'values');
    return (idx) => {
      const raw = load(ib, dot([...idx.slice(0, axis), ...idx.slice(axis + 1)], ist));
      const f = raw.type.elem.startsWith('f') ? cast(INDEX, raw) : i32(raw);
      const j = n.since >= 11 ? select(lt(f, 0), add(f, D), f) : f;
      return load(vb, select(eq(j, idx[axis]!), ci(1), ci(0)));
    };
  }));
};

// ---------------------------------------------------------------- ReverseSequence

const lowerReverseSequence: OpLowering = (n) => {
  const x = n.input(0), lens = n.input(1);
  const bAxis = n.attrs.int('batch_axis', 1), tAxis = n.attrs.int('time_axis', 0);
  const st = stridesOf(x.shape);
  n.output(0, emitByIndex(n.L, n.L.temp(x.dtype, x.shape), (kb) => {
    const src = kb.input(x), lb = kb.input(lens, 'lens');
    return (idx) => {
      const len = i32(load(lb, idx[bAxis]!));
      const t = idx[tAxis]!;
      const from = select(lt(t, len), isub(isub(len, 1), t), t);
      return load(src, dot(idx.map((e, d) => (d === tAxis ? from : e)), st));
    };
  }));
};

// ---------------------------------------------------------------- Scatter (copy, then serial updates)

function scatter(n: NodeLowering, x: TensorRef, updates: TensorRef, target: (kb: KernelBuilder, idx: Expr[]) => Expr, reduction: string): void {
  const out = emitMap(n.L, [x], x.dtype, ([v]) => v!, { hint: 'copy' });
  const kb = n.L.kernel();
  const ub = kb.input(updates, 'updates');
  const y = kb.inout(out);
  // Updates apply in order (a later duplicate index wins), so the loop nest is serial.
  const ust = stridesOf(updates.shape);
  const body = nest(kb, updates.shape, (idx) => {
    const at = target(kb, idx);
    const u = load(ub, dot(idx, ust));
    if (reduction === 'none') return [store(y, at, u)];
    const old = load(y, at);
    const isBool = x.dtype === 'bool';
    const v = reduction === 'add' ? (isBool ? or(old, u) : add(old, u))
      : reduction === 'mul' ? (isBool ? and(old, u) : mul(old, u))
        : reduction === 'max' ? max(old, u) : min(old, u);
    return [store(y, at, v)];
  }, { parallel: false });
  kb.finish(body);
  n.output(0, out);
}

const lowerScatterND: OpLowering = (n) => {
  const x = n.input(0), ind = n.input(1), upd = n.input(2);
  const red = n.since >= 16 ? n.attrs.string('reduction', 'none') : 'none';
  const q = ind.shape.length;
  const kDim = constOf(ind.shape[q - 1]!);
  if (kDim === undefined) throw new TesseraError('the last dimension of indices must be static');
  const st = stridesOf(x.shape), ist = stridesOf(ind.shape);
  let ib: BufferRef | undefined;
  scatter(n, x, upd, (kb, idx) => {
    ib ??= kb.input(ind, 'indices');
    const rowAt = (m: number) => dot([...idx.slice(0, q - 1), ci(m)], ist);
    const picked = Array.from({ length: kDim }, (_, m) => normIndex(load(ib!, rowAt(m)), x.shape[m]!));
    return dot([...picked, ...idx.slice(q - 1)], st);
  }, red);
};

const lowerScatterElements: OpLowering = (n) => {
  const x = n.input(0), ind = n.input(1), upd = n.input(2);
  const axis = normAxis(n.attrs.int('axis', 0), x.shape.length);
  const red = n.since >= 16 ? n.attrs.string('reduction', 'none') : 'none';
  const st = stridesOf(x.shape), ist = stridesOf(ind.shape);
  let ib: BufferRef | undefined;
  scatter(n, x, upd, (kb, idx) => {
    ib ??= kb.input(ind, 'indices');
    const j = normIndex(load(ib, dot(idx, ist)), x.shape[axis]!);
    return dot(idx.map((v, d) => (d === axis ? j : v)), st);
  }, red);
};

// ---------------------------------------------------------------- the table

export const movementLowerings: Record<string, OpLowering> = {
  Identity: lowerIdentity,
  Reshape: lowerReshape,
  Flatten: lowerFlatten,
  Squeeze: lowerSqueeze,
  Unsqueeze: lowerUnsqueeze,
  Dropout: lowerDropout,
  Transpose: lowerTranspose,
  Slice: lowerSlice,
  Concat: lowerConcat,
  Split: lowerSplit,
  Gather: lowerGather,
  GatherElements: lowerGatherElements,
  GatherND: lowerGatherND,
  Pad: lowerPad,
  Expand: lowerExpand,
  Tile: lowerTile,
  DepthToSpace: lowerDepthToSpace,
  SpaceToDepth: lowerSpaceToDepth,
  Trilu: lowerTrilu,
  EyeLike: lowerEyeLike,
  OneHot: lowerOneHot,
  ScatterND: lowerScatterND,
  ScatterElements: lowerScatterElements,
  Scatter: lowerScatterElements,
  ReverseSequence: lowerReverseSequence,
};
