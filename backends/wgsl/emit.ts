// Kernel IR → one WGSL compute shader (the generic emitter; tuned templates live beside it, see index.ts).
// Storage ABI (ir/kernel/webgpu-abi.ts): every element is 32-bit words in one arena (binding 0, `array<u32>`,
// or `array<atomic<u32>>` in a kernel with atomics on global buffers), 64-bit integers two words (lo, hi);
// binding 1 is the parameter block P: the word offset of each global buffer, then each size param's i32 bits.
//
// Values are scalarized: every lane of an IR vector is its own WGSL value, each op result a `let`. What WGSL
// lacks is legalized here (the helpers are in lib.ts, emitted only when used):
// - types: bool → bool; i8/i16/i32 → i32 and u8/u16/u32 → u32 in canonical form (sign-/zero-extended, re-wrapped
//   after ops that may leave the range); f16/bf16/f32 → f32, f16/bf16 rounded after each inexact op with exact
//   bit manipulation; f64 → f32 (WGSL has no f64: such kernels compute in f32 and say so); i64/u64 → vec2<u32>
//   with add/mul/shift/compare/div helpers.
// - float semantics: min/max propagate NaN and order −0 < +0; `ne` is `!(a == b)` (SwiftShader's `!=` is ordered);
//   float → int truncates and saturates with NaN → 0; exp/log/tanh/erf/asin/…/pow/atan2 are the kernel-IR
//   implementations of backends/wasm/mathlib.ts expanded through this emitter (in f32); sin/cos/tan and fmod
//   are exact-reduction helpers. Division and sqrt are WGSL's (correctly rounded on SwiftShader; WGSL only
//   promises 2.5 ulp for division).
// - constants: no op ever has only constant operands (one is bound to a `let` first), because WGSL evaluates
//   such expressions at shader creation and rejects overflow, NaN, ±Inf and division by zero there.
//
// Mapping onto workgroups (every kernel is correct for any number of workgroups ≥ 1; the launch grid is a hint,
// capped at MAX_GRID workgroups):
// - 'grid' schedule (ir/kernel/schedule.ts gridPhases: pure statements, then top-level loops that may run
//   concurrently): each parallel loop is a grid-stride loop over the workgroup index wid.x + wid.y·nwg.x, a perfect
//   nest of parallel loops one flattened space of Π trip counts (u32; the loop variables recovered by div/mod).
//   When the space is not provably below 2^32 (its trip counts are those of a buffer's size, which the runtime
//   bounds by 2^31 − 1), a run-time check falls back to a grid-stride outer loop with the inner ones serial.
//   Other top-level loops run on invocation 0 of workgroup 0.
// - 'workgroup' schedule (anything else): workgroup 0 runs the kernel. Statements outside parallel loops run
//   uniformly on every invocation (side effects by invocation 0, an atomic's old value broadcast through
//   workgroup memory); a parallel loop is a workgroup-stride loop; one holding barriers runs in lock-step, one
//   iteration per invocation (at most 256), invocations past the end emulating the last iteration with their
//   side effects masked. Barriers (workgroupBarrier + storageBarrier) are only ever emitted in control flow that
//   WGSL's uniformity analysis accepts: a condition or loop bound around one that the analysis cannot prove
//   uniform is re-read through workgroupUniformLoad (invocation 0's value, which the IR guarantees is everyone's).
import { TesseraError } from '../../ir/errors.ts';
import { BlockScopes } from '../../ir/scope.ts';
import { MAX_PARAM_WORDS, paramVec4s } from '../../ir/kernel/webgpu-abi.ts';
import type { AtomicOp, BinaryOp, BufferParam, Expr, Kernel, KScalar, KType, Stmt, UnaryOp } from '../../ir/kernel/ir.ts';
import {
  anyBarrier, constValue, containsLockstep, gridOf, gridPhases, holdsBarrier, perfectNest, sizeExpr, topLets, tripExpr, type Loop,
} from '../../ir/kernel/schedule.ts';
import { Block, v as dslVar } from '../wasm/dsl.ts';
import * as mathlib from '../wasm/mathlib.ts';
import { helperSource } from './lib.ts';

const fail = (reason: string): never => { throw new TesseraError(reason); };

/** Invocations per workgroup of grid-stride kernels. */
export const BLOCK = 256;
/** WebGPU's default limit of invocations per workgroup (lock-step loops need one per iteration). */
const MAX_INVOCATIONS = 256;
/** WebGPU's default limit of workgroup memory. */
const MAX_WORKGROUP_BYTES = 16384;
/**
 * Most workgroups a grid-stride kernel is launched with: SwiftShader pays a fixed cost per workgroup (a 4M-element
 * elementwise kernel runs 3–4× faster on 256 workgroups than on 16384), and 256 × 256 invocations fill most GPUs.
 * Also the count for a kernel whose iteration count is no size expression.
 */
export const MAX_GRID = 256;

/** Ops after which an i8/u8/i16/u16 result may leave its canonical form. */
const WRAPS = new Set(['add', 'sub', 'mul', 'shl', 'div', 'floordiv', 'pow', 'neg', 'abs', 'not']);
/** Ops whose f16/bf16 result is exact (no rounding needed). */
const EXACT_FLOAT = new Set(['min', 'max', 'neg', 'abs', 'floor', 'ceil', 'trunc', 'round_even', 'sign', 'isnan', 'isinf', 'mod']);
const COMPARES = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** How a kernel is launched: invocations per workgroup, workgroups (an i32 expression over its size params). */
export interface Launch { block: number; grid: Expr; sharedBytes: 0 }

export interface EmittedWgsl { wgsl: string; launch: Launch; schedule: 'grid' | 'workgroup'; f64AsF32: boolean }

/** The WGSL type holding a kernel element type. */
type W = 'bool' | 'i32' | 'u32' | 'f32' | 'vec2<u32>';
export function wgslType(e: KScalar): W {
  switch (e) {
    case 'bool': return 'bool';
    case 'i8': case 'i16': case 'i32': return 'i32';
    case 'u8': case 'u16': case 'u32': return 'u32';
    case 'i64': case 'u64': return 'vec2<u32>';
    default: return 'f32';
  }
}
const isFloat = (e: KScalar) => e === 'f16' || e === 'bf16' || e === 'f32' || e === 'f64';
const isWide = (e: KScalar) => e === 'i64' || e === 'u64';
const isNarrow = (e: KScalar) => e === 'i8' || e === 'u8' || e === 'i16' || e === 'u16';
const isSigned = (e: KScalar) => e === 'i8' || e === 'i16' || e === 'i32' || e === 'i64';
const bitsOf = (e: KScalar): number => {
  switch (e) {
    case 'bool': case 'i8': case 'u8': return 8;
    case 'i16': case 'u16': case 'f16': case 'bf16': return 16;
    case 'i64': case 'u64': case 'f64': return 64;
    default: return 32;
  }
};
const typeName = (t: KType) => (t.lanes === 1 ? t.elem : `${t.elem}x${t.lanes}`);
const I32: KType = { elem: 'i32', lanes: 1 };
const FIELDS = ['x', 'y', 'z', 'w'];

interface Binding { type: KType; lanes: string[] }
interface BufInfo {
  param: BufferParam;
  /** Global: the identifier of its word offset; workgroup: its `var<workgroup>` array. */
  ref: string;
  space: 'global' | 'workgroup';
  atomic: boolean;
}

/** Where statements run: uniformly on every invocation (workgroup schedule), on one invocation for itself, or in a lock-step loop. */
type Mode = 'uniform' | 'thread' | 'lockstep';
interface Ctx { mode: Mode; active?: string }

// ---------------------------------------------------------------- statement queries

