// The index/arithmetic simplifier of the kernel IR, shared by every backend.
//
// What it may do (why each rule is sound):
// - Constant folding uses the interpreter's own op functions (ir/kernel/interpret.ts), so a folded
//   constant is exactly what execution would give: i32 wrap, truncating and floor division, u32, i64/u64
//   bigints, f16/bf16/f32 rounding. A fold that would fail (integer division by zero) is left alone.
// - Integer add/sub/neg/multiply-by-constant are rewritten through a linear form Σ cᵢ·tᵢ + c (mod 2^w):
//   integers with wrap-around form a ring, so reassociating, combining like terms (x − x → 0) and
//   distributing constants is valid for every value, overflow included.
// - Everything else that depends on values is guarded by *ranges*: every integer expression has a sound
//   interval of the values it can take (loop variables start ≤ v < end, lets their value's range, sizes
//   0 ≤ n and, because buffer sizes are exact i32 counts, n ≤ (2^31 − 1 − d)/c for a buffer of c·n + d
//   elements). A linear form whose exact (unwrapped) interval fits the type cannot have wrapped, so its
//   value is the exact integer sum; only then are division, modulo and comparison rules applied to it,
//   e.g. (4·i + j) floordiv 4 → i when 0 ≤ j < 4, or i + 1 < i + 2 → true. A loop variable also knows
//   v < end symbolically, so i %% n → i, i < n → true and n %% (2·n + 1) → n need no numbers. An
//   expression whose range is one value becomes that constant. Truncating div/mod are treated like floor
//   div/mod only when the dividend is provably non-negative.
// - Floats get only exact identities (x·1, x/1, x − 0, x + (−0), −(−x), min(x, x)); x + 0 is not one (−0).
// - A simplification may remove an integer division by zero (the kernel had no defined result), never add
//   one. Statements: if with a constant condition keeps one branch (renaming its definitions when they
//   would clash with later names), loops with no trips and empty loops/ifs are removed.
import { intRange, isFloatElem, isIntElem, elemBits, isSignedElem, typesEqual } from './build.ts';
import { exprsEqual } from './equal.ts';
import { binaryFn, bitcastValue, castScalar, evalBinary, evalUnary, type Scalar } from './interpret.ts';
import type { BinaryOp, Expr, Kernel, KType, Stmt, UnaryOp } from './ir.ts';

/** What is known about a variable: lo ≤ v ≤ hi, and v < below when `below` is given (a loop's end). */
export interface VarFacts { lo: bigint; hi: bigint; below?: Expr }
export type Facts = ReadonlyMap<string, VarFacts>;

interface Range { lo: bigint; hi: bigint }
interface Term { coef: bigint; atom: Expr }
/** Σ coef·atom + c. */
interface Lin { terms: Term[]; c: bigint }

const big = (x: Scalar): bigint => (typeof x === 'bigint' ? x : BigInt(x));
const bmin = (a: bigint, b: bigint) => (a < b ? a : b);
const bmax = (a: bigint, b: bigint) => (a > b ? a : b);

function floorDivB(a: bigint, b: bigint): bigint {
  let q = a / b;
  if (a % b !== 0n && (a < 0n) !== (b < 0n)) q -= 1n;
  return q;
}

const COMMUTATIVE = new Set<BinaryOp>(['add', 'mul', 'min', 'max', 'and', 'or', 'xor', 'eq', 'ne', 'dot4_u8', 'dot4_i8', 'mulhi']);
const FLIP: Partial<Record<BinaryOp, BinaryOp>> = { lt: 'gt', gt: 'lt', le: 'ge', ge: 'le' };
const NEGATE: Partial<Record<BinaryOp, BinaryOp>> = { lt: 'ge', ge: 'lt', gt: 'le', le: 'gt', eq: 'ne', ne: 'eq' };

const isInt = (t: KType) => isIntElem(t.elem);
const isConst = (e: Expr): e is Extract<Expr, { kind: 'const' }> => e.kind === 'const';
const constIs = (e: Expr, v: number | bigint) => e.kind === 'const' && Object.is(e.value, v);

/** A constant of type t holding v (wrapped to the type for integers). */
function constOf(t: KType, v: bigint | number): Expr {
  const e = t.elem;
  let value: number | bigint;
  if (e === 'i64' || e === 'u64') value = e === 'i64' ? BigInt.asIntN(64, big(v)) : BigInt.asUintN(64, big(v));
  else if (isIntElem(e)) {
    const w = elemBits(e);
    const b = isSignedElem(e) ? BigInt.asIntN(w, big(v)) : BigInt.asUintN(w, big(v));
    value = Number(b);
  } else if (e === 'bool') value = big(v) !== 0n ? 1 : 0;
  else value = Number(v);
  return { kind: 'const', type: t, value };
}

const mkBin = (op: BinaryOp, a: Expr, b: Expr, type: KType): Expr => ({ kind: 'binary', type, op, a, b });
const mkUn = (op: UnaryOp, a: Expr, type: KType): Expr => ({ kind: 'unary', type, op, a });

class Simplifier {
  private cache = new WeakMap<Expr, Range>();
  /** Names bound to mutable locals (their value can change, so no facts and no `below` through them). */
  readonly locals = new Set<string>();

  constructor(readonly facts: Map<string, VarFacts>) {}

