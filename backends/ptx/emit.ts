// Kernel IR → the PTX text of one `.entry`. The op rows are small instruction templates (see the switch
// statements below); this file holds values in typed virtual registers (types.ts), maps loops onto the
// CUDA grid, and legalizes what PTX lacks:
// - f16/bf16: computed in f32 registers and rounded (cvt.rn.f16.f32 / cvt.rn.bf16.f32) after each inexact op;
// - narrow integers: 32-bit registers re-canonicalized (bfe / and) after ops that may leave the range;
// - math: exp/log/erf/sin/… are the kernel-IR implementations of backends/wasm/mathlib.ts, inlined through
//   this same emitter (no approximate PTX instructions: sin.approx fails for large arguments);
// - exact IEEE where the IR demands it: add/mul with .rn (no contraction into fma), div.rn, sqrt.rn,
//   min/max that propagate NaN and order −0 < +0, float → int truncating and saturating with NaN → 0.
//
// Mapping onto the grid (every kernel is correct for any grid ≥ 1; the launch record is a hint):
// - 'grid' schedule: a body of pure statements then top-level loops (at least one 'parallel') that may run
//   concurrently (no barriers, no workgroup buffers; stores of two loops to one buffer must be provably
//   disjoint: an elementwise body and its tail, or index ranges apart by interval arithmetic). Each parallel
//   loop is a grid-stride loop, 256 threads a block, the counter in 64 bits; a perfect nest of parallel (and
//   'vector') loops — each body exactly the next loop, bounds independent of the loops around — is ONE
//   flattened space of Π trip counts, each thread recovering the loop variables by div/rem (32-bit while the
//   space has fewer than 2^32 points, else 64-bit); grid = ⌈Π trips / 256⌉ (the largest over the loops).
// - 'block' schedule (anything else): block 0 runs the kernel, other blocks return at once. Statements
//   outside parallel loops run uniformly on every thread (pure values computed redundantly; stores and
//   atomics by thread 0, then bar.sync so every thread sees them); a parallel loop (a perfect nest flattened
//   as above) is a block-stride loop followed by bar.sync. A parallel loop holding barriers runs in lock-step:
//   one iteration per thread, the threads past the end emulate the last iteration with their side effects
//   masked (so they reach every barrier as often as the real ones); its trip count must be a constant ≤ 1024.
//   A parallel loop around such a loop runs as a uniform serial loop (serial is a valid schedule of parallel
//   iterations).
import { TesseraError } from '../../ir/errors.ts';
import { BlockScopes } from '../../ir/scope.ts';
import type { AtomicOp, BinaryOp, BufferParam, Expr, Kernel, KScalar, KType, Stmt, UnaryOp } from '../../ir/kernel/ir.ts';
import {
  containsLockstep, constValue, gridOf, gridPhases, holdsBarrier, perfectNest, topLets, type Loop,
} from '../../ir/kernel/schedule.ts';
import { Block, v as dslVar } from '../wasm/dsl.ts';
import * as lib from '../wasm/mathlib.ts';
import {
  bitType, bytesOf, f32Imm, f64Imm, immediate, isFloat, isNarrowInt, isPtxIdentifier, isSigned, isWide, memType,
  opType, REG_DECL, regClass, type RegClass,
} from './types.ts';

const fail = (reason: string): never => { throw new TesseraError(reason); };
const typeName = (t: KType) => (t.lanes === 1 ? t.elem : `${t.elem}x${t.lanes}`);

/** Threads per block of grid-stride kernels. */
export const BLOCK = 256;
/** Most threads of a block (lock-step loops with barriers). */
const MAX_BLOCK = 1024;
/** Static shared memory a kernel may declare. */
const MAX_SHARED = 48 * 1024;

/** Ops after which an i8/u8/i16/u16 result may leave its canonical form. */
const WRAPS = new Set(['add', 'sub', 'mul', 'shl', 'div', 'floordiv', 'pow', 'neg', 'abs', 'not']);
/** Ops whose f16/bf16 result is exact (no rounding needed). */
const EXACT_FLOAT = new Set(['min', 'max', 'neg', 'abs', 'floor', 'ceil', 'trunc', 'round_even', 'sign', 'isnan', 'isinf']);
const COMPARES = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** How a kernel is launched: threads per block, blocks (an i32 expression over its size params), dynamic shared bytes. */
export interface Launch { block: number; grid: Expr; sharedBytes: number }

export interface EmittedKernel { text: string; launch: Launch; schedule: 'grid' | 'block' }

interface Binding {
  type: KType;
  regs: string[];
  /** A power of two that divides the value (i32 index values; for vector ld/st alignment). */
  factor: number;
}

interface BufInfo { param: BufferParam; base: string; space: 'global' | 'shared' }

/** Where statements run: on one thread for itself, or uniformly on every thread of block 0. */
interface Ctx { uniform: boolean; active?: string }

const ci = (n: number): Expr => ({ kind: 'const', type: { elem: 'i32', lanes: 1 }, value: n });

// ---------------------------------------------------------------- the kernel emitter

export class KernelEmitter {
  private readonly lines: string[] = [];
  private readonly counts: Record<RegClass, number> = { p: 0, r: 0, rd: 0, f: 0, fd: 0, h: 0 };
  private readonly scopes = new BlockScopes<Binding>();
  private readonly buffers = new Map<string, BufInfo>();
  private readonly shared: string[] = [];
  private memo = new Map<Expr, string[]>();
  /** Registers of locals (assignable): a let never aliases them. */
  private readonly mutable = new Set<string>();
  private labels = 0;
  private uniq = 0;
  private tid = '';
  private tid0 = '';
  private bcast?: string;
  private gtid0 = '';
  private gridPhases = new Set<Stmt>();

  constructor(private readonly k: Kernel) {}

  // ---------------------------------------------------------------- bookkeeping

  private reg(c: RegClass): string { return `%${c}${this.counts[c]++}`; }
  private regFor(e: KScalar): string { return this.reg(regClass(e)); }
  private ins(text: string): void { this.lines.push(`\t${text};`); }
  private label(): string { return `$L__${this.labels++}`; }
  private place(label: string): void { this.lines.push(`${label}:`); }

  private bind(name: string, b: Binding): void { this.scopes.bind(name, b); }
  private lookup(name: string): Binding { return this.scopes.find(name) ?? fail(`unknown variable '${name}'`); }
  private scoped<T>(f: () => T): T { return this.scopes.scoped(f); }
  private buffer(name: string): BufInfo { return this.buffers.get(name) ?? fail(`unknown buffer '${name}'`); }

  private copy(e: KScalar, x: string): string {
    const r = this.regFor(e);
    this.ins(`mov.${bitType(e)} ${r}, ${x}`);
    return r;
  }

  private constReg(e: KScalar, value: number | bigint): string {
    const r = this.regFor(e);
    if (e === 'bool') this.ins(`setp.ne.u32 ${r}, ${Number(value) ? 1 : 0}, 0`);
    else this.ins(`mov.${bitType(e)} ${r}, ${immediate(e, value)}`);
    return r;
  }

  // ---------------------------------------------------------------- the kernel

