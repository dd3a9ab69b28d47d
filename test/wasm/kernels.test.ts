// Whole kernels through the WASM backend and the runtime's executor: elementwise with a vector body and a
// scalar tail, reductions, control flow, HE-style integer kernels, the register-tiled matmul, atomics with
// and without threads — against plain JS and the kernel-IR interpreter. Also: every emitted module validates,
// the executor's checks, its size (minified + gzip), and the relaxed-SIMD probe bytes.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import binaryen from 'binaryen';
import { build } from 'esbuild';
import { buildWasmModule, type WasmBuildOptions } from '../../backends/wasm/index.ts';
import { matmulKernel } from '../../backends/wasm/examples/matmul.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { RELAXED_PROBE, WasmExecutor, sequentialPlan, type ArenaPlan } from '../../runtime/wasm/executor.ts';
import { interpretKernel, type BufferData } from '../../ir/kernel/interpret.ts';
import type { Kernel, KScalar, KType, Stmt } from '../../ir/kernel/ir.ts';

const WA = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean; Module: { new (b: Uint8Array): object; imports(m: object): { module: string; name: string; kind: string }[] } } }).WebAssembly;
const F4 = d.ty('f32', 4), F1 = d.ty('f32'), N = d.v('n');
const buf = (name: string, elem: KScalar, access: 'read' | 'write' | 'readwrite' = 'read', size = N) =>
  ({ name, elem, access, size, space: 'global' as const });

/**
 * Builds a module, checks it validates (binaryen and the engine), runs one kernel with every buffer given
 * (outputs as zeroed arrays of their size) and returns every buffer's bytes.
 */
async function runWasm(k: Kernel, inputs: Record<string, ArrayBufferView>, sizes: Record<string, number>,
  opts: WasmBuildOptions = {}): Promise<Record<string, Uint8Array>> {
  const { binary } = buildWasmModule([k], opts);
  expect(WA.validate(binary)).toBe(true);
  const m = binaryen.readBinary(binary);
  m.setFeatures(binaryen.Features.All);
  expect(m.validate()).toBe(1);
  m.dispose();
  const plan = sequentialPlan(Object.fromEntries(k.buffers.map((b) => [b.name, inputs[b.name]!.byteLength])));
  const ex = await WasmExecutor.create({ simd: binary }, plan, { shared: opts.threads });
  for (const [name, data] of Object.entries(inputs)) ex.write(name, data);
  ex.call({ kernel: k.name, buffers: k.buffers.map((b) => b.name), sizes: k.sizes.map((s) => sizes[s.name]!) });
  return Object.fromEntries(k.buffers.map((b) => [b.name, ex.bytes(b.name).slice()]));
}
const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
const i32 = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
const u32 = (b: Uint8Array) => new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);

/** Runs the kernel-IR interpreter on copies of the inputs. */
function interp(k: Kernel, inputs: Record<string, BufferData>, sizes: Record<string, number>): Record<string, BufferData> {
  const copies = Object.fromEntries(Object.entries(inputs).map(([n, a]) => [n, a.slice() as BufferData]));
  return interpretKernel(k, { buffers: copies, sizes });
}
const rand = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);

