// Accuracy of the WASM backend's math helpers (written in kernel IR, mathlib.ts) over dense sweeps, scalar and
// v128, against double-precision references; and f16/bf16 conversions, exhaustively over all 65 536 patterns.
import { beforeAll, describe, expect, it } from 'vitest';
import { buildWasmModule } from '../../backends/wasm/index.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { WasmExecutor, sequentialPlan } from '../../runtime/wasm/executor.ts';
import type { Kernel, KScalar, KType, UnaryOp } from '../../ir/kernel/ir.ts';
import { erfRef } from '../util/erf-ref.ts';

const N = 1 << 16;


const REF: Record<string, (x: number) => number> = {
  exp: Math.exp, log: Math.log, sin: Math.sin, cos: Math.cos, tan: Math.tan, tanh: Math.tanh, asin: Math.asin,
  acos: Math.acos, atan: Math.atan, sinh: Math.sinh, cosh: Math.cosh, asinh: Math.asinh, acosh: Math.acosh,
  atanh: Math.atanh, erf: erfRef,
};

/** Sweep points: uniform and log-spaced over the domain, plus edge values. */
function sweep(lo: number, hi: number, edges: number[]): number[] {
  const xs: number[] = [...edges];
  const n = 12000;
  for (let i = 0; i <= n; i++) xs.push(lo + ((hi - lo) * i) / n);
  for (const s of [1, -1]) {
    for (let i = 0; i <= n; i++) {
      const v = s * 10 ** (-30 + (32 * i) / n);
      if (v >= lo && v <= hi) xs.push(v);
    }
  }
  return xs;
}
const DOMAINS: Record<string, [number, number, number[]]> = {
  exp: [-87, 88, [0, -0, 1, -1, 1e-30, 88.7, -103, -104, Infinity, -Infinity, NaN]],
  log: [0, 1e30, [0, 1, 2, 1e-38, 1e-45, 0.5, 3.4e38, Infinity, -1, NaN]],
  sin: [-1e4, 1e4, [0, Math.PI, 1e5, -1e5, 1e-30, Infinity, NaN]],
  cos: [-1e4, 1e4, [0, Math.PI, 1e5, Math.PI / 2, NaN]],
  tan: [-1e3, 1e3, [0, 1, 1e-30, NaN]],
  tanh: [-20, 20, [0, -0, 1e-30, 30, -30, 100, Infinity, -Infinity, NaN]],
  asin: [-1, 1, [0, 1, -1, 1e-30, 1.5, NaN]],
  acos: [-1, 1, [0, 1, -1, 0.999999, NaN]],
  atan: [-1e6, 1e6, [0, 1, -1, 1e30, Infinity, -Infinity, NaN]],
  sinh: [-80, 80, [0, 1e-30, 0.5, 1, NaN]],
  cosh: [-80, 80, [0, 1e-30, 1, NaN]],
  asinh: [-1e30, 1e30, [0, 1e-30, 1, -1, 1e10, NaN]],
  acosh: [1, 1e30, [1, 1.0000001, 2, 1e10, 0.5, NaN]],
  atanh: [-1, 1, [0, 1e-30, 0.5, 1, -1, 0.999999, 2, NaN]],
  erf: [-6, 6, [0, 1e-30, 0.5, 1, 2, 3, 4, 5.9, 6, 10, -10, Infinity, NaN]],
};

interface Case { name: string; op: UnaryOp; t: KType; kernel: Kernel; xs: Float64Array }
const cases: Case[] = [];
for (const [op, [lo, hi, edges]] of Object.entries(DOMAINS)) {
  for (const t of [d.ty('f32'), d.ty('f32', 4), d.ty('f64'), d.ty('f64', 2)]) {
    const xs = Float64Array.from(sweep(lo, hi, edges).map((x) => (t.elem === 'f32' ? Math.fround(x) : x)));
    const len = xs.length - (xs.length % 4);
    const name = `${op}.${t.elem}x${t.lanes}`;
    cases.push({
      name, op: op as UnaryOp, t, xs: xs.subarray(0, len),
      kernel: {
        name: `m_${name}`, sizes: [{ name: 'n' }],
        buffers: [
          { name: 'x', elem: t.elem, access: 'read', size: d.v('n'), space: 'global' },
          { name: 'y', elem: t.elem, access: 'write', size: d.v('n'), space: 'global' },
        ],
        body: [d.loop('i', 0, d.v('n'), [d.store('y', d.v('i'), d.un(op as UnaryOp, d.load('x', t, d.v('i'))))], { step: t.lanes })],
      },
    });
  }
}

