// i32 index arithmetic for the lowering: shapes, strides and element offsets as kernel-IR expressions.
//
// Shapes of a model with symbolic dimensions are expressions over size symbols, so every helper here
// folds constants and the trivial identities at construction time (x + 0, x · 1, x · 0, x / 1): with
// static shapes the kernels carry plain numbers, and with symbolic ones the expressions stay small enough
// to read. Deeper algebra is ir/kernel/simplify.ts's business. idiv/imod are for non-negative operands
// (they emit the truncating `div`/`mod`, cheaper on every target); ifloordiv is for signed coordinates.
import { binary, c, select } from '../../ir/kernel/build.ts';
import { exprsEqual } from '../../ir/kernel/equal.ts';
import { INDEX, type Expr, type Stmt } from '../../ir/kernel/ir.ts';
import { simplifyExpr, type Facts } from '../../ir/kernel/simplify.ts';
import { TesseraError } from '../../ir/errors.ts';

const I32_MAX = 2 ** 31 - 1;

/** An i32 constant; values outside i32 (shapes never are) are an error of the model. */
export function ci(n: number): Expr {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n > I32_MAX) throw new TesseraError(`index value ${n} does not fit in i32`);
  return c(INDEX, n);
}

/** The constant value of an index expression, or undefined when it depends on a symbol or variable. */
export function constOf(e: Expr): number | undefined {
  return e.kind === 'const' ? Number(e.value) : undefined;
}

export const isConst = (e: Expr, n: number): boolean => constOf(e) === n;

const fold = (a: Expr, b: Expr, f: (x: number, y: number) => number): Expr | undefined => {
  const x = constOf(a), y = constOf(b);
  if (x === undefined || y === undefined) return undefined;
  const r = f(x, y);
  return Number.isInteger(r) && r >= -(2 ** 31) && r <= I32_MAX ? ci(r) : undefined;
};

type I = Expr | number;
const ex = (x: I): Expr => (typeof x === 'number' ? ci(x) : x);

export function iadd(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (isConst(x, 0)) return y;
  if (isConst(y, 0)) return x;
  return fold(x, y, (p, q) => p + q) ?? binary('add', x, y);
}

export function isub(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (isConst(y, 0)) return x;
  if (exprsEqual(x, y)) return ci(0);
  return fold(x, y, (p, q) => p - q) ?? binary('sub', x, y);
}

export function imul(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (isConst(x, 0) || isConst(y, 0)) return ci(0);
  if (isConst(x, 1)) return y;
  if (isConst(y, 1)) return x;
  return fold(x, y, (p, q) => p * q) ?? binary('mul', x, y);
}

/** Floor division of non-negative indices (error-free folding only: never folds a division by zero). */
export function idiv(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (isConst(y, 1)) return x;
  if (isConst(x, 0) && constOf(y) !== undefined && constOf(y) !== 0) return ci(0);
  return fold(x, y, (p, q) => (q === 0 ? NaN : Math.trunc(p / q))) ?? binary('div', x, y);
}

/** Floor division of a possibly negative index by a positive divisor. */
export function ifloordiv(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (isConst(y, 1)) return x;
  return fold(x, y, (p, q) => (q === 0 ? NaN : Math.floor(p / q))) ?? binary('floordiv', x, y);
}

export function imod(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (isConst(y, 1)) return ci(0);
  return fold(x, y, (p, q) => (q === 0 ? NaN : p % q)) ?? binary('mod', x, y);
}

/** Ceiling division of a non-negative numerator by a positive divisor. */
export const iceildiv = (a: I, b: I): Expr => idiv(iadd(a, isub(b, 1)), b);

export function imin(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (exprsEqual(x, y)) return x;
  return fold(x, y, Math.min) ?? binary('min', x, y);
}

export function imax(a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (exprsEqual(x, y)) return x;
  return fold(x, y, Math.max) ?? binary('max', x, y);
}

export function iselect(cond: Expr, a: I, b: I): Expr {
  const x = ex(a), y = ex(b);
  if (cond.kind === 'const') return cond.value ? x : y;
  if (exprsEqual(x, y)) return x;
  return select(cond, x, y);
}

export const prod = (dims: readonly Expr[]): Expr => dims.reduce((p, d) => imul(p, d), ci(1));

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly Expr[]): Expr[] {
  const s: Expr[] = new Array<Expr>(shape.length);
  let acc = ci(1);
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc = imul(acc, shape[i]!); }
  return s;
}

/** Σ idx[d]·strides[d]. */
export function dot(idx: readonly Expr[], strides: readonly Expr[]): Expr {
  let e = ci(0);
  for (let d = 0; d < idx.length; d++) e = iadd(e, imul(idx[d]!, strides[d]!));
  return e;
}

/** The coordinates of flat index `i` in a row-major shape. */
export function unravel(i: Expr, shape: readonly Expr[]): Expr[] {
  const st = stridesOf(shape);
  return shape.map((d, k) => (k === 0 ? idiv(i, st[k]!) : imod(idiv(i, st[k]!), d)));
}

/** Facts for the simplifier: every size symbol is a non-negative i32. */
export function symbolFacts(names: Iterable<string>): Facts {
  const m = new Map<string, { lo: bigint; hi: bigint }>();
  for (const n of names) m.set(n, { lo: 0n, hi: BigInt(I32_MAX) });
  return m;
}

/** Simplifies a shape-level expression (over symbols only); keeps it as is if the simplifier fails. */
export function simplifyIndex(e: Expr, facts: Facts): Expr {
  if (e.kind === 'const') return e;
  try {
    return simplifyExpr(e, facts);
  } catch {
    return e;
  }
}

