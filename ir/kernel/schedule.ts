// Schedule analysis of kernel IR shared by the GPU backends (backends/ptx, backends/wgsl): which statements hold
// barriers, which top-level loops may run concurrently as grid-stride loops (the 'grid' schedule), the perfect
// nests of parallel loops that flatten into one iteration space, and trip counts as size expressions (for
// launch records). Pure functions of the IR; the backends decide what to emit from them.
import { TesseraError } from '../errors.ts';
import { exprsEqual } from './equal.ts';
import type { Expr, Kernel, Stmt } from './ir.ts';

const ci = (n: number): Expr => ({ kind: 'const', type: { elem: 'i32', lanes: 1 }, value: n });
const I32 = { elem: 'i32' as const, lanes: 1 as const };

/** Does the statement list hold a barrier for the innermost parallel loop around it (not one nested deeper)? */
export function holdsBarrier(list: Stmt[]): boolean {
  return list.some((s) => {
    switch (s.kind) {
      case 'barrier': return true;
      case 'loop': return s.loopKind !== 'parallel' && holdsBarrier(s.body);
      case 'if': return holdsBarrier(s.then) || holdsBarrier(s.else);
      default: return false;
    }
  });
}
/** Does the list contain, at any depth, a parallel loop that holds a barrier? */
export function containsLockstep(list: Stmt[]): boolean {
  return list.some((s) => {
    switch (s.kind) {
      case 'loop': return (s.loopKind === 'parallel' && holdsBarrier(s.body)) || containsLockstep(s.body);
      case 'if': return containsLockstep(s.then) || containsLockstep(s.else);
      default: return false;
    }
  });
}
export function assigns(list: Stmt[], name: string): boolean {
  return list.some((s) => (s.kind === 'assign' && s.name === name) || (s.kind === 'loop' && assigns(s.body, name))
    || (s.kind === 'if' && (assigns(s.then, name) || assigns(s.else, name))));
}
/** Does a pure statement after the first of the phases read a buffer a phase writes (an order between them)? */
export function readsAfter(body: Stmt[], phases: Loop[]): boolean {
  const first = body.indexOf(phases[0]!);
  const written = new Set<string>();
  for (const p of phases) { const a = accesses([p]); for (const x of [...a.stored, ...a.atomic]) written.add(x); }
  return body.slice(first).some((s) => !phases.includes(s as Loop) && [...accesses([s]).read].some((x) => written.has(x)));
}
export function anyBarrier(list: Stmt[]): boolean {
  return list.some((s) => s.kind === 'barrier' || (s.kind === 'loop' && anyBarrier(s.body)) || (s.kind === 'if' && (anyBarrier(s.then) || anyBarrier(s.else))));
}
export type Loop = Extract<Stmt, { kind: 'loop' }>;

/** Does the expression read a buffer or one of `names`? */
export function mentions(e: Expr, names: Set<string>): boolean {
  switch (e.kind) {
    case 'const': return false;
    case 'var': return names.has(e.name);
    case 'load': return true;
    case 'binary': return mentions(e.a, names) || mentions(e.b, names);
    case 'select': return mentions(e.cond, names) || mentions(e.a, names) || mentions(e.b, names);
    default: return mentions(e.a, names);
  }
}

/**
 * The perfect nest of independent loops that starts at the parallel loop `l`: while a loop's body (comments
 * aside) is exactly one 'parallel' or 'vector' loop whose bounds do not depend on the loops around it, that loop
 * joins. Its iterations are independent of each other (locals are private to them), so the nest is one
 * iteration space (the product of the trip counts), each point of which may run on its own thread.
 */
export function perfectNest(l: Loop): Loop[] {
  const nest = [l];
  const vars = new Set([l.var]);
  for (let cur = l; ;) {
    const body = cur.body.filter((s) => s.kind !== 'comment');
    const n = body[0];
    if (body.length !== 1 || n!.kind !== 'loop' || (n.loopKind !== 'parallel' && n.loopKind !== 'vector')) break;
    if (mentions(n.start, vars) || mentions(n.end, vars)) break;
    nest.push(n);
    vars.add(n.var);
    cur = n;
  }
  return nest;
}

