// The PTX backend without a GPU: small kernels (elementwise, reduction, atomics, barrier + shared memory, f16,
// i64, vector loads) are emitted and assembled by ptxas for sm_80 and sm_90 (skipped, with the reason, when
// ptxas is not installed); the ABI — entry parameters in the manifest's order, launch records — is checked on
// the text and on a compiled artifact; the schedule (grid-stride or block 0) and the launch grid are checked.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPtxModule, type PtxArch } from '../../backends/ptx/index.ts';
import { emitGemm } from '../../backends/ptx/gemm.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { main as cliMain } from '../../compiler/cli.ts';
import { compileModel } from '../../compiler/compile.ts';
import { loadModel } from '../../compiler/driver.ts';
import type { Expr, Kernel, KScalar, Stmt } from '../../ir/kernel/ir.ts';
import { loadArtifact } from '../../runtime/artifact.ts';
import { evalSize } from '../../runtime/plan.ts';
import { buildModel } from '../util/onnx-builder.ts';

const hasPtxas = spawnSync('ptxas', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tessera-ptx-test-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Assembles a module with ptxas; returns its error text (undefined when it assembles). */
function assemble(text: string, arch: PtxArch): string | undefined {
  const file = join(dir, `m${files++}.ptx`);
  writeFileSync(file, text.replace(/\.target sm_\d+/, `.target sm_${arch}`));
  const r = spawnSync('ptxas', [`-arch=sm_${arch}`, '-o', '/dev/null', file], { encoding: 'utf8' });
  return r.status === 0 ? undefined : r.stderr;
}

const N = d.v('n');
const buf = (name: string, elem: KScalar, access: 'read' | 'write' | 'readwrite' = 'read', size: Expr = N, space: 'global' | 'workgroup' = 'global') =>
  ({ name, elem, access, size, space });
const i = d.v('i'), j = d.v('j');

const KERNELS: Record<string, Kernel> = {
  elementwise: {
    name: 'ew', sizes: [{ name: 'n' }], buffers: [buf('x', 'f32'), buf('y', 'f32', 'write')],
    body: [
      d.let_('n4', d.mul(d.div(N, d.c(4)), d.c(4))),
      d.loop('i', 0, d.v('n4'), [d.store('y', i, d.un('tanh', d.add(d.mul(d.load('x', d.ty('f32', 4), i), d.c(0.75, d.ty('f32', 4))), d.c(-0.25, d.ty('f32', 4)))))], { step: 4, kind: 'parallel' }),
      d.loop('j', d.v('n4'), N, [d.store('y', j, d.un('tanh', d.add(d.mul(d.load('x', 'f32', j), d.c(0.75, 'f32')), d.c(-0.25, 'f32'))))]),
    ],
  },
  reduction: {
    name: 'rowsum', sizes: [{ name: 'n' }, { name: 'm' }], buffers: [buf('x', 'f32', 'read', d.mul(N, d.v('m'))), buf('y', 'f32', 'write')],
    body: [d.loop('i', 0, N, [
      d.local('acc', d.ty('f32'), d.c(0, 'f32')),
      d.loop('j', 0, d.v('m'), [d.assign('acc', d.add(d.v('acc', 'f32'), d.un('exp', d.load('x', 'f32', d.add(d.mul(i, d.v('m')), j)))))]),
      d.store('y', i, d.bin('max', d.v('acc', 'f32'), d.c(0, 'f32'))),
    ], { kind: 'parallel' })],
  },
  atomics: {
    name: 'hist', sizes: [{ name: 'n' }], buffers: [buf('x', 'i32'), buf('h', 'i32', 'readwrite', d.c(16)), buf('w', 'u64', 'readwrite', d.c(4)), buf('s', 'f32', 'readwrite', d.c(1))],
    body: [d.loop('i', 0, N, [
      { kind: 'atomic', op: 'add', buffer: 'h', index: d.and(d.load('x', 'i32', i), d.c(15)), value: d.c(1), order: 'relaxed', scope: 'device' },
      { kind: 'atomic', op: 'max', buffer: 'w', index: d.c(0), value: d.cast('u64', d.load('x', 'i32', i)), order: 'acq_rel', scope: 'device', result: 'old' },
      { kind: 'atomic', op: 'sub', buffer: 'w', index: d.c(1), value: d.v('old', 'u64'), order: 'release', scope: 'workgroup' },
      { kind: 'atomic', op: 'exchange', buffer: 'w', index: d.c(2), value: d.c(7n, 'u64'), order: 'acquire', scope: 'device' },
      { kind: 'atomic', op: 'add', buffer: 's', index: d.c(0), value: d.cast('f32', d.load('x', 'i32', i)), order: 'relaxed', scope: 'device' },
    ], { kind: 'parallel' })],
  },
  barrier: {
    name: 'shuffle', sizes: [], buffers: [buf('x', 'f32', 'read', d.c(100)), buf('y', 'f32', 'write', d.c(100)), buf('t', 'f32', 'readwrite', d.c(100), 'workgroup')],
    body: [d.loop('i', 0, 100, [
      d.store('t', i, d.load('x', 'f32', i)),
      { kind: 'barrier', scope: 'workgroup' },
      d.store('y', i, d.load('t', 'f32', d.sub(d.c(99), i))),
    ], { kind: 'parallel' })],
  },
  f16: {
    name: 'half', sizes: [{ name: 'n' }], buffers: [buf('a', 'f16'), buf('b', 'bf16'), buf('y', 'f16', 'write'), buf('z', 'bf16', 'write')],
    body: [d.loop('i', 0, N, [
      d.let_('s', d.add(d.cast('f32', d.load('a', 'f16', i)), d.cast('f32', d.load('b', 'bf16', i)))),
      d.store('y', i, d.add(d.load('a', 'f16', i), d.cast('f16', d.v('s', 'f32')))),
      d.store('z', i, d.un('sqrt', d.cast('bf16', d.load('a', 'f16', i)))),
    ], { kind: 'parallel' })],
  },
  i64: {
    name: 'wide', sizes: [{ name: 'n' }], buffers: [buf('a', 'i64'), buf('b', 'i64'), buf('y', 'i64', 'write'), buf('f', 'f32', 'write')],
    body: [d.loop('i', 0, N, [
      d.let_('p', d.load('a', 'i64', i)), d.let_('q', d.load('b', 'i64', i)),
      d.store('y', i, d.add(d.bin('floordiv', d.v('p', 'i64'), d.v('q', 'i64')), d.bin('shl', d.v('p', 'i64'), d.v('q', 'i64')))),
      d.store('f', i, d.cast('f32', d.bin('mod', d.v('p', 'i64'), d.v('q', 'i64')))),
    ], { kind: 'parallel' })],
  },
  vectors: {
    name: 'vec', sizes: [{ name: 'n' }], buffers: [buf('x', 'f32'), buf('y', 'f32', 'write')],
    body: [d.loop('i', 0, N, [
      d.store('y', i, d.mul(d.load('x', d.ty('f32', 4), i), d.load('x', d.ty('f32', 4), d.add(i, d.c(1))))),
    ], { kind: 'parallel', step: 4 })],
  },
};

const archs: PtxArch[] = [80, 90];

describe('the PTX backend: kernels assemble with ptxas', () => {
  for (const [what, k] of Object.entries(KERNELS)) {
    it.skipIf(!hasPtxas)(`${what} assembles for sm_80 and sm_90`, () => {
      const m = buildPtxModule([k]);
      for (const arch of archs) expect(assemble(m.text, arch)).toBeUndefined();
    });
  }
  it.skipIf(!hasPtxas)('all of them in one module, for sm_90 (--sm 90)', () => {
    const m = buildPtxModule(Object.values(KERNELS), { sm: 90 });
    expect(m.text).toMatch(/^\.target sm_90$/m);
    expect(assemble(m.text, 90)).toBeUndefined();
  });
  it('reports why when ptxas is missing', () => {
    if (!hasPtxas) console.log('SKIP assembling: ptxas is not on the PATH');
    expect(typeof hasPtxas).toBe('boolean');
  });
});

describe('the PTX backend: what the text says', () => {
  const text = (k: Kernel) => buildPtxModule([k]).text;
  it('has the module header: .version, .target sm_80 by default, 64-bit addresses', () => {
    const t = text(KERNELS.elementwise!);
    expect(t).toMatch(/^\.version 8\.\d$/m);
    expect(t).toMatch(/^\.target sm_80$/m);
    expect(t).toMatch(/^\.address_size 64$/m);
  });
  it('an elementwise body and its tail: one grid-stride schedule, aligned v4 loads, exact f32 ops', () => {
    const m = buildPtxModule([KERNELS.elementwise!]);
    const k = m.kernels[0]!;
    expect(k.via).toBe('grid');
    expect(k.launch.block).toBe(256);
    expect(evalSize(k.launch.grid, { n: 1000 })).toBe(Math.ceil(1000 / 4 / 256));
    expect(m.text).toContain('ld.global.v4.f32');
    expect(m.text).toContain('mul.rn.f32');
    expect(m.text).not.toMatch(/\.approx/);
  });
  it('vector loads only where alignment is provable', () => {
    const t = text(KERNELS.vectors!);
    expect(t.match(/ld\.global\.v4\.f32/g)?.length).toBe(1); // x[i..i+3]; x[i+1..i+4] loads lane by lane
    expect(t).toContain('st.global.v4.f32');
  });
  it('atomics carry their order and scope; red when the old value is unused', () => {
    const t = text(KERNELS.atomics!);
    expect(t).toContain('red.relaxed.gpu.global.add.u32');
    expect(t).toContain('atom.acq_rel.gpu.global.max.u64');
    expect(t).toContain('red.release.cta.global.add.u64');
    expect(t).toContain('atom.acquire.gpu.global.exch.b64');
    expect(t).toContain('red.relaxed.gpu.global.add.f32');
  });
  it('a barrier: shared memory, bar.sync, lock-step in one block as large as the loop', () => {
    const m = buildPtxModule([KERNELS.barrier!]);
    expect(m.kernels[0]!.via).toBe('block');
    expect(m.kernels[0]!.launch.block).toBe(128);
    expect(m.text).toMatch(/\.shared \.align 16 \.b8 \w+\[400\]/);
    expect(m.text).toContain('bar.sync 0');
    expect(m.kernels[0]!.buffers).toEqual(['x', 'y']); // the workgroup buffer is not a parameter
  });
  it('f16/bf16 are computed in f32 and rounded once per op', () => {
    const t = text(KERNELS.f16!);
    expect(t).toContain('cvt.rn.f16.f32');
    expect(t).toContain('cvt.rn.bf16.f32');
    expect(t).toContain('sqrt.rn.f32');
  });
  it('i64 is native; signed division guards MIN / −1', () => {
    const t = text(KERNELS.i64!);
    expect(t).toContain('div.s64');
    expect(t).toContain('rem.s64');
    expect(t).toMatch(/setp\.eq\.s64 %p\d+, %rd\d+, -1/);
  });
  it('a kernel without a parallel loop runs on one thread', () => {
    const k: Kernel = { name: 'one', sizes: [], buffers: [buf('y', 'i32', 'write', d.c(1))], body: [d.store('y', d.c(0), d.c(42))] };
    const m = buildPtxModule([k]);
    expect(m.kernels[0]!.launch).toEqual({ block: 1, grid: { kind: 'const', type: { elem: 'i32', lanes: 1 }, value: 1 }, sharedBytes: 0 });
  });
  it('dependent phases fall back to block 0 (a parallel loop reading what a serial one wrote)', () => {
    const k: Kernel = {
      name: 'dep', sizes: [{ name: 'n' }], buffers: [buf('t', 'f32', 'readwrite'), buf('y', 'f32', 'write')],
      body: [
        d.loop('i', 0, N, [d.store('t', i, d.c(1, 'f32'))]),
        d.loop('j', 0, N, [d.store('y', j, d.load('t', 'f32', d.sub(d.sub(N, j), d.c(1))))], { kind: 'parallel' }),
      ],
    };
    expect(buildPtxModule([k]).kernels[0]!.via).toBe('block');
  });
  it('parameters: one .u64 per global buffer in order, then one .u32 per size', () => {
    const t = text(KERNELS.reduction!);
    const params = [...t.matchAll(/\.param \.(u64|u32) (\w+)/g)].map((m) => m[1]);
    expect(params).toEqual(['u64', 'u64', 'u32', 'u32']);
    expect(t).toMatch(/\.visible \.entry rowsum\(/);
  });
  it('a matmul pattern over f32 takes the generic path; over f16 the template when gemm.ts accepts it', () => {
    const mk = (elem: KScalar): Kernel => {
      const M = d.v('M'), K = d.v('K'), Nn = d.v('N');
      const body: Stmt[] = [d.loop('m', 0, M, [d.loop('n', 0, Nn, [
        d.local('acc', d.ty('f32'), d.c(0, 'f32')),
        d.loop('k', 0, K, [d.assign('acc', d.add(d.v('acc', 'f32'),
          d.mul(d.cast('f32', d.load('a', elem, d.add(d.mul(d.v('m'), K), d.v('k')))), d.cast('f32', d.load('b', elem, d.add(d.mul(d.v('k'), Nn), d.v('n')))))))]),
        d.store('y', d.add(d.mul(d.v('m'), Nn), d.v('n')), elem === 'f32' ? d.v('acc', 'f32') : d.cast(elem, d.v('acc', 'f32'))),
      ])], { kind: 'parallel' })];
      return {
        name: `mm_${elem}`, sizes: [{ name: 'M' }, { name: 'N' }, { name: 'K' }],
        buffers: [buf('a', elem, 'read', d.mul(M, K)), buf('b', elem, 'read', d.mul(K, Nn)), buf('y', elem, 'write', d.mul(M, Nn))],
        body,
        pattern: { kind: 'matmul', a: 'a', b: 'b', y: 'y', batch: d.c(1), m: M, n: Nn, k: K, aBatchStride: d.c(0), bBatchStride: d.c(0), transA: false, transB: false, elem, acc: 'f32' },
      };
    };
    expect(buildPtxModule([mk('f32')]).kernels[0]!.via).not.toBe('gemm');
    const f16 = mk('f16');
    expect(buildPtxModule([f16]).kernels[0]!.via).toBe(emitGemm(f16) ? 'gemm' : 'grid');
    expect(buildPtxModule([f16], { templates: false }).kernels[0]!.via).toBe('grid');
  });
});

describe('the PTX artifact', () => {
  it('compileModel target cuda: kernels.ptx, signatures with launch records that match the entries', async () => {
    const path = join(dir, 'm.onnx');
    writeFileSync(path, buildModel({
      inputs: [{ name: 'x', dtype: 'f32', shape: ['N', 4] }, { name: 'b', dtype: 'f32', shape: [4] }],
      outputs: [{ name: 'y', dtype: 'f32', shape: ['N', 4] }],
      nodes: [
        { op: 'Add', inputs: ['x', 'b'], outputs: ['s'] },
        { op: 'Softmax', inputs: ['s'], outputs: ['y'], attrs: { axis: -1 } },
      ],
    }));
    const { files } = await compileModel(loadModel(path), { target: 'cuda' });
    const art = await loadArtifact(files);
    const m = art.manifest;
    expect(m.target).toBe('cuda');
    expect(m.code).toEqual({ ptx: 'kernels.ptx' });
    const ptx = new TextDecoder().decode(art.code.ptx!);
    expect(ptx).toMatch(/^\.target sm_80$/m);
    for (const k of m.kernels) {
      expect(k.launch).toBeDefined();
      const entry = ptx.slice(ptx.indexOf(`.visible .entry ${k.name}(`));
      const params = entry.slice(0, entry.indexOf(')')).match(/\.param \.(u64|u32)/g)!.map((p) => p.slice(8));
      expect(params).toEqual([...k.buffers.map(() => 'u64'), ...k.sizes.map(() => 'u32')]);
      const sizes = Object.fromEntries(k.sizes.map((s) => [s, 7]));
      expect(evalSize(k.launch!.grid, sizes)).toBeGreaterThanOrEqual(1);
    }
    if (hasPtxas) expect(assemble(ptx, 80)).toBeUndefined();
    const sm90 = await compileModel(loadModel(path), { target: 'cuda', sm: 90 });
    expect(new TextDecoder().decode(sm90.files.get('kernels.ptx')!)).toMatch(/^\.target sm_90$/m);
  });
  it('the CLI: --target ptx (or cuda) [--sm 90] writes manifest.json, weights.bin and kernels.ptx', async () => {
    const path = join(dir, 'relu.onnx');
    writeFileSync(path, buildModel({
      inputs: [{ name: 'x', dtype: 'f32', shape: [3, 5] }], outputs: [{ name: 'y', dtype: 'f32', shape: [3, 5] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    }));
    for (const [target, sm] of [['ptx', '90'], ['cuda', undefined]] as const) {
      const out = join(dir, `cli-${target}`);
      const args = ['compile', path, '--target', target, '-o', out, ...(sm ? ['--sm', sm] : [])];
      expect(await cliMain(args)).toBe(0);
      expect(readdirSync(out).sort()).toEqual(['kernels.ptx', 'manifest.json', 'weights.bin']);
      expect(readFileSync(join(out, 'kernels.ptx'), 'utf8')).toMatch(new RegExp(`^\\.target sm_${sm ?? 80}$`, 'm'));
    }
    await expect(cliMain(['compile', path, '--target', 'wasm', '--sm', '90', '-o', join(dir, 'bad')])).rejects.toThrow(/--sm/);
  });
});
