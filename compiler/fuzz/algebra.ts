// fast-check arbitraries of integer index/arithmetic expressions for the algebra fuzzer: typed trees over
// i32, u32, i64 (plus i8, u16, u64 through casts and an i32x4 vector; bool conditions in between) with
// every binary op, select, casts, unary ops and lane ops, over a
// fixed set of variables whose value ranges are generated too (like loop variables). Built from
// recursive arbitraries, so failures shrink structurally to small expressions.
import fc from 'fast-check';
import * as K from '../../ir/kernel/build.ts';
import type { Expr, KScalar, KType } from '../../ir/kernel/ir.ts';
import type { Scalar } from '../../ir/kernel/interpret.ts';
import type { VarFacts } from '../../ir/kernel/simplify.ts';
import { printExpr } from '../../grammar/kernel-printer.ts';

export type IntElem = 'i32' | 'u32' | 'i64';
/** Expression types: the variables' types, narrow and wide ones reached through casts, and a vector. */
type TreeType = IntElem | 'i8' | 'u16' | 'u64' | 'i32x4';
const SCALAR_TREES: Exclude<TreeType, 'i32x4'>[] = ['i32', 'u32', 'i64', 'i8', 'u16', 'u64'];

/** The variables: `i` is a loop variable with `i < n` known, the others have generated ranges. */
export const VARS: { name: string; elem: IntElem }[] = [
  { name: 'n', elem: 'i32' }, { name: 'i', elem: 'i32' }, { name: 'j', elem: 'i32' },
  { name: 'u', elem: 'u32' }, { name: 'w', elem: 'u32' }, { name: 'p', elem: 'i64' }, { name: 'q', elem: 'i64' },
];
const varsOf = (e: string) => VARS.filter((v) => v.elem === e).map((v) => v.name);

const ARITH_OPS = ['add', 'sub', 'mul', 'div', 'mod', 'floordiv', 'floormod', 'min', 'max', 'and', 'or', 'xor', 'shl', 'shr'] as const;
const DIV_OPS = ['div', 'mod', 'floordiv', 'floormod'] as const;
const CMP_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;

const isBig = (e: KScalar) => e === 'i64' || e === 'u64';

function interestingConsts(e: Exclude<TreeType, 'i32x4'>): fc.Arbitrary<number | bigint> {
  const [lo, hi] = K.intRange(e);
  const fixed = [0n, 1n, 2n, 3n, 4n, 7n, 8n, 16n, 31n, 32n, 255n, 256n, -1n, -2n, -8n, lo, hi, hi - 1n, lo + 1n, 2n ** 31n, 2n ** 32n]
    .filter((x) => x >= lo && x <= hi);
  const small = [lo > -100n ? lo : -100n, hi < 100n ? hi : 100n] as const;
  const conv = (x: bigint) => (isBig(e) ? x : Number(x));
  return fc.oneof(
    fc.constantFrom(...fixed),
    fc.bigInt({ min: small[0], max: small[1] }),
    fc.bigInt({ min: lo, max: hi }),
  ).map(conv);
}

const divisorConsts = (e: Exclude<TreeType, 'i32x4'>) => {
  const [lo, hi] = K.intRange(e);
  const ds = [1n, 2n, 3n, 4n, 8n, 16n, 5n, 7n, -1n, -3n, -4n, 2n ** 31n, hi].filter((x) => x >= lo && x <= hi);
  return fc.constantFrom(...ds).map((v) => (isBig(e) ? v : Number(v)));
};

type Trees = Record<TreeType | 'bool', Expr>;
const V4: KType = { elem: 'i32', lanes: 4 };

