// The tensor-core GEMM templates (backends/ptx/gemm.ts) without a GPU:
// - a CPU model of one block's data movement runs the plan's own per-thread index expressions: the cp.async
//   copies into the swizzled stages (every byte written exactly once), ldmatrix / the prmt transpose as the PTX
//   ISA defines them, mma.sync through its documented fragment layouts, and the epilogue's output mapping;
//   the result must equal a plain matmul, edges and transposes included. Fragment layouts are the classic
//   first-run bug of such kernels, and this is where they are checked.
// - the emitted PTX text runs on a CPU interpreter of its instruction subset (test/ptx/gemm-sim.ts) over whole
//   grids: aligned (cp.async) and unaligned (element-by-element) copy paths, broadcast batches, ragged edges,
//   more K tiles than stages; the result must equal the matmul rounded to the output type;
// - the ldmatrix phases of the float tiles are free of shared-memory bank conflicts;
// - every variant assembles with ptxas for sm_80 and sm_90 without spills (skipped when ptxas is absent);
// - patterns the template does not cover give undefined (the generic emitter then runs the body).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GEMM_TILES, emitGemm, evalTid, gemmModule, gemmPlan, gemmSpec, type GemmPlan, type GemmTile,
} from '../../backends/ptx/gemm.ts';
import { buffer, kernel, v } from '../../ir/kernel/build.ts';
import { bf16ToNum, f16ToNum, numToBf16, numToF16, simulate } from './gemm-sim.ts';
import type { Expr, Kernel, KScalar } from '../../ir/kernel/ir.ts';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function gemmKernel(elem: KScalar, out: KScalar, transA: boolean, transB: boolean, acc?: KScalar): Kernel {
  const float = elem === 'f16' || elem === 'bf16';
  return kernel('gemm', {
    buffers: [buffer('A', elem, v('sa'), 'read'), buffer('B', elem, v('sb'), 'read'), buffer('Y', out, v('M'), 'write')],
    sizes: ['batch', 'M', 'N', 'K', 'sa', 'sb'],
    body: [],
    pattern: {
      kind: 'matmul', a: 'A', b: 'B', y: 'Y', batch: v('batch'), m: v('M'), n: v('N'), k: v('K'),
      aBatchStride: v('sa'), bBatchStride: v('sb'), transA, transB, elem, acc: acc ?? (float ? 'f32' : 'i32'),
    },
  });
}

/** A deterministic small-integer generator (exact in f16 and i8 alike). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 24) % 7 - 3;
  };
}

/**
 * One block (tile 0, batch 0) of the plan on the CPU. Returns Y (M×N, only the block's part filled) and
 * checks on the way that each stage byte is written exactly once.
 */
