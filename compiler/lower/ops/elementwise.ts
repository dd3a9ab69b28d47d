// Elementwise ops: unary math and activations, binary arithmetic / comparison / logic under numpy
// broadcasting, the variadic Sum/Mean/Max/Min, Where, Cast/CastLike, Clip, PRelu.
//
// Each op is a lane-wise function of its loaded operands (see emitMap), written to agree with the op's
// reference semantics in ir/ops/elementwise.ts: integer wrap-around, truncating integer division (an
// error on zero), floor vs truncated Mod, NaN passing through Relu/Clip/Max, C's pow(1, y) = 1.
// Where the obvious formula loses accuracy in f32 (expm1, log1p for small arguments), the classic
// exact-rounding tricks are used instead of a wider type.
import { isBigInt, isFloat, type DType } from '../../../ir/dtype.ts';
import { TesseraError } from '../../../ir/errors.ts';
import {
  abs, add, and, assign, binary, div, eq, ge, gt, if_, isFloatElem, le, local, loop, lt, max, min, mod, mul, ne, neg, not, or,
  select, shl, shr, sub, unary, v, xor,
} from '../../../ir/kernel/build.ts';
import type { Expr, KScalar, Stmt, UnaryOp } from '../../../ir/kernel/ir.ts';
import { viewAs, type TensorRef } from '../context.ts';
import { ci } from '../index-math.ts';
import { computeElem, emitMap, k, to } from '../loops.ts';
import type { NodeLowering, OpLowering } from '../node.ts';

// ---------------------------------------------------------------- shared formulas (lane-wise)

/** exp(x) − 1 without cancellation near 0 (Kahan: (u − 1)·x / log u). */
export function expm1(x: Expr): Expr {
  const u = unary('exp', x);
  const um1 = sub(u, k(x, 1));
  const kahan = div(mul(um1, x), unary('log', u));
  return select(eq(u, k(x, 1)), x, select(eq(um1, k(x, -1)), k(x, -1), select(unary('isinf', u), u, kahan)));
}

/** log(1 + y) without cancellation near 0 (Goldberg: log(u)·y / (u − 1)). */
export function log1p(y: Expr): Expr {
  const u = add(k(y, 1), y);
  const good = div(mul(unary('log', u), y), sub(u, k(y, 1)));
  return select(eq(u, k(y, 1)), y, select(unary('isinf', u), u, good));
}

export function sigmoid(x: Expr): Expr {
  const e = unary('exp', x);
  const pos = div(k(x, 1), add(k(x, 1), unary('exp', neg(x))));
  return select(ge(x, k(x, 0)), pos, div(e, add(k(x, 1), e)));
}

const clamp01 = (x: Expr): Expr => max(k(x, 0), min(k(x, 1), x));

// ---------------------------------------------------------------- unary ops

type Unary = (x: Expr, n: NodeLowering) => Expr;

const math = (op: UnaryOp): Unary => (x) => unary(op, x);