/** Buffers a statement list loads from, stores to and updates atomically. */
export function accesses(list: Stmt[], acc = { read: new Set<string>(), stored: new Set<string>(), atomic: new Set<string>() }) {
  const ex = (e: Expr): void => {
    switch (e.kind) {
      case 'load': acc.read.add(e.buffer); ex(e.index); return;
      case 'binary': ex(e.a); ex(e.b); return;
      case 'select': ex(e.cond); ex(e.a); ex(e.b); return;
      case 'unary': case 'cast': case 'bitcast': case 'broadcast': case 'extract': case 'reduce_lanes': ex(e.a); return;
      default: return;
    }
  };
  for (const s of list) {
    switch (s.kind) {
      case 'let': ex(s.value); break;
      case 'local': ex(s.init); break;
      case 'assign': ex(s.value); break;
      case 'store': acc.stored.add(s.buffer); ex(s.index); ex(s.value); break;
      case 'atomic': acc.atomic.add(s.buffer); ex(s.index); ex(s.value); break;
      case 'loop': ex(s.start); ex(s.end); accesses(s.body, acc); break;
      case 'if': ex(s.cond); accesses(s.then, acc); accesses(s.else, acc); break;
      default: break;
    }
  }
  return acc;
}

/** Every store to `buf` in the list, as [index, lanes]. */
function storesTo(list: Stmt[], buf: string, out: [Expr, number][] = []): [Expr, number][] {
  for (const s of list) {
    if (s.kind === 'store' && s.buffer === buf) out.push([s.index, s.value.type.lanes]);
    else if (s.kind === 'loop') storesTo(s.body, buf, out);
    else if (s.kind === 'if') { storesTo(s.then, buf, out); storesTo(s.else, buf, out); }
  }
  return out;
}

/** Is e a multiple of k by its form (k · X, or a constant multiple)? */
function multipleOf(e: Expr, k: number, lets: Map<string, Expr>): boolean {
  if (k === 1) return true;
  if (e.kind === 'const') return Number(e.value) % k === 0;
  if (e.kind === 'var') { const d = lets.get(e.name); return d !== undefined && multipleOf(d, k, lets); }
  if (e.kind === 'binary' && e.op === 'mul') return multipleOf(e.a, k, lets) || multipleOf(e.b, k, lets);
  return false;
}

/**
 * The element ranges [lo, hi) a loop stores to `buf`: a store at index = the loop variable with as many lanes
 * as the step covers [start, end) (the shape of an elementwise body and its tail), one at a constant index c
 * covers [c, c + lanes); undefined for any other store.
 */
function storedRanges(l: Loop, buf: string, lets: Map<string, Expr>): [Expr, Expr][] | undefined {
  const out: [Expr, Expr][] = [];
  for (const [i, lanes] of storesTo(l.body, buf)) {
    if (i.kind === 'const') { out.push([i, ci(Number(i.value) + lanes)]); continue; }
    if (!(i.kind === 'var' && i.name === l.var && lanes === l.step)) return undefined;
    if (l.step > 1 && !(multipleOf(l.start, l.step, lets) && multipleOf(l.end, l.step, lets))) return undefined;
    out.push([l.start, l.end]);
  }
  return out;
}