  /** Facts changed in a way cached ranges may not reflect (a loop variable got new bounds). */
  resetRanges(): void { this.cache = new WeakMap(); }

  // ------------------------------------------------------------ ranges

  private full(t: KType): Range {
    if (t.elem === 'bool') return { lo: 0n, hi: 1n };
    const [lo, hi] = intRange(t.elem);
    return { lo, hi };
  }

  private fits(r: Range, t: KType): boolean {
    const f = this.full(t);
    return r.lo >= f.lo && r.hi <= f.hi;
  }

  private clampOrFull(r: Range, t: KType): Range { return this.fits(r, t) ? r : this.full(t); }

  /** A sound interval of the values of an integer or bool expression (union over lanes). */
  range(e: Expr): Range {
    let r = this.cache.get(e);
    if (!r) {
      r = this.computeRange(e);
      this.cache.set(e, r);
    }
    return r;
  }

  private computeRange(e: Expr): Range {
    const t = e.type;
    const full = this.full(t);
    if (!isInt(t) && t.elem !== 'bool') return full; // unused for floats
    switch (e.kind) {
      case 'const': { const v = big(e.value); return { lo: v, hi: v }; }
      case 'var': {
        const f = this.facts.get(e.name);
        if (!f || this.locals.has(e.name)) return full;
        const r = { lo: bmax(f.lo, full.lo), hi: bmin(f.hi, full.hi) };
        return r.lo <= r.hi ? r : full;
      }
      case 'binary': return this.binaryRange(e, full);
      case 'unary': {
        if (e.op === 'neg' && isInt(t)) {
          const l = this.exactLin(e);
          return l ? this.linRange(l) : full;
        }
        if (t.elem === 'bool') return full;
        const a = this.range(e.a);
        switch (e.op) {
          case 'abs':
            if (a.lo >= 0n) return a;
            if (a.hi <= 0n) return this.clampOrFull({ lo: -a.hi, hi: -a.lo }, t);
            return this.clampOrFull({ lo: 0n, hi: bmax(-a.lo, a.hi) }, t);
          case 'not': return isSignedElem(t.elem) ? { lo: -a.hi - 1n, hi: -a.lo - 1n } : { lo: full.hi - a.hi, hi: full.hi - a.lo };
          case 'sign': {
            const s = (x: bigint) => (x > 0n ? 1n : x < 0n ? -1n : 0n);
            return { lo: s(a.lo), hi: s(a.hi) };
          }
          default: return full;
        }
      }
      case 'cast': {
        const from = e.a.type.elem;
        if (from === 'bool') return { lo: 0n, hi: 1n };
        if (t.elem === 'bool' || !isIntElem(from)) return full;
        return this.clampOrFull(this.range(e.a), t);
      }
      case 'select': {
        const a = this.range(e.a), b = this.range(e.b);
        return { lo: bmin(a.lo, b.lo), hi: bmax(a.hi, b.hi) };
      }
      case 'broadcast': case 'extract': return e.a.kind === 'load' ? full : this.range(e.a);
      default: return full;
    }
  }

  private binaryRange(e: Extract<Expr, { kind: 'binary' }>, full: Range): Range {
    const t = e.type;
    if (t.elem === 'bool') return full;
    const op = e.op;
    if (op === 'add' || op === 'sub' || (op === 'mul' && (isConst(e.a) || isConst(e.b)))) {
      const l = this.exactLin(e);
      return l ? this.linRange(l) : full;
    }
    const a = this.range(e.a), b = this.range(e.b);
    switch (op) {
      case 'mul': {
        const ps = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
        return this.clampOrFull({ lo: ps.reduce(bmin), hi: ps.reduce(bmax) }, t);
      }
      case 'div': case 'floordiv': {
        const q = op === 'div' ? (x: bigint, y: bigint) => x / y : floorDivB;
        const out: bigint[] = [];
        // Quotients are monotone in each argument on each sign of the divisor: the corners bound them.
        for (const [dl, dh] of [[b.lo, bmin(b.hi, -1n)], [bmax(b.lo, 1n), b.hi]] as const) {
          if (dl > dh) continue;
          out.push(q(a.lo, dl), q(a.lo, dh), q(a.hi, dl), q(a.hi, dh));
        }
        if (out.length === 0) return full;
        return this.clampOrFull({ lo: out.reduce(bmin), hi: out.reduce(bmax) }, t);
      }
      case 'mod': {
        const m = bmax(b.lo < 0n ? -b.lo : b.lo, b.hi < 0n ? -b.hi : b.hi);
        if (m === 0n) return full;
        if (a.lo >= 0n) return { lo: 0n, hi: bmin(a.hi, m - 1n) };
        if (a.hi <= 0n) return { lo: bmax(a.lo, 1n - m), hi: 0n };
        return { lo: bmax(a.lo, 1n - m), hi: bmin(a.hi, m - 1n) };
      }
      case 'floormod': {
        if (b.lo > 0n) return { lo: 0n, hi: a.lo >= 0n ? bmin(a.hi, b.hi - 1n) : b.hi - 1n };
        if (b.hi < 0n) return { lo: a.hi <= 0n ? bmax(a.lo, b.lo + 1n) : b.lo + 1n, hi: 0n };
        const m = bmax(-b.lo, b.hi);
        if (m === 0n) return full;
        return { lo: 1n - m, hi: m - 1n };
      }
      case 'min': return { lo: bmin(a.lo, b.lo), hi: bmin(a.hi, b.hi) };
      case 'max': return { lo: bmax(a.lo, b.lo), hi: bmax(a.hi, b.hi) };
      case 'and':
        if (a.lo >= 0n && b.lo >= 0n) return { lo: 0n, hi: bmin(a.hi, b.hi) };
        if (a.lo >= 0n) return { lo: 0n, hi: a.hi };
        if (b.lo >= 0n) return { lo: 0n, hi: b.hi };
        return full;
      case 'or': case 'xor': {
        if (a.lo < 0n || b.lo < 0n) return full;
        const hi = (1n << BigInt(bmax(a.hi, b.hi).toString(2).length)) - 1n;
        return { lo: op === 'or' ? bmax(a.lo, b.lo) : 0n, hi };
      }
      case 'shl': {
        if (!isConst(e.b)) return full;
        const k = big(e.b.value) & BigInt(elemBits(t.elem) - 1);
        return this.clampOrFull({ lo: a.lo << k, hi: a.hi << k }, t);
      }
      case 'shr': {
        if (isConst(e.b)) {
          const k = big(e.b.value) & BigInt(elemBits(t.elem) - 1);
          return { lo: a.lo >> k, hi: a.hi >> k };
        }
        return a.lo >= 0n ? { lo: 0n, hi: a.hi } : { lo: a.lo, hi: bmax(a.hi, 0n) };
      }
      default: return full;
    }
  }

