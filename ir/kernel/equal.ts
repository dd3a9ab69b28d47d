// Structural equality of kernel IR: same names, types, ops, constants (numbers by Object.is, so −0 and NaN
// count), statements and buffer declarations. kernelDiff says where the first difference is.
import type { BufferParam, Expr, Kernel, KernelPattern, KType, Stmt } from './ir.ts';

const typeEq = (a: KType, b: KType) => a.elem === b.elem && a.lanes === b.lanes;
const tname = (t: KType) => (t.lanes === 1 ? t.elem : `${t.elem}x${t.lanes}`);

class Difference extends Error {}
const differ = (where: string, what: string): never => { throw new Difference(`${where}: ${what}`); };

function expr(a: Expr, b: Expr, at: string): void {
  if (a.kind !== b.kind) differ(at, `${a.kind} vs ${b.kind}`);
  if (!typeEq(a.type, b.type)) differ(at, `type ${tname(a.type)} vs ${tname(b.type)}`);
  switch (a.kind) {
    case 'const': {
      const bv = (b as typeof a).value;
      if (!Object.is(a.value, bv)) differ(at, `constant ${String(a.value)} vs ${String(bv)}`);
      return;
    }
    case 'var': if (a.name !== (b as typeof a).name) differ(at, `variable '${a.name}' vs '${(b as typeof a).name}'`); return;
    case 'binary': {
      const y = b as typeof a;
      if (a.op !== y.op) differ(at, `${a.op} vs ${y.op}`);
      expr(a.a, y.a, `${at}.a`);
      expr(a.b, y.b, `${at}.b`);
      return;
    }
    case 'unary': case 'reduce_lanes': {
      const y = b as typeof a;
      if (a.op !== y.op) differ(at, `${a.op} vs ${y.op}`);
      expr(a.a, y.a, `${at}.a`);
      return;
    }
    case 'cast': case 'bitcast': case 'broadcast': expr(a.a, (b as typeof a).a, `${at}.a`); return;
    case 'extract': {
      const y = b as typeof a;
      if (a.lane !== y.lane) differ(at, `lane ${a.lane} vs ${y.lane}`);
      expr(a.a, y.a, `${at}.a`);
      return;
    }
    case 'select': {
      const y = b as typeof a;
      expr(a.cond, y.cond, `${at}.cond`);
      expr(a.a, y.a, `${at}.a`);
      expr(a.b, y.b, `${at}.b`);
      return;
    }
    case 'load': {
      const y = b as typeof a;
      if (a.buffer !== y.buffer) differ(at, `load from '${a.buffer}' vs '${y.buffer}'`);
      expr(a.index, y.index, `${at}.index`);
      return;
    }
  }
}