function modelBlock(plan: GemmPlan, M: number, N: number, K: number, seed: number): { y: number[][]; ref: number[][] } {
  const { spec, threads, bk } = plan;
  const es = spec.es, epr = 4 / es;
  const next = rng(seed);
  const Am = Array.from({ length: M }, () => Array.from({ length: K }, next));
  const Bm = Array.from({ length: K }, () => Array.from({ length: N }, next));
  const ref = Am.map((row) => Array.from({ length: N }, (_, n) => row.reduce((s, a, k) => s + a * Bm[k][n], 0)));
  const aAt = (m: number, k: number) => (m < M && k < K ? Am[m][k] : 0);
  const bAt = (n: number, k: number) => (n < N && k < K ? Bm[k][n] : 0);

  const acc = Array.from({ length: threads }, () => new Array<number>(plan.mt * plan.nt * 4).fill(0));
  const perThread = (e: Expr) => Array.from({ length: threads }, (_, t) => evalTid(e, t));
  const chunks = [plan.a, plan.b].map((op) => range(op.chunksPerThread).map((i) => {
    const ch = op.chunk(i);
    return { mn: perThread(ch.mn), k: perThread(ch.k), smem: perThread(ch.smem) };
  }));
  const aFrag = range(plan.ksteps).map((ks) => range(plan.mt).map((i) => perThread(plan.aFrag(i, ks))));
  const bFrag = range(plan.ksteps).map((ks) => range(plan.nt / 2).map((jj) => perThread(plan.bFrag(jj, ks))));
  const bWord = plan.bMode !== 'prmt' ? [] : range(plan.ksteps).map((ks) => range(plan.nt / 4).map((jh) =>
    range(2).map((h) => range(4).map((rr) => perThread(plan.bWord(jh, h, rr, ks))))));
  const numK = Math.ceil(K / bk);
  for (let kt = 0; kt < numK; kt++) {
    const stage = new DataView(new ArrayBuffer(plan.stageBytes));
    const written = new Uint8Array(plan.stageBytes);
    const put = (off: number, x: number) => {
      if (es === 2) stage.setInt16(off, x, true); else stage.setInt8(off, x);
      for (let b = 0; b < es; b++) written[off + b]++;
    };
    for (const [o, op, at] of [[0, plan.a, aAt], [1, plan.b, bAt]] as const) {
      for (let t = 0; t < threads; t++) {
        for (let i = 0; i < op.chunksPerThread; i++) {
          const ch = chunks[o][i];
          const mn = ch.mn[t], k = ch.k[t] + kt * bk, s = op.base + ch.smem[t];
          for (let e = 0; e < 16 / es; e++) put(s + e * es, op.kMajor ? at(mn, k + e) : at(mn + e, k));
        }
      }
    }
    if (!written.every((x) => x === 1)) throw new Error(`stage ${kt}: a byte not written exactly once`);

    const word = (off: number) => stage.getUint32(off, true);
    const half = (off: number) => stage.getUint16(off, true);
    /** ldmatrix .x4: lane l supplies row l%8 of matrix l/8. */
    const ldmatrix = (addrs: number[], trans: boolean): number[][] => addrs.map((_, l) => [0, 1, 2, 3].map((q) => {
      const row = (r: number) => addrs[q * 8 + r];
      if (!trans) return word(row(l >> 2) + 4 * (l & 3));
      const lo = half(row(2 * (l & 3)) + 2 * (l >> 2)), hi = half(row(2 * (l & 3) + 1) + 2 * (l >> 2));
      return (lo | (hi << 16)) >>> 0;
    }));
    const prmt = (a: number, b: number, sel: number) => {
      const bytes = [0, 1, 2, 3].map((i) => (a >>> (8 * i)) & 255).concat([0, 1, 2, 3].map((i) => (b >>> (8 * i)) & 255));
      return [0, 1, 2, 3].reduce((d, i) => d | (bytes[(sel >>> (4 * i)) & 7] << (8 * i)), 0) >>> 0;
    };
    const elemOf = (reg: number, e: number) => {
      const x = (reg >>> (8 * es * e)) & ((1 << (8 * es)) - 1);
      return x >= 1 << (8 * es - 1) ? x - (1 << (8 * es)) : x;
    };

    for (let w = 0; w < threads / 32; w++) {
      const lanes = Array.from({ length: 32 }, (_, l) => w * 32 + l);
      for (let ks = 0; ks < plan.ksteps; ks++) {
        const aF = Array.from({ length: plan.mt }, (_, i) =>
          ldmatrix(lanes.map((t) => plan.a.base + aFrag[ks][i][t]), plan.aMode === 'ldmatrix.trans'));
        const bF: number[][][] = Array.from({ length: plan.nt }, () => lanes.map(() => [0, 0]));
        if (plan.bMode === 'prmt') {
          for (let jh = 0; jh < plan.nt / 4; jh++) {
            for (let h = 0; h < 2; h++) {
              lanes.forEach((t, l) => {
                const ws = [0, 1, 2, 3].map((rr) => word(plan.b.base + bWord[ks][jh][h][rr][t]));
                const x01 = prmt(ws[0], ws[1], 0x5140), x23 = prmt(ws[2], ws[3], 0x5140);
                const y01 = prmt(ws[0], ws[1], 0x7362), y23 = prmt(ws[2], ws[3], 0x7362);
                const outs = [prmt(x01, x23, 0x5410), prmt(x01, x23, 0x7632), prmt(y01, y23, 0x5410), prmt(y01, y23, 0x7632)];
                outs.forEach((o, t4) => { bF[jh * 4 + t4][l][h] = o; });
              });
            }
          }
        } else {
          for (let jj = 0; jj < plan.nt / 2; jj++) {
            const rs = ldmatrix(lanes.map((t) => plan.b.base + bFrag[ks][jj][t]), plan.bMode === 'ldmatrix.trans');
            rs.forEach((r, l) => { bF[2 * jj][l] = [r[0], r[1]]; bF[2 * jj + 1][l] = [r[2], r[3]]; });
          }
        }
        // mma.sync m16n8k(32/es) through the documented fragment layouts (g = lane/4, tig = lane%4).
        const kk = 32 / es;
        const At = aF.map((frag) => {
          const m = Array.from({ length: 16 }, () => new Array<number>(kk).fill(NaN));
          frag.forEach((regs, l) => {
            const g = l >> 2, tig = l & 3;
            for (let x = 0; x < 4; x++) {
              for (let e = 0; e < epr; e++) m[g + 8 * (x & 1)][(x >> 1) * (16 / es) + tig * epr + e] = elemOf(regs[x], e);
            }
          });
          return m;
        });
        const Bt = bF.map((frag) => {
          const m = Array.from({ length: kk }, () => new Array<number>(8).fill(NaN));
          frag.forEach((regs, l) => {
            const g = l >> 2, tig = l & 3;
            for (let x = 0; x < 2; x++) {
              for (let e = 0; e < epr; e++) m[x * (16 / es) + tig * epr + e][g] = elemOf(regs[x], e);
            }
          });
          return m;
        });
        for (let i = 0; i < plan.mt; i++) {
          for (let j = 0; j < plan.nt; j++) {
            for (let l = 0; l < 32; l++) {
              const g = l >> 2, tig = l & 3;
              for (let r = 0; r < 4; r++) {
                const row = g + 8 * (r >> 1), col = 2 * tig + (r & 1);
                let s = 0;
                for (let q = 0; q < kk; q++) s += At[i][row][q] * Bt[j][q][col];
                acc[lanes[l]][(i * plan.nt + j) * 4 + r] += s;
              }
            }
          }
        }
      }
    }
  }
  const y = Array.from({ length: M }, () => new Array<number>(N).fill(NaN));
  for (let t = 0; t < threads; t++) {
    for (const run of plan.runs) {
      const row = evalTid(run.row, t), col = evalTid(run.col, t);
      run.acc.forEach((a, e) => {
        if (row < M && col + e < N) {
          if (!Number.isNaN(y[row][col + e])) throw new Error(`output (${row}, ${col + e}) stored twice`);
          y[row][col + e] = acc[t][a];
        }
      });
    }
  }
  return { y, ref };
}

