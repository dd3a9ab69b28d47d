// Loop nests shared by every op family: the elementwise/broadcast map (coalesced, vectorized), the
// "compute each output element from its coordinates" kernel of data movement, and typed value helpers.
//
// Conventions (why): the loops over a kernel's output coordinates are 'parallel', every one of them (their
// iterations are independent: a GPU target collapses the perfect nest into one iteration space over all
// outputs, a CPU target runs them as plain loops); reductions inside are 'serial'; the contiguous innermost
// loop of an elementwise map is 'vector' (independent SIMD lanes, 4 lanes, with a scalar tail). f16/bf16 are loaded, widened to f32,
// computed in f32 and rounded once when stored, as the reference interpreter computes wide and rounds once.
import { TesseraError } from '../../ir/errors.ts';
import { broadcast, c, cast, eq, load, loop, select, store, type BufferRef } from '../../ir/kernel/build.ts';
import { exprsEqual } from '../../ir/kernel/equal.ts';
import type { Expr, KScalar, KType, LoopKind, Stmt } from '../../ir/kernel/ir.ts';
import type { Tensor } from '../../ir/tensor.ts';
import type { KernelBuilder, Lowering, TensorRef } from './context.ts';
import { ci, constOf, dot, idiv, imax, imul, isConst, isGpuTarget, stridesOf } from './index-math.ts';

// ---------------------------------------------------------------- types and values

/** The type a value of `elem` is computed in: f16/bf16 widen to f32, everything else is itself. */
export const computeElem = (elem: KScalar): KScalar => (elem === 'f16' || elem === 'bf16' ? 'f32' : elem);

export const withLanes = (elem: KScalar, lanes: KType['lanes']): KType => ({ elem, lanes });

/** Converts a value to another element type, keeping its lane count (no-op when it already has it). */
export function to(elem: KScalar, e: Expr): Expr {
  return e.type.elem === elem ? e : cast({ elem, lanes: e.type.lanes }, e);
}

/** Widens a loaded f16/bf16 value to its compute type. */
export const widen = (e: Expr): Expr => to(computeElem(e.type.elem), e);

/** A constant of the type (and lane count) of `like`. */
export const k = (like: Expr | KType, value: number | bigint | boolean): Expr => c('kind' in like ? like.type : like, value);

/** The scalar value of a compile-time tensor with one element, as a constant of its compute type. */
export function scalarConst(t: Tensor, elem: KScalar): Expr {
  const v = t.data[0] as number | bigint;
  const ce = computeElem(elem);
  if (ce === 'i64' || ce === 'u64') return c(ce, typeof v === 'bigint' ? v : BigInt(v));
  return c(ce, Number(v));
}

// ---------------------------------------------------------------- loop nests

export interface NestOptions {
  /** Make the loops 'parallel' (default true): every iteration of the nest is independent. */
  parallel?: boolean;
  /** Loop variable name hint. */
  hint?: string;
}

/**
 * Loops over every coordinate of `extents` (outermost first) and emits `body(idx)` inside; dims of
 * constant extent 1 get no loop (their coordinate is 0).
 */
export function nest(kb: KernelBuilder, extents: readonly Expr[], body: (idx: Expr[]) => Stmt[], opts: NestOptions = {}): Stmt[] {
  const names: (string | undefined)[] = extents.map((e) => (isConst(e, 1) ? undefined : kb.fresh(opts.hint ?? 'i')));
  const idx = names.map((n) => (n === undefined ? ci(0) : { kind: 'var', type: { elem: 'i32', lanes: 1 }, name: n } as Expr));
  let stmts = body(idx);
  const kind: LoopKind = opts.parallel !== false ? 'parallel' : 'serial';
  for (let d = extents.length - 1; d >= 0; d--) {
    const n = names[d];
    if (n === undefined) continue;
    stmts = [loop(n, 0, extents[d]!, stmts, { kind })];
  }
  return stmts;
}

// ---------------------------------------------------------------- broadcasting

const shapeText = (s: readonly Expr[]) => `[${s.map((d) => constOf(d) ?? '?').join(',')}]`;