  emit(): EmittedKernel {
    const k = this.k;
    if (!isPtxIdentifier(k.name)) fail(`kernel name '${k.name}' is not a PTX identifier`);
    const params: string[] = [];
    const loadParams: string[] = [];
    let sharedBytes = 0;
    const lets = topLets(k);
    const sizeNames = new Set(k.sizes.map((s) => s.name));
    k.buffers.forEach((b) => {
      if (b.space === 'workgroup') {
        const n = constValue(b.size, new Map()) ?? fail(`workgroup buffer '${b.name}' needs a constant size`);
        const bytes = Math.max(1, n) * bytesOf(b.elem);
        sharedBytes += (bytes + 15) & ~15;
        const sym = `__wg_${this.shared.length}`;
        this.shared.push(`\t.shared .align 16 .b8 ${sym}[${bytes}];`);
        const base = this.reg('rd');
        loadParams.push(`\tmov.u64 ${base}, ${sym};`);
        this.buffers.set(b.name, { param: b, base, space: 'shared' });
        return;
      }
      const p = `${k.name}_param_${params.length}`;
      params.push(`\t.param .u64 ${p}`);
      const raw = this.reg('rd'), base = this.reg('rd');
      loadParams.push(`\tld.param.u64 ${raw}, [${p}];`, `\tcvta.to.global.u64 ${base}, ${raw};`);
      this.buffers.set(b.name, { param: b, base, space: 'global' });
    });
    if (sharedBytes > MAX_SHARED) fail(`workgroup buffers need ${sharedBytes} bytes, more than the ${MAX_SHARED} of static shared memory`);
    for (const s of k.sizes) {
      const p = `${k.name}_param_${params.length}`;
      params.push(`\t.param .u32 ${p}`);
      const r = this.reg('r');
      loadParams.push(`\tld.param.u32 ${r}, [${p}];`);
      this.bind(s.name, { type: { elem: 'i32', lanes: 1 }, regs: [r], factor: 1 });
    }

    // Which schedule: one grid-stride loop, or block 0 running everything.
    // The grid schedule: top-level loops (at least one parallel) that may run concurrently, after pure statements.
    const phases = gridPhases(k);
    const gridOk = phases !== undefined;
    let launch: Launch;
    this.tid = this.reg('r');
    this.ins(`mov.u32 ${this.tid}, %tid.x`);
    if (gridOk) {
      const grid = gridOf(phases, lets, sizeNames, BLOCK, 1024);
      launch = { block: BLOCK, grid, sharedBytes: 0 };
      this.gridPhases = new Set(phases);
      this.stmts(k.body, { uniform: false });
    } else {
      const block = this.blockSize(k.body, lets);
      launch = { block, grid: ci(1), sharedBytes: 0 };
      const exit = this.label();
      const ctaid = this.reg('r'), p = this.reg('p');
      this.ins(`mov.u32 ${ctaid}, %ctaid.x`);
      this.ins(`setp.ne.u32 ${p}, ${ctaid}, 0`);
      this.ins(`@${p} bra ${exit}`);
      this.tid0 = this.reg('p');
      this.ins(`setp.eq.u32 ${this.tid0}, ${this.tid}, 0`);
      this.stmts(k.body, { uniform: true });
      this.place(exit);
    }
    const decls = (Object.keys(this.counts) as RegClass[]).filter((c) => this.counts[c] > 0)
      .map((c) => `\t.reg ${REG_DECL[c]} %${c}<${this.counts[c]}>;`);
    const text = [
      `// kernel ${k.name}: ${launch.block} threads a block, ${gridOk ? 'grid-stride' : 'block 0 only'}`,
      `.visible .entry ${k.name}(`,
      params.join(',\n'),
      `)`,
      `.maxntid ${launch.block}, 1, 1`,
      `{`,
      ...decls,
      ...this.shared,
      ...(this.bcast ? [`\t.shared .align 8 .b8 ${this.bcast}[8];`] : []),
      ...loadParams,
      ...this.lines,
      `\tret;`,
      `}`,
      ``,
    ].join('\n');
    return { text, launch, schedule: gridOk ? 'grid' : 'block' };
  }

  /** Threads a block of the 'block' schedule: 1 without parallel loops; enough for every lock-step loop. */
  private blockSize(body: Stmt[], lets: Map<string, Expr>): number {
    let block = 1;
    const walk = (list: Stmt[]) => {
      for (const s of list) {
        if (s.kind === 'if') { walk(s.then); walk(s.else); }
        if (s.kind !== 'loop') continue;
        if (s.loopKind === 'parallel' && !containsLockstep(s.body)) {
          if (!holdsBarrier(s.body)) block = Math.max(block, BLOCK);
          else {
            const a = constValue(s.start, lets), b = constValue(s.end, lets);
            if (a === undefined || b === undefined) fail(`the parallel loop over '${s.var}' holds a barrier: it needs constant bounds (its iterations run in lock-step, one per thread)`);
            const trip = Math.max(0, Math.ceil((b! - a!) / s.step));
            if (trip > MAX_BLOCK) fail(`the parallel loop over '${s.var}' holds a barrier and has ${trip} iterations; at most ${MAX_BLOCK} run in lock-step`);
            block = Math.max(block, Math.ceil(trip / 32) * 32);
          }
          continue;
        }
        walk(s.body);
      }
    };
    walk(body);
    return block;
  }

  // ---------------------------------------------------------------- statements

  private stmts(list: Stmt[], ctx: Ctx): void {
    for (const s of list) {
      const saved = this.memo;
      this.memo = new Map();
      try {
        if (this.gridPhases.has(s)) this.gridPhase(s as Loop);
        else this.stmt(s, ctx);
      } finally { this.memo = saved; }
    }
  }

  /** A top-level loop of the grid schedule: parallel ones grid-stride, serial ones on thread 0 of block 0. */
  private gridPhase(l: Loop): void {
    if (l.loopKind === 'parallel') { this.gridStride(l); return; }
    if (!this.gtid0) {
      const ctaid = this.reg('r'), p = this.reg('p');
      this.gtid0 = this.reg('p');
      this.ins(`mov.u32 ${ctaid}, %ctaid.x`);
      this.ins(`or.b32 ${ctaid}, ${ctaid}, ${this.tid}`);
      this.ins(`setp.eq.u32 ${this.gtid0}, ${ctaid}, 0`);
      void p;
    }
    const skip = this.label();
    this.ins(`@!${this.gtid0} bra ${skip}`);
    this.serial(l, { uniform: false });
    this.place(skip);
  }

  private stmt(s: Stmt, ctx: Ctx): void {
    switch (s.kind) {
      case 'comment': return;
      case 'let': {
        // A let is immutable: it must not share a register with a local that a later assignment changes.
        const regs = this.expr(s.value).map((r) => (this.mutable.has(r) ? this.copy(s.value.type.elem, r) : r));
        this.bind(s.name, { type: s.value.type, regs, factor: this.factor(s.value) });
        return;
      }
      case 'local': {
        const init = this.expr(s.init);
        const regs = init.map((x) => this.copy(s.type.elem, x));
        regs.forEach((r) => this.mutable.add(r));
        this.bind(s.name, { type: s.type, regs, factor: 1 });
        return;
      }
      case 'assign': {
        const b = this.lookup(s.name);
        const val = this.expr(s.value);
        b.regs.forEach((r, i) => this.ins(`mov.${bitType(b.type.elem)} ${r}, ${val[i]}`));
        return;
      }
      case 'store': {
        const guard = this.guard(ctx);
        this.store(s, guard);
        if (ctx.uniform) this.ins('bar.sync 0');
        return;
      }
      case 'atomic': {
        const guard = this.guard(ctx);
        const old = this.atomic(s, guard, ctx.uniform || s.result !== undefined);
        if (ctx.uniform) {
          if (s.result !== undefined) {
            // Thread 0 did it: share the old value with every thread.
            this.bcast ??= '__bcast';
            const addr = this.reg('rd');
            this.ins(`mov.u64 ${addr}, ${this.bcast}`);
            const e = this.buffer(s.buffer).param.elem;
            const st = isWide(e) || e === 'f64' ? 'b64' : 'b32';
            this.ins(`@${this.tid0} st.shared.${st} [${addr}], ${old}`);
            this.ins('bar.sync 0');
            this.ins(`ld.shared.${st} ${old}, [${addr}]`);
            this.ins('bar.sync 0');
          } else this.ins('bar.sync 0');
        }
        if (s.result !== undefined) {
          const e = this.buffer(s.buffer).param.elem;
          this.bind(s.result, { type: { elem: e, lanes: 1 }, regs: [old!], factor: 1 });
        }
        return;
      }
      case 'barrier':
        if (s.scope === 'device') this.ins('fence.acq_rel.gpu');
        this.ins('bar.sync 0');
        return;
      case 'if': {
        const [c] = this.expr(s.cond);
        const elseL = this.label(), endL = this.label();
        this.ins(`@!${c} bra ${s.else.length ? elseL : endL}`);
        this.scoped(() => this.stmts(s.then, ctx));
        if (s.else.length) {
          this.ins(`bra.uni ${endL}`);
          this.place(elseL);
          this.scoped(() => this.stmts(s.else, ctx));
        }
        this.place(endL);
        return;
      }
      case 'loop': {
        if (s.loopKind === 'parallel' && ctx.uniform && !containsLockstep(s.body)) {
          if (holdsBarrier(s.body)) this.lockstep(s);
          else this.blockStride(s);
          this.ins('bar.sync 0');
          return;
        }
        this.serial(s, ctx);
        return;
      }
    }
  }