function field<T>(a: T, b: T, at: string, what: string): void {
  if (a !== b) differ(at, `${what} ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

function stmts(a: Stmt[], b: Stmt[], at: string): void {
  if (a.length !== b.length) differ(at, `${a.length} vs ${b.length} statements`);
  a.forEach((s, i) => stmt(s, b[i]!, `${at}[${i}]`));
}

function stmt(a: Stmt, b: Stmt, at: string): void {
  if (a.kind !== b.kind) differ(at, `${a.kind} vs ${b.kind}`);
  switch (a.kind) {
    case 'let': { const y = b as typeof a; field(a.name, y.name, at, 'name'); expr(a.value, y.value, `${at}.value`); return; }
    case 'local': {
      const y = b as typeof a;
      field(a.name, y.name, at, 'name');
      if (!typeEq(a.type, y.type)) differ(at, `type ${tname(a.type)} vs ${tname(y.type)}`);
      expr(a.init, y.init, `${at}.init`);
      return;
    }
    case 'assign': { const y = b as typeof a; field(a.name, y.name, at, 'name'); expr(a.value, y.value, `${at}.value`); return; }
    case 'store': {
      const y = b as typeof a;
      field(a.buffer, y.buffer, at, 'buffer');
      expr(a.index, y.index, `${at}.index`);
      expr(a.value, y.value, `${at}.value`);
      return;
    }
    case 'loop': {
      const y = b as typeof a;
      field(a.var, y.var, at, 'loop variable');
      field(a.loopKind, y.loopKind, at, 'loop kind');
      field(a.step, y.step, at, 'step');
      expr(a.start, y.start, `${at}.start`);
      expr(a.end, y.end, `${at}.end`);
      stmts(a.body, y.body, `${at}.body`);
      return;
    }
    case 'if': {
      const y = b as typeof a;
      expr(a.cond, y.cond, `${at}.cond`);
      stmts(a.then, y.then, `${at}.then`);
      stmts(a.else, y.else, `${at}.else`);
      return;
    }
    case 'atomic': {
      const y = b as typeof a;
      field(a.op, y.op, at, 'op');
      field(a.buffer, y.buffer, at, 'buffer');
      field(a.result, y.result, at, 'result');
      field(a.order, y.order, at, 'order');
      field(a.scope, y.scope, at, 'scope');
      expr(a.index, y.index, `${at}.index`);
      expr(a.value, y.value, `${at}.value`);
      return;
    }
    case 'barrier': field(a.scope, (b as typeof a).scope, at, 'scope'); return;
    case 'comment': field(a.text, (b as typeof a).text, at, 'text'); return;
  }
}

function bufferParam(a: BufferParam, b: BufferParam, at: string): void {
  field(a.name, b.name, at, 'name');
  field(a.elem, b.elem, at, 'element type');
  field(a.access, b.access, at, 'access');
  field(a.space, b.space, at, 'space');
  expr(a.size, b.size, `${at}.size`);
}

function run(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof Difference) return e.message;
    throw e;
  }
}

/** Where two kernels differ first, or undefined when they are structurally equal. */
export function kernelDiff(a: Kernel, b: Kernel): string | undefined {
  return run(() => {
    field(a.name, b.name, 'kernel', 'name');
    if (a.buffers.length !== b.buffers.length) differ('buffers', `${a.buffers.length} vs ${b.buffers.length}`);
    a.buffers.forEach((p, i) => bufferParam(p, b.buffers[i]!, `buffers[${i}]`));
    if (a.sizes.length !== b.sizes.length) differ('sizes', `${a.sizes.length} vs ${b.sizes.length}`);
    a.sizes.forEach((s, i) => field(s.name, b.sizes[i]!.name, `sizes[${i}]`, 'name'));
    stmts(a.body, b.body, 'body');
    pattern(a.pattern, b.pattern);
  });
}

function pattern(a: KernelPattern | undefined, b: KernelPattern | undefined): void {
  if (!a || !b) { if (a || b) differ('pattern', `${a ? a.kind : 'none'} vs ${b ? b.kind : 'none'}`); return; }
  for (const f of ['kind', 'a', 'b', 'y', 'transA', 'transB', 'elem', 'acc', 'scratch'] as const) field(a[f], b[f], 'pattern', f);
  for (const f of ['batch', 'm', 'n', 'k', 'aBatchStride', 'bBatchStride'] as const) expr(a[f], b[f], `pattern.${f}`);
}

export const kernelsEqual = (a: Kernel, b: Kernel): boolean => kernelDiff(a, b) === undefined;
export const exprDiff = (a: Expr, b: Expr): string | undefined => run(() => expr(a, b, 'expr'));

/** Structural equality of expressions (fast: no messages). */
export function exprsEqual(a: Expr, b: Expr): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind || !typeEq(a.type, b.type)) return false;
  switch (a.kind) {
    case 'const': return Object.is(a.value, (b as typeof a).value);
    case 'var': return a.name === (b as typeof a).name;
    case 'binary': { const y = b as typeof a; return a.op === y.op && exprsEqual(a.a, y.a) && exprsEqual(a.b, y.b); }
    case 'unary': case 'reduce_lanes': { const y = b as typeof a; return a.op === y.op && exprsEqual(a.a, y.a); }
    case 'cast': case 'bitcast': case 'broadcast': return exprsEqual(a.a, (b as typeof a).a);
    case 'extract': { const y = b as typeof a; return a.lane === y.lane && exprsEqual(a.a, y.a); }
    case 'select': { const y = b as typeof a; return exprsEqual(a.cond, y.cond) && exprsEqual(a.a, y.a) && exprsEqual(a.b, y.b); }
    case 'load': { const y = b as typeof a; return a.buffer === y.buffer && exprsEqual(a.index, y.index); }
  }
}
export const stmtsEqual = (a: Stmt[], b: Stmt[]): boolean => run(() => stmts(a, b, 'body')) === undefined;
