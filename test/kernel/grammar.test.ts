// The textual kernel IR: a sample using every construct round-trips exactly and prints as a fixed point;
// literals get their types from their position; operator precedence and parentheses; malformed text is a
// TesseraError starting with line:column (hand-written cases and random edits of valid text); the graph
// level keeps working with the kernel keywords loaded.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseModel, printModel } from '../../grammar/index.ts';
import { parseKernel, parseKernels } from '../../grammar/kernel-parser.ts';
import { printExpr, printKernel, printKernels } from '../../grammar/kernel-printer.ts';
import { TesseraError } from '../../ir/errors.ts';
import * as K from '../../ir/kernel/build.ts';
import { kernelDiff } from '../../ir/kernel/equal.ts';
import type { Expr, Kernel } from '../../ir/kernel/ir.ts';
import { verifyKernel } from '../../ir/kernel/verify.ts';

const SAMPLE = `kernel everything(buf u32 x[16] readwrite, buf i64 z[4] write, buf f16 h[64 * 4 + 1] readwrite workgroup, buf f32 "odd name"[n] read, buf bool m[n] write; size n, "size") {
  local acc: u32 = 0;
  for i in 0..16 step 2 {
    acc = acc + load x[i] * 3 - -(5:u32);
    if (i < 4) & (acc > 7) {
      store x[i] = 4294967295;
    } else if !(i == 2) {
      store x[i] = acc %% 7;
    } else {
      comment "i is 2";
    }
  }
  let old = atomic add x[0], 1 acq_rel device;
  atomic max x[1], old relaxed workgroup;
  store z[0] = cast<i64>(old) - 9223372036854775807 - 1;
  let v = load<u32x4> x[4] + 1;
  store x[8] = select(extract(v, 0) < 3, extract(v, 1), reduce_add(v));
  comment "hello \\"world\\"";
  parallel for w in 0..4 {
    store h[w] = cast<f16>(w);
    barrier workgroup;
    vector for l in 0..4 {
      store h[w * 4 + l + 16] = load h[(w + 1) %% 4] * -0.0 + 1.5e-5 + nan;
    }
  }
  unroll for i in n - 1 .. n * 2 {
    store m[i %% n] = isnan(load "odd name"[i %% n]) | (bitcast<u32>(load "odd name"[0]) == 0x7fc00000);
  }
  let q = -3 * -(4) // 2 %% 5 << 1 >> 1 | 1 ^ 2 & 3;
  let f = max(sqrt(abs(load "odd name"[0])), -inf) + 1e+30;
  let g = pow(2.0:f64, 0.5) + atan2(1.0, cast<f64>(f)) + 1.0;
  let b = mulhi(7, old) + dot4_u8(old, 1) + cast<u32>(dot4_i8(old, old)) + (old & 0xff);
  let bv = broadcast<f32x4>(1.0) * load<f32x4> "odd name"[0];
  store z[1] = 9223372036854775807;
}
`;

function roundTrip(text: string): Kernel {
  const k = parseKernel(text);
  const printed = printKernel(k);
  const back = parseKernel(printed);
  expect(kernelDiff(k, back)).toBeUndefined();
  expect(printKernel(back)).toBe(printed);
  return k;
}

describe('kernel text round trip', () => {
  it('parses, verifies and round-trips a kernel using every construct', () => {
    const k = roundTrip(SAMPLE);
    verifyKernel(k);
    // Written in canonical form already, except for the hex literal and the spelled-out exponent.
    expect(printKernel(k)).toBe(SAMPLE.replace('0x7fc00000', '2143289344').replace('0xff', '255').replace('1.5e-5', '0.000015'));
  });

  it('prints the add_relu example as in the design', () => {
    const text = `kernel add_relu(buf f32 a[n] read, buf f32 b[n] read, buf f32 y[n] write; size n) {
  parallel for i in 0..n {
    let v = max(load a[i] + load b[i], 0.0);
    store y[i] = v;
  }
}
`;
    expect(printKernel(roundTrip(text))).toBe(text);
  });

  it('reads several kernels, kernels without parameters, and `n-1` as a subtraction', () => {
    const ks = parseKernels(`kernel a() {} kernel b(size n) { let x = n-1; let y = 0..n; }`.replace('let y = 0..n;', 'for i in 0..n-1 {}'));
    expect(ks.map((k) => k.name)).toEqual(['a', 'b']);
    expect(printKernels(ks)).toBe(`kernel a() {}\n\nkernel b(size n) {\n  let x = n - 1;\n  for i in 0..n - 1 {}\n}\n`);
  });

  it('round-trips constants of every type exactly', () => {
    const values: [string, number | bigint][] = [
      ['f32', 0.1], ['f32', -0], ['f32', 3.4028234663852886e38], ['f32', 1.401298464324817e-45], ['f32', NaN], ['f32', -Infinity],
      ['f16', 65504], ['f16', 5.960464477539063e-8], ['bf16', 3.3895313892515355e38], ['f64', 0.1], ['f64', 5e-324],
      ['i8', -128], ['u16', 65535], ['i64', -(2n ** 63n)], ['u64', 2n ** 64n - 1n], ['u32', 4294967295], ['bool', 1],
    ];
    for (const [t, v] of values) {
      const e = K.c(t as 'f32', v);
      const twice = t === 'bool' ? K.and(e, e) : K.add(e, e);
      const k = K.kernel('c', { body: [K.let_('x', e), K.let_('y', twice), K.let_('z', K.select(K.c('bool', true), K.c(t as 'f32', v), e))] });
      const back = parseKernel(printKernel(k));
      expect(kernelDiff(k, back)).toBeUndefined();
    }
  });
});

