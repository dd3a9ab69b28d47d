// Shape computations: Shape and Size give symbolic integers (their values are the input's dims), small
// integer arithmetic over them stays symbolic (the evaluators below run at compile time over index
// expressions), and the generators whose output shape they decide (ConstantOfShape, Range) become fill
// kernels. Ops whose output shape depends on tensor data (NonZero, Unique, Compress, …) are rejected with
// a clear error: an ahead-of-time compiler must know every buffer size from the input shapes.
import { TesseraError } from '../../../ir/errors.ts';
import { add, binary, cast, eq, gt, lt, ne } from '../../../ir/kernel/build.ts';
import type { Expr, KScalar } from '../../../ir/kernel/ir.ts';
import { Tensor } from '../../../ir/tensor.ts';
import { dataDependent } from '../context.ts';
import {
  ci, constOf, iadd, iceildiv, idiv, imax, imin, imod, imul, iselect, isub, prod,
} from '../index-math.ts';
import { emitByIndex, scalarConst } from '../loops.ts';
import type { NodeLowering, OpLowering, SymEval } from '../node.ts';

// ---------------------------------------------------------------- Shape, Size

function shapeRange(n: NodeLowering, rank: number): [number, number] {
  if (n.since < 15) return [0, rank];
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(n.attrs.int('start', 0));
  const end = n.attrs.has('end') ? clamp(n.attrs.int('end')) : rank;
  return [start, Math.max(start, end)];
}

const lowerShape: OpLowering = (n) => {
  const x = n.input(0);
  const [s, e] = shapeRange(n, x.shape.length);
  n.output(0, { dtype: 'i64', shape: [ci(e - s)], sym: x.shape.slice(s, e) });
};

const lowerSize: OpLowering = (n) => {
  const x = n.input(0);
  n.output(0, { dtype: 'i64', shape: [], sym: [n.L.dim(prod(x.shape))] });
};

// ---------------------------------------------------------------- generators

const lowerConstantOfShape: OpLowering = (n) => {
  const shape = n.ints(0).map((d) => n.L.dim(d));
  const v = n.attrs.tensor('value') ?? Tensor.scalar('f32', 0);
  if (v.dtype === 'string') throw new TesseraError('string tensors cannot be compiled');
  const dtype = v.dtype as KScalar;
  const value = scalarConst(v, dtype);
  n.output(0, emitByIndex(n.L, n.L.temp(dtype, shape), () => () => value));
};

const lowerRange: OpLowering = (n) => {
  const t = n.input(0).dtype;
  const delta = n.input(2);
  const d = delta!.constant?.num(0) ?? (delta!.sym && constOf(delta!.sym[0]!));
  if (d === undefined || d === 0) throw dataDependent(n.op);
  if (t === 'f32' || t === 'f64') {
    // Float ranges have data-dependent lengths unless start and limit are known.
    throw dataDependent(n.op);
  }
  const s = n.ints(0)[0]!, l = n.ints(1)[0]!;
  const count = n.L.dim(d > 0 ? iceildiv(imax(isub(l, s), 0), d) : iceildiv(imax(isub(s, l), 0), -d));
  const sym = constOf(count) !== undefined && constOf(count)! <= 64
    ? Array.from({ length: constOf(count)! }, (_, i) => n.L.dim(iadd(s, imul(i, d)))) : undefined;
  if (sym) { n.output(0, { dtype: t, shape: [count], sym }); return; }
  n.output(0, emitByIndex(n.L, n.L.temp(t, [count]), () => ([i]) => {
    const v = add(s, imul(i!, d));
    return t === 'i32' ? v : cast(t, v);
  }));
};

const rejectDataDependent: OpLowering = (n) => { throw dataDependent(n.op); };

// ---------------------------------------------------------------- symbolic evaluation

type Vals = Expr[];

/** Broadcasts 0/1-D symbolic values elementwise. */
function zipWith(vals: (Vals | undefined)[], f: (...xs: Expr[]) => Expr): Expr[][] | undefined {
  if (vals.some((v) => !v)) return undefined;
  const vs = vals as Vals[];
  const len = Math.max(...vs.map((v) => v.length));
  if (vs.some((v) => v.length !== len && v.length !== 1)) return undefined;
  return [Array.from({ length: len }, (_, i) => f(...vs.map((v) => v[v.length === 1 ? 0 : i]!)))];
}

const bool01 = (e: Expr): Expr => iselect(e, 1, 0);
const truthy = (e: Expr): Expr => ne(e, 0);

const same: SymEval = (_n, [x]) => (x ? [x] : undefined);