function exprLoads(e: Expr): boolean {
  switch (e.kind) {
    case 'const': case 'var': return false;
    case 'load': return true;
    case 'binary': return exprLoads(e.a) || exprLoads(e.b);
    case 'select': return exprLoads(e.cond) || exprLoads(e.a) || exprLoads(e.b);
    default: return exprLoads(e.a);
  }
}
/** Does any statement (at any depth) satisfy p? */
function anyStmt(list: Stmt[], p: (s: Stmt) => boolean): boolean {
  return list.some((s) => p(s) || (s.kind === 'loop' && anyStmt(s.body, p)) || (s.kind === 'if' && (anyStmt(s.then, p) || anyStmt(s.else, p))));
}
function stmtLoads(s: Stmt): boolean {
  switch (s.kind) {
    case 'let': return exprLoads(s.value);
    case 'local': return exprLoads(s.init);
    case 'assign': return exprLoads(s.value);
    case 'store': return exprLoads(s.index) || exprLoads(s.value);
    case 'atomic': return true;
    case 'loop': return exprLoads(s.start) || exprLoads(s.end) || s.loopKind === 'parallel';
    case 'if': return exprLoads(s.cond);
    default: return false;
  }
}
const readsMemory = (list: Stmt[]) => anyStmt(list, stmtLoads);
const writesMemory = (list: Stmt[]) => anyStmt(list, (s) => s.kind === 'store' || s.kind === 'atomic' || (s.kind === 'loop' && s.loopKind === 'parallel'));
/** In uniform statements: does the list need a barrier somewhere (so its control flow must be uniform)? */
const syncsUniform = (list: Stmt[]) =>
  anyStmt(list, (s) => (s.kind === 'loop' && s.loopKind === 'parallel') || s.kind === 'barrier' || (s.kind === 'atomic' && s.result !== undefined))
  || (writesMemory(list) && readsMemory(list));

function collectAtomics(list: Stmt[], out: Set<string>): Set<string> {
  for (const s of list) {
    if (s.kind === 'atomic') out.add(s.buffer);
    else if (s.kind === 'loop') collectAtomics(s.body, out);
    else if (s.kind === 'if') { collectAtomics(s.then, out); collectAtomics(s.else, out); }
  }
  return out;
}

function usesF64(k: Kernel): boolean {
  const ex = (e: Expr): boolean => e.type.elem === 'f64' || (e.kind === 'binary' ? ex(e.a) || ex(e.b)
    : e.kind === 'select' ? ex(e.cond) || ex(e.a) || ex(e.b) : e.kind === 'load' ? ex(e.index) : 'a' in e ? ex(e.a) : false);
  const st = (s: Stmt): boolean => {
    switch (s.kind) {
      case 'let': case 'assign': return ex(s.value);
      case 'local': return s.type.elem === 'f64' || ex(s.init);
      case 'store': case 'atomic': return ex(s.index) || ex(s.value);
      case 'loop': return ex(s.start) || ex(s.end) || s.body.some(st);
      case 'if': return ex(s.cond) || s.then.some(st) || s.else.some(st);
      default: return false;
    }
  };
  return k.buffers.some((b) => b.elem === 'f64') || k.body.some(st);
}

/** A product of size params and a non-negative constant, as its factors (for bounding iteration spaces). */
function factors(e: Expr): { vars: string[]; c: number } | undefined {
  switch (e.kind) {
    case 'const': return Number(e.value) >= 0 ? { vars: [], c: Number(e.value) } : undefined;
    case 'var': return { vars: [e.name], c: 1 };
    case 'binary': {
      if (e.op !== 'mul') return undefined;
      const a = factors(e.a), b = factors(e.b);
      return a && b ? { vars: [...a.vars, ...b.vars], c: a.c * b.c } : undefined;
    }
    default: return undefined;
  }
}

// ---------------------------------------------------------------- the emitter

export class WgslEmitter {
  private readonly lines: string[] = [];
  private depth = 1;
  private readonly scopes = new BlockScopes<Binding>();
  private readonly idents = new Map<string, string>();
  private readonly usedIdents = new Set<string>();
  private readonly helpers = new Set<string>();
  /** WGSL texts that are const-expressions (literals). */
  private readonly lits = new Set<string>();
  /** Identifiers WGSL's uniformity analysis sees as uniform. */
  private readonly uni = new Set<string>(['wg']);
  /** Identifiers of `var`s (their value changes; a let never aliases them). */
  private readonly mutable = new Set<string>();
  private readonly buffers = new Map<string, BufInfo>();
  private readonly moduleVars: string[] = [];
  /** Float constants by their bits → the identifier of their opaque `let`. */
  private readonly floats = new Map<number, string>();
  private memo = new Map<Expr, string[]>();
  private tmps = 0;
  private uniq = 0;
  /** Whether the current control flow is uniform for WGSL (barriers allowed). */
  private ucf = false;
  /** Workgroup schedule: invocation 0 wrote memory that the others have not synchronized with yet. */
  private pending = false;
  private needUni = false;
  private needBcast = false;
  private atomicArena = false;
  private block = BLOCK;
  /** The workgroup schedule with a single invocation. */
  private single = false;

  constructor(private readonly k: Kernel) {}

  // ---------------------------------------------------------------- bookkeeping

  private line(text: string): void { this.lines.push(`${'  '.repeat(this.depth)}${text}`); }
  private open(head: string): void { this.line(`${head} {`); this.depth++; }
  private close(tail = '}'): void { this.depth--; this.line(tail); }
  private tmp(): string { return `t${this.tmps++}`; }
  private need(h: string): string { this.helpers.add(h); return h; }

