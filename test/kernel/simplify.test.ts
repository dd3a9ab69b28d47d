// The simplifier, before → expected in the textual kernel IR (one case per rule family), rules that must
// NOT fire because wrap-around or an unknown range would make them wrong, and the regression cases the
// fuzzers found (each kept in its shrunk form).
import { describe, expect, it } from 'vitest';
import { parseKernel } from '../../grammar/kernel-parser.ts';
import { printExpr, printKernel } from '../../grammar/kernel-printer.ts';
import * as K from '../../ir/kernel/build.ts';
import { kernelDiff } from '../../ir/kernel/equal.ts';
import { evalExpr } from '../../ir/kernel/interpret.ts';
import type { Expr, Kernel } from '../../ir/kernel/ir.ts';
import { simplifyExpr, simplifyKernel } from '../../ir/kernel/simplify.ts';
import { verifyKernel } from '../../ir/kernel/verify.ts';

const HEAD = 'kernel k(buf i32 x[n * 16] read, buf i32 y[64] write, buf f32 f[64] readwrite, buf u32 u[64] readwrite, buf i64 s[4] write, buf f16 h[4] write; size n)';
const kernelOf = (body: string): Kernel => parseKernel(`${HEAD} {\n${body}\n}`);

/** Simplifies `before` and compares with `expected` (both kernel bodies), after checking both verify. */
function check(before: string, expected: string): void {
  const k = kernelOf(before);
  verifyKernel(k);
  const out = simplifyKernel(k);
  verifyKernel(out);
  const want = kernelOf(expected);
  const diff = kernelDiff(out, want);
  if (diff) expect(printKernel(out)).toBe(printKernel(want));
}

const CASES: [string, string, string][] = [
  ['folds constants with the semantics of each type', `
    store y[0] = 2147483647 + 1;
    store u[0] = 0:u32 - 1;
    store s[0] = 9223372036854775807:i64 * 2;
    store y[1] = -7 / 2 + -7 // 2 * 10;
    store y[2] = -7 % 2 + -7 %% 2 * 10;
    store f[0] = 0.1 + 0.2;
    store h[0] = 0.1:f16 + 0.2;
    store y[3] = 1 << 33;
    store u[1] = 4294967295:u32 >> 31;`, `
    store y[0] = -2147483648;
    store u[0] = 4294967295;
    store s[0] = -2;
    store y[1] = -43;
    store y[2] = 9;
    store f[0] = 0.3;
    store h[0] = 0.2998;
    store y[3] = 2;
    store u[1] = 1;`],
  ['integer identities and linear forms; only exact identities on floats', `
    for i in 0..n {
      let v = load f[i];
      store y[i] = (i + 3) + 4 - i * 0;
      store y[i + 1] = (i + 1) * 4 - i * 4;
      store f[i] = v * 1.0 + -0.0;
      store f[i + 1] = v + 0.0 - 0.0;
      store f[i + 2] = v - v;
      store y[i + 2] = i - (i - 5);
    }`, `
    for i in 0..n {
      let v = load f[i];
      store y[i] = i + 7;
      store y[i + 1] = 4;
      store f[i] = v;
      store f[i + 1] = v + 0.0;
      store f[i + 2] = v - v;
      store y[i + 2] = 5;
    }`],
  ['a loop variable within 0..N divides to 0 and is its own remainder', `
    for i in 0..8 { store y[i // 8] = i %% 8; store y[i / 8 + 8] = i % 8 + 8; }`, `
    for i in 0..8 { store y[0] = i; store y[8] = i + 8; }`],
  ['(4·i + j) div/mod 4 with 0 ≤ j < 4 (x[n * 16] bounds n, so 4·i + j cannot wrap)', `
    for i in 0..n { for j in 0..4 { store y[(i * 4 + j) // 4] = (i * 4 + j) %% 4; } }`, `
    for i in 0..n { for j in 0..4 { store y[i] = j; } }`],
  ['the loop bound itself: i mod n, i div n, i < n', `
    for i in 0..n {
      store y[i %% n] = i // n;
      if i < n { store y[i] = 1; } else { store y[i] = 2; }
      if i >= n { store y[0] = 3; }
      store y[i % (n * 2 + 1)] = n %% (n + 1);
    }`, `
    for i in 0..n {
      store y[i] = 0;
      store y[i] = 1;
      store y[i] = n;
    }`],
  ['dead branches, zero-trip and empty loops, empty ifs', `
    if false { store y[0] = 1; } else { store y[1] = 2; }
    for i in 5..3 { store y[i] = 0; }
    for i in 0..n {}
    if n > 3 {} else {}
    for i in 0..n - n { store y[i] = 9; }`, `
    store y[1] = 2;`],
  ['nested divisions and remainders by constants', `
    for i in 0..n { store y[i // 2 // 4] = i %% 8 %% 4; store y[(i * 6) // 3 + 1] = i * 8 %% 4; }`, `
    for i in 0..n { store y[i // 8] = i %% 4; store y[i * 2 + 1] = 0; }`],
  ['ranges of lets and comparisons decide selects and masks', `
    for i in 0..16 {
      let a = i // 4;
      let b = i %% 4;
      store y[a * 4 + b] = select(a < 4, i, 0);
      store y[(a * 4 + b) & 15] = i >> 4;
    }`, `
    for i in 0..16 {
      let a = i // 4;
      let b = i %% 4;
      store y[a * 4 + b] = i;
      store y[a * 4 + b] = 0;
    }`],
  ['a triangular loop: j ≥ i ≥ 0', `
    for i in 0..n { for j in i..n + 1 { store y[min(j, 0)] = max(i, j); } }`, `
    for i in 0..n { for j in i..n + 1 { store y[0] = max(i, j); } }`],
];

