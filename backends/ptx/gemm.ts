// Tensor-core GEMM templates in PTX: the `.entry` the PTX backend emits instead of a kernel's own body when the
// kernel states a MatmulPattern (ir/kernel/ir.ts) over f16/bf16 (f32 accumulation) or i8/u8 (i32
// accumulation). The pattern's sizes and strides are runtime values: the entry computes them from its size
// params with the same i32 expressions the pattern states, so one entry serves every shape.
//
// Shape of the kernel (why):
// - mma.sync (sm_80+; m16n8k16 for 16-bit floats, m16n8k32 for 8-bit ints) on a block tile BM×BN split over
//   8 warps (4 in the `w4` tile), each owning a WM×WN warp tile of accumulators in registers. wgmma would be
//   faster on sm_90a but needs a second, asynchronous design; mma.sync runs on every target from sm_80 on.
// - Operands stream through `stages` shared-memory buffers filled by cp.async (16 bytes per thread per copy,
//   zero-filled past the matrix edges through cp.async's source size), one commit group per K tile: while the
//   warps multiply tile kt, the copies of tiles kt+1 … kt+stages−1 are in flight.
// - Shared memory is laid out per operand in the operand's own memory order (a "K-major" operand has k
//   contiguous: A, or B when transB; an "MN-major" one has m/n contiguous) with 16-byte chunks XOR-swizzled
//   by row, so that the 8 row addresses of each ldmatrix phase fall in 8 distinct bank groups.
// - Fragments come from ldmatrix (.trans for 16-bit MN-major operands). 8-bit MN-major B (the common
//   row-major B of the HE lowering) has no transposing ldmatrix: each thread reads four 32-bit words from four
//   consecutive k rows and transposes the 4×4 bytes with prmt, which gives it 4 consecutive columns instead
//   of the fragment's column g of four n8 tiles; the template renames columns instead (tile j's column g is
//   the warp's column 4g + j mod 4 of 32-column group ⌊j/4⌋), and the epilogue stores through the same
//   renaming — which makes each thread's outputs 4 consecutive columns, a 16-byte store.
// - Any M, N, K, batch is correct: the copy predicates zero-fill rows/columns/k past the edges and the stores
//   are guarded. The fast copy path needs 16-byte aligned rows (leading dimension × element size and the batch
//   strides multiples of 16, buffers 16-byte aligned); otherwise a uniform branch takes a slow path that loads
//   elements one by one with per-element guards into the same shared layout.
// - Every per-thread address is a kernel-IR i32 expression over the thread index, emitted by one small
//   Expr→PTX evaluator (PtxAsm) and evaluated on the CPU by the tests' model of the data movement
//   (test/ptx/gemm.test.ts), so the swizzles and fragment layouts are checked without a GPU; the emitted text
//   itself runs on a CPU interpreter of its PTX subset (test/ptx/gemm-sim.ts).
import type { BufferParam, Expr, Kernel, KScalar, MatmulPattern } from '../../ir/kernel/ir.ts';
import { add, and, c, div, min, mod, mul, shr, sub, v, xor } from '../../ir/kernel/build.ts';
import { evalBinary } from '../../ir/kernel/interpret.ts';
import { byteSize as elemBytes } from '../../ir/dtype.ts';

/** A block tile: BM×BN outputs per block, WM×WN per warp, `kBytes` of K per stage, `stages` buffers. */
export interface GemmTile {
  name: string;
  bm: number; bn: number; wm: number; wn: number;
  /** Bytes of K per shared-memory stage: 64 or 128 (32 or 64 f16 elements; 64 or 128 i8). */
  kBytes: 64 | 128;
  stages: number;
  /** Blocks that must fit on one SM (`.minnctapersm`): caps registers so that two 256-thread blocks fit. */
  minBlocks?: number;
}

/** How the executor launches the entry: gridDim = (grid, 1, 1), blockDim = (block, 1, 1). */
export interface GemmLaunch {
  block: number;
  /** i32 expression over the kernel's size params. */
  grid: Expr;
  /** Dynamic shared memory; above 48 KiB the executor must raise the function's limit first. */
  sharedBytes: number;
}

export interface GemmEntry {
  /**
   * Module-level declarations (the dynamic shared-memory symbol `NAME_smem`) followed by `.visible .entry NAME(`
   * with one `.param .u64 NAME_param_i` per global buffer in the kernel's order, then one `.param .u32
   * NAME_size_i` per size param. No `.version`/`.target` header: the module's emitter writes it (sm_80+,
   * PTX ISA 7.0+; gemmModule makes a standalone module).
   */
  ptx: string;
  launch: GemmLaunch;
  tile: GemmTile;
}

export type GemmInput = Pick<Kernel, 'name' | 'buffers' | 'sizes' | 'pattern'>;

export interface GemmOptions {
  tile?: GemmTile;
}

const t = (name: string, bm: number, bn: number, wm: number, wn: number, kBytes: 64 | 128, stages: number, minBlocks?: number): GemmTile =>
  ({ name, bm, bn, wm, wn, kBytes, stages, ...(minBlocks ? { minBlocks } : {}) });

/** The tiles the benchmark compares; the first of each list is the default. */
export const GEMM_TILES: Record<'float' | 'int', readonly GemmTile[]> = {
  // Default: 4 warps of 64×64 — the fastest f16 tile on an H100 in every device run (381–398 TFLOP/s at 4096³
  // against 337–356 for 8 warps of 64×32: fewer shared-memory reads per mma).
  float: [
    t('m128n128k32s4w4', 128, 128, 64, 64, 64, 4),
    t('m128n128k32s4', 128, 128, 64, 32, 64, 4, 2),
    t('m128n128k64s3', 128, 128, 64, 32, 128, 3),
    t('m128n256k32s4', 128, 256, 64, 64, 64, 4),
    t('m256n128k32s4', 256, 128, 64, 64, 64, 4),
  ],
  int: [
    t('m128n128k64s4', 128, 128, 64, 32, 64, 4, 2),
    t('m128n128k128s3', 128, 128, 64, 32, 128, 3),
    t('m128n256k64s3', 128, 256, 64, 64, 64, 3),
  ],
};

