// A register-tiled f32 matmul written in kernel IR: C[M,N] += A[M,K]·B[K,N] (row-major), with two scratch
// buffers for packed copies of A and B.
//
// Why this shape:
// - Register tile: MR × (NRV·4) of C lives in MR·NRV f32x4 accumulators; each k step loads NRV vectors of B,
//   broadcasts MR scalars of A (v128.load32_splat) and issues MR·NRV multiply-adds written as
//   add(mul(a, b), acc) — plain SIMD128 emits f32x4.mul + f32x4.add, the relaxed variant fuses them into
//   f32x4.relaxed_madd. V8 allocates 15 XMM registers, so the tile is 4×(2·4) (8 accumulators, 2 B vectors,
//   a broadcast and a product temporary) rather than 4×(4·4), which spills.
// - Packing: B is copied panel by panel to Bp[panel][k][NR] and A block by block to Ap[block][k][MR], so the
//   inner loop reads two sequential streams: the loop variable walks Bp and a counter walks Ap, and the
//   vector/row offsets fold into the load instructions. That leaves ~6 integer ops per k step next to the
//   16 FP ops — on x64 the front end, not the FP pipes, is what limits a 128-bit kernel.
// - Loop order: column panels outermost, so one panel of Bp (K·NR floats) stays in L1 while the packed row
//   blocks of A stream past it.
// - Edges: rows left by the row blocks use a 1-row tile reading A and B directly; columns left by the panels
//   use a scalar dot product. Only full tiles are packed.
import type { Expr, Kernel, KType, Stmt } from '../../../ir/kernel/ir.ts';
import { add, assign, broadcast, c, div, let_, load, local, loop, mul, store, v } from '../dsl.ts';

export interface MatmulTiling {
  /** Rows of C per register tile. */
  mr: number;
  /** f32x4 vectors of C per tile row (tile width 4·nrv). */
  nrv: number;
}
export const DEFAULT_TILING: MatmulTiling = { mr: 4, nrv: 2 };

const F4: KType = { elem: 'f32', lanes: 4 };
const F1: KType = { elem: 'f32', lanes: 1 };
const I1: KType = { elem: 'i32', lanes: 1 };
const M = v('M'), N = v('N'), K = v('K');
const floorTo = (x: Expr, step: number): Expr => mul(div(x, c(step)), c(step));

/** Where a tile's operands come from at step k. */
type Source =
  | { kind: 'packed'; b0: Expr; a0: Expr }      // Bp from b0 in steps of NR, Ap from a0 in steps of MR
  | { kind: 'direct'; row: Expr; j0: Expr };     // B[k, j0…] and A[row, k]

/** One register tile at (row i0, column j0): load C, accumulate over k, store C. */
function tile(mr: number, nrv: number, i0: Expr, j0: Expr, tag: string, src: Source): Stmt[] {
  const acc = (r: number, q: number) => `acc${tag}${r}_${q}`;
  const cIndex = (r: number, q: number) => add(add(mul(add(i0, c(r)), N), j0), c(4 * q));
  const out: Stmt[] = [];
  for (let r = 0; r < mr; r++) for (let q = 0; q < nrv; q++) out.push(local(acc(r, q), F4, load('C', F4, cIndex(r, q))));
  const step = (bIndex: (q: number) => Expr, aIndex: (r: number) => Expr, bBuf: string, aBuf: string): Stmt[] => {
    const body: Stmt[] = [];
    for (let q = 0; q < nrv; q++) body.push(let_(`b${tag}${q}`, load(bBuf, F4, bIndex(q))));
    for (let r = 0; r < mr; r++) {
      body.push(let_(`a${tag}${r}`, broadcast(load(aBuf, F1, aIndex(r)), 4)));
      for (let q = 0; q < nrv; q++) body.push(assign(acc(r, q), add(mul(v(`a${tag}${r}`, F4), v(`b${tag}${q}`, F4)), v(acc(r, q), F4))));
    }
    return body;
  };
  if (src.kind === 'packed') {
    const [kb, ka] = [`kb${tag}`, `ka${tag}`];
    const body = step((q) => add(v(kb), c(4 * q)), (r) => add(v(ka), c(r)), 'Bp', 'Ap');
    body.push(assign(ka, add(v(ka), c(mr))));
    out.push(local(ka, I1, src.a0), loop(kb, src.b0, add(src.b0, mul(K, c(4 * nrv))), body, { step: 4 * nrv }));
  } else {
    const k = v(`k${tag}`);
    out.push(loop(`k${tag}`, 0, K, step((q) => add(add(mul(k, N), src.j0), c(4 * q)), () => add(mul(src.row, K), k), 'B', 'A')));
  }
  for (let r = 0; r < mr; r++) for (let q = 0; q < nrv; q++) out.push(store('C', cIndex(r, q), v(acc(r, q), F4)));
  return out;
}

export function matmulKernel(name = 'matmul_f32', tiling: MatmulTiling = DEFAULT_TILING): Kernel {
  const { mr, nrv } = tiling;
  const nr = 4 * nrv;
  const nMain = floorTo(N, nr), mMain = floorTo(M, mr);
  const j0 = v('j0'), i0 = v('i0'), k = v('k');
  const packB = loop('j0', 0, nMain, [
    loop('k', 0, K, Array.from({ length: nrv }, (_, q) =>
      store('Bp', add(add(mul(j0, K), mul(k, c(nr))), c(4 * q)), load('B', F4, add(add(mul(k, N), j0), c(4 * q)))))),
  ], { step: nr });
  const packA = loop('i0', 0, mMain, [
    loop('k', 0, K, Array.from({ length: mr }, (_, r) =>
      store('Ap', add(add(mul(i0, K), mul(k, c(mr))), c(r)), load('A', F1, add(mul(add(i0, c(r)), K), k))))),
  ], { step: mr });
  const body: Stmt[] = [
    packB,
    packA,
    loop('j0', 0, nMain, [
      loop('i0', 0, mMain, tile(mr, nrv, i0, j0, 'm', { kind: 'packed', b0: mul(j0, K), a0: mul(i0, K) }), { step: mr }),
      loop('i1', mMain, M, tile(1, nrv, v('i1'), j0, 'r', { kind: 'direct', row: v('i1'), j0 })),
    ], { step: nr, kind: 'parallel' }),
    // Columns left over by the panels: one dot product per element.
    loop('i', 0, M, [
      loop('j', nMain, N, [
        local('s', F1, load('C', F1, add(mul(v('i'), N), v('j')))),
        loop('k', 0, K, [assign('s', add(mul(load('A', F1, add(mul(v('i'), K), k)), load('B', F1, add(mul(k, N), v('j')))), v('s', F1)))]),
        store('C', add(mul(v('i'), N), v('j')), v('s', F1)),
      ]),
    ]),
  ];
  return {
    name,
    sizes: [{ name: 'M' }, { name: 'N' }, { name: 'K' }],
    buffers: [
      { name: 'A', elem: 'f32', access: 'read', size: mul(M, K), space: 'global' },
      { name: 'B', elem: 'f32', access: 'read', size: mul(K, N), space: 'global' },
      { name: 'C', elem: 'f32', access: 'readwrite', size: mul(M, N), space: 'global' },
      { name: 'Ap', elem: 'f32', access: 'readwrite', size: mul(M, K), space: 'global' },
      { name: 'Bp', elem: 'f32', access: 'readwrite', size: mul(K, N), space: 'global' },
    ],
    body,
  };
}