const UNARY: Record<string, Unary> = {
  Abs: (x) => abs(x),
  Neg: (x) => neg(x),
  Sign: (x) => unary('sign', x),
  // `x < 0 ? 0 : x` lets NaN through, as numpy.maximum(x, 0) does.
  Relu: (x) => select(lt(x, k(x, 0)), k(x, 0), x),
  Ceil: math('ceil'), Floor: math('floor'), Round: math('round_even'),
  Exp: math('exp'), Log: math('log'), Sqrt: math('sqrt'), Reciprocal: math('recip'), Tanh: math('tanh'),
  Acos: math('acos'), Asin: math('asin'), Atan: math('atan'), Cos: math('cos'), Sin: math('sin'), Tan: math('tan'),
  Acosh: math('acosh'), Asinh: math('asinh'), Atanh: math('atanh'), Cosh: math('cosh'), Sinh: math('sinh'),
  Erf: (x) => (isFloatElem(x.type.elem) ? unary('erf', x) : unary('sign', x)),
  Sigmoid: (x) => sigmoid(x),
  Softplus: (x) => select(gt(x, k(x, 0)), add(x, log1p(unary('exp', neg(x)))), log1p(unary('exp', x))),
  Softsign: (x) => div(x, add(k(x, 1), abs(x))),
  IsNaN: (x) => unary('isnan', x),
  IsInf: (x, n) => {
    const negs = n.attrs.int('detect_negative') !== 0, poss = n.attrs.int('detect_positive') !== 0;
    const p = eq(x, k(x, Infinity)), m = eq(x, k(x, -Infinity));
    if (negs && poss) return or(p, m);
    if (poss) return p;
    if (negs) return m;
    return and(p, m); // neither sign detected: never true
  },
  Not: (x) => not(x),
  Elu: (x, n) => select(ge(x, k(x, 0)), x, mul(k(x, n.attrs.float('alpha')), expm1(x))),
  Selu: (x, n) => {
    const a = n.attrs.float('alpha'), g = n.attrs.float('gamma');
    return select(gt(x, k(x, 0)), mul(k(x, g), x), mul(k(x, g), sub(mul(k(x, a), unary('exp', x)), k(x, a))));
  },
  Celu: (x, n) => {
    const a = n.attrs.float('alpha');
    if (a === 0) throw new TesseraError('alpha must not be 0');
    return add(max(k(x, 0), x), min(k(x, 0), mul(k(x, a), expm1(div(x, k(x, a))))));
  },
  LeakyRelu: (x, n) => select(lt(x, k(x, 0)), mul(k(x, n.attrs.float('alpha')), x), x),
  ThresholdedRelu: (x, n) => select(gt(x, k(x, n.attrs.float('alpha'))), x, k(x, 0)),
  HardSigmoid: (x, n) => clamp01(add(mul(k(x, n.attrs.float('alpha')), x), k(x, n.attrs.float('beta')))),
  // alpha = 1/6 as ONNX's float32 attribute (0.16666667163372…), not a division by 6 (see ir/ops/elementwise.ts).
  HardSwish: (x) => mul(x, clamp01(add(mul(x, k(x, Math.fround(1 / 6))), k(x, 0.5)))),
  Shrink: (x, n) => {
    const bias = n.attrs.float('bias'), lambd = n.attrs.float('lambd');
    return select(lt(x, k(x, -lambd)), add(x, k(x, bias)), select(gt(x, k(x, lambd)), sub(x, k(x, bias)), k(x, 0)));
  },
};

/** Ops computed in f64 for integer inputs (their formulas are float formulas truncated back). */
const FLOAT_FORMULA_ON_INTS = new Set(['Shrink']);

function lowerUnary(f: Unary): OpLowering {
  return (n) => {
    const x = n.input(0);
    const outElem: KScalar = n.op === 'IsNaN' || n.op === 'IsInf' ? 'bool' : x.dtype;
    const viaF64 = FLOAT_FORMULA_ON_INTS.has(n.op) && !isFloat(x.dtype);
    n.output(0, emitMap(n.L, [x], outElem, ([a]) => (viaF64 ? to(x.dtype, f(to('f64', a!), n)) : f(a!, n))));
  };
}

// ---------------------------------------------------------------- binary ops

/**
 * Opsets 1–6 broadcast B into A at `axis` (or as a suffix) when broadcast=1: B is viewed with 1s around it.
 */
function legacyRhs(n: NodeLowering, a: TensorRef, b: TensorRef): TensorRef {
  if (n.since >= 7 || n.op === 'PRelu') return b;
  if (n.attrs.int('broadcast', 0) === 0) return b;
  if (b.shape.every((d) => d.kind === 'const' && Number(d.value) === 1)) return viewAs(b, []);
  const axis = n.attrs.has('axis') ? (n.attrs.int('axis') + a.shape.length) % a.shape.length : a.shape.length - b.shape.length;
  if (axis < 0 || axis + b.shape.length > a.shape.length) throw new TesseraError(`B does not fit into A at axis ${axis}`);
  return viewAs(b, [...b.shape, ...new Array<Expr>(a.shape.length - axis - b.shape.length).fill(ci(1))]);
}

type Binary = (a: Expr, b: Expr, n: NodeLowering, dtype: DType) => Expr;

/** C pow: 1**y and (-1)**±inf are 1, and x**0 is 1 even for NaN. */
function powFloat(x: Expr, y: Expr): Expr {
  const one = k(x, 1);
  const special = or(or(eq(x, one), eq(y, k(y, 0))), and(eq(x, k(x, -1)), unary('isinf', y)));
  return select(special, one, binary('pow', x, y));
}

function bitShift(a: Expr, b: Expr, n: NodeLowering, d: DType): Expr {
  const dir = n.attrs.string('direction');
  if (dir !== 'LEFT' && dir !== 'RIGHT') throw new TesseraError(`direction must be LEFT or RIGHT, got '${dir}'`);
  const bits = d === 'u8' ? 8 : d === 'u16' ? 16 : d === 'u32' ? 32 : 64;
  return select(ge(b, k(b, bits)), k(a, 0), dir === 'LEFT' ? shl(a, b) : shr(a, b));
}