/** Element, output, transA, transB, and whether to model every tile (else the default one). */
const CASES: [KScalar, KScalar, boolean, boolean, boolean][] = [
  ['f16', 'f16', false, false, true], ['f16', 'f16', true, false, false], ['f16', 'f16', false, true, false],
  ['f16', 'f16', true, true, true], ['bf16', 'f32', false, false, false], ['i8', 'i32', false, false, true],
  ['i8', 'i32', false, true, true], ['u8', 'i8', false, false, false],
];

describe('gemm template: CPU model of one block', () => {
  for (const [elem, out, ta, tb, allTiles] of CASES) {
    const spec = gemmSpec(gemmKernel(elem, out, ta, tb))!;
    for (const tile of GEMM_TILES[spec.family].slice(0, allTiles ? undefined : 1)) {
      it(`${elem}→${out} transA=${ta} transB=${tb} ${tile.name}`, () => {
        const plan = gemmPlan(spec, tile)!;
        expect(plan).toBeDefined();
        // Whole block plus ragged edges; K over two tiles with a partial one.
        for (const [M, N, K] of [[tile.bm, tile.bn, plan.bk * 2], [tile.bm - 5, tile.bn - 3, plan.bk + 7], [1, 1, 1]]) {
          const { y, ref } = modelBlock(plan, M, N, K, M * 7 + N);
          expect(y).toEqual(ref);
        }
      });
    }
  }
});

describe('gemm template: shared-memory banks', () => {
  /** Every 8-address phase of an ldmatrix reads 8 distinct 16-byte bank groups. */
  const conflictFree = (plan: GemmPlan, addr: (t: number) => number) => {
    for (let w = 0; w < plan.threads / 32; w++) {
      for (let q = 0; q < 4; q++) {
        const groups = new Set(Array.from({ length: 8 }, (_, r) => (addr(w * 32 + q * 8 + r) >> 4) & 7));
        if (groups.size !== 8) return false;
      }
    }
    return true;
  };
  for (const [ta, tb] of [[false, false], [true, true]]) {
    for (const tile of GEMM_TILES.float) {
      it(`f16 transA=${ta} transB=${tb} ${tile.name}`, () => {
        const plan = gemmPlan(gemmSpec(gemmKernel('f16', 'f16', ta, tb))!, tile)!;
        for (let ks = 0; ks < plan.ksteps; ks++) {
          for (let i = 0; i < plan.mt; i++) expect(conflictFree(plan, (t) => evalTid(plan.aFrag(i, ks), t))).toBe(true);
          for (let jj = 0; jj < plan.nt / 2; jj++) expect(conflictFree(plan, (t) => evalTid(plan.bFrag(jj, ks), t))).toBe(true);
        }
      });
    }
  }
});

