// Random valid kernels for the property tests: loops of every kind (bounds constant, a size, or an outer
// loop variable), lets, locals and assignments, ifs, loads and stores (scalar and vector) over small
// buffers of several dtypes, atomics, barriers in parallel loops with a workgroup buffer, comments.
// Indices are wrapped with floormod into the buffer, so kernels run without out-of-bounds accesses.
// Names come from a small pool, so sibling blocks reuse them (what the simplifier's renaming must handle).
import fc from 'fast-check';
import * as K from '../../ir/kernel/build.ts';
import { roundF16 } from '../../ir/dtype.ts';
import type { BufferParam, Expr, Kernel, KScalar, KType, Stmt } from '../../ir/kernel/ir.ts';
import type { BufferData } from '../../ir/kernel/interpret.ts';

interface Var { name: string; type: KType; kind: 'size' | 'loop' | 'let' | 'local' | 'result'; depth: number }
interface Ctx {
  vars: Var[];
  /** Parallel/vector nesting (locals may only be assigned at the depth they were declared). */
  depth: number;
  level: number;
  /** The innermost parallel loop's variable when directly in its body (a barrier is uniform there). */
  parallelTop: string | undefined;
}

const SIZE = 16;
const BUFFERS: BufferParam[] = [
  K.buffer('a', 'i32', SIZE, 'read'),
  K.buffer('b', 'f32', SIZE, 'read'),
  K.buffer('c', 'u32', SIZE, 'read'),
  K.buffer('d', 'i64', 8, 'read'),
  K.buffer('h', 'f16', 8, 'read'),
  K.buffer('e', 'i32', K.add(K.mul(K.v('n'), 2), 1), 'read'),
  K.buffer('y', 'i32', SIZE, 'write'),
  K.buffer('z', 'f32', SIZE, 'readwrite'),
  K.buffer('s', 'i64', 8, 'write'),
  K.buffer('r', 'u32', 8, 'readwrite'),
  K.buffer('t', 'f32', SIZE, 'readwrite', 'workgroup'),
];
const buf = (name: string) => BUFFERS.find((b) => b.name === name)!;
const NAMES = ['t0', 't1', 't2', 't3', 't4', 'acc'];
const LOOP_NAMES = ['i', 'j', 'k', 'l'];
const SCALARS: KScalar[] = ['i32', 'u32', 'i64', 'f32', 'bool'];

export interface KernelCase { kernel: Kernel; buffers: Record<string, BufferData>; sizes: Record<string, number> }

export class RandomKernel {
  constructor(private readonly g: fc.GeneratorValue) {}

  private int(min: number, max: number): number { return this.g(fc.integer, { min, max }); }
  private pick<T>(xs: readonly T[]): T { return xs[this.int(0, xs.length - 1)]!; }
  /** True with probability p; shrinks to false. */
  private chance(p: number): boolean { return this.int(0, 999) >= 1000 - p * 1000; }

  build(): KernelCase {
    const n = this.int(0, 5);
    const ctx: Ctx = { vars: [{ name: 'n', type: K.T.i32, kind: 'size', depth: 0 }], depth: 0, level: 0, parallelTop: undefined };
    const body = this.block(ctx, 1, 4);
    // Always some output, so every kernel is checked through at least one store.
    body.push(K.store(buf('y'), this.index(ctx, SIZE), this.expr('i32', ctx, 2)));
    const kernel = K.kernel('random', { buffers: BUFFERS, sizes: ['n'], body });
    return { kernel, buffers: this.data(n), sizes: { n } };
  }

