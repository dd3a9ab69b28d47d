// How the PTX emitter maps loop nests onto the grid (no GPU needed): a perfect nest of parallel loops — the
// loops over a Conv's or a MatMul's output coordinates — is ONE flattened grid-stride iteration space whose
// launch grid covers every output (⌈Π trip counts / 256⌉ blocks); indices are recovered by 32-bit div/rem
// (64-bit when the space may have 2^32 iterations or more); top-level nests that store to provably disjoint
// ranges of one buffer (Concat's parts) run concurrently. Every module assembles with ptxas (sm_80, sm_90).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPtxModule, type PtxModule } from '../../backends/ptx/index.ts';
import * as d from '../../backends/wasm/dsl.ts';
import { loadModel } from '../../compiler/driver.ts';
import { lower } from '../../compiler/lower/lower.ts';
import type { Kernel } from '../../ir/kernel/ir.ts';
import { evalSize } from '../../runtime/plan.ts';
import { randomValues } from '../lower/helpers.ts';
import { buildModel, type ModelSpec } from '../util/onnx-builder.ts';

const hasPtxas = spawnSync('ptxas', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'tessera-ptx-schedule-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function assembles(m: PtxModule): void {
  if (!hasPtxas) return;
  for (const arch of [80, 90]) {
    const file = join(dir, `m${files++}.ptx`);
    writeFileSync(file, m.text.replace(/\.target sm_\d+/, `.target sm_${arch}`));
    const r = spawnSync('ptxas', [`-arch=sm_${arch}`, '-o', '/dev/null', file], { encoding: 'utf8' });
    expect(r.status === 0 ? undefined : r.stderr).toBeUndefined();
  }
}

function compile(spec: ModelSpec): { kernels: Kernel[]; m: PtxModule } {
  const path = join(dir, `model${files++}.onnx`);
  writeFileSync(path, buildModel(spec));
  const { kernels } = lower(loadModel(path), { target: 'cuda' });
  const m = buildPtxModule(kernels);
  assembles(m);
  return { kernels, m };
}

/** The entry of one kernel in the module text. */
const entry = (m: PtxModule, name: string) => m.text.slice(m.text.indexOf(`.visible .entry ${name}(`)).split('\n}\n')[0]!;

