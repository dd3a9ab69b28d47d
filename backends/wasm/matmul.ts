// The register-tiled f32 matmul template: the body the WASM backend emits instead of a kernel's own body when
// the kernel states a MatmulPattern (ir/kernel/ir.ts) over f32 with a scratch buffer. It is written in kernel
// IR, so the same emitter, relaxed-SIMD rewrite and tests apply; it computes exactly what the pattern says
// (Y = A·B per batch; only the order of rounding differs from the body's k-sum: the relaxed variant fuses
// multiply-adds).
//
// Why this shape (measured on x64 V8, see test/bench/wasm-matmul.bench.ts):
// - Register tile: 4 rows × 8 columns of Y in 8 f32x4 accumulators; each k step loads 2 vectors of B,
//   broadcasts 4 scalars of A (v128.load32_splat) and issues 8 multiply-adds written add(mul(a, b), acc)
//   (plain SIMD128: f32x4.mul + f32x4.add; relaxed: f32x4.relaxed_madd). V8 has 15 usable XMM registers: a
//   4×16 tile spills.
// - Packing: one 8-column panel of B is copied to scratch[0, 8K) as [k][8] (zero-padded past N), and the
//   4-row blocks of A to scratch[8K, 8K + 4⌊M/4⌋·K) as [block][k][4], once per batch (once in all when A is
//   broadcast). The inner loop then walks two sequential streams with one loop counter and one counter
//   local; the vector/row offsets fold into the load instructions (~6 integer ops per 16 FP ops: on x64 the
//   front end, not the FP pipes, limits a 128-bit kernel), and B's rows, N floats apart, cannot alias in L1.
// - Loop order: panels of B outermost, so a panel (8K floats) stays in L1 while the packed A blocks stream.
// - Edges without scalar loops: the last panel is zero-padded and stores only its columns < N; rows left by
//   the 4-row blocks use a 1-row tile reading A directly.
// - GEMV-like (M < 4, no 4-row blocks) with B not transposed: nothing is packed (a packed panel would be used
//   once); tiles read B directly, 16 columns wide (4 accumulators a row: the adds of one row are not one
//   dependency chain), then 8 and 4, so only the last N mod 4 columns go through a padded panel; two rows
//   share each load of B (attention with grouped KV heads has M = 2). Measured on the stories260K decoder's
//   matmuls: 1.3–2× faster than 1-row 8-column tiles.
import type { Expr, Kernel, KType, MatmulPattern, Stmt } from '../../ir/kernel/ir.ts';
import { add, assign, broadcast, c, div, eq, extract, if_, let_, load, local, loop, lt, mul, ne, or, reduceLanes, store, v } from './dsl.ts';

const F4: KType = { elem: 'f32', lanes: 4 };
const F1: KType = { elem: 'f32', lanes: 1 };
const I1: KType = { elem: 'i32', lanes: 1 };
/** Rows of Y per register tile, and f32x4 vectors per tile row (tile width NR = 4·NRV). */
const MR = 4, NRV = 2, NR = 4 * NRV;

/** Whether the template applies: f32 operands accumulated in f32, and a scratch buffer to pack into. */
export function hasMatmulTemplate(k: Kernel): boolean {
  const p = k.pattern;
  return p?.kind === 'matmul' && p.elem === 'f32' && p.acc === 'f32' && p.scratch !== undefined;
}