type Family = 'float' | 'int';

/** What the template needs of the pattern; undefined when it does not apply. */
export interface GemmSpec {
  family: Family;
  elem: KScalar;        // of A and B
  out: KScalar;         // of Y (its buffer's element)
  es: number;           // bytes per input element
  transA: boolean; transB: boolean;
}

const INT_OUT = new Set<KScalar>(['i8', 'u8', 'i32', 'u32']);

export function gemmSpec(k: GemmInput): GemmSpec | undefined {
  const p = k.pattern;
  if (p?.kind !== 'matmul') return undefined;
  const buf = (name: string): BufferParam | undefined => k.buffers.find((b) => b.name === name && b.space === 'global');
  const a = buf(p.a), b = buf(p.b), y = buf(p.y);
  if (!a || !b || !y || a.elem !== p.elem || b.elem !== p.elem) return undefined;
  if ((p.elem === 'f16' || p.elem === 'bf16') && p.acc === 'f32' && (y.elem === p.elem || y.elem === 'f32')) {
    return { family: 'float', elem: p.elem, out: y.elem, es: 2, transA: p.transA, transB: p.transB };
  }
  if ((p.elem === 'i8' || p.elem === 'u8') && (p.acc === 'i32' || p.acc === 'u32') && INT_OUT.has(y.elem)) {
    // 8-bit MN-major A has neither a transposing ldmatrix nor the column renaming trick (it would rename rows).
    if (p.transA) return undefined;
    return { family: 'int', elem: p.elem, out: y.elem, es: 1, transA: p.transA, transB: p.transB };
  }
  return undefined;
}

// ---------------------------------------------------------------- the plan: per-thread index expressions

const i32 = (x: number): Expr => c('i32', x);
/** Variables of the plan's expressions (the `$` keeps them apart from size-param names). */
export const TID = '$tid';
const tid = v(TID);

/** One operand's shared-memory tile and its copy/fragment geometry. */
export interface OperandPlan {
  kMajor: boolean;
  /** Rows of the shared tile (BM/BN when K-major, BK when MN-major) and bytes per row. */
  rows: number; rowBytes: number;
  /** Offset of the operand inside a stage. */
  base: number;
  bytes: number;
  /** 16-byte chunks each thread copies per stage. */
  chunksPerThread: number;
  /** For copy i of thread TID: offsets (in elements) inside the block tile along MN and K, and the swizzled shared offset. */
  chunk: (i: number) => { mn: Expr; k: Expr; smem: Expr };
}

/** An accumulator run: consecutive output columns held by one thread. */
export interface AccRun { row: Expr; col: Expr; acc: number[] }

export interface GemmPlan {
  tile: GemmTile; spec: GemmSpec;
  threads: number; warpsN: number;
  bk: number; ksteps: number; stageBytes: number; sharedBytes: number;
  mt: number; nt: number;  // m16 tiles and n8 tiles per warp
  a: OperandPlan; b: OperandPlan;
  /** Address (bytes, relative to the stage) of thread TID's ldmatrix row for A's m16 tile i at k step ks. */
  aFrag: (i: number, ks: number) => Expr;
  /**
   * B fragments: 'ldmatrix' gives n8 tiles 2jj, 2jj+1 per x4 load; 'prmt' (8-bit MN-major) reads words
   * (jh, h, rr): k row ks·32 + h·16 + 4·tig + rr, 4 bytes at the warp's column 32·jh + 4g.
   */
  bMode: 'ldmatrix' | 'ldmatrix.trans' | 'prmt';
  aMode: 'ldmatrix' | 'ldmatrix.trans';
  bFrag: (jj: number, ks: number) => Expr;
  bWord: (jh: number, h: number, rr: number, ks: number) => Expr;
  /** Output coordinates within the block tile; acc index = (i·nt + j)·4 + r. */
  runs: AccRun[];
}

export function accIndex(plan: Pick<GemmPlan, 'nt'>, i: number, j: number, r: number): number {
  return (i * plan.nt + j) * 4 + r;
}