/** Names of the variables an expression mentions. */
export function exprVars(e: Expr, out: Set<string> = new Set()): Set<string> {
  switch (e.kind) {
    case 'const': break;
    case 'var': out.add(e.name); break;
    case 'binary': exprVars(e.a, out); exprVars(e.b, out); break;
    case 'select': exprVars(e.cond, out); exprVars(e.a, out); exprVars(e.b, out); break;
    case 'load': exprVars(e.index, out); break;
    default: exprVars(e.a, out);
  }
  return out;
}

export const sameIndex = (a: Expr, b: Expr): boolean => exprsEqual(a, b);

// ---------------------------------------------------------------- loop-invariant hoisting

/**
 * Hoists loop-invariant scalar subexpressions out of every loop as `let`s placed just before it: with
 * symbolic shapes the offsets and extents are trees over the size symbols (floordiv, max, select) that a
 * backend would otherwise recompute per element. Hoisted are pure trees with no load, no variable bound
 * inside the loop and no mutable local; a division or remainder only by a non-zero constant (a hoisted
 * expression runs even when the loop makes no trips, so it must not be able to fail). Identical trees
 * share one let. Keeps the semantics of the kernel IR exactly (the values are the same expressions).
 */
export function hoistInvariants(body: Stmt[], fresh: (hint: string) => string): Stmt[] {
  const mutable = new Set<string>();
  walkStmts(body, (s) => { if (s.kind === 'local') mutable.add(s.name); if (s.kind === 'atomic' && s.result) mutable.add(s.result); });
  const hoistIn = (stmts: Stmt[]): Stmt[] => stmts.flatMap((s): Stmt[] => {
    if (s.kind === 'if') return [{ ...s, then: hoistIn(s.then), else: hoistIn(s.else) }];
    if (s.kind !== 'loop') return [s];
    const inner = new Set<string>(mutable);
    walkStmts([s], (t) => {
      if (t.kind === 'loop') inner.add(t.var);
      else if (t.kind === 'let' || t.kind === 'local') inner.add(t.name);
      else if (t.kind === 'atomic' && t.result) inner.add(t.result);
    });
    const lets: Stmt[] = [];
    const byKey = new Map<string, Expr>();
    const rewrite = (e: Expr): Expr => {
      if (e.kind === 'const' || e.kind === 'var') return e;
      if (e.type.lanes === 1 && invariant(e, inner)) {
        const key = JSON.stringify(e, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
        let ref = byKey.get(key);
        if (!ref) {
          const name = fresh('h');
          lets.push({ kind: 'let', name, value: e });
          ref = { kind: 'var', type: e.type, name };
          byKey.set(key, ref);
        }
        return ref;
      }
      return mapChildren(e, rewrite);
    };
    // Only what runs per iteration moves: the loop's own start/end are evaluated once already.
    const loopBody = mapStmtExprs(s.body, rewrite);
    return [...lets, { ...s, body: hoistIn(loopBody) }];
  });
  return hoistIn(body);
}

function invariant(e: Expr, inner: Set<string>): boolean {
  switch (e.kind) {
    case 'const': return true;
    case 'var': return !inner.has(e.name);
    case 'load': return false;
    case 'binary': {
      if (['div', 'mod', 'floordiv', 'floormod'].includes(e.op) && (e.b.kind !== 'const' || Number(e.b.value) === 0)) return false;
      return invariant(e.a, inner) && invariant(e.b, inner);
    }
    case 'select': return invariant(e.cond, inner) && invariant(e.a, inner) && invariant(e.b, inner);
    default: return invariant(e.a, inner);
  }
}

function mapChildren(e: Expr, f: (x: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'const': case 'var': return e;
    case 'binary': return { ...e, a: f(e.a), b: f(e.b) };
    case 'select': return { ...e, cond: f(e.cond), a: f(e.a), b: f(e.b) };
    case 'load': return { ...e, index: f(e.index) };
    default: return { ...e, a: f(e.a) };
  }
}

function mapStmtExprs(stmts: Stmt[], f: (e: Expr) => Expr): Stmt[] {
  return stmts.map((s): Stmt => {
    switch (s.kind) {
      case 'let': return { ...s, value: f(s.value) };
      case 'local': return { ...s, init: f(s.init) };
      case 'assign': return { ...s, value: f(s.value) };
      case 'store': return { ...s, index: f(s.index), value: f(s.value) };
      case 'loop': return { ...s, start: f(s.start), end: f(s.end), body: mapStmtExprs(s.body, f) };
      case 'if': return { ...s, cond: f(s.cond), then: mapStmtExprs(s.then, f), else: mapStmtExprs(s.else, f) };
      case 'atomic': return { ...s, index: f(s.index), value: f(s.value) };
      default: return s;
    }
  });
}

function walkStmts(stmts: Stmt[], visit: (s: Stmt) => void): void {
  for (const s of stmts) {
    visit(s);
    if (s.kind === 'loop') walkStmts(s.body, visit);
    else if (s.kind === 'if') { walkStmts(s.then, visit); walkStmts(s.else, visit); }
  }
}

/** GPU targets run one thread per output point: they get no CPU-style hoisting, lanes or whole-row iterations. */
export const isGpuTarget = (target: string): boolean => target === 'cuda' || target === 'webgpu';

/**
 * The body a kernel of `target` finishes with: invariants hoisted on CPU targets. GPU targets keep their
 * perfect nests of parallel loops (one iteration space), which a let between the loops would break.
 */
export const hoistForTarget = (target: string, body: Stmt[], fresh: (hint: string) => string): Stmt[] =>
  isGpuTarget(target) ? body : hoistInvariants(body, fresh);
