// The WASM math helpers over the whole finite range, where the fuzzer found them wrong (mathlib.ts; scalar and
// v128 helpers, f64 and f32, which is computed in f64):
// - sin/cos/tan: beyond |x| = 2^26 the argument reduction switches from Cody–Waite to Payne–Hanek, which
//   must be exact for every double (Sin(−1.55e28) was Infinity when Cody–Waite ran out of bits). Compared
//   with V8's Math.sin/cos/tan, which reduce exactly too.
// - fmod (ONNX Mod with fmod=1): exact for every pair, as JS % is (fmod(2, 2.16e-24) was off when the
//   quotient passed 2^53).
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWasmModule } from '../../backends/wasm/index.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { WasmExecutor, sequentialPlan } from '../../runtime/wasm/executor.ts';
import type { Kernel, KType, UnaryOp } from '../../ir/kernel/ir.ts';

const OPS = { sin: Math.sin, cos: Math.cos, tan: Math.tan } as const;
const TYPES: KType[] = [d.ty('f64'), d.ty('f64', 2), d.ty('f32'), d.ty('f32', 4)];
const MAX_N = 4096;
const name = (op: string, t: KType) => `${op}_${t.elem}x${t.lanes}`;

function kernel(op: UnaryOp, t: KType): Kernel {
  return {
    name: name(op, t), sizes: [{ name: 'n' }],
    buffers: [
      { name: 'x', elem: t.elem, access: 'read', size: d.v('n'), space: 'global' },
      { name: 'y', elem: t.elem, access: 'write', size: d.v('n'), space: 'global' },
    ],
    body: [d.loop('i', 0, d.v('n'), [d.store('y', d.v('i'), d.un(op, d.load('x', t, d.v('i'))))], { step: t.lanes })],
  };
}

function fmodKernel(t: KType): Kernel {
  const buf = (name: string, access: 'read' | 'write') => ({ name, elem: t.elem, access, size: d.v('n'), space: 'global' as const });
  const at = (b: string) => d.load(b, t, d.v('i'));
  return {
    name: name('fmod', t), sizes: [{ name: 'n' }], buffers: [buf('x', 'read'), buf('z', 'read'), buf('y', 'write')],
    body: [d.loop('i', 0, d.v('n'), [d.store('y', d.v('i'), d.bin('mod', at('x'), at('z')))], { step: t.lanes })],
  };
}

let ex: WasmExecutor;
beforeAll(async () => {
  const kernels = Object.keys(OPS).flatMap((op) => TYPES.map((t) => kernel(op as UnaryOp, t)));
  kernels.push(...TYPES.map(fmodKernel));
  ex = await WasmExecutor.create({ simd: buildWasmModule(kernels).binary },
    sequentialPlan({ x: MAX_N * 8, y: MAX_N * 8, z: MAX_N * 8 }));
}, 120_000);

/** The worst error of op over xs (relative, with a floor far below any result of a finite argument). */
function worstError(op: keyof typeof OPS, t: KType, xs: number[]): { err: number; at: number; got: number } {
  const f32 = t.elem === 'f32';
  const n = Math.ceil(xs.length / 4) * 4;
  const input = f32 ? new Float32Array(n) : new Float64Array(n);
  input.set(xs);
  ex.write('x', input);
  ex.call({ kernel: name(op, t), buffers: ['x', 'y'], sizes: [n] });
  const got = f32 ? ex.read('y', Float32Array) : ex.read('y', Float64Array);
  let worst = { err: 0, at: 0, got: 0 };
  for (let i = 0; i < xs.length; i++) {
    const x = input[i]!, want = f32 ? Math.fround(OPS[op](x)) : OPS[op](x), g = got[i]!;
    const err = Number.isNaN(want) ? (Number.isNaN(g) ? 0 : Infinity)
      : Math.abs(g - want) / Math.max(Math.abs(want), 1e-300);
    if (!(err <= worst.err)) worst = { err, at: x, got: g };
  }
  return worst;
}

// The hardest double for the reduction (closest to a multiple of π/2, Muller's table) and its neighbours,
// the switch-over point, the extremes of both types, and non-finite values (NaN results).
const EDGES = [6381956970095103 * 2 ** 797, -6381956970095103 * 2 ** 797, 5261692873635770 * 2 ** 499,
  2 ** 26, -(2 ** 26), 2 ** 26 - 1, 2 ** 26 + 2 ** -26, 1.5541426154286074e28, -1.5541426154286074e28,
  Number.MAX_VALUE, -Number.MAX_VALUE, 3.4028234663852886e38, -3.4028234663852886e38, 2 ** 1023, 1e300, 1e22,
  Infinity, -Infinity, NaN, 0, -0, 1e-300, 1];