const BINARY: Record<string, Binary> = {
  Add: (a, b) => add(a, b),
  Sub: (a, b) => sub(a, b),
  Mul: (a, b) => mul(a, b),
  Div: (a, b) => div(a, b),
  Mod: (a, b, n, d) => {
    const fmod = n.attrs.int('fmod', 0);
    if (fmod !== 0 && fmod !== 1) throw new TesseraError(`fmod must be 0 or 1, got ${fmod}`);
    if (isFloat(d)) {
      if (fmod === 0) throw new TesseraError(`fmod must be 1 for floating-point inputs (got ${d})`);
      return mod(a, b);
    }
    return fmod ? mod(a, b) : binary('floormod', a, b);
  },
  BitShift: bitShift,
  And: (a, b) => and(a, b), Or: (a, b) => or(a, b), Xor: (a, b) => xor(a, b),
  Equal: (a, b) => eq(a, b), Greater: (a, b) => gt(a, b), Less: (a, b) => lt(a, b),
  GreaterOrEqual: (a, b) => ge(a, b), LessOrEqual: (a, b) => le(a, b),
};

const COMPARISONS = new Set(['Equal', 'Greater', 'Less', 'GreaterOrEqual', 'LessOrEqual']);

function lowerBinary(f: Binary): OpLowering {
  return (n) => {
    const a = n.input(0), b = legacyRhs(n, a, n.input(1));
    const outElem: KScalar = COMPARISONS.has(n.op) ? 'bool' : a.dtype;
    n.output(0, emitMap(n.L, [a, b], outElem, ([x, y]) => f(x!, y!, n, a.dtype)));
  };
}

// ---------------------------------------------------------------- Pow (base and exponent types may differ)

const lowerPow: OpLowering = (n) => {
  const a = n.input(0), b = legacyRhs(n, a, n.input(1));
  if (isFloat(a.dtype)) {
    n.output(0, emitMap(n.L, [a, b], a.dtype, ([x, y]) => powFloat(x!, to(x!.type.elem, y!))));
    return;
  }
  if (isFloat(b.dtype)) {
    n.output(0, emitMap(n.L, [a, b], a.dtype, ([x, y]) => powFloat(to('f64', x!), to('f64', y!))));
    return;
  }
  // Integer power by squaring, wrapping in the base type; a negative exponent truncates 1/x^|e| to 0.
  n.output(0, emitMap(n.L, [a, b], a.dtype, () => { throw new Error('unreachable'); }, {
    stmts: (kb, [x, y], result) => {
      const r = kb.fresh('r'), base = kb.fresh('b'), bit = kb.fresh('k');
      const et = y!.type, xt = x!.type;
      const bits = isBigInt(b.dtype) ? 64 : 32;
      const odd = (e: Expr) => ne(and(shr(e, to(et.elem, v(bit))), k(et, 1)), k(et, 0));
      const negative: Expr = select(eq(x!, k(xt, 1)), k(xt, 1),
        a.dtype.startsWith('u') ? k(xt, 0)
          : select(eq(x!, k(xt, -1)), select(eq(and(y!, k(et, 1)), k(et, 0)), k(xt, 1), k(xt, -1)), k(xt, 0)));
      const signed = !b.dtype.startsWith('u');
      const body: Stmt[] = [
        local(r, xt, k(xt, 1)),
        local(base, xt, x!),
        loop(bit, 0, bits, [
          if_(odd(y!), [assign(r, mul(v(r, xt), v(base, xt)))]),
          assign(base, mul(v(base, xt), v(base, xt))),
        ]),
      ];
      if (!signed) return [...body, result(v(r, xt))];
      return [...body, if_(lt(y!, k(et, 0)), [result(negative)], [result(v(r, xt))])];
    },
  }));
};

// ---------------------------------------------------------------- PRelu

const lowerPRelu: OpLowering = (n) => {
  const x = n.input(0);
  let s = n.input(1);
  // Before opset 7 the slope is one value or one per channel (axis 1), not numpy-broadcast.
  if (n.since < 7 && s.shape.length === 1 && x.shape.length >= 2 && !(s.shape[0]!.kind === 'const' && Number((s.shape[0] as { value: number }).value) === 1)) {
    s = viewAs(s, [s.shape[0]!, ...new Array<Expr>(x.shape.length - 2).fill(ci(1))]);
  }
  n.output(0, emitMap(n.L, [x, s], x.dtype, ([a, b]) => select(lt(a!, k(a!, 0)), mul(a!, b!), a!)));
};

