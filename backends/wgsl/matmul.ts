// The register-tiled f32 matmul template in WGSL: the shader the WGSL backend emits instead of a kernel's own
// body when the kernel states an f32 MatmulPattern (ir/kernel/ir.ts). Sizes and batch strides are runtime
// values: the shader evaluates the pattern's i32 expressions over the size params read from the parameter
// block (ir/kernel/webgpu-abi.ts), so one shader serves every shape. The kernel body stays the definition;
// this computes the same k-sums in the same order, with fused multiply-adds.
//
// Shape of the shader (why; measured on SwiftShader, the CPU Vulkan that tests and CI run on, with
// test/bench/wgsl-matmul.bench.ts — 512³ went from ~185 ms for 4×4 outputs per invocation to ~70–90 ms):
// - SwiftShader runs 4 invocations as the lanes of one SIMD vector; every load whose address depends on the
//   invocation (all of a matmul's) becomes a scalarized per-lane gather, ~30 ns each, whether it reads storage
//   or workgroup memory. Loads per multiply-add is what counts: an invocation computes a TM×TN register tile
//   (16×16: 32 loads per 256 FMAs per k step).
// - No workgroup-shared staging and no barriers: staging only adds stores, SwiftShader's barriers are
//   coroutine switches, and a staged variant with barriers did not finish compiling in minutes. The
//   operands stay in the CPU caches.
// - The k loop is unrolled by KU = 2 with each accumulator updated once per iteration (a loop-carried value
//   costs SwiftShader a masked blend per update); fma() halves the arithmetic. The last iteration's steps
//   past K load the clamped k = K − 1 and select zeros for both factors (0·0 adds nothing, never a NaN).
// - Edges without a second path: row and column indices are clamped into the matrix for the loads (rows past
//   M read row M−1, so every load is in bounds) and only stores inside the matrix happen. The stores go
//   through a private array and two loops: 256 unrolled guarded stores (each a scalarized scatter) made the
//   shader compile ~4× slower and they run once per tile.
// - The arena is viewed as `array<u32>`: a write to one component of a vector in memory may rewrite the whole
//   vector (WGSL, "Component Reference from Vector Memory View"; Apple's compiler does so), so invocations
//   storing neighbouring columns of a Y whose N is not a multiple of 4 would race through a vec4 view. On
//   SwiftShader vec4 and scalar views measured the same (a vec4 load is four gathers there).
// - Workgroups of 4×4 invocations, each tile of 64×64 outputs claimed grid-stride (workgroup index
//   wid.x + wid.y·nwg.x), so any workgroup count is correct. SwiftShader runs a workgroup on one thread:
//   small workgroups keep both cores busy on mid-size matrices. When the pattern's M (or N) is a small
//   constant (one decoder token), the tile shrinks to it and the invocations spread along the other dimension.
// On a discrete GPU this shader is correct but not tuned (256 accumulators spill registers; no shared-memory
// reuse); a GPU-tuned tile would be another entry of WGSL_MATMUL_TILES chosen by the caller.
import type { BufferParam, Expr, Kernel, MatmulPattern } from '../../ir/kernel/ir.ts';
import { add, c, div, max, mul } from '../../ir/kernel/build.ts';
import { paramVec4s } from '../../ir/kernel/webgpu-abi.ts';

/** A workgroup of tx × ty invocations, each computing tm rows × tn columns (tn a multiple of 4). */
export interface WgslMatmulTile {
  name: string;
  tm: number; tn: number;
  tx: number; ty: number;
  /** Unrolling of the k loop: ku products per accumulator update. */
  ku: number;
  /** fma() in the inner product, or a multiply then an add (the body's two roundings). */
  fma: boolean;
}

export const matmulTile = (tm: number, tn: number, tx: number, ty: number, ku = 2, fma = true): WgslMatmulTile =>
  ({ name: `${tm}x${tn}/${tx}x${ty}u${ku}${fma ? 'f' : ''}`, tm, tn, tx, ty, ku, fma });