  private ident(name: string): string {
    let id = this.idents.get(name);
    if (id) return id;
    const base = `n_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    id = base;
    for (let i = 2; this.usedIdents.has(id); i++) id = `${base}_${i}`;
    this.idents.set(name, id);
    this.usedIdents.add(id);
    return id;
  }

  private bind(name: string, b: Binding): void { this.scopes.bind(name, b); }
  private lookup(name: string): Binding { return this.scopes.find(name) ?? fail(`unknown variable '${name}'`); }
  private scoped<T>(f: () => T): T { return this.scopes.scoped(f); }
  /** Emits a block `head { … }` whose statements are scoped, with the uniformity of its control flow. */
  private nested(head: string, uniform: boolean, f: () => void): void {
    const saved = this.ucf;
    this.ucf = saved && uniform;
    this.open(head);
    try { this.scoped(f); } finally { this.close(); this.ucf = saved; }
  }
  /** `if (cond) { then } else { els }`, each branch scoped, with the uniformity of its control flow. */
  private ifElse(cond: string, uniform: boolean, then: () => void, els?: () => void): void {
    const saved = this.ucf;
    this.ucf = saved && uniform;
    try {
      this.open(`if (${cond})`);
      this.scoped(then);
      if (els) {
        this.depth--;
        this.line('} else {');
        this.depth++;
        this.scoped(els);
      }
      this.close();
    } finally { this.ucf = saved; }
  }
  private buffer(name: string): BufInfo { return this.buffers.get(name) ?? fail(`unknown buffer '${name}'`); }

  private isUniform(x: string): boolean { return this.lits.has(x) || this.uni.has(x); }
  /** Binds a WGSL expression to a new `let`; it is uniform when every operand is (and it reads no memory). */
  private val(text: string, deps: string[], uniform = true): string {
    const t = this.tmp();
    this.line(`let ${t} = ${text};`);
    if (uniform && deps.every((d) => this.isUniform(d))) this.uni.add(t);
    return t;
  }
  /** A literal operand as a `let` (so no expression has only constant operands). */
  private rt(x: string): string { return this.lits.has(x) ? this.val(x, []) : x; }
  /** Operands with at least one that is not a literal. */
  private operands(xs: string[]): string[] {
    if (xs.length > 0 && xs.every((x) => this.lits.has(x))) return [this.rt(xs[0]!), ...xs.slice(1)];
    return xs;
  }
  private op1(f: (a: string) => string, a: string): string {
    const [x] = this.operands([a]);
    return this.val(f(x!), [x!]);
  }
  private op2(f: (a: string, b: string) => string, a: string, b: string): string {
    const [x, y] = this.operands([a, b]);
    return this.val(f(x!, y!), [x!, y!]);
  }
  private call(fn: string, ...args: string[]): string {
    this.need(fn);
    const xs = this.operands(args);
    return this.val(`${fn}(${xs.join(', ')})`, xs);
  }
  private lit(text: string): string { this.lits.add(text); return text; }

  // ---------------------------------------------------------------- the kernel

  emit(): EmittedWgsl {
    const k = this.k;
    const globals = k.buffers.filter((b) => b.space === 'global');
    if (globals.length + k.sizes.length > MAX_PARAM_WORDS) {
      fail(`${globals.length} buffers and ${k.sizes.length} sizes; WebGPU kernels take at most ${MAX_PARAM_WORDS} parameter words`);
    }
    const atomics = collectAtomics(k.body, new Set());
    this.atomicArena = globals.some((b) => atomics.has(b.name));
    const prologue: string[] = ['  let wg = wid.x + wid.y * nwg.x;', '  _ = &arena;', '  _ = &P;'];
    let wgBytes = 0;
    globals.forEach((b, i) => {
      const ref = `bb${i}`;
      prologue.push(`  let ${ref} = P[${i >> 2}].${FIELDS[i & 3]};`);
      this.uni.add(ref);
      this.buffers.set(b.name, { param: b, ref, space: 'global', atomic: this.atomicArena });
    });
    k.buffers.filter((b) => b.space === 'workgroup').forEach((b, i) => {
      const n = constValue(b.size, new Map()) ?? fail(`workgroup buffer '${b.name}' needs a constant size`);
      if (isWide(b.elem) && atomics.has(b.name)) fail(`atomics on the ${b.elem} workgroup buffer '${b.name}': WebGPU has no 64-bit atomics`);
      const atomic = atomics.has(b.name);
      const w = wgslType(b.elem);
      const elemType = atomic ? (w === 'i32' ? 'atomic<i32>' : 'atomic<u32>') : w === 'bool' ? 'u32' : w;
      wgBytes += Math.max(1, n) * (isWide(b.elem) ? 8 : 4);
      const ref = `w${i}`;
      this.moduleVars.push(`var<workgroup> ${ref}: array<${elemType}, ${Math.max(1, n)}>;`);
      this.buffers.set(b.name, { param: b, ref, space: 'workgroup', atomic });
    });
    if (wgBytes > MAX_WORKGROUP_BYTES) fail(`workgroup buffers need ${wgBytes} bytes, more than WebGPU's ${MAX_WORKGROUP_BYTES}`);
    globals.forEach((b) => {
      if (isWide(b.elem) && atomics.has(b.name)) fail(`atomics on the ${b.elem} buffer '${b.name}': WebGPU has no 64-bit atomics`);
    });
    k.sizes.forEach((s, j) => {
      const i = globals.length + j;
      const id = this.ident(s.name);
      prologue.push(`  let ${id} = bitcast<i32>(P[${i >> 2}].${FIELDS[i & 3]});`);
      this.uni.add(id);
      this.bind(s.name, { type: I32, lanes: [id] });
    });

    const lets = topLets(k);
    const sizeNames = new Set(k.sizes.map((s) => s.name));
    const phases = gridPhases(k);
    let launch: Launch;
    if (phases) {
      launch = { block: BLOCK, grid: capGrid(gridOf(phases, lets, sizeNames, BLOCK, MAX_GRID)), sharedBytes: 0 };
      this.block = BLOCK;
      prologue.push(`  let tz_stride = nwg.x * nwg.y * ${BLOCK}u;`);
      const phaseSet = new Set<Stmt>(phases);
      for (const s of k.body) {
        const saved = this.memo;
        this.memo = new Map();
        try {
          if (!phaseSet.has(s)) this.stmt(s, { mode: 'thread' });
          else if ((s as Loop).loopKind === 'parallel') this.strided(s as Loop, `wg * ${BLOCK}u + lid`, 'tz_stride', { mode: 'thread' }, lets, sizeNames);
          else this.nested('if (wg == 0u && lid == 0u)', false, () => this.serial(s as Loop, { mode: 'thread' }));
        } finally { this.memo = saved; }
      }
    } else {
      this.block = this.blockSize(k.body, lets);
      launch = { block: this.block, grid: { kind: 'const', type: I32, value: 1 }, sharedBytes: 0 };
      this.line('if (wg != 0u) { return; }');
      this.ucf = true;
      // One invocation (no parallel loop): it runs everything itself; barriers only order its own memory.
      this.single = this.block === 1;
      this.stmts(k.body, { mode: this.single ? 'thread' : 'uniform' });
    }
    const nParams = paramVec4s(globals.length, k.sizes.length);
    if (this.needUni) this.moduleVars.push('var<workgroup> tz_uni: u32;');
    if (this.needBcast) this.moduleVars.push('var<workgroup> tz_bc: u32;');
    const f64 = usesF64(k);
    const wgsl = [
      `// kernel ${k.name}: ${phases ? 'grid-stride' : 'workgroup 0 only'}, ${launch.block} invocations a workgroup${f64 ? '; f64 computed in f32' : ''}`,
      `@group(0) @binding(0) var<storage, read_write> arena: array<${this.atomicArena ? 'atomic<u32>' : 'u32'}>;`,
      `@group(0) @binding(1) var<uniform> P: array<vec4<u32>, ${nParams}>;`,
      ...this.moduleVars,
      ...(this.helpers.size ? [helperSource(this.helpers)] : []),
      '',
      `@compute @workgroup_size(${launch.block})`,
      'fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {',
      ...prologue.slice(0, 3),
      ...(this.floats.size ? ['  let tz_z = nwg.z >> 16u;'] : []),
      ...[...this.floats].map(([bits, id]) => `  let ${id} = bitcast<f32>(0x${bits.toString(16)}u | tz_z);${floatComment(bits)}`),
      ...prologue.slice(3),
      ...this.lines,
      '}',
      '',
    ].join('\n');
    return { wgsl, launch, schedule: phases ? 'grid' : 'workgroup', f64AsF32: f64 };
  }

  /** Invocations of the workgroup schedule: 1 without parallel loops; enough for every lock-step loop. */
  private blockSize(body: Stmt[], lets: Map<string, Expr>): number {
    let block = 1;
    const walk = (list: Stmt[]) => {
      for (const s of list) {
        if (s.kind === 'if') { walk(s.then); walk(s.else); }
        if (s.kind !== 'loop') continue;
        if (s.loopKind === 'parallel' && !containsLockstep(s.body)) {
          if (!holdsBarrier(s.body)) block = Math.max(block, BLOCK);
          else block = Math.max(block, Math.ceil(this.lockstepTrip(s, lets) / 32) * 32);
          continue;
        }
        walk(s.body);
      }
    };
    walk(body);
    return Math.min(MAX_INVOCATIONS, block);
  }

  private lockstepTrip(s: Loop, lets: Map<string, Expr>): number {
    const a = constValue(s.start, lets), b = constValue(s.end, lets);
    if (a === undefined || b === undefined) {
      return fail(`the parallel loop over '${s.var}' holds a barrier: it needs constant bounds (its iterations run in lock-step, one per invocation)`);
    }
    const trip = Math.max(0, Math.ceil((b - a) / s.step));
    if (trip > MAX_INVOCATIONS) fail(`the parallel loop over '${s.var}' holds a barrier and has ${trip} iterations; at most ${MAX_INVOCATIONS} run in lock-step`);
    return trip;
  }

  // ---------------------------------------------------------------- statements

  private stmts(list: Stmt[], ctx: Ctx): void {
    for (const s of list) {
      const saved = this.memo;
      this.memo = new Map();
      try {
        if (ctx.mode === 'uniform' && this.pending && s.kind !== 'barrier' && readsMemory([s])) this.flush();
        this.stmt(s, ctx);
      } finally { this.memo = saved; }
    }
  }

  /** Makes memory written by one invocation visible to all (workgroup schedule). */
  private flush(): void {
    this.barrier();
    this.pending = false;
  }
  private barrier(): void {
    if (!this.ucf) fail('internal: a barrier in non-uniform control flow');
    this.line('storageBarrier();');
    this.line('workgroupBarrier();');
  }

  /** A value WGSL's uniformity analysis accepts as uniform: invocation 0's, shared through workgroup memory. */
  private uniformize(x: string, w: 'bool' | 'i32'): string {
    if (this.isUniform(x)) return x;
    if (!this.ucf) fail('internal: uniformizing in non-uniform control flow');
    this.needUni = true;
    this.line(`if (lid == 0u) { tz_uni = ${w === 'bool' ? `select(0u, 1u, ${x})` : `bitcast<u32>(${x})`}; }`);
    const t = this.tmp();
    this.line(`let ${t} = workgroupUniformLoad(&tz_uni);`);
    this.line('workgroupBarrier();');
    this.uni.add(t);
    return this.val(w === 'bool' ? `${t} != 0u` : `bitcast<i32>(${t})`, [t]);
  }