  // ------------------------------------------------------------ linear forms

  private norm(t: KType, c: bigint): bigint {
    const w = BigInt(elemBits(t.elem));
    const m = BigInt.asUintN(Number(w), c);
    return m > 1n << (w - 1n) ? m - (1n << w) : m;
  }

  /** The linear form of an integer expression, coefficients balanced mod 2^w (exact value ≡ it mod 2^w). */
  lin(e: Expr): Lin {
    const t = e.type;
    const atom = (): Lin => ({ terms: [{ coef: 1n, atom: e }], c: 0n });
    switch (e.kind) {
      case 'const': return { terms: [], c: this.norm(t, big(e.value)) };
      case 'binary':
        switch (e.op) {
          case 'add': return this.combine(this.lin(e.a), this.lin(e.b), 1n, t);
          case 'sub': return this.combine(this.lin(e.a), this.lin(e.b), -1n, t);
          case 'mul':
            if (isConst(e.b)) return this.scale(this.lin(e.a), big(e.b.value), t);
            if (isConst(e.a)) return this.scale(this.lin(e.b), big(e.a.value), t);
            return atom();
          default: return atom();
        }
      case 'unary': return e.op === 'neg' ? this.scale(this.lin(e.a), -1n, t) : atom();
      default: return atom();
    }
  }

  /** x + k·y, normalized mod 2^w when t is given, exact otherwise. */
  private combine(x: Lin, y: Lin, k: bigint, t: KType | undefined): Lin {
    const n = (c: bigint) => (t ? this.norm(t, c) : c);
    const terms = x.terms.map((s) => ({ ...s }));
    for (const s of y.terms) {
      const same = terms.find((u) => exprsEqual(u.atom, s.atom));
      if (same) same.coef = n(same.coef + k * s.coef);
      else terms.push({ coef: n(k * s.coef), atom: s.atom });
    }
    return { terms: terms.filter((s) => s.coef !== 0n), c: n(x.c + k * y.c) };
  }

  private scale(x: Lin, k: bigint, t: KType): Lin {
    return {
      terms: x.terms.map((s) => ({ coef: this.norm(t, s.coef * k), atom: s.atom })).filter((s) => s.coef !== 0n),
      c: this.norm(t, x.c * k),
    };
  }

  /** The exact interval of Σ coef·atom + c over the atoms' ranges (may exceed the type). */
  private linRange(l: Lin): Range {
    let lo = l.c, hi = l.c;
    for (const { coef, atom } of l.terms) {
      const r = this.range(atom);
      const p = coef * r.lo, q = coef * r.hi;
      lo += bmin(p, q);
      hi += bmax(p, q);
    }
    return { lo, hi };
  }

  /**
   * Bounds of an exact (unwrapped) linear form that also use the `v < E` facts: v ≤ E − 1, so putting
   * E − 1 in for v bounds c·v from above when c > 0 and from below when c < 0.
   */
  private relRange(l: Lin): Range {
    const r = this.linRange(l);
    const substituted = (positive: boolean): Range | undefined => {
      let out: Lin = { terms: [], c: l.c };
      let changed = false;
      for (const t of l.terms) {
        const f = t.atom.kind === 'var' && !this.locals.has(t.atom.name) ? this.facts.get(t.atom.name) : undefined;
        const end = f?.below ? this.exactLin(f.below) : undefined;
        if (end && t.coef > 0n === positive) {
          out = this.combine(out, { terms: end.terms, c: end.c - 1n }, t.coef, undefined);
          changed = true;
        } else {
          out = this.combine(out, { terms: [t], c: 0n }, 1n, undefined);
        }
      }
      return changed ? this.linRange(out) : undefined;
    };
    const up = substituted(true), down = substituted(false);
    return { lo: down ? bmax(r.lo, down.lo) : r.lo, hi: up ? bmin(r.hi, up.hi) : r.hi };
  }

