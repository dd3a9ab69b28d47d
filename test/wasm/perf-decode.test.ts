// The WASM paths a decoding step (stories260K: causal attention over a 512-slot KV cache) runs on, against
// the reference and the kernel-IR interpreter: Softmax/LogSoftmax rows in 4 lanes (masked −∞ tails, NaN,
// odd and symbolic lengths), exp's underflow guard (+0 exactly where the helper itself gives +0),
// select(p > q, p, q) as one pmax/pmin, Transpose of short rows, copy loops as memory.copy, and bool lane
// masks loaded in one load.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildWasmModule } from '../../backends/wasm/index.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { compileModel } from '../../compiler/compile.ts';
import { compareTensors } from '../../compiler/compare.ts';
import { interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Expr, Kernel, KScalar, KType, Stmt } from '../../ir/kernel/ir.ts';
import type { DType } from '../../ir/dtype.ts';
import { Tensor } from '../../ir/tensor.ts';
import { ReferenceInterpreter } from '../../runtime/reference.ts';
import { Session } from '../../runtime/session.ts';
import { WasmExecutor, sequentialPlan } from '../../runtime/wasm/executor.ts';
import { mismatch, modelOf, randomValues, rng, seedArb } from '../lower/helpers.ts';

const N = d.v('n');
const buf = (name: string, elem: KScalar, access: 'read' | 'write' | 'readwrite' = 'read', size: Expr = N) =>
  ({ name, elem, access, size, space: 'global' as const });

/** Runs one kernel through WASM (plain SIMD128) and returns every buffer's bytes; also the module text. */
async function runWasm(k: Kernel, inputs: Record<string, ArrayBufferView>, sizes: Record<string, number> = {}) {
  const { binary, text } = buildWasmModule([k], { text: true });
  const plan = sequentialPlan(Object.fromEntries(k.buffers.map((b) => [b.name, inputs[b.name]!.byteLength])));
  const ex = await WasmExecutor.create({ simd: binary }, plan);
  for (const [name, data] of Object.entries(inputs)) ex.write(name, data);
  ex.call({ kernel: k.name, buffers: k.buffers.map((b) => b.name), sizes: k.sizes.map((s) => sizes[s.name]!) });
  return { out: Object.fromEntries(k.buffers.map((b) => [b.name, ex.bytes(b.name).slice()])), text: text! };
}
function interp(k: Kernel, inputs: Record<string, BufferData>, sizes: Record<string, number> = {}): Record<string, BufferData> {
  return interpretKernel(k, { buffers: Object.fromEntries(Object.entries(inputs).map(([n, a]) => [n, a.slice() as BufferData])), sizes });
}
const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
const f64 = (b: Uint8Array) => new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);

/** Rows of random scores whose tail from a random position on is −∞ (a causal mask), some rows NaN or all −∞. */
function maskedRows(rows: number, len: number, seed: number): Tensor {
  const r = rng(seed);
  const data = new Float32Array(rows * len);
  for (let i = 0; i < rows; i++) {
    const valid = Math.floor(r() * (len + 1));
    for (let j = 0; j < len; j++) data[i * len + j] = j < valid ? (r() - 0.5) * 20 : -Infinity;
    if (r() < 0.1) data[i * len + Math.floor(r() * len)] = NaN;
  }
  return Tensor.from('f32', [rows, len], data);
}
const softmaxModel = (op: string, shape: (number | string)[]) => modelOf({
  inputs: [{ name: 'x', dtype: 'f32', shape }], outputs: [{ name: 'y', dtype: 'f32' }],
  nodes: [{ op, inputs: ['x'], outputs: ['y'], attrs: { axis: -1 } }], opset: 13,
});

describe('Softmax rows in 4 lanes (target wasm)', () => {
  it('agree with the reference on the kernel interpreter: odd lengths, masked tails, NaN, all −∞ rows', () => {
    fc.assert(fc.property(fc.constantFrom('Softmax', 'LogSoftmax'), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 23 }), seedArb, (op, rows, len, seed) => {
      expect(mismatch(softmaxModel(op, [rows, len]), { x: maskedRows(rows, len, seed) }, { target: 'wasm', atol: 1e-6 })).toBeUndefined();
    }), { numRuns: 60 });
  });

  it('agree with the reference through WASM: symbolic lengths, and the decode shape [8, 512]', async () => {
    for (const op of ['Softmax', 'LogSoftmax']) {
      const model = softmaxModel(op, ['R', 'L']);
      const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
      for (const [rows, len] of [[1, 1], [3, 3], [2, 4], [3, 7], [2, 13], [8, 512]] as const) {
        const feeds = { x: maskedRows(rows, len, rows * 100 + len) };
        const got = (await session.run(feeds)).y!;
        expect(compareTensors(got, new ReferenceInterpreter(model).run(feeds).y as Tensor, { rtol: 1e-5, atol: 1e-6 }), `${op} ${rows}x${len}`).toBeUndefined();
      }
    }
  });
});

