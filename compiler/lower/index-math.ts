// i32 index arithmetic for the lowering: shapes, strides and element offsets as kernel-IR expressions.
//
// Shapes of a model with symbolic dimensions are expressions over size symbols, so every helper here
// folds constants and the trivial identities at construction time (x + 0, x · 1, x · 0, x / 1): with
// static shapes the kernels carry plain numbers, and with symbolic ones the expressions stay small enough
// to read. Deeper algebra is ir/kernel/simplify.ts's business. idiv/imod are for non-negative operands
// (they emit the truncating `div`/`mod`, cheaper on every target); ifloordiv is for signed coordinates.
import { binary, c, select } from '../../ir/kernel/build.ts';
import { exprsEqual } from '../../ir/kernel/equal.ts';
import { INDEX, type Expr } from '../../ir/kernel/ir.ts';
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
