// Kernel IR → binaryen functions. The op table (table.ts) says how each (op, element, lanes) maps to
// instructions; this file walks kernels, holds values, and legalizes what the table lacks:
// - vectors: a native vector (one v128) is used when the table has the row; otherwise the value is split into
//   one scalar register per lane and the scalar rows apply (and it is re-packed only where a v128 is needed);
// - narrow integers / f16 / bf16: computed in i32 / f32 registers and re-canonicalized after each op;
// - math: calls to helpers written in kernel IR (mathlib.ts), emitted once per (function, type) on demand;
// - loads/stores: element index → byte address (buffer offset + index·size), with the constant part of the
//   index folded into the instruction's offset when the rest is provably non-negative.
// Expressions are pure, so a sub-expression needed twice is evaluated once into a temporary placed just before
// the statement being emitted ("share").
import binaryen from 'binaryen';
import { INDEX, type AtomicOp, type BinaryOp, type Expr, type Kernel, type KScalar, type KType, type Stmt } from '../../ir/kernel/ir.ts';
import { TesseraError } from '../../ir/errors.ts';
import { exprsEqual } from '../../ir/kernel/equal.ts';
import * as dsl from './dsl.ts';
import { Block } from './dsl.ts';
import * as lib from './mathlib.ts';
import { hasMatmulTemplate, matmulTemplate } from './matmul.ts';
import {
  castScalar, castVector, isCompare, scalarBinary, scalarUnary, splatConst, vectorBinary, vectorUnary, wrapInt,
  type BinRow, type Cx, type Ref,
} from './table.ts';
import {
  bytesOf, isFloatElem, isNative, isSignedInt, laneType, regOf, roundToBf16, roundToF16, shapeOf, wasmType,
  type Shape,
} from './types.ts';

export interface EmitOptions {
  /** Use relaxed-SIMD instructions (f32x4.relaxed_madd for mul+add, relaxed integer dot). */
  relaxed: boolean;
  /** Shared memory and atomics (for workers); otherwise atomics become plain load/op/store. */
  threads: boolean;
  /** Emit tuned templates for kernels that state a pattern (matmul.ts) instead of their bodies. Default true. */
  templates?: boolean;
}

type Val = { n: Ref } | { l: Ref[] };
interface Binding {
  type: KType;
  konst?: number | bigint;
  /** One local (a scalar or a native vector) or one per lane. */
  locals?: number[];
  nonNeg: boolean;
  mutable?: boolean;
}
type Gen = (b: Block, args: Expr[]) => Expr;

const fail = (reason: string): never => { throw new TesseraError(reason); };
const typeName = (t: KType) => (t.lanes === 1 ? t.elem : `${t.elem}x${t.lanes}`);

/** Ops after which an i8/u8/i16/u16/bool result may leave its canonical form. */
const WRAPS = new Set(['add', 'sub', 'mul', 'shl', 'div', 'floordiv', 'pow', 'neg', 'abs', 'not']);
/**
 * Below these, mathlib's exp is exactly +0 (it clamps its argument to −104 / −746, whose results round to 0;
 * the first nonzero results are at −103.972 / −745.133): the cut of exp's underflow guard.
 */