  private data(n: number): Record<string, BufferData> {
    const ints = (len: number, lo: number, hi: number) => Array.from({ length: len }, () => this.pick([0, 1, -1, lo, hi, this.int(-9, 9), this.int(lo, hi)]));
    const floats = (len: number) => Array.from({ length: len }, () => this.pick([0, -0, 1, -1.5, NaN, Infinity, -Infinity, 3.25, 1e30, this.g(fc.float, { noDefaultInfinity: false })]));
    const u32 = (len: number) => Array.from({ length: len }, () => this.pick([0, 1, 2 ** 32 - 1, 2 ** 31, this.int(0, 9), this.g(fc.nat) * 2]));
    return {
      a: Int32Array.from(ints(SIZE, -(2 ** 31), 2 ** 31 - 1)),
      b: Float32Array.from(floats(SIZE)),
      c: Uint32Array.from(u32(SIZE), (x) => x >>> 0),
      d: BigInt64Array.from(Array.from({ length: 8 }, () => this.pick([0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(this.int(-99, 99))]))),
      h: Float32Array.from(floats(8), (x) => roundF16(x)),
      e: Int32Array.from(ints(2 * n + 1, -1000, 1000)),
      y: new Int32Array(SIZE),
      z: Float32Array.from(floats(SIZE)),
      s: new BigInt64Array(8),
      r: Uint32Array.from(u32(8), (x) => x >>> 0),
    };
  }

  private fresh(ctx: Ctx, pool: readonly string[]): string | undefined {
    const free = pool.filter((p) => !ctx.vars.some((v) => v.name === p));
    return free.length > 0 ? this.pick(free) : undefined;
  }

  private block(ctx: Ctx, min: number, max: number): Stmt[] {
    const inner: Ctx = { ...ctx, vars: [...ctx.vars] };
    const out: Stmt[] = [];
    const count = this.int(min, max);
    for (let i = 0; i < count; i++) out.push(...this.stmt(inner));
    return out;
  }

  private stmt(ctx: Ctx): Stmt[] {
    const deep = ctx.level >= 3;
    const kind = this.pick(deep
      ? ['let', 'store', 'store', 'assign', 'local', 'atomic', 'comment'] as const
      : ['let', 'let', 'store', 'store', 'loop', 'loop', 'if', 'local', 'assign', 'atomic', 'comment'] as const);
    switch (kind) {
      case 'let': {
        const name = this.fresh(ctx, NAMES);
        if (!name) return [];
        const value = this.expr(this.pick(SCALARS), ctx, 3);
        ctx.vars.push({ name, type: value.type, kind: 'let', depth: ctx.depth });
        return [K.let_(name, value)];
      }
      case 'local': {
        const name = this.fresh(ctx, NAMES);
        if (!name) return [];
        const t = this.pick(['i32', 'f32', 'u32'] as const);
        const init = this.expr(t, ctx, 2);
        ctx.vars.push({ name, type: K.T[t], kind: 'local', depth: ctx.depth });
        return [K.local(name, t, init)];
      }
      case 'assign': {
        const locals = ctx.vars.filter((v) => v.kind === 'local' && v.depth === ctx.depth);
        if (locals.length === 0) return [];
        const l = this.pick(locals);
        return [K.assign(l.name, this.expr(l.type.elem, ctx, 3))];
      }
      case 'store': {
        if (this.chance(0.15)) {
          // A vector store of 4 lanes: z[m .. m+3] = load<f32x4> b[…] + broadcast(x)
          const at = K.floormod(this.indexExpr(ctx), SIZE - 3);
          const v = K.add(K.load(buf('b'), K.floormod(this.indexExpr(ctx), SIZE - 3), 4), K.broadcast(this.expr('f32', ctx, 1), 4));
          return [K.store(buf('z'), at, v)];
        }
        const target = this.pick(['y', 'z', 's', ...(ctx.parallelTop === undefined ? [] : ['t'])]);
        const b = buf(target);
        return [K.store(b, this.index(ctx, target === 's' ? 8 : SIZE), this.expr(b.elem, ctx, 3))];
      }
      case 'atomic': {
        const name = this.chance(0.5) ? this.fresh(ctx, NAMES) : undefined;
        const op = this.pick(['add', 'sub', 'min', 'max', 'and', 'or', 'xor', 'exchange'] as const);
        const s = K.atomic(op, buf('r'), this.index(ctx, 8), this.expr('u32', ctx, 2), {
          order: this.pick(['relaxed', 'acquire', 'release', 'acq_rel'] as const), scope: this.pick(['workgroup', 'device'] as const),
          ...(name ? { result: name } : {}),
        });
        if (name) ctx.vars.push({ name, type: K.T.u32, kind: 'result', depth: ctx.depth });
        return [s];
      }
      case 'comment': return [K.comment(this.pick(['note', 'a "quoted" note', 'tab\there', '']))];
      case 'if': {
        const cond = this.expr('bool', ctx, 3);
        const inner = { ...ctx, level: ctx.level + 1, parallelTop: undefined };
        const then = this.block(inner, 0, 3);
        const else_ = this.chance(0.5) ? this.block(inner, 0, 2) : [];
        return [K.if_(cond, then, else_)];
      }
      case 'loop': {
        const name = this.fresh(ctx, LOOP_NAMES);
        if (!name) return [];
        const kind = this.pick(['serial', 'parallel', 'unroll', 'vector'] as const);
        const outerLoops = ctx.vars.filter((v) => v.kind === 'loop');
        const start = this.pick([K.c('i32', 0), K.c('i32', 0), K.c('i32', this.int(0, 2)), ...(outerLoops.length ? [K.v(this.pick(outerLoops).name)] : [])]);
        const end = this.pick([
          K.c('i32', this.int(0, 5)), K.v('n'), K.add(K.v('n'), 1), K.sub(K.v('n'), 2),
          ...(outerLoops.length ? [K.v(this.pick(outerLoops).name), K.add(K.v(this.pick(outerLoops).name), 2)] : []),
        ]);
        const step = this.chance(0.2) ? 2 : 1;
        const par = kind === 'parallel' || kind === 'vector';
        const inner: Ctx = {
          vars: [...ctx.vars, { name, type: K.T.i32, kind: 'loop', depth: ctx.depth + (par ? 1 : 0) }],
          depth: ctx.depth + (par ? 1 : 0), level: ctx.level + 1, parallelTop: kind === 'parallel' ? name : undefined,
        };
        let body: Stmt[];
        if (kind === 'parallel' && this.chance(0.3)) {
          // Shared-memory exchange: write t[i], barrier, read a neighbour's t.
          const i = K.v(name);
          body = [
            K.store(buf('t'), K.floormod(i, SIZE), this.expr('f32', inner, 2)),
            K.barrier(this.pick(['workgroup', 'device'] as const)),
            K.store(buf('z'), K.floormod(i, SIZE), K.load(buf('t'), K.floormod(K.add(i, 1), SIZE))),
            ...this.block(inner, 0, 2),
          ];
        } else body = this.block(inner, 1, 3);
        return [K.loop(name, start, end, body, { kind, step })];
      }
    }
  }