// f16/bf16: decode every pattern (load → f32), encode f32 → f16/bf16 (store), and cast f64 → f16.
const conv = (name: string, from: KScalar, to: KScalar): Kernel => ({
  name, sizes: [{ name: 'n' }],
  buffers: [
    { name: 'x', elem: from, access: 'read', size: d.v('n'), space: 'global' },
    { name: 'y', elem: to, access: 'write', size: d.v('n'), space: 'global' },
  ],
  body: [d.loop('i', 0, d.v('n'), [d.store('y', d.v('i'), d.cast(to, d.load('x', from, d.v('i'))))])],
});
const roundTrip = (name: string, e: KScalar): Kernel => ({
  name, sizes: [{ name: 'n' }],
  buffers: [
    { name: 'x', elem: e, access: 'read', size: d.v('n'), space: 'global' },
    { name: 'y', elem: e, access: 'write', size: d.v('n'), space: 'global' },
  ],
  // Through f32 and back, and through f64 and back: both must reproduce every non-NaN pattern.
  body: [d.loop('i', 0, d.v('n'), [d.store('y', d.v('i'), d.cast(e, d.cast('f64', d.cast('f32', d.load('x', e, d.v('i'))))))])],
});
const convKernels = [conv('f16_to_f32', 'f16', 'f32'), conv('bf16_to_f32', 'bf16', 'f32'), conv('f32_to_f16', 'f32', 'f16'),
  conv('f32_to_bf16', 'f32', 'bf16'), conv('f64_to_f16', 'f64', 'f16'), conv('f64_to_bf16', 'f64', 'bf16'),
  roundTrip('f16_rt', 'f16'), roundTrip('bf16_rt', 'bf16')];

let ex: WasmExecutor;
beforeAll(async () => {
  const { binary } = buildWasmModule([...cases.map((c) => c.kernel), ...convKernels]);
  const max = Math.max(8 * N, ...cases.map((c) => c.xs.length));
  ex = await WasmExecutor.create({ simd: binary }, sequentialPlan({ x: max * 8, y: max * 8 }));
}, 120_000);

function run(kernel: string, input: ArrayBufferView, n: number): void {
  ex.write('x', input);
  ex.call({ kernel, buffers: ['x', 'y'], sizes: [n] });
}

const f16Decode = (h: number): number => {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
};
const bf16Decode = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0]!;

describe('WASM math helpers: accuracy sweeps', () => {
  const report: string[] = [];
  for (const c of cases) {
    it(c.name, () => {
      const f32 = c.t.elem === 'f32';
      const n = c.xs.length;
      run(c.kernel.name, f32 ? Float32Array.from(c.xs) : c.xs, n);
      const got = f32 ? ex.read('y', Float32Array) : ex.read('y', Float64Array);
      // Error relative to the result, with an absolute floor at the result's scale: trig results near their
      // zeros carry the argument's own rounding (|x|·ulp), which no implementation can remove.
      let worst = 0, at = 0;
      for (let i = 0; i < n; i++) {
        const x = c.xs[i]!, want0 = REF[c.op]!(x);
        const want = f32 ? Math.fround(want0) : want0;
        const g = got[i]!;
        if (Number.isNaN(want)) { expect(g, `${c.name}(${x})`).toBeNaN(); continue; }
        if (!Number.isFinite(want)) { expect(g, `${c.name}(${x})`).toBe(want); continue; }
        const floor = ['sin', 'cos', 'tan'].includes(c.op) ? Math.abs(x) * (f32 ? 6e-8 : 1.2e-16) : f32 ? 1e-37 : 1e-300;
        const err = Math.abs(g - want) / Math.max(Math.abs(want), floor, Number.MIN_VALUE);
        if (err > worst) { worst = err; at = x; }
      }
      report.push(`${c.name}: max rel err ${worst.toExponential(2)} (at ${at})`);
      expect(worst, `${c.name} at x = ${at}`).toBeLessThan(f32 ? 1e-6 : 1e-12);
    });
  }
  it('report', () => { console.log(report.join('\n')); });
});