  private stmt(s: Stmt, ctx: Ctx): void {
    switch (s.kind) {
      case 'comment': {
        const text = s.text.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ').trim();
        if (text) this.line(`// ${text}`);
        return;
      }
      case 'let': {
        const lanes = this.expr(s.value).map((x) => (this.mutable.has(x) ? this.val(x, [x], false) : x));
        this.bind(s.name, { type: s.value.type, lanes });
        return;
      }
      case 'local': {
        const init = this.expr(s.init);
        const w = wgslType(s.type.elem);
        const base = this.ident(s.name);
        const lanes = init.map((x, i) => {
          const id = s.type.lanes === 1 ? base : `${base}_${i}`;
          this.line(`var ${id}: ${w} = ${x};`);
          this.mutable.add(id);
          return id;
        });
        this.bind(s.name, { type: s.type, lanes });
        return;
      }
      case 'assign': {
        const b = this.lookup(s.name);
        const val = this.expr(s.value);
        b.lanes.forEach((id, i) => this.line(`${id} = ${val[i]};`));
        return;
      }
      case 'store': {
        const buf = this.buffer(s.buffer);
        const idx = this.expr(s.index)[0]!;
        const val = this.expr(s.value);
        this.guarded(ctx, () => this.store(buf, idx, val));
        if (ctx.mode === 'uniform') this.pending = true;
        return;
      }
      case 'atomic': this.atomic(s, ctx); return;
      case 'barrier':
        if (this.single) return;
        if (ctx.mode === 'thread') fail('internal: a barrier outside the workgroup schedule');
        this.barrier();
        this.pending = false;
        return;
      case 'if': {
        let [c] = this.expr(s.cond) as [string];
        const syncs = ctx.mode === 'uniform' ? syncsUniform(s.then) || syncsUniform(s.else)
          : ctx.mode === 'lockstep' ? anyBarrier(s.then) || anyBarrier(s.else) : false;
        if (syncs) c = this.uniformize(c, 'bool');
        c = this.rt(c); // a constant condition crashes SwiftShader's compiler in some shaders
        this.ifElse(c, this.isUniform(c), () => this.stmts(s.then, ctx), s.else.length ? () => this.stmts(s.else, ctx) : undefined);
        if (ctx.mode === 'uniform' && (writesMemory(s.then) || writesMemory(s.else))) this.pending = true;
        return;
      }
      case 'loop': {
        if (s.loopKind === 'parallel' && ctx.mode === 'uniform' && !containsLockstep(s.body)) {
          if (holdsBarrier(s.body)) this.lockstep(s);
          else this.strided(s, 'lid', `${this.block}u`, { mode: 'thread' }, new Map(), new Set());
          this.pending = true;
          return;
        }
        this.serial(s, ctx);
        if (ctx.mode === 'uniform' && writesMemory(s.body)) this.pending = true;
        return;
      }
    }
  }

  /** Runs f where side effects happen: invocation 0 in uniform code, the active iterations of a lock-step loop. */
  private guarded(ctx: Ctx, f: () => void): void {
    if (ctx.mode === 'thread') { f(); return; }
    const cond = ctx.mode === 'uniform' ? 'lid == 0u' : ctx.active!;
    this.nested(`if (${cond})`, false, f);
  }

  private serial(s: Loop, ctx: Ctx): void {
    let start = this.expr(s.start)[0]!, end = this.expr(s.end)[0]!;
    const syncs = ctx.mode === 'uniform' ? syncsUniform(s.body) : ctx.mode === 'lockstep' ? anyBarrier(s.body) : false;
    if (syncs) { start = this.uniformize(start, 'i32'); end = this.uniformize(end, 'i32'); }
    start = this.rt(start);
    end = this.rt(end);
    const i = this.tmp();
    const next = s.step === 1 ? `${i} + 1i` : `select(${end}, ${i} + ${s.step}i, ${i} + ${s.step}i > ${i})`;
    const uniform = this.isUniform(start) && this.isUniform(end);
    if (uniform) this.uni.add(i);
    if (ctx.mode === 'uniform' && writesMemory(s.body)) this.pending = true;
    this.nested(`for (var ${i}: i32 = ${start}; ${i} < ${end}; ${i} = ${next})`, uniform, () => {
      const v = this.ident(s.var);
      this.line(`let ${v} = ${i};`);
      if (uniform) this.uni.add(v);
      this.bind(s.var, { type: I32, lanes: [v] });
      this.stmts(s.body, ctx);
    });
  }

  /** One iteration per invocation; invocations past the end run the last iteration with side effects masked. */
  private lockstep(s: Loop): void {
    this.lockstepTrip(s, topLets(this.k));
    let start = this.expr(s.start)[0]!, end = this.expr(s.end)[0]!;
    start = this.rt(this.uniformize(start, 'i32'));
    end = this.rt(this.uniformize(end, 'i32'));
    this.nested(`if (${start} < ${end})`, true, () => {
      const i = this.val(`${start} + i32(lid) * ${s.step}i`, [], false);
      const active = this.val(`${i} < ${end}`, [], false);
      const last = this.val(`${start} + ((${end} - ${start} - 1i) / ${s.step}i) * ${s.step}i`, [start, end]);
      const v = this.ident(s.var);
      this.line(`let ${v} = select(${last}, ${i}, ${active});`);
      this.bind(s.var, { type: I32, lanes: [v] });
      this.stmts(s.body, { mode: 'lockstep', active });
    });
  }

  /**
   * A loop (a perfect nest of parallel loops flattened) whose iterations this invocation takes from `first` on,
   * `stride` apart (u32; the loop ends when the next index would wrap).
   */
  private strided(l: Loop, first: string, stride: string, ctx: Ctx, lets: Map<string, Expr>, sizes: Set<string>): void {
    const nest = perfectNest(l);
    type Dim = { l: Loop; start: string; trip: string; constTrip?: number };
    const dims: Dim[] = nest.map((x) => {
      const sc = x.start.kind === 'const' ? Number(x.start.value) : undefined;
      const ec = x.end.kind === 'const' ? Number(x.end.value) : undefined;
      if (sc !== undefined && ec !== undefined) {
        const trip = Math.max(0, Math.ceil((ec - sc) / x.step));
        return { l: x, start: this.lit(sc < 0 ? `(${sc}i)` : `${sc}i`), trip: this.lit(`${trip}u`), constTrip: trip };
      }
      const start = this.rt(this.expr(x.start)[0]!), end = this.rt(this.expr(x.end)[0]!);
      const trip = x.step === 1 ? this.val(`select(0u, u32(${end} - ${start}), ${end} > ${start})`, [start, end]) : this.call('tz_trip', start, end, this.lit(`${x.step}u`));
      return { l: x, start, trip };
    });
    if (dims.some((d) => d.constTrip === 0)) return;
    let constTotal = 1;
    for (const d of dims) if (d.constTrip !== undefined) constTotal *= d.constTrip;
    if (constTotal > 0xffffffff) fail(`a parallel loop nest of ${constTotal} iterations is too large for 32-bit indexing`);
    const symbolic = dims.filter((d) => d.constTrip === undefined);
    const fits = symbolic.length === 0 || nest.length === 1 || this.boundedByBuffer(nest, lets, sizes);
    let total = symbolic.length === 0 ? this.lit(`${constTotal}u`) : '';
    let ok = '';
    if (symbolic.length > 0) {
      let acc = constTotal === 1 ? '' : this.lit(`${constTotal}u`);
      for (const d of symbolic) {
        if (acc === '') { acc = d.trip; continue; }
        if (!fits) ok = this.val(`${ok ? `${ok} & ` : ''}((${d.trip} == 0u) | (${acc} <= 0xffffffffu / max(${d.trip}, 1u)))`, [], false);
        acc = this.val(`${acc} * ${d.trip}`, [acc, d.trip]);
      }
      total = acc;
    }
    const flat = () => this.flattened(dims, total, first, stride, ctx);
    if (fits || ok === '') { flat(); return; }
    // More than 2^32 − 1 iterations: the outer loop strided, the inner ones serial (a valid schedule).
    this.ifElse(ok, false, flat, () => this.flattened([dims[0]!], dims[0]!.trip, first, stride, ctx, () => this.stmts(nest[0]!.body, ctx)));
  }

  private flattened(dims: { l: Loop; start: string; trip: string; constTrip?: number }[], total: string, first: string, stride: string,
    ctx: Ctx, body?: () => void): void {
    const f = this.tmp();
    this.line(`var ${f}: u32 = ${first};`);
    const saved = this.ucf;
    this.ucf = false;
    this.open('loop');
    this.line(`if (${f} >= ${total}) { break; }`);
    this.scoped(() => {
      let q = f;
      for (let d = dims.length - 1; d >= 0; d--) {
        const { l, start, trip } = dims[d]!;
        let idx = q;
        if (d > 0) {
          const q2 = this.val(`${q} / ${trip}`, [], false);
          idx = this.val(`${q} - ${q2} * ${trip}`, [], false);
          q = q2;
        }
        const v = this.ident(l.var);
        const scaled = l.step === 1 ? `bitcast<i32>(${idx})` : `bitcast<i32>(${idx} * ${l.step}u)`;
        this.line(`let ${v} = ${start === '0i' ? scaled : `${start} + ${scaled}`};`);
        this.bind(l.var, { type: I32, lanes: [v] });
      }
      if (body) body();
      else this.stmts(dims[dims.length - 1]!.l.body, ctx);
    });
    this.open('continuing');
    this.line(`${f} = ${f} + ${stride};`);
    this.line(`break if ${f} < ${stride};`);
    this.close();
    this.close();
    this.ucf = saved;
  }