/** Numpy broadcast of symbolic shapes. Two different symbols broadcast to their max (one must be 1). */
export function broadcastShapes(L: Lowering, shapes: readonly (readonly Expr[])[]): Expr[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Expr[] = [];
  for (let o = 0; o < rank; o++) {
    const dims = shapes.map((s) => s[o - (rank - s.length)]).filter((d): d is Expr => d !== undefined && !isConst(d, 1));
    if (dims.length === 0) { out.push(ci(1)); continue; }
    const consts = [...new Set(dims.map(constOf).filter((x): x is number => x !== undefined))];
    if (consts.length > 1) throw new TesseraError(`shapes ${shapes.map(shapeText).join(' and ')} cannot be broadcast`);
    if (consts.length === 1) { out.push(ci(consts[0]!)); continue; }
    const uniq: Expr[] = [];
    for (const d of dims) if (!uniq.some((u) => exprsEqual(u, d))) uniq.push(d);
    out.push(L.dim(uniq.reduce((a, b) => imax(a, b))));
  }
  return out;
}

/** The strides to read `inShape` broadcast to `outShape` (0 along broadcast dims), one per output dim. */
export function broadcastStrides(inShape: readonly Expr[], outShape: readonly Expr[]): Expr[] {
  const st = stridesOf(inShape);
  const off = outShape.length - inShape.length;
  return outShape.map((od, o) => {
    const i = o - off;
    if (i < 0) return ci(0);
    const d = inShape[i]!;
    if (isConst(d, 1)) return ci(0);
    if (exprsEqual(d, od)) return st[i]!;
    return select(eq(d, 1), 0, st[i]!);
  });
}

// ---------------------------------------------------------------- the elementwise map

export interface MapOptions {
  /** Never emit vector lanes (for bodies that are not lane-wise). */
  scalar?: boolean;
  hint?: string;
  /** Write into this tensor instead of a fresh temp (its shape must be the broadcast shape). */
  into?: TensorRef;
  /**
   * A statement body instead of `f` (scalar only): `stmts(kb, xs, result)` computes the value and emits
   * `result(value)` where it is known (for bodies that need locals and loops, like integer Pow).
   */
  stmts?: (kb: KernelBuilder, xs: Expr[], result: (v: Expr) => Stmt) => Stmt[];
}

const is64 = (e: KScalar) => e === 'i64' || e === 'u64' || e === 'f64';

/**
 * out[i] = f(x0[i], x1[i], …) under numpy broadcasting. `f` receives each input loaded and widened to its
 * compute type (constants of one element are inlined) and must be lane-wise: it may be called on scalars
 * or on 4-lane vectors, so it builds its constants with `k(x, v)`.
 */