/** The template's body for a kernel with an f32 matmul pattern (see hasMatmulTemplate). */
export function matmulTemplate(k: Kernel): Stmt[] {
  const p = k.pattern as MatmulPattern;
  const S = p.scratch!;
  // Template names start with `mm_`; the kernel's own names are buffers and sizes only.
  const n = (s: string) => `mm_${s}`;
  const V = (s: string) => v(n(s));
  const M = V('M'), N = V('N'), K = V('K'), mMain = V('mMain'), aOff = V('aOff'), bOff = V('bOff'), yOff = V('yOff');
  const apBase = mul(K, c(NR)); // Ap follows the panel of B in scratch

  /** A's element (m, k) of the current batch, B's (k, j). */
  const aAt = (m: Expr, kk: Expr) => add(aOff, p.transA ? add(mul(kk, M), m) : add(mul(m, K), kk));
  const bAt = (kk: Expr, j: Expr) => add(bOff, p.transB ? add(mul(j, K), kk) : add(mul(kk, N), j));

  /**
   * One tile of `mr` rows from row i0 at column j0: zeroed accumulators, the k loop, then the stores (only
   * columns < N when `partial`). A comes packed (from `aPacked`, a scratch index) or directly; B from the
   * packed panel or directly (full panels of a non-transposed B).
   */
  const tile = (mr: number, tag: string, i0: Expr, j0: Expr, a: { packed: Expr } | 'direct', b: 'packed' | 'direct', partial: boolean, nv = NRV): Stmt[] => {
    const acc = (r: number, q: number) => n(`acc${tag}${r}_${q}`);
    const out: Stmt[] = [];
    for (let r = 0; r < mr; r++) for (let q = 0; q < nv; q++) out.push(local(acc(r, q), F4, c(0, F4)));
    const step = (bVec: (q: number) => Expr, aVal: (r: number) => Expr): Stmt[] => {
      const body: Stmt[] = [];
      for (let q = 0; q < nv; q++) body.push(let_(n(`b${tag}${q}`), bVec(q)));
      for (let r = 0; r < mr; r++) {
        body.push(let_(n(`a${tag}${r}`), broadcast(aVal(r), 4)));
        for (let q = 0; q < nv; q++) {
          body.push(assign(acc(r, q), add(mul(v(n(`a${tag}${r}`), F4), v(n(`b${tag}${q}`), F4)), v(acc(r, q), F4))));
        }
      }
      return body;
    };
    const kk = n(`k${tag}`);
    if (typeof a === 'object' && b === 'packed') {
      // Two sequential streams: the loop variable walks the panel, a counter walks the packed A block.
      const ka = n(`ka${tag}`);
      const body = step((q) => load(S, F4, add(v(kk), c(4 * q))), (r) => load(S, F1, add(v(ka), c(r))));
      body.push(assign(ka, add(v(ka), c(mr))));
      out.push(local(ka, I1, a.packed), loop(kk, 0, mul(K, c(NR)), body, { step: NR }));
    } else {
      const bVec = b === 'packed'
        ? (q: number) => load(S, F4, add(mul(v(kk), c(NR)), c(4 * q)))
        : (q: number) => load(p.b, F4, add(bAt(v(kk), j0), c(4 * q)));
      const aVal = typeof a === 'object'
        ? (r: number) => load(S, F1, add(add(a.packed, mul(v(kk), c(mr))), c(r)))
        : (r: number) => load(p.a, F1, aAt(add(i0, c(r)), v(kk)));
      out.push(loop(kk, 0, K, step(bVec, aVal)));
    }
    for (let r = 0; r < mr; r++) {
      const row = add(yOff, mul(add(i0, c(r)), N));
      for (let q = 0; q < nv; q++) {
        if (!partial) { out.push(store(p.y, add(add(row, j0), c(4 * q)), v(acc(r, q), F4))); continue; }
        for (let l = 0; l < 4; l++) {
          const col = add(j0, c(4 * q + l));
          out.push(if_(lt(col, N), [store(p.y, add(row, col), extract(v(acc(r, q), F4), l))]));
        }
      }
    }
    return out;
  };

  const b = V('b'), j0 = V('j0'), i0 = V('i0'), i1 = V('i1'), kk = V('k');
  /** Packs the panel at j0 (zero past N): scratch[k·NR + c] = B(k, j0 + c). */
  const packPanel = (partial: boolean): Stmt[] => {
    if (!partial && !p.transB) {
      return [loop(n('k'), 0, K, Array.from({ length: NRV }, (_, q) =>
        store(S, add(mul(kk, c(NR)), c(4 * q)), load(p.b, F4, add(bAt(kk, j0), c(4 * q))))))];
    }
    const cols: Stmt[] = [];
    for (let col = 0; col < NR; col++) {
      const j = add(j0, c(col));
      const at = add(mul(kk, c(NR)), c(col));
      cols.push(partial
        ? if_(lt(j, N), [store(S, at, load(p.b, F1, bAt(kk, j)))], [store(S, at, c(0, F1))])
        : store(S, at, load(p.b, F1, bAt(kk, j))));
    }
    return [loop(n('k'), 0, K, cols)];
  };
  /** Every row of the panel at j0: the packed 4-row blocks, then 1-row tiles for the rest. */
  const panel = (partial: boolean): Stmt[] => [
    ...packPanel(partial),
    loop(n('i0'), 0, mMain, tile(MR, 'm', i0, j0, { packed: add(apBase, mul(i0, K)) }, 'packed', partial), { step: MR }),
    loop(n('i1'), mMain, M, tile(1, 'r', i1, j0, 'direct', 'packed', partial)),
  ];
  const packA = loop(n('i0'), 0, mMain, [
    loop(n('k'), 0, K, Array.from({ length: MR }, (_, r) =>
      store(S, add(add(apBase, add(mul(i0, K), mul(kk, c(MR)))), c(r)), load(p.a, F1, aAt(add(i0, c(r)), kk))))),
  ], { step: MR });
  // Full panels: packed, unless B is not transposed and there are no 4-row blocks to reuse a packed panel.
  /**
   * GEMV-like (no 4-row blocks, B not transposed): B is read directly, `nv` vectors wide; pairs of rows share
   * each load of B (attention over a grouped KV head has M = 2), a row left over takes a 1-row tile.
   */
  const mPairs = V('mPairs'), i2 = V('i2');
  const directRows = (nv: number, tag: string): Stmt[] => [
    loop(n('i2'), 0, mPairs, tile(2, `p${tag}`, i2, j0, 'direct', 'direct', false, nv), { step: 2 }),
    loop(n('i1'), mPairs, M, tile(1, `d${tag}`, i1, j0, 'direct', 'direct', false, nv)),
  ];
  /**
   * GEMV-like with B transposed (M < 4, A not transposed: an LSTM/linear layer on one row): A's row and B's rows
   * are both contiguous in k, so each output is a 4-lane dot product (4 columns at a time share the loads of A)
   * and nothing is packed — packing would copy all of B on every run to use it once.
   */
  const dotRows = (): Stmt[] => {
    const kMain = V('kMain'), jMain = V('jMain'), iD = V('iD'), jD = V('jD'), k4 = V('k4'), kt = V('kt');
    const cols = (nc: number, tag: string, j: Expr): Stmt[] => {
      const acc = (q: number) => n(`dacc${tag}${q}`), sum = (q: number) => n(`dsum${tag}${q}`);
      const out: Stmt[] = [];
      for (let q = 0; q < nc; q++) out.push(local(acc(q), F4, c(0, F4)));
      const body: Stmt[] = [let_(n(`da${tag}`), load(p.a, F4, aAt(iD, k4)))];
      for (let q = 0; q < nc; q++) {
        body.push(assign(acc(q), add(mul(v(n(`da${tag}`), F4), load(p.b, F4, bAt(k4, add(j, c(q))))), v(acc(q), F4))));
      }
      out.push(loop(n('k4'), 0, kMain, body, { step: 4 }));
      for (let q = 0; q < nc; q++) out.push(local(sum(q), F1, reduceLanes('add', v(acc(q), F4))));
      const tail: Stmt[] = [let_(n(`dt${tag}`), load(p.a, F1, aAt(iD, kt)))];
      for (let q = 0; q < nc; q++) {
        tail.push(assign(sum(q), add(v(sum(q), F1), mul(v(n(`dt${tag}`), F1), load(p.b, F1, bAt(kt, add(j, c(q))))))));
      }
      out.push(loop(n('kt'), kMain, K, tail));
      for (let q = 0; q < nc; q++) out.push(store(p.y, add(add(yOff, mul(iD, N)), add(j, c(q))), v(sum(q), F1)));
      return out;
    };
    return [
      let_(n('kMain'), mul(div(K, c(4)), c(4))),
      let_(n('jMain'), mul(div(N, c(4)), c(4))),
      loop(n('iD'), 0, M, [
        loop(n('jD'), 0, jMain, cols(4, 'q', jD), { step: 4 }),
        loop(n('jT'), jMain, N, cols(1, 't', V('jT'))),
      ]),
    ];
  };
  const fullPanels = loop(n('j0'), 0, V('nMain'), panel(false), { step: NR });
  /** The columns from `from` on (fewer than NR), through a zero-padded packed panel. */
  const lastPanel = (from: Expr) => if_(lt(from, N), [let_(n('j0'), from), ...panel(true)]);
  // GEMV-like: 16 columns at a time, then 8, then 4, so only the last N mod 4 columns are packed.
  const nWide = V('nWide'), nVec = V('nVec');
  const panels: Stmt[] = p.transB ? [fullPanels, lastPanel(V('nMain'))] : [if_(eq(mMain, c(0)), [
    let_(n('nWide'), mul(div(N, c(2 * NR)), c(2 * NR))),
    let_(n('nVec'), mul(div(N, c(4)), c(4))),
    loop(n('j0'), 0, nWide, directRows(2 * NRV, 'w'), { step: 2 * NR }),
    loop(n('j0'), nWide, V('nMain'), directRows(NRV, 'n'), { step: NR }),
    if_(lt(V('nMain'), nVec), [let_(n('j0'), V('nMain')), ...directRows(1, 'v')]),
    lastPanel(nVec),
  ], [fullPanels, lastPanel(V('nMain'))])];
  return [
    let_(n('M'), p.m), let_(n('N'), p.n), let_(n('K'), p.k), let_(n('batch'), p.batch),
    let_(n('sa'), p.aBatchStride), let_(n('sb'), p.bBatchStride),
    let_(n('mMain'), mul(div(M, c(MR)), c(MR))),
    let_(n('mPairs'), mul(div(M, c(2)), c(2))),
    let_(n('nMain'), mul(div(N, c(NR)), c(NR))),
    loop(n('b'), 0, V('batch'), [
      let_(n('aOff'), mul(b, V('sa'))), let_(n('bOff'), mul(b, V('sb'))), let_(n('yOff'), mul(b, mul(M, N))),
      ...(p.transB && !p.transA
        ? [if_(eq(mMain, c(0)), dotRows(), [if_(or(eq(b, c(0)), ne(V('sa'), c(0))), [packA]), ...panels])]
        // A broadcast over the batch is packed once.
        : [if_(or(eq(b, c(0)), ne(V('sa'), c(0))), [packA]), ...panels]),
    ]),
  ];
}