/** The data movement of a tile, as i32 expressions over TID; undefined if the tile does not fit the spec. */
export function gemmPlan(spec: GemmSpec, tile: GemmTile): GemmPlan | undefined {
  const { bm, bn, wm, wn, kBytes, stages } = tile;
  const es = spec.es;
  if (bm % wm || bn % wn || wm % 16 || wn % 16) return undefined;
  const warpsM = bm / wm, warpsN = bn / wn, threads = warpsM * warpsN * 32;
  const bk = kBytes / es, ksteps = kBytes / 32;
  const mt = wm / 16, nt = wn / 8;
  const bMode = spec.transB ? 'ldmatrix' : es === 2 ? 'ldmatrix.trans' : 'prmt';
  if (bMode === 'prmt' && wn % 32) return undefined;

  const operand = (kMajor: boolean, mnTile: number, base: number): OperandPlan | undefined => {
    const rows = kMajor ? mnTile : bk, rowBytes = kMajor ? kBytes : mnTile * es;
    if (rowBytes < 64 || (!kMajor && rowBytes < 128)) return undefined;
    const bytes = rows * rowBytes, chunks = bytes / 16;
    if (chunks % threads) return undefined;
    const cpr = rowBytes / 16;
    return {
      kMajor, rows, rowBytes, base, bytes, chunksPerThread: chunks / threads,
      chunk: (i) => {
        const id = add(tid, i32(i * threads));
        const row = div(id, i32(cpr)), ch = mod(id, i32(cpr));
        const smem = swizzled(row, ch, rowBytes);
        return kMajor
          ? { mn: row, k: mul(ch, i32(16 / es)), smem }
          : { mn: mul(ch, i32(16 / es)), k: row, smem };
      },
    };
  };
  const a = operand(!spec.transA, bm, 0);
  if (!a) return undefined;
  const b = operand(spec.transB, bn, a.bytes);
  if (!b) return undefined;
  const stageBytes = a.bytes + b.bytes;

  const lane = and(tid, i32(31)), warp = shr(tid, i32(5));
  const wmI = div(warp, i32(warpsN)), wnI = mod(warp, i32(warpsN));
  const g = shr(lane, i32(2)), tig = and(lane, i32(3));
  const q = shr(lane, i32(3)), r8 = and(lane, i32(7));
  const mBase = mul(wmI, i32(wm)), nBase = mul(wnI, i32(wn));
  const elemsPer16 = 16 / es;

  const aFrag = (i: number, ks: number): Expr => {
    if (a.kMajor) {
      // lanes 0–15 address rows 0–15 of k chunk 2ks, lanes 16–31 the same rows of chunk 2ks+1.
      const row = add(add(mBase, i32(i * 16)), and(lane, i32(15)));
      const ch = add(i32(ks * 2), shr(lane, i32(4)));
      return swizzled(row, ch, a.rowBytes);
    }
    // .trans: matrix q holds m rows (q&1)·8…, k rows (q>>1)·8… of the k step.
    const krow = add(i32(ks * 16), add(mul(shr(q, i32(1)), i32(8)), r8));
    const ch = div(add(add(mBase, i32(i * 16)), mul(and(q, i32(1)), i32(8))), i32(elemsPer16));
    return swizzled(krow, ch, a.rowBytes);
  };
  const bFrag = (jj: number, ks: number): Expr => {
    if (b.kMajor) {
      // matrix q: n tile 2jj + (q>>1), k chunk 2ks + (q&1).
      const row = add(add(nBase, i32(jj * 16)), add(mul(shr(q, i32(1)), i32(8)), r8));
      const ch = add(i32(ks * 2), and(q, i32(1)));
      return swizzled(row, ch, b.rowBytes);
    }
    const krow = add(i32(ks * 16), add(mul(and(q, i32(1)), i32(8)), r8));
    const ch = div(add(add(nBase, i32(jj * 16)), mul(shr(q, i32(1)), i32(8))), i32(elemsPer16));
    return swizzled(krow, ch, b.rowBytes);
  };
  const bWord = (jh: number, h: number, rr: number, ks: number): Expr => {
    const krow = add(i32(ks * 32 + h * 16 + rr), mul(tig, i32(4)));
    const col = add(add(nBase, i32(jh * 32)), mul(g, i32(4)));
    return add(swizzled(krow, shr(col, i32(4)), b.rowBytes), and(col, i32(15)));
  };

  const runs: AccRun[] = [];
  for (let i = 0; i < mt; i++) {
    for (let h = 0; h < 2; h++) {
      const row = add(add(mBase, i32(i * 16 + h * 8)), g);
      if (bMode === 'prmt') {
        // Renamed columns: tile j's column 2tig+p is the warp's column 32⌊j/4⌋ + 4(2tig+p) + j mod 4.
        for (let jh = 0; jh < nt / 4; jh++) {
          for (let p = 0; p < 2; p++) {
            const col = add(add(nBase, i32(jh * 32 + 4 * p)), mul(tig, i32(8)));
            runs.push({ row, col, acc: [0, 1, 2, 3].map((j4) => accIndex({ nt }, i, jh * 4 + j4, h * 2 + p)) });
          }
        }
      } else {
        for (let j = 0; j < nt; j++) {
          const col = add(add(nBase, i32(j * 8)), mul(tig, i32(2)));
          runs.push({ row, col, acc: [accIndex({ nt }, i, j, h * 2), accIndex({ nt }, i, j, h * 2 + 1)] });
        }
      }
    }
  }
  return {
    tile, spec, threads, warpsN, bk, ksteps, stageBytes, sharedBytes: stageBytes * stages, mt, nt, a, b,
    aFrag, bFrag, bWord, runs, bMode, aMode: a.kMajor ? 'ldmatrix' : 'ldmatrix.trans',
  };
}

/**
 * Byte offset of 16-byte chunk `ch` of shared row `row`, XOR-swizzled so that 8 consecutive rows at one chunk
 * (an ldmatrix phase) hit 8 distinct 16-byte bank groups: rows of 128+ bytes XOR with row mod 8; 64-byte rows
 * (two per 128-byte bank line) XOR with (row/2) mod 4.
 */
function swizzled(row: Expr, ch: Expr, rowBytes: number): Expr {
  const sw = rowBytes >= 128 ? and(row, i32(7)) : and(shr(row, i32(1)), i32(3));
  return add(mul(row, i32(rowBytes)), mul(xor(ch, sw), i32(16)));
}

// ---------------------------------------------------------------- PTX text: registers and the i32 evaluator

const PTX_OP: Partial<Record<string, string>> = {
  add: 'add.s32', sub: 'sub.s32', mul: 'mul.lo.s32', div: 'div.s32', mod: 'rem.s32', min: 'min.s32', max: 'max.s32',
  and: 'and.b32', or: 'or.b32', xor: 'xor.b32', shl: 'shl.b32', shr: 'shr.s32',
};