export function emitMap(L: Lowering, inputs: readonly TensorRef[], outElem: KScalar, f: (xs: Expr[]) => Expr, opts: MapOptions = {}): TensorRef {
  const outShape = opts.into?.shape ?? broadcastShapes(L, inputs.map((t) => t.shape));
  const out = opts.into ?? L.temp(outElem, outShape);
  const kb = L.kernel(opts.hint);
  type Src = { inline?: Expr; buf?: BufferRef; strides: Expr[]; elem: KScalar };
  const srcs: Src[] = inputs.map((t, i) => {
    if (t.constant && t.constant.size === 1) return { inline: scalarConst(t.constant, t.dtype), strides: [], elem: t.dtype };
    return { buf: kb.input(t, `x${i}`), strides: broadcastStrides(t.shape, outShape), elem: t.dtype };
  });
  const y = kb.output(out);
  const outStrides = stridesOf(outShape);

  // Drop unit dims and coalesce dims that every operand walks contiguously (or not at all).
  type Dim = { extent: Expr; strides: Expr[]; outStride: Expr };
  let dims: Dim[] = [];
  outShape.forEach((e, d) => {
    if (isConst(e, 1)) return;
    dims.push({ extent: e, strides: srcs.map((s) => (s.buf ? s.strides[d]! : ci(0))), outStride: outStrides[d]! });
  });
  const merged: Dim[] = [];
  for (const d of dims) {
    const prev = merged[merged.length - 1];
    if (prev && prev.strides.every((s, i) => exprsEqual(s, imul(d.strides[i]!, d.extent)))) {
      merged[merged.length - 1] = { extent: L.dim(imul(prev.extent, d.extent)), strides: d.strides, outStride: d.outStride };
    } else merged.push(d);
  }
  dims = merged;

  const value = (idx: Expr[], lanes: KType['lanes']): Expr[] => srcs.map((s, i) => {
    if (s.inline) return lanes === 1 ? s.inline : broadcast(s.inline, lanes);
    const at = dot(idx, dims.map((d) => d.strides[i]!));
    const inner = dims.length ? dims[dims.length - 1]!.strides[i]! : ci(0);
    if (lanes === 1) return widen(load(s.buf!, at));
    return widen(isConst(inner, 0) ? broadcast(load(s.buf!, at), lanes) : load(s.buf!, at, lanes));
  });
  const emit = (idx: Expr[], lanes: KType['lanes']): Stmt[] => {
    const at = dot(idx, dims.map((d) => d.outStride));
    if (opts.stmts) return opts.stmts(kb, value(idx, lanes), (r) => store(y, at, to(outElem, r)));
    return [store(y, at, to(outElem, f(value(idx, lanes))))];
  };

  if (dims.length === 0) { kb.finish(emit([], 1)); return out; }
  const last = dims[dims.length - 1]!;
  const innerOk = srcs.every((s, i) => !s.buf || isConst(last.strides[i]!, 0) || isConst(last.strides[i]!, 1));
  const lanesOk = !opts.scalar && !opts.stmts && innerOk && !is64(outElem) && srcs.every((s) => !is64(s.elem)) &&
    (constOf(last.extent) === undefined || constOf(last.extent)! >= 8);
  const outerExtents = dims.slice(0, -1).map((d) => d.extent);
  // On the GPU a nest of parallel loops is one iteration space only when it is perfect: a 4-lane loop with a
  // scalar tail inside the outer loops would leave each row to one thread, so rows that need a tail are scalar.
  const rowTail = !outerExtents.every((e) => isConst(e, 1)) && !(constOf(last.extent) !== undefined && constOf(last.extent)! % 4 === 0);
  // WebGPU runs one invocation per element (SwiftShader vectorizes across invocations; a scalarized 4-lane body
  // only makes shaders 4× larger and slower to compile); CUDA keeps 4-lane rows for vector loads.
  const lanes = lanesOk && L.target !== 'webgpu' && !(isGpuTarget(L.target) && rowTail);
  const body = nest(kb, outerExtents, (outerIdx) => {
    const v = kb.fresh('j');
    const j: Expr = { kind: 'var', type: { elem: 'i32', lanes: 1 }, name: v };
    const n = last.extent;
    const only = outerExtents.every((e) => isConst(e, 1));
    if (!lanes) return [loop(v, 0, n, emit([...outerIdx, j], 1), { kind: 'parallel' })];
    const main = imul(idiv(n, 4), 4);
    const stmts: Stmt[] = [loop(v, 0, main, emit([...outerIdx, j], 4), { kind: only ? 'parallel' : 'vector', step: 4 })];
    if (!(constOf(n) !== undefined && constOf(n)! % 4 === 0)) {
      const t = kb.fresh('t');
      const jt: Expr = { kind: 'var', type: { elem: 'i32', lanes: 1 }, name: t };
      stmts.push(loop(t, main, n, emit([...outerIdx, jt], 1)));
    }
    return stmts;
  });
  kb.finish(body);
  return out;
}

// ---------------------------------------------------------------- per-coordinate kernels

/**
 * A kernel that computes every output element from its coordinates: `build` declares the inputs on the
 * kernel builder and returns the function from output coordinates to the value (of the output's element
 * type, or its compute type: it is converted on store).
 */
export function emitByIndex(L: Lowering, out: TensorRef, build: (kb: KernelBuilder) => (idx: Expr[]) => Expr, hint?: string): TensorRef {
  const kb = L.kernel(hint);
  const valueAt = build(kb);
  const y = kb.output(out);
  const st = stridesOf(out.shape);
  const body = nest(kb, out.shape, (idx) => [store(y, dot(idx, st), to(out.dtype, valueAt(idx)))]);
  kb.finish(body);
  return out;
}

/** The flat row-major offset of coordinates in a shape. */
export const flatIndex = (idx: readonly Expr[], shape: readonly Expr[]): Expr => dot(idx, stridesOf(shape));