const UNCHANGED: [string, string][] = [
  ['(j·2)/2 may have wrapped for an unknown j', `let j = load x[0]; store y[1] = j * 2 / 2;`],
  ['(v + 1) // 3 wraps for v = 2^32 − 1', `let v = load u[0]; store u[1] = (v + 1) // 3;`],
  ['(32·i + 2·j + 1) div 2 may exceed i32 for i < n ≤ 2^27', `for i in 0..n { for j in 0..4 { store y[(i * 32 + j * 2 + 1) // 2] = 0; } }`],
  ['locals get no facts: they change', `local acc: i32 = 0; for i in 0..4 { acc = acc + 1; } store y[acc %% 16] = acc // 64;`],
  ['x + 0.0 is not x for x = −0', `let v = load f[0]; store f[1] = v + 0.0;`],
  ['a division by zero stays in the program', `store y[0] = 1 / (n - n + 0 * n);`],
];

describe('simplifyKernel: before → expected', () => {
  it.each(CASES)('%s', (_, before, expected) => check(before, expected));
  it.each(UNCHANGED)('leaves alone: %s', (_, body) => check(body, body.replace('(n - n + 0 * n)', '0')));
});

describe('simplifyExpr', () => {
  const i = K.v('i'), j = K.v('j'), n = K.v('n');
  const facts = new Map([['i', { lo: 0n, hi: 99n, below: n }], ['j', { lo: 0n, hi: 3n }], ['n', { lo: 1n, hi: 100n }]]);
  const cases: [string, ReturnType<typeof K.add>, string][] = [
    ['floordiv split', K.floordiv(K.add(K.mul(i, 4), j), 4), 'i'],
    ['floormod split', K.floormod(K.add(K.mul(i, 4), K.add(j, 8)), 4), 'j'],
    ['trunc div of a non-negative sum', K.div(K.add(K.mul(i, 12), 7), 4), 'i * 3 + 1'],
    ['symbolic bound', K.floormod(i, n), 'i'],
    ['comparison through the linear difference', K.lt(K.add(K.mul(i, 4), j), K.add(K.mul(i, 4), 4)), 'true'],
    ['constants move right, like terms combine', K.sub(K.add(K.c('i32', 3), i), K.add(i, 1)), '2'],
    ['unsigned shift of a known range', K.shr(K.cast('u32', j), K.c('u32', 2)), '0:u32'],
    ['cast round trip that loses nothing', K.cast('i32', K.cast('u8', j)), 'j'],
    ['not of a comparison', K.not(K.lt(i, j)), 'i >= j'],
    ['select with equal arms', K.select(K.lt(i, j), j, j), 'j'],
  ];
  it.each(cases)('%s', (_, e, want) => {
    expect(printExpr(simplifyExpr(e, facts))).toBe(want);
  });

  it('keeps expressions it cannot prove anything about', () => {
    const e = K.floordiv(K.add(K.mul(i, 4), j), 4);
    expect(printExpr(simplifyExpr(e))).toBe('(i * 4 + j) // 4');
  });
});

