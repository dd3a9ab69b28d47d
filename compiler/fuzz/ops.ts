// The fuzz table: for each op, its dtypes, tolerance class, and a builder that draws operands, attributes
// and constant inputs on which the op is defined (axes within rank, permutations, pads that fit, kernel /
// stride / dilation combinations with a non-empty output, indices in range, ...). Cases the ONNX spec leaves
// open, or where a target differs on purpose, are kept out here and listed in divergences.ts.
import type { DType } from '../../ir/dtype.ts';
import { TesseraError } from '../../ir/errors.ts';
import type { Attr } from '../../ir/graph.ts';
import { attr, Reject, type FuzzOpSpec, type Operand } from './builder.ts';
import type { Choices } from './choices.ts';
import {
  axesOf, axisOf, broadcastOkay, F, F3, I, isFloatType, isSignedInt, MOVABLE, N, normalize, onnxCode, optFloat, optInt, R, SN, UI,
  windowAttrs, windowOf,
} from './op-helpers.ts';
import { ADVANCED_OPS } from './ops-advanced.ts';
import { broadcastOf, capShape, fuzzDim, product } from './shapes.ts';
import type { ToleranceClass } from './tolerance.ts';
import { intRange, type Domain } from './values.ts';

// ---------- families ----------

interface UnaryOptions {
  since?: number; explosive?: boolean; finite?: boolean; domain?: (d: DType) => Domain | undefined;
  attrs?: (c: Choices, d: DType) => Record<string, Attr | undefined>;
  dtypeSince?: Partial<Record<DType, number>>;
}
function unary(op: string, dtypes: readonly DType[], tol: ToleranceClass, o: UnaryOptions = {}): FuzzOpSpec {
  return {
    op, dtypes, tol, since: o.since, explosive: o.explosive, dtypeSince: o.dtypeSince,
    build(b, d) {
      const domain = o.domain?.(d);
      const x = b.operand(d, { finite: o.finite, domain, shape: domain ? b.shape(0, 4) : undefined });
      b.emit([x], o.attrs?.(b.c, d));
    },
  };
}

interface BinaryOptions {
  since?: number; explosive?: boolean; finite?: boolean;
  attrs?: (c: Choices, d: DType) => Record<string, Attr | undefined>;
  dtypeSince?: Partial<Record<DType, number>>;
  /** Constrained operands (fresh inputs): A's and B's domains for dtype d. */
  domains?: (d: DType, attrs: Record<string, Attr | undefined>) => [Domain | undefined, Domain | undefined];
}
function binary(op: string, dtypes: readonly DType[], tol: ToleranceClass, o: BinaryOptions = {}): FuzzOpSpec {
  return {
    op, dtypes, tol, since: o.since, explosive: o.explosive, dtypeSince: o.dtypeSince,
    build(b, d) {
      const attrs = o.attrs?.(b.c, d) ?? {};
      const [da, db] = o.domains?.(d, attrs) ?? [undefined, undefined];
      const x = da ? b.input(d, b.shape(0, 4), { domain: da }) : b.operand(d, { finite: o.finite });
      const y = db ? b.input(d, b.partnerShape(x.shape), { domain: db }) : b.partner(d, x.shape, { finite: o.finite });
      b.emit(b.c.chance(50) || da || db ? [x, y] : [y, x], attrs);
    },
  };
}

/** A variadic op over 1..3 inputs that broadcast together. */
function variadic(op: string, dtypes: readonly DType[], tol: ToleranceClass, o: { finite?: boolean; dtypeSince?: Partial<Record<DType, number>> } = {}): FuzzOpSpec {
  return {
    op, dtypes, tol, dtypeSince: o.dtypeSince,
    build(b, d) {
      const x = b.operand(d, { finite: o.finite });
      const ins = [x];
      let shape = x.shape;
      const n = b.c.int(1, 3);
      for (let i = 1; i < n; i++) {
        const y = b.partner(d, shape, { finite: o.finite });
        shape = broadcastOf(shape, y.shape);
        ins.push(y);
      }
      b.emit(ins);
    },
  };
}

const floatRangeOf = (to: DType, from: DType): [number, number] => {
  const [lo, hi] = intRange(to);
  const lim = from === 'f16' ? 65504 : from === 'bf16' ? 2 ** 24 : 2 ** 24;
  return [Math.max(Number(lo), -lim), Math.min(Number(hi), lim)];
};
const CAST_TARGETS: readonly DType[] = ['f32', 'i64', 'f64', 'f16', 'i32', 'bool', 'i8', 'u8', 'i16', 'u16', 'u32', 'u64', 'bf16'];

/** Division-like ops on integers: divisor ≠ 0, and dividend ≠ INT_MIN (INT_MIN / -1 overflows). */
const intDivision = (d: DType): [Domain | undefined, Domain | undefined] =>
  isFloatType(d) ? [undefined, undefined] : [isSignedInt(d) ? { noMin: true } : {}, { nonzero: true }];