const symEval: Record<string, SymEval> = {
  Identity: same,
  Cast: (n, [x]) => {
    const t = n.node.outputs[0]?.type;
    if (!x || t?.kind !== 'tensor') return undefined;
    if (t.dtype === 'bool') return [x.map((e) => bool01(ne(e, 0)))];
    if (!['i32', 'i64', 'u32', 'u64', 'i16', 'i8', 'u8', 'u16'].includes(t.dtype)) return undefined;
    return [x];
  },
  Reshape: same, Squeeze: same, Unsqueeze: same, Flatten: same,
  Gather: (n, [x, ind]) => {
    if (!x || !ind || n.attrs.int('axis', 0) !== 0) return undefined;
    const idx = ind.map(constOf);
    if (idx.some((i) => i === undefined)) return undefined;
    const out = idx.map((i) => x[(i! < 0 ? i! + x.length : i!)]);
    return out.some((e) => e === undefined) ? undefined : [out as Expr[]];
  },
  Concat: (n, vals) => {
    if (vals.some((v) => !v) || n.attrs.int('axis', 0) !== 0 && n.attrs.int('axis', 0) !== -1) return undefined;
    return [(vals as Vals[]).flat()];
  },
  Slice: (n, vals) => {
    const x = vals[0];
    if (!x) return undefined;
    const first = (i: number, attr: string, dflt: number): number | undefined => {
      if (n.since < 10) { const a = n.attrs.ints(attr); return a ? (a.length === 1 ? a[0] : undefined) : dflt; }
      if (!vals[i]) return n.has(i) ? undefined : dflt;
      return vals[i]!.length === 1 ? constOf(vals[i]![0]!) : undefined;
    };
    const start = first(1, 'starts', 0), end = first(2, 'ends', x.length), axis = first(3, 'axes', 0), step = n.since < 10 ? 1 : first(4, 'steps', 1);
    if (start === undefined || end === undefined || axis === undefined || step === undefined || step === 0) return undefined;
    if (axis !== 0 && axis !== -1) return undefined;
    const dim = x.length;
    const w = (q: number) => (q < 0 ? q + dim : q);
    const out: Expr[] = [];
    if (step > 0) for (let i = Math.min(Math.max(w(start), 0), dim); i < Math.min(Math.max(w(end), 0), dim); i += step) out.push(x[i]!);
    else for (let i = Math.min(Math.max(w(start), 0), dim - 1); i > Math.min(Math.max(w(end), -1), dim - 1); i += step) out.push(x[i]!);
    return [out];
  },
  Add: (_n, v) => zipWith(v, (a, b) => iadd(a, b)),
  Sub: (_n, v) => zipWith(v, (a, b) => isub(a, b)),
  Mul: (_n, v) => zipWith(v, (a, b) => imul(a, b)),
  Div: (_n, v) => zipWith(v, (a, b) => (constOf(b) === 0 ? binary('div', a, b) : idiv(a, b))),
  Mod: (n, v) => (n.attrs.int('fmod', 0) ? undefined : zipWith(v, (a, b) => imod(a, b))),
  Max: (_n, v) => zipWith(v, (...xs) => xs.reduce((a, b) => imax(a, b))),
  Min: (_n, v) => zipWith(v, (...xs) => xs.reduce((a, b) => imin(a, b))),
  Neg: (_n, v) => zipWith(v, (a) => isub(0, a)),
  Equal: (_n, v) => zipWith(v, (a, b) => bool01(eq(a, b))),
  Less: (_n, v) => zipWith(v, (a, b) => bool01(lt(a, b))),
  Greater: (_n, v) => zipWith(v, (a, b) => bool01(gt(a, b))),
  Not: (_n, v) => zipWith(v, (a) => isub(1, a)),
  Where: (_n, v) => zipWith(v, (cnd, a, b) => iselect(truthy(cnd), a, b)),
  // Symbolic values are 0/1-D, so a reduction reduces everything.
  ReduceProd: (_n, [x]) => (x ? [[prod(x)]] : undefined),
  ReduceSum: (_n, [x]) => (x ? [[x.reduce((a, b) => iadd(a, b), ci(0) as Expr)]] : undefined),
};

export const symEvaluators: Record<string, SymEval> = symEval;

// ---------------------------------------------------------------- the table

export const shapeLowerings: Record<string, OpLowering> = {
  Shape: lowerShape,
  Size: lowerSize,
  ConstantOfShape: lowerConstantOfShape,
  Range: lowerRange,
  NonZero: rejectDataDependent,
  Unique: rejectDataDependent,
  Compress: rejectDataDependent,
  NonMaxSuppression: rejectDataDependent,
  // Generators whose length is an input: folded at compile time when it is known, else data-dependent.
  HannWindow: rejectDataDependent,
  HammingWindow: rejectDataDependent,
  BlackmanWindow: rejectDataDependent,
  MelWeightMatrix: rejectDataDependent,
};