class Unsupported extends Error {}

/** Straight-line PTX with virtual registers; `index` emits i32 expressions with common subexpressions shared. */
export class PtxAsm {
  readonly lines: string[] = [];
  private readonly counts = new Map<string, number>();
  private readonly cache = new Map<string, string>();
  private labels = 0;
  constructor(private readonly env: Map<string, string>, private readonly prefix = '') {}

  reg(kind: 'r' | 'rd' | 'p' | 'h' | 'c' | 'f'): string {
    const n = this.counts.get(kind) ?? 0;
    this.counts.set(kind, n + 1);
    return `%${kind}${n}`;
  }
  op(text: string): void { this.lines.push(`\t${text};`); }
  label(): string { return `${this.prefix}L${this.labels++}`; }
  place(label: string): void { this.lines.push(`${label}:`); }
  bind(name: string, reg: string): void { this.env.set(name, reg); }

  /** The register declarations for everything allocated so far. */
  declarations(): string[] {
    const type: Record<string, string> = { r: '.b32', rd: '.b64', p: '.pred', h: '.b16', c: '.b32', f: '.b32' };
    return [...this.counts].map(([k, n]) => `\t.reg ${type[k]} %${k}<${n}>;`);
  }

  /** An i32 operand (a register, or a literal for constants) holding e. Loop-invariant uses only. */
  index(e: Expr): string {
    if (e.kind === 'const') return String(Number(e.value) | 0);
    if (e.kind === 'var') {
      const r = this.env.get(e.name);
      if (!r) throw new Unsupported(`unbound ${e.name}`);
      return r;
    }
    if (e.kind !== 'binary' || e.type.elem !== 'i32' || e.type.lanes !== 1) throw new Unsupported(e.kind);
    const key = JSON.stringify(e);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const ins = PTX_OP[e.op];
    if (!ins) throw new Unsupported(e.op);
    let a = this.index(e.a), b = this.index(e.b);
    const lit = (s: string) => !s.startsWith('%');
    if (lit(a) && lit(b)) {
      if ((e.op === 'div' || e.op === 'mod') && Number(b) === 0) throw new Unsupported('division by zero');
      return String(Number(evalBinary(e.op, 'i32', Number(a), Number(b))) | 0);
    }
    // x + 0, 0 + x, x · 1, 1 · x: no instruction.
    if (lit(b) && Number(b) === (e.op === 'mul' || e.op === 'div' ? 1 : e.op === 'add' || e.op === 'sub' ? 0 : NaN)) return a;
    if (lit(a) && Number(a) === (e.op === 'mul' ? 1 : e.op === 'add' ? 0 : NaN)) return b;
    if (lit(a)) { const r = this.reg('r'); this.op(`mov.b32 ${r}, ${a}`); a = r; }
    if ((e.op === 'shl' || e.op === 'shr') && !lit(b)) { const r = this.reg('r'); this.op(`and.b32 ${r}, ${b}, 31`); b = r; }
    if ((e.op === 'shl' || e.op === 'shr') && lit(b)) b = String(Number(b) & 31);
    const d = this.reg('r');
    this.op(`${ins} ${d}, ${a}, ${b}`);
    this.cache.set(key, d);
    return d;
  }

  /** A register (never a literal) holding e. */
  indexReg(e: Expr): string {
    const x = this.index(e);
    if (x.startsWith('%')) return x;
    const r = this.reg('r');
    this.op(`mov.b32 ${r}, ${x}`);
    return r;
  }
}

/**
 * Registers for a family of per-thread offsets: expressions that differ by a constant over every thread share
 * one register plus an immediate (so `ldmatrix [%r + 1024]`). Returns [register, immediate] per expression.
 */
function offsetGroups(asm: PtxAsm, exprs: Expr[], threads: number, baseReg: string): [string, number][] {
  const values = exprs.map((e) => Array.from({ length: threads }, (_, t) => evalTid(e, t)));
  const groups: { values: number[]; reg: string }[] = [];
  return exprs.map((e, i) => {
    for (const g of groups) {
      const d = values[i][0] - g.values[0];
      if (values[i].every((x, t) => x - g.values[t] === d)) return [g.reg, d];
    }
    const r = asm.reg('r');
    asm.op(`add.s32 ${r}, ${baseReg}, ${asm.index(e)}`);
    groups.push({ values: values[i], reg: r });
    return [r, 0];
  });
}

/** Evaluates a plan expression for one thread (the CPU side of the evaluator; tests use it too). */
export function evalTid(e: Expr, tidValue: number): number {
  switch (e.kind) {
    case 'const': return Number(e.value);
    case 'var': if (e.name === TID) return tidValue; throw new Error(`unbound ${e.name}`);
    case 'binary': {
      const a = evalTid(e.a, tidValue), b = evalTid(e.b, tidValue);
      switch (e.op) { // the plan's operators, on non-negative i32 values
        case 'add': return (a + b) | 0;
        case 'mul': return Math.imul(a, b);
        case 'div': return (a / b) | 0;
        case 'mod': return a % b;
        case 'and': return a & b;
        case 'xor': return a ^ b;
        case 'shr': return a >> (b & 31);
        default: return Number(evalBinary(e.op, 'i32', a, b));
      }
    }
    default: throw new Error(`unexpected ${e.kind}`);
  }
}

const addr = (reg: string, imm: number) => (imm === 0 ? `[${reg}]` : `[${reg}+${imm}]`);

// ---------------------------------------------------------------- the entry