  /**
   * A linear form whose exact value *is* the expression's value, or undefined when wrap-around may have
   * happened. The value is ≡ Σ (mod 2^w); when Σ's exact interval, shifted by a multiple of 2^w, lies in
   * the type's range, the value is Σ plus that multiple (folded into the constant).
   */
  private exactLin(e: Expr): Lin | undefined {
    const l = this.lin(e);
    const r = this.linRange(l);
    if (this.fits(r, e.type)) return l;
    const mod = 1n << BigInt(elemBits(e.type.elem));
    const f = this.full(e.type);
    const k = -floorDivB(r.lo - f.lo, mod); // the shift that brings lo into [f.lo, f.lo + 2^w)
    if (!this.fits({ lo: r.lo + k * mod, hi: r.hi + k * mod }, e.type)) return undefined;
    return { terms: l.terms, c: l.c + k * mod };
  }

  /** Builds `p₁ + p₂ + … − n₁ − … ± c` from a linear form (positive terms first, in order). */
  rebuild(l: Lin, t: KType): Expr {
    const term = (coef: bigint, atom: Expr): Expr => (coef === 1n ? atom : mkBin('mul', atom, constOf(t, coef), t));
    const pos = l.terms.filter((s) => s.coef > 0n), negs = l.terms.filter((s) => s.coef < 0n);
    let acc: Expr | undefined;
    for (const s of pos) acc = acc ? mkBin('add', acc, term(s.coef, s.atom), t) : term(s.coef, s.atom);
    let c = l.c;
    if (!acc && c > 0n && negs.length > 0) {
      acc = constOf(t, c);
      c = 0n;
    }
    for (const s of negs) acc = acc ? mkBin('sub', acc, term(-s.coef, s.atom), t) : mkUn('neg', term(-s.coef, s.atom), t);
    if (!acc) return constOf(t, c);
    if (c > 0n) return mkBin('add', acc, constOf(t, c), t);
    if (c < 0n) return mkBin('sub', acc, constOf(t, -c), t);
    return acc;
  }

  private linear(e: Expr): Expr { return this.rebuild(this.lin(e), e.type); }

  // ------------------------------------------------------------ expressions

  /** An integer/bool expression whose range is one value is that constant. */
  private collapse(e: Expr): Expr {
    if (e.kind === 'const' || (!isInt(e.type) && e.type.elem !== 'bool')) return e;
    const r = this.range(e);
    return r.lo === r.hi ? constOf(e.type, r.lo) : e;
  }

  expr(e: Expr): Expr {
    switch (e.kind) {
      case 'const': return e;
      case 'var': return this.collapse(e);
      case 'binary': return this.binary(e.op, this.expr(e.a), this.expr(e.b), e.type);
      case 'unary': return this.unary(e.op, this.expr(e.a), e.type);
      case 'cast': return this.cast(this.expr(e.a), e.type);
      case 'bitcast': {
        const a = this.expr(e.a);
        if (typesEqual(a.type, e.type)) return a;
        if (a.kind === 'const' && a.type.lanes === 1 && e.type.lanes === 1) {
          const v = bitcastValue(a.type, e.type, a.value) as Scalar;
          if (!isFloatElem(e.type.elem) || !Number.isNaN(v)) return { kind: 'const', type: e.type, value: v };
        }
        if (a.kind === 'bitcast' && typesEqual(a.a.type, e.type) && !isFloatElem(a.type.elem) && !isFloatElem(e.type.elem)) return a.a;
        return this.collapse({ kind: 'bitcast', type: e.type, a });
      }
      case 'select': return this.select(this.expr(e.cond), this.expr(e.a), this.expr(e.b), e.type);
      case 'load': return { kind: 'load', type: e.type, buffer: e.buffer, index: this.expr(e.index) };
      case 'broadcast': {
        const a = this.expr(e.a);
        if (a.kind === 'const') return { kind: 'const', type: e.type, value: a.value };
        return { kind: 'broadcast', type: e.type, a };
      }
      case 'extract': {
        const a = this.expr(e.a);
        if (a.kind === 'const') return { kind: 'const', type: e.type, value: a.value };
        if (a.kind === 'broadcast') return a.a;
        return this.collapse({ kind: 'extract', type: e.type, a, lane: e.lane });
      }
      case 'reduce_lanes': {
        const a = this.expr(e.a);
        if (a.kind === 'const') {
          const fn = binaryFn(e.op, a.type.elem);
          let v = a.value;
          for (let i = 1; i < a.type.lanes; i++) v = fn(v, a.value);
          return { kind: 'const', type: e.type, value: v };
        }
        if (a.kind === 'broadcast' && e.op !== 'add') return a.a;
        return this.collapse({ kind: 'reduce_lanes', type: e.type, op: e.op, a });
      }
    }
  }