describe('gemm template: applicability', () => {
  it('gives undefined for patterns it does not cover', () => {
    expect(emitGemm(gemmKernel('f32', 'f32', false, false))).toBeUndefined();
    expect(emitGemm(gemmKernel('f16', 'f16', false, false, 'f16'))).toBeUndefined();
    expect(emitGemm(gemmKernel('i8', 'i32', true, false))).toBeUndefined(); // 8-bit MN-major A
    expect(emitGemm(gemmKernel('i16', 'i32', false, false))).toBeUndefined();
    expect(emitGemm(gemmKernel('i8', 'i64', false, false, 'i64'))).toBeUndefined();
    const noPattern = { ...gemmKernel('f16', 'f16', false, false), pattern: undefined };
    expect(emitGemm(noPattern)).toBeUndefined();
    // A size expression the evaluator does not know (floor division) falls back as well.
    const k = gemmKernel('f16', 'f16', false, false);
    const fd = { kind: 'binary', type: { elem: 'i32', lanes: 1 }, op: 'floordiv', a: v('M'), b: v('N') } as const;
    expect(emitGemm({ ...k, pattern: { ...k.pattern!, m: fd } })).toBeUndefined();
  });

  it('launches one block per output tile and batch', () => {
    const e = emitGemm(gemmKernel('f16', 'f16', false, false))!;
    expect(e.launch.block).toBe(128); // the default float tile: 4 warps of 64×64
    expect(e.launch.sharedBytes).toBe(4 * (128 * 64 + 128 * 64));
    expect(e.ptx).toContain('.visible .entry gemm(');
    expect(e.ptx.match(/\.param \.u64/g)?.length).toBe(3);
    expect(e.ptx.match(/\.param \.u32/g)?.length).toBe(6);
  });
});

function hasPtxas(): boolean {
  try { execFileSync('ptxas', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

describe.skipIf(!hasPtxas())('gemm template: ptxas (skipped: ptxas not on PATH)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-gemm-'));
  const variants: [KScalar, KScalar, boolean, boolean, GemmTile][] = [
    ...GEMM_TILES.float.map((t): [KScalar, KScalar, boolean, boolean, GemmTile] => ['f16', 'f16', false, false, t]),
    ['f16', 'f16', true, true, GEMM_TILES.float[0]], ['bf16', 'f32', false, true, GEMM_TILES.float[0]],
    ...GEMM_TILES.int.map((t): [KScalar, KScalar, boolean, boolean, GemmTile] => ['i8', 'i32', false, false, t]),
    ['u8', 'i8', false, true, GEMM_TILES.int[0]],
  ];
  for (const [elem, out, ta, tb, tile] of variants) {
    for (const arch of ['sm_80', 'sm_90']) {
      it(`${elem}→${out} transA=${ta} transB=${tb} ${tile.name} ${arch}`, () => {
        const e = emitGemm(gemmKernel(elem, out, ta, tb), { tile })!;
        const file = join(dir, `${elem}-${tile.name}-${arch}.ptx`);
        writeFileSync(file, gemmModule(e, arch));
        const r = spawnSync('ptxas', [`-arch=${arch}`, '-v', file, '-o', `${file}.cubin`], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout + r.stderr).toMatch(/0 bytes spill stores, 0 bytes spill loads/);
      });
    }
  }
});