/** The range [lo, hi] of an i32 index expression over loop variables of known ranges, when it stays in i32. */
function interval(e: Expr, env: Map<string, [number, number]>, lets: Map<string, Expr>, depth = 0): [number, number] | undefined {
  if (depth > 64) return undefined;
  const fits = (r: [number, number]): [number, number] | undefined => (r[0] >= -(2 ** 31) && r[1] <= 2 ** 31 - 1 ? r : undefined);
  switch (e.kind) {
    case 'const': return e.type.elem === 'i32' && Number.isInteger(Number(e.value)) ? [Number(e.value), Number(e.value)] : undefined;
    case 'var': {
      const r = env.get(e.name);
      if (r) return r;
      const d = lets.get(e.name);
      return d ? interval(d, env, lets, depth + 1) : undefined;
    }
    case 'binary': {
      if (e.type.elem !== 'i32') return undefined;
      const a = interval(e.a, env, lets, depth + 1), b = interval(e.b, env, lets, depth + 1);
      if (!a || !b) return undefined;
      switch (e.op) {
        case 'add': return fits([a[0] + b[0], a[1] + b[1]]);
        case 'sub': return fits([a[0] - b[1], a[1] - b[0]]);
        case 'mul': { const p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]; return fits([Math.min(...p), Math.max(...p)]); }
        case 'min': return [Math.min(a[0], b[0]), Math.min(a[1], b[1])];
        case 'max': return [Math.max(a[0], b[0]), Math.max(a[1], b[1])];
        default: return undefined;
      }
    }
    default: return undefined;
  }
}

/**
 * The element ranges [lo, hi) that the stores of a loop to `buf` may touch, by interval arithmetic over its
 * loops' ranges (constant bounds, or bounds of known range); undefined when a store's index has no known range.
 */
function storeIntervals(list: Stmt[], buf: string, env: Map<string, [number, number]>, lets: Map<string, Expr>, out: [Expr, Expr][] = []): [Expr, Expr][] | undefined {
  for (const s of list) {
    switch (s.kind) {
      case 'let': lets.set(s.name, s.value); break;
      case 'store': {
        if (s.buffer !== buf) break;
        const r = interval(s.index, env, lets);
        if (!r) return undefined;
        out.push([ci(r[0]), ci(r[1] + s.value.type.lanes)]);
        break;
      }
      case 'loop': {
        if (storesTo(s.body, buf).length === 0) break;
        const a = interval(s.start, env, lets), b = interval(s.end, env, lets);
        if (!a || !b) return undefined;
        if (b[1] - 1 < a[0]) break; // never runs
        if (!storeIntervals(s.body, buf, new Map(env).set(s.var, [a[0], b[1] - 1]), lets, out)) return undefined;
        break;
      }
      case 'if':
        if (!storeIntervals(s.then, buf, env, lets, out) || !storeIntervals(s.else, buf, env, lets, out)) return undefined;
        break;
      default: break;
    }
  }
  return out;
}

/**
 * May these top-level loops run concurrently (no order between them)? Only when no buffer one of them
 * writes is touched by another, except a buffer that two of them only store to, at provably disjoint ranges
 * (an elementwise body and its tail, or index ranges apart by interval arithmetic, as Concat's parts).
 */
export function independent(phases: Loop[], lets: Map<string, Expr>): boolean {
  const acc = phases.map((p) => accesses([p]));
  for (let i = 0; i < phases.length; i++) {
    for (let j = i + 1; j < phases.length; j++) {
      const a = acc[i]!, b = acc[j]!;
      const writtenA = new Set([...a.stored, ...a.atomic]), writtenB = new Set([...b.stored, ...b.atomic]);
      for (const x of writtenA) if (b.read.has(x) || b.atomic.has(x)) return false;
      for (const x of writtenB) if (a.read.has(x) || a.atomic.has(x)) return false;
      for (const x of a.stored) {
        if (!b.stored.has(x)) continue;
        const le = (p: Expr, q: Expr) => exprsEqual(p, q) || (p.kind === 'const' && q.kind === 'const' && Number(p.value) <= Number(q.value));
        const apart = (ra?: [Expr, Expr][], rb?: [Expr, Expr][]) => !!ra && !!rb && ra.every((r) => rb.every((q) => le(r[1], q[0]) || le(q[1], r[0])));
        if (apart(storedRanges(phases[i]!, x, lets), storedRanges(phases[j]!, x, lets))) continue;
        const span = (l: Loop) => storeIntervals([l], x, new Map(), new Map(lets));
        if (!apart(span(phases[i]!), span(phases[j]!))) return false;
      }
    }
  }
  return true;
}