/** Doubles spread over every binade from 2^20 to the top of the type, both signs. */
const hugeDouble = (maxExp: number) => fc.tuple(fc.integer({ min: 20, max: maxExp }), fc.double({ min: 1, max: 2, noNaN: true }),
  fc.boolean()).map(([e, m, s]) => (s ? -1 : 1) * m * 2 ** e);

describe('wasm sin/cos/tan: exact argument reduction for any finite argument', () => {
  for (const t of TYPES) {
    const f32 = t.elem === 'f32';
    const tol = f32 ? 1e-6 : 4e-16;
    for (const op of Object.keys(OPS) as (keyof typeof OPS)[]) {
      it(`${name(op, t)}: edge values`, () => {
        const w = worstError(op, t, EDGES);
        expect(w.err, `${op}(${w.at}) = ${w.got}`).toBeLessThanOrEqual(tol);
      });
      it(`${name(op, t)}: random arguments in every binade above 2^20`, () => {
        fc.assert(fc.property(fc.array(hugeDouble(f32 ? 127 : 1023), { minLength: 1, maxLength: 256 }), (xs) => {
          const w = worstError(op, t, xs);
          expect(w.err, `${op}(${w.at}) = ${w.got}`).toBeLessThanOrEqual(tol);
        }), { numRuns: 40 });
      });
    }
  }
});

/** The pairs whose wasm fmod differs from JS % (bit for bit, ±0 included; any NaN for NaN). */
function fmodMismatches(t: KType, pairs: [number, number][]): string[] {
  const f32 = t.elem === 'f32';
  const n = Math.ceil(pairs.length / 4) * 4;
  const make = () => (f32 ? new Float32Array(n) : new Float64Array(n));
  const xs = make(), zs = make();
  pairs.forEach(([a, b], i) => { xs[i] = a; zs[i] = b; });
  zs.fill(1, pairs.length);
  ex.write('x', xs); ex.write('z', zs);
  ex.call({ kernel: name('fmod', t), buffers: ['x', 'z', 'y'], sizes: [n] });
  const got = f32 ? ex.read('y', Float32Array) : ex.read('y', Float64Array);
  const bad: string[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const want = xs[i]! % zs[i]!, g = got[i]!;
    if (Number.isNaN(want) ? !Number.isNaN(g) : !Object.is(g, want)) bad.push(`fmod(${fmt(xs[i]!)}, ${fmt(zs[i]!)}) = ${fmt(g)}, want ${fmt(want)}`);
  }
  return bad;
}

const FMOD_EDGES = [0, -0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 2 ** -900, 2 ** -970, 1, -1, 3, 0.1, 2 ** 52,
  2 ** 53 + 2, 1e22, 2 ** 960, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE, 3.4028234663852886e38, 1.401298464324817e-45,
  2.1620602707927202e-24, 2, Infinity, -Infinity, NaN];
/** Any double: every binade, both signs, subnormals and edge values. */
const anyDouble = (maxExp: number, minExp: number) => fc.oneof(
  fc.tuple(fc.integer({ min: minExp, max: maxExp }), fc.double({ min: 1, max: 2, noNaN: true }), fc.boolean())
    .map(([e, m, s]) => (s ? -1 : 1) * m * 2 ** e),
  fc.constantFrom(...FMOD_EDGES));

describe('wasm fmod: exact for any pair', () => {
  for (const t of TYPES) {
    const f32 = t.elem === 'f32';
    it(`${name('fmod', t)}: edge pairs`, () => {
      expect(fmodMismatches(t, FMOD_EDGES.flatMap((a) => FMOD_EDGES.map((b): [number, number] => [a, b]))).slice(0, 8)).toEqual([]);
    });
    it(`${name('fmod', t)}: random pairs over the whole range`, () => {
      const v = f32 ? anyDouble(127, -149) : anyDouble(1023, -1074);
      fc.assert(fc.property(fc.array(fc.tuple(v, v), { minLength: 1, maxLength: 256 }), (pairs) => {
        expect(fmodMismatches(t, pairs).slice(0, 8)).toEqual([]);
      }), { numRuns: 40 });
    });
  }
});
const fmt = (x: number) => (Object.is(x, -0) ? '-0' : `${x}`);