describe("exp's underflow guard", () => {
  // Arguments around both cuts (f32: −104, the helper's first nonzero result at −103.972; f64: −746, −745.133).
  const X = [-Infinity, -1e30, -1e4, -800, -746.5, -746, -745.5, -745.2, -745.1, -200, -110, -104.5, -104, -103.99, -103.98, -103.97,
    -103.9, -100, -90, -87.5, -1, -0, 0, 1, 88, 89, Infinity, NaN];
  const kernel = (elem: 'f32' | 'f64'): Kernel => {
    const lanes = elem === 'f32' ? 4 : 2;
    const V: KType = { elem, lanes }, S: KType = { elem, lanes: 1 };
    return {
      name: `exp_${elem}`, sizes: [{ name: 'n' }], buffers: [buf('x', elem), buf('v', elem, 'write'), buf('s', elem, 'write')],
      body: [
        d.loop('i', 0, N, [d.store('v', d.v('i'), d.un('exp', d.load('x', V, d.v('i'))))], { step: lanes }),
        d.loop('j', 0, N, [d.store('s', d.v('j'), d.un('exp', d.load('x', S, d.v('j'))))]),
      ],
    };
  };

  for (const elem of ['f32', 'f64'] as const) {
    it(`${elem}: +0 below the cut, in every lane of a vector and alone; mixed vectors keep their finite lanes`, async () => {
      const A = elem === 'f32' ? Float32Array : Float64Array;
      const view = elem === 'f32' ? f32 : f64;
      // Every argument alone in an otherwise −∞ vector, then the list in order (lanes of mixed magnitude).
      const lanes = elem === 'f32' ? 4 : 2;
      const xs = [...X.flatMap((x) => [x, ...Array(lanes - 1).fill(-Infinity)]), ...X];
      while (xs.length % lanes) xs.push(0);
      const x = A.from(xs), n = xs.length;
      const { out } = await runWasm(kernel(elem), { x, v: new A(n), s: new A(n) }, { n });
      const vec = view(out.v!), one = view(out.s!);
      const cut = elem === 'f32' ? -103.9721 : -745.1333;
      for (let i = 0; i < n; i++) {
        expect(Object.is(vec[i], one[i]), `exp(${xs[i]}) lane ${i % lanes}: vector ${vec[i]}, scalar ${one[i]}`).toBe(true);
        if (xs[i]! < cut) expect(Object.is(one[i], 0), `exp(${xs[i]})`).toBe(true);
        else if (Number.isNaN(xs[i])) expect(one[i]).toBeNaN();
        else expect(one[i]!, `exp(${xs[i]})`).toBeGreaterThan(0);
      }
    });
  }
});

describe('select(p > q, p, q) on vectors is pmax / pmin', () => {
  const SPECIAL = [NaN, -0, 0, -Infinity, Infinity, 1, -1, 2.5];
  for (const elem of ['f32', 'f64'] as const) {
    it(`${elem}: the four forms, lane for lane as select computes them (NaN, ±0, ±∞)`, async () => {
      const lanes = elem === 'f32' ? 4 : 2;
      const V: KType = { elem, lanes };
      const a = d.load('a', V, d.v('i')), b = d.load('b', V, d.v('i'));
      const forms: [string, Expr, (x: number, y: number) => number][] = [
        ['y0', d.select(d.gt(a, b), a, b), (x, y) => (x > y ? x : y)],
        ['y1', d.select(d.lt(a, b), a, b), (x, y) => (x < y ? x : y)],
        ['y2', d.select(d.gt(a, b), b, a), (x, y) => (x > y ? y : x)],
        ['y3', d.select(d.lt(a, b), b, a), (x, y) => (x < y ? y : x)],
      ];
      const k: Kernel = {
        name: `pm_${elem}`, sizes: [{ name: 'n' }], buffers: [buf('a', elem), buf('b', elem), ...forms.map(([y]) => buf(y, elem, 'write'))],
        body: [d.loop('i', 0, N, forms.map(([y, e]) => d.store(y, d.v('i'), e)), { step: lanes })],
      };
      const A = elem === 'f32' ? Float32Array : Float64Array;
      const pairs = SPECIAL.flatMap((x) => SPECIAL.map((y) => [x, y] as const));
      const av = A.from(pairs.map(([x]) => x)), bv = A.from(pairs.map(([, y]) => y)), n = pairs.length;
      const { out, text } = await runWasm(k, { a: av, b: bv, ...Object.fromEntries(forms.map(([y]) => [y, new A(n)])) }, { n });
      expect(text).toContain(`${elem}x${lanes}.pmax`);
      expect(text).toContain(`${elem}x${lanes}.pmin`);
      const view = elem === 'f32' ? f32 : f64;
      for (const [y, , f] of forms) {
        const got = view(out[y]!);
        pairs.forEach(([x, z], i) => expect(Object.is(got[i], f(x, z)), `${y}(${x}, ${z}) = ${got[i]}`).toBe(true));
      }
    });
  }
});