  /** The predicate under which a side effect happens here (thread 0 in uniform code; the lock-step mask). */
  private guard(ctx: Ctx): string | undefined {
    return ctx.uniform ? this.tid0 : ctx.active;
  }

  private serial(s: Extract<Stmt, { kind: 'loop' }>, ctx: Ctx): void {
    const [start] = this.expr(s.start);
    const [end] = this.expr(s.end);
    const i = this.reg('r');
    this.ins(`mov.b32 ${i}, ${start}`);
    const top = this.label(), exit = this.label();
    const p = this.reg('p');
    this.place(top);
    this.ins(`setp.ge.s32 ${p}, ${i}, ${end}`);
    this.ins(`@${p} bra ${exit}`);
    const factor = gcdPow2(this.factor(s.start), s.step);
    this.scoped(() => {
      this.bind(s.var, { type: { elem: 'i32', lanes: 1 }, regs: [i], factor });
      this.stmts(s.body, ctx);
    });
    this.ins(`add.s32 ${i}, ${i}, ${s.step}`);
    this.ins(`bra.uni ${top}`);
    this.place(exit);
  }

  /**
   * A loop over [start, end) by step whose iterations this thread takes from `first` on, `stride` apart (64-bit
   * counter). A perfect nest of parallel loops (perfectNest) is one flattened iteration space.
   */
  private strided(s: Extract<Stmt, { kind: 'loop' }>, first: string, stride: string, ctx: Ctx): void {
    const nest = perfectNest(s);
    if (nest.length > 1) { this.collapsed(nest, first, stride, ctx); return; }
    const [start] = this.expr(s.start);
    const [end] = this.expr(s.end);
    const i = this.reg('rd'), e = this.reg('rd'), st = this.reg('rd'), step = this.reg('rd');
    this.ins(`cvt.s64.s32 ${i}, ${start}`);
    this.ins(`cvt.s64.s32 ${e}, ${end}`);
    this.ins(`mov.b64 ${step}, ${s.step}`);
    this.ins(`mad.wide.u32 ${st}, ${stride}, ${s.step}, 0`);
    this.ins(`mad.lo.s64 ${i}, ${first}, ${step}, ${i}`);
    const top = this.label(), exit = this.label();
    const p = this.reg('p'), v = this.reg('r');
    this.place(top);
    this.ins(`setp.ge.s64 ${p}, ${i}, ${e}`);
    this.ins(`@${p} bra ${exit}`);
    this.ins(`cvt.u32.u64 ${v}, ${i}`);
    const factor = gcdPow2(this.factor(s.start), s.step);
    this.scoped(() => {
      this.bind(s.var, { type: { elem: 'i32', lanes: 1 }, regs: [v], factor });
      this.stmts(s.body, ctx);
    });
    this.ins(`add.s64 ${i}, ${i}, ${st}`);
    this.ins(`bra ${top}`);
    this.place(exit);
  }

  /**
   * The iterations of a perfect nest as one space of Π trip counts (64-bit), this thread taking flat iterations
   * `first`, `first + stride`, …; each loop's variable is recovered by div/rem (32-bit while the space has
   * fewer than 2^32 iterations, decided at compile time for constant bounds, else at run time).
   */
  private collapsed(nest: Loop[], first: string, stride: string, ctx: Ctx): void {
    type Dim = { l: Loop; start: string; trip?: bigint; trip64?: string; trip32?: string };
    const dims: Dim[] = nest.map((l) => {
      const [start] = this.expr(l.start);
      if (l.start.kind === 'const' && l.end.kind === 'const') {
        const span = Number(l.end.value) - Number(l.start.value);
        return { l, start: start!, trip: BigInt(Math.max(0, Math.ceil(span / l.step))) };
      }
      const [end] = this.expr(l.end);
      const s64 = this.reg('rd'), t = this.reg('rd');
      this.ins(`cvt.s64.s32 ${s64}, ${start}`);
      this.ins(`cvt.s64.s32 ${t}, ${end}`);
      this.ins(`sub.s64 ${t}, ${t}, ${s64}`);
      this.ins(`max.s64 ${t}, ${t}, 0`);
      if (l.step > 1) {
        this.ins(`add.s64 ${t}, ${t}, ${l.step - 1}`);
        this.ins(`div.u64 ${t}, ${t}, ${l.step}`);
      }
      return { l, start: start!, trip64: t };
    });
    if (dims.some((d) => d.trip === 0n)) return; // no iterations
    // The total: constant factors folded; a constant total below 2^32 needs no 64-bit index math.
    let constTotal = 1n;
    for (const d of dims) if (d.trip !== undefined) constTotal *= d.trip;
    if (constTotal >= 2n ** 63n) fail(`a parallel loop nest of ${constTotal} iterations is too large`);
    const total = this.reg('rd');
    this.ins(`mov.u64 ${total}, ${constTotal}`);
    for (const d of dims) if (d.trip64) this.ins(`mul.lo.u64 ${total}, ${total}, ${d.trip64}`);
    const small = dims.every((d) => d.trip !== undefined) && constTotal <= 0xffffffffn;
    let big = '';
    if (!small) {
      big = this.reg('p');
      this.ins(`setp.gt.u64 ${big}, ${total}, 4294967295`);
      for (const d of dims) {
        if (!d.trip64) continue;
        d.trip32 = this.reg('r');
        this.ins(`cvt.u32.u64 ${d.trip32}, ${d.trip64}`);
      }
    }
    const i = this.reg('rd'), st = this.reg('rd');
    this.ins(`mov.b64 ${i}, ${first}`);
    this.ins(`cvt.u64.u32 ${st}, ${stride}`);
    const top = this.label(), exit = this.label();
    const p = this.reg('p');
    this.place(top);
    this.ins(`setp.ge.u64 ${p}, ${i}, ${total}`);
    this.ins(`@${p} bra ${exit}`);
    const vars = dims.map(() => this.reg('r'));
    // Index of dim d (innermost first) from the flat iteration: idx = q mod trip, q = q / trip; v = start + idx·step.
    const setVar = (d: number, idx: string) => {
      const { l, start } = dims[d]!;
      if (l.step === 1) this.ins(`add.s32 ${vars[d]}, ${idx}, ${start}`);
      else this.ins(`mad.lo.s32 ${vars[d]}, ${idx}, ${l.step}, ${start}`);
    };
    const recover = (wide: boolean) => {
      const [c, ty] = wide ? ['rd', 'u64'] as const : ['r', 'u32'] as const;
      let q = this.reg(c);
      this.ins(wide ? `mov.b64 ${q}, ${i}` : `cvt.u32.u64 ${q}, ${i}`);
      for (let d = dims.length - 1; d >= 0; d--) {
        let idx = q;
        if (d > 0) {
          const trip = dims[d]!.trip !== undefined ? String(dims[d]!.trip) : wide ? dims[d]!.trip64! : dims[d]!.trip32!;
          const q2 = this.reg(c), prod = this.reg(c);
          idx = this.reg(c);
          this.ins(`div.${ty} ${q2}, ${q}, ${trip}`);
          this.ins(`mul.lo.${ty} ${prod}, ${q2}, ${trip}`);
          this.ins(`sub.${ty} ${idx}, ${q}, ${prod}`);
          q = q2;
        }
        if (wide) { const x = this.reg('r'); this.ins(`cvt.u32.u64 ${x}, ${idx}`); idx = x; }
        setVar(d, idx);
      }
    };
    if (small) recover(false);
    else {
      const wide = this.label(), join = this.label();
      this.ins(`@${big} bra ${wide}`);
      recover(false);
      this.ins(`bra ${join}`);
      this.place(wide);
      recover(true);
      this.place(join);
    }
    this.scoped(() => {
      dims.forEach((d, k) => this.bind(d.l.var, { type: { elem: 'i32', lanes: 1 }, regs: [vars[k]!], factor: gcdPow2(this.factor(d.l.start), d.l.step) }));
      this.stmts(nest[nest.length - 1]!.body, ctx);
    });
    this.ins(`add.s64 ${i}, ${i}, ${st}`);
    this.ins(`bra ${top}`);
    this.place(exit);
  }