/** The `.entry` for a kernel with a matmul pattern, or undefined when no template applies. */
export function emitGemm(k: GemmInput, opts: GemmOptions = {}): GemmEntry | undefined {
  const spec = gemmSpec(k);
  if (!spec) return undefined;
  const tile = opts.tile ?? GEMM_TILES[spec.family][0];
  const plan = gemmPlan(spec, tile);
  if (!plan) return undefined;
  try {
    return emitEntry(k, k.pattern as MatmulPattern, plan);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

const cdiv = (x: Expr, d: number): Expr => div(add(x, i32(d - 1)), i32(d));

function emitEntry(k: GemmInput, p: MatmulPattern, plan: GemmPlan): GemmEntry {
  const { tile, spec, threads, stageBytes } = plan;
  const { es } = spec;
  const smem = `${k.name}_smem`;
  const globals = k.buffers.filter((b) => b.space === 'global');
  const env = new Map<string, string>();
  const asm = new PtxAsm(env, `$${k.name}_`);
  const params: string[] = [];
  const ptrOf = new Map<string, string>();
  globals.forEach((b, i) => {
    const pn = `${k.name}_param_${i}`;
    params.push(`\t.param .u64 ${pn}`);
    if (b.name === p.a || b.name === p.b || b.name === p.y) {
      const r0 = asm.reg('rd'), r1 = asm.reg('rd');
      asm.op(`ld.param.u64 ${r0}, [${pn}]`);
      asm.op(`cvta.to.global.u64 ${r1}, ${r0}`);
      ptrOf.set(b.name, r1);
    }
  });
  k.sizes.forEach((s, i) => {
    const pn = `${k.name}_size_${i}`;
    params.push(`\t.param .u32 ${pn}`);
    const r = asm.reg('r');
    asm.op(`ld.param.u32 ${r}, [${pn}]`);
    env.set(s.name, r);
  });
  // The pattern's sizes, under names that cannot clash with the kernel's.
  const bindE = (name: string, e: Expr): Expr => { env.set(name, asm.indexReg(e)); return v(name); };
  const M = bindE('$M', p.m), N = bindE('$N', p.n), K = bindE('$K', p.k);
  const sA = bindE('$sA', p.aBatchStride), sB = bindE('$sB', p.bBatchStride);
  const tidR = asm.reg('r'), ctaR = asm.reg('r');
  asm.op(`mov.u32 ${tidR}, %tid.x`);
  asm.op(`mov.u32 ${ctaR}, %ctaid.x`);
  env.set(TID, tidR);
  env.set('$cta', ctaR);
  const cta = v('$cta');

  // Block → (batch, tile row, tile column), tile rows in groups of 8 for L2 reuse of B panels.
  const G = 8;
  const tilesM = cdiv(M, tile.bm), tilesN = cdiv(N, tile.bn);
  const perBatch = mul(tilesM, tilesN);
  const bIdx = div(cta, perBatch), tIdx = mod(cta, perBatch);
  const groupSize = mul(i32(G), tilesN);
  const firstM = mul(div(tIdx, groupSize), i32(G));
  const gM = min(sub(tilesM, firstM), i32(G));
  const within = mod(tIdx, groupSize);
  const tm = add(firstM, mod(within, gM)), tn = div(within, gM);
  const m0 = bindE('$m0', mul(tm, i32(tile.bm))), n0 = bindE('$n0', mul(tn, i32(tile.bn)));
  const batchIdx = bindE('$b', bIdx);

  const smemR = asm.reg('r');
  asm.op(`mov.u32 ${smemR}, ${smem}`);

  // ---- copies: per chunk a global pointer (advanced per K tile), its k offset, an MN guard, a shared address.
  interface Chunk { ptr: string; kOff: string; mnOk: string; mnG: string; smem: string }
  const operandCopies = (buf: string, op: OperandPlan, mn0: Expr, mnDim: Expr, ld: Expr, stride: Expr) => {
    const base = ptrOf.get(buf)!;
    const bOff = mul(batchIdx, stride);
    const chunks: Chunk[] = [];
    for (let i = 0; i < op.chunksPerThread; i++) {
      const ch = op.chunk(i);
      const mnG = asm.indexReg(add(mn0, ch.mn));
      const mnName = `$mn${env.size}`; // unique: the evaluator's cache keys on names
      env.set(mnName, mnG);
      const mnGv = v(mnName);
      const kOff = asm.indexReg(ch.k);
      const idx = asm.index(add(bOff, op.kMajor ? add(mul(mnGv, ld), ch.k) : add(mul(ch.k, ld), mnGv)));
      const wide = asm.reg('rd'), ptr = asm.reg('rd');
      asm.op(`mul.wide.s32 ${wide}, ${idx}, ${es}`);
      asm.op(`add.s64 ${ptr}, ${base}, ${wide}`);
      const mnOk = asm.reg('p');
      asm.op(`setp.lt.s32 ${mnOk}, ${mnG}, ${asm.index(mnDim)}`);
      const s = asm.reg('r');
      asm.op(`add.s32 ${s}, ${smemR}, ${asm.index(add(ch.smem, i32(op.base)))}`);
      chunks.push({ ptr, kOff, mnOk, mnG, smem: s });
    }
    // Per K tile: K-major pointers move bk elements, MN-major ones bk rows.
    const step = asm.reg('rd');
    if (op.kMajor) asm.op(`mov.b64 ${step}, ${plan.bk * es}`);
    else asm.op(`mul.wide.s32 ${step}, ${asm.index(ld)}, ${plan.bk * es}`);
    // Fast path: every row start 16-byte aligned.
    const bits = asm.reg('r'), lo = asm.reg('r');
    asm.op(`cvt.u32.u64 ${lo}, ${base}`);
    asm.op(`or.b32 ${bits}, ${lo}, ${asm.index(mul(ld, i32(es)))}`);
    const bits2 = asm.reg('r');
    asm.op(`or.b32 ${bits2}, ${bits}, ${asm.index(mul(stride, i32(es)))}`);
    return { chunks, step, alignBits: bits2, mnDim: asm.indexReg(mnDim), base };
  };
  const A = operandCopies(p.a, plan.a, m0, M, spec.transA ? M : K, sA);
  const B = operandCopies(p.b, plan.b, n0, N, spec.transB ? K : N, sB);
  const alignAll = asm.reg('r'), aligned = asm.reg('p');
  asm.op(`or.b32 ${alignAll}, ${A.alignBits}, ${B.alignBits}`);
  asm.op(`and.b32 ${alignAll}, ${alignAll}, 15`);
  asm.op(`setp.eq.s32 ${aligned}, ${alignAll}, 0`);
  const kRem = asm.reg('r');
  asm.op(`mov.b32 ${kRem}, ${env.get('$K')}`);
  const numK = asm.indexReg(cdiv(K, plan.bk));

  // ---- fragment addresses (relative to the stage being read).
  const aAddr = offsetGroups(asm, range(plan.mt).flatMap((i) => range(plan.ksteps).map((ks) => add(plan.aFrag(i, ks), i32(plan.a.base)))), threads, smemR);
  const aAt = (i: number, ks: number) => aAddr[i * plan.ksteps + ks];
  let bAt: (x: number, ks: number, h?: number, rr?: number) => [string, number];
  if (plan.bMode === 'prmt') {
    const list: Expr[] = [];
    for (let jh = 0; jh < plan.nt / 4; jh++) for (let ks = 0; ks < plan.ksteps; ks++) for (let h = 0; h < 2; h++) for (let rr = 0; rr < 4; rr++) list.push(add(plan.bWord(jh, h, rr, ks), i32(plan.b.base)));
    const g = offsetGroups(asm, list, threads, smemR);
    bAt = (jh, ks, h = 0, rr = 0) => g[((jh * plan.ksteps + ks) * 2 + h) * 4 + rr];
  } else {
    const list: Expr[] = [];
    for (let jj = 0; jj < plan.nt / 2; jj++) for (let ks = 0; ks < plan.ksteps; ks++) list.push(add(plan.bFrag(jj, ks), i32(plan.b.base)));
    const g = offsetGroups(asm, list, threads, smemR);
    bAt = (jj, ks) => g[jj * plan.ksteps + ks];
  }

  // ---- accumulators
  const nAcc = plan.mt * plan.nt * 4;
  const acc = range(nAcc).map((i) => `%c${i}`);
  for (let i = 0; i < nAcc; i++) asm.reg('c');
  for (const a of acc) asm.op(`mov.b32 ${a}, 0`);

  // ---- one K tile's copies into the stage at `stageOff` (a register or literal)
  const loadTile = (stageOff: string) => {
    const slow = asm.label(), done = asm.label();
    const dsts = (cs: Chunk[]) => cs.map((ch) => {
      const d = asm.reg('r');
      asm.op(`add.s32 ${d}, ${ch.smem}, ${stageOff}`);
      return d;
    });
    const dA = dsts(A.chunks), dB = dsts(B.chunks);
    asm.op(`@!${aligned} bra ${slow}`);
    const fast = (cs: Chunk[], ds: string[], base: string) => cs.forEach((ch, i) => {
      const ok = asm.reg('p'), src = asm.reg('rd'), n = asm.reg('r');
      asm.op(`setp.lt.and.s32 ${ok}, ${ch.kOff}, ${kRem}, ${ch.mnOk}`);
      asm.op(`selp.b64 ${src}, ${ch.ptr}, ${base}, ${ok}`);
      asm.op(`selp.b32 ${n}, 16, 0, ${ok}`);
      asm.op(`cp.async.cg.shared.global [${ds[i]}], [${src}], 16, ${n}`);
    });
    fast(A.chunks, dA, A.base);
    fast(B.chunks, dB, B.base);
    asm.op(`bra.uni ${done}`);
    asm.place(slow);
    const slowCopy = (cs: Chunk[], ds: string[], kMajor: boolean, mnDim: string) => cs.forEach((ch, i) => {
      const n = 16 / es;
      const vals: string[] = [];
      for (let e = 0; e < n; e++) {
        const ok = asm.reg('p'), x = asm.reg('r');
        if (kMajor) {
          const ke = asm.reg('r');
          asm.op(`add.s32 ${ke}, ${ch.kOff}, ${e}`);
          asm.op(`setp.lt.and.s32 ${ok}, ${ke}, ${kRem}, ${ch.mnOk}`);
        } else {
          const me = asm.reg('r'), kOk = asm.reg('p');
          asm.op(`add.s32 ${me}, ${ch.mnG}, ${e}`);
          asm.op(`setp.lt.s32 ${kOk}, ${ch.kOff}, ${kRem}`);
          asm.op(`setp.lt.and.s32 ${ok}, ${me}, ${mnDim}, ${kOk}`);
        }
        asm.op(`mov.b32 ${x}, 0`);
        asm.op(`@${ok} ld.global.${es === 2 ? 'u16' : 'u8'} ${x}, [${ch.ptr}+${e * es}]`);
        vals.push(x);
      }
      const words: string[] = [];
      for (let w = 0; w < 4; w++) {
        const per = 4 / es;
        let acc = vals[w * per];
        for (let e = 1; e < per; e++) {
          const d = asm.reg('r');
          asm.op(`bfi.b32 ${d}, ${vals[w * per + e]}, ${acc}, ${e * 8 * es}, ${8 * es}`);
          acc = d;
        }
        words.push(acc);
      }
      asm.op(`st.shared.v4.b32 [${ds[i]}], {${words.join(', ')}}`);
    });
    slowCopy(A.chunks, dA, plan.a.kMajor, A.mnDim);
    slowCopy(B.chunks, dB, plan.b.kMajor, B.mnDim);
    asm.place(done);
    asm.op('cp.async.commit_group');
    for (const [op, cs] of [[A, A.chunks], [B, B.chunks]] as const) {
      for (const ch of cs) asm.op(`add.s64 ${ch.ptr}, ${ch.ptr}, ${op.step}`);
    }
    asm.op(`sub.s32 ${kRem}, ${kRem}, ${plan.bk}`);
  };

  // ---- one K tile's multiply from the stage at register `readOff`
  const mmaInstr = spec.family === 'float'
    ? `mma.sync.aligned.m16n8k16.row.col.f32.${spec.elem}.${spec.elem}.f32`
    : `mma.sync.aligned.m16n8k32.row.col.s32.${spec.elem === 'i8' ? 's8' : 'u8'}.${spec.elem === 'i8' ? 's8' : 'u8'}.s32`;
  const computeTile = (readOff: string) => {
    const cur = new Map<string, string>();
    const at = ([reg, imm]: [string, number]) => {
      let r = cur.get(reg);
      if (!r) { r = asm.reg('r'); asm.op(`add.s32 ${r}, ${reg}, ${readOff}`); cur.set(reg, r); }
      return addr(r, imm);
    };
    for (let ks = 0; ks < plan.ksteps; ks++) {
      const af: string[][] = [];
      for (let i = 0; i < plan.mt; i++) {
        const rs = range(4).map(() => asm.reg('f'));
        asm.op(`ldmatrix.sync.aligned.m8n8.x4${plan.aMode === 'ldmatrix.trans' ? '.trans' : ''}.shared.b16 {${rs.join(', ')}}, ${at(aAt(i, ks))}`);
        af.push(rs);
      }
      const bf: string[][] = range(plan.nt).map(() => []);
      if (plan.bMode === 'prmt') {
        for (let jh = 0; jh < plan.nt / 4; jh++) {
          for (let h = 0; h < 2; h++) {
            const w = range(4).map((rr) => {
              const x = asm.reg('f');
              asm.op(`ld.shared.b32 ${x}, ${at(bAt(jh, ks, h, rr))}`);
              return x;
            });
            const x01 = asm.reg('f'), x23 = asm.reg('f'), y01 = asm.reg('f'), y23 = asm.reg('f');
            asm.op(`prmt.b32 ${x01}, ${w[0]}, ${w[1]}, 0x5140`);
            asm.op(`prmt.b32 ${x23}, ${w[2]}, ${w[3]}, 0x5140`);
            asm.op(`prmt.b32 ${y01}, ${w[0]}, ${w[1]}, 0x7362`);
            asm.op(`prmt.b32 ${y23}, ${w[2]}, ${w[3]}, 0x7362`);
            const outs = [[x01, x23, '0x5410'], [x01, x23, '0x7632'], [y01, y23, '0x5410'], [y01, y23, '0x7632']] as const;
            outs.forEach(([lo, hi, sel], t4) => {
              const d = asm.reg('f');
              asm.op(`prmt.b32 ${d}, ${lo}, ${hi}, ${sel}`);
              bf[jh * 4 + t4][h] = d;
            });
          }
        }
      } else {
        for (let jj = 0; jj < plan.nt / 2; jj++) {
          const rs = range(4).map(() => asm.reg('f'));
          asm.op(`ldmatrix.sync.aligned.m8n8.x4${plan.bMode === 'ldmatrix.trans' ? '.trans' : ''}.shared.b16 {${rs.join(', ')}}, ${at(bAt(jj, ks))}`);
          bf[2 * jj] = [rs[0], rs[1]];
          bf[2 * jj + 1] = [rs[2], rs[3]];
        }
      }
      for (let i = 0; i < plan.mt; i++) {
        for (let jx = 0; jx < plan.nt; jx++) {
          const j = i % 2 ? plan.nt - 1 - jx : jx; // serpentine: reuse the last B fragment
          const cs = range(4).map((r) => acc[accIndex(plan, i, j, r)]).join(', ');
          asm.op(`${mmaInstr} {${cs}}, {${af[i].join(', ')}}, {${bf[j].join(', ')}}, {${cs}}`);
        }
      }
    }
  };

  // ---- pipeline: stages−1 tiles in flight before the loop; each iteration waits for its tile, refills the
  // stage everyone finished with in the previous iteration (the barrier proves it), then multiplies.
  const S = tile.stages;
  for (let s = 0; s < S - 1; s++) loadTile(String(s * stageBytes));
  const readOff = asm.reg('r'), writeOff = asm.reg('r'), kt = asm.reg('r'), endP = asm.reg('p'), wrapP = asm.reg('p');
  asm.op(`mov.b32 ${readOff}, 0`);
  asm.op(`mov.b32 ${writeOff}, ${(S - 1) * stageBytes}`);
  asm.op(`mov.b32 ${kt}, 0`);
  const top = asm.label(), end = asm.label();
  asm.place(top);
  asm.op(`setp.ge.s32 ${endP}, ${kt}, ${numK}`);
  asm.op(`@${endP} bra.uni ${end}`);
  asm.op(`cp.async.wait_group ${S - 2}`);
  asm.op('bar.sync 0');
  loadTile(writeOff);
  computeTile(readOff);
  for (const r of [readOff, writeOff]) {
    asm.op(`add.s32 ${r}, ${r}, ${stageBytes}`);
    asm.op(`setp.eq.s32 ${wrapP}, ${r}, ${S * stageBytes}`);
    asm.op(`selp.b32 ${r}, 0, ${r}, ${wrapP}`);
  }
  asm.op(`add.s32 ${kt}, ${kt}, 1`);
  asm.op(`bra.uni ${top}`);
  asm.place(end);
  asm.op('cp.async.wait_group 0');

  // ---- epilogue: its index math after the loop (straight-line code, so sharing registers is safe), guarded
  // stores, vectors where a whole run is in bounds and aligned.
  const yBatch = mul(batchIdx, mul(M, N));
  const runRegs = plan.runs.map((run) => {
    const row = add(m0, run.row), col = add(n0, run.col);
    return {
      row: asm.indexReg(row), col: asm.indexReg(col),
      idx: asm.indexReg(add(yBatch, add(mul(row, N), col))),
    };
  });
  const ob = elemBytes(spec.out);
  const vecRun = plan.runs[0].acc.length;
  const yAligned = asm.reg('p');
  {
    const lo = asm.reg('r'), x = asm.reg('r');
    asm.op(`cvt.u32.u64 ${lo}, ${ptrOf.get(p.y)!}`);
    asm.op(`or.b32 ${x}, ${lo}, ${asm.index(mul(N, i32(ob)))}`);
    asm.op(`and.b32 ${x}, ${x}, ${vecRun * ob - 1}`);
    asm.op(`setp.eq.s32 ${yAligned}, ${x}, 0`);
  }

  emitStores(asm, plan, runRegs, acc, ptrOf.get(p.y)!, env.get('$M')!, env.get('$N')!, yAligned);

  const launch: GemmLaunch = {
    block: threads,
    grid: mul(p.batch, mul(cdiv(p.m, tile.bm), cdiv(p.n, tile.bn))),
    sharedBytes: plan.sharedBytes,
  };
  const ptx = [
    `.extern .shared .align 128 .b8 ${smem}[];`,
    '',
    `.visible .entry ${k.name}(`,
    params.join(',\n'),
    `)`,
    `.maxntid ${threads}, 1, 1`,
    ...(tile.minBlocks ? [`.minnctapersm ${tile.minBlocks}`] : []),
    '{',
    ...asm.declarations(),
    ...asm.lines,
    '\tret;',
    '}',
    '',
  ].join('\n');
  return { ptx, launch, tile };
}

function emitStores(
  asm: PtxAsm, plan: GemmPlan, runRegs: { row: string; col: string; idx: string }[], acc: string[],
  yPtr: string, M: string, N: string, yAligned: string,
): void {
  const out = plan.spec.out, ob = elemBytes(out);
  const isFloat = plan.spec.family === 'float';
  plan.runs.forEach((run, ri) => {
    const { row, col, idx } = runRegs[ri];
    const len = run.acc.length;
    const rowOk = asm.reg('p'), colEnd = asm.reg('r'), full = asm.reg('p'), part = asm.reg('p');
    asm.op(`setp.lt.s32 ${rowOk}, ${row}, ${M}`);
    asm.op(`add.s32 ${colEnd}, ${col}, ${len}`);
    asm.op(`setp.le.and.s32 ${full}, ${colEnd}, ${N}, ${rowOk}`);
    asm.op(`and.pred ${full}, ${full}, ${yAligned}`);
    asm.op(`not.pred ${part}, ${full}`);
    asm.op(`and.pred ${part}, ${part}, ${rowOk}`);
    const wide = asm.reg('rd'), a = asm.reg('rd');
    asm.op(`mul.wide.s32 ${wide}, ${idx}, ${ob}`);
    asm.op(`add.s64 ${a}, ${yPtr}, ${wide}`);
    const vals = run.acc.map((x) => acc[x]);
    // Vector store of the whole run.
    if (isFloat && out !== 'f32') {
      const cvt = out === 'f16' ? 'f16x2' : 'bf16x2';
      const words: string[] = [];
      for (let e = 0; e < len; e += 2) {
        const w = asm.reg('r');
        asm.op(`cvt.rn.${cvt}.f32 ${w}, ${vals[e + 1]}, ${vals[e]}`);
        words.push(w);
      }
      storeWords(asm, full, a, words);
    } else if (ob === 4) {
      storeWords(asm, full, a, vals);
    } else {
      // 8-bit outputs wrap: only the scalar path (below) stores them, also when the run is full.
      asm.op(`or.pred ${part}, ${part}, ${full}`);
    }
    // Element by element at the edges.
    vals.forEach((val, e) => {
      const pe = asm.reg('p'), ce = asm.reg('r');
      asm.op(`add.s32 ${ce}, ${col}, ${e}`);
      asm.op(`setp.lt.and.s32 ${pe}, ${ce}, ${N}, ${part}`);
      const at = addr(a, e * ob);
      if (isFloat && out !== 'f32') {
        const h = asm.reg('h');
        asm.op(`cvt.rn.${out}.f32 ${h}, ${val}`);
        asm.op(`@${pe} st.global.b16 ${at}, ${h}`);
      } else if (ob === 4) {
        asm.op(`@${pe} st.global.b32 ${at}, ${val}`);
      } else {
        asm.op(`@${pe} st.global.b8 ${at}, ${val}`);
      }
    });
  });
}

function storeWords(asm: PtxAsm, pred: string, a: string, words: string[]): void {
  if (words.length === 1) asm.op(`@${pred} st.global.b32 [${a}], ${words[0]}`);
  else asm.op(`@${pred} st.global.v${words.length}.b32 [${a}], {${words.join(', ')}}`);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A standalone module around one entry (for ptxas and the device benchmark). */
export function gemmModule(entry: GemmEntry, target = 'sm_80'): string {
  return `.version 8.0\n.target ${target}\n.address_size 64\n\n${entry.ptx}`;
}