describe('whole kernels', () => {
  it('elementwise tanh(x·a + b): f32x4 body, scalar tail, vs JS and the interpreter', async () => {
    const n = 103;
    const n4 = d.mul(d.div(N, d.c(4)), d.c(4));
    const body = (t: KType, i: ReturnType<typeof d.v>) => d.un('tanh', d.add(d.mul(d.load('x', t, i), d.c(0.75, t)), d.c(-0.25, t)));
    const k: Kernel = {
      name: 'ew', sizes: [{ name: 'n' }], buffers: [buf('x', 'f32'), buf('y', 'f32', 'write')],
      body: [
        d.loop('i', 0, n4, [d.store('y', d.v('i'), body(F4, d.v('i')))], { step: 4, kind: 'vector' }),
        d.loop('j', n4, N, [d.store('y', d.v('j'), body(F1, d.v('j')))]),
      ],
    };
    const r = rand(1);
    const x = Float32Array.from({ length: n }, () => (r() - 0.5) * 8);
    const y = f32((await runWasm(k, { x, y: new Float32Array(n) }, { n })).y!);
    const ref = interp(k, { x, y: new Float32Array(n) }, { n }).y as Float32Array;
    for (let i = 0; i < n; i++) {
      const want = Math.tanh(Math.fround(Math.fround(x[i]! * 0.75) - 0.25));
      expect(Math.abs(y[i]! - want)).toBeLessThanOrEqual(2e-7 * Math.abs(want) + 1e-30);
      expect(Math.abs(y[i]! - ref[i]!)).toBeLessThanOrEqual(2e-7 * Math.abs(ref[i]!) + 1e-30);
    }
  });

  it('reductions: f32x4 sum of squares + tail (bit-exact vs the interpreter), i32 wrapping sum, max', async () => {
    const n = 1001;
    const n4 = d.mul(d.div(N, d.c(4)), d.c(4));
    const k: Kernel = {
      name: 'red', sizes: [{ name: 'n' }],
      buffers: [buf('x', 'f32'), buf('v', 'i32'), buf('out', 'f32', 'write', d.c(2)), buf('iout', 'i32', 'write', d.c(1))],
      body: [
        d.local('acc', F4, d.c(0, F4)),
        d.local('mx', F4, d.c(-Infinity, F4)),
        d.local('iacc', d.ty('i32', 4), d.c(0, d.ty('i32', 4))),
        d.loop('i', 0, n4, [
          d.let_('xv', d.load('x', F4, d.v('i'))),
          d.assign('acc', d.add(d.v('acc', F4), d.mul(d.v('xv', F4), d.v('xv', F4)))),
          d.assign('mx', d.max(d.v('mx', F4), d.v('xv', F4))),
          d.assign('iacc', d.add(d.v('iacc', d.ty('i32', 4)), d.load('v', d.ty('i32', 4), d.v('i')))),
        ], { step: 4 }),
        d.local('s', F1, d.reduceLanes('add', d.v('acc', F4))),
        d.local('m', F1, d.reduceLanes('max', d.v('mx', F4))),
        d.local('is', d.ty('i32'), d.reduceLanes('add', d.v('iacc', d.ty('i32', 4)))),
        d.loop('j', n4, N, [
          d.assign('s', d.add(d.v('s', F1), d.mul(d.load('x', F1, d.v('j')), d.load('x', F1, d.v('j'))))),
          d.assign('m', d.max(d.v('m', F1), d.load('x', F1, d.v('j')))),
          d.assign('is', d.add(d.v('is', d.ty('i32')), d.load('v', 'i32', d.v('j')))),
        ]),
        d.store('out', d.c(0), d.v('s', F1)),
        d.store('out', d.c(1), d.v('m', F1)),
        d.store('iout', d.c(0), d.v('is', d.ty('i32'))),
      ],
    };
    const r = rand(2);
    const x = Float32Array.from({ length: n }, () => (r() - 0.5) * 10);
    const v = Int32Array.from({ length: n }, () => Math.floor((r() - 0.5) * 2 ** 32));
    const out = await runWasm(k, { x, v, out: new Float32Array(2), iout: new Int32Array(1) }, { n });
    const ref = interp(k, { x, v, out: new Float32Array(2), iout: new Int32Array(1) }, { n });
    expect([...f32(out.out!)]).toEqual([...(ref.out as Float32Array)]);
    expect(i32(out.iout!)[0]).toBe((ref.iout as Int32Array)[0]);
    expect(i32(out.iout!)[0]).toBe(v.reduce((a, b) => (a + b) | 0, 0));
    expect(f32(out.out!)[1]).toBe(Math.max(...x));
  });

  it('control flow: if/else, unrolled loops, an f32x8 local held lane by lane, select on a scalar cond', async () => {
    const F8 = d.ty('f32', 8);
    const k: Kernel = {
      name: 'ctl', sizes: [{ name: 'n' }], buffers: [buf('x', 'f32'), buf('y', 'f32', 'write')],
      body: [
        d.loop('i', 0, N, [
          d.local('acc', F8, d.load('x', F8, d.v('i'))),
          d.loop('u', 0, 3, [d.assign('acc', d.add(d.mul(d.v('acc', F8), d.c(0.5, F8)), d.broadcast(d.cast('f32', d.v('u')), 8)))], { kind: 'unroll' }),
          d.if_(d.lt(d.reduceLanes('add', d.v('acc', F8)), d.c(0, F1)),
            [d.store('y', d.v('i'), d.select(d.gt(d.v('i'), d.c(7)), d.v('acc', F8), d.un('neg', d.v('acc', F8))))],
            [d.store('y', d.v('i'), d.v('acc', F8))]),
        ], { step: 8 }),
      ],
    };
    const n = 64;
    const r = rand(3);
    const x = Float32Array.from({ length: n }, () => (r() - 0.6) * 10);
    const y = f32((await runWasm(k, { x, y: new Float32Array(n) }, { n })).y!);
    const ref = interp(k, { x, y: new Float32Array(n) }, { n }).y as Float32Array;
    expect([...y]).toEqual([...ref]);
  });

  it('HE-style u32x4 Barrett modular multiplication with mulhi, vs BigInt and the interpreter', async () => {
    // c = a·b mod q for q < 2^30 via a 64-bit product emulated as hi:lo = mulhi/mul and a Barrett estimate.
    const q = 1073479681; // a 30-bit NTT prime
    const mu = Number((1n << 60n) / BigInt(q)); // ⌊2^60 / q⌋ fits in u32
    const U4 = d.ty('u32', 4);
    const k32 = (x: number) => d.c(x, U4);
    const k: Kernel = {
      name: 'barrett', sizes: [{ name: 'n' }], buffers: [buf('a', 'u32'), buf('b', 'u32'), buf('c', 'u32', 'write')],
      body: [d.loop('i', 0, N, [
        d.let_('x', d.load('a', U4, d.v('i'))),
        d.let_('y', d.load('b', U4, d.v('i'))),
        d.let_('lo', d.mul(d.v('x', U4), d.v('y', U4))),
        d.let_('hi', d.bin('mulhi', d.v('x', U4), d.v('y', U4))),
        // t = (hi:lo) >> 28 < 2^32, then qhat = mulhi(t, mu) ≈ (hi:lo)·2^-28·2^60/q / 2^32 underestimates the
        // quotient by at most 3; r = lo − qhat·q (mod 2^32) < 4q < 2^32, corrected by conditional subtractions.
        d.let_('t', d.or(d.shl(d.v('hi', U4), k32(4)), d.shr(d.v('lo', U4), k32(28)))),
        d.let_('qh', d.bin('mulhi', d.v('t', U4), k32(mu))),
        d.local('r', U4, d.sub(d.v('lo', U4), d.mul(d.v('qh', U4), k32(q)))),
        d.loop('s', 0, 3, [d.assign('r', d.select(d.ge(d.v('r', U4), k32(q)), d.sub(d.v('r', U4), k32(q)), d.v('r', U4)))], { kind: 'unroll' }),
        d.store('c', d.v('i'), d.v('r', U4)),
      ], { step: 4 })],
    };
    const n = 256;
    const r = rand(4);
    const a = Uint32Array.from({ length: n }, () => Math.floor(r() * q));
    const b = Uint32Array.from({ length: n }, () => Math.floor(r() * q));
    const c = u32((await runWasm(k, { a, b, c: new Uint32Array(n) }, { n })).c!);
    const ref = interp(k, { a, b, c: new Uint32Array(n) }, { n }).c as Uint32Array;
    for (let i = 0; i < n; i++) expect(c[i]).toBe(Number((BigInt(a[i]!) * BigInt(b[i]!)) % BigInt(q)));
    expect([...c]).toEqual([...ref]);
  });

  it('packed u8 matmul with dot4_u8 on u32x4 (the i32x4.dot_i16x8_s path), vs JS and the interpreter', async () => {
    // C[i, j..j+3] = Σ_w dot4_u8(A[i, w], Bt[j..j+3, w]) with 4 bytes per u32 word; Bt is stored word-major.
    const U4 = d.ty('u32', 4);
    const M = 5, W = 7, J = 8;
    const k: Kernel = {
      name: 'dot4', sizes: [], buffers: [buf('A', 'u32', 'read', d.c(M * W)), buf('B', 'u32', 'read', d.c(W * J)), buf('C', 'u32', 'write', d.c(M * J))],
      body: [d.loop('i', 0, M, [d.loop('j', 0, J, [
        d.local('acc', U4, d.c(0, U4)),
        d.loop('w', 0, W, [d.assign('acc', d.add(d.v('acc', U4),
          d.bin('dot4_u8', d.broadcast(d.load('A', 'u32', d.add(d.mul(d.v('i'), d.c(W)), d.v('w'))), 4), d.load('B', U4, d.add(d.mul(d.v('w'), d.c(J)), d.v('j'))))))]),
        d.store('C', d.add(d.mul(d.v('i'), d.c(J)), d.v('j')), d.v('acc', U4)),
      ], { step: 4 })])],
    };
    const r = rand(5);
    const A = Uint32Array.from({ length: M * W }, () => Math.floor(r() * 2 ** 32));
    const B = Uint32Array.from({ length: W * J }, () => Math.floor(r() * 2 ** 32));
    const C = u32((await runWasm(k, { A, B, C: new Uint32Array(M * J) }, {})).C!);
    const bytes = (x: number) => [0, 8, 16, 24].map((s) => (x >>> s) & 255);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < J; j++) {
        let s = 0;
        for (let w = 0; w < W; w++) { const p = bytes(A[i * W + w]!), q = bytes(B[w * J + j]!); for (let t = 0; t < 4; t++) s += p[t]! * q[t]!; }
        expect(C[i * J + j]).toBe(s >>> 0);
      }
    }
    expect([...C]).toEqual([...(interp(k, { A, B, C: new Uint32Array(M * J) }, {}).C as Uint32Array)]);
  });

  it('register-tiled matmul: every edge case of the tiling, at -O0/-O1/-O3, vs JS and the interpreter', async () => {
    const k = matmulKernel('mm');
    for (const [M, Nn, K] of [[1, 1, 1], [4, 8, 3], [5, 13, 7], [9, 17, 33], [33, 29, 17], [64, 64, 64], [3, 4, 0]]) {
      const r = rand(M * 1000 + Nn);
      const A = Float32Array.from({ length: M * K }, () => r() - 0.5);
      const B = Float32Array.from({ length: K * Nn }, () => r() - 0.5);
      const C0 = Float32Array.from({ length: M * Nn }, () => r() - 0.5);
      const inputs = { A, B, C: C0, Ap: new Float32Array(M * K + 4), Bp: new Float32Array(K * Nn + 4) };
      const sizes = { M, N: Nn, K };
      const want = new Float64Array(M * Nn);
      for (let i = 0; i < M; i++) for (let j = 0; j < Nn; j++) {
        let s = C0[i * Nn + j]!;
        for (let t = 0; t < K; t++) s += A[i * K + t]! * B[t * Nn + j]!;
        want[i * Nn + j] = s;
      }
      const results: Float32Array[] = [];
      for (const optimize of [0, 1, 3]) results.push(f32((await runWasm(k, inputs, sizes, { optimize })).C!).slice());
      for (const got of results) {
        for (let i = 0; i < M * Nn; i++) expect(Math.abs(got[i]! - want[i]!), `${M}×${Nn}×${K} at ${i}`).toBeLessThan(1e-5 * (K + 1));
        expect([...got]).toEqual([...results[0]!]);
      }
      if (M * Nn * K <= 33 * 29 * 17) {
        const ref = interp(k, { ...inputs, C: C0.slice() }, sizes).C as Float32Array;
        expect([...results[0]!]).toEqual([...ref.subarray(0, M * Nn)]); // same op order: bit-exact
      }
    }
  });

  for (const threads of [false, true]) {
    it(`atomics ${threads ? 'with threads (shared memory, i32.atomic.rmw / cmpxchg loops)' : 'single-threaded (plain read-modify-write)'}`, async () => {
      const k: Kernel = {
        name: 'atom', sizes: [{ name: 'n' }],
        buffers: [buf('x', 'i32'), buf('f', 'f32'), buf('cnt', 'i32', 'readwrite', d.c(8)), buf('fs', 'f32', 'readwrite', d.c(2)), buf('old', 'i32', 'write')],
        body: [d.loop('i', 0, N, [
          { kind: 'atomic', op: 'add', buffer: 'cnt', index: d.c(0), value: d.load('x', 'i32', d.v('i')), result: 'prev', order: 'acq_rel', scope: 'device' },
          d.store('old', d.v('i'), d.v('prev')),
          { kind: 'atomic', op: 'max', buffer: 'cnt', index: d.c(1), value: d.load('x', 'i32', d.v('i')), order: 'relaxed', scope: 'device' },
          { kind: 'atomic', op: 'min', buffer: 'cnt', index: d.c(2), value: d.load('x', 'i32', d.v('i')), order: 'relaxed', scope: 'device' },
          { kind: 'atomic', op: 'xor', buffer: 'cnt', index: d.c(3), value: d.load('x', 'i32', d.v('i')), order: 'relaxed', scope: 'device' },
          { kind: 'atomic', op: 'exchange', buffer: 'cnt', index: d.c(4), value: d.v('i'), order: 'release', scope: 'device' },
          { kind: 'atomic', op: 'add', buffer: 'fs', index: d.c(0), value: d.load('f', 'f32', d.v('i')), order: 'relaxed', scope: 'device' },
          { kind: 'barrier', scope: 'workgroup' },
        ] as Stmt[], { kind: 'parallel' })],
      };
      const n = 50;
      const r = rand(6);
      const x = Int32Array.from({ length: n }, () => Math.floor((r() - 0.5) * 1000));
      const f = Float32Array.from({ length: n }, () => r());
      const out = await runWasm(k, { x, f, cnt: new Int32Array(8), fs: new Float32Array(2), old: new Int32Array(n) }, { n }, { threads });
      const ref = interp(k, { x, f, cnt: new Int32Array(8), fs: new Float32Array(2), old: new Int32Array(n) }, { n });
      expect([...i32(out.cnt!).subarray(0, 8)]).toEqual([...(ref.cnt as Int32Array)]);
      expect([...i32(out.old!).subarray(0, n)]).toEqual([...(ref.old as Int32Array)]);
      expect([...f32(out.fs!).subarray(0, 2)]).toEqual([...(ref.fs as Float32Array)]);
    });
  }

  it('a threads module imports a shared memory (refuses a plain one) and emits real atomics', async () => {
    const k: Kernel = {
      name: 'a', sizes: [], buffers: [buf('c', 'i32', 'readwrite', d.c(1))],
      body: [{ kind: 'atomic', op: 'add', buffer: 'c', index: d.c(0), value: d.c(1), order: 'relaxed', scope: 'device' }, { kind: 'barrier', scope: 'device' }],
    };
    const { binary, text } = buildWasmModule([k], { threads: true, text: true });
    expect(text).toMatch(/\(import "env" "memory" \(memory \$memory 1 65536 shared\)\)/);
    expect(text).toMatch(/i32\.atomic\.rmw\.add/);
    expect(buildWasmModule([k], { threads: true, text: true, optimize: 0 }).text).toMatch(/atomic\.fence/);
    await expect(WasmExecutor.create({ simd: binary }, sequentialPlan({ c: 4 }))).rejects.toThrow(/cannot instantiate/);
    const plain = buildWasmModule([k], { text: true }).text!;
    expect(plain).not.toMatch(/atomic/);
    expect(WA.Module.imports(new WA.Module(binary))).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
  });
});