  private gridStride(s: Extract<Stmt, { kind: 'loop' }>): void {
    const ctaid = this.reg('r'), ntid = this.reg('r'), nctaid = this.reg('r');
    this.ins(`mov.u32 ${ctaid}, %ctaid.x`);
    this.ins(`mov.u32 ${ntid}, %ntid.x`);
    this.ins(`mov.u32 ${nctaid}, %nctaid.x`);
    const first = this.reg('rd'), stride = this.reg('r');
    this.ins(`mul.wide.u32 ${first}, ${ctaid}, ${ntid}`);
    const t64 = this.reg('rd');
    this.ins(`cvt.u64.u32 ${t64}, ${this.tid}`);
    this.ins(`add.s64 ${first}, ${first}, ${t64}`);
    this.ins(`mul.lo.u32 ${stride}, ${ntid}, ${nctaid}`);
    this.strided(s, first, stride, { uniform: false });
  }

  private blockStride(s: Extract<Stmt, { kind: 'loop' }>): void {
    const ntid = this.reg('r'), first = this.reg('rd');
    this.ins(`mov.u32 ${ntid}, %ntid.x`);
    this.ins(`cvt.u64.u32 ${first}, ${this.tid}`);
    this.strided(s, first, ntid, { uniform: false });
  }

  /** One iteration per thread; threads past the end run the last iteration with side effects masked. */
  private lockstep(s: Extract<Stmt, { kind: 'loop' }>): void {
    const [start] = this.expr(s.start);
    const [end] = this.expr(s.end);
    const skip = this.label();
    const none = this.reg('p');
    this.ins(`setp.ge.s32 ${none}, ${start}, ${end}`);
    this.ins(`@${none} bra.uni ${skip}`);
    const i = this.reg('r'), last = this.reg('r'), span = this.reg('r'), active = this.reg('p'), v = this.reg('r');
    this.ins(`mad.lo.s32 ${i}, ${this.tid}, ${s.step}, ${start}`);
    this.ins(`sub.s32 ${span}, ${end}, ${start}`);
    this.ins(`sub.s32 ${span}, ${span}, 1`);
    this.ins(`div.u32 ${span}, ${span}, ${s.step}`);
    this.ins(`mad.lo.s32 ${last}, ${span}, ${s.step}, ${start}`);
    this.ins(`setp.lt.s32 ${active}, ${i}, ${end}`);
    this.ins(`selp.b32 ${v}, ${i}, ${last}, ${active}`);
    const factor = gcdPow2(this.factor(s.start), s.step);
    this.scoped(() => {
      this.bind(s.var, { type: { elem: 'i32', lanes: 1 }, regs: [v], factor });
      this.stmts(s.body, { uniform: false, active });
    });
    this.place(skip);
  }

  // ---------------------------------------------------------------- memory

  /** A power of two dividing an i32 index value (capped at 16). */
  private factor(e: Expr): number {
    switch (e.kind) {
      case 'const': {
        const x = Number(e.value);
        if (!Number.isInteger(x)) return 1;
        if (x === 0) return 16;
        return Math.min(16, x & -x);
      }
      case 'var': {
        return this.scopes.find(e.name)?.factor ?? 1;
      }
      case 'binary':
        if (e.type.elem !== 'i32') return 1;
        switch (e.op) {
          case 'add': case 'sub': return Math.min(this.factor(e.a), this.factor(e.b));
          case 'mul': return Math.min(16, this.factor(e.a) * this.factor(e.b));
          case 'shl': return e.b.kind === 'const' && Number(e.b.value) >= 0 && Number(e.b.value) < 5
            ? Math.min(16, this.factor(e.a) * 2 ** Number(e.b.value)) : 1;
          default: return 1;
        }
      default: return 1;
    }
  }

  private address(buf: BufInfo, index: string, offsetElems = 0): string {
    const bytes = bytesOf(buf.param.elem);
    const a = this.reg('rd');
    this.ins(`mul.wide.s32 ${a}, ${index}, ${bytes}`);
    this.ins(`add.s64 ${a}, ${a}, ${buf.base}`);
    if (offsetElems) this.ins(`add.s64 ${a}, ${a}, ${offsetElems * bytes}`);
    return a;
  }

  /** Lanes per vector ld/st of this access (1 when alignment is not provable). */
  private chunk(e: KScalar, lanes: number, index: Expr): number {
    if (lanes === 1 || !(e === 'f32' || e === 'i32' || e === 'u32' || e === 'f64' || e === 'i64' || e === 'u64')) return 1;
    const per = Math.min(lanes, 16 / bytesOf(e), 4);
    if (per < 2 || this.factor(index) % per !== 0) return 1;
    return per;
  }

  private load(e: Extract<Expr, { kind: 'load' }>): string[] {
    const buf = this.buffer(e.buffer);
    const elem = buf.param.elem;
    const [idx] = this.expr(e.index);
    const sp = buf.space;
    const lanes = e.type.lanes;
    const addr = this.address(buf, idx!);
    const out: string[] = [];
    const per = this.chunk(elem, lanes, e.index);
    const bytes = bytesOf(elem);
    for (let l = 0; l < lanes; l += per) {
      const off = l * bytes ? `+${l * bytes}` : '';
      if (per > 1) {
        const regs = Array.from({ length: per }, () => this.regFor(elem));
        this.ins(`ld.${sp}.v${per}.${memType(elem)} {${regs.join(', ')}}, [${addr}${off}]`);
        out.push(...regs);
        continue;
      }
      out.push(this.loadScalar(elem, sp, `[${addr}${off}]`));
    }
    return out;
  }

  private loadScalar(elem: KScalar, sp: string, at: string): string {
    switch (elem) {
      case 'bool': {
        const r = this.reg('r'), p = this.reg('p');
        this.ins(`ld.${sp}.u8 ${r}, ${at}`);
        this.ins(`setp.ne.u32 ${p}, ${r}, 0`);
        return p;
      }
      case 'f16': {
        const h = this.reg('h'), f = this.reg('f');
        this.ins(`ld.${sp}.b16 ${h}, ${at}`);
        this.ins(`cvt.f32.f16 ${f}, ${h}`);
        return f;
      }
      case 'bf16': {
        const r = this.reg('r'), f = this.reg('f');
        this.ins(`ld.${sp}.u16 ${r}, ${at}`);
        this.ins(`shl.b32 ${r}, ${r}, 16`);
        this.ins(`mov.b32 ${f}, ${r}`);
        return f;
      }
      default: {
        const r = this.regFor(elem);
        this.ins(`ld.${sp}.${memType(elem)} ${r}, ${at}`);
        return r;
      }
    }
  }

  private store(s: Extract<Stmt, { kind: 'store' }>, guard: string | undefined): void {
    const buf = this.buffer(s.buffer);
    const elem = buf.param.elem;
    const [idx] = this.expr(s.index);
    const val = this.expr(s.value);
    const addr = this.address(buf, idx!);
    const pre = guard ? `@${guard} ` : '';
    const per = this.chunk(elem, val.length, s.index);
    const bytes = bytesOf(elem);
    for (let l = 0; l < val.length; l += per) {
      const off = l * bytes ? `+${l * bytes}` : '';
      if (per > 1) {
        this.ins(`${pre}st.${buf.space}.v${per}.${memType(elem)} [${addr}${off}], {${val.slice(l, l + per).join(', ')}}`);
        continue;
      }
      const bits = this.memBits(elem, val[l]!);
      this.ins(`${pre}st.${buf.space}.${storeType(elem)} [${addr}${off}], ${bits}`);
    }
  }