  /** An in-bounds index for a buffer of `size` elements. */
  private index(ctx: Ctx, size: number): Expr {
    return K.floormod(this.indexExpr(ctx), size);
  }

  private indexExpr(ctx: Ctx): Expr {
    const ints = ctx.vars.filter((v) => v.type.elem === 'i32' && v.type.lanes === 1);
    const term = (): Expr => (ints.length && this.chance(0.8) ? K.v(this.pick(ints).name) : K.c('i32', this.int(-3, 20)));
    switch (this.int(0, 3)) {
      case 0: return term();
      case 1: return K.add(K.mul(term(), this.int(1, 4)), term());
      case 2: return K.sub(term(), term());
      default: return this.expr('i32', ctx, 2);
    }
  }

  private load(elem: KScalar, ctx: Ctx): Expr | undefined {
    const choices: Record<string, string[]> = { i32: ['a', 'e'], f32: ['b'], u32: ['c'], i64: ['d'] };
    const names = choices[elem];
    if (!names) return undefined;
    const b = buf(this.pick(names));
    if (b.name === 'e') return K.load(b, K.floormod(this.indexExpr(ctx), K.add(K.mul(K.v('n'), 2), 1)));
    return K.load(b, this.index(ctx, b.name === 'd' ? 8 : SIZE));
  }

  private constOf(elem: KScalar): Expr {
    switch (elem) {
      case 'bool': return K.c('bool', this.chance(0.5));
      case 'i32': return K.c('i32', this.pick([0, 1, 2, 3, -1, 7, 2 ** 31 - 1, -(2 ** 31), this.int(-100, 100)]));
      case 'u32': return K.c('u32', this.pick([0, 1, 2, 3, 255, 2 ** 32 - 1, 2 ** 31, this.int(0, 100)]));
      case 'i64': return K.c('i64', this.pick([0n, 1n, -1n, 3n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(this.int(-100, 100))]));
      case 'f16': return K.c('f16', this.pick([0, -0, 1, 0.1, 65504, NaN]));
      default: return K.c('f32', this.pick([0, -0, 1, -1, 0.5, 2, NaN, Infinity, -Infinity, 1e-30, 3.4e38]));
    }
  }