describe('runtime WASM executor', () => {
  const k: Kernel = { name: 'copy', sizes: [{ name: 'n' }], buffers: [buf('x', 'f32'), buf('y', 'f32', 'write')], body: [d.loop('i', 0, N, [d.store('y', d.v('i'), d.load('x', F1, d.v('i')))])] };
  const { binary } = buildWasmModule([k]);
  it('lays buffers out by the plan and reads them back', async () => {
    const plan: ArenaPlan = { bytes: 200_000, buffers: { x: { byteOffset: 64, byteLength: 40 }, y: { byteOffset: 131_072, byteLength: 40 } } };
    const ex = await WasmExecutor.create({ simd: binary }, plan);
    ex.write('x', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    ex.run([{ kernel: 'copy', buffers: ['x', 'y'], sizes: [10] }]);
    expect([...ex.read('y', Float32Array)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ex.variant).toBe('simd');
  });
  it('refuses bad plans, unknown kernels, wrong arity, oversized writes, a missing relaxed variant', async () => {
    await expect(WasmExecutor.create({ simd: binary }, { bytes: 16, buffers: { x: { byteOffset: 8, byteLength: 16 } } })).rejects.toThrow(/outside the 16-byte arena/);
    const ex = await WasmExecutor.create({ simd: binary }, sequentialPlan({ x: 16, y: 16 }));
    expect(() => ex.call({ kernel: 'nope', buffers: [], sizes: [] })).toThrow(/no kernel 'nope'/);
    expect(() => ex.call({ kernel: 'copy', buffers: ['x', 'y'], sizes: [] })).toThrow(/takes 3 arguments, got 2/);
    expect(() => ex.call({ kernel: 'copy', buffers: ['x', 'z'], sizes: [1] })).toThrow(/no buffer 'z'/);
    expect(() => ex.write('x', new Float32Array(5))).toThrow(/20 bytes do not fit its 16/);
    await expect(WasmExecutor.create({ simd: binary }, sequentialPlan({ x: 16 }), { variant: 'relaxed' })).rejects.toThrow(/no relaxed-SIMD variant/);
  });
  it('is small: minified + gzip under 30 KB, and pulls in nothing from compiler/ or backends/', async () => {
    const r = await build({ entryPoints: ['runtime/wasm/executor.ts'], bundle: true, minify: true, format: 'esm', platform: 'neutral', write: false, metafile: true, logLevel: 'silent' });
    const code = r.outputFiles[0]!.contents;
    const gz = gzipSync(code).length;
    console.log(`runtime WASM executor: ${code.length} bytes minified, ${gz} bytes minified + gzip (inputs: ${Object.keys(r.metafile.inputs).join(', ')})`);
    expect(gz).toBeLessThan(30 * 1024);
    expect(Object.keys(r.metafile.inputs).filter((p) => /^(compiler|backends|passes|grammar)\//.test(p))).toEqual([]);
  });
  it('carries the relaxed-SIMD probe binaryen builds (madd and dot-with-accumulator, from params)', () => {
    const m = new binaryen.Module();
    m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.RelaxedSIMD);
    const C = binaryen as unknown as { _BinaryenSIMDTernary(m: number, op: number, a: number, b: number, c: number): number; RelaxedMaddVecF32x4: number; RelaxedDotI8x16I7x16AddSToVecI32x4: number };
    const ptr = (m as unknown as { ptr: number }).ptr;
    const p = (i: number, t: number) => m.local.get(i, t);
    const [F, I] = [binaryen.f32, binaryen.i32];
    m.addFunction('m', binaryen.createType([F, F, F]), F, [],
      m.f32x4.extract_lane(C._BinaryenSIMDTernary(ptr, C.RelaxedMaddVecF32x4, m.f32x4.splat(p(0, F)), m.f32x4.splat(p(1, F)), m.f32x4.splat(p(2, F))), 0));
    m.addFunction('d', binaryen.createType([I, I, I]), I, [],
      m.i32x4.extract_lane(C._BinaryenSIMDTernary(ptr, C.RelaxedDotI8x16I7x16AddSToVecI32x4, m.i32x4.splat(p(0, I)), m.i32x4.splat(p(1, I)), m.i32x4.splat(p(2, I))), 0));
    m.addFunctionExport('m', 'm');
    m.addFunctionExport('d', 'd');
    expect(m.validate()).toBe(1);
    expect([...m.emitBinary()]).toEqual([...RELAXED_PROBE]);
    m.dispose();
  });
});