  binary(op: BinaryOp, a: Expr, b: Expr, t: KType): Expr {
    const elem = a.type.elem;
    if (isConst(a) && isConst(b)) {
      try {
        return { kind: 'const', type: t, value: evalBinary(op, elem, a.value, b.value) };
      } catch { /* an integer division by zero stays in the program */ }
    }
    if (isConst(a) && !isConst(b)) {
      if (COMMUTATIVE.has(op)) [a, b] = [b, a];
      else if (FLIP[op]) return this.binary(FLIP[op]!, b, a, t);
    }
    let r: Expr | undefined;
    if (isIntElem(elem)) r = this.intBinary(op, a, b, t);
    else if (isFloatElem(elem)) r = this.floatBinary(op, a, b);
    else r = this.boolBinary(op, a, b, t);
    return this.collapse(r ?? mkBin(op, a, b, t));
  }

  private intBinary(op: BinaryOp, a: Expr, b: Expr, t: KType): Expr | undefined {
    switch (op) {
      case 'add': case 'sub': return this.linear(mkBin(op, a, b, t));
      case 'mul': return isConst(b) ? this.linear(mkBin(op, a, b, t)) : undefined;
      case 'div': case 'mod': case 'floordiv': case 'floormod': return this.division(op, a, b, t);
      case 'min': case 'max': {
        if (exprsEqual(a, b)) return a;
        const ra = this.range(a), rb = this.range(b);
        if (op === 'min') {
          if (ra.hi <= rb.lo) return a;
          if (rb.hi <= ra.lo) return b;
        } else {
          if (ra.lo >= rb.hi) return a;
          if (rb.lo >= ra.hi) return b;
        }
        // min(min(x, c1), c2) → min(x, min(c1, c2))
        if (isConst(b) && a.kind === 'binary' && a.op === op && isConst(a.b)) {
          return this.binary(op, a.a, this.binary(op, a.b, b, t), t);
        }
        return undefined;
      }
      case 'and': case 'or': case 'xor': {
        const ones = isSignedElem(t.elem) ? -1n : intRange(t.elem)[1];
        if (exprsEqual(a, b)) return op === 'xor' ? constOf(t, 0n) : a;
        if (!isConst(b)) return undefined;
        const v = big(b.value);
        if (op === 'and') {
          if (v === 0n) return b;
          if (v === ones) return a;
          const ra = this.range(a);
          if (v > 0n && (v & (v + 1n)) === 0n && ra.lo >= 0n && ra.hi <= v) return a; // x & (2^k − 1), x < 2^k
          return undefined;
        }
        if (v === 0n) return a;
        if (op === 'or' && v === ones) return b;
        return undefined;
      }
      case 'shl': case 'shr':
        if (isConst(b) && (big(b.value) & BigInt(elemBits(t.elem) - 1)) === 0n) return a;
        return undefined;
      case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge': return this.compare(op, a, b, t);
      default: return undefined;
    }
  }

  private division(op: BinaryOp, a: Expr, b: Expr, t: KType): Expr | undefined {
    const divLike = op === 'div' || op === 'floordiv';
    const trunc = op === 'div' || op === 'mod';
    const zero = constOf(t, 0n);
    const ra = this.range(a), rb = this.range(b);
    // v div/mod E inside `for v in s..E` with s ≥ 0.
    if (ra.lo >= 0n && this.below(a, b)) return divLike ? zero : a;
    // 0 ≤ x < d through their linear forms: e.g. n %% (2·n + 1) → n for n ≥ 0.
    if (ra.lo >= 0n && !isConst(b)) {
      const la = this.exactLin(a), lb = this.exactLin(b);
      if (la && lb && this.relRange(this.combine(lb, la, -1n, undefined)).lo >= 1n) return divLike ? zero : a;
    }
    if (!divLike) {
      if (rb.lo > 0n && ra.lo >= 0n && ra.hi < rb.lo) return a;
      if (!trunc && rb.hi < 0n && ra.hi <= 0n && ra.lo > rb.hi) return a;
      if (trunc && rb.lo > 0n && ra.hi <= 0n && -ra.lo < rb.lo) return a;
    }
    if (!isConst(b)) return undefined;
    const d = big(b.value);
    if (d === 0n) return undefined;
    if (d === 1n) return divLike ? a : zero;
    if (d === -1n) return divLike ? this.linear(mkUn('neg', a, t)) : zero;
    if (d < 0n) return undefined;
    const x = this.exactLin(a);
    if (!x) return undefined;
    const rx = this.linRange(x);
    if (trunc && rx.lo < 0n) return undefined;
    const [, tmax] = intRange(t.elem);
    // (y div c1) div c2 → y div (c1·c2) for positive divisors.
    if (divLike && a.kind === 'binary' && a.op === op && isConst(a.b) && big(a.b.value) > 0n && big(a.b.value) * d <= tmax) {
      return this.binary(op, a.a, constOf(t, big(a.b.value) * d), t);
    }
    // (y mod c2) mod c1 → y mod c1 when c1 divides c2.
    if (!divLike && a.kind === 'binary' && a.op === op && isConst(a.b) && big(a.b.value) > 0n && big(a.b.value) % d === 0n) {
      return this.binary(op, a.a, b, t);
    }
    // (k·y) div (k·m) → y div m; (k·y) mod (k·m) → k·(y mod m).
    if (x.terms.length === 1 && x.c === 0n) {
      const { coef: k, atom } = x.terms[0]!;
      if (k > 1n && d % k === 0n) {
        const inner = this.binary(op, atom, constOf(t, d / k), t);
        return divLike ? inner : this.binary('mul', inner, constOf(t, k), t);
      }
    }
    // Split Σ into the multiples of d (Q) and the rest (R): x div d = Q/d + R div d, x mod d = R mod d,
    // valid when R, evaluated on its own, cannot wrap (and is ≥ 0 for the truncating ops).
    const q: Term[] = [], rest: Term[] = [];
    for (const s of x.terms) (s.coef % d === 0n ? q : rest).push(s.coef % d === 0n ? { coef: s.coef / d, atom: s.atom } : s);
    const qc = floorDivB(x.c, d);
    const r: Lin = { terms: rest, c: x.c - qc * d };
    const rr = this.linRange(r);
    if (!this.fits(rr, t) || (trunc && rr.lo < 0n)) return undefined;
    const k = floorDivB(rr.lo, d);
    if (floorDivB(rr.hi, d) === k) {
      // R div d is the constant k.
      if (divLike) return this.rebuild({ terms: q, c: qc + k }, t);
      return this.rebuild({ terms: rest, c: r.c - k * d }, t);
    }
    if (q.length === 0 && qc === 0n) return undefined;
    const rExpr = this.rebuild(r, t);
    if (!divLike) return this.binary(op, rExpr, b, t);
    return this.binary('add', this.rebuild({ terms: q, c: qc }, t), this.binary(op, rExpr, b, t), t);
  }