// ---------- reductions ----------

function reduce(op: string, dtypes: readonly DType[], tol: ToleranceClass, o: { finite?: boolean; explosive?: boolean; dtypeSince?: Partial<Record<DType, number>> } = {}): FuzzOpSpec {
  return {
    op, dtypes, tol, explosive: o.explosive, dtypeSince: o.dtypeSince,
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { finite: o.finite, rank: [0, 4], nonEmpty: true }); // empty: divergences.ts
      const r = x.shape.length;
      const axes = axesOf(c, r);
      const keepdims = optInt(c, [0, 1]);
      const axesAsInput = b.opset >= 18 || (op === 'ReduceSum' && b.opset >= 13);
      if (!axesAsInput) {
        b.emit([x], { keepdims, axes: axes.length > 0 ? attr.ints(axes) : undefined });
        return;
      }
      if (axes.length === 0) {
        // No axes: reduce all (or, with noop_with_empty_axes=1, the identity); an empty axes tensor is the same.
        const noop = optInt(c, [0, 1]);
        b.emit(c.chance(50) ? [x] : [x, b.ints([])], { keepdims, noop_with_empty_axes: noop });
        return;
      }
      b.emit([x, b.ints(axes)], { keepdims });
    },
  };
}

function pool(op: 'MaxPool' | 'AveragePool' | 'LpPool', dtypes: readonly DType[], tol: ToleranceClass): FuzzOpSpec {
  return {
    op, dtypes, tol,
    build(b, d) {
      const c = b.c;
      const s = c.pick([2, 1, 3]);
      const dil = op === 'MaxPool' || (op === 'AveragePool' && b.opset >= 19) || (op === 'LpPool' && b.opset >= 18);
      const w = windowOf(c, s, { dilations: dil, autoPad: true, padBelowKernel: true });
      const nc = [c.pick([1, 2, 3]), c.pick([1, 3, 2, 4])];
      const shape = capShape([...nc, ...w.spatial.map((v) => Math.min(v, 40))], 4096);
      if (w.kernel.some((k, i) => shape[2 + i]! < (k - 1) * w.dilations[i]! + 1)) throw new Reject('the input is shorter than the window');
      const x = b.input(d, shape, { finite: op !== 'MaxPool' });
      const attrs = windowAttrs(c, w, dil);
      if (op === 'MaxPool' || op === 'AveragePool' || (op === 'LpPool' && b.opset >= 18)) attrs.ceil_mode = optInt(c, [0, 1]);
      if (op === 'AveragePool') attrs.count_include_pad = optInt(c, [0, 1]);
      if (op === 'LpPool') attrs.p = optInt(c, [1, 2, 3]);
      let outs = 1;
      if (op === 'MaxPool' && c.chance(30)) {
        outs = 2;
        attrs.storage_order = optInt(c, [0, 1]);
      }
      b.emit([x], attrs, outs);
    },
  };
}

// ---------- data movement helpers ----------

/** A reshape target for n elements derived from `shape`: merges, splits into 1s, a -1, or 0 (copy). */
function reshapeTarget(c: Choices, shape: readonly number[], opset: number): { target: number[]; allowzero?: number } {
  const n = product(shape);
  let dims = [...shape];
  switch (c.below(4)) {
    case 0: dims = [n]; break;
    case 1: { // merge a run of adjacent dims
      if (dims.length >= 2) {
        const i = c.below(dims.length - 1);
        dims.splice(i, 2, dims[i]! * dims[i + 1]!);
      }
      break;
    }
    case 2: { // insert 1s and reverse the order of the dims (a reshape, not a transpose)
      dims = dims.reverse();
      for (let k = c.int(0, 2); k > 0; k--) dims.splice(c.int(0, dims.length), 0, 1);
      break;
    }
    default: { // split one dim into factors
      const i = c.below(Math.max(1, dims.length));
      const v = dims[i] ?? 1;
      const f = [2, 3, 5, 7].find((p) => v % p === 0 && v > p);
      if (f) dims.splice(i, 1, f, v / f);
      break;
    }
  }
  // A literal 0 dim (an empty tensor) needs allowzero=1; otherwise 0 may copy the input's dim at the same
  // index, and one dim may be -1 (inferred; not when there are no elements).
  const target = [...dims];
  if (target.includes(0)) {
    if (opset < 14) throw new Reject('an empty target shape needs allowzero (opset 14)');
    return { target, allowzero: 1 };
  }
  if (c.chance(30)) {
    const same = target.map((d, i) => i).filter((i) => i < shape.length && target[i] === shape[i]);
    if (same.length > 0) target[c.pick(same)] = 0;
  }
  if (n > 0 && c.chance(40)) {
    const free = target.map((d, i) => i).filter((i) => target[i] !== 0);
    if (free.length > 0) target[c.pick(free)] = -1;
  }
  return { target, allowzero: opset >= 14 && c.chance(20) && !target.includes(0) ? 1 : undefined };
}