/** Random typed expressions; `maxDepth` bounds the nesting. */
export function exprArb(maxDepth = 5): fc.Arbitrary<Expr> {
  const trees = fc.letrec<Trees>((tie) => {
    const opts = { maxDepth, depthIdentifier: 'expr', withCrossShrink: true };
    const intTree = (e: Exclude<TreeType, 'i32x4'>): fc.Arbitrary<Expr> => {
      const t = tie(e);
      const vars = varsOf(e);
      const leaf = fc.oneof(
        vars.length > 0
          ? { arbitrary: fc.constantFrom(...vars).map((name) => K.v(name, e)), weight: 3 }
          : { arbitrary: fc.constantFrom(...VARS).map((v) => K.cast(e, K.v(v.name, v.elem))), weight: 2 },
        { arbitrary: interestingConsts(e).map((v) => K.c(e, v)), weight: 2 },
      );
      const extra: fc.WeightedArbitrary<Expr>[] = [];
      if (e === 'i32' || e === 'u32') {
        extra.push({ arbitrary: fc.tuple(t, t).map(([a, b]) => K.mulhi(a, b)), weight: 1 });
        extra.push({ arbitrary: fc.tuple(tie('u32'), tie('u32')).map(([a, b]) => (e === 'i32' ? K.dot4_i8(a, b) : K.dot4_u8(a, b))), weight: 1 });
      }
      if (e === 'i32') {
        extra.push({ arbitrary: fc.tuple(tie('i32x4'), fc.integer({ min: 0, max: 3 })).map(([v, l]) => K.extract(v, l)), weight: 1 });
        extra.push({ arbitrary: fc.tuple(fc.constantFrom('add', 'min', 'max') as fc.Arbitrary<'add' | 'min' | 'max'>, tie('i32x4')).map(([op, v]) => K.reduceLanes(op, v)), weight: 1 });
      }
      // The first alternative is what fast-check picks at the depth limit: a leaf.
      return fc.oneof(opts,
        { arbitrary: leaf, weight: 3 },
        { arbitrary: fc.tuple(fc.constantFrom(...ARITH_OPS), t, t).map(([op, a, b]) => K.binary(op, a, b)), weight: 4 },
        // Divisions by constants and index-shaped terms hit the interesting rules far more often.
        { arbitrary: fc.tuple(fc.constantFrom(...DIV_OPS), t, divisorConsts(e)).map(([op, a, d]) => K.binary(op, a, K.c(e, d))), weight: 3 },
        { arbitrary: fc.tuple(fc.constantFrom('add', 'mul', 'sub'), t, interestingConsts(e)).map(([op, a, v]) => K.binary(op, a, K.c(e, v))), weight: 2 },
        { arbitrary: fc.tuple(tie('bool'), t, t).map(([c, a, b]) => K.select(c, a, b)), weight: 1 },
        { arbitrary: fc.tuple(fc.constantFrom('neg', 'abs', 'not', 'sign') as fc.Arbitrary<'neg' | 'abs' | 'not' | 'sign'>, t).map(([op, a]) => K.unary(op, a)), weight: 1 },
        { arbitrary: fc.constantFrom(...SCALAR_TREES.filter((x) => x !== e)).chain((from) => tie(from)).map((a) => K.cast(e, a)), weight: 1 },
        { arbitrary: tie('bool').map((a) => K.cast(e, a)), weight: 1 },
        ...extra,
      );
    };
    const t4 = tie('i32x4');
    return {
      i32: intTree('i32'),
      u32: intTree('u32'),
      i64: intTree('i64'),
      i8: intTree('i8'),
      u16: intTree('u16'),
      u64: intTree('u64'),
      i32x4: fc.oneof({ ...opts, maxDepth: 3 },
        tie('i32').map((a) => K.broadcast(a, 4)),
        interestingConsts('i32').map((v) => K.c(V4, v)),
        fc.tuple(fc.constantFrom(...ARITH_OPS), t4, t4).map(([op, a, b]) => K.binary(op, a, b)),
        fc.tuple(fc.constantFrom(...DIV_OPS), t4, divisorConsts('i32')).map(([op, a, d]) => K.binary(op, a, K.c(V4, d))),
        fc.tuple(fc.constantFrom(...CMP_OPS), t4, t4, t4, t4).map(([op, a, b, x, y]) => K.select(K.binary(op, a, b), x, y)),
      ),
      bool: fc.oneof(opts,
        fc.boolean().map((b) => K.c('bool', b)),
        fc.tuple(fc.constantFrom(...CMP_OPS), fc.constantFrom(...SCALAR_TREES)).chain(([op, e]) =>
          fc.tuple(tie(e), tie(e)).map(([a, b]) => K.binary(op, a, b))),
        fc.tuple(fc.constantFrom('and', 'or', 'xor', 'eq', 'ne') as fc.Arbitrary<'and' | 'or' | 'xor' | 'eq' | 'ne'>, tie('bool'), tie('bool')).map(([op, a, b]) => K.binary(op, a, b)),
        tie('bool').map((a) => K.not(a)),
        fc.constantFrom(...SCALAR_TREES).chain((e) => tie(e)).map((a) => K.cast('bool', a)),
      ),
    };
  });
  return fc.oneof(trees.i32, trees.i32, trees.u32, trees.i64, trees.i8, trees.u64);
}