  private compare(op: BinaryOp, a: Expr, b: Expr, t: KType): Expr | undefined {
    const yes = constOf(t, 1n), no = constOf(t, 0n);
    const decide = (lo: bigint, hi: bigint): Expr | undefined => {
      // lo ≤ a − b ≤ hi
      switch (op) {
        case 'lt': return hi < 0n ? yes : lo >= 0n ? no : undefined;
        case 'le': return hi <= 0n ? yes : lo > 0n ? no : undefined;
        case 'gt': return lo > 0n ? yes : hi <= 0n ? no : undefined;
        case 'ge': return lo >= 0n ? yes : hi < 0n ? no : undefined;
        case 'eq': return lo === 0n && hi === 0n ? yes : lo > 0n || hi < 0n ? no : undefined;
        case 'ne': return lo === 0n && hi === 0n ? no : lo > 0n || hi < 0n ? yes : undefined;
        default: return undefined;
      }
    };
    if (exprsEqual(a, b)) return decide(0n, 0n);
    // v vs E inside `for v in s..E`: v − E ≤ −1.
    const huge = 1n << 65n;
    if (this.below(a, b)) return decide(-huge, -1n);
    if (this.below(b, a)) return decide(1n, huge);
    const ra = this.range(a), rb = this.range(b);
    const byRange = decide(ra.lo - rb.hi, ra.hi - rb.lo);
    if (byRange) return byRange;
    const la = this.exactLin(a), lb = this.exactLin(b);
    if (la && lb) {
      const diff = this.relRange(this.combine(la, lb, -1n, undefined));
      return decide(diff.lo, diff.hi);
    }
    return undefined;
  }

  /** Whether v < e is known because v is the variable of a loop whose end is e. */
  private below(v: Expr, e: Expr): boolean {
    if (v.kind !== 'var' || this.locals.has(v.name)) return false;
    const f = this.facts.get(v.name);
    return f?.below !== undefined && exprsEqual(f.below, e);
  }

  private floatBinary(op: BinaryOp, a: Expr, b: Expr): Expr | undefined {
    switch (op) {
      case 'add': return constIs(b, -0) ? a : undefined;
      case 'sub': return constIs(b, 0) ? a : undefined;
      case 'mul': case 'div': return constIs(b, 1) ? a : undefined;
      case 'min': case 'max': return exprsEqual(a, b) ? a : undefined;
      default: return undefined;
    }
  }

  private boolBinary(op: BinaryOp, a: Expr, b: Expr, t: KType): Expr | undefined {
    const same = exprsEqual(a, b);
    switch (op) {
      case 'and': return same ? a : constIs(b, 1) ? a : constIs(b, 0) ? b : undefined;
      case 'or': return same ? a : constIs(b, 0) ? a : constIs(b, 1) ? b : undefined;
      case 'xor': return same ? constOf(t, 0n) : constIs(b, 0) ? a : constIs(b, 1) ? this.unary('not', a, t) : undefined;
      case 'eq': return same ? constOf(t, 1n) : constIs(b, 1) ? a : constIs(b, 0) ? this.unary('not', a, t) : undefined;
      case 'ne': return same ? constOf(t, 0n) : constIs(b, 0) ? a : constIs(b, 1) ? this.unary('not', a, t) : undefined;
      default: return undefined;
    }
  }

  unary(op: UnaryOp, a: Expr, t: KType): Expr {
    if (a.kind === 'const') {
      try {
        return { kind: 'const', type: t, value: evalUnary(op, a.type.elem, a.value) };
      } catch { /* not foldable */ }
    }
    if ((op === 'neg' || op === 'not') && a.kind === 'unary' && a.op === op) return a.a;
    if (op === 'not' && a.kind === 'binary' && NEGATE[a.op] && !isFloatElem(a.a.type.elem)) {
      return this.binary(NEGATE[a.op]!, a.a, a.b, t);
    }
    if (isInt(t)) {
      if (op === 'neg') return this.collapse(this.linear(mkUn('neg', a, t)));
      if (op === 'abs' && this.range(a).lo >= 0n) return a;
    }
    return this.collapse(mkUn(op, a, t));
  }