export function constValue(e: Expr, lets: Map<string, Expr>): number | undefined {
  const g = sizeExpr(e, lets, new Set());
  if (!g) return undefined;
  const f = (x: Expr): number | undefined => {
    if (x.kind === 'const') return Number(x.value);
    if (x.kind === 'binary') {
      const a = f(x.a), b = f(x.b);
      if (a === undefined || b === undefined) return undefined;
      switch (x.op) {
        case 'add': return (a + b) | 0;
        case 'sub': return (a - b) | 0;
        case 'mul': return Math.imul(a, b);
        case 'div': return b === 0 ? undefined : Math.trunc(a / b) | 0;
        case 'min': return Math.min(a, b);
        case 'max': return Math.max(a, b);
        default: return undefined;
      }
    }
    return undefined;
  };
  return f(g);
}

const SIZE_OPS = new Set(['add', 'sub', 'mul', 'div', 'mod', 'floordiv', 'floormod', 'min', 'max', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** An i32 expression over size params only (top-level lets substituted), as the manifest allows; else undefined. */
export function sizeExpr(e: Expr, lets: Map<string, Expr>, sizes: Set<string>): Expr | undefined {
  switch (e.kind) {
    case 'const': return e.type.elem === 'i32' || e.type.elem === 'bool' ? { kind: 'const', type: { elem: 'i32', lanes: 1 }, value: Number(e.value) } : undefined;
    case 'var': {
      if (sizes.has(e.name)) return e;
      const d = lets.get(e.name);
      return d ? sizeExpr(d, lets, sizes) : undefined;
    }
    case 'binary': {
      if (!SIZE_OPS.has(e.op) || (e.a.type.elem !== 'i32' && e.a.type.elem !== 'bool')) return undefined;
      const a = sizeExpr(e.a, lets, sizes), b = sizeExpr(e.b, lets, sizes);
      return a && b ? { ...e, type: e.type, a, b } : undefined;
    }
    case 'select': {
      const c = sizeExpr(e.cond, lets, sizes), a = sizeExpr(e.a, lets, sizes), b = sizeExpr(e.b, lets, sizes);
      return c && a && b ? { ...e, cond: c, a, b } : undefined;
    }
    default: return undefined;
  }
}

export const isZero = (e: Expr): boolean => e.kind === 'const' && Number(e.value) === 0;
export const isOne = (e: Expr): boolean => e.kind === 'const' && Number(e.value) === 1;

/** ⌈x / d⌉ as an i32 size expression (a constant when x is one). */
export function divUp(x: Expr, d: number): Expr {
  if (x.kind === 'const') return ci(Math.max(0, Math.ceil(Number(x.value) / d)));
  return { kind: 'binary', type: I32, op: 'div', a: { kind: 'binary', type: I32, op: 'add', a: x, b: ci(d - 1) }, b: ci(d) };
}

/** The top-level lets of a kernel body, by name (for substitution into size expressions). */
export function topLets(k: Kernel): Map<string, Expr> {
  const lets = new Map<string, Expr>();
  for (const s of k.body) if (s.kind === 'let') lets.set(s.name, s.value);
  return lets;
}

/**
 * The phases of the 'grid' schedule, or undefined when the kernel needs the one-workgroup schedule: the body is
 * pure statements (lets, locals that no phase assigns) then top-level loops, at least one of them parallel, that
 * may run concurrently (no barriers, no workgroup buffers, no later statement reading what a phase writes, stores
 * of two phases to one buffer provably disjoint). Parallel phases become grid-stride loops; the others run on
 * one thread.
 */
export function gridPhases(k: Kernel): Loop[] | undefined {
  const lets = topLets(k);
  const effects = k.body.filter((s) => s.kind !== 'let' && s.kind !== 'local' && s.kind !== 'comment');
  const phases = effects.every((s) => s.kind === 'loop') ? effects as Loop[] : [];
  if (!phases.some((l) => l.loopKind === 'parallel')) return undefined;
  const lastEffect = k.body.indexOf(effects[effects.length - 1]!);
  const ok = !anyBarrier(k.body) && !k.buffers.some((b) => b.space === 'workgroup')
    && k.body.slice(lastEffect + 1).every((s) => s.kind === 'comment')
    && k.body.slice(0, lastEffect).every((s) => s.kind !== 'local' || !phases.some((l) => assigns(l.body, s.name)))
    && independent(phases, lets) && !readsAfter(k.body, phases);
  return ok ? phases : undefined;
}

/** The trip count of a loop as a size expression (over size params, top-level lets substituted), when it is one. */
export function tripExpr(s: Loop, lets: Map<string, Expr>, sizes: Set<string>): Expr | undefined {
  const a = sizeExpr(s.start, lets, sizes), b = sizeExpr(s.end, lets, sizes);
  if (!a || !b) return undefined;
  const span: Expr = isZero(a) ? b : { kind: 'binary', type: I32, op: 'sub', a: b, b: a };
  return s.step === 1 ? span : divUp(span, s.step);
}

/**
 * The iterations of the perfect nest at `l` (the product of its trip counts, each at least 0) as a size
 * expression, when it is one; a constant is capped at 2^31 − 1 (the grid is only a hint past that).
 */
export function nestTrips(l: Loop, lets: Map<string, Expr>, sizes: Set<string>): Expr | undefined {
  let total: Expr = ci(1);
  for (const x of perfectNest(l)) {
    let t = tripExpr(x, lets, sizes);
    if (!t) return undefined;
    if (t.kind === 'const') t = ci(Math.max(0, Number(t.value)));
    else if (t.kind !== 'var') t = { kind: 'binary', type: I32, op: 'max', a: t, b: ci(0) };
    if (total.kind === 'const' && t.kind === 'const') total = ci(Math.min(2 ** 31 - 1, Number(total.value) * Number(t.value)));
    else if (isOne(total)) total = t;
    else if (!isOne(t)) total = { kind: 'binary', type: I32, op: 'mul', a: total, b: t };
  }
  return total;
}

/**
 * The launch grid of the 'grid' schedule: ⌈iterations / block⌉ of the largest parallel phase, or `fallback`
 * blocks when a phase's iterations are no size expression.
 */
export function gridOf(phases: Loop[], lets: Map<string, Expr>, sizes: Set<string>, block: number, fallback: number): Expr {
  const trips = phases.filter((l) => l.loopKind === 'parallel').map((l) => nestTrips(l, lets, sizes));
  if (!trips.every((t) => t)) return ci(fallback);
  return trips.map((t) => divUp(t!, block)).reduce((a, b) =>
    (a.kind === 'const' && b.kind === 'const' ? ci(Math.max(Number(a.value), Number(b.value))) : { kind: 'binary', type: I32, op: 'max', a, b }));
}

/** A GPU kernel's call signature: its global buffers in parameter order (workgroup buffers are not), then its sizes. */
export interface GpuSignature { name: string; buffers: string[]; sizes: string[] }

/**
 * Emits every kernel through `f` with its GPU signature; kernel names must be unique, and a TesseraError of `f`
 * comes back naming the kernel.
 */
export function emitEach<T>(kernels: readonly Kernel[], f: (k: Kernel, sig: GpuSignature) => T): T[] {
  const seen = new Set<string>();
  return kernels.map((k) => {
    if (seen.has(k.name)) throw new TesseraError(`duplicate kernel name '${k.name}'`);
    seen.add(k.name);
    const sig = { name: k.name, buffers: k.buffers.filter((b) => b.space === 'global').map((b) => b.name), sizes: k.sizes.map((s) => s.name) };
    try {
      return f(k, sig);
    } catch (err) {
      if (err instanceof TesseraError) throw new TesseraError(`kernel '${k.name}': ${err.reason}`, err.place);
      throw err;
    }
  });
}