  /** Is the nest's iteration count the size of a global buffer (a product of the same factors, at most as large)? */
  private boundedByBuffer(nest: Loop[], lets: Map<string, Expr>, sizes: Set<string>): boolean {
    const vars: string[] = [];
    let c = 1;
    for (const l of nest) {
      const t = tripExpr(l, lets, sizes);
      const f = t && factors(t);
      if (!f) return false;
      vars.push(...f.vars);
      c *= f.c;
    }
    const key = vars.sort().join('*');
    return this.k.buffers.some((b) => {
      if (b.space !== 'global') return false;
      const s = sizeExpr(b.size, new Map(), sizes);
      const f = s && factors(s);
      return !!f && f.vars.sort().join('*') === key && c <= f.c;
    });
  }

  // ---------------------------------------------------------------- memory

  /** The word address of element `idx` (+ lane) of a global buffer. */
  private address(buf: BufInfo, idx: string): string {
    const wide = isWide(buf.param.elem);
    const c = this.lits.has(idx) ? Number(idx.replace(/[()i]/g, '')) : NaN;
    const i = c >= 0 ? `${c * (wide ? 2 : 1)}u` : wide ? `2u * u32(${idx})` : `u32(${idx})`;
    return this.val(`${buf.ref} + ${i}`, [buf.ref, idx]);
  }
  private word(buf: BufInfo, at: string): string {
    return buf.atomic ? `atomicLoad(&arena[${at}])` : `arena[${at}]`;
  }
  private setWord(buf: BufInfo, at: string, w: string): void {
    this.line(buf.atomic ? `atomicStore(&arena[${at}], ${w});` : `arena[${at}] = ${w};`);
  }
  private plus(a: string, k: number, suffix: 'u' | 'i'): string { return k === 0 ? a : `${a} + ${k}${suffix}`; }

  private load(e: Extract<Expr, { kind: 'load' }>): string[] {
    const buf = this.buffer(e.buffer);
    const elem = buf.param.elem;
    const idx = this.expr(e.index)[0]!;
    const out: string[] = [];
    if (buf.space === 'workgroup') {
      for (let l = 0; l < e.type.lanes; l++) {
        const at = `${buf.ref}[${this.plus(idx, l, 'i')}]`;
        const raw = buf.atomic ? `atomicLoad(&${at})` : at;
        out.push(this.val(elem === 'bool' ? `${raw} != 0u` : raw, [], false));
      }
      return out;
    }
    const a = this.address(buf, idx);
    for (let l = 0; l < e.type.lanes; l++) {
      if (isWide(elem)) {
        out.push(this.val(`vec2<u32>(${this.word(buf, this.plus(a, 2 * l, 'u'))}, ${this.word(buf, this.plus(a, 2 * l + 1, 'u'))})`, [], false));
        continue;
      }
      out.push(this.val(this.fromWord(elem, this.word(buf, this.plus(a, l, 'u'))), [], false));
    }
    return out;
  }

  /** A 32-bit arena word as a value of element type e (canonical already). */
  private fromWord(e: KScalar, w: string): string {
    switch (wgslType(e)) {
      case 'bool': return `${w} != 0u`;
      case 'i32': return `bitcast<i32>(${w})`;
      case 'f32': return `bitcast<f32>(${w})`;
      default: return w;
    }
  }
  /** A value of element type e as its 32-bit arena word. */
  private toWord(e: KScalar, x: string): string {
    switch (wgslType(e)) {
      case 'bool': return `select(0u, 1u, ${x})`;
      case 'i32': case 'f32': return `bitcast<u32>(${x})`;
      default: return x;
    }
  }

  private store(buf: BufInfo, idx: string, vals: string[]): void {
    const elem = buf.param.elem;
    if (buf.space === 'workgroup') {
      vals.forEach((x, l) => {
        const at = `${buf.ref}[${this.plus(idx, l, 'i')}]`;
        const v = elem === 'bool' ? `select(0u, 1u, ${x})` : x;
        this.line(buf.atomic ? `atomicStore(&${at}, ${v});` : `${at} = ${v};`);
      });
      return;
    }
    const a = this.address(buf, idx);
    vals.forEach((x, l) => {
      if (isWide(elem)) {
        this.setWord(buf, this.plus(a, 2 * l, 'u'), `${x}.x`);
        this.setWord(buf, this.plus(a, 2 * l + 1, 'u'), `${x}.y`);
      } else this.setWord(buf, this.plus(a, l, 'u'), this.toWord(elem, x));
    });
  }

  private atomic(s: Extract<Stmt, { kind: 'atomic' }>, ctx: Ctx): void {
    const buf = this.buffer(s.buffer);
    const elem = buf.param.elem;
    if (isWide(elem)) fail(`atomics on the ${elem} buffer '${s.buffer}': WebGPU has no 64-bit atomics`);
    const idx = this.expr(s.index)[0]!;
    const value = this.expr(s.value)[0]!;
    const w = wgslType(elem);
    const want = s.result !== undefined;
    if (ctx.mode === 'uniform' && want && !this.ucf) fail('internal: an atomic result in non-uniform control flow');
    let ptr = '';
    const old = want ? this.tmp() : '';
    // The read-modify-write itself, as statements that leave the old value (as its element type) in `old`.
    const rmw = () => {
      ptr = buf.space === 'workgroup' ? `&${buf.ref}[${idx}]` : `&arena[${this.address(buf, idx)}]`;
      const native = this.nativeAtomic(s.op, elem, buf);
      if (native) {
        const arg = buf.space === 'workgroup' && w === 'i32' ? value : this.toWord(elem, value);
        const call = `${native}(${ptr}, ${arg})`;
        if (!want) { this.line(`_ = ${call};`); return; }
        const raw = buf.space === 'workgroup' && w === 'i32' ? call : this.fromWord(elem, call);
        this.line(`${old} = ${raw};`);
        return;
      }
      // Compare-and-swap loop: the new word computed from the old one with the op's own semantics.
      const o = this.tmp(), n = this.tmp(), r = this.tmp();
      const wgI32 = buf.space === 'workgroup' && w === 'i32';
      this.line(`var ${o} = atomicLoad(${ptr});`);
      this.open('loop');
      const cur = wgI32 ? o : this.fromWord(elem, o);
      const curV = this.val(cur, [], false);
      const nv = s.op === 'exchange' ? value : this.binaryScalar(s.op as BinaryOp, elem, curV, value);
      const post = s.op === 'exchange' ? nv : this.post(s.op, elem, nv);
      this.line(`let ${n} = ${wgI32 ? post : this.toWord(elem, post)};`);
      this.line(`let ${r} = atomicCompareExchangeWeak(${ptr}, ${o}, ${n});`);
      this.line(`if (${r}.exchanged) { break; }`);
      this.line(`${o} = ${r}.old_value;`);
      this.close();
      if (want) this.line(`${old} = ${cur};`);
    };
    if (want) this.line(`var ${old}: ${w} = ${this.zero(w)};`);
    if (ctx.mode === 'thread') rmw();
    else this.guarded(ctx, rmw);
    if (ctx.mode === 'uniform') this.pending = true;
    if (!want) return;
    let result = this.val(old, [], false);
    if (ctx.mode === 'uniform') {
      // Invocation 0 did it: share the old value with every invocation.
      this.needBcast = true;
      this.line(`if (lid == 0u) { tz_bc = ${this.toWord(elem, result)}; }`);
      const t = this.tmp();
      this.line(`let ${t} = workgroupUniformLoad(&tz_bc);`);
      this.line('workgroupBarrier();');
      this.uni.add(t);
      result = this.val(this.fromWord(elem, t), [t]);
    }
    this.bind(s.result!, { type: { elem, lanes: 1 }, lanes: [result] });
  }

  /** The WGSL atomic builtin of an op when it matches the IR's semantics on the stored word. */
  private nativeAtomic(op: AtomicOp, elem: KScalar, buf: BufInfo): string | undefined {
    const name: Record<AtomicOp, string> = {
      add: 'atomicAdd', sub: 'atomicSub', min: 'atomicMin', max: 'atomicMax', and: 'atomicAnd', or: 'atomicOr', xor: 'atomicXor', exchange: 'atomicExchange',
    };
    if (elem === 'u32') return name[op];
    if (elem === 'i32') return buf.space === 'workgroup' || (op !== 'min' && op !== 'max') ? name[op] : undefined;
    if (op === 'exchange') return name[op];
    return undefined;
  }