/** A variable's range as generated: lo ≤ v ≤ hi. */
export interface VarRange { lo: bigint; hi: bigint }

function rangeArb(e: IntElem): fc.Arbitrary<VarRange> {
  const [tlo, thi] = K.intRange(e as KScalar);
  const r = (lo: bigint, hi: bigint) => ({ lo, hi });
  return fc.oneof(
    fc.bigInt({ min: 0n, max: 40n }).map((hi) => r(0n, hi)),
    fc.tuple(fc.bigInt({ min: tlo < -20n ? -20n : tlo, max: 20n }), fc.bigInt({ min: 0n, max: 40n })).map(([lo, w]) => r(lo, lo + w)),
    fc.constant(r(tlo, thi)),
    fc.bigInt({ min: 0n, max: 40n }).map((w) => r(thi - w, thi)),
    fc.bigInt({ min: 0n, max: 40n }).map((w) => r(tlo, tlo + w)),
  );
}

export interface AlgebraCase {
  expr: Expr;
  /** Ranges per variable (i's upper bound comes from n: i < n). */
  ranges: Record<string, VarRange>;
  /** Sample positions in [0, 1) per variable, 8 samples (the first two are forced to lo and hi). */
  samples: number[][];
}

export function algebraCaseArb(): fc.Arbitrary<AlgebraCase> {
  const ranges = fc.record(Object.fromEntries(VARS.map((v) => [v.name, rangeArb(v.elem)]))) as fc.Arbitrary<Record<string, VarRange>>;
  const samples = fc.array(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: VARS.length, maxLength: VARS.length }), { minLength: 6, maxLength: 6 });
  return fc.record({ expr: exprArb(), ranges, samples }).map((c) => {
    // i is a loop variable over 0..n: n ∈ [1, H + 1], i ∈ [0, H].
    const h = c.ranges.n!.hi < 0n ? 0n : c.ranges.n!.hi > 1000n ? 1000n : c.ranges.n!.hi;
    const ranges = { ...c.ranges, n: { lo: 1n, hi: h + 1n }, i: { lo: 0n, hi: h } };
    return Object.assign({ ...c, ranges }, { [fc.toStringMethod]: () => caseText({ ...c, ranges }) });
  });
}

/** The facts the simplifier gets: every range, and i < n. */
export function factsOf(c: AlgebraCase): Map<string, VarFacts> {
  const facts = new Map<string, VarFacts>();
  for (const v of VARS) facts.set(v.name, { ...c.ranges[v.name]! });
  facts.get('i')!.below = K.v('n');
  return facts;
}

/** Concrete variable values for each sample: lo, hi, then the generated positions (i always below n). */
export function sampleValues(c: AlgebraCase): Record<string, Scalar>[] {
  const pick = (r: VarRange, x: number): bigint => r.lo + BigInt(Math.floor(x * Number(r.hi - r.lo + 1n)));
  const rows: number[][] = [VARS.map(() => 0), VARS.map(() => 0.999999999), ...c.samples];
  return rows.map((row) => {
    const out: Record<string, Scalar> = {};
    VARS.forEach((v, k) => {
      let r = c.ranges[v.name]!;
      if (v.name === 'i') r = { lo: 0n, hi: BigInt((out.n as number) - 1) }; // n ≥ 1
      const x = pick(r, row[k]!);
      out[v.name] = v.elem === 'i64' ? x : Number(x);
    });
    return out;
  });
}

export function caseText(c: Pick<AlgebraCase, 'expr' | 'ranges'>): string {
  const rs = VARS.map((v) => `${v.name}:${v.elem} in [${c.ranges[v.name]!.lo}, ${c.ranges[v.name]!.hi}]`).join(', ');
  return `${printExpr(c.expr)}   where ${rs}, i < n`;
}