describe('gemm template: the PTX text on a CPU interpreter (test/ptx/gemm-sim.ts)', () => {
  /** Stores logical values as the element type's bytes. */
  const encode = (elem: KScalar, xs: number[]): Uint8Array => {
    const es = elem === 'f16' || elem === 'bf16' ? 2 : elem === 'i32' || elem === 'f32' ? 4 : 1;
    const dv = new DataView(new ArrayBuffer(xs.length * es));
    xs.forEach((x, i) => {
      if (elem === 'f16') dv.setUint16(2 * i, numToF16(x), true);
      else if (elem === 'bf16') dv.setUint16(2 * i, numToBf16(x), true);
      else if (es === 1) dv.setUint8(i, x & 255);
      else dv.setInt32(4 * i, 0x5a5a5a5a, true);
    });
    return new Uint8Array(dv.buffer);
  };
  const decode = (elem: KScalar, b: Uint8Array): number[] => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (elem === 'f16') return range(b.length / 2).map((i) => f16ToNum(dv.getUint16(2 * i, true)));
    if (elem === 'bf16') return range(b.length / 2).map((i) => bf16ToNum(dv.getUint16(2 * i, true)));
    if (elem === 'f32') return range(b.length / 4).map((i) => dv.getFloat32(4 * i, true));
    if (elem === 'i32') return range(b.length / 4).map((i) => dv.getInt32(4 * i, true));
    return range(b.length).map((i) => (elem === 'i8' ? dv.getInt8(i) : dv.getUint8(i)));
  };
  const asOut = (out: KScalar, x: number): number => {
    if (out === 'f16') return f16ToNum(numToF16(x));
    if (out === 'bf16') return bf16ToNum(numToBf16(x));
    if (out === 'f32') return Math.fround(x);
    if (out === 'i8') return ((((x + 128) % 256) + 256) % 256) - 128;
    if (out === 'u8') return ((x % 256) + 256) % 256;
    return x | 0;
  };

  const variants: [KScalar, KScalar, boolean, boolean, GemmTile][] = [
    ['f16', 'f16', false, false, GEMM_TILES.float[0]], ['f16', 'f16', true, true, GEMM_TILES.float[1]],
    ['bf16', 'f32', false, true, GEMM_TILES.float[3]], ['i8', 'i32', false, false, GEMM_TILES.int[0]],
    ['u8', 'i8', false, true, GEMM_TILES.int[1]], ['f16', 'f16', false, true, GEMM_TILES.float[4]],
  ];
  // [batch, M, N, K, A broadcast, B broadcast]: aligned rows (the cp.async path) over two row tiles and more
  // K tiles than stages (the stage ring wraps), unaligned rows (the element-by-element path) with
  // broadcasts, and a single element. K = 0 stands for the family's long K.
  const shapes: [number, number, number, number, boolean, boolean][] = [
    [1, 136, 24, 0, false, false], [2, 33, 140, 37, true, false], [2, 9, 5, 70, false, true], [1, 1, 1, 1, false, false],
  ];
  for (const [elem, out, ta, tb, tile] of variants) {
    it(`${elem}→${out} transA=${ta} transB=${tb} ${tile.name}`, () => {
      const e = emitGemm(gemmKernel(elem, out, ta, tb), { tile })!;
      const float = elem === 'f16' || elem === 'bf16';
      for (const [batch, M, N, K0, aBc, bBc] of shapes) {
        const K = K0 || (float ? 160 : 448);
        const next = rng(M * 31 + K);
        const val = () => (float ? next() : elem === 'u8' ? next() + 3 : next() * 40);
        const aN = (aBc ? 1 : batch) * M * K, bN = (bBc ? 1 : batch) * K * N;
        const aV = range(aN).map(val), bV = range(bN).map(val);
        const A = { base: 0x100000, bytes: encode(elem, aV) };
        const B = { base: 0x4000000, bytes: encode(elem, bV) };
        const Y = { base: 0x8000000, bytes: encode(out === 'i8' || out === 'u8' ? 'u8' : 'i32', range(batch * M * N).map(() => 0x5a)) };
        if (Y.bytes.length !== batch * M * N * (out === 'i8' || out === 'u8' ? 1 : out === 'i32' || out === 'f32' ? 4 : 2)) {
          Y.bytes = new Uint8Array(batch * M * N * 2).fill(0x5a);
        }
        const sa = aBc ? 0 : M * K, sb = bBc ? 0 : K * N;
        const grid = batch * Math.ceil(M / tile.bm) * Math.ceil(N / tile.bn);
        simulate(gemmModule(e, 'sm_90'), grid, e.launch.block, e.launch.sharedBytes, [A, B, Y, batch, M, N, K, sa, sb]);
        const got = decode(out, Y.bytes);
        const want: number[] = [];
        for (let b = 0; b < batch; b++) {
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              let s = 0;
              for (let k = 0; k < K; k++) {
                const a = aV[b * sa + (ta ? k * M + m : m * K + k)], bb = bV[b * sb + (tb ? n * K + k : k * N + n)];
                s += (elem === 'i8' ? (a << 24) >> 24 : a) * (elem === 'i8' ? (bb << 24) >> 24 : bb);
              }
              want.push(asOut(out, s));
            }
          }
        }
        expect(got, `${batch}×${M}×${N}×${K}`).toEqual(want);
      }
    });
  }
});