describe('literal types and precedence', () => {
  const u = K.v('u', 'u32'), i = K.v('i'), f = K.v('f', 'f16');
  const cases: [Expr, string][] = [
    [K.add(u, 1), 'u + 1'],
    [K.add(K.c('u32', 1), u), '1 + u'],
    [K.add(K.c('u32', 3), K.c('u32', 4)), '3:u32 + 4'],
    [K.add(K.c('i32', 3), K.c('i32', 4)), '3 + 4'],
    [K.mul(f, K.c('f16', 0.5)), 'f * 0.5'],
    [K.c('f16', 0.1), '0.1:f16'],
    [K.c({ elem: 'f32', lanes: 4 }, 2), '2.0:f32x4'],
    [K.add(K.broadcast(f, 4), K.c({ elem: 'f16', lanes: 4 }, 1)), 'broadcast<f16x4>(f) + 1.0'],
    [K.mul(K.add(i, 1), 2), '(i + 1) * 2'],
    [K.add(i, K.mul(i, 2)), 'i + i * 2'],
    [K.sub(i, K.sub(i, 1)), 'i - (i - 1)'],
    [K.sub(K.sub(i, i), 1), 'i - i - 1'],
    [K.neg(K.c('i32', 3)), '-(3)'],
    [K.c('i32', -3), '-3'],
    [K.neg(K.neg(i)), '--i'],
    [K.shl(i, K.add(i, 1)), 'i << i + 1'],
    [K.eq(K.and(i, 1), 0), 'i & 1 == 0'],
    [K.and(K.eq(i, 1), K.eq(i, 2)), '(i == 1) & (i == 2)'],
    [K.eq(K.lt(i, 1), K.c('bool', true)), '(i < 1) == true'],
    [K.floordiv(K.floormod(i, 4), 2), 'i %% 4 // 2'],
    [K.floormod(i, K.floordiv(i, 2)), 'i %% (i // 2)'],
    [K.not(K.lt(i, 1)), '!(i < 1)'],
    [K.mul(K.neg(i), i), '-i * i'],
    [K.neg(K.mul(i, i)), '-(i * i)'],
  ];
  it.each(cases.map(([e, t]) => [t, e] as const))('%s', (text, e) => {
    expect(printExpr(e)).toBe(text);
    const vars: Record<string, string> = { u: 'u32', i: 'i32', f: 'f16' };
    const lets = Object.entries(vars).map(([n, t]) => `local ${n}: ${t} = ${t === 'f16' ? '0.0' : '0'};`).join(' ');
    const k = parseKernel(`kernel t() { ${lets} let r = ${text}; }`);
    const r = k.body[3]!;
    expect(r.kind === 'let' && kernelDiff({ ...k, body: [r] }, { ...k, body: [K.let_('r', e)] })).toBeUndefined();
  });

  it('infers a stored literal from the buffer and an assigned one from the local', () => {
    const k = parseKernel(`kernel t(buf f16 h[1] write, buf u8 b[1] write) { local a: i64 = 5; a = 7; store h[0] = 0.5; store b[0] = 255; }`);
    verifyKernel(k);
    expect(printKernel(k)).toContain('store b[0] = 255;');
  });
});

function parseError(text: string): string {
  try { parseKernel(text); } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
    return e.message;
  }
  throw new Error(`expected an error for:\n${text}`);
}