  private zero(w: W): string {
    switch (w) {
      case 'bool': return 'false';
      case 'i32': return '0i';
      case 'u32': return '0u';
      case 'f32': return '0.0f';
      case 'vec2<u32>': return 'vec2<u32>(0u, 0u)';
    }
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
      case 'const': return Array<string>(e.type.lanes).fill(this.constant(e.type.elem, e.value));
      case 'var': return this.lookup(e.name).lanes;
      case 'load': return this.load(e);
      case 'broadcast': { const [x] = this.expr(e.a); return Array<string>(e.type.lanes).fill(x!); }
      case 'extract': return [this.expr(e.a)[e.lane] ?? fail(`extract: lane ${e.lane} out of range`)];
      case 'reduce_lanes': {
        const xs = this.expr(e.a);
        let acc = xs[0]!;
        for (let i = 1; i < xs.length; i++) acc = this.post(e.op, e.type.elem, this.binaryScalar(e.op, e.type.elem, acc, xs[i]!));
        return [acc];
      }
      case 'select': {
        const c = this.expr(e.cond), a = this.expr(e.a), b = this.expr(e.b);
        return a.map((x, i) => {
          const [cc, xx, yy] = this.operands([c.length === 1 ? c[0]! : c[i]!, x, b[i]!]);
          return this.val(`select(${yy}, ${xx}, ${cc})`, [cc!, xx!, yy!]);
        });
      }
      case 'binary': {
        const at = e.a.type.elem;
        const a = this.expr(e.a), b = this.expr(e.b);
        return a.map((x, i) => this.post(e.op, e.type.elem, this.binaryScalar(e.op, at, x, b[i]!)));
      }
      case 'unary': {
        const at = e.a.type.elem;
        return this.expr(e.a).map((x) => this.post(e.op, e.type.elem, this.unaryScalar(e.op, at, x)));
      }
      case 'cast': return this.expr(e.a).map((x) => this.castScalar(e.a.type.elem, e.type.elem, x));
      case 'bitcast': return this.bitcast(e.a.type, e.type, this.expr(e.a));
    }
  }

  /** A constant as WGSL text: a literal, or tz_f32(bits) for NaN and ±Inf. */
  private constant(e: KScalar, value: number | bigint): string {
    switch (wgslType(e)) {
      case 'bool': return this.lit(Number(value) ? 'true' : 'false');
      case 'i32': {
        const n = Number(value);
        return this.lit(n === -2147483648 ? 'i32(-2147483648)' : n < 0 ? `(${n}i)` : `${n}i`);
      }
      case 'u32': return this.lit(`${Number(value) >>> 0}u`);
      case 'vec2<u32>': {
        const u = BigInt.asUintN(64, BigInt(value));
        return this.lit(`vec2<u32>(${Number(u & 0xffffffffn)}u, ${Number(u >> 32n)}u)`);
      }
      case 'f32': return this.floatConst(Math.fround(Number(value)));
    }
  }

  /**
   * A float constant, opaque to the shader compiler: SwiftShader folds float arithmetic with literal operands by
   * rules that are not IEEE (x·0 → 0, 0/x → 0, (1 + x) − 1 → x), so every float constant is a `let` of its
   * bits OR-ed with nwg.z >> 16 (always 0: at most 65535 workgroups per dimension), declared once per shader.
   */
  private floatConst(x: number): string {
    const bits = new Uint32Array(new Float32Array([x]).buffer)[0]!;
    let id = this.floats.get(bits);
    if (!id) {
      id = `tz_k${this.floats.size}`;
      this.floats.set(bits, id);
      this.uni.add(id);
    }
    return id;
  }

  /** Re-canonicalizes a result of `op` in element type e. */
  private post(op: string, e: KScalar, r: string): string {
    if (COMPARES.has(op)) return r;
    if (e === 'f16' && !EXACT_FLOAT.has(op)) return this.call('tz_rf16', r);
    if (e === 'bf16' && !EXACT_FLOAT.has(op)) return this.call('tz_rbf16', r);
    if (isNarrow(e) && WRAPS.has(op)) return this.wrap(e, r);
    return r;
  }

  /** A 32-bit value brought to the canonical form of a narrow integer type. */
  private wrap(e: KScalar, r: string): string {
    switch (e) {
      case 'i8': return this.op1((x) => `(${x} << 24u) >> 24u`, r);
      case 'i16': return this.op1((x) => `(${x} << 16u) >> 16u`, r);
      case 'u8': return this.op1((x) => `${x} & 0xffu`, r);
      case 'u16': return this.op1((x) => `${x} & 0xffffu`, r);
      default: return r;
    }
  }

  private binaryScalar(op: BinaryOp, e: KScalar, a: string, b: string): string {
    if (e === 'bool') return this.boolBinary(op, a, b);
    if (isFloat(e)) return this.floatBinary(op, e, a, b);
    if (isWide(e)) return this.wideBinary(op, e, a, b);
    return this.intBinary(op, e, a, b);
  }

  private boolBinary(op: BinaryOp, a: string, b: string): string {
    switch (op) {
      case 'and': return this.op2((x, y) => `${x} & ${y}`, a, b);
      case 'or': return this.op2((x, y) => `${x} | ${y}`, a, b);
      case 'xor': case 'ne': return this.op2((x, y) => `${x} != ${y}`, a, b);
      case 'eq': return this.op2((x, y) => `${x} == ${y}`, a, b);
      default: return fail(`wgsl: ${op} is not defined on bool`);
    }
  }

  private floatBinary(op: BinaryOp, e: KScalar, a: string, b: string): string {
    const infix: Partial<Record<BinaryOp, string>> = { add: '+', sub: '-', mul: '*', div: '/', eq: '==', lt: '<', le: '<=', gt: '>', ge: '>=' };
    const sym = infix[op];
    if (sym) return this.op2((x, y) => `${x} ${sym} ${y}`, a, b);
    switch (op) {
      case 'ne': return this.op2((x, y) => `!(${x} == ${y})`, a, b);
      case 'min': return this.call('tz_fmin', a, b);
      case 'max': return this.call('tz_fmax', a, b);
      case 'mod': return this.call('tz_fmod', a, b);
      case 'floordiv': return this.op1((q) => `floor(${q})`, this.op2((x, y) => `${x} / ${y}`, a, b));
      case 'floormod': {
        const r = this.call('tz_fmod', a, b);
        const [y] = this.operands([b]);
        return this.val(`select(${r}, ${r} + ${y}, !(${r} == 0.0f) & ((${r} < 0.0f) != (${y} < 0.0f)))`, [r, y!]);
      }
      case 'pow': case 'atan2': {
        const gen = mathlib.BINARY_MATH[op]!;
        return this.math((blk, [x, y]) => gen(blk, x!, y!), 'f32', [a, b]);
      }
      default: return fail(`wgsl: no lowering for ${op} on ${e}`);
    }
  }

  private intBinary(op: BinaryOp, e: KScalar, a: string, b: string): string {
    const w = wgslType(e) as 'i32' | 'u32';
    const infix: Partial<Record<BinaryOp, string>> = {
      add: '+', sub: '-', mul: '*', and: '&', or: '|', xor: '^', eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=',
    };
    const sym = infix[op];
    if (sym) return this.op2((x, y) => `${x} ${sym} ${y}`, a, b);
    switch (op) {
      case 'div': case 'mod': {
        // WGSL gives e1 for a zero divisor (0 for %) and wraps MIN / −1: some value, never a trap.
        const y = this.lits.has(b) && /^\(?-?0[iu]\)?$/.test(b) ? this.rt(b) : b;
        return this.op2((p, q) => `${p} ${op === 'div' ? '/' : '%'} ${q}`, a, y);
      }
      case 'floordiv': case 'floormod': {
        if (!isSigned(e)) return this.intBinary(op === 'floordiv' ? 'div' : 'mod', e, a, b);
        const q = this.intBinary('div', e, a, b), r = this.intBinary('mod', e, a, b);
        const [y] = this.operands([b]);
        const adj = this.val(`(${r} != 0i) & ((${r} ^ ${y}) < 0i)`, [r, y!]);
        return op === 'floordiv' ? this.val(`${q} - select(0i, 1i, ${adj})`, [q, adj]) : this.val(`${r} + select(0i, ${y}, ${adj})`, [r, y!, adj]);
      }
      case 'min': case 'max': return this.op2((x, y) => `${op}(${x}, ${y})`, a, b);
      case 'shl': case 'shr': {
        const mask = bitsOf(e) - 1;
        const amount = this.lits.has(b) ? this.lit(`${(Number(b.replace(/[()iu]/g, '')) & mask) >>> 0}u`)
          : this.val(w === 'i32' ? `bitcast<u32>(${b}) & ${mask}u` : `${b} & ${mask}u`, [b]);
        return this.op2((x, y) => `${x} ${op === 'shl' ? '<<' : '>>'} ${y}`, a, amount);
      }
      case 'mulhi': {
        if (bitsOf(e) !== 32) return fail(`wgsl: mulhi needs 32-bit operands, got ${e}`);
        return this.call(w === 'i32' ? 'tz_mulhi_i32' : 'tz_mulhi_u32', a, b);
      }
      case 'dot4_u8': case 'dot4_i8': {
        const gen = mathlib.dot4(op === 'dot4_i8');
        return this.math((blk, [x, y]) => gen(blk, x!, y!), e, [a, b]);
      }
      case 'pow': return this.math((blk, [x, y]) => mathlib.powInt(blk, x!, y!), e, [a, b]);
      default: return fail(`wgsl: no lowering for ${op} on ${e}`);
    }
  }

  private wideBinary(op: BinaryOp, e: KScalar, a: string, b: string): string {
    const signed = e === 'i64';
    const lt = signed ? 'tz_lts64' : 'tz_ltu64';
    switch (op) {
      case 'add': return this.call('tz_add64', a, b);
      case 'sub': return this.call('tz_sub64', a, b);
      case 'mul': return this.call('tz_mul64', a, b);
      case 'and': case 'or': case 'xor': {
        const sym = op === 'and' ? '&' : op === 'or' ? '|' : '^';
        return this.op2((x, y) => `${x} ${sym} ${y}`, a, b);
      }
      case 'eq': return this.op2((x, y) => `all(${x} == ${y})`, a, b);
      case 'ne': return this.op2((x, y) => `any(${x} != ${y})`, a, b);
      case 'lt': return this.call(lt, a, b);
      case 'gt': return this.call(lt, b, a);
      case 'le': return this.op1((x) => `!${x}`, this.call(lt, b, a));
      case 'ge': return this.op1((x) => `!${x}`, this.call(lt, a, b));
      case 'min': case 'max': {
        const c = op === 'min' ? this.call(lt, a, b) : this.call(lt, b, a);
        return this.val(`select(${b}, ${a}, ${c})`, [a, b, c]);
      }
      case 'shl': return this.op2((x, y) => { this.need('tz_shl64'); return `tz_shl64(${x}, ${y}.x)`; }, a, b);
      case 'shr': {
        const fn = this.need(signed ? 'tz_shr64s' : 'tz_shr64u');
        return this.op2((x, y) => `${fn}(${x}, ${y}.x)`, a, b);
      }
      case 'div': case 'mod': case 'floordiv': case 'floormod': {
        const qr = this.call(signed ? 'tz_sdivmod64' : 'tz_udivmod64', a, b);
        if (op === 'div' || !signed && op === 'floordiv') return this.val(`${qr}.q`, [qr]);
        if (op === 'mod' || !signed && op === 'floormod') return this.val(`${qr}.r`, [qr]);
        const r = this.val(`${qr}.r`, [qr]);
        const [y] = this.operands([b]);
        const adj = this.val(`any(${r} != vec2<u32>(0u, 0u)) & (((${r}.y ^ ${y}.y) >> 31u) != 0u)`, [r, y!]);
        if (op === 'floordiv') {
          const q = this.val(`${qr}.q`, [qr]);
          return this.val(`select(${q}, ${this.call('tz_sub64', q, this.lit('vec2<u32>(1u, 0u)'))}, ${adj})`, [q, adj]);
        }
        return this.val(`select(${r}, ${this.call('tz_add64', r, y!)}, ${adj})`, [r, adj]);
      }
      case 'pow': return this.math((blk, [x, y]) => mathlib.powInt(blk, x!, y!), e, [a, b]);
      default: return fail(`wgsl: no lowering for ${op} on ${e}`);
    }
  }

  private unaryScalar(op: UnaryOp, e: KScalar, a: string): string {
    if (e === 'bool') return op === 'not' ? this.op1((x) => `!${x}`, a) : fail(`wgsl: ${op} is not defined on bool`);
    if (isWide(e)) return this.wideUnary(op, e, a);
    if (!isFloat(e)) return this.intUnary(op, e, a);
    switch (op) {
      case 'neg': return this.op1((x) => `-${x}`, a);
      case 'abs': case 'sqrt': case 'floor': case 'ceil': case 'trunc': return this.op1((x) => `${op}(${x})`, a);
      case 'round_even': return this.op1((x) => `round(${x})`, a);
      case 'rsqrt': return this.val(`${this.floatConst(1)} / sqrt(${a})`, [a]);
      case 'recip': return this.val(`${this.floatConst(1)} / ${a}`, [a]);
      case 'sign': return this.call('tz_fsign', a);
      case 'isnan': return this.call('tz_isnan', a);
      case 'isinf': return this.call('tz_isinf', a);
      case 'sin': return this.call('tz_sin', a);
      case 'cos': return this.call('tz_cos', a);
      case 'tan': return this.call('tz_tan', a);
      default: {
        const gen = mathlib.UNARY_MATH[op] ?? fail(`wgsl: no lowering for ${op} on ${e}`);
        return this.math((blk, [x]) => gen(blk, x!), 'f32', [a]);
      }
    }
  }

  private intUnary(op: UnaryOp, e: KScalar, a: string): string {
    const signed = wgslType(e) === 'i32';
    switch (op) {
      case 'neg': return this.op1((x) => (signed ? `-${x}` : `0u - ${x}`), a);
      case 'abs': return signed ? this.op1((x) => `abs(${x})`, a) : a;
      case 'not': return this.op1((x) => `~${x}`, a);
      case 'sign': return this.op1((x) => (signed ? `sign(${x})` : `select(0u, 1u, ${x} != 0u)`), a);
      case 'floor': case 'ceil': case 'trunc': case 'round_even': return a;
      case 'isnan': case 'isinf': return this.lit('false');
      default: return fail(`wgsl: no lowering for ${op} on ${e}`);
    }
  }

  private wideUnary(op: UnaryOp, e: KScalar, a: string): string {
    const neg = () => this.val(`(${a}.y >> 31u) != 0u`, [a]);
    switch (op) {
      case 'neg': return this.call('tz_neg64', a);
      case 'not': return this.op1((x) => `~${x}`, a);
      case 'abs': {
        if (e === 'u64') return a;
        const n = neg();
        return this.val(`select(${a}, ${this.call('tz_neg64', a)}, ${n})`, [a, n]);
      }
      case 'sign': {
        const nz = this.op1((x) => `any(${x} != vec2<u32>(0u, 0u))`, a);
        if (e === 'u64') return this.val(`vec2<u32>(select(0u, 1u, ${nz}), 0u)`, [nz]);
        const n = neg();
        return this.val(`select(vec2<u32>(select(0u, 1u, ${nz}), 0u), vec2<u32>(0xffffffffu, 0xffffffffu), ${n})`, [nz, n]);
      }
      case 'floor': case 'ceil': case 'trunc': case 'round_even': return a;
      case 'isnan': case 'isinf': return this.lit('false');
      default: return fail(`wgsl: no lowering for ${op} on ${e}`);
    }
  }

  /**
   * Calls a math helper written in kernel IR (backends/wasm/mathlib.ts), inlined here at f32 precision (f16/bf16
   * results are rounded by the caller; f64 is computed in f32).
   */
  private math(gen: (b: Block, xs: Expr[]) => Expr, e: KScalar, args: string[]): string {
    const t: KType = { elem: isFloat(e) ? 'f32' : e, lanes: 1 };
    const id = this.uniq++;
    return this.scoped(() => {
      const xs = args.map((x, i) => {
        const name = `__m${id}_a${i}`;
        this.bind(name, { type: t, lanes: [x] });
        return dslVar(name, t);
      });
      const blk = new Block(`__m${id}_t`);
      const ret = gen(blk, xs);
      const saved = this.memo;
      this.memo = new Map();
      try {
        this.stmts(blk.stmts, { mode: 'thread' });
        return this.expr(ret)[0]!;
      } finally { this.memo = saved; }
    });
  }

  // ---------------------------------------------------------------- conversions

  private castScalar(from: KScalar, to: KScalar, a: string): string {
    if (from === to) return a;
    const fw = wgslType(from), tw = wgslType(to);
    if (to === 'bool') {
      if (fw === 'f32') return this.op1((x) => `!(${x} == 0.0f)`, a);
      if (fw === 'vec2<u32>') return this.op1((x) => `any(${x} != vec2<u32>(0u, 0u))`, a);
      return this.op1((x) => `${x} != 0${fw === 'i32' ? 'i' : 'u'}`, a);
    }
    if (from === 'bool') {
      if (tw === 'vec2<u32>') return this.op1((x) => `vec2<u32>(select(0u, 1u, ${x}), 0u)`, a);
      const one = tw === 'f32' ? '1.0f' : tw === 'i32' ? '1i' : '1u';
      return this.op1((x) => `select(${this.zero(tw)}, ${one}, ${x})`, a);
    }
    if (tw === 'f32') {
      if (fw === 'f32') {
        if (to === 'f16' && from !== 'f16') return this.call('tz_rf16', a);
        if (to === 'bf16' && from !== 'bf16') return this.call('tz_rbf16', a);
        return a; // f16/bf16 → f32 is exact; f64 and f32 are both f32 here
      }
      if (fw === 'vec2<u32>') {
        const signed = from === 'i64';
        if (to === 'bf16') return this.call('tz_rbf16', this.call(signed ? 'tz_i64odd' : 'tz_u64odd', a));
        const f = this.call(signed ? 'tz_i64f' : 'tz_u64f', a);
        return to === 'f16' ? this.call('tz_rf16', f) : f;
      }
      // ≤ 32-bit integers: f32(x) rounds to nearest even; exact below 2^24, where every f16 result lies.
      if (to === 'bf16' && !isNarrow(from)) return this.call('tz_rbf16', this.call(fw === 'i32' ? 'tz_i32odd' : 'tz_u32odd', a));
      const f = from === 'u32' ? this.call('tz_u2f', a) : this.op1((x) => `f32(${x})`, a);
      return to === 'f16' ? this.call('tz_rf16', f) : to === 'bf16' ? this.call('tz_rbf16', f) : f;
    }
    if (fw === 'f32') {
      // float → int: truncate toward zero, saturate, NaN → 0.
      switch (to) {
        case 'i32': return this.call('tz_f2i', a);
        case 'u32': return this.call('tz_f2u', a);
        case 'i64': return this.call('tz_f2i64', a);
        case 'u64': return this.call('tz_f2u64', a);
        default: {
          const bits = bitsOf(to);
          const [lo, hi] = isSigned(to) ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
          const nan = this.call('tz_isnan', a);
          const [x] = this.operands([a]);
          return this.val(`select(${tw}(clamp(${x}, ${lo}.0f, ${hi}.0f)), ${this.zero(tw)}, ${nan})`, [x!, nan]);
        }
      }
    }
    // int → int: wrap.
    if (tw === 'vec2<u32>') {
      if (fw === 'vec2<u32>') return a;
      return fw === 'i32' ? this.op1((x) => `vec2<u32>(bitcast<u32>(${x}), select(0u, 0xffffffffu, ${x} < 0i))`, a)
        : this.op1((x) => `vec2<u32>(${x}, 0u)`, a);
    }
    const bits = fw === 'vec2<u32>' ? this.op1((x) => `${x}.x`, a) : fw === 'i32' && tw === 'u32' ? this.op1((x) => `bitcast<u32>(${x})`, a) : a;
    const bw = fw === 'vec2<u32>' ? 'u32' : fw === 'i32' && tw === 'u32' ? 'u32' : fw;
    // bits: the value's low 32 bits as type bw (i32 or u32); canonicalize for `to`.
    switch (to) {
      case 'i32': return bw === 'i32' ? bits : this.op1((x) => `bitcast<i32>(${x})`, bits);
      case 'u32': return bw === 'u32' ? bits : this.op1((x) => `bitcast<u32>(${x})`, bits);
      case 'i8': case 'i16': {
        const sh = 32 - bitsOf(to);
        return this.op1((x) => (bw === 'i32' ? `(${x} << ${sh}u) >> ${sh}u` : `bitcast<i32>(${x} << ${sh}u) >> ${sh}u`), bits);
      }
      default: {
        const mask = to === 'u8' ? '0xffu' : '0xffffu';
        return this.op1((x) => (bw === 'u32' ? `${x} & ${mask}` : `bitcast<u32>(${x}) & ${mask}`), bits);
      }
    }
  }

  /** Reinterprets bits: lanes packed little-endian into 32-bit words, then unpacked as the target type. */
  private bitcast(from: KType, to: KType, xs: string[]): string[] {
    if (from.elem === to.elem && from.lanes === to.lanes) return xs;
    if (from.elem === 'bool' || to.elem === 'bool') return fail('wgsl: bitcast of bool');
    if (from.elem === 'f64' || to.elem === 'f64') return fail('bitcast of f64: WebGPU computes f64 as f32 (WGSL has no 64-bit floats)');
    const fb = bitsOf(from.elem), tb = bitsOf(to.elem);
    if (fb * from.lanes !== tb * to.lanes) return fail(`wgsl: bitcast ${typeName(from)} → ${typeName(to)} changes the bit width`);
    // Words: each a u32 WGSL expression.
    const words: string[] = [];
    let cur = '', used = 0;
    for (const x of xs) {
      if (fb === 64) { words.push(this.val(`${x}.x`, [x]), this.val(`${x}.y`, [x])); continue; }
      const bits = this.toBits(from.elem, x);
      if (fb === 32) { words.push(bits); continue; }
      cur = cur === '' ? bits : this.val(`${cur} | (${bits} << ${used}u)`, [cur, bits]);
      used += fb;
      if (used === 32) { words.push(cur); cur = ''; used = 0; }
    }
    if (cur !== '') words.push(cur);
    const out: string[] = [];
    for (let i = 0; i < to.lanes; i++) {
      const pos = i * tb;
      if (tb === 64) { out.push(this.val(`vec2<u32>(${words[pos / 32]}, ${words[pos / 32 + 1]})`, [words[pos / 32]!, words[pos / 32 + 1]!])); continue; }
      const w = words[Math.floor(pos / 32)]!;
      const field = tb === 32 ? w : this.val(`(${w} >> ${pos % 32}u) & ${tb === 8 ? '0xffu' : '0xffffu'}`, [w]);
      out.push(this.fromBits(to.elem, field));
    }
    return out;
  }

  /** The raw bits of a ≤ 32-bit value as a u32 (narrow ones zero-extended). */
  private toBits(e: KScalar, x: string): string {
    const [y] = this.operands([x]);
    switch (e) {
      case 'f32': case 'i32': return this.val(`bitcast<u32>(${y})`, [y!]);
      case 'u32': case 'u8': case 'u16': return x;
      case 'f16': return this.call('tz_f16bits', x);
      case 'bf16': return this.val(`bitcast<u32>(${y}) >> 16u`, [y!]);
      case 'i8': return this.val(`bitcast<u32>(${y}) & 0xffu`, [y!]);
      case 'i16': return this.val(`bitcast<u32>(${y}) & 0xffffu`, [y!]);
      default: return fail(`internal: toBits(${e})`);
    }
  }

  private fromBits(e: KScalar, bits: string): string {
    switch (e) {
      case 'f32': return this.op1((x) => `bitcast<f32>(${x})`, bits);
      case 'i32': return this.op1((x) => `bitcast<i32>(${x})`, bits);
      case 'u32': case 'u8': case 'u16': return bits;
      case 'f16': return this.call('tz_f16val', bits);
      case 'bf16': return this.op1((x) => `bitcast<f32>(${x} << 16u)`, bits);
      case 'i8': return this.op1((x) => `bitcast<i32>(${x} << 24u) >> 24u`, bits);
      case 'i16': return this.op1((x) => `bitcast<i32>(${x} << 16u) >> 16u`, bits);
      default: return fail(`internal: fromBits(${e})`);
    }
  }
}

/** min(grid, MAX_GRID) as a size expression. */
function capGrid(g: Expr): Expr {
  if (g.kind === 'const') return { ...g, value: Math.min(Number(g.value), MAX_GRID) };
  return { kind: 'binary', type: I32, op: 'min', a: g, b: { kind: 'const', type: I32, value: MAX_GRID } };
}

function floatComment(bits: number): string {
  const x = new Float32Array(new Uint32Array([bits]).buffer)[0]!;
  return ` // ${Object.is(x, -0) ? '-0' : String(x)}`;
}

/** Emits one kernel as a WGSL module (throws a TesseraError on IR it cannot emit). */
export function emitKernel(k: Kernel): EmittedWgsl {
  return new WgslEmitter(k).emit();
}
