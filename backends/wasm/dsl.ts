// A small expression builder for kernel IR, used by the WASM backend to write its math library and micro-kernels
// in kernel IR itself (so they are checked by the same emitter and tests as any other kernel). Types follow the
// IR's rules: arithmetic keeps the operand type, comparisons give bool with the operand's lane count, and a
// scalar operand next to a vector is broadcast.
import type { BinaryOp, Expr, KScalar, KType, LoopKind, Stmt, UnaryOp } from '../../ir/kernel/ir.ts';

export type TypeLike = KType | KScalar;
export const ty = (t: TypeLike, lanes: KType['lanes'] = 1): KType => (typeof t === 'string' ? { elem: t, lanes } : t);

export const c = (value: number | bigint, t: TypeLike = 'i32'): Expr => ({ kind: 'const', type: ty(t), value });
export const v = (name: string, t: TypeLike = 'i32'): Expr => ({ kind: 'var', type: ty(t), name });

const COMPARE = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

/** Lifts a scalar operand to the other operand's lane count. */
function unify(a: Expr, b: Expr): [Expr, Expr] {
  if (a.type.lanes > 1 && b.type.lanes === 1) return [a, broadcast(b, a.type.lanes)];
  if (b.type.lanes > 1 && a.type.lanes === 1) return [broadcast(a, b.type.lanes), b];
  return [a, b];
}

export function bin(op: BinaryOp, a: Expr, b: Expr, type?: KType): Expr {
  [a, b] = unify(a, b);
  const t = type ?? (COMPARE.has(op) ? { elem: 'bool' as const, lanes: a.type.lanes } : a.type);
  return { kind: 'binary', type: t, op, a, b };
}
export const un = (op: UnaryOp, a: Expr, type?: KType): Expr =>
  ({ kind: 'unary', type: type ?? (op === 'isnan' || op === 'isinf' ? { elem: 'bool', lanes: a.type.lanes } : a.type), op, a });

export const add = (a: Expr, b: Expr) => bin('add', a, b);
export const sub = (a: Expr, b: Expr) => bin('sub', a, b);
export const mul = (a: Expr, b: Expr) => bin('mul', a, b);
export const div = (a: Expr, b: Expr) => bin('div', a, b);
export const min = (a: Expr, b: Expr) => bin('min', a, b);
export const max = (a: Expr, b: Expr) => bin('max', a, b);
export const and = (a: Expr, b: Expr) => bin('and', a, b);
export const or = (a: Expr, b: Expr) => bin('or', a, b);
export const xor = (a: Expr, b: Expr) => bin('xor', a, b);
export const shl = (a: Expr, b: Expr) => bin('shl', a, b);
export const shr = (a: Expr, b: Expr) => bin('shr', a, b);
export const eq = (a: Expr, b: Expr) => bin('eq', a, b);
export const ne = (a: Expr, b: Expr) => bin('ne', a, b);
export const lt = (a: Expr, b: Expr) => bin('lt', a, b);
export const le = (a: Expr, b: Expr) => bin('le', a, b);
export const gt = (a: Expr, b: Expr) => bin('gt', a, b);
export const ge = (a: Expr, b: Expr) => bin('ge', a, b);

export function select(cond: Expr, a: Expr, b: Expr): Expr {
  [a, b] = unify(a, b);
  return { kind: 'select', type: a.type, cond, a, b };
}
export const cast = (t: TypeLike, a: Expr): Expr => ({ kind: 'cast', type: { elem: ty(t).elem, lanes: a.type.lanes }, a });
export const bitcast = (t: TypeLike, a: Expr): Expr => ({ kind: 'bitcast', type: { elem: ty(t).elem, lanes: a.type.lanes }, a });
export const load = (buffer: string, t: TypeLike, index: Expr): Expr => ({ kind: 'load', type: ty(t), buffer, index });
export const broadcast = (a: Expr, lanes: KType['lanes']): Expr =>
  lanes === a.type.lanes ? a : { kind: 'broadcast', type: { elem: a.type.elem, lanes }, a };
export const extract = (a: Expr, lane: number): Expr => ({ kind: 'extract', type: { elem: a.type.elem, lanes: 1 }, a, lane });
export const reduceLanes = (op: 'add' | 'min' | 'max', a: Expr): Expr =>
  ({ kind: 'reduce_lanes', type: { elem: a.type.elem, lanes: 1 }, op, a });

// Statements.
export const let_ = (name: string, value: Expr): Stmt => ({ kind: 'let', name, value });
export const local = (name: string, type: KType, init: Expr): Stmt => ({ kind: 'local', name, type, init });
export const assign = (name: string, value: Expr): Stmt => ({ kind: 'assign', name, value });
export const store = (buffer: string, index: Expr, value: Expr): Stmt => ({ kind: 'store', buffer, index, value });
export const loop = (variable: string, start: Expr | number, end: Expr | number, body: Stmt[],
  opts: { step?: number; kind?: LoopKind } = {}): Stmt => ({
  kind: 'loop', var: variable, start: typeof start === 'number' ? c(start) : start,
  end: typeof end === 'number' ? c(end) : end, step: opts.step ?? 1, loopKind: opts.kind ?? 'serial', body,
});
export const if_ = (cond: Expr, then: Stmt[], else_: Stmt[] = []): Stmt => ({ kind: 'if', cond, then, else: else_ });

/** Collects statements and hands out fresh names for let bindings (straight-line helper bodies). */
export class Block {
  readonly stmts: Stmt[] = [];
  private n = 0;
  constructor(private readonly prefix = 't') {}
  /** Binds e to a fresh name and returns a reference to it (so it is evaluated once). */
  let(e: Expr): Expr {
    if (e.kind === 'const' || e.kind === 'var') return e;
    const name = `${this.prefix}${this.n++}`;
    this.stmts.push(let_(name, e));
    return v(name, e.type);
  }
  push(...s: Stmt[]): void { this.stmts.push(...s); }
  fresh(): string { return `${this.prefix}${this.n++}`; }
}