describe('malformed kernel text', () => {
  const k = (body: string, params = 'buf f32 a[n] read, buf f32 y[n] write; size n') => `kernel k(${params}) {\n${body}\n}`;
  const CASES: [string, string, string | RegExp][] = [
    ['empty text', '', "1:1: expected 'kernel' but found the end of the text"],
    ['stray character', k('  let x = 1 $ 2;'), '2:13: unexpected character "$"'],
    ['missing semicolon', k('  let x = 1\n  let y = 2;'), "3:3: expected ';' but found 'let'"],
    ['undefined name', k('  store y[0] = z;'), "2:16: 'z' is not defined"],
    ['undeclared buffer', k('  store w[0] = 1.0;'), "2:9: buffer 'w' is not declared"],
    ['type mismatch', k('  let x = load a[0] + 1;'), '2:21: add needs operands of one type, got f32 and i32'],
    ['store of the wrong type', k('  store y[0] = 1;'), "2:3: store to 'y' (f32) needs a f32 value, got i32"],
    ['unknown function', k('  let x = frob(1);'), "2:11: unknown function 'frob'"],
    ['wrong arity', k('  let x = min(1);'), '2:11: min takes 2 arguments, got 1'],
    ['literal out of range', k('  let x = 300:u8;'), '2:11: 300 is out of range for u8'],
    ['negative literal out of range', k('  let x = -129:i8;'), '2:11: -129 is out of range for i8'],
    ['float literal typed as an integer', k('  let x = 1.5:i32;'), '2:15: a float literal cannot have type i32'],
    ['unknown type', k('  let x = 1:f31;'), /^2:13: unknown type 'f31'/],
    ['chained comparison', k('  let x = 1 < 2 < 3;'), '2:17: comparisons do not chain: add parentheses, e.g. (a < b) & (b < c)'],
    ['duplicate definition', k('  let x = 1;\n  let x = 2;'), "3:7: 'x' is already defined here (names cannot be redefined while visible)"],
    ['shadowing a loop variable', k('  for i in 0..n { let i = 1; }'), "2:23: 'i' is already defined here (names cannot be redefined while visible)"],
    ['assignment to a let', k('  let x = 1;\n  x = 2;'), "3:3: 'x' is a let; only locals can be assigned"],
    ['unknown access', k('', 'buf f32 a[4] reed'), "1:23: unknown buffer access 'reed' (expected read, write, readwrite)"],
    ['unknown memory order', k('', 'buf u32 c[4] readwrite') .replace('{\n', '{\n  atomic add c[0], 1:u32 sometimes device;\n'), "2:26: unknown memory order 'sometimes' (expected relaxed, acquire, release, acq_rel)"],
    ['unknown barrier scope', k('  barrier grid;'), "2:11: unknown memory scope 'grid' (expected workgroup, device)"],
    ['misspelled comment', k('  coment "x";'), /^2:3: expected a statement but found 'coment' followed by a string/],
    ['keyword as a name', k('  let for = 1;'), /^2:7: expected one of a name, a string but found 'for'$/],
    ['vector load of the wrong element type', k('  let x = load<i32x4> a[0];'), "2:16: buffer 'a' holds f32, not i32"],
    ['bad lane', k('  let x = extract(broadcast<f32x4>(1.0), 4);'), '2:11: extract needs a lane of a vector: lane 4 of f32x4'],
    ['unterminated string', k('  comment "abc;'), '2:11: an unterminated string or a bad escape in a string'],
    ['zero step', k('  for i in 0..n step 0 {}'), '2:22: a loop step must be a positive i32, got 0'],
    ['bool negated with -', k('  let b = -true;'), "2:11: a bool literal cannot be negated with '-' (use !)"],
    ['two kernels where one is expected', 'kernel a() {} kernel b() {}', 'expected one kernel, found 2'],
  ];
  it.each(CASES)('%s', (_, text, want) => {
    const msg = parseError(text);
    if (typeof want === 'string') expect(msg).toBe(want);
    else expect(msg).toMatch(want);
  });

  it('random edits of valid text give a kernel or a TesseraError with a place, never another failure (300 runs)', () => {
    const ALPHABET = [...'(){}[]<>;:,.=+-*/%!&|^"#0123456789abcdefghijklmnopqrstuvwxyz _\n'];
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 3 }), fc.constantFrom(...ALPHABET)), { minLength: 1, maxLength: 4 }),
      (edits) => {
        let text = SAMPLE;
        for (const [at, kind, ch] of edits) {
          const p = at % (text.length + 1);
          text = kind === 0 ? text.slice(0, p) + text.slice(p + 1) : kind === 1 ? text.slice(0, p) + ch + text.slice(p) : text.slice(0, p) + ch + text.slice(p + 1);
        }
        try {
          const k = parseKernel(text);
          expect(kernelDiff(k, parseKernel(printKernel(k)))).toBeUndefined();
        } catch (e) {
          if (!(e instanceof TesseraError)) throw e;
          expect(e.message).toMatch(/^(\d+:\d+: |expected one kernel)/);
        }
      },
    ), { numRuns: 300 });
  });
});

describe('the graph level with the kernel keywords loaded', () => {
  it('still parses, and quotes value names that are now keywords', () => {
    const text = `opset { ai.onnx: 17 }\ngraph g (f32[2] load) => (f32[2] y) {\n  y = Relu(load)\n}\n`;
    const m = parseModel(text.replace(/load/g, '"load"'));
    const printed = printModel(m).text;
    expect(printed).toContain('"load"');
    expect(printModel(parseModel(printed)).text).toBe(printed);
  });
});