  /** A register value as what memory holds (f16/bf16 bit patterns, bool as 0/1). */
  private memBits(elem: KScalar, r: string): string {
    switch (elem) {
      case 'bool': { const x = this.reg('r'); this.ins(`selp.u32 ${x}, 1, 0, ${r}`); return x; }
      case 'f16': { const h = this.reg('h'); this.ins(`cvt.rn.f16.f32 ${h}, ${r}`); return h; }
      case 'bf16': {
        const x = this.reg('r');
        this.ins(`mov.b32 ${x}, ${r}`);
        this.ins(`shr.u32 ${x}, ${x}, 16`);
        return x;
      }
      default: return r;
    }
  }

  private atomic(s: Extract<Stmt, { kind: 'atomic' }>, guard: string | undefined, needResult: boolean): string | undefined {
    const buf = this.buffer(s.buffer);
    const elem = buf.param.elem;
    const [idx] = this.expr(s.index);
    let [val] = this.expr(s.value);
    const addr = this.address(buf, idx!);
    const sem = `.${s.order}`;
    const scope = s.scope === 'workgroup' || buf.space === 'shared' ? '.cta' : '.gpu';
    let op: string, type: string;
    const wide = isWide(elem);
    switch (s.op as AtomicOp) {
      case 'add': case 'sub':
        op = 'add';
        type = elem === 'f32' ? 'f32' : wide ? 'u64' : 'u32';
        if (s.op === 'sub') {
          const n = this.regFor(elem);
          this.ins(`neg.${elem === 'f32' ? 'f32' : wide ? 's64' : 's32'} ${n}, ${val}`);
          val = n;
        }
        break;
      case 'min': case 'max': op = s.op; type = opType(elem); break;
      case 'and': case 'or': case 'xor': op = s.op; type = wide ? 'b64' : 'b32'; break;
      case 'exchange': op = 'exch'; type = wide || elem === 'f64' ? 'b64' : 'b32'; break;
      default: return fail(`ptx: no atomic ${String(s.op)}`);
    }
    const pre = guard ? `@${guard} ` : '';
    const old = this.regFor(elem);
    if (needResult || s.order === 'acquire' || s.order === 'acq_rel') {
      if (guard) this.ins(`mov.${bitType(elem)} ${old}, ${immediate(elem, 0)}`);
      this.ins(`${pre}atom${sem}${scope}.${buf.space}.${op}.${type} ${old}, [${addr}], ${val}`);
      return old;
    }
    if (op === 'exch') {
      this.ins(`${pre}atom${sem}${scope}.${buf.space}.${op}.${type} ${old}, [${addr}], ${val}`);
      return old;
    }
    this.ins(`${pre}red${sem}${scope}.${buf.space}.${op}.${type} [${addr}], ${val}`);
    return undefined;
  }

  // ---------------------------------------------------------------- expressions

  expr(e: Expr): string[] {
    const known = this.memo.get(e);
    if (known) return known;
    const r = this.exprUncached(e);
    this.memo.set(e, r);
    return r;
  }

  private exprUncached(e: Expr): string[] {
    switch (e.kind) {
      case 'const': {
        const r = this.constReg(e.type.elem, e.value);
        return Array(e.type.lanes).fill(r);
      }
      case 'var': return this.lookup(e.name).regs;
      case 'load': return this.load(e);
      case 'broadcast': { const [x] = this.expr(e.a); return Array(e.type.lanes).fill(x!); }
      case 'extract': return [this.expr(e.a)[e.lane] ?? fail(`extract: lane ${e.lane} out of range`)];
      case 'reduce_lanes': {
        const xs = this.expr(e.a);
        let acc = xs[0]!;
        for (let i = 1; i < xs.length; i++) acc = this.post(e.op, e.type.elem, this.binaryScalar(e.op, e.type.elem, acc, xs[i]!));
        return [acc];
      }
      case 'select': {
        const c = this.expr(e.cond), a = this.expr(e.a), b = this.expr(e.b);
        return a.map((x, i) => this.selectScalar(e.type.elem, c.length === 1 ? c[0]! : c[i]!, x, b[i]!));
      }
      case 'binary': {
        const at = e.a.type.elem;
        const bConst = e.b.kind === 'const' ? e.b.value : e.b.kind === 'broadcast' && e.b.a.kind === 'const' ? e.b.a.value : undefined;
        const a = this.expr(e.a), b = this.expr(e.b);
        return a.map((x, i) => this.post(e.op, e.type.elem, this.binaryScalar(e.op, at, x, b[i]!, bConst)));
      }
      case 'unary': {
        const at = e.a.type.elem;
        return this.expr(e.a).map((x) => this.post(e.op, e.type.elem, this.unaryScalar(e.op, at, x)));
      }
      case 'cast': return this.expr(e.a).map((x) => this.castScalar(e.a.type.elem, e.type.elem, x));
      case 'bitcast': return this.bitcast(e.a.type, e.type, this.expr(e.a));
    }
  }

  private selectScalar(elem: KScalar, c: string, a: string, b: string): string {
    const r = this.regFor(elem);
    if (elem === 'bool') {
      const t1 = this.reg('p'), t2 = this.reg('p'), nc = this.reg('p');
      this.ins(`and.pred ${t1}, ${c}, ${a}`);
      this.ins(`not.pred ${nc}, ${c}`);
      this.ins(`and.pred ${t2}, ${nc}, ${b}`);
      this.ins(`or.pred ${r}, ${t1}, ${t2}`);
      return r;
    }
    this.ins(`selp.${bitType(elem)} ${r}, ${a}, ${b}, ${c}`);
    return r;
  }

  /** Re-canonicalizes a result of `op` in element type e. */
  private post(op: string, e: KScalar, r: string): string {
    if (COMPARES.has(op)) return r;
    if ((e === 'f16' || e === 'bf16') && !EXACT_FLOAT.has(op)) return this.round(e, r);
    if (isNarrowInt(e) && WRAPS.has(op)) return this.wrap(e, r);
    return r;
  }

  /** A 32-bit register brought to the canonical form of a narrow integer type. */
  private wrap(e: KScalar, r: string): string {
    const x = this.reg('r');
    switch (e) {
      case 'i8': this.ins(`bfe.s32 ${x}, ${r}, 0, 8`); return x;
      case 'i16': this.ins(`bfe.s32 ${x}, ${r}, 0, 16`); return x;
      case 'u8': this.ins(`and.b32 ${x}, ${r}, 255`); return x;
      case 'u16': this.ins(`and.b32 ${x}, ${r}, 65535`); return x;
      default: return r;
    }
  }

  /** Rounds an f32 register to f16 or bf16 precision (the value stays in an f32 register). */
  private round(to: 'f16' | 'bf16', f: string): string {
    const h = this.reg('h'), out = this.reg('f');
    if (to === 'f16') {
      this.ins(`cvt.rn.f16.f32 ${h}, ${f}`);
      this.ins(`cvt.f32.f16 ${out}, ${h}`);
      return out;
    }
    const r = this.reg('r');
    this.ins(`cvt.rn.bf16.f32 ${h}, ${f}`);
    this.ins(`cvt.u32.u16 ${r}, ${h}`);
    this.ins(`shl.b32 ${r}, ${r}, 16`);
    this.ins(`mov.b32 ${out}, ${r}`);
    return out;
  }

  private binaryScalar(op: BinaryOp, e: KScalar, a: string, b: string, bConst?: number | bigint): string {
    if (e === 'bool') return this.boolBinary(op, a, b);
    if (isFloat(e)) return this.floatBinary(op, e, a, b);
    return this.intBinary(op, e, a, b, bConst);
  }

  private boolBinary(op: BinaryOp, a: string, b: string): string {
    const r = this.reg('p');
    switch (op) {
      case 'and': case 'or': case 'xor': this.ins(`${op}.pred ${r}, ${a}, ${b}`); return r;
      case 'ne': this.ins(`xor.pred ${r}, ${a}, ${b}`); return r;
      case 'eq': {
        const x = this.reg('p');
        this.ins(`xor.pred ${x}, ${a}, ${b}`);
        this.ins(`not.pred ${r}, ${x}`);
        return r;
      }
      default: return fail(`ptx: ${op} is not defined on bool`);
    }
  }