describe('PTX schedules: perfect parallel nests are one grid-stride space', () => {
  it('a Conv: every output coordinate (image, channel, row, column) gets its own thread', () => {
    const { kernels, m } = compile({
      inputs: [{ name: 'x', dtype: 'f32', shape: [2, 3, 12, 20] }], outputs: [{ name: 'y', dtype: 'f32', shape: [2, 8, 12, 20] }],
      initializers: { w: randomValues('f32', [8, 3, 3, 3], 1) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { pads: [1, 1, 1, 1] } }],
    });
    // On cuda the Conv is the direct form (one kernel, a parallel nest over the output), not im2col + matmul.
    expect(kernels.map((k) => k.name)).toEqual([expect.stringMatching(/^Conv/)]);
    const k = m.kernels[0]!;
    expect(k.via).toBe('grid');
    const outputs = 2 * 8 * 12 * 20;
    expect(evalSize(k.launch.grid, {})).toBe(Math.ceil(outputs / 256));
    const text = entry(m, k.name);
    expect(text).toMatch(/div\.u32/); // the flat index is split into the loop variables
    expect(text).not.toMatch(/div\.u64/); // constant space below 2^32: 32-bit index math only
  });

  it('a MatMul over symbolic sizes: the grid covers M·N outputs; 64-bit index math only past 2^32 iterations', () => {
    const { m } = compile({
      inputs: [{ name: 'a', dtype: 'f32', shape: ['M', 'K'] }, { name: 'b', dtype: 'f32', shape: ['K', 'N'] }],
      outputs: [{ name: 'y', dtype: 'f32', shape: ['M', 'N'] }],
      nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    });
    const k = m.kernels[0]!;
    expect(k.via).toBe('grid');
    for (const [M, N] of [[300, 70], [1, 5000], [4096, 4096]]) expect(evalSize(k.launch.grid, { M, N, K: 16 })).toBe(Math.ceil((M! * N!) / 256));
    const text = entry(m, k.name);
    expect(text).toMatch(/setp\.gt\.u64 %p\d+, %rd\d+, 4294967295/);
    expect(text).toMatch(/div\.u32/);
    expect(text).toMatch(/div\.u64/);
  });

  it('a MatMul of one row (M = 1) is parallel over its columns', () => {
    const { m } = compile({
      inputs: [{ name: 'a', dtype: 'f32', shape: [1, 64] }], outputs: [{ name: 'y', dtype: 'f32', shape: [1, 1000] }],
      initializers: { b: randomValues('f32', [64, 1000], 2) },
      nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    });
    expect(m.kernels[0]!.via).toBe('grid');
    expect(evalSize(m.kernels[0]!.launch.grid, {})).toBe(Math.ceil(1000 / 256));
  });

  it('start, step and vector loops: the nest of parallel and vector loops is collapsed; a statement between loops ends it', () => {
    const n = d.v('n'), mm = d.v('m');
    const F4 = d.ty('f32', 4);
    const k: Kernel = {
      name: 'nest3', sizes: [{ name: 'n' }, { name: 'm' }],
      buffers: [
        { name: 'x', elem: 'f32', access: 'read', size: d.mul(d.mul(n, mm), d.c(8)), space: 'global' },
        { name: 'y', elem: 'f32', access: 'write', size: d.mul(d.mul(n, mm), d.c(8)), space: 'global' },
      ],
      body: [d.loop('i', 1, n, [
        d.loop('j', 0, mm, [
          d.loop('q', 0, 8, [
            d.let_('at', d.add(d.mul(d.add(d.mul(d.v('i'), mm), d.v('j')), d.c(8)), d.v('q'))),
            d.store('y', d.v('at'), d.mul(d.load('x', F4, d.v('at')), d.c(2, F4))),
          ], { kind: 'vector', step: 4 }),
        ], { kind: 'parallel' }),
      ], { kind: 'parallel', step: 2 })],
    };
    const m = buildPtxModule([k]);
    assembles(m);
    expect(m.kernels[0]!.via).toBe('grid');
    // i takes ⌈(n − 1) / 2⌉ values, j m values, q 2 values.
    for (const [nv, mv] of [[9, 100], [2, 1000], [1, 50]]) {
      expect(evalSize(m.kernels[0]!.launch.grid, { n: nv!, m: mv! })).toBe(Math.ceil((Math.max(0, Math.ceil((nv! - 1) / 2)) * mv! * 2) / 256));
    }
    expect(m.text).toMatch(/ld\.global\.v4\.f32/); // q steps by 4 from 0: still provably aligned

    // A statement between the loops: only the outer loop is the grid-stride space.
    const imperfect: Kernel = { ...k, name: 'imperfect', body: [d.loop('i', 0, n, [
      d.let_('row', d.mul(d.v('i'), mm)),
      d.loop('j', 0, mm, [d.store('y', d.add(d.v('row'), d.v('j')), d.load('x', 'f32', d.add(d.v('row'), d.v('j'))))], { kind: 'parallel' }),
      d.store('y', d.c(0), d.c(0, 'f32')),
    ], { kind: 'parallel' })] };
    const m2 = buildPtxModule([imperfect]);
    assembles(m2);
    expect(evalSize(m2.kernels[0]!.launch.grid, { n: 1000, m: 1000 })).toBe(Math.ceil(1000 / 256));
    expect(m2.text).not.toMatch(/div\.u32/);
  });

  it('an inner loop whose bounds depend on the outer variable is not collapsed', () => {
    const n = d.v('n');
    const k: Kernel = {
      name: 'tri', sizes: [{ name: 'n' }],
      buffers: [{ name: 'y', elem: 'f32', access: 'write', size: d.mul(n, n), space: 'global' }],
      body: [d.loop('i', 0, n, [d.loop('j', 0, d.v('i'), [d.store('y', d.add(d.mul(d.v('i'), n), d.v('j')), d.c(1, 'f32'))], { kind: 'parallel' })], { kind: 'parallel' })],
    };
    const m = buildPtxModule([k]);
    assembles(m);
    expect(evalSize(m.kernels[0]!.launch.grid, { n: 1000 })).toBe(Math.ceil(1000 / 256));
  });

  it('a Concat of static parts stores disjoint ranges: its parts run concurrently on the grid', () => {
    const { m } = compile({
      inputs: [{ name: 'a', dtype: 'f32', shape: [1, 3, 4, 5] }, { name: 'b', dtype: 'f32', shape: [1, 6, 4, 5] }],
      outputs: [{ name: 'y', dtype: 'f32', shape: [1, 9, 4, 5] }],
      nodes: [{ op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: 1 } }],
    });
    expect(m.kernels[0]!.via).toBe('grid');
    expect(evalSize(m.kernels[0]!.launch.grid, {})).toBe(1);
    // Along an inner axis the parts interleave: their index ranges overlap, so they stay ordered (block 0).
    const inner = compile({
      inputs: [{ name: 'a', dtype: 'f32', shape: [2, 3] }, { name: 'b', dtype: 'f32', shape: [2, 4] }],
      outputs: [{ name: 'y', dtype: 'f32', shape: [2, 7] }],
      nodes: [{ op: 'Concat', inputs: ['a', 'b'], outputs: ['y'], attrs: { axis: 1 } }],
    });
    expect(inner.m.kernels[0]!.via).toBe('block');
  });
});