describe('f16 / bf16 conversions (all 65 536 patterns)', () => {
  const all = Uint16Array.from({ length: N }, (_, i) => i);
  it('f16 → f32 decodes every pattern exactly', () => {
    run('f16_to_f32', all, N);
    const got = ex.read('y', Float32Array);
    const bad: string[] = [];
    for (let h = 0; h < N; h++) {
      const want = f16Decode(h);
      if (Number.isNaN(want) ? !Number.isNaN(got[h]!) : !Object.is(got[h], want)) bad.push(`0x${h.toString(16)}: ${got[h]} vs ${want}`);
    }
    expect(bad).toEqual([]);
  });
  it('bf16 → f32 decodes every pattern exactly', () => {
    run('bf16_to_f32', all, N);
    const got = ex.read('y', Uint32Array);
    const bad: number[] = [];
    for (let h = 0; h < N; h++) if (got[h] !== (h << 16) >>> 0) bad.push(h);
    expect(bad).toEqual([]);
  });
  for (const [e, decode, maxExp] of [['f16', f16Decode, 15], ['bf16', bf16Decode, 127]] as const) {
    it(`f32 → ${e} rounds to nearest even (values, midpoints, their neighbours, overflow, NaN)`, () => {
      // Every finite non-negative pattern v, the midpoint to the next pattern, and one f32 ulp either side.
      const xs: number[] = [], want: number[] = [];
      const inf = e === 'f16' ? 0x7c00 : 0x7f80;
      for (let h = 0; h < inf; h++) {
        const v = decode(h), next = h + 1 === inf ? 2 ** (maxExp + 1) : decode(h + 1);
        const mid = (v + next) / 2;
        const up = new Float32Array([mid]), bits = new Uint32Array(up.buffer);
        bits[0]! += 1; const above = up[0]!;
        up[0] = mid; bits[0]! -= 1; const below = up[0]!;
        const tie = h % 2 === 0 ? h : h + 1;
        xs.push(v, mid, above, below, -v, -mid);
        want.push(h, tie, h + 1, h, h | 0x8000, tie | 0x8000);
      }
      xs.push(NaN, Infinity, -Infinity, 3.4e38);
      want.push(-1, inf, inf | 0x8000, inf);
      const n = xs.length;
      run(e === 'f16' ? 'f32_to_f16' : 'f32_to_bf16', Float32Array.from(xs), n);
      const got = ex.read('y', Uint16Array);
      const bad: string[] = [];
      for (let i = 0; i < n; i++) {
        const ok = want[i] === -1 ? (got[i]! & 0x7fff) > inf : got[i] === (want[i]! & 0xffff);
        if (!ok) bad.push(`${e}(${xs[i]}) = 0x${got[i]!.toString(16)}, want 0x${(want[i]! & 0xffff).toString(16)}`);
      }
      expect(bad.slice(0, 10)).toEqual([]);
    });
    it(`f64 → ${e} rounds once (no double rounding through f32)`, () => {
      // Just above a midpoint of the narrow type by less than half an f32 ulp: rounding through f32 first would
      // land on the midpoint and round to even (down); one rounding goes up.
      const xs: number[] = [], want: number[] = [];
      for (let h = 2; h < (e === 'f16' ? 0x7bff : 0x7f7f); h += 2) {
        const v = decode(h), mid = (v + decode(h + 1)) / 2;
        xs.push(mid * (1 + 2 ** -40), mid * (1 - 2 ** -40));
        want.push(h + 1, h);
      }
      run(e === 'f16' ? 'f64_to_f16' : 'f64_to_bf16', Float64Array.from(xs), xs.length);
      const got = ex.read('y', Uint16Array);
      const bad: string[] = [];
      for (let i = 0; i < xs.length; i++) if (got[i] !== want[i]) bad.push(`${e}(${xs[i]}) = ${got[i]}, want ${want[i]}`);
      expect(bad.slice(0, 10)).toEqual([]);
    });
    it(`${e} → f32 → f64 → ${e} reproduces every non-NaN pattern`, () => {
      run(`${e}_rt`, all, N);
      const got = ex.read('y', Uint16Array);
      const bad: number[] = [];
      for (let h = 0; h < N; h++) if (!Number.isNaN(decode(h)) && got[h] !== h) bad.push(h);
      expect(bad.slice(0, 10)).toEqual([]);
    });
  }
});