describe('regressions found by the fuzzers', () => {
  it('renames definitions again when a renamed branch is spliced twice into one block (kernel fuzzer, seed 3)', () => {
    // Splicing the outer `if true` renamed every `t` in its branch to `t_1`, including the one of the
    // inner `if true`; splicing that one next put two `let t_1` into the same block.
    const k = parseKernel(`kernel k(buf i32 y[4] write) {
      if true { if true { let t = 1; store y[t] = t; } let t = 2; store y[t] = t; }
      let t = 3;
      store y[t] = t;
    }`);
    const out = simplifyKernel(k);
    verifyKernel(out);
    expect(printKernel(out)).toBe(`kernel k(buf i32 y[4] write) {
  let t_1_1 = 1;
  store y[1] = 1;
  let t_1 = 2;
  store y[2] = 2;
  let t = 3;
  store y[3] = 3;
}
`);
  });

  it('keeps the values of the shrunk cases of the mutation runs of the algebra fuzzer', () => {
    // Each broke one deliberately weakened rule (see algebra-fuzz.property.test.ts); the real rules
    // must keep every value at the ends and middle of the ranges.
    const u = K.v('u', 'u32'), q = K.v('q', 'i64'), j = K.v('j'), n = K.v('n');
    const cases: [Expr, Record<string, [bigint, bigint]>][] = [
      [K.floordiv(K.add(u, 1), 3), { u: [2n ** 32n - 2n, 2n ** 32n - 1n] }], // the sum wraps: no split
      [K.div(K.sub(K.c('i64', 0n), K.add(q, -5)), 5), { q: [0n, 1n] }], // negative dividend of a truncating div
      [K.floordiv(K.floordiv(u, 8), K.select(K.c('bool', true), K.c('u32', 536870912), u)), { u: [0n, 2n ** 32n - 1n] }], // 8·2^29 overflows u32
      [K.mod(K.not(K.floormod(K.mod(j, 4), -3)), 3), { j: [-(2n ** 31n), -(2n ** 31n) + 1n] }], // floormod by a negative divisor
      [K.div(K.sub(K.abs(n), 2), 7), { n: [1n, 1001n] }], // abs(n) − 2 can be −1
      [K.mod(K.add(K.div(n, 1), 0), 2), { n: [1n, 2n] }], // the range of a remainder is [0, m − 1]
    ];
    for (const [e, ranges] of cases) {
      const facts = new Map(Object.entries(ranges).map(([k, [lo, hi]]) => [k, { lo, hi }]));
      const simple = simplifyExpr(e, facts);
      for (const pick of [0n, 1n, 2n]) {
        const vars = Object.fromEntries(Object.entries(ranges).map(([k, [lo, hi]]) => {
          const x = pick === 0n ? lo : pick === 1n ? hi : (lo + hi) / 2n;
          return [k, k === 'q' ? x : Number(x)];
        }));
        expect(evalExpr(simple, vars), `${printExpr(e)} → ${printExpr(simple)} at ${JSON.stringify(vars, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`).toBe(evalExpr(e, vars));
      }
    }
  });
});