  /** A random expression of element type `elem` (scalar). */
  expr(elem: KScalar, ctx: Ctx, budget: number): Expr {
    const vars = ctx.vars.filter((v) => v.type.elem === elem && v.type.lanes === 1);
    if (budget <= 0 || this.chance(0.25)) {
      const r = this.int(0, 2);
      if (r === 0 && vars.length) return K.v(this.pick(vars).name, elem);
      if (r === 1) { const l = this.load(elem, ctx); if (l) return l; }
      return vars.length && this.chance(0.5) ? K.v(this.pick(vars).name, elem) : this.constOf(elem);
    }
    const sub = (e: KScalar = elem) => this.expr(e, ctx, budget - 1);
    const isInt = elem === 'i32' || elem === 'u32' || elem === 'i64';
    if (elem === 'bool') {
      switch (this.int(0, 3)) {
        case 0: { const t = this.pick(['i32', 'u32', 'i64', 'f32'] as const); return K.binary(this.pick(['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const), sub(t), sub(t)); }
        case 1: return K.binary(this.pick(['and', 'or', 'xor'] as const), sub(), sub());
        case 2: return K.not(sub());
        default: return K.lt(sub('i32'), sub('i32'));
      }
    }
    const choice = this.int(0, 6);
    if (choice === 0) return K.select(sub('bool'), sub(), sub());
    if (choice === 1) {
      const from = this.pick(['i32', 'u32', 'i64', 'f32', 'bool', 'f16'].filter((x) => x !== elem) as KScalar[]);
      return K.cast(elem, from === 'f16' ? (this.load('f16', ctx) ?? K.load(buf('h'), this.index(ctx, 8))) : sub(from));
    }
    if (choice === 2 && elem === 'f32') {
      // A 4-lane detour: reduce or extract from a vector load combined with a broadcast.
      const v = K.mul(K.load(buf('b'), K.floormod(this.indexExpr(ctx), SIZE - 3), 4), K.broadcast(sub(), 4));
      return this.chance(0.5) ? K.reduceLanes(this.pick(['add', 'min', 'max'] as const), v) : K.extract(v, this.int(0, 3));
    }
    if (choice === 3) {
      const op = this.pick(isInt ? ['neg', 'abs', 'not'] as const : ['neg', 'abs', 'floor', 'sqrt'] as const);
      return K.unary(op, sub());
    }
    if (isInt && choice === 4) {
      // Division by a non-zero constant (random divisors would mostly stop the run).
      const d = this.pick([1, 2, 3, 4, 7, 8, -1, -5]);
      const dv = elem === 'u32' && d < 0 ? 3 : d;
      return K.binary(this.pick(['div', 'mod', 'floordiv', 'floormod'] as const), sub(), K.c(elem, elem === 'i64' ? BigInt(dv) : dv));
    }
    const ops = isInt
      ? ['add', 'sub', 'mul', 'min', 'max', 'and', 'or', 'xor', 'shl', 'shr', 'add', 'mul'] as const
      : ['add', 'sub', 'mul', 'div', 'min', 'max', 'add'] as const;
    return K.binary(this.pick(ops), sub(), sub());
  }
}

/** A deep copy of buffer data (so two runs start from the same inputs). */
export function cloneBuffers(b: Record<string, BufferData>): Record<string, BufferData> {
  return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v.slice()]));
}

/** Where two buffer sets differ (bit-level for floats, NaN equal to NaN), or undefined. */
export function buffersDiff(x: Record<string, BufferData>, y: Record<string, BufferData>): string | undefined {
  for (const [name, a] of Object.entries(x)) {
    const b = y[name]!;
    for (let i = 0; i < a.length; i++) {
      if (!Object.is(a[i], b[i])) return `${name}[${i}]: ${String(a[i])} vs ${String(b[i])}`;
    }
  }
  return undefined;
}