  private floatBinary(op: BinaryOp, e: KScalar, a: string, b: string): string {
    const t = e === 'f64' ? 'f64' : 'f32';
    const r = this.regFor(e);
    const cmp: Partial<Record<BinaryOp, string>> = { eq: 'eq', ne: 'neu', lt: 'lt', le: 'le', gt: 'gt', ge: 'ge' };
    switch (op) {
      case 'add': case 'sub': case 'mul': case 'div': this.ins(`${op}.rn.${t} ${r}, ${a}, ${b}`); return r;
      case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge': {
        const p = this.reg('p');
        this.ins(`setp.${cmp[op]}.${t} ${p}, ${a}, ${b}`);
        return p;
      }
      case 'min': case 'max': {
        // NaN propagates; −0 < +0 (on equal operands, OR of the bits is the min, AND the max).
        const w = t === 'f64' ? 'b64' : 'b32';
        const x = this.reg(t === 'f64' ? 'rd' : 'r'), y = this.reg(t === 'f64' ? 'rd' : 'r');
        const pe = this.reg('p'), pn = this.reg('p'), m = this.regFor(e), z = this.regFor(e);
        this.ins(`${op}.${t} ${m}, ${a}, ${b}`);
        this.ins(`mov.${w} ${x}, ${a}`);
        this.ins(`mov.${w} ${y}, ${b}`);
        this.ins(`${op === 'min' ? 'or' : 'and'}.${w} ${x}, ${x}, ${y}`);
        this.ins(`mov.${w} ${z}, ${x}`);
        this.ins(`setp.eq.${t} ${pe}, ${a}, ${b}`);
        this.ins(`selp.${t} ${m}, ${z}, ${m}, ${pe}`);
        this.ins(`setp.nan.${t} ${pn}, ${a}, ${b}`);
        this.ins(`selp.${t} ${r}, ${t === 'f64' ? f64Imm(NaN) : f32Imm(NaN)}, ${m}, ${pn}`);
        return r;
      }
      case 'floordiv': {
        const q = this.floatBinary('div', e, a, b);
        this.ins(`cvt.rmi.${t}.${t} ${r}, ${q}`);
        return r;
      }
      case 'pow': case 'atan2': case 'mod': case 'floormod': {
        const gen = lib.BINARY_MATH[op] ?? fail(`ptx: no math helper '${op}'`);
        return this.math((blk, [x, y]) => gen(blk, x!, y!), e, [a, b], false);
      }
      default: return fail(`ptx: no lowering for ${op} on ${e}`);
    }
  }

  private intBinary(op: BinaryOp, e: KScalar, a: string, b: string, bConst?: number | bigint): string {
    const wide = isWide(e);
    const t = opType(e);
    const bt = wide ? 'b64' : 'b32';
    const r = this.regFor(e);
    const signed = isSigned(e);
    const bits = bytesOf(e) * 8;
    switch (op) {
      case 'add': case 'sub': this.ins(`${op}.${t} ${r}, ${a}, ${b}`); return r;
      case 'mul': this.ins(`mul.lo.${t} ${r}, ${a}, ${b}`); return r;
      case 'and': case 'or': case 'xor': this.ins(`${op}.${bt} ${r}, ${a}, ${b}`); return r;
      case 'min': case 'max': this.ins(`${op}.${t} ${r}, ${a}, ${b}`); return r;
      case 'eq': case 'ne': case 'lt': case 'le': case 'gt': case 'ge': {
        const p = this.reg('p');
        this.ins(`setp.${op}.${t} ${p}, ${a}, ${b}`);
        return p;
      }
      case 'shl': case 'shr': {
        const n = this.reg('r');
        if (wide) this.ins(`cvt.u32.u64 ${n}, ${b}`);
        this.ins(`and.b32 ${n}, ${wide ? n : b}, ${bits - 1}`);
        const ins = op === 'shl' ? `shl.${bt}` : signed ? `shr.${t}` : `shr.${wide ? 'u64' : 'u32'}`;
        this.ins(`${ins} ${r}, ${a}, ${n}`);
        return r;
      }
      case 'div': case 'mod': {
        const ins = op === 'div' ? 'div' : 'rem';
        this.ins(`${ins}.${t} ${r}, ${a}, ${b}`);
        // A divisor of 0 gives some value (PTX does not trap); MIN / −1 must wrap to MIN (mod 0).
        const k = bConst === undefined ? undefined : BigInt(bConst);
        if (signed && (bits === 32 || bits === 64) && (k === undefined || k === -1n)) {
          const p = this.reg('p'), fixed = this.regFor(e);
          this.ins(`setp.eq.${t} ${p}, ${b}, -1`);
          if (op === 'div') this.ins(`neg.${t} ${fixed}, ${a}`);
          else this.ins(`mov.${bt} ${fixed}, 0`);
          const out = this.regFor(e);
          this.ins(`selp.${bt} ${out}, ${fixed}, ${r}, ${p}`);
          return out;
        }
        return r;
      }
      case 'floordiv': case 'floormod': {
        if (!signed) return this.intBinary(op === 'floordiv' ? 'div' : 'mod', e, a, b, bConst);
        const q = this.intBinary('div', e, a, b, bConst), m = this.intBinary('mod', e, a, b, bConst);
        // Adjust when the remainder is non-zero and its sign differs from the divisor's.
        const nz = this.reg('p'), diff = this.reg('p'), adj = this.reg('p'), x = this.regFor(e);
        this.ins(`setp.ne.${t} ${nz}, ${m}, 0`);
        this.ins(`xor.${bt} ${x}, ${m}, ${b}`);
        this.ins(`setp.lt.${t} ${diff}, ${x}, 0`);
        this.ins(`and.pred ${adj}, ${nz}, ${diff}`);
        const out = this.regFor(e);
        if (op === 'floordiv') {
          const q1 = this.regFor(e);
          this.ins(`sub.${t} ${q1}, ${q}, 1`);
          this.ins(`selp.${bt} ${out}, ${q1}, ${q}, ${adj}`);
        } else {
          const m1 = this.regFor(e);
          this.ins(`add.${t} ${m1}, ${m}, ${b}`);
          this.ins(`selp.${bt} ${out}, ${m1}, ${m}, ${adj}`);
        }
        return out;
      }
      case 'mulhi':
        if (bits >= 32) { this.ins(`mul.hi.${t} ${r}, ${a}, ${b}`); return r; }
        this.ins(`mul.lo.s32 ${r}, ${a}, ${b}`);
        this.ins(`shr.${t} ${r}, ${r}, ${bits}`);
        return r;
      case 'dot4_u8': case 'dot4_i8': {
        if (wide || bits !== 32) return fail(`ptx: ${op} needs 32-bit operands`);
        const z = this.reg('r');
        this.ins(`mov.b32 ${z}, 0`);
        this.ins(op === 'dot4_u8' ? `dp4a.u32.u32 ${r}, ${a}, ${b}, ${z}` : `dp4a.s32.s32 ${r}, ${a}, ${b}, ${z}`);
        return r;
      }
      case 'pow': return this.math((blk, [x, y]) => lib.powInt(blk, x!, y!), e, [a, b], false);
      default: return fail(`ptx: no lowering for ${op} on ${e}`);
    }
  }

  private unaryScalar(op: UnaryOp, e: KScalar, a: string): string {
    if (e === 'bool') {
      if (op !== 'not') return fail(`ptx: ${op} is not defined on bool`);
      const r = this.reg('p');
      this.ins(`not.pred ${r}, ${a}`);
      return r;
    }
    if (!isFloat(e)) return this.intUnary(op, e, a);
    const t = e === 'f64' ? 'f64' : 'f32';
    const r = this.regFor(e);
    const one = t === 'f64' ? f64Imm(1) : f32Imm(1);
    switch (op) {
      case 'neg': case 'abs': this.ins(`${op}.${t} ${r}, ${a}`); return r;
      case 'sqrt': this.ins(`sqrt.rn.${t} ${r}, ${a}`); return r;
      case 'recip': this.ins(`rcp.rn.${t} ${r}, ${a}`); return r;
      case 'rsqrt': {
        // One rounding of 1/√x to the type, as the interpreter: f32 goes through f64.
        if (t === 'f64') {
          const s = this.reg('fd');
          this.ins(`sqrt.rn.f64 ${s}, ${a}`);
          this.ins(`rcp.rn.f64 ${r}, ${s}`);
          return r;
        }
        const d = this.reg('fd'), s = this.reg('fd');
        this.ins(`cvt.f64.f32 ${d}, ${a}`);
        this.ins(`sqrt.rn.f64 ${s}, ${d}`);
        this.ins(`rcp.rn.f64 ${s}, ${s}`);
        this.ins(`cvt.rn.f32.f64 ${r}, ${s}`);
        return r;
      }
      case 'floor': this.ins(`cvt.rmi.${t}.${t} ${r}, ${a}`); return r;
      case 'ceil': this.ins(`cvt.rpi.${t}.${t} ${r}, ${a}`); return r;
      case 'trunc': this.ins(`cvt.rzi.${t}.${t} ${r}, ${a}`); return r;
      case 'round_even': this.ins(`cvt.rni.${t}.${t} ${r}, ${a}`); return r;
      case 'isnan': { const p = this.reg('p'); this.ins(`setp.nan.${t} ${p}, ${a}, ${a}`); return p; }
      case 'isinf': {
        const x = this.regFor(e), p = this.reg('p');
        this.ins(`abs.${t} ${x}, ${a}`);
        this.ins(`setp.eq.${t} ${p}, ${x}, ${t === 'f64' ? f64Imm(Infinity) : f32Imm(Infinity)}`);
        return p;
      }
      case 'sign': {
        const pg = this.reg('p'), pl = this.reg('p'), x = this.regFor(e);
        const zero = t === 'f64' ? f64Imm(0) : f32Imm(0), m1 = t === 'f64' ? f64Imm(-1) : f32Imm(-1);
        this.ins(`setp.gt.${t} ${pg}, ${a}, ${zero}`);
        this.ins(`setp.lt.${t} ${pl}, ${a}, ${zero}`);
        this.ins(`selp.${t} ${x}, ${one}, ${a}, ${pg}`);
        this.ins(`selp.${t} ${r}, ${m1}, ${x}, ${pl}`);
        return r;
      }
      default: {
        const gen = lib.UNARY_MATH[op] ?? fail(`ptx: no lowering for ${op} on ${e}`);
        return this.math((blk, [x]) => gen(blk, x!), e, [a], lib.F32_NATIVE.has(op));
      }
    }
  }

  private intUnary(op: UnaryOp, e: KScalar, a: string): string {
    const t = opType(e);
    const bt = isWide(e) ? 'b64' : 'b32';
    const r = this.regFor(e);
    switch (op) {
      case 'neg': this.ins(`neg.${isWide(e) ? 's64' : 's32'} ${r}, ${a}`); return r;
      case 'abs':
        if (!isSigned(e)) return a;
        this.ins(`abs.${t} ${r}, ${a}`);
        return r;
      case 'not': this.ins(`not.${bt} ${r}, ${a}`); return r;
      case 'sign': {
        const pg = this.reg('p'), pl = this.reg('p'), x = this.regFor(e);
        this.ins(`setp.gt.${t} ${pg}, ${a}, 0`);
        this.ins(`setp.lt.${t} ${pl}, ${a}, 0`);
        this.ins(`selp.${bt} ${x}, 1, 0, ${pg}`);
        this.ins(`selp.${bt} ${r}, -1, ${x}, ${pl}`);
        return isSigned(e) ? r : x;
      }
      case 'floor': case 'ceil': case 'trunc': case 'round_even': return a;
      case 'isnan': case 'isinf': { const p = this.reg('p'); this.ins(`setp.ne.u32 ${p}, 0, 0`); return p; }
      default: return fail(`ptx: no lowering for ${op} on ${e}`);
    }
  }

  /**
   * Calls a math helper written in kernel IR (backends/wasm/mathlib.ts), inlined here. f32 math without a
   * native-f32 implementation (and f16/bf16, held in f32) is computed in f64 and rounded, as the WASM backend does.
   */
  private math(gen: (b: Block, xs: Expr[]) => Expr, e: KScalar, args: string[], f32Native: boolean): string {
    if (e === 'f32' || e === 'f16' || e === 'bf16') {
      if (!f32Native) {
        const wide = args.map((x) => { const d = this.reg('fd'); this.ins(`cvt.f64.f32 ${d}, ${x}`); return d; });
        const d = this.math(gen, 'f64', wide, false);
        const r = this.reg('f');
        this.ins(`cvt.rn.f32.f64 ${r}, ${d}`);
        return r;
      }
      e = 'f32';
    }
    const id = this.uniq++;
    const t: KType = { elem: e, lanes: 1 };
    return this.scoped(() => {
      const xs = args.map((x, i) => {
        const name = `__m${id}_a${i}`;
        this.bind(name, { type: t, regs: [x], factor: 1 });
        return dslVar(name, t);
      });
      const blk = new Block(`__m${id}_t`);
      const ret = gen(blk, xs);
      this.stmts(blk.stmts, { uniform: false });
      return this.expr(ret)[0]!;
    });
  }

  // ---------------------------------------------------------------- conversions

  private castScalar(from: KScalar, to: KScalar, a: string): string {
    if (from === to) return a;
    if (to === 'bool') {
      const p = this.reg('p');
      if (isFloat(from)) this.ins(`setp.neu.${from === 'f64' ? 'f64' : 'f32'} ${p}, ${a}, ${from === 'f64' ? f64Imm(0) : f32Imm(0)}`);
      else this.ins(`setp.ne.${bitType(from)} ${p}, ${a}, 0`);
      return p;
    }
    if (from === 'bool') {
      const r = this.regFor(to);
      const [one, zero] = [immediate(to, 1), immediate(to, 0)];
      this.ins(`selp.${isFloat(to) ? (to === 'f64' ? 'f64' : 'f32') : bitType(to)} ${r}, ${one}, ${zero}, ${a}`);
      return r;
    }
    if (to === 'f16' || to === 'bf16') {
      if (from === 'f32' || from === 'f16' || from === 'bf16') return this.round(to, a);
      // One rounding: the exact value rounded to odd at f32 precision, then to nearest even.
      return this.round(to, this.toF32Odd(from, a));
    }
    if (isFloat(to)) {
      const tt = to === 'f64' ? 'f64' : 'f32';
      const r = this.regFor(to);
      if (isFloat(from)) {
        const ft = from === 'f64' ? 'f64' : 'f32';
        if (ft === tt) this.ins(`mov.${tt} ${r}, ${a}`);
        else this.ins(tt === 'f64' ? `cvt.f64.f32 ${r}, ${a}` : `cvt.rn.f32.f64 ${r}, ${a}`);
        return r;
      }
      this.ins(`cvt.rn.${tt}.${intCvtType(from)} ${r}, ${a}`);
      return r;
    }
    if (isFloat(from)) {
      // Truncate and saturate (cvt.rzi saturates), NaN → 0 explicitly (64-bit conversions of NaN give MIN on
      // some paths), then clamp to a narrow range.
      const ft = from === 'f64' ? 'f64' : 'f32';
      const nan = this.reg('p');
      this.ins(`setp.nan.${ft} ${nan}, ${a}, ${a}`);
      if (isWide(to)) {
        const x = this.reg('rd'), r = this.reg('rd');
        this.ins(`cvt.rzi.${to === 'i64' ? 's64' : 'u64'}.${ft} ${x}, ${a}`);
        this.ins(`selp.b64 ${r}, 0, ${x}, ${nan}`);
        return r;
      }
      const x = this.reg('r'), r = this.reg('r');
      this.ins(`cvt.rzi.${isSigned(to) ? 's32' : 'u32'}.${ft} ${x}, ${a}`);
      this.ins(`selp.b32 ${r}, 0, ${x}, ${nan}`);
      if (!isNarrowInt(to)) return r;
      const bits = bytesOf(to) * 8;
      const [lo, hi] = isSigned(to) ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
      const c = this.reg('r');
      this.ins(`min.${isSigned(to) ? 's32' : 'u32'} ${c}, ${r}, ${hi}`);
      if (isSigned(to)) this.ins(`max.s32 ${c}, ${c}, ${lo}`);
      return c;
    }
    // int → int: wrap.
    if (isWide(from) && isWide(to)) return a;
    if (isWide(from)) {
      const r = this.reg('r');
      this.ins(`cvt.u32.u64 ${r}, ${a}`);
      return this.wrap(to, r);
    }
    if (isWide(to)) {
      const r = this.reg('rd');
      this.ins(isSigned(from) ? `cvt.s64.s32 ${r}, ${a}` : `cvt.u64.u32 ${r}, ${a}`);
      return r;
    }
    return this.wrap(to, a);
  }

  /** A non-f32 value as an f32 rounded to odd (so a second rounding to f16/bf16 is exact). */
  private toF32Odd(from: KScalar, a: string): string {
    let d: string;
    if (from === 'f64') d = a;
    else if (isWide(from)) {
      // i64 → f64 rounded to odd: truncate, then set the last bit when inexact.
      const z = this.reg('fd'), back = this.reg('rd'), p = this.reg('p'), bits = this.reg('rd'), o = this.reg('rd');
      const ct = from === 'i64' ? 's64' : 'u64';
      this.ins(`cvt.rz.f64.${ct} ${z}, ${a}`);
      this.ins(`cvt.rzi.${ct}.f64 ${back}, ${z}`);
      this.ins(`setp.ne.${ct} ${p}, ${back}, ${a}`);
      this.ins(`mov.b64 ${bits}, ${z}`);
      this.ins(`or.b64 ${o}, ${bits}, 1`);
      this.ins(`selp.b64 ${bits}, ${o}, ${bits}, ${p}`);
      d = this.reg('fd');
      this.ins(`mov.b64 ${d}, ${bits}`);
    } else {
      d = this.reg('fd');
      this.ins(`cvt.rn.f64.${intCvtType(from)} ${d}, ${a}`); // exact
    }
    const z = this.reg('f'), back = this.reg('fd'), p = this.reg('p'), pinf = this.reg('p'), bits = this.reg('r'), o = this.reg('r');
    this.ins(`cvt.rz.f32.f64 ${z}, ${d}`);
    this.ins(`cvt.f64.f32 ${back}, ${z}`);
    this.ins(`setp.neu.f64 ${p}, ${back}, ${d}`);
    // Overflow: cvt.rz saturates to the largest finite f32; the value is then beyond every f16/bf16 anyway.
    this.ins(`setp.nan.f64 ${pinf}, ${d}, ${d}`);
    this.ins(`mov.b32 ${bits}, ${z}`);
    this.ins(`or.b32 ${o}, ${bits}, 1`);
    this.ins(`selp.b32 ${bits}, ${o}, ${bits}, ${p}`);
    const r = this.reg('f');
    this.ins(`mov.b32 ${r}, ${bits}`);
    const out = this.reg('f');
    this.ins(`selp.f32 ${out}, ${z}, ${r}, ${pinf}`);
    return out;
  }

  /** Reinterprets bits: lanes packed little-endian into 32-bit words, then unpacked as the target type. */
  private bitcast(from: KType, to: KType, xs: string[]): string[] {
    if (from.elem === to.elem && from.lanes === to.lanes) return xs;
    if (from.elem === 'bool' || to.elem === 'bool') return fail('ptx: bitcast of bool');
    const fb = bytesOf(from.elem) * 8, tb = bytesOf(to.elem) * 8;
    if (fb * from.lanes !== tb * to.lanes) return fail(`ptx: bitcast ${typeName(from)} → ${typeName(to)} changes the bit width`);
    // Same lane width: one register move per lane.
    if (fb === tb) return xs.map((x) => this.fromBits(to.elem, this.toBits(from.elem, x)));
    const words: string[] = [];
    let cur: string | undefined, used = 0;
    for (const x of xs) {
      const bits = this.toBits(from.elem, x);
      if (fb === 64) {
        const lo = this.reg('r'), hi = this.reg('r');
        this.ins(`mov.b64 {${lo}, ${hi}}, ${bits}`);
        words.push(lo, hi);
        continue;
      }
      if (fb === 32) { words.push(bits); continue; }
      if (cur === undefined) { cur = this.reg('r'); this.ins(`mov.b32 ${cur}, 0`); used = 0; }
      const n = this.reg('r');
      this.ins(`bfi.b32 ${n}, ${bits}, ${cur}, ${used}, ${fb}`);
      cur = n; used += fb;
      if (used === 32) { words.push(cur); cur = undefined; }
    }
    if (cur !== undefined) words.push(cur);
    const out: string[] = [];
    for (let i = 0; i < to.lanes; i++) {
      const bitPos = i * tb;
      let bits: string;
      if (tb === 64) {
        bits = this.reg('rd');
        this.ins(`mov.b64 ${bits}, {${words[bitPos / 32]}, ${words[bitPos / 32 + 1]}}`);
      } else if (tb === 32) bits = words[bitPos / 32]!;
      else {
        bits = this.reg('r');
        this.ins(`bfe.u32 ${bits}, ${words[Math.floor(bitPos / 32)]}, ${bitPos % 32}, ${tb}`);
      }
      out.push(this.fromBits(to.elem, bits));
    }
    return out;
  }

  /** The raw bits of a register value (32-bit register for ≤32-bit types; narrow ones zero-extended). */
  private toBits(e: KScalar, x: string): string {
    switch (e) {
      case 'f32': { const r = this.reg('r'); this.ins(`mov.b32 ${r}, ${x}`); return r; }
      case 'f64': { const r = this.reg('rd'); this.ins(`mov.b64 ${r}, ${x}`); return r; }
      case 'f16': { const h = this.reg('h'), r = this.reg('r'); this.ins(`cvt.rn.f16.f32 ${h}, ${x}`); this.ins(`cvt.u32.u16 ${r}, ${h}`); return r; }
      case 'bf16': { const r = this.reg('r'); this.ins(`mov.b32 ${r}, ${x}`); this.ins(`shr.u32 ${r}, ${r}, 16`); return r; }
      case 'i8': case 'i16': { const r = this.reg('r'); this.ins(`and.b32 ${r}, ${x}, ${e === 'i8' ? 255 : 65535}`); return r; }
      default: return x;
    }
  }

  private fromBits(e: KScalar, bits: string): string {
    switch (e) {
      case 'f32': { const r = this.reg('f'); this.ins(`mov.b32 ${r}, ${bits}`); return r; }
      case 'f64': { const r = this.reg('fd'); this.ins(`mov.b64 ${r}, ${bits}`); return r; }
      case 'f16': {
        const h = this.reg('h'), r = this.reg('f');
        this.ins(`cvt.u16.u32 ${h}, ${bits}`);
        this.ins(`cvt.f32.f16 ${r}, ${h}`);
        return r;
      }
      case 'bf16': {
        const x = this.reg('r'), r = this.reg('f');
        this.ins(`shl.b32 ${x}, ${bits}, 16`);
        this.ins(`mov.b32 ${r}, ${x}`);
        return r;
      }
      case 'i8': case 'i16': case 'u8': case 'u16': return this.wrap(e, bits);
      default: return bits;
    }
  }
}

function storeType(e: KScalar): string {
  switch (e) {
    case 'bool': case 'i8': case 'u8': return 'u8';
    case 'i16': case 'u16': case 'bf16': return 'u16';
    case 'f16': return 'b16';
    default: return memType(e);
  }
}

function intCvtType(e: KScalar): string {
  switch (e) {
    case 'i8': case 'i16': case 'i32': return 's32';
    case 'u8': case 'u16': case 'u32': return 'u32';
    case 'i64': return 's64';
    case 'u64': return 'u64';
    default: return fail(`internal: ${e} is not an integer type`);
  }
}

function gcdPow2(f: number, step: number): number {
  const s = Math.min(16, step & -step);
  return Math.min(f, s);
}

export function emitKernel(k: Kernel): EmittedKernel {
  return new KernelEmitter(k).emit();
}

