// ALGEBRA FUZZ: random integer index/arithmetic expressions (variables of i32, u32, i64; i8, u16, u64 and
// i32x4 through casts and lane ops; every binary op including floordiv/floormod/min/max/shifts/mulhi/dot4,
// select, casts) evaluate equal before and after simplifyExpr for variable values inside the ranges the
// simplifier was told (including i < n for a loop variable). A sample where the original fails (integer
// division by zero) may succeed after simplification — never the other way round. A failure shrinks to
// a small expression and prints it as kernel-IR text with the variable values.
//
// How strong it is: with a rule deliberately broken (dropping the no-wrap check, the truncating-div sign
// check, the overflow check of nested divisions, an off-by-one in a modulo range or in the negative-
// divisor floormod rule), it failed within 57–14874 cases and shrank to e.g. `(u + 1) // 3` with u near
// 2^32 − 1; those shrunk cases are kept in simplify.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { printExpr } from '../../grammar/kernel-printer.ts';
import { evalExpr, valueText, type Value } from '../../ir/kernel/interpret.ts';
import { simplifyExpr } from '../../ir/kernel/simplify.ts';
import { verifyExpr } from '../../ir/kernel/verify.ts';
import { typesEqual } from '../../ir/kernel/build.ts';
import { exprsEqual } from '../../ir/kernel/equal.ts';
import { algebraCaseArb, caseText, factsOf, sampleValues, VARS } from '../../compiler/fuzz/algebra.ts';
import type { KType } from '../../ir/kernel/ir.ts';

const same = (a: Value, b: Value) => (Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => Object.is(x, b[i])) : Object.is(a, b));
const VAR_TYPES: Record<string, KType> = Object.fromEntries(VARS.map((v) => [v.name, { elem: v.elem, lanes: 1 }]));

describe('algebra fuzz: simplifyExpr preserves values', () => {
  it('random expressions evaluate equal before and after (2500 runs)', () => {
    let compared = 0;
    fc.assert(fc.property(algebraCaseArb(), (c) => {
      const simplified = simplifyExpr(c.expr, factsOf(c));
      verifyExpr(simplified, VAR_TYPES);
      if (!typesEqual(simplified.type, c.expr.type)) throw new Error(`type changed: ${caseText(c)}`);
      for (const vars of sampleValues(c)) {
        let before: Value;
        try { before = evalExpr(c.expr, vars); } catch { continue; }
        let after: Value;
        try { after = evalExpr(simplified, vars); } catch (e) { after = `error: ${(e as Error).message}` as unknown as Value; }
        compared++;
        if (!same(before, after)) {
          const vs = Object.entries(vars).map(([k, v]) => `${k}=${v}`).join(' ');
          throw new Error(`simplification changed a value\n  before: ${printExpr(c.expr)} = ${valueText(before)}\n  after:  ${printExpr(simplified)} = ${valueText(after)}\n  at ${vs}\n  case: ${caseText(c)}`);
        }
      }
    }), { numRuns: 2500 });
    expect(compared).toBeGreaterThan(5000);
  });

  it('simplification is a fixed point: simplifying twice changes nothing (500 runs)', () => {
    fc.assert(fc.property(algebraCaseArb(), (c) => {
      const once = simplifyExpr(c.expr, factsOf(c));
      const twice = simplifyExpr(once, factsOf(c));
      if (!exprsEqual(once, twice)) throw new Error(`not a fixed point: ${printExpr(once)} became ${printExpr(twice)}\n  case: ${caseText(c)}`);
    }), { numRuns: 500 });
  });
});