  private cast(a: Expr, t: KType): Expr {
    if (typesEqual(a.type, t)) return a;
    if (a.kind === 'const') return { kind: 'const', type: t, value: castScalar(a.type.elem, t.elem, a.value) };
    // cast<T>(cast<U>(x: T)) → x when the first cast loses nothing for x's values.
    if (a.kind === 'cast' && typesEqual(a.a.type, t)) {
      const inner = a.a, mid = a.type.elem;
      if (inner.type.elem === 'bool' && isIntElem(mid)) return inner;
      if (isIntElem(inner.type.elem) && isIntElem(mid)) {
        const r = this.range(inner);
        const [lo, hi] = intRange(mid);
        if (r.lo >= lo && r.hi <= hi) return inner;
      }
    }
    return this.collapse({ kind: 'cast', type: t, a });
  }

  private select(cond: Expr, a: Expr, b: Expr, t: KType): Expr {
    if (cond.kind === 'const') return cond.value ? a : b;
    if (exprsEqual(a, b)) return a;
    if (t.elem === 'bool' && cond.type.lanes === t.lanes) {
      if (constIs(a, 1) && constIs(b, 0)) return cond;
      if (constIs(a, 0) && constIs(b, 1)) return this.unary('not', cond, t);
    }
    return this.collapse({ kind: 'select', type: t, cond, a, b });
  }
}

/** Simplifies one expression; `facts` bound the variables (unknown ones range over their whole type). */
export function simplifyExpr(e: Expr, facts: Facts = new Map()): Expr {
  const s = new Simplifier(new Map(facts));
  let cur = s.expr(e);
  // A rewrite can expose another one above it; a few passes reach the fixed point in practice.
  for (let i = 0; i < 3; i++) {
    const next = s.expr(cur);
    if (exprsEqual(next, cur)) break;
    cur = next;
  }
  return cur;
}

// ---------------------------------------------------------------- statements

function exprVarsInvariant(e: Expr, locals: ReadonlySet<string>): boolean {
  switch (e.kind) {
    case 'const': return true;
    case 'var': return !locals.has(e.name);
    case 'load': return false;
    case 'binary': return exprVarsInvariant(e.a, locals) && exprVarsInvariant(e.b, locals);
    case 'select': return exprVarsInvariant(e.cond, locals) && exprVarsInvariant(e.a, locals) && exprVarsInvariant(e.b, locals);
    default: return exprVarsInvariant(e.a, locals);
  }
}

function renameExpr(e: Expr, from: string, to: string): Expr {
  switch (e.kind) {
    case 'const': return e;
    case 'var': return e.name === from ? { ...e, name: to } : e;
    case 'binary': return { ...e, a: renameExpr(e.a, from, to), b: renameExpr(e.b, from, to) };
    case 'select': return { ...e, cond: renameExpr(e.cond, from, to), a: renameExpr(e.a, from, to), b: renameExpr(e.b, from, to) };
    case 'load': return { ...e, index: renameExpr(e.index, from, to) };
    default: return { ...e, a: renameExpr(e.a, from, to) } as Expr;
  }
}

function renameStmts(stmts: Stmt[], from: string, to: string): Stmt[] {
  const r = (e: Expr) => renameExpr(e, from, to);
  const n = (x: string) => (x === from ? to : x);
  return stmts.map((s): Stmt => {
    switch (s.kind) {
      case 'let': return { ...s, name: n(s.name), value: r(s.value) };
      case 'local': return { ...s, name: n(s.name), init: r(s.init) };
      case 'assign': return { ...s, name: n(s.name), value: r(s.value) };
      case 'store': return { ...s, index: r(s.index), value: r(s.value) };
      case 'loop': return { ...s, var: n(s.var), start: r(s.start), end: r(s.end), body: renameStmts(s.body, from, to) };
      case 'if': return { ...s, cond: r(s.cond), then: renameStmts(s.then, from, to), else: renameStmts(s.else, from, to) };
      case 'atomic': {
        const out: Stmt = { ...s, index: r(s.index), value: r(s.value) };
        if (s.result !== undefined) out.result = n(s.result);
        return out;
      }
      default: return s;
    }
  });
}

function countDefinitions(stmts: Stmt[], counts: Map<string, number>): void {
  const add = (name: string) => counts.set(name, (counts.get(name) ?? 0) + 1);
  for (const s of stmts) {
    if (s.kind === 'let' || s.kind === 'local') add(s.name);
    else if (s.kind === 'atomic' && s.result !== undefined) add(s.result);
    else if (s.kind === 'loop') { add(s.var); countDefinitions(s.body, counts); }
    else if (s.kind === 'if') { countDefinitions(s.then, counts); countDefinitions(s.else, counts); }
  }
}

class KernelSimplifier {
  private readonly counts = new Map<string, number>();
  constructor(private readonly k: Kernel) {
    for (const sz of k.sizes) this.counts.set(sz.name, 1);
    countDefinitions(k.body, this.counts);
  }