// ---------- the table ----------

const alphaF = (values: number[]) => (c: Choices) => ({ alpha: optFloat(c, values) });

const CORE_OPS: readonly FuzzOpSpec[] = [
  // elementwise binary
  binary('Add', N, 'rounded'),
  binary('Sub', N, 'rounded'),
  binary('Mul', N, 'rounded'),
  binary('Div', N, 'rounded', { explosive: true, domains: (d) => intDivision(d) }),
  binary('Pow', ['f32', 'f64', 'f16', 'bf16', 'i32', 'i64'], 'transcendental', {
    explosive: true,
    domains: (d) => (isFloatType(d) ? [undefined, undefined] : [{ range: [-4, 4] }, { range: [0, 5] }]),
  }),
  binary('Mod', N, 'exact', {
    explosive: true,
    attrs: (c, d) => ({ fmod: isFloatType(d) ? attr.int(1) : optInt(c, [0, 1]) }),
    domains: (d) => intDivision(d),
  }),
  binary('Equal', [...N, 'bool', 'string'], 'exact', { dtypeSince: { string: 19 } }),
  binary('Less', N, 'exact'),
  binary('Greater', N, 'exact'),
  binary('LessOrEqual', N, 'exact'),
  binary('GreaterOrEqual', N, 'exact'),
  binary('And', ['bool'], 'exact'),
  binary('Or', ['bool'], 'exact'),
  binary('Xor', ['bool'], 'exact'),
  binary('BitwiseAnd', I, 'exact', { since: 18 }),
  binary('BitwiseOr', I, 'exact', { since: 18 }),
  binary('BitwiseXor', I, 'exact', { since: 18 }),
  binary('BitShift', UI, 'exact', {
    attrs: (c) => ({ direction: attr.string(c.pick(['LEFT', 'RIGHT'])) }),
    domains: (d) => [undefined, { range: [0, { u8: 7, u16: 15, u32: 31, u64: 63 }[d as 'u8']], integer: true }],
  }),
  {
    op: 'PRelu', dtypes: [...F, 'i32', 'i64', 'u32', 'u64'], tol: 'rounded', dtypeSince: { i32: 16, i64: 16, u32: 16, u64: 16 },
    build(b, d) {
      const x = b.operand(d);
      b.emit([x, b.into(d, x.shape)]);
    },
  },
  variadic('Max', N, 'exact', { dtypeSince: Object.fromEntries(I.map((d) => [d, 12])) }),
  variadic('Min', N, 'exact', { dtypeSince: Object.fromEntries(I.map((d) => [d, 12])) }),
  variadic('Sum', F, 'accumulate', { finite: true }),
  variadic('Mean', F, 'accumulate', { finite: true }),
  {
    op: 'Where', dtypes: [...N, 'bool', 'string'], tol: 'exact',
    build(b, d) {
      const x = b.operand(d);
      const y = b.partner(d, x.shape);
      const cond = b.partner('bool', broadcastOf(x.shape, y.shape));
      b.emit([cond, x, y]);
    },
  },
  {
    op: 'Clip', dtypes: N, tol: 'exact', dtypeSince: Object.fromEntries(I.map((d) => [d, 12])),
    build(b, d) {
      const c = b.c;
      const x = b.operand(d);
      const [lo, hi] = isFloatType(d) ? [-3, 3] : isSignedInt(d) ? [-5, 5] : [0, 8];
      let a = c.int(lo, hi), z = c.int(lo, hi);
      if (a > z) [a, z] = [z, a];
      const frac = isFloatType(d) && c.chance(50) ? 0.5 : 0;
      const which = c.below(4); // none, min, max, both
      const min = which === 1 || which === 3 ? b.scalar(d, (isFloatType(d) ? a - frac : a)) : null;
      const max = which >= 2 ? b.scalar(d, isFloatType(d) ? z + frac : z) : null;
      b.emit([x, min, max]);
    },
  },

  // elementwise unary
  unary('Abs', N, 'exact'),
  unary('Neg', SN, 'exact'),
  unary('Relu', [...F, 'i32', 'i64', 'i8', 'i16'], 'exact', { dtypeSince: { i32: 14, i64: 14, i8: 14, i16: 14 } }),
  unary('Sign', N, 'exact'),
  unary('Floor', F, 'exact'),
  unary('Ceil', F, 'exact'),
  unary('Round', F, 'exact'),
  unary('Sqrt', F, 'rounded', { explosive: true }),
  unary('Reciprocal', F, 'rounded', { explosive: true }),
  unary('Exp', F, 'transcendental', { explosive: true }),
  unary('Log', F, 'transcendental', { explosive: true }),
  unary('Sigmoid', F, 'transcendental'),
  unary('Tanh', F, 'transcendental'),
  unary('Erf', F, 'transcendental'),
  unary('Sin', F, 'transcendental'),
  unary('Cos', F, 'transcendental'),
  unary('Tan', F, 'transcendental', { explosive: true }),
  unary('Asin', F, 'transcendental', { explosive: true }),
  unary('Acos', F, 'transcendental', { explosive: true }),
  unary('Atan', F, 'transcendental'),
  unary('Sinh', F, 'transcendental', { explosive: true }),
  unary('Cosh', F, 'transcendental', { explosive: true }),
  unary('Asinh', F, 'transcendental'),
  unary('Acosh', F, 'transcendental', { explosive: true }),
  unary('Atanh', F, 'transcendental', { explosive: true }),
  unary('Softplus', F, 'transcendental'),
  unary('Softsign', F, 'rounded'),
  unary('Mish', F, 'transcendental', { since: 18 }),
  unary('HardSwish', F, 'rounded', { since: 14 }),
  unary('HardSigmoid', F, 'rounded', { attrs: (c) => ({ alpha: optFloat(c, [0.5, 0.1]), beta: optFloat(c, [0.25, 0]) }) }),
  unary('LeakyRelu', F, 'rounded', { attrs: alphaF([0.1, 2, -0.5]) }),
  unary('ThresholdedRelu', F, 'exact', { attrs: alphaF([0.5, -1, 0]) }),
  unary('Elu', F, 'transcendental', { attrs: alphaF([0.5, 2]) }),
  unary('Celu', ['f32'], 'transcendental', { attrs: alphaF([0.5, 2]) }),
  unary('Selu', F, 'transcendental', { attrs: (c) => ({ alpha: optFloat(c, [1, 2]), gamma: optFloat(c, [1, 0.5]) }) }),
  unary('Gelu', F, 'transcendental', { since: 20, attrs: (c) => ({ approximate: c.chance(50) ? attr.string(c.pick(['none', 'tanh'])) : undefined }) }),
  unary('Shrink', N, 'rounded', { attrs: (c, d) => (isFloatType(d) ? { lambd: optFloat(c, [0, 1.5]), bias: optFloat(c, [0, 1]) } : {}) }),
  unary('IsNaN', F, 'exact'),
  unary('IsInf', F, 'exact', { attrs: (c) => ({ detect_negative: optInt(c, [0, 1]), detect_positive: optInt(c, [0, 1]) }) }),
  unary('Not', ['bool'], 'exact'),
  unary('BitwiseNot', I, 'exact', { since: 18 }),
  {
    op: 'Cast', dtypes: [...N, 'bool'], tol: 'exact',
    build(b, d) {
      const c = b.c;
      const targets = CAST_TARGETS.filter((t) => b.supports('Cast', t));
      const to = c.pick(targets);
      // Float → integer is defined only inside the integer type's range (C's conversion is undefined outside).
      const x = isFloatType(d) && !isFloatType(to) && to !== 'bool'
        ? b.input(d, b.shape(0, 4), { domain: { range: floatRangeOf(to, d) } })
        : b.operand(d);
      b.emit([x], { to: attr.int(onnxCode(to)) });
    },
  },
  {
    op: 'CastLike', dtypes: [...N, 'bool'], tol: 'exact', since: 15,
    build(b, d) {
      const c = b.c;
      const to = c.pick(CAST_TARGETS.filter((t) => b.supports('CastLike', t)));
      const x = isFloatType(d) && !isFloatType(to) && to !== 'bool'
        ? b.input(d, b.shape(0, 4), { domain: { range: floatRangeOf(to, d) } })
        : b.operand(d);
      b.emit([x, b.operand(to)]);
    },
  },

  // reductions and friends
  reduce('ReduceSum', R, 'accumulate', { finite: true }),
  reduce('ReduceMean', R, 'accumulate', { finite: true }),
  reduce('ReduceMax', [...R, 'i8', 'u8'], 'exact'),
  reduce('ReduceMin', [...R, 'i8', 'u8'], 'exact'),
  reduce('ReduceProd', R, 'accumulate', { finite: true, explosive: true }),
  reduce('ReduceL1', R, 'accumulate', { finite: true }),
  reduce('ReduceL2', R, 'accumulate', { finite: true }),
  reduce('ReduceSumSquare', R, 'accumulate', { finite: true }),
  reduce('ReduceLogSum', F, 'transcendental', { finite: true, explosive: true }),
  reduce('ReduceLogSumExp', F, 'transcendental', { finite: true, explosive: true }),
  ...(['ArgMax', 'ArgMin'] as const).map((op): FuzzOpSpec => ({
    op, dtypes: N, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], nonEmpty: true, finite: true });
      b.emit([x], { axis: attr.int(axisOf(c, x.shape.length)), keepdims: optInt(c, [0, 1]), select_last_index: optInt(c, [0, 1]) });
    },
  })),
  ...(['Softmax', 'LogSoftmax', 'Hardmax'] as const).map((op): FuzzOpSpec => ({
    op, dtypes: F, tol: op === 'Hardmax' ? 'exact' : 'normalize',
    build(b, d) {
      const x = b.operand(d, { rank: [1, 4], finite: true });
      b.emit([x], { axis: b.c.chance(60) ? attr.int(axisOf(b.c, x.shape.length)) : undefined });
    },
  })),
  {
    op: 'CumSum', dtypes: ['f32', 'f64', 'i32', 'i64', 'u32', 'u64', 'f16', 'bf16'], tol: 'accumulate', dtypeSince: { f16: 14, bf16: 14 },
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], finite: true });
      const axis = axisOf(c, x.shape.length);
      b.emit([x, b.scalar(c.pick(['i64', 'i32']), axis)], { exclusive: optInt(c, [0, 1]), reverse: optInt(c, [0, 1]) });
    },
  },
  {
    op: 'TopK', dtypes: [...F3, ...I], tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], finite: true, nonEmpty: true }); // onnxruntime crashes on empty inputs
      const axis = axisOf(c, x.shape.length);
      const k = c.int(0, x.shape[normalize(axis, x.shape.length)]!);
      b.emit([x, b.ints([k])], { axis: attr.int(axis), largest: optInt(c, [0, 1]), sorted: optInt(c, [1]) }, 2);
    },
  },

  // products and convolutions
  {
    op: 'MatMul', dtypes: ['f32', 'f64', 'f16', 'bf16', 'i32', 'i64', 'u32', 'u64'], tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      let a = b.reuse(d, { rank: [1, 4], finite: true });
      if (!a) {
        const batch = c.chance(50) ? b.shape(1, 2, 16) : [];
        a = b.input(d, c.chance(15) ? [fuzzDim(c)] : [...batch, fuzzDim(c), fuzzDim(c)], { finite: true });
      }
      const batchA = a.shape.slice(0, -2);
      const k = a.shape[a.shape.length - 1]!;
      let bShape: number[];
      if (c.chance(15)) bShape = [k];
      else {
        let batchB: number[] = [];
        if (c.chance(50)) batchB = batchA.slice(c.int(0, batchA.length)).map((x) => (c.chance(40) ? 1 : x));
        else if (c.chance(20)) batchB = b.shape(1, 2, 16);
        if (!broadcastOkay(batchA, batchB)) batchB = [];
        bShape = [...batchB, k, fuzzDim(c)];
      }
      if (product(bShape) > 4096) throw new Reject('too large');
      b.emit([a, b.input(d, bShape, { finite: true })]);
    },
  },
  {
    op: 'Gemm', dtypes: ['f32', 'f64', 'f16', 'bf16', 'i32', 'i64', 'u32', 'u64'], tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const m = fuzzDim(c), k = fuzzDim(c), n = fuzzDim(c);
      const transA = c.chance(40), transB = c.chance(40);
      const a = b.input(d, transA ? [k, m] : [m, k], { finite: true });
      const w = b.input(d, transB ? [n, k] : [k, n], { finite: true });
      const withC = c.chance(70);
      const cOperand = withC ? b.into(d, [m, n], { finite: true }) : null;
      const float = isFloatType(d);
      b.emit([a, w, cOperand], {
        transA: transA ? attr.int(1) : optInt(c, [0]), transB: transB ? attr.int(1) : optInt(c, [0]),
        alpha: float ? optFloat(c, [0.5, -1, 2]) : undefined, beta: float && withC ? optFloat(c, [0.5, -1, 0]) : undefined,
      });
    },
  },
  {
    op: 'Conv', dtypes: F3, tol: 'accumulate',
    build(b, d) {
      const c = b.c;
      const s = c.pick([2, 1, 3]);
      const w = windowOf(c, s, { dilations: true, autoPad: true });
      const group = c.pick([1, 1, 2, 3]);
      const cin = group * c.pick([1, 2, 3]), cout = group * c.pick([1, 2, 3]);
      const n = c.pick([1, 2]);
      const x = b.input(d, [n, cin, ...w.spatial.map((v) => Math.min(v, s === 3 ? 8 : 24))], { finite: true });
      const weight = b.input(d, [cout, cin / group, ...w.kernel], { finite: true });
      const bias = c.chance(50) ? b.input(d, [cout], { finite: true }) : null;
      const attrs = windowAttrs(c, w, true);
      if (c.chance(30)) attrs.kernel_shape = undefined; // inferred from the weights
      attrs.group = group === 1 ? optInt(c, [1]) : attr.int(group);
      b.emit([x, weight, bias], attrs);
    },
  },
  pool('MaxPool', ['f32', 'f64', 'f16', 'i8', 'u8'], 'exact'),
  pool('AveragePool', F3, 'accumulate'),
  pool('LpPool', F3, 'accumulate'),
  ...(['GlobalAveragePool', 'GlobalMaxPool'] as const).map((op): FuzzOpSpec => ({
    op, dtypes: F3, tol: op === 'GlobalMaxPool' ? 'exact' : 'accumulate',
    build(b, d) {
      b.emit([b.operand(d, { rank: [3, 5], finite: op !== 'GlobalMaxPool', nonEmpty: true })]);
    },
  })),
  {
    op: 'BatchNormalization', dtypes: F3, tol: 'normalize',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [2, 4], finite: true });
      const ch = [x.shape[1]!];
      const p = () => b.input(d, ch, { finite: true });
      b.emit([x, p(), p(), p(), b.input(d, ch, { finite: true, domain: { positive: true } })], { epsilon: optFloat(c, [1e-3, 0.1]) });
    },
  },
  {
    op: 'InstanceNormalization', dtypes: F3, tol: 'normalize',
    build(b, d) {
      const x = b.operand(d, { rank: [3, 4], finite: true, nonEmpty: true });
      const ch = [x.shape[1]!];
      b.emit([x, b.input(d, ch, { finite: true }), b.input(d, ch, { finite: true })], { epsilon: optFloat(b.c, [1e-3, 0.1]) });
    },
  },
  {
    op: 'LayerNormalization', dtypes: F, tol: 'normalize', since: 17,
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], finite: true });
      const r = x.shape.length;
      const axis = c.chance(60) ? axisOf(c, r) : undefined;
      const norm = x.shape.slice(normalize(axis ?? -1, r));
      const bias = c.chance(50) ? b.input(d, norm, { finite: true }) : null;
      b.emit([x, b.input(d, norm, { finite: true }), bias], { axis: axis === undefined ? undefined : attr.int(axis), epsilon: optFloat(c, [1e-3, 0.1]) });
    },
  },
  {
    op: 'LpNormalization', dtypes: F3, tol: 'normalize',
    build(b, d) {
      const x = b.operand(d, { rank: [1, 4], finite: true });
      b.emit([x], { axis: attr.int(axisOf(b.c, x.shape.length)), p: optInt(b.c, [1, 2]) });
    },
  },
  {
    op: 'MeanVarianceNormalization', dtypes: F, tol: 'normalize',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], finite: true });
      const r = x.shape.length;
      let axes = r === 4 && c.chance(30) ? undefined : axesOf(c, r, 60);
      if (axes?.length === 0) axes = [axisOf(c, r)];
      b.emit([x], { axes: axes ? attr.ints(axes) : undefined });
    },
  },

  // data movement
  unary('Identity', MOVABLE, 'exact'),
  {
    op: 'Transpose', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const x = b.operand(d);
      b.emit([x], { perm: b.c.chance(80) ? attr.ints(b.c.permutation(x.shape.length)) : undefined });
    },
  },
  {
    op: 'Reshape', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const x = b.operand(d);
      const { target, allowzero } = reshapeTarget(b.c, x.shape, b.opset);
      b.emit([x, b.ints(target)], { allowzero: allowzero === undefined ? undefined : attr.int(allowzero) });
    },
  },
  {
    op: 'Flatten', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const x = b.operand(d, { rank: [1, 4] });
      const r = x.shape.length;
      const axis = b.c.int(0, r);
      b.emit([x], { axis: b.c.chance(20) ? undefined : attr.int(b.c.chance(30) && axis > 0 ? axis - r : axis) });
    },
  },
  {
    op: 'Squeeze', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      let x = b.reuse(d, { fits: (s) => s.includes(1) });
      if (!x) {
        const shape = b.shape(0, 3);
        shape.splice(c.int(0, shape.length), 0, 1);
        x = b.input(d, shape);
      }
      const r = x.shape.length;
      const ones = x.shape.map((v, i) => i).filter((i) => x.shape[i] === 1);
      const axes = ones.filter(() => c.chance(60)).map((a) => (c.chance(30) ? a - r : a));
      if (axes.length === 0 && c.chance(50)) b.emit([x]);
      else if (b.opset < 13) b.emit([x], { axes: attr.ints(axes.length ? axes : ones) }); // an attribute before opset 13
      else b.emit([x, b.ints(axes.length ? axes : ones)]);
    },
  },
  {
    op: 'Unsqueeze', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [0, 3] });
      const k = c.int(1, 2);
      const out = x.shape.length + k;
      const axes = c.permutation(out).slice(0, k).map((a) => (c.chance(30) ? a - out : a));
      if (b.opset < 13) b.emit([x], { axes: attr.ints(axes) });
      else b.emit([x, b.ints(axes)]);
    },
  },
  {
    op: 'Slice', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4] });
      const r = x.shape.length;
      let axes = axesOf(c, r, 60);
      if (axes.length === 0) axes = [axisOf(c, r)];
      const BIG = 2 ** 62; // exported as an int64 constant; sentinels near INT64_MAX/MIN are in divergences.ts
      const starts: number[] = [], ends: number[] = [], steps: number[] = [];
      for (const a of axes) {
        const dim = x.shape[normalize(a, r)]!;
        const step = c.pick([1, 1, 2, -1, 3, -2]);
        const bound = () => (c.chance(15) ? c.pick([BIG, -BIG]) : c.int(-dim - 2, dim + 2));
        starts.push(bound()); ends.push(bound()); steps.push(step);
      }
      const allOnes = steps.every((s) => s === 1);
      const withSteps = !allOnes || c.chance(50);
      const withAxes = withSteps || c.chance(70) || axes.some((a, i) => a !== i);
      const it = c.pick(['i64', 'i32'] as const);
      const big = (v: number) => (it === 'i32' ? Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, v)) : v);
      b.emit([x, b.ints(starts.map(big), it), b.ints(ends.map(big), it), withAxes ? b.ints(axes, it) : null, withSteps ? b.ints(steps, it) : null]);
    },
  },
  {
    op: 'Concat', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4] });
      const r = x.shape.length;
      const axis = axisOf(c, r);
      const ax = normalize(axis, r);
      const ins: Operand[] = [x];
      for (let i = c.int(0, 2); i > 0; i--) {
        const same = (s: readonly number[]) => s.length === r && s.every((v, j) => j === ax || v === x.shape[j]);
        ins.push(b.reuse(d, { fits: same, rank: [r, r] }) ?? b.input(d, x.shape.map((v, j) => (j === ax ? fuzzDim(c) : v))));
      }
      b.emit(ins, { axis: attr.int(axis) });
    },
  },
  {
    op: 'Split', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4] });
      const r = x.shape.length;
      const axis = c.chance(70) ? axisOf(c, r) : 0;
      const dim = x.shape[normalize(axis, r)]!;
      const axisAttr = axis === 0 && c.chance(30) ? undefined : attr.int(axis);
      // Opset 18 wants the sizes or num_outputs; before it, no sizes means equal parts.
      const form = b.opset >= 18 ? c.pick(['sizes', 'num_outputs']) : c.pick(['sizes', 'equal']);
      if (form === 'num_outputs') { // num_outputs: equal chunks, the last one smaller
        const k = c.int(1, 3);
        if (k > dim) throw new Reject('more outputs than elements');
        const chunk = Math.ceil(dim / k);
        const outs = dim === 0 ? k : Math.ceil(dim / chunk);
        if (outs !== k) throw new Reject('uneven split leaves an empty output');
        b.emit([x], { axis: axisAttr, num_outputs: attr.int(k) }, k);
        return;
      }
      if (form === 'sizes') {
        const k = c.int(1, 3);
        const sizes: number[] = [];
        let left = dim;
        for (let i = 0; i < k - 1; i++) { const s = c.int(0, left); sizes.push(s); left -= s; }
        sizes.push(left);
        if (b.opset < 13) b.emit([x], { axis: axisAttr, split: attr.ints(sizes) }, k);
        else b.emit([x, b.ints(sizes)], { axis: axisAttr }, k);
        return;
      }
      const k = c.pick([1, 2, 3].filter((v) => dim % v === 0));
      b.emit([x], { axis: axisAttr }, k);
    },
  },
  {
    op: 'Gather', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4] });
      const r = x.shape.length;
      const axis = axisOf(c, r);
      const dim = x.shape[normalize(axis, r)]!;
      const ishape = dim === 0 ? [0] : b.shape(0, 2, 64);
      const idx = b.input(c.pick(['i64', 'i32']), ishape, { domain: { range: [-dim, dim - 1], integer: true } });
      if (product(x.shape) * Math.max(1, product(ishape)) > 16384) throw new Reject('too large');
      b.emit([x, idx], { axis: c.chance(20) && axis === 0 ? undefined : attr.int(axis) });
    },
  },
  {
    op: 'GatherElements', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4], nonEmpty: true });
      const r = x.shape.length;
      const axis = axisOf(c, r);
      const ax = normalize(axis, r);
      const dim = x.shape[ax]!;
      const ishape = x.shape.map((v, j) => (j === ax ? fuzzDim(c) : c.chance(20) ? c.int(1, v) : v));
      b.emit([x, b.input(c.pick(['i64', 'i32']), ishape, { domain: { range: [-dim, dim - 1], integer: true } })], { axis: attr.int(axis) });
    },
  },
  {
    op: 'Pad', dtypes: [...N, 'bool'], tol: 'exact', dtypeSince: { bool: 13 },
    build(b, d) {
      const c = b.c;
      const modes = ['constant', 'reflect', 'edge', ...(b.opset >= 19 ? ['wrap'] : [])];
      const mode = c.pick(modes);
      const x = b.operand(d, { rank: [1, 4], nonEmpty: mode !== 'constant' });
      const r = x.shape.length;
      const useAxes = b.opset >= 18 && c.chance(30);
      let axes = useAxes ? axesOf(c, r, 60) : x.shape.map((_, i) => i);
      if (axes.length === 0) axes = [axisOf(c, r)];
      const pad = (a: number) => {
        const dim = x.shape[normalize(a, r)]!;
        if (mode === 'constant') return c.int(-Math.min(dim, 2), 3);
        if (mode === 'reflect') return c.int(0, Math.min(dim - 1, 3));
        if (mode === 'wrap') return c.int(0, Math.min(dim, 3));
        return c.int(0, 3);
      };
      const begins = axes.map(pad), ends = axes.map(pad);
      // Negative constant pads crop; together they may not remove more than the axis holds.
      axes.forEach((a, i) => { ends[i] = Math.max(ends[i]!, -(x.shape[normalize(a, r)]! + begins[i]!)); });
      const pads = [...begins, ...ends];
      const value = mode === 'constant' && c.chance(50) && d !== 'bool' ? b.scalar(d, isFloatType(d) ? 1.5 : 3) : null;
      b.emit([x, b.ints(pads), value, useAxes ? b.ints(axes) : null], { mode: mode === 'constant' && c.chance(50) ? undefined : attr.string(mode) });
    },
  },
  {
    op: 'Expand', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const x = b.operand(d);
      const target = b.partnerShape(x.shape);
      b.emit([x, b.ints(target)]);
    },
  },
  {
    op: 'Tile', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [1, 4] });
      const reps = x.shape.map(() => c.pick([1, 2, 3, 0]));
      if (product(x.shape) * product(reps) > 8192) throw new Reject('too large');
      b.emit([x, b.ints(reps)]);
    },
  },
  {
    op: 'Shape', dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const x = b.operand(d);
      const r = x.shape.length;
      const bound = () => (b.opset >= 15 && c.chance(40) ? attr.int(c.int(-r - 1, r + 1)) : undefined);
      b.emit([x], { start: bound(), end: bound() });
    },
  },
  unary('Size', MOVABLE, 'exact'),
  {
    op: 'Trilu', dtypes: [...N, 'bool'], tol: 'exact', since: 14,
    build(b, d) {
      const c = b.c;
      const x = b.operand(d, { rank: [2, 4] });
      const [rows, cols] = x.shape.slice(-2) as [number, number];
      const k = c.chance(60) ? b.scalar('i64', c.int(-rows - 1, cols + 1)) : null;
      b.emit([x, k], { upper: optInt(c, [0, 1]) });
    },
  },
  ...(['DepthToSpace', 'SpaceToDepth'] as const).map((op): FuzzOpSpec => ({
    op, dtypes: MOVABLE, tol: 'exact',
    build(b, d) {
      const c = b.c;
      const bs = c.int(1, 3);
      const n = c.pick([1, 2]);
      const shape = op === 'DepthToSpace'
        ? [n, bs * bs * c.int(1, 3), c.int(1, 5), c.int(1, 5)]
        : [n, c.int(1, 3), bs * c.int(1, 5), bs * c.int(1, 5)];
      const x = b.reuse(d, { rank: [4, 4], fits: (s) => (op === 'DepthToSpace' ? s[1]! % (bs * bs) === 0 : s[2]! % bs === 0 && s[3]! % bs === 0) })
        ?? b.input(d, shape);
      b.emit([x], { blocksize: attr.int(bs), ...(op === 'DepthToSpace' ? { mode: c.chance(50) ? attr.string(c.pick(['DCR', 'CRD'])) : undefined } : {}) });
    },
  })),
];

/** Every fuzzed op: the core table above and the indexing / resampling / recurrent ops of ops-advanced.ts. */
export const FUZZ_OPS: readonly FuzzOpSpec[] = [...CORE_OPS, ...ADVANCED_OPS];

/** The op names the table covers. */
export const FUZZ_OP_NAMES: readonly string[] = [...new Set(FUZZ_OPS.map((s) => s.op))];

/** Specs of the named ops (all when names is undefined); unknown names are an error naming them. */
export function fuzzSpecs(names?: readonly string[]): FuzzOpSpec[] {
  if (!names) return [...FUZZ_OPS];
  const unknown = names.filter((n) => !FUZZ_OP_NAMES.includes(n));
  if (unknown.length) throw new TesseraError(`no fuzz spec for ${unknown.join(', ')} (fuzzed ops: ${FUZZ_OP_NAMES.join(', ')})`);
  return FUZZ_OPS.filter((s) => names.includes(s.op));
}
