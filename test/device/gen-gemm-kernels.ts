// Writes the PTX modules that test/device/gemm_bench.py loads on a GPU machine (which has no Node):
// `npx tsx test/device/gen-gemm-kernels.ts` → test/device/gemm-kernels/{manifest.json, <id>.ptx.gz}.
// Every kernel has the same signature: buffers (A, B, Y), sizes (batch, M, N, K, sa, sb), with A and B batch
// strides sa and sb (0 broadcasts), so the benchmark launches them all alike.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { GEMM_TILES, emitGemm, gemmModule, type GemmTile } from '../../backends/ptx/gemm.ts';
import { buffer, kernel, v } from '../../ir/kernel/build.ts';
import type { KScalar } from '../../ir/kernel/ir.ts';

const OUT = join(dirname(fileURLToPath(import.meta.url)), 'gemm-kernels');
const TARGET = 'sm_90';

interface Variant { elem: KScalar; out: KScalar; transA: boolean; transB: boolean; tile: GemmTile }
const F = GEMM_TILES.float, I = GEMM_TILES.int;
const nn = (elem: KScalar, out: KScalar, tile: GemmTile): Variant => ({ elem, out, transA: false, transB: false, tile });
const VARIANTS: Variant[] = [
  ...F.map((t) => nn('f16', 'f16', t)),
  { elem: 'f16', out: 'f16', transA: true, transB: false, tile: F[0] },
  { elem: 'f16', out: 'f16', transA: false, transB: true, tile: F[0] },
  { elem: 'f16', out: 'f16', transA: true, transB: true, tile: F[0] },
  nn('bf16', 'bf16', F[0]), nn('bf16', 'bf16', F[1]),
  { elem: 'bf16', out: 'f32', transA: false, transB: true, tile: F[0] },
  ...I.map((t) => nn('i8', 'i32', t)),
  { elem: 'i8', out: 'i32', transA: false, transB: true, tile: I[0] },
  nn('u8', 'i32', I[0]),
  nn('i8', 'i8', I[0]),
];

mkdirSync(OUT, { recursive: true });
for (const f of readdirSync(OUT)) if (f.endsWith('.ptx.gz') || f === 'manifest.json') rmSync(join(OUT, f));
const manifest = VARIANTS.map((x) => {
  const layout = `${x.transA ? 'T' : 'N'}${x.transB ? 'T' : 'N'}`;
  const id = `${x.elem}_${x.out}_${layout}_${x.tile.name}`;
  const entry = `gemm_${id}`;
  const k = kernel(entry, {
    buffers: [buffer('A', x.elem, v('sa'), 'read'), buffer('B', x.elem, v('sb'), 'read'), buffer('Y', x.out, v('M'), 'write')],
    sizes: ['batch', 'M', 'N', 'K', 'sa', 'sb'],
    body: [],
    pattern: {
      kind: 'matmul', a: 'A', b: 'B', y: 'Y', batch: v('batch'), m: v('M'), n: v('N'), k: v('K'),
      aBatchStride: v('sa'), bBatchStride: v('sb'), transA: x.transA, transB: x.transB, elem: x.elem,
      acc: x.elem === 'f16' || x.elem === 'bf16' ? 'f32' : 'i32',
    },
  });
  const e = emitGemm(k, { tile: x.tile });
  if (!e) throw new Error(`no template for ${id}`);
  const file = `${id}.ptx.gz`;
  writeFileSync(join(OUT, file), gzipSync(gemmModule(e, TARGET), { level: 9 }));
  return {
    id, file, entry, elem: x.elem, out: x.out, transA: x.transA, transB: x.transB, tile: x.tile.name,
    bm: x.tile.bm, bn: x.tile.bn, block: e.launch.block, sharedBytes: e.launch.sharedBytes,
  };
});
writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ target: TARGET, kernels: manifest }, null, 1)}\n`);
console.log(`wrote ${manifest.length} kernels to ${OUT}`);