const EXP_ZERO_BELOW = { f32: -104, f64: -746 } as const;
/** Element types whose load and store move the bits unchanged (a copy of them may be a memory.copy). */
const BIT_COPY = new Set<KScalar>(['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'f32', 'i64', 'u64', 'f64']);
/** Ops whose f16/bf16 result is exact (no rounding needed). */
const EXACT_FLOAT = new Set(['min', 'max', 'neg', 'abs', 'floor', 'ceil', 'trunc', 'round_even', 'sign', 'isnan', 'isinf']);

// binaryen's JS API has no wrapper for the relaxed-SIMD ternary ops, and builds full-width loads "signed"
// (see scalarLoad): both go through the C API directly.
const C = binaryen as unknown as {
  _BinaryenSIMDTernary(module: number, op: number, a: Ref, b: Ref, c: Ref): Ref;
  RelaxedMaddVecF32x4: number; RelaxedNmaddVecF32x4: number; RelaxedMaddVecF64x2: number; RelaxedNmaddVecF64x2: number;
  RelaxedDotI8x16I7x16AddSToVecI32x4: number;
  _BinaryenLoad(module: number, bytes: number, signed: boolean, offset: number, align: number, type: number, ptr: Ref, memory: number): Ref;
};
const modulePtr = (m: binaryen.Module) => (m as unknown as { ptr: number }).ptr;

export class ModuleEmitter {
  private readonly helpers = new Map<string, string>();
  constructor(readonly m: binaryen.Module, readonly opts: EmitOptions) {}

  /** Adds (once) a helper function written in kernel IR and returns its name. Params/result are native types. */
  helper(key: string, params: KType[], result: KType, gen: Gen): string {
    const known = this.helpers.get(key);
    if (known) return known;
    const name = `h:${key}`;
    this.helpers.set(key, name);
    const fe = new FnEmitter(this, params.length);
    const args = params.map((t, i) => {
      fe.bind(`arg${i}`, { type: t, locals: [i], nonNeg: false });
      return dsl.v(`arg${i}`, t);
    });
    const b = new Block('h');
    const ret = gen(b, args);
    const body = fe.stmts(b.stmts);
    const value = fe.withPrelude(() => fe.nat(fe.expr(ret), result));
    this.m.addFunction(name, binaryen.createType(params.map(wasmType)), wasmType(result), fe.vars,
      this.m.block(null, [...body, ...value], wasmType(result)));
    return name;
  }

  /** Adds a kernel as an exported function: (buffer byte offsets…, sizes…) → (). */
  kernel(k: Kernel): void {
    const name = `k:${k.name}`;
    const p = k.pattern;
    if (this.opts.templates !== false && p?.kind === 'matmul' && hasMatmulTemplate(k)) {
      // The template is one function per (transA, transB), shared by every matmul kernel of the module: a
      // kernel only evaluates the pattern's sizes and calls it.
      const callee = this.matmulFunction(p.transA, p.transB);
      this.function(name, k, (fe) => fe.withPrelude(() => this.m.call(callee, [
        ...[p.a, p.b, p.y, p.scratch!].map((b) => this.m.local.get(fe.buffers.get(b)!.local, binaryen.i32)),
        ...[p.batch, p.m, p.n, p.k, p.aBatchStride, p.bBatchStride].map((e) => fe.scalar(e)),
      ], binaryen.none)));
    } else {
      this.function(name, k, (fe) => fe.stmts(k.body));
    }
    this.m.addFunctionExport(name, k.name);
  }

  /** A function with the kernel calling convention: (buffer byte offsets…, sizes…) → (). */
  private function(name: string, k: Kernel, body: (fe: FnEmitter) => Ref[]): void {
    const nb = k.buffers.length;
    const fe = new FnEmitter(this, nb + k.sizes.length);
    k.buffers.forEach((b, i) => fe.buffers.set(b.name, { local: i, elem: b.elem }));
    k.sizes.forEach((s, i) => fe.bind(s.name, { type: INDEX, locals: [nb + i], nonNeg: true }));
    const refs = body(fe);
    this.m.addFunction(name, binaryen.createType(Array(nb + k.sizes.length).fill(binaryen.i32)), binaryen.none, fe.vars,
      this.m.block(null, refs));
  }

  /**
   * `inner` (a one-argument float helper) behind an early out: when every lane is below `cut` the result is +0
   * without calling it. Only for cuts below which `inner` itself returns exactly +0 (EXP_ZERO_BELOW), so the
   * values are the same bits; what it saves is the polynomial and, on x86, the microcode assist that every
   * subnormal or underflowing product costs (masked attention scores, −∞ or −1e30, take exp's slowest path).
   */
  underflowGuard(key: string, t: KType, cut: number, inner: string): string {
    const name = `h:${key}:guarded`;
    if (this.helpers.has(name)) return name;
    this.helpers.set(name, name);
    const m = this.m, x = m.local.get(0, wasmType(t));
    const f64 = t.elem === 'f64';
    let below: Ref, zero: Ref;
    if (t.lanes === 1) {
      below = f64 ? m.f64.lt(x, m.f64.const(cut)) : m.f32.lt(x, m.f32.const(cut));
      zero = f64 ? m.f64.const(0) : m.f32.const(0);
    } else {
      const shape = shapeOf(t) ?? fail(`internal: no native vector for ${typeName(t)}`);
      below = f64 ? m.i64x2.all_true(m.f64x2.lt(x, splatConst(m, shape, cut))) : m.i32x4.all_true(m.f32x4.lt(x, splatConst(m, shape, cut)));
      zero = splatConst(m, shape, 0);
    }
    m.addFunction(name, wasmType(t), wasmType(t), [], m.block(null, [
      m.if(below, m.return(zero)),
      m.call(inner, [m.local.get(0, wasmType(t))], wasmType(t)),
    ], wasmType(t)));
    return name;
  }

  private readonly matmuls = new Map<string, string>();
  /** The f32 matmul template as a function (a, b, y, scratch, batch, M, N, K, aBatchStride, bBatchStride). */
  private matmulFunction(transA: boolean, transB: boolean): string {
    const key = `matmul_f32_${transA ? 't' : 'n'}${transB ? 't' : 'n'}`;
    const known = this.matmuls.get(key);
    if (known) return known;
    const name = `t:${key}`;
    this.matmuls.set(key, name);
    const sizes = ['batch', 'm', 'n', 'k', 'sa', 'sb'];
    const buf = (b: string) => ({ name: b, elem: 'f32' as const, access: 'readwrite' as const, size: dsl.c(0), space: 'global' as const });
    const k: Kernel = {
      name: key, buffers: ['a', 'b', 'y', 's'].map(buf), sizes: sizes.map((n) => ({ name: n })), body: [],
      pattern: {
        kind: 'matmul', a: 'a', b: 'b', y: 'y', scratch: 's', batch: dsl.v('batch'), m: dsl.v('m'), n: dsl.v('n'), k: dsl.v('k'),
        aBatchStride: dsl.v('sa'), bBatchStride: dsl.v('sb'), transA, transB, elem: 'f32', acc: 'f32',
      },
    };
    this.function(name, k, (fe) => fe.stmts(matmulTemplate(k)));
    return name;
  }
}

class FnEmitter implements Cx {
  readonly vars: number[] = [];
  readonly buffers = new Map<string, { local: number; elem: KScalar }>();
  private readonly scopes: Map<string, Binding>[] = [new Map()];
  private pre: Ref[] = [];
  private labels = 0;

  constructor(private readonly me: ModuleEmitter, private readonly nParams: number) {}
  get m(): binaryen.Module { return this.me.m; }

  // ---------------------------------------------------------------- bookkeeping

  private newLocal(type: number): number {
    this.vars.push(type);
    return this.nParams + this.vars.length - 1;
  }
  bind(name: string, b: Binding): void { this.scopes[this.scopes.length - 1]!.set(name, b); }
  private lookup(name: string): Binding {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const b = this.scopes[i]!.get(name);
      if (b) return b;
    }
    return fail(`unknown variable '${name}'`);
  }
  private buffer(name: string) { return this.buffers.get(name) ?? fail(`unknown buffer '${name}'`); }

  private readonly shareFn = (ref: Ref, type: number) => this.share(ref, type);
  share(ref: Ref, type: number): () => Ref {
    const id = binaryen.getExpressionId(ref);
    if (id === binaryen.ConstId) return () => this.m.copyExpression(ref);
    if (id === binaryen.LocalGetId) {
      const index = (binaryen.getExpressionInfo(ref) as binaryen.LocalGetInfo).index;
      return () => this.m.local.get(index, type);
    }
    const idx = this.newLocal(type);
    this.pre.push(this.m.local.set(idx, ref));
    return () => this.m.local.get(idx, type);
  }
  /** Runs f with a fresh prelude and returns the prelude followed by f's result. */
  withPrelude(f: () => Ref | Ref[]): Ref[] {
    const saved = this.pre;
    this.pre = [];
    const r = f();
    const out = [...this.pre, ...(Array.isArray(r) ? r : [r])];
    this.pre = saved;
    return out;
  }

  constOf(e: Expr): number | bigint | undefined {
    if (e.kind === 'const') return e.value;
    if (e.kind === 'var') return this.lookup(e.name).konst;
    if (e.kind === 'broadcast') return this.constOf(e.a);
    if (e.kind === 'binary' && e.type.elem === 'i32' && e.type.lanes === 1) {
      const a = this.constOf(e.a), b = this.constOf(e.b);
      if (typeof a !== 'number' || typeof b !== 'number') return undefined;
      switch (e.op) {
        case 'add': return (a + b) | 0;
        case 'sub': return (a - b) | 0;
        case 'mul': return Math.imul(a, b);
        case 'shl': return a << (b & 31);
        default: return undefined;
      }
    }
    return undefined;
  }

  /** Conservative: true when an i32 index expression cannot be negative. */
  private nonNeg(e: Expr): boolean {
    const k = this.constOf(e);
    if (k !== undefined) return Number(k) >= 0;
    switch (e.kind) {
      case 'var': return this.lookup(e.name).nonNeg;
      case 'binary':
        if (e.type.elem !== 'i32') return false;
        if (['add', 'mul', 'div', 'mod', 'min', 'shr', 'floordiv'].includes(e.op)) return this.nonNeg(e.a) && this.nonNeg(e.b);
        if (e.op === 'shl') return this.nonNeg(e.a) && Number(this.constOf(e.b) ?? 31) < 31;
        if (e.op === 'max' || e.op === 'and') return this.nonNeg(e.a) || this.nonNeg(e.b);
        return false;
      case 'select': return this.nonNeg(e.a) && this.nonNeg(e.b);
      case 'cast': return e.a.type.elem === 'u8' || e.a.type.elem === 'u16' || e.a.type.elem === 'bool';
      default: return false;
    }
  }

  // ---------------------------------------------------------------- value representations

  nat(v: Val, t: KType): Ref {
    if ('n' in v) return v.n;
    return this.fromLanes(v.l, t);
  }
  private lanesOf(v: Val, t: KType): Ref[] {
    if ('l' in v) return v.l;
    if (t.lanes === 1) return [v.n];
    const V = this.share(v.n, binaryen.v128);
    return Array.from({ length: t.lanes }, (_, i) => this.extractLane(t, V(), i));
  }
  scalar(e: Expr): Ref { return this.nat(this.expr(e), e.type); }

  private extractLane(t: KType, v: Ref, i: number): Ref {
    const m = this.m;
    const s = shapeOf(t)!;
    if (t.elem === 'bool') {
      const x = s === 'i64x2' ? m.i32.wrap(m.i64x2.extract_lane(v, i)) : s === 'i32x4' ? m.i32x4.extract_lane(v, i)
        : s === 'i16x8' ? m.i16x8.extract_lane_u(v, i) : m.i8x16.extract_lane_u(v, i);
      return m.i32.and(x, m.i32.const(1));
    }
    switch (s) {
      case 'f32x4': return m.f32x4.extract_lane(v, i);
      case 'f64x2': return m.f64x2.extract_lane(v, i);
      case 'i32x4': return m.i32x4.extract_lane(v, i);
      case 'i64x2': return m.i64x2.extract_lane(v, i);
      case 'i16x8': return isSignedInt(t.elem) ? m.i16x8.extract_lane_s(v, i) : m.i16x8.extract_lane_u(v, i);
      case 'i8x16': return isSignedInt(t.elem) ? m.i8x16.extract_lane_s(v, i) : m.i8x16.extract_lane_u(v, i);
    }
  }
  /** A bool (0/1 in i32) as a mask lane value for shape s. */
  private maskLane(s: Shape, x: Ref): Ref {
    return s === 'i64x2' ? this.m.i64.sub(this.m.i64.const(0n), this.m.i64.extend_u(x)) : this.m.i32.sub(this.m.i32.const(0), x);
  }
  private splat(t: KType, x: Ref): Ref {
    const s = shapeOf(t)!;
    if (t.elem === 'bool') x = this.maskLane(s, x);
    return (this.m[s] as unknown as { splat(x: Ref): Ref }).splat(x);
  }
  private fromLanes(lanes: Ref[], t: KType): Ref {
    const s = shapeOf(t) ?? fail(`internal: ${typeName(t)} is not a native vector`);
    const lane = (x: Ref) => (t.elem === 'bool' ? this.maskLane(s, x) : x);
    const ns = this.m[s] as unknown as { splat(x: Ref): Ref; replace_lane(v: Ref, i: number, x: Ref): Ref };
    let v = ns.splat(lane(lanes[0]!));
    for (let i = 1; i < lanes.length; i++) v = ns.replace_lane(v, i, lane(lanes[i]!));
    return v;
  }

  private constScalar(elem: KScalar, value: number | bigint): Ref {
    const m = this.m;
    switch (regOf(elem)) {
      case 'f32': {
        const x = Number(value);
        return m.f32.const(elem === 'f16' ? roundToF16(x) : elem === 'bf16' ? roundToBf16(x) : x);
      }
      case 'f64': return m.f64.const(Number(value));
      case 'i64': return m.i64.const(BigInt.asIntN(64, toBigInt(value)));
      default: return m.i32.const(canonicalInt32(elem, value));
    }
  }
  private constVal(t: KType, value: number | bigint): Val {
    if (t.lanes === 1) return { n: this.constScalar(t.elem, value) };
    const s = shapeOf(t);
    if (s) {
      if (t.elem === 'bool') return { n: splatConst(this.m, s, toBigInt(value) !== 0n ? -1 : 0) };
      const v = isFloatElem(t.elem) ? value : regOf(t.elem) === 'i64' ? toBigInt(value) : canonicalInt32(t.elem, value);
      return { n: splatConst(this.m, s, v) };
    }
    return { l: Array.from({ length: t.lanes }, () => this.constScalar(t.elem, value)) };
  }

  // ---------------------------------------------------------------- helpers (Cx)

  private call(key: string, params: KType[], result: KType, gen: Gen, args: Ref[]): Ref {
    const name = this.me.helper(key, params, result, gen);
    return this.m.call(name, args, wasmType(result));
  }
  math(op: string, t: KType, args: Ref[]): Ref {
    const gen1 = lib.UNARY_MATH[op], gen2 = lib.BINARY_MATH[op];
    if (t.elem === 'f32' && !lib.F32_NATIVE.has(op)) {
      const f64: KType = { elem: 'f64', lanes: 1 };
      return this.m.f32.demote(this.math(op, f64, args.map((a) => this.m.f64.promote(a))));
    }
    const gen: Gen = gen1 ? (b, xs) => gen1(b, xs[0]!) : gen2 ? (b, xs) => gen2(b, xs[0]!, xs[1]!) : fail(`no math helper '${op}'`);
    const key = `${op}.${typeName(t)}`;
    if (op === 'exp') {
      const name = this.me.underflowGuard(key, t, EXP_ZERO_BELOW[t.elem as 'f32' | 'f64'], this.me.helper(key, [t], t, gen));
      return this.m.call(name, args, wasmType(t));
    }
    return this.call(key, args.map(() => t), t, gen, args);
  }
  intHelper(name: 'floordiv' | 'floormod' | 'pow' | 'mulhi64' | 'dot4_u8' | 'dot4_i8', t: KType, args: Ref[]): Ref {
    const gens: Record<typeof name, lib.Gen2> = {
      floordiv: lib.floordivInt, floormod: lib.floormodInt, pow: lib.powInt, mulhi64: lib.mulhi64,
      dot4_u8: lib.dot4(false), dot4_i8: lib.dot4(true),
    };
    const g = gens[name];
    return this.call(`${name}.${typeName(t)}`, [t, t], t, (b, xs) => g(b, xs[0]!, xs[1]!), args);
  }
  /** Rounds an f32 register to f16 or bf16 precision. */
  private round = (to: 'f16' | 'bf16', a: Ref): Ref => {
    const f32: KType = { elem: 'f32', lanes: 1 };
    return to === 'f16'
      ? this.call('round_f16', [f32], f32, (b, [x]) => lib.f16ToF32(b, lib.f32ToF16(b, x!)), [a])
      : this.call('round_bf16', [f32], f32, (b, [x]) => lib.bf16ToF32(b, lib.f32ToBf16(b, x!)), [a]);
  };
  private f16Bits(a: Ref): Ref {
    return this.call('f32_to_f16', [{ elem: 'f32', lanes: 1 }], { elem: 'u32', lanes: 1 }, (b, [x]) => lib.f32ToF16(b, x!), [a]);
  }
  private f16Value(bits: Ref): Ref {
    return this.call('f16_to_f32', [{ elem: 'u32', lanes: 1 }], { elem: 'f32', lanes: 1 }, (b, [x]) => lib.f16ToF32(b, x!), [bits]);
  }

  /** Re-canonicalizes a scalar result of `op` in element type e. */
  private post(op: string, e: KScalar, r: Ref): Ref {
    if (isCompare(op)) return r;
    if ((e === 'f16' || e === 'bf16') && !EXACT_FLOAT.has(op)) return this.round(e, r);
    if ((e === 'i8' || e === 'u8' || e === 'i16' || e === 'u16' || e === 'bool') && WRAPS.has(op)) return wrapInt(this.m, e, r);
    return r;
  }

  // ---------------------------------------------------------------- expressions

  expr(e: Expr): Val {
    switch (e.kind) {
      case 'const': return this.constVal(e.type, e.value);
      case 'var': {
        const b = this.lookup(e.name);
        if (b.konst !== undefined) return this.constVal(e.type, b.konst);
        const locals = b.locals!;
        if (locals.length === 1) return { n: this.m.local.get(locals[0]!, wasmType(b.type)) };
        return { l: locals.map((i) => this.m.local.get(i, laneType(b.type))) };
      }
      case 'binary': return this.binary(e);
      case 'unary': return this.unary(e);
      case 'cast': return this.cast(e);
      case 'bitcast': return this.bitcast(e);
      case 'select': return this.select(e);
      case 'load': return this.load(e);
      case 'broadcast': {
        if (e.a.kind === 'load' && isNative(e.type) && e.type.elem !== 'bool') {
          const r = this.splatLoad(e.a);
          if (r !== undefined) return { n: r };
        }
        const x = this.scalar(e.a);
        if (isNative(e.type)) return { n: this.splat(e.type, x) };
        const X = this.share(x, laneType(e.type));
        return { l: Array.from({ length: e.type.lanes }, () => X()) };
      }
      case 'extract': {
        const v = this.expr(e.a);
        if ('l' in v) return { n: v.l[e.lane] ?? fail(`extract: lane ${e.lane} out of range`) };
        return { n: this.extractLane(e.a.type, v.n, e.lane) };
      }
      case 'reduce_lanes': return this.reduceLanes(e);
    }
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>): Val {
    const { op, a, b } = e;
    const ot = a.type;
    if (this.me.opts.relaxed) {
      const r = this.relaxed(e);
      if (r !== undefined) return { n: r };
    }
    const unsupported = () => fail(`wasm: no lowering for ${op} on ${typeName(ot)}`);
    if (ot.lanes === 1) {
      const row = scalarBinary(op, ot.elem, b) ?? unsupported();
      return { n: this.post(op, e.type.elem, row(this, this.scalar(a), this.scalar(b))) };
    }
    const s = shapeOf(ot);
    if ((op === 'shl' || op === 'shr') && s && !isFloatElem(ot.elem) && ot.elem !== 'bool') {
      const count = uniform(b);
      if (count) {
        const ins = op === 'shl' ? 'shl' : isSignedInt(ot.elem) ? 'shr_s' : 'shr_u';
        const ns = this.m[s] as unknown as Record<string, (v: Ref, c: Ref) => Ref>;
        const v = this.nat(this.expr(a), ot);
        let c = this.scalar(count);
        if (regOf(count.type.elem) === 'i64') c = this.m.i32.wrap(c);
        return { n: ns[ins]!(v, c) };
      }
    }
    const vrow = vectorBinary(op, ot);
    if (vrow) return { n: vrow(this, this.nat(this.expr(a), ot), this.nat(this.expr(b), ot)) };
    const row: BinRow = scalarBinary(op, ot.elem, uniform(b) ?? b) ?? unsupported();
    const la = this.lanesOf(this.expr(a), ot), lb = this.lanesOf(this.expr(b), ot);
    return { l: la.map((x, i) => this.post(op, e.type.elem, row(this, x, lb[i]!))) };
  }

  /** Relaxed-SIMD patterns: a·b + c → relaxed_madd, c − a·b → relaxed_nmadd, dot4_i8 with a 7-bit operand. */
  private relaxed(e: Extract<Expr, { kind: 'binary' }>): Ref | undefined {
    const s = shapeOf(e.type);
    const isMul = (x: Expr): x is Extract<Expr, { kind: 'binary' }> =>
      x.kind === 'binary' && x.op === 'mul' && x.type.elem === e.type.elem && x.type.lanes === e.type.lanes;
    const ternary = (op: number, x: Expr, y: Expr, z: Expr) =>
      C._BinaryenSIMDTernary(modulePtr(this.m), op, this.nat(this.expr(x), e.type), this.nat(this.expr(y), e.type), this.nat(this.expr(z), e.type));
    if (s === 'f32x4' || s === 'f64x2') {
      const f32 = s === 'f32x4';
      if (e.op === 'add' && isMul(e.a)) return ternary(f32 ? C.RelaxedMaddVecF32x4 : C.RelaxedMaddVecF64x2, e.a.a, e.a.b, e.b);
      if (e.op === 'add' && isMul(e.b)) return ternary(f32 ? C.RelaxedMaddVecF32x4 : C.RelaxedMaddVecF64x2, e.b.a, e.b.b, e.a);
      if (e.op === 'sub' && isMul(e.b)) return ternary(f32 ? C.RelaxedNmaddVecF32x4 : C.RelaxedNmaddVecF64x2, e.b.a, e.b.b, e.a);
      return undefined;
    }
    if (s !== 'i32x4' || e.type.elem === 'bool') return undefined;
    const isDot = (x: Expr): x is Extract<Expr, { kind: 'binary' }> => x.kind === 'binary' && x.op === 'dot4_i8';
    let dot: Extract<Expr, { kind: 'binary' }> | undefined, acc: Expr | undefined;
    if (e.op === 'dot4_i8') dot = e;
    else if (e.op === 'add' && isDot(e.a)) { dot = e.a; acc = e.b; }
    else if (e.op === 'add' && isDot(e.b)) { dot = e.b; acc = e.a; }
    if (!dot) return undefined;
    const [i8, i7] = this.sevenBit(dot.b) ? [dot.a, dot.b] : this.sevenBit(dot.a) ? [dot.b, dot.a] : [];
    if (!i8 || !i7) return undefined;
    const accRef = acc ? this.nat(this.expr(acc), e.type) : splatConst(this.m, 'i32x4', 0);
    return C._BinaryenSIMDTernary(modulePtr(this.m), C.RelaxedDotI8x16I7x16AddSToVecI32x4,
      this.nat(this.expr(i8), i8.type), this.nat(this.expr(i7), i7.type), accRef);
  }
  /** x = and(y, k) where every byte of the constant k is ≤ 0x7f (so relaxed dot is exact). */
  private sevenBit(x: Expr): boolean {
    if (x.kind !== 'binary' || x.op !== 'and') return false;
    const k = this.constOf(x.a) ?? this.constOf(x.b);
    return k !== undefined && (Number(BigInt.asUintN(32, toBigInt(k))) & 0x80808080) === 0;
  }

  private unary(e: Extract<Expr, { kind: 'unary' }>): Val {
    const at = e.a.type;
    const unsupported = () => fail(`wasm: no lowering for ${e.op} on ${typeName(at)}`);
    if (at.lanes === 1) {
      const row = scalarUnary(e.op, at.elem) ?? unsupported();
      return { n: this.post(e.op, e.type.elem, row(this, this.scalar(e.a))) };
    }
    const vrow = vectorUnary(e.op, at);
    if (vrow) return { n: vrow(this, this.nat(this.expr(e.a), at)) };
    const row = scalarUnary(e.op, at.elem) ?? unsupported();
    return { l: this.lanesOf(this.expr(e.a), at).map((x) => this.post(e.op, e.type.elem, row(this, x))) };
  }

  private cast(e: Extract<Expr, { kind: 'cast' }>): Val {
    const from = e.a.type, to = e.type;
    if (from.elem === to.elem) return this.expr(e.a);
    if (to.lanes === 1) return { n: castScalar(this.m, from.elem, to.elem, this.scalar(e.a), this.round, this.shareFn) };
    if (e.a.kind === 'load' && to.elem !== 'bool') {
      const r = this.extendingLoad(e.a, to);
      if (r !== undefined) return { n: r };
    }
    const vrow = castVector(from, to);
    if (vrow) return { n: vrow(this.m, this.nat(this.expr(e.a), from)) };
    return { l: this.lanesOf(this.expr(e.a), from).map((x) => castScalar(this.m, from.elem, to.elem, x, this.round, this.shareFn)) };
  }

  /** cast(load(narrow × n)) → one extending v128 load (load8x8, load16x4, load32x2, or load32_zero + extends). */
  private extendingLoad(ld: Extract<Expr, { kind: 'load' }>, to: KType): Ref | undefined {
    const m = this.m;
    const f = ld.type.elem;
    const st = shapeOf(to);
    const signed = isSignedInt(f);
    const su = signed ? 's' : 'u';
    const at = () => this.addr(ld.buffer, ld.index, bytesOf(f));
    if ((f === 'i8' || f === 'u8') && st === 'i16x8') { const a = at(); return signed ? m.v128.load8x8_s(a.offset, 1, a.ptr) : m.v128.load8x8_u(a.offset, 1, a.ptr); }
    if ((f === 'i16' || f === 'u16') && (st === 'i32x4' || st === 'f32x4')) {
      const a = at();
      const v = signed ? m.v128.load16x4_s(a.offset, 2, a.ptr) : m.v128.load16x4_u(a.offset, 2, a.ptr);
      return st === 'f32x4' ? m.f32x4.convert_i32x4_s(v) : v;
    }
    if ((f === 'i32' || f === 'u32') && st === 'i64x2') { const a = at(); return signed ? m.v128.load32x2_s(a.offset, 4, a.ptr) : m.v128.load32x2_u(a.offset, 4, a.ptr); }
    if ((f === 'i8' || f === 'u8') && (st === 'i32x4' || st === 'f32x4')) {
      const a = at();
      const w16 = (m.i16x8 as unknown as Record<string, (v: Ref) => Ref>)[`extend_low_i8x16_${su}`]!(m.v128.load32_zero(a.offset, 1, a.ptr));
      const w32 = (m.i32x4 as unknown as Record<string, (v: Ref) => Ref>)[`extend_low_i16x8_${su}`]!(w16);
      return st === 'f32x4' ? m.f32x4.convert_i32x4_s(w32) : w32;
    }
    return undefined;
  }

  /** broadcast(load x) → v128.loadN_splat (one load-unit op on x64). */
  private splatLoad(ld: Extract<Expr, { kind: 'load' }>): Ref | undefined {
    const elem = this.buffer(ld.buffer).elem;
    if (elem === 'f16' || elem === 'bf16' || elem === 'bool') return undefined;
    const bytes = bytesOf(elem);
    const { ptr, offset } = this.addr(ld.buffer, ld.index, bytes);
    const v = this.m.v128;
    return bytes === 4 ? v.load32_splat(offset, 4, ptr) : bytes === 8 ? v.load64_splat(offset, 8, ptr)
      : bytes === 2 ? v.load16_splat(offset, 2, ptr) : v.load8_splat(offset, 1, ptr);
  }

  private bitcast(e: Extract<Expr, { kind: 'bitcast' }>): Val {
    const from = e.a.type, to = e.type;
    if (from.elem === to.elem && from.lanes === to.lanes) return this.expr(e.a);
    if (from.lanes > 1 && to.lanes > 1 && isNative(from) && isNative(to) && from.elem !== 'bool' && to.elem !== 'bool') {
      return { n: this.nat(this.expr(e.a), from) };
    }
    if (from.lanes !== to.lanes) return fail(`wasm: bitcast ${typeName(from)} → ${typeName(to)} changes the lane count of a non-native vector`);
    if (to.lanes === 1) return { n: this.bitcastScalar(from.elem, to.elem, this.scalar(e.a)) };
    return { l: this.lanesOf(this.expr(e.a), from).map((x) => this.bitcastScalar(from.elem, to.elem, x)) };
  }
  private bitcastScalar(from: KScalar, to: KScalar, a: Ref): Ref {
    const m = this.m;
    const rf = regOf(from), rt = regOf(to);
    const bad = () => fail(`wasm: bitcast ${from} → ${to} changes the bit width`);
    if (from === 'f16' || from === 'bf16') {
      if (to !== 'i16' && to !== 'u16' && to !== 'f16' && to !== 'bf16') return bad();
      const bits = from === 'f16' ? this.f16Bits(a) : m.i32.shr_u(m.i32.reinterpret(a), m.i32.const(16));
      return to === 'f16' || to === 'bf16' ? this.bitcastScalar('u16', to, bits) : wrapInt(m, to, bits);
    }
    if (to === 'f16' || to === 'bf16') {
      if (from !== 'i16' && from !== 'u16') return bad();
      const bits = m.i32.and(a, m.i32.const(0xffff));
      return to === 'f16' ? this.f16Value(bits) : m.f32.reinterpret(m.i32.shl(bits, m.i32.const(16)));
    }
    if (bytesOf(from) !== bytesOf(to)) return bad();
    if (rf === rt) return isFloatElem(from) ? a : wrapInt(m, to, a);
    if (rf === 'f32') return m.i32.reinterpret(a);
    if (rf === 'f64') return m.i64.reinterpret(a);
    if (rt === 'f32') return m.f32.reinterpret(a);
    return m.f64.reinterpret(a);
  }

  /**
   * select(p > q, p, q) and its three mirror forms on f32x4/f64x2 as one pmax/pmin (q < p ? p : q): the same
   * lanes bit for bit (NaN and ±0 included: both keep q unless p is strictly greater), one instruction where
   * f32x4.max needs several for its NaN/−0 rules. A running maximum written this way (the WASM softmax rows)
   * runs on it.
   */
  private pseudoMinMax(e: Extract<Expr, { kind: 'select' }>): Ref | undefined {
    const c = e.cond, t = e.type;
    if (c.kind !== 'binary' || (c.op !== 'gt' && c.op !== 'lt') || (t.elem !== 'f32' && t.elem !== 'f64')) return undefined;
    const ops = t.elem === 'f32' ? this.m.f32x4 : this.m.f64x2;
    const [p, q] = c.op === 'gt' ? [c.a, c.b] : [c.b, c.a]; // the condition is p > q
    const nat = (x: Expr) => this.nat(this.expr(x), t);
    if (exprsEqual(e.a, p) && exprsEqual(e.b, q)) return ops.pmax(nat(q), nat(p)); // p > q ? p : q
    if (exprsEqual(e.a, q) && exprsEqual(e.b, p)) return ops.pmin(nat(p), nat(q)); // p > q ? q : p
    return undefined;
  }

  private select(e: Extract<Expr, { kind: 'select' }>): Val {
    const t = e.type, ct = e.cond.type;
    if (t.lanes === 1) return { n: this.m.select(this.scalar(e.cond), this.scalar(e.a), this.scalar(e.b)) };
    if (isNative(t)) {
      if (ct.lanes === 1) return { n: this.m.select(this.scalar(e.cond), this.nat(this.expr(e.a), t), this.nat(this.expr(e.b), t)) };
      const pm = this.pseudoMinMax(e);
      if (pm) return { n: pm };
      const a = this.nat(this.expr(e.a), t), b = this.nat(this.expr(e.b), t);
      return { n: this.m.v128.bitselect(a, b, this.nat(this.expr(e.cond), ct)) };
    }
    const la = this.lanesOf(this.expr(e.a), t), lb = this.lanesOf(this.expr(e.b), t);
    if (ct.lanes === 1) {
      const c = this.share(this.scalar(e.cond), binaryen.i32);
      return { l: la.map((x, i) => this.m.select(c(), x, lb[i]!)) };
    }
    const lc = this.lanesOf(this.expr(e.cond), ct);
    return { l: la.map((x, i) => this.m.select(lc[i]!, x, lb[i]!)) };
  }

  private reduceLanes(e: Extract<Expr, { kind: 'reduce_lanes' }>): Val {
    const at = e.a.type;
    const s = shapeOf(at);
    // Float sums fold left to right (the interpreter's order, so results agree bit for bit); integer sums
    // and min/max do not depend on the order and reduce as a tree.
    const tree = s === 'i32x4' || ((s === 'f32x4' || s === 'f64x2') && e.op !== 'add');
    const vrow = tree ? vectorBinary(e.op, at) : undefined;
    if (vrow) {
      // Tree reduction by halves: v ⊕ swap(v) then (for 4 lanes) ⊕ swap of pairs.
      let v = this.nat(this.expr(e.a), at);
      const swaps = s === 'f64x2' ? [8] : [8, 4];
      for (const half of swaps) {
        const V = this.share(v, binaryen.v128);
        const mask = Array.from({ length: 16 }, (_, i) => (i + half) % 16);
        v = vrow(this, V(), this.m.i8x16.shuffle(V(), V(), mask));
      }
      return { n: this.extractLane(at, v, 0) };
    }
    const row = scalarBinary(e.op, at.elem, e.a) ?? fail(`wasm: no lowering for reduce_lanes ${e.op} on ${typeName(at)}`);
    const lanes = this.lanesOf(this.expr(e.a), at);
    let r = lanes[0]!;
    for (let i = 1; i < lanes.length; i++) r = this.post(e.op, at.elem, row(this, r, lanes[i]!));
    return { n: r };
  }

  // ---------------------------------------------------------------- memory

  /** Splits an i32 index into (rest, constant) so the constant can become the instruction's offset. */
  private splitIndex(e: Expr): { rest?: Expr; k: number } {
    const k = this.constOf(e);
    if (typeof k === 'number') return { k };
    if (e.kind === 'binary' && e.type.elem === 'i32' && e.type.lanes === 1) {
      const ka = this.constOf(e.a), kb = this.constOf(e.b);
      switch (e.op) {
        case 'add': {
          const A = this.splitIndex(e.a), B = this.splitIndex(e.b);
          return { rest: A.rest && B.rest ? dsl.add(A.rest, B.rest) : A.rest ?? B.rest, k: A.k + B.k };
        }
        case 'sub':
          if (typeof kb === 'number') { const A = this.splitIndex(e.a); return { rest: A.rest, k: A.k - kb }; }
          break;
        case 'mul': {
          const [x, f] = typeof kb === 'number' ? [e.a, kb] : typeof ka === 'number' ? [e.b, ka] : [undefined, 0];
          if (x) { const A = this.splitIndex(x); return { rest: A.rest && dsl.mul(A.rest, dsl.c(f)), k: A.k * f }; }
          break;
        }
        case 'shl':
          if (typeof kb === 'number' && kb >= 0 && kb < 31) {
            const A = this.splitIndex(e.a);
            return { rest: A.rest && dsl.shl(A.rest, dsl.c(kb)), k: A.k * 2 ** kb };
          }
          break;
        default: break;
      }
    }
    return { rest: e, k: 0 };
  }

  /**
   * A loop whose whole body is y[i] = x[i] (`step` lanes at i = start, start + step, … below end; the same
   * element type on both sides, a bit copy) as one memory.copy of the bytes it would move: the copies of
   * ScatterND and of a KV cache, several times faster than 16 bytes an iteration. Distinct buffers only (an
   * arena never places two live tensors partly over each other, so the order of the copy cannot matter).
   */
  private bulkCopy(s: Extract<Stmt, { kind: 'loop' }>): Ref[] | undefined {
    const st = s.body[0];
    if (s.body.length !== 1 || st?.kind !== 'store' || st.value.kind !== 'load' || s.step < 1) return undefined;
    const ld = st.value, elem = ld.type.elem;
    const isVar = (e: Expr) => e.kind === 'var' && e.name === s.var;
    if (ld.type.lanes !== s.step || !isVar(st.index) || !isVar(ld.index) || st.buffer === ld.buffer) return undefined;
    if (!BIT_COPY.has(elem) || this.buffer(st.buffer).elem !== elem || this.buffer(ld.buffer).elem !== elem) return undefined;
    const m = this.m, i32 = binaryen.i32, bytes = bytesOf(elem);
    const start = this.share(this.scalar(s.start), i32), end = this.share(this.scalar(s.end), i32);
    const at = (buffer: string) => m.i32.add(m.local.get(this.buffer(buffer).local, i32), m.i32.mul(start(), m.i32.const(bytes)));
    // trips · step elements: trips = ⌈(end − start) / step⌉ when end > start.
    const trips = m.i32.div_u(m.i32.add(m.i32.sub(end(), start()), m.i32.const(s.step - 1)), m.i32.const(s.step));
    return [m.if(m.i32.gt_s(end(), start()), m.memory.copy(at(st.buffer), at(ld.buffer), m.i32.mul(trips, m.i32.const(s.step * bytes))))];
  }

  /** Byte address of element `index` of a buffer: a pointer expression and a static offset. */
  private addr(buffer: string, index: Expr, bytes: number): { ptr: Ref; offset: number } {
    const m = this.m;
    const base = m.local.get(this.buffer(buffer).local, binaryen.i32);
    const scale = (x: Ref) => (bytes === 1 ? x : m.i32.shl(x, m.i32.const(Math.log2(bytes))));
    const { rest, k } = this.splitIndex(index);
    if (!rest) return k >= 0 ? { ptr: base, offset: k * bytes } : { ptr: m.i32.add(base, m.i32.const(k * bytes)), offset: 0 };
    if (k > 0 && this.nonNeg(rest)) return { ptr: m.i32.add(base, scale(this.scalar(rest))), offset: k * bytes };
    return { ptr: m.i32.add(base, scale(this.scalar(index))), offset: 0 };
  }

  private scalarLoad(elem: KScalar, ptr: Ref, off: number): Ref {
    const m = this.m;
    switch (elem) {
      case 'f32': return m.f32.load(off, 4, ptr);
      case 'f64': return m.f64.load(off, 8, ptr);
      // binaryen.js marks full-width i32 loads "signed", and binaryen 132 then folds
      // i64.extend_i32_u(i32.load) into i64.load32_s: build the load unsigned through the C API.
      case 'i32': case 'u32': return C._BinaryenLoad(modulePtr(m), 4, false, off, 4, binaryen.i32, ptr, 0);
      case 'i64': case 'u64': return m.i64.load(off, 8, ptr);
      case 'i8': return m.i32.load8_s(off, 1, ptr);
      case 'u8': return m.i32.load8_u(off, 1, ptr);
      case 'bool': return m.i32.ne(m.i32.load8_u(off, 1, ptr), m.i32.const(0));
      case 'i16': return m.i32.load16_s(off, 2, ptr);
      case 'u16': return m.i32.load16_u(off, 2, ptr);
      case 'f16': return this.f16Value(m.i32.load16_u(off, 2, ptr));
      case 'bf16': return m.f32.reinterpret(m.i32.shl(m.i32.load16_u(off, 2, ptr), m.i32.const(16)));
    }
  }
  private scalarStore(elem: KScalar, ptr: Ref, off: number, v: Ref): Ref {
    const m = this.m;
    switch (elem) {
      case 'f32': return m.f32.store(off, 4, ptr, v);
      case 'f64': return m.f64.store(off, 8, ptr, v);
      case 'i32': case 'u32': return m.i32.store(off, 4, ptr, v);
      case 'i64': case 'u64': return m.i64.store(off, 8, ptr, v);
      case 'i8': case 'u8': case 'bool': return m.i32.store8(off, 1, ptr, v);
      case 'i16': case 'u16': return m.i32.store16(off, 2, ptr, v);
      case 'f16': return m.i32.store16(off, 2, ptr, this.f16Bits(v));
      case 'bf16': return m.i32.store16(off, 2, ptr, m.i32.shr_u(m.i32.reinterpret(v), m.i32.const(16)));
    }
  }

  /**
   * `lanes` bool bytes as a lane mask in one load: bytes ≠ 0 become 0xff (as a scalar bool load reads them),
   * then sign-extended to the mask's lane width — where a lane-by-lane load costs a byte load, a compare and a
   * replace_lane per lane (a Where over an attention mask).
   */
  private boolMaskLoad(lanes: 4 | 8 | 16, ptr: Ref, offset: number): Ref {
    const m = this.m;
    const bytes = lanes === 16 ? m.v128.load(offset, 1, ptr) : lanes === 8 ? m.v128.load64_zero(offset, 1, ptr) : m.v128.load32_zero(offset, 1, ptr);
    const mask8 = m.i8x16.ne(bytes, splatConst(m, 'i8x16', 0));
    if (lanes === 16) return mask8;
    const mask16 = m.i16x8.extend_low_i8x16_s(mask8);
    return lanes === 8 ? mask16 : m.i32x4.extend_low_i16x8_s(mask16);
  }

  private load(e: Extract<Expr, { kind: 'load' }>): Val {
    const t = e.type;
    const elem = this.buffer(e.buffer).elem;
    const bytes = bytesOf(elem);
    const { ptr, offset } = this.addr(e.buffer, e.index, bytes);
    if (t.lanes === 1) return { n: this.scalarLoad(elem, ptr, offset) };
    if (isNative(t) && elem !== 'bool') return { n: this.m.v128.load(offset, bytes, ptr) };
    if (elem === 'bool' && (t.lanes === 4 || t.lanes === 8 || t.lanes === 16)) return { n: this.boolMaskLoad(t.lanes, ptr, offset) };
    const P = this.share(ptr, binaryen.i32);
    return { l: Array.from({ length: t.lanes }, (_, i) => this.scalarLoad(elem, P(), offset + i * bytes)) };
  }

  // ---------------------------------------------------------------- statements

  /** Emits statements in the current scope. */
  stmts(list: Stmt[]): Ref[] {
    const out: Ref[] = [];
    this.findCounters(list);
    for (const s of list) out.push(...this.withPrelude(() => this.stmt(s)));
    return out;
  }

  /**
   * Locals of this block used as counters — every assignment anywhere after them is `x = x + c` with c ≥ 0 —
   * stay non-negative when their initial value is, so indices built on them can fold constant offsets.
   */
  private readonly counters = new Set<Stmt>();
  private findCounters(list: Stmt[]): void {
    const assigns = new Map<string, Expr[]>();
    const walk = (ss: Stmt[]) => {
      for (const s of ss) {
        if (s.kind === 'assign') assigns.set(s.name, [...(assigns.get(s.name) ?? []), s.value]);
        else if (s.kind === 'loop') walk(s.body);
        else if (s.kind === 'if') { walk(s.then); walk(s.else); }
      }
    };
    walk(list);
    for (const s of list) {
      if (s.kind !== 'local' || s.type.elem !== 'i32' || s.type.lanes !== 1) continue;
      const incr = (e: Expr) => e.kind === 'binary' && e.op === 'add' && (
        (e.a.kind === 'var' && e.a.name === s.name && e.b.kind === 'const' && Number(e.b.value) >= 0) ||
        (e.b.kind === 'var' && e.b.name === s.name && e.a.kind === 'const' && Number(e.a.value) >= 0));
      if ((assigns.get(s.name) ?? []).every(incr)) this.counters.add(s);
    }
  }
  private scoped(list: Stmt[], bind?: [string, Binding]): Ref[] {
    this.scopes.push(new Map());
    if (bind) this.bind(bind[0], bind[1]);
    try { return this.stmts(list); } finally { this.scopes.pop(); }
  }

  private stmt(s: Stmt): Ref[] {
    const m = this.m;
    switch (s.kind) {
      case 'comment': return [];
      case 'let': {
        const t = s.value.type;
        const k = t.lanes === 1 ? this.constOf(s.value) : undefined;
        if (k !== undefined) { this.bind(s.name, { type: t, konst: k, nonNeg: Number(k) >= 0 }); return []; }
        const nonNeg = t.elem === 'i32' && t.lanes === 1 && this.nonNeg(s.value);
        const v = this.expr(s.value);
        if ('n' in v) {
          const idx = this.newLocal(wasmType(t));
          this.bind(s.name, { type: t, locals: [idx], nonNeg });
          return [m.local.set(idx, v.n)];
        }
        const locals = v.l.map(() => this.newLocal(laneType(t)));
        this.bind(s.name, { type: t, locals, nonNeg });
        return v.l.map((x, i) => m.local.set(locals[i]!, x));
      }
      case 'local': {
        const t = s.type;
        const nonNeg = this.counters.has(s) && this.nonNeg(s.init);
        const v = this.expr(s.init);
        if (isNative(t)) {
          const idx = this.newLocal(wasmType(t));
          const set = m.local.set(idx, this.nat(v, t));
          this.bind(s.name, { type: t, locals: [idx], nonNeg, mutable: true });
          return [set];
        }
        const lanes = this.lanesOf(v, t);
        const locals = lanes.map(() => this.newLocal(laneType(t)));
        this.bind(s.name, { type: t, locals, nonNeg: false, mutable: true });
        return lanes.map((x, i) => m.local.set(locals[i]!, x));
      }
      case 'assign': {
        const b = this.lookup(s.name);
        if (!b.mutable) return fail(`assignment to immutable '${s.name}'`);
        const v = this.expr(s.value);
        const locals = b.locals!;
        if (locals.length === 1) return [m.local.set(locals[0]!, this.nat(v, b.type))];
        // Evaluate every lane into a temporary before writing any (a lane may read another lane's old value).
        const temps = this.lanesOf(v, b.type).map((x) => {
          const t = this.newLocal(laneType(b.type));
          this.pre.push(m.local.set(t, x));
          return t;
        });
        return temps.map((t, i) => m.local.set(locals[i]!, m.local.get(t, laneType(b.type))));
      }
      case 'store': {
        const elem = this.buffer(s.buffer).elem;
        const t = s.value.type;
        const bytes = bytesOf(elem);
        const { ptr, offset } = this.addr(s.buffer, s.index, bytes);
        if (t.lanes === 1) return [this.scalarStore(elem, ptr, offset, this.scalar(s.value))];
        if (isNative(t) && elem !== 'bool') return [m.v128.store(offset, bytes, ptr, this.nat(this.expr(s.value), t))];
        const P = this.share(ptr, binaryen.i32);
        return this.lanesOf(this.expr(s.value), t).map((x, i) => this.scalarStore(elem, P(), offset + i * bytes, x));
      }
      case 'loop': return this.loop(s);
      case 'if': {
        const cond = this.scalar(s.cond);
        const then = m.block(null, this.scoped(s.then));
        return [m.if(cond, then, s.else.length ? m.block(null, this.scoped(s.else)) : undefined)];
      }
      case 'atomic': return this.atomic(s);
      case 'barrier': return this.me.opts.threads ? [m.atomic.fence()] : [];
    }
  }

  private loop(s: Extract<Stmt, { kind: 'loop' }>): Ref[] {
    const m = this.m;
    if (s.step === 0) return fail(`loop '${s.var}' has step 0`);
    const copy = this.bulkCopy(s);
    if (copy) return copy;
    const k0 = this.constOf(s.start), k1 = this.constOf(s.end);
    if (s.loopKind === 'unroll' && typeof k0 === 'number' && typeof k1 === 'number') {
      const trips = Math.max(0, Math.ceil((k1 - k0) / s.step));
      if (trips <= 1024) {
        const out: Ref[] = [];
        for (let i = 0; i < trips; i++) {
          const iv = k0 + i * s.step;
          out.push(...this.scoped(s.body, [s.var, { type: INDEX, konst: iv, nonNeg: iv >= 0 }]));
        }
        return out;
      }
    }
    // 'parallel' and 'vector' loops run serially in one WASM thread (lanes are explicit in the types).
    const i = this.newLocal(binaryen.i32);
    const init = m.local.set(i, this.scalar(s.start));
    const end = this.share(this.scalar(s.end), binaryen.i32);
    const cmp = () => (s.step > 0 ? m.i32.lt_s(m.local.get(i, binaryen.i32), end()) : m.i32.gt_s(m.local.get(i, binaryen.i32), end()));
    const label = `L${this.labels++}`;
    const body = this.scoped(s.body, [s.var, { type: INDEX, locals: [i], nonNeg: s.step > 0 && this.nonNeg(s.start) }]);
    const next = m.local.set(i, m.i32.add(m.local.get(i, binaryen.i32), m.i32.const(s.step)));
    return [init, m.if(cmp(), m.loop(label, m.block(null, [...body, next, m.br(label, cmp())])))];
  }

  private atomic(s: Extract<Stmt, { kind: 'atomic' }>): Ref[] {
    const m = this.m;
    const elem = this.buffer(s.buffer).elem;
    const bytes = bytesOf(elem);
    const t: KType = { elem, lanes: 1 };
    const T = wasmType(t);
    const { ptr, offset } = this.addr(s.buffer, s.index, bytes);
    const P = this.share(ptr, binaryen.i32);
    const V = this.share(this.scalar(s.value), T);
    const apply = (old: Ref): Ref => (s.op === 'exchange' ? V() : this.atomicOp(s.op, elem, old, V()));
    const bindResult = (old: number) => { if (s.result) this.bind(s.result, { type: t, locals: [old], nonNeg: false }); };
    const old = this.newLocal(T);
    if (!this.me.opts.threads) {
      // One thread: a plain read-modify-write is atomic.
      bindResult(old);
      return [m.local.set(old, this.scalarLoad(elem, P(), offset)),
        this.scalarStore(elem, P(), offset, apply(m.local.get(old, T)))];
    }
    const reg = regOf(elem);
    const wide = reg === 'i64' || reg === 'f64';
    if (bytes < 4 || elem === 'f16' || elem === 'bf16') return fail(`wasm: atomics on ${elem} buffers are not supported`);
    const A = wide ? m.i64.atomic : m.i32.atomic;
    const native: Partial<Record<AtomicOp, 'add' | 'sub' | 'and' | 'or' | 'xor' | 'xchg'>> =
      { add: 'add', sub: 'sub', and: 'and', or: 'or', xor: 'xor', exchange: 'xchg' };
    const ins = native[s.op];
    bindResult(old);
    if (ins && !isFloatElem(elem)) return [m.local.set(old, A.rmw[ins](offset, P(), V()))];
    // Compare-and-swap loop on the bit pattern (min/max, float ops).
    const BT = wide ? binaryen.i64 : binaryen.i32;
    const toBits = (x: Ref) => (isFloatElem(elem) ? (wide ? m.i64.reinterpret(x) : m.i32.reinterpret(x)) : x);
    const fromBits = (x: Ref) => (isFloatElem(elem) ? (wide ? m.f64.reinterpret(x) : m.f32.reinterpret(x)) : x);
    const oldBits = this.newLocal(BT);
    const label = `L${this.labels++}`;
    const body = [
      m.local.set(oldBits, A.load(offset, P())),
      m.local.set(old, fromBits(m.local.get(oldBits, BT))),
      m.br(label, (wide ? m.i64 : m.i32).ne(
        A.rmw.cmpxchg(offset, P(), m.local.get(oldBits, BT), toBits(apply(m.local.get(old, T)))), m.local.get(oldBits, BT))),
    ];
    return [m.loop(label, m.block(null, body))];
  }
  private atomicOp(op: AtomicOp, elem: KScalar, a: Ref, b: Ref): Ref {
    const bop = op as BinaryOp;
    const row = scalarBinary(bop, elem, dsl.c(0)) ?? fail(`wasm: no atomic ${op} on ${elem}`);
    return this.post(bop, elem, row(this, a, b));
  }
}

/** The scalar behind a vector operand that is the same in every lane (a broadcast or a constant). */
function uniform(e: Expr): Expr | undefined {
  if (e.kind === 'broadcast') return e.a;
  if (e.kind === 'const' && e.type.lanes > 1) return { kind: 'const', type: { elem: e.type.elem, lanes: 1 }, value: e.value };
  return undefined;
}

function toBigInt(v: number | bigint): bigint {
  if (typeof v === 'bigint') return v;
  return Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
}
/** The i32 register value of an integer constant in element type e (canonical form). */
function canonicalInt32(e: KScalar, v: number | bigint): number {
  const x = toBigInt(v);
  switch (e) {
    case 'bool': return x !== 0n || (typeof v === 'number' && Number.isNaN(v)) ? 1 : 0;
    case 'i8': return Number(BigInt.asIntN(8, x));
    case 'u8': return Number(BigInt.asUintN(8, x));
    case 'i16': return Number(BigInt.asIntN(16, x));
    case 'u16': return Number(BigInt.asUintN(16, x));
    default: return Number(BigInt.asIntN(32, x));
  }
}