describe('Transpose of short rows (target wasm)', () => {
  const transposeModel = (dtype: DType, shape: number[], perm: number[]) => modelOf({
    inputs: [{ name: 'x', dtype, shape }], outputs: [{ name: 'y', dtype }],
    nodes: [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attrs: { perm } }], opset: 13,
  });
  const CASES: [DType, number[], number[]][] = [
    ['f32', [1, 4, 512, 8], [0, 1, 3, 2]], // a KV cache's keys, as attention transposes them
    ['f32', [3, 4], [1, 0]], ['i32', [2, 5, 12], [2, 0, 1]], ['f32', [2, 3, 16], [1, 2, 0]], ['u32', [5, 8], [1, 0]],
    ['f32', [2, 3, 6], [0, 2, 1]], // a row of 6: the general copy
  ];
  it('agree with the reference on the kernel interpreter and through WASM', async () => {
    for (const [dtype, shape, perm] of CASES) {
      const model = transposeModel(dtype, shape, perm);
      const feeds = { x: randomValues(dtype, shape, shape.length * 7 + perm[0]!) };
      expect(mismatch(model, feeds, { target: 'wasm' }), `${shape} ${perm}`).toBeUndefined();
      const session = await Session.create((await compileModel(model, { target: 'wasm' })).files, { backend: 'wasm' });
      expect(compareTensors((await session.run(feeds)).y!, new ReferenceInterpreter(model).run(feeds).y as Tensor, { rtol: 0, atol: 0 }), `${shape} ${perm}`).toBeUndefined();
    }
  });
});

describe('copy loops as memory.copy', () => {
  const copyKernel = (elem: KScalar, lanes: KType['lanes']): Kernel => ({
    name: `cp_${elem}_${lanes}`, sizes: [{ name: 's' }, { name: 'e' }], buffers: [buf('x', elem, 'read', d.c(64)), buf('y', elem, 'write', d.c(64))],
    body: [d.loop('i', d.v('s'), d.v('e'), [d.store('y', d.v('i'), d.load('x', { elem, lanes }, d.v('i')))], { step: lanes })],
  });
  it('moves what the loop moves (whole steps from start, nothing when end ≤ start), bit for bit', async () => {
    const arrays = {
      f32: () => Float32Array.from({ length: 64 }, (_, i) => i * 1.5 - 7), u8: () => Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 255),
      i64: () => BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i) * -123456789012n), f64: () => Float64Array.from({ length: 64 }, (_, i) => i / 3),
    };
    for (const [elem, lanes] of [['f32', 4], ['f32', 1], ['u8', 16], ['i64', 2], ['f64', 1]] as const) {
      const k = copyKernel(elem, lanes);
      for (const [s, e] of [[0, 0], [0, 4], [3, 17], [8, 5], [0, 48], [1, 2]] as const) {
        const x = arrays[elem](), y = arrays[elem]().fill((elem === 'i64' ? 99n : 99) as never);
        const { out, text } = await runWasm(k, { x, y }, { s, e });
        expect(text).toContain('memory.copy');
        const want = interp(k, { x, y }, { s, e }).y!;
        expect([...out.y!], `${elem}x${lanes} [${s}, ${e})`).toEqual([...new Uint8Array(want.buffer, want.byteOffset, want.byteLength)]);
      }
    }
  });
});

describe('bool lane masks in one load', () => {
  it('select over a bool vector of 4, 8 and 16 lanes (f32, i16, i8 data) matches the interpreter', async () => {
    const r = rng(5);
    for (const [elem, lanes] of [['f32', 4], ['i16', 8], ['i8', 16]] as const) {
      const V: KType = { elem, lanes };
      const body: Stmt[] = [d.loop('i', 0, N, [d.store('y', d.v('i'),
        d.select(d.load('m', { elem: 'bool', lanes }, d.v('i')), d.load('a', V, d.v('i')), d.load('b', V, d.v('i'))))], { step: lanes })];
      const k: Kernel = { name: `w_${elem}`, sizes: [{ name: 'n' }], buffers: [buf('m', 'bool'), buf('a', elem), buf('b', elem), buf('y', elem, 'write')], body };
      const n = lanes * 5;
      const make = (f: (i: number) => number) => {
        const xs = Array.from({ length: n }, (_, i) => f(i));
        return elem === 'f32' ? Float32Array.from(xs) : elem === 'i16' ? Int16Array.from(xs) : Int8Array.from(xs);
      };
      const m = Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
      const a = make((i) => i + 1), b = make((i) => -i - 1), y = make(() => 0);
      const { out, text } = await runWasm(k, { m, a, b, y }, { n });
      expect(text).not.toContain('load8_u');
      const want = interp(k, { m, a, b, y }, { n }).y!;
      expect([...out.y!], `${elem}x${lanes}`).toEqual([...new Uint8Array(want.buffer, want.byteOffset, want.byteLength)]);
    }
  });
});