/** The tiles the benchmark compares; the first is the default (see the header for why). */
export const WGSL_MATMUL_TILES: readonly WgslMatmulTile[] = [
  matmulTile(16, 16, 4, 4),
  matmulTile(16, 16, 8, 8),
  matmulTile(16, 8, 8, 8),
  matmulTile(8, 16, 8, 8, 1),
  matmulTile(8, 8, 8, 8, 4),
  matmulTile(4, 4, 8, 8, 1, false), // the classic "4×4 outputs per invocation"
];

export interface WgslMatmul {
  /** The whole module: the arena at @binding(0), the parameter block at @binding(1), entry point `main`. */
  wgsl: string;
  /** Invocations per workgroup (1-D) and workgroups (an i32 expression over the size params, ≥ 1). */
  launch: { block: number; grid: Expr; sharedBytes: 0 };
}

export interface WgslMatmulOptions {
  /** Overrides the tile chosen from the pattern's shape. */
  tile?: WgslMatmulTile;
}

class Unsupported extends Error {}

/**
 * The shader for a kernel with an f32 matmul pattern (A, B and Y f32 global buffers, f32 accumulation), or
 * undefined when the template does not apply (the caller then emits the kernel's body).
 */
export function emitMatmul(k: Kernel, opts: WgslMatmulOptions = {}): WgslMatmul | undefined {
  const p = k.pattern;
  if (p?.kind !== 'matmul' || p.elem !== 'f32' || p.acc !== 'f32') return undefined;
  const globals = k.buffers.filter((b) => b.space === 'global');
  if (![p.a, p.b, p.y].every((n) => globals.find((b) => b.name === n)?.elem === 'f32')) return undefined;
  try {
    return emit(k, p, globals, opts.tile ?? tileFor(p));
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

/** The default tile, narrowed when M or N is a small constant (GEMV-like products). */
export function tileFor(p: MatmulPattern): WgslMatmulTile {
  const known = (e: Expr) => (e.kind === 'const' ? Number(e.value) : undefined);
  const m = known(p.m), n = known(p.n);
  const fit = (x: number, sizes: number[]) => sizes.find((s) => x <= s)!;
  // M = 1, N = K = 1024: 4× less time than the default tile, whose rows past M repeat the loads of row 0.
  if (m !== undefined && m <= 8) return matmulTile(fit(m, [1, 2, 4, 8]), 8, 16, 1);
  if (n !== undefined && n <= 8) return matmulTile(16, fit(n, [4, 8]), 1, 16);
  return WGSL_MATMUL_TILES[0]!;
}

const cdiv = (x: Expr, d: number): Expr => div(add(x, c('i32', d - 1)), c('i32', d));

function emit(k: Kernel, p: MatmulPattern, globals: BufferParam[], t: WgslMatmulTile): WgslMatmul {
  if (t.tn % 4 !== 0 || t.tm < 1 || t.ku < 1) throw new Error(`matmul tile ${t.name}: tn must be a multiple of 4, tm and ku positive`);
  const BM = t.tm * t.ty, BN = t.tn * t.tx, threads = t.tx * t.ty, Q = t.tn / 4;
  const word = (w: number) => `P[${w >> 2}].${'xyzw'[w & 3]}`;
  const sizeNames = new Map(k.sizes.map((s, i) => [s.name, `s${i}`]));
  const ctx: ExprContext = { sizes: sizeNames, floorOps: false };
  const ix = (e: Expr) => indexExpr(e, ctx);
  const base = (name: string) => `i32(${word(globals.findIndex((b) => b.name === name))})`;
  const L: string[] = [];
  const o = (s: string) => L.push(s);

  // No kernel name in the text: kernels of the same shape share one module (and the device's pipeline cache).
  o(`// f32 matmul template ${t.name}: ${t.tm}x${t.tn} outputs per invocation, ${BM}x${BN} per workgroup`);
  o(`@group(0) @binding(0) var<storage, read_write> arena: array<u32>;`);
  // The parameter block: one word per global buffer then per size, in vec4s (ir/kernel/webgpu-abi.ts).
  o(`@group(0) @binding(1) var<uniform> P: array<vec4<u32>, ${paramVec4s(globals.length, k.sizes.length)}>;`);
  o('');
  o(`fn ld(i: i32) -> f32 { return bitcast<f32>(arena[i]); }`);
  const helpers = L.length;
  o('');
  o(`@compute @workgroup_size(${threads})`);
  o(`fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`);
  k.sizes.forEach((s, i) => o(`  let ${sizeNames.get(s.name)} = bitcast<i32>(${word(globals.length + i)});`));
  o(`  let M = ${ix(p.m)};`);
  o(`  let N = ${ix(p.n)};`);
  o(`  let K = ${ix(p.k)};`);
  o(`  let nb = ${ix(p.batch)};`);
  o(`  let sA = ${ix(p.aBatchStride)};`);
  o(`  let sB = ${ix(p.bBatchStride)};`);
  o(`  let aBase = ${base(p.a)};`);
  o(`  let bBase = ${base(p.b)};`);
  o(`  let yBase = ${base(p.y)};`);
  o(`  let tilesN = (N + ${BN - 1}) / ${BN};`);
  o(`  let perBatch = ((M + ${BM - 1}) / ${BM}) * tilesN;`);
  o(`  let total = nb * perBatch;`);
  o(`  let tx = i32(lid % ${t.tx}u);`);
  o(`  let ty = i32(lid / ${t.tx}u);`);
  o(`  let wgs = i32(nwg.x * nwg.y);`);
  o(`  for (var wt = i32(wid.x + wid.y * nwg.x); wt < total; wt += wgs) {`);
  o(`    let b = wt / perBatch;`);
  o(`    let r = wt - b * perBatch;`);
  o(`    let tmi = r / tilesN;`);
  o(`    let m0 = tmi * ${BM} + ty * ${t.tm};`);
  o(`    let n0 = (r - tmi * tilesN) * ${BN} + tx * ${t.tn};`);
  o(`    if (m0 >= M || n0 >= N) { continue; }`);
  o(`    let aOff = aBase + b * sA;`);
  o(`    let bOff = bBase + b * sB;`);
  o(`    let yOff = yBase + b * M * N;`);
  // Per row the index of A(row, 0), per column that of B(0, col), clamped into the matrix.
  for (let i = 0; i < t.tm; i++) {
    const row = `min(m0 + ${i}, M - 1)`;
    o(`    let a${i} = aOff + ${p.transA ? row : `${row} * K`};`);
  }
  for (let j = 0; j < t.tn; j++) {
    const col = `min(n0 + ${j}, N - 1)`;
    o(`    let b${j} = bOff + ${p.transB ? `${col} * K` : col};`);
  }
  for (let i = 0; i < t.tm; i++) for (let q = 0; q < Q; q++) o(`    var c${i}_${q} = vec4<f32>();`);
  const aAt = (i: number, kk: string) => (p.transA ? `a${i} + ${kk} * M` : `a${i} + ${kk}`);
  const bAt = (j: number, kk: string) => (p.transB ? `b${j} + ${kk}` : `b${j} + ${kk} * N`);
  o(`    for (var kk = 0; kk < K; kk += ${t.ku}) {`);
  for (let u = 0; u < t.ku; u++) {
    const kk = u === 0 ? 'kk' : `k${u}`;
    if (u > 0) {
      o(`      let k${u} = min(kk + ${u}, K - 1);`);
      o(`      let ok${u} = kk + ${u} < K;`);
    }
    const guard = (e: string, zero: string) => (u === 0 ? e : `select(${zero}, ${e}, ok${u})`);
    for (let q = 0; q < Q; q++) {
      o(`      let y${u}_${q} = ${guard(`vec4<f32>(${[0, 1, 2, 3].map((l) => `ld(${bAt(4 * q + l, kk)})`).join(', ')})`, 'vec4<f32>()')};`);
    }
    for (let i = 0; i < t.tm; i++) o(`      let x${u}_${i} = ${guard(`ld(${aAt(i, kk)})`, '0.0')};`);
  }
  // Each accumulator once per iteration, its products in k order.
  for (let i = 0; i < t.tm; i++) for (let q = 0; q < Q; q++) {
    let e = `c${i}_${q}`;
    for (let u = 0; u < t.ku; u++) e = t.fma ? `fma(vec4<f32>(x${u}_${i}), y${u}_${q}, ${e})` : `${e} + x${u}_${i} * y${u}_${q}`;
    o(`      c${i}_${q} = ${e};`);
  }
  o(`    }`);
  o(`    var acc: array<vec4<f32>, ${t.tm * Q}>;`);
  for (let i = 0; i < t.tm; i++) for (let q = 0; q < Q; q++) o(`    acc[${i * Q + q}] = c${i}_${q};`);
  o(`    let rows = min(M - m0, ${t.tm});`);
  o(`    let cols = min(N - n0, ${t.tn});`);
  o(`    for (var i = 0; i < rows; i++) {`);
  o(`      let y = yOff + (m0 + i) * N + n0;`);
  o(`      for (var j = 0; j < cols; j++) {`);
  o(`        arena[y + j] = bitcast<u32>(acc[i * ${Q} + j / 4][j % 4]);`);
  o(`      }`);
  o(`    }`);
  o(`  }`);
  o(`}`);
  if (ctx.floorOps) L.splice(helpers, 0, FLOOR_HELPERS);
  const tiles = mul(p.batch, mul(cdiv(p.m, BM), cdiv(p.n, BN)));
  return { wgsl: L.join('\n') + '\n', launch: { block: threads, grid: max(tiles, c('i32', 1)), sharedBytes: 0 } };
}

const FLOOR_HELPERS = [
  `fn floordiv(a: i32, b: i32) -> i32 { let q = a / b; return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0))); }`,
  `fn floormod(a: i32, b: i32) -> i32 { let r = a % b; return select(r, r + b, (r != 0) && ((r < 0) != (b < 0))); }`,
].join('\n');

interface ExprContext {
  sizes: Map<string, string>;
  /** Set when an expression calls floordiv/floormod (the module then defines them). */
  floorOps: boolean;
}

const CMP: Partial<Record<string, string>> = { eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=' };

/** An i32 (or comparison) expression of the pattern over the size params, as WGSL; other forms throw Unsupported. */
function indexExpr(e: Expr, ctx: ExprContext): string {
  const r = (x: Expr) => indexExpr(x, ctx);
  if (e.type.lanes !== 1) throw new Unsupported();
  if (e.type.elem === 'bool') {
    const op = e.kind === 'binary' ? CMP[e.op] : undefined;
    if (e.kind !== 'binary' || !op || e.a.type.elem !== 'i32') throw new Unsupported();
    return `(${r(e.a)} ${op} ${r(e.b)})`;
  }
  if (e.type.elem !== 'i32') throw new Unsupported();
  switch (e.kind) {
    case 'const': {
      const v = Number(e.value);
      return v === -2147483648 ? 'i32(-2147483647 - 1)' : v < 0 ? `(${v})` : `${v}`;
    }
    case 'var': {
      const s = ctx.sizes.get(e.name);
      if (!s) throw new Unsupported();
      return s;
    }
    case 'select': return `select(${r(e.b)}, ${r(e.a)}, ${r(e.cond)})`;
    case 'binary':
      switch (e.op) {
        case 'add': return `(${r(e.a)} + ${r(e.b)})`;
        case 'sub': return `(${r(e.a)} - ${r(e.b)})`;
        case 'mul': return `(${r(e.a)} * ${r(e.b)})`;
        case 'div': return `(${r(e.a)} / ${r(e.b)})`;
        case 'mod': return `(${r(e.a)} % ${r(e.b)})`;
        case 'min': return `min(${r(e.a)}, ${r(e.b)})`;
        case 'max': return `max(${r(e.a)}, ${r(e.b)})`;
        case 'floordiv': ctx.floorOps = true; return `floordiv(${r(e.a)}, ${r(e.b)})`;
        case 'floormod': ctx.floorOps = true; return `floormod(${r(e.a)}, ${r(e.b)})`;
        default: throw new Unsupported();
      }
    default: throw new Unsupported();
  }
}