  private fresh(base: string): string {
    for (let i = 1; ; i++) {
      const name = `${base}_${i}`;
      if (!this.counts.has(name)) {
        this.counts.set(name, 1);
        return name;
      }
    }
  }

  run(): Kernel {
    const facts = new Map<string, VarFacts>();
    for (const sz of this.k.sizes) facts.set(sz.name, { lo: 0n, hi: 2n ** 31n - 1n });
    const s = new Simplifier(facts);
    // A buffer's size is exact and at most 2^31 − 1 (the interpreter and runtime check it), so a size
    // of the form Σ cₖ·sizeₖ + d with cₖ > 0 bounds each sizeₖ ≤ (2^31 − 1 − d) / cₖ (the others are ≥ 0).
    for (const b of this.k.buffers) {
      const l = s.lin(b.size);
      if (!l.terms.every((t) => t.coef > 0n && t.atom.kind === 'var' && facts.has(t.atom.name))) continue;
      for (const t of l.terms) {
        const f = facts.get((t.atom as Extract<Expr, { kind: 'var' }>).name)!;
        const bound = floorDivB(2n ** 31n - 1n - l.c, t.coef);
        if (bound < f.hi) f.hi = bound < f.lo ? f.lo : bound;
      }
    }
    s.resetRanges();
    const buffers = this.k.buffers.map((b) => ({ ...b, size: s.expr(b.size) }));
    const out: Kernel = { name: this.k.name, buffers, sizes: this.k.sizes.map((z) => ({ ...z })), body: this.block(this.k.body, s) };
    // The pattern names buffers and sizes, which simplification keeps: it stays true of the simplified body.
    if (this.k.pattern) out.pattern = this.k.pattern;
    return out;
  }

  private block(stmts: Stmt[], s: Simplifier): Stmt[] {
    const defined: string[] = [];
    const out: Stmt[] = [];
    for (const st of stmts) this.stmt(st, s, out, defined);
    // Leaving the block: its names go out of scope.
    for (const name of defined) { s.facts.delete(name); s.locals.delete(name); }
    s.resetRanges();
    return out;
  }

  private stmt(st: Stmt, s: Simplifier, out: Stmt[], defined: string[]): void {
    switch (st.kind) {
      case 'let': {
        const value = s.expr(st.value);
        if (isInt(value.type) || value.type.elem === 'bool') {
          const r = s.range(value);
          s.facts.set(st.name, { lo: r.lo, hi: r.hi });
          s.resetRanges();
        }
        defined.push(st.name);
        out.push({ kind: 'let', name: st.name, value });
        return;
      }
      case 'local':
        s.locals.add(st.name);
        defined.push(st.name);
        out.push({ kind: 'local', name: st.name, type: st.type, init: s.expr(st.init) });
        return;
      case 'assign': out.push({ kind: 'assign', name: st.name, value: s.expr(st.value) }); return;
      case 'store': out.push({ kind: 'store', buffer: st.buffer, index: s.expr(st.index), value: s.expr(st.value) }); return;
      case 'atomic': {
        const a: Stmt = { ...st, index: s.expr(st.index), value: s.expr(st.value) };
        if (st.result !== undefined) defined.push(st.result);
        out.push(a);
        return;
      }
      case 'barrier': case 'comment': out.push({ ...st }); return;
      case 'if': {
        const cond = s.expr(st.cond);
        if (cond.kind === 'const') {
          let branch = cond.value ? st.then : st.else;
          // Its definitions join this block: rename those whose names occur elsewhere in the kernel.
          for (const d of branch) {
            const name = d.kind === 'let' || d.kind === 'local' ? d.name : d.kind === 'atomic' ? d.result : undefined;
            if (name === undefined || (this.counts.get(name) ?? 0) <= 1) continue;
            const to = this.fresh(name);
            branch = renameStmts(branch, name, to);
            // Renaming reaches nested definitions of the name too (e.g. in an inner if that is spliced
            // later, into the same block): count them, so a later splice renames again.
            const c = new Map<string, number>();
            countDefinitions(branch, c);
            this.counts.set(to, c.get(to) ?? 1);
          }
          for (const b of branch) this.stmt(b, s, out, defined);
          return;
        }
        const then = this.block(st.then, s), else_ = this.block(st.else, s);
        if (then.length === 0 && else_.length === 0) return;
        out.push({ kind: 'if', cond, then, else: else_ });
        return;
      }
      case 'loop': {
        const start = s.expr(st.start), end = s.expr(st.end);
        const rs = s.range(start), re = s.range(end);
        if (re.hi <= rs.lo) return; // no trips
        const fact: VarFacts = { lo: rs.lo, hi: re.hi - 1n };
        if (exprVarsInvariant(end, s.locals)) fact.below = end;
        s.facts.set(st.var, fact);
        s.resetRanges();
        const body = this.block(st.body, s);
        s.facts.delete(st.var);
        s.resetRanges();
        if (body.length === 0) return;
        out.push({ kind: 'loop', var: st.var, start, end, step: st.step, loopKind: st.loopKind, body });
        return;
      }
    }
  }
}

/** Simplifies every expression of a kernel and removes dead branches and loops; returns a new kernel. */
export function simplifyKernel(k: Kernel): Kernel {
  return new KernelSimplifier(k).run();
}