// ---------------------------------------------------------------- variadic

function lowerVariadic(kind: 'Sum' | 'Mean' | 'Max' | 'Min'): OpLowering {
  return (n) => {
    const xs: TensorRef[] = [];
    for (let i = 0; i < n.inputCount; i++) xs.push(n.input(i));
    const d = xs[0]!.dtype;
    const op = kind === 'Max' ? max : kind === 'Min' ? min : add;
    n.output(0, emitMap(n.L, xs, d, (vals) => {
      let acc = vals[0]!;
      for (const x of vals.slice(1)) acc = op(acc, x);
      return kind === 'Mean' && vals.length > 1 ? div(acc, k(acc, vals.length)) : acc;
    }));
  };
}

// ---------------------------------------------------------------- Where, Cast, Clip

const lowerWhere: OpLowering = (n) => {
  const c = n.input(0), x = n.input(1), y = n.input(2);
  n.output(0, emitMap(n.L, [c, x, y], x.dtype, ([cv, a, b]) => select(cv!, a!, b!)));
};

function lowerCast(target: (n: NodeLowering) => DType): OpLowering {
  return (n) => {
    const x = n.input(0);
    const to_ = target(n);
    if (to_ === 'string' || x.dtype === ('string' as KScalar)) throw new TesseraError(`casts to or from strings cannot be compiled`);
    if (to_ === x.dtype) { n.output(0, x); return; }
    // Widened values convert exactly (f16/bf16 → f32), then convert once to the target on store.
    n.output(0, emitMap(n.L, [x], to_, ([a]) => (computeElem(to_) === a!.type.elem ? a! : to(to_, a!))));
  };
}

const CAST_NAMES: Record<string, DType> = {
  FLOAT: 'f32', UINT8: 'u8', INT8: 'i8', UINT16: 'u16', INT16: 'i16', INT32: 'i32', INT64: 'i64', STRING: 'string',
  BOOL: 'bool', FLOAT16: 'f16', DOUBLE: 'f64', UINT32: 'u32', UINT64: 'u64', BFLOAT16: 'bf16',
};

const castTarget = (n: NodeLowering): DType => {
  const t = n.node.outputs[0]?.type;
  if (t?.kind === 'tensor') return t.dtype;
  if (n.since === 1) return CAST_NAMES[n.attrs.string('to').toUpperCase()] ?? 'string';
  throw new TesseraError('Cast output type is unknown');
};

const FLT_MAX = 3.4028234663852886e38;

const lowerClip: OpLowering = (n) => {
  const x = n.input(0);
  if (n.since < 11) {
    const lo = n.attrs.float('min', -FLT_MAX), hi = n.attrs.float('max', FLT_MAX);
    n.output(0, emitMap(n.L, [x], x.dtype, ([a]) => min(max(a!, k(a!, lo)), k(a!, hi))));
    return;
  }
  const bounds = [1, 2].map((i) => n.optInput(i)).map((b) => (b ? viewAs(b, []) : undefined));
  const ins = [x, ...bounds.filter((b): b is TensorRef => b !== undefined)];
  n.output(0, emitMap(n.L, ins, x.dtype, ([a, ...bs]) => {
    let r = a!, j = 0;
    if (bounds[0]) r = max(r, bs[j++]!);
    if (bounds[1]) r = min(r, bs[j++]!);
    return r;
  }));
};

// ---------------------------------------------------------------- the table

export const elementwiseLowerings: Record<string, OpLowering> = {
  ...Object.fromEntries(Object.entries(UNARY).map(([op, f]) => [op, lowerUnary(f)])),
  ...Object.fromEntries(Object.entries(BINARY).map(([op, f]) => [op, lowerBinary(f)])),
  Pow: lowerPow,
  PRelu: lowerPRelu,
  Sum: lowerVariadic('Sum'), Mean: lowerVariadic('Mean'), Max: lowerVariadic('Max'), Min: lowerVariadic('Min'),
  Where: lowerWhere,
  Cast: lowerCast(castTarget),
  CastLike: lowerCast((n) => n.input(1).dtype),
  Clip: lowerClip,
};
